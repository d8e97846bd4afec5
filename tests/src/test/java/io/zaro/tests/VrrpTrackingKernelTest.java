package io.zaro.tests;

import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import io.zaro.tests.netns.ZaroCli;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two zaro virtual routers; the master tracks an interface (its "outside" link). When that link
 * goes down the master goes to FAULT and the backup takes the VIP at once; when it comes back,
 * the master recovers and, having the higher priority, takes the VIP back.
 */
@KernelTest
class VrrpTrackingKernelTest {
    private static final String VIP = "10.89.0.100";

    private Lab lab;
    private Host a;
    private Host b;

    @BeforeEach
    void topology() {
        lab = new Lab();
        a = lab.host("a");
        b = lab.host("b");
        lab.bridge("lan", "eth0", a, b);
        a.address("eth0", "10.89.0.1/24");
        b.address("eth0", "10.89.0.2/24");
        lab.link(a, "outside", lab.host("upstream"), "eth0");
    }

    @AfterEach
    void cleanup() {
        lab.close();
    }

    @Test
    void aTrackedInterfaceGoingDownMovesTheVipAndItsReturnBringsItBack() throws Exception {
        a.spawn(ZaroCli.command("vrrp", "--interface", "eth0", "--vrid", "89", "--priority", "150", "--interval", "20",
                "--track", "outside", "--vip", VIP + "/24").toArray(String[]::new));
        b.spawn(ZaroCli.command("vrrp", "--interface", "eth0", "--vrid", "89", "--priority", "100", "--interval", "20",
                "--vip", VIP + "/24").toArray(String[]::new));
        awaitVip(a, true, "the higher priority is master");
        awaitVip(b, false, "the other is backup");

        a.execOk("ip", "link", "set", "outside", "down");
        awaitVip(b, true, "the backup takes over when the master's tracked interface goes down");
        awaitVip(a, false, "the faulted master released the VIP");

        a.up("outside");
        awaitVip(a, true, "the recovered master preempts");
        awaitVip(b, false, "and the backup steps back");
    }

    private static boolean hasVip(Host h) {
        return h.hasAddress("eth0", VIP);
    }

    private static void awaitVip(Host h, boolean present, String what) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (hasVip(h) != present) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out: " + what + " (" + h + ")");
            }
            Thread.sleep(50);
        }
    }
}

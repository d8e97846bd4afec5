package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import io.zaro.tests.netns.ZaroCli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * zaro's VRRPv3 (RFC 5798) against keepalived, a peer no one here wrote, in one virtual router
 * on a bridge: each elects the right master and each takes over from the other. The VIP's
 * presence on each node's interface is the witness. Groundwork for issue 5.
 */
@KernelTest
class VrrpKeepalivedKernelTest {
    private static final String VIP = "10.88.0.100";

    private Lab lab;
    private Host zaro;
    private Host keepalived;
    private Path dir;
    private Process keepalivedProcess;
    private final List<Process> zaroProcesses = new ArrayList<>();

    @BeforeEach
    void topology() throws IOException {
        assertTrue(io.zaro.tests.netns.Cmd.onPath("keepalived"), "keepalived is missing: run scripts/setup.sh");
        lab = new Lab();
        zaro = lab.host("zaro");
        keepalived = lab.host("keepalived");
        lab.bridge("lan", "eth0", zaro, keepalived);
        zaro.address("eth0", "10.88.0.1/24");
        keepalived.address("eth0", "10.88.0.2/24");
        dir = Files.createTempDirectory("zaro-keepalived");
    }

    @AfterEach
    void cleanup() throws IOException {
        lab.close();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void aHigherPriorityZaroTakesOverFromKeepalivedAndHandsBackWhenItStops() throws Exception {
        startKeepalived(100);
        awaitVip(keepalived, true, "keepalived, alone, becomes master");
        Process z = startZaro(150);
        awaitVip(zaro, true, "zaro, with the higher priority, preempts");
        awaitVip(keepalived, false, "keepalived accepts zaro's advertisements and releases the VIP");
        z.destroy(); // SIGTERM: zaro advertises priority 0 and releases the VIP
        assertTrue(z.waitFor(15, TimeUnit.SECONDS));
        long start = System.nanoTime();
        awaitVip(keepalived, true, "keepalived takes over when zaro stops");
        awaitVip(zaro, false, "zaro released the VIP");
        assertTrue(System.nanoTime() - start < Duration.ofMillis(1_500).toNanos(),
                "a priority-0 advertisement hands over within Skew_Time, not the full Master_Down_Interval");
    }

    @Test
    void aLowerPriorityZaroStaysBackupAndTakesOverWhenKeepalivedDies() throws Exception {
        startKeepalived(150);
        awaitVip(keepalived, true, "keepalived becomes master");
        startZaro(100);
        Thread.sleep(3_000); // more than zaro's Master_Down_Interval (3 x 0.5 s + skew)
        assertEquals(false, hasVip(zaro), "zaro hears keepalived's advertisements and stays backup");
        keepalived.exec("sh", "-c", "kill -9 $(cat " + dir.resolve("keepalived.pid") + " " + dir.resolve("vrrp.pid") + ")");
        keepalivedProcess.waitFor(10, TimeUnit.SECONDS);
        awaitVip(zaro, true, "zaro takes over after Master_Down_Interval");
    }

    private void startKeepalived(int priority) throws IOException {
        Path conf = dir.resolve("keepalived.conf");
        Files.writeString(conf, """
                global_defs {
                  vrrp_version 3
                }
                vrrp_instance VI_1 {
                  state BACKUP
                  interface eth0
                  virtual_router_id 51
                  priority %d
                  advert_int 0.5
                  virtual_ipaddress {
                    %s/24
                  }
                }
                """.formatted(priority, VIP));
        keepalivedProcess = keepalived.spawn("keepalived", "--dont-fork", "--log-console", "--log-detail",
                "--use-file=" + conf, "--pid=" + dir.resolve("keepalived.pid"), "--vrrp_pid=" + dir.resolve("vrrp.pid"));
    }

    private Process startZaro(int priority) {
        Process p = zaro.spawn(ZaroCli.command("vrrp", "--interface", "eth0", "--vrid", "51", "--priority",
                Integer.toString(priority), "--interval", "50", "--vip", VIP + "/24").toArray(String[]::new));
        zaroProcesses.add(p);
        return p;
    }

    private static boolean hasVip(Host h) {
        return h.hasAddress("eth0", VIP);
    }

    private static void awaitVip(Host h, boolean present, String what) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (hasVip(h) != present) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out: " + what + " (" + h + ")");
            }
            Thread.sleep(50);
        }
    }
}

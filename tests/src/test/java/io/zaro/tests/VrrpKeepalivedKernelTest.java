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
 * on a bridge: each elects the right master and each takes over from the other, over IPv4 and
 * IPv6 multicast and over IPv4 unicast. The VIP's presence on each node's interface is the witness.
 */
@KernelTest
class VrrpKeepalivedKernelTest {
    private static final String VIP = "10.88.0.100";
    private static final String VIP6 = "fd88::100";

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
        zaro.address("eth0", "10.88.0.1/24").awaitLinkLocal("eth0");
        keepalived.address("eth0", "10.88.0.2/24").awaitLinkLocal("eth0");
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
        startKeepalived(100, VIP + "/24", "");
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
        startKeepalived(150, VIP + "/24", "");
        awaitVip(keepalived, true, "keepalived becomes master");
        startZaro(100);
        Thread.sleep(3_000); // more than zaro's Master_Down_Interval (3 x 0.5 s + skew)
        assertEquals(false, hasVip(zaro), "zaro hears keepalived's advertisements and stays backup");
        killKeepalived();
        awaitVip(zaro, true, "zaro takes over after Master_Down_Interval");
    }

    @Test
    void overIpv6BothElectTheHigherPriorityAndKeepalivedTakesOverWhenZaroDies() throws Exception {
        startKeepalived(100, VIP6 + "/64", "");
        awaitVip(keepalived, VIP6, true, "keepalived, alone, becomes master of the IPv6 router");
        Process z = startZaro(150, "--vip", VIP6 + "/64");
        awaitVip(zaro, VIP6, true, "zaro, with the higher priority, preempts over IPv6");
        awaitVip(keepalived, VIP6, false, "keepalived accepts zaro's IPv6 advertisements (hop limit, checksum)");
        z.destroyForcibly();
        assertTrue(z.waitFor(15, TimeUnit.SECONDS));
        awaitVip(keepalived, VIP6, true, "keepalived takes over when zaro's advertisements stop");
    }

    @Test
    void overUnicastBothElectTheHigherPriorityAndEachTakesOverFromTheOther() throws Exception {
        // Unicast sockets join no group: had either side multicast, the other would never hear it.
        startKeepalived(100, VIP + "/24", """
                  unicast_src_ip 10.88.0.2
                  unicast_peer {
                    10.88.0.1
                  }
                """);
        awaitVip(keepalived, true, "keepalived, alone, becomes master");
        Process z = startZaro(150, "--vip", VIP + "/24", "--unicast-peer", "10.88.0.2");
        awaitVip(zaro, true, "zaro preempts over unicast");
        awaitVip(keepalived, false, "keepalived hears zaro's unicast advertisements");
        killKeepalived();
        keepalived.exec("ip", "address", "del", VIP + "/24", "dev", "eth0");
        startKeepalived(200, VIP + "/24", """
                  unicast_src_ip 10.88.0.2
                  unicast_peer {
                    10.88.0.1
                  }
                """);
        awaitVip(keepalived, true, "a restarted keepalived with a higher priority preempts zaro");
        awaitVip(zaro, false, "zaro hears keepalived's unicast advertisements and steps back");
        z.destroy();
        assertTrue(z.waitFor(15, TimeUnit.SECONDS));
    }

    private void startKeepalived(int priority, String vip, String extra) throws IOException {
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
                %s  virtual_ipaddress {
                    %s
                  }
                }
                """.formatted(priority, extra, vip));
        keepalivedProcess = keepalived.spawn("keepalived", "--dont-fork", "--log-console", "--log-detail",
                "--use-file=" + conf, "--pid=" + dir.resolve("keepalived.pid"), "--vrrp_pid=" + dir.resolve("vrrp.pid"));
    }

    /**
     * kill -9 of keepalived and its VRRP child. Their pid files stay behind, and a child that
     * nobody reaps stays a zombie that a new keepalived takes for a running one: remove them.
     */
    private void killKeepalived() throws InterruptedException, IOException {
        keepalived.exec("sh", "-c", "kill -9 $(cat " + dir.resolve("keepalived.pid") + " " + dir.resolve("vrrp.pid") + ")");
        keepalivedProcess.waitFor(10, TimeUnit.SECONDS);
        Files.deleteIfExists(dir.resolve("keepalived.pid"));
        Files.deleteIfExists(dir.resolve("vrrp.pid"));
    }

    private Process startZaro(int priority) {
        return startZaro(priority, "--vip", VIP + "/24");
    }

    private Process startZaro(int priority, String... more) {
        List<String> args = new ArrayList<>(List.of("vrrp", "--interface", "eth0", "--vrid", "51", "--priority",
                Integer.toString(priority), "--interval", "50"));
        args.addAll(List.of(more));
        Process p = zaro.spawn(ZaroCli.command(args.toArray(String[]::new)).toArray(String[]::new));
        zaroProcesses.add(p);
        return p;
    }

    private static boolean hasVip(Host h) {
        return h.hasAddress("eth0", VIP);
    }

    private static void awaitVip(Host h, boolean present, String what) throws InterruptedException {
        awaitVip(h, VIP, present, what);
    }

    private static void awaitVip(Host h, String vip, boolean present, String what) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (h.hasAddress("eth0", vip) != present) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out: " + what + " (" + h + ")");
            }
            Thread.sleep(50);
        }
    }
}

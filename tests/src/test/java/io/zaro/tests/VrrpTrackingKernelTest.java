package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import io.zaro.tests.netns.ZaroCli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two zaro virtual routers. The master tracks an interface (its "outside" link) or a script:
 * when the link goes down or the script fails, the master goes to FAULT and the backup takes the
 * VIP at once; when it recovers, the master, having the higher priority, takes the VIP back.
 * And a neighbour that cached the old master's link-layer address learns the new master's from
 * its gratuitous ARP and unsolicited neighbour advertisement, without sending anything, and
 * again from their repetition 5 s later.
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

    @Test
    void aFailingTrackScriptMovesTheVipAndItsRecoveryBringsItBack(@TempDir Path dir) throws Exception {
        Path broken = dir.resolve("uplink-broken");
        a.spawn(ZaroCli.command("vrrp", "--interface", "eth0", "--vrid", "89", "--priority", "150", "--interval", "20",
                "--track-script", "test ! -e " + broken, "--vip", VIP + "/24").toArray(String[]::new));
        b.spawn(ZaroCli.command("vrrp", "--interface", "eth0", "--vrid", "89", "--priority", "100", "--interval", "20",
                "--vip", VIP + "/24").toArray(String[]::new));
        awaitVip(a, true, "the higher priority is master while its script passes");
        awaitVip(b, false, "the other is backup");

        Files.createFile(broken);
        awaitVip(b, true, "the backup takes over when the master's script fails twice");
        awaitVip(a, false, "the faulted master released the VIP");

        Files.delete(broken);
        awaitVip(a, true, "the recovered master preempts once its script passes twice");
        awaitVip(b, false, "and the backup steps back");
    }

    @Test
    void theNewMasterAnnouncesItselfOverArpAndNeighbourDiscovery() throws Exception {
        Host client = lab.host("client");
        lab.bridge("lan2", "lan2", client, a, b);
        a.address("lan2", "10.89.1.1/24").awaitLinkLocal("lan2");
        b.address("lan2", "10.89.1.2/24").awaitLinkLocal("lan2");
        client.address("lan2", "10.89.1.10/24").address("lan2", "fd89:1::10/64").awaitLinkLocal("lan2");
        Process master = a.spawn(ZaroCli.command("vrrp", "--interface", "lan2", "--vrid", "90", "--priority", "150",
                "--interval", "20", "--vip", "10.89.1.100/24", "--vip", "fd89:1::100/64").toArray(String[]::new));
        b.spawn(ZaroCli.command("vrrp", "--interface", "lan2", "--vrid", "90", "--priority", "100", "--interval", "20",
                "--vip", "10.89.1.100/24", "--vip", "fd89:1::100/64").toArray(String[]::new));
        awaitAddress(a, "lan2", "fd89:1::100", true, "a is master, with both VIPs");
        awaitAddress(b, "lan2", "10.89.1.100", false, "b, if it was master while a started, stepped back");
        String macA = a.execOk("cat", "/sys/class/net/lan2/address").stdout().strip();
        String macB = b.execOk("cat", "/sys/class/net/lan2/address").stdout().strip();
        client.execOk("ping", "-c", "1", "-W", "2", "10.89.1.100");
        client.execOk("ping", "-6", "-c", "1", "-W", "2", "fd89:1::100");
        assertTrue(neighbour(client, "10.89.1.100").contains(macA), neighbour(client, "10.89.1.100"));
        assertTrue(neighbour(client, "fd89:1::100").contains(macA), neighbour(client, "fd89:1::100"));
        Thread.sleep(1_500); // past the ARP entry's locktime, which would keep a fresh entry from changing

        master.destroyForcibly();
        master.waitFor();
        a.execOk("ip", "link", "set", "lan2", "down");
        awaitAddress(b, "lan2", "10.89.1.100", true, "b takes over");
        // The client sends nothing meanwhile: only b's announcements can change its entries.
        long end = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while ((!neighbour(client, "10.89.1.100").contains(macB) || !neighbour(client, "fd89:1::100").contains(macB))
                && System.nanoTime() < end) {
            Thread.sleep(50);
        }
        assertTrue(neighbour(client, "10.89.1.100").contains(macB), "gratuitous ARP: " + neighbour(client, "10.89.1.100"));
        assertTrue(neighbour(client, "fd89:1::100").contains(macB), "unsolicited NA: " + neighbour(client, "fd89:1::100"));

        // A host may have ignored those (an update within a second of the last one is): b
        // announces the VIPs again 5 s after its takeover. Once the first ones are over, point
        // the client's entries back at a, as such a host's would be.
        Thread.sleep(2_500);
        client.execOk("ip", "neigh", "replace", "10.89.1.100", "lladdr", macA, "dev", "lan2", "nud", "stale");
        client.execOk("ip", "neigh", "replace", "fd89:1::100", "lladdr", macA, "dev", "lan2", "nud", "stale");
        assertTrue(neighbour(client, "10.89.1.100").contains(macA), neighbour(client, "10.89.1.100"));
        end = System.nanoTime() + Duration.ofSeconds(6).toNanos();
        while ((!neighbour(client, "10.89.1.100").contains(macB) || !neighbour(client, "fd89:1::100").contains(macB))
                && System.nanoTime() < end) {
            Thread.sleep(50);
        }
        assertTrue(neighbour(client, "10.89.1.100").contains(macB), "the second gratuitous ARP: " + neighbour(client, "10.89.1.100"));
        assertTrue(neighbour(client, "fd89:1::100").contains(macB), "the second unsolicited NA: " + neighbour(client, "fd89:1::100"));
    }

    private static String neighbour(Host h, String address) {
        return h.execOk("ip", "neigh", "show", address, "dev", "lan2").stdout().strip();
    }

    private static void awaitAddress(Host h, String ifname, String address, boolean present, String what)
            throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (h.hasAddress(ifname, address) != present) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out: " + what + " (" + h + ")");
            }
            Thread.sleep(50);
        }
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

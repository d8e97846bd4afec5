package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.Family;
import io.zaro.conntrack.filter.Cidr;
import io.zaro.tests.netns.AgentProcess;
import io.zaro.tests.netns.BrokerFixture;
import io.zaro.tests.netns.Cmd;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import io.zaro.tests.netns.SyntheticFlows;
import io.zaro.tests.netns.ZaroCli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The agent as the Debian package's unit runs it (issue 6): not root, but a system user with the
 * unit's capabilities only (CAP_NET_ADMIN and CAP_NET_RAW: ambient, inheritable, permitted,
 * effective and bounding), no new privileges, and systemd's bare environment. Two such agents
 * with {@code role=vrrp} (an IPv4 and an IPv6 VIP) on a LAN with a client, and a broker on the sync
 * bridge: the master sets {@code nf_conntrack_events}, holds the VIPs, captures and publishes; the
 * backup mirrors; when the master stops, the backup takes the VIPs, announces them (arping and
 * neighbour advertisements, which the client's neighbour cache shows) and brings the mirrored
 * timeouts back to its kernel's defaults.
 */
@KernelTest
class UnprivilegedAgentKernelTest {
    private static final String USER = "zaro-test";
    private static final String BROKER = "10.99.0.10";
    private static final String VIP = "10.40.1.254";
    private static final String VIP6 = "fd40:1::254";
    private static final Cidr SYNC = Cidr.parse("10.99.0.0/24");
    private static final SyntheticFlows FLOWS = new SyntheticFlows("10.40.2.2", "fd40:2::2", "10.40.2.254");
    /** CAP_NET_ADMIN (12) and CAP_NET_RAW (13), as /proc/PID/status shows a capability set. */
    private static final String TWO_CAPABILITIES = "0000000000003000";
    private static final Path UNIT = (Files.isRegularFile(Path.of("packaging/zaro.service"))
            ? Path.of("packaging/zaro.service") : Path.of("../packaging/zaro.service")).toAbsolutePath().normalize();

    private static boolean userCreated;

    private Lab lab;
    private Path run;
    private Host client;
    private Host fw1;
    private Host fw2;
    private BrokerFixture broker;

    @BeforeAll
    static void user() {
        if (Cmd.run(List.of("getent", "passwd", USER)).exitCode() != 0) {
            Cmd.run(List.of("useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                    "--shell", "/usr/sbin/nologin", USER)).ok();
            userCreated = true;
        }
    }

    @AfterAll
    static void removeUser() {
        if (userCreated) {
            Cmd.run(List.of("userdel", USER));
        }
    }

    @BeforeEach
    void topology() {
        lab = new Lab();
        client = lab.host("client");
        fw1 = lab.host("fw1");
        fw2 = lab.host("fw2");
        Host kafka = lab.host("kafka");
        lab.bridge("lan", "eth0", client, fw1, fw2);
        lab.bridge("sync", "sync0", fw1, fw2, kafka);
        client.address("eth0", "10.40.1.2/24").address("eth0", "fd40:1::2/64").awaitLinkLocal("eth0");
        fw1.address("eth0", "10.40.1.1/24").address("sync0", "10.99.0.1/24").awaitLinkLocal("eth0");
        fw2.address("eth0", "10.40.1.3/24").address("sync0", "10.99.0.2/24").awaitLinkLocal("eth0");
        kafka.address("sync0", BROKER + "/24");
        broker = new BrokerFixture(kafka, BROKER);
        // The agents' control sockets, in a directory of their user's, as the unit's RuntimeDirectory=.
        try {
            run = Files.createTempDirectory("zaro-run");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        Cmd.run(List.of("chown", USER + ":", run.toString())).ok();
    }

    @AfterEach
    void cleanup() {
        try {
            if (broker != null) {
                broker.close();
            }
        } finally {
            lab.close();
        }
    }

    @Test
    void anAgentWithOnlyNetAdminAndNetRawPublishesMirrorsAndTakesOverTheVips() throws Exception {
        try (ConntrackTable t1 = Conntrack.open(fw1.name()); ConntrackTable t2 = Conntrack.open(fw2.name())) {
            // The kernel's default since 6.1: the agent must be able to set 1 without root.
            fw1.sysctl("net.netfilter.nf_conntrack_events", "2");
            AgentProcess a1 = agent(fw1, "fw1", 150);
            AgentProcess a2 = agent(fw2, "fw2", 100);
            a1.awaitLog("active: VIPs held", Duration.ofSeconds(60));
            a2.awaitLog("standby: VIPs released", Duration.ofSeconds(60));
            awaitVips("fw1 holds the VIPs", fw1, fw2);

            for (AgentProcess a : List.of(a1, a2)) {
                Map<String, String> status = processStatus(a.pid());
                String uid = Cmd.run(List.of("id", "-u", USER)).ok().stdout().strip();
                assertEquals(uid + "\t" + uid + "\t" + uid + "\t" + uid, status.get("Uid"), "runs as " + USER + ": " + status);
                for (String set : List.of("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")) {
                    assertEquals(TWO_CAPABILITIES, status.get(set), set + " holds CAP_NET_ADMIN and CAP_NET_RAW only: " + status);
                }
                assertEquals("1", status.get("NoNewPrivs"), "no new privileges: " + status);
            }
            assertEquals("1", fw1.execOk("sysctl", "-n", "net.netfilter.nf_conntrack_events").stdout().strip());
            assertTrue(a1.log().contains("set net.netfilter.nf_conntrack_events=1 (was 2)"), a1.log());

            // Captured and published by fw1, injected by fw2.
            assertEquals(0, t1.createAll(FLOWS.range(0, 200)).failed());
            awaitEqual("fw2 mirrors fw1's 200 flows", t1, t2);
            // root asks the agent over its control socket (mode 0600, owned by the agent's user).
            String status = fw1.execOk(ZaroCli.command("status", "--socket", run.resolve("fw1.sock").toString()).toArray(String[]::new)).stdout();
            assertTrue(status.contains("fw1: active (role=vrrp)") && status.contains(VIP + "/24 on eth0 (held)"), status);

            // The client has fw1's link-layer address for both VIPs; only fw2's announcements can change that.
            String mac1 = fw1.execOk("cat", "/sys/class/net/eth0/address").stdout().strip();
            String mac2 = fw2.execOk("cat", "/sys/class/net/eth0/address").stdout().strip();
            client.execOk("ping", "-c", "1", "-W", "2", VIP);
            client.execOk("ping", "-6", "-c", "1", "-W", "2", VIP6);
            assertTrue(neighbour(VIP).contains(mac1) && neighbour(VIP6).contains(mac1), neighbour(VIP) + " / " + neighbour(VIP6));
            Thread.sleep(1_500); // past the ARP entry's locktime, which would keep a fresh entry from changing
            // Below the mirrored flows' 690 s, so that the takeover shortens every one (UDP's 120 s already is).
            fw2.sysctl("net.netfilter.nf_conntrack_tcp_timeout_established", "300");

            assertEquals(143, a1.stop(), "SIGTERM ends the JVM with 143 (the unit's SuccessExitStatus):\n" + a1.log());
            a2.awaitLog("active: VIPs held", Duration.ofSeconds(30));
            awaitVips("fw2 took the VIPs", fw2, fw1);
            long end = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while ((!neighbour(VIP).contains(mac2) || !neighbour(VIP6).contains(mac2)) && System.nanoTime() < end) {
                Thread.sleep(50);
            }
            assertTrue(neighbour(VIP).contains(mac2), "gratuitous ARP (arping as " + USER + "): " + neighbour(VIP));
            assertTrue(neighbour(VIP6).contains(mac2), "unsolicited neighbour advertisement: " + neighbour(VIP6));
            a2.awaitLog("takeover: 200 of 200 mirrored flows had timeouts beyond this kernel's defaults, shortened to them "
                    + "(0 failed", Duration.ofSeconds(10));
            assertEquals(200, mirrorable(t2).size(), "the mirrored flows stay in fw2's kernel");

            // Nothing was refused: a sysctl, an `ip address` or arping run, a socket.
            for (AgentProcess a : List.of(a1, a2)) {
                for (String refusal : List.of("not permitted", "Permission denied", "cannot set", "cannot run", "cannot announce")) {
                    assertFalse(a.log().contains(refusal), "'" + refusal + "' in the log:\n" + a.log());
                }
            }
        }
    }

    /**
     * Starts an agent through setpriv with what the unit grants: its user, the capabilities of its
     * AmbientCapabilities= (the same as its CapabilityBoundingSet=), NoNewPrivileges=, and
     * systemd's PATH and nothing else in the environment.
     */
    private AgentProcess agent(Host host, String node, int priority) throws IOException {
        String unit = Files.readString(UNIT);
        String ambient = setting(unit, "AmbientCapabilities");
        assertEquals(ambient, setting(unit, "CapabilityBoundingSet"), "the unit's bounding set is its ambient set");
        String caps = java.util.Arrays.stream(ambient.split("\\s+"))
                .map(c -> "+" + c.toLowerCase(Locale.ROOT).replaceFirst("^cap_", "")).collect(Collectors.joining(","));
        assertEquals("yes", setting(unit, "NoNewPrivileges"));
        List<String> launcher = new ArrayList<>(List.of("setpriv", "--reuid=" + USER, "--regid=" + USER, "--init-groups",
                "--inh-caps=-all," + caps, "--ambient-caps=-all," + caps, "--bounding-set=-all," + caps, "--no-new-privs",
                "env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
        return AgentProcess.startAs(USER, launcher, host, """
                node.id=%s
                role=vrrp
                kafka.bootstrap.servers=%s:9092
                kafka.topic.prefix=unprivileged
                kafka.topic.partitions=3
                filter.sync.interface=sync0
                vrrp.interface=eth0
                vrrp.vrid=41
                vrrp.priority=%d
                vrrp.interval.centiseconds=50
                vrrp.vips=%s/24,%s/64
                control.socket=%s
                """.formatted(node, BROKER, priority, VIP, VIP6, run.resolve(node + ".sock")));
    }

    private static String setting(String unit, String key) {
        return unit.lines().filter(l -> l.startsWith(key + "=")).map(l -> l.substring(key.length() + 1).strip())
                .findFirst().orElseThrow(() -> new AssertionError(UNIT + " has no " + key + "="));
    }

    private static Map<String, String> processStatus(long pid) throws IOException {
        Map<String, String> out = new TreeMap<>();
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                out.put(line.substring(0, colon), line.substring(colon + 1).strip());
            }
        }
        return out;
    }

    private String neighbour(String address) {
        return client.execOk("ip", "neigh", "show", address, "dev", "eth0").stdout().strip();
    }

    private static void awaitVips(String what, Host holder, Host other) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (!(holder.hasAddress("eth0", VIP) && holder.hasAddress("eth0", VIP6))
                || other.hasAddress("eth0", VIP) || other.hasAddress("eth0", VIP6)) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out: " + what);
            }
            Thread.sleep(100);
        }
    }

    private static Set<String> mirrorable(ConntrackTable t) {
        return t.dump(Family.ALL).stream().filter(e -> !SYNC.contains(e.original().source()))
                .map(UnprivilegedAgentKernelTest::key).collect(Collectors.toCollection(TreeSet::new));
    }

    private static String key(ConntrackEntry e) {
        return e.zone() + " " + e.original() + " " + e.reply() + " mark=" + e.mark();
    }

    private static void awaitEqual(String what, ConntrackTable expected, ConntrackTable actual) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!mirrorable(expected).equals(mirrorable(actual))) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out: " + what + ": " + mirrorable(expected).size() + " expected, "
                        + mirrorable(actual).size() + " present");
            }
            Thread.sleep(250);
        }
    }
}

package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.Family;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.filter.Cidr;
import io.zaro.kafka.record.FlowRecord;
import io.zaro.kafka.record.FlowRecordCodec;
import io.zaro.tests.netns.AgentProcess;
import io.zaro.tests.netns.BrokerFixture;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.Kcat;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import io.zaro.tests.netns.SyntheticFlows;
import io.zaro.tests.netns.ZaroCli;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code role=vrrp}: two agents in one virtual router switch between publishing and mirroring as
 * VRRP moves the VIP (groundwork of issue 5; the traffic-survival test comes with it). fw1 and fw2
 * share a LAN (the VIP's) and a sync bridge with the broker.
 */
@KernelTest
class RoleSwitchKernelTest {
    private static final String BROKER = "10.99.0.10";
    private static final String VIP = "10.40.1.254";
    private static final Cidr SYNC = Cidr.parse("10.99.0.0/24");
    private static final SyntheticFlows FLOWS = new SyntheticFlows("10.40.2.2", "fd40:2::2", "10.40.2.254");

    private Lab lab;
    private Host fw1;
    private Host fw2;
    private Host kafka;
    private BrokerFixture broker;
    private java.nio.file.Path dir;

    @BeforeEach
    void topology() {
        lab = new Lab();
        Host client = lab.host("client");
        fw1 = lab.host("fw1");
        fw2 = lab.host("fw2");
        kafka = lab.host("kafka");
        lab.bridge("lan", "eth0", client, fw1, fw2);
        lab.bridge("sync", "sync0", fw1, fw2, kafka);
        client.address("eth0", "10.40.1.2/24");
        fw1.address("eth0", "10.40.1.1/24").address("sync0", "10.99.0.1/24");
        fw2.address("eth0", "10.40.1.3/24").address("sync0", "10.99.0.2/24");
        kafka.address("sync0", BROKER + "/24");
        broker = new BrokerFixture(kafka, BROKER);
        try {
            dir = java.nio.file.Files.createTempDirectory("zaro-roles");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
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
    void theMasterPublishesTheBackupMirrorsAndTheyTradeRolesWithTheVip() throws Exception {
        try (ConntrackTable t1 = Conntrack.open(fw1.name()); ConntrackTable t2 = Conntrack.open(fw2.name())) {
            AgentProcess a1 = agent(fw1, "fw1", 150);
            AgentProcess a2 = agent(fw2, "fw2", 100);
            a1.awaitLog("active: VIPs held", Duration.ofSeconds(60));
            a2.awaitLog("standby: VIPs released", Duration.ofSeconds(60));
            // fw2 may be master for a moment while fw1's JVM starts; fw1 then preempts.
            awaitVips("fw1 holds the VIP", true, false);

            assertEquals(0, t1.createAll(FLOWS.range(0, 500)).failed());
            awaitEqual("fw2 mirrors fw1's 500 flows", t1, t2);

            // What an operator sees: zaro status over each agent's control socket, and the metrics endpoint.
            String status1 = status(fw1, "fw1");
            assertTrue(status1.contains("fw1: active (role=vrrp)") && status1.contains("vrrp      MASTER, vrid 40 on eth0")
                    && status1.contains(VIP + "/24 on eth0 (held)"), status1);
            String status2 = status(fw2, "fw2");
            assertTrue(status2.contains("fw2: standby (role=vrrp)") && status2.contains("vrrp      BACKUP")
                    && status2.contains("peer      10.40.1.1, priority 150") && status2.contains("(not held)")
                    && status2.contains("lag 0 records"), status2);
            String metrics2 = metrics(fw2);
            assertTrue(metrics2.contains("zaro_vrrp_state{state=\"BACKUP\"} 1.0")
                    && metrics2.contains("zaro_role{node=\"fw2\",role=\"standby\"} 1.0"), metrics2);
            java.util.regex.Matcher created = java.util.regex.Pattern.compile(
                    "zaro_records_injected_total\\{outcome=\"created\"} (\\d+)").matcher(metrics2);
            assertTrue(created.find() && Long.parseLong(created.group(1)) >= 500, metrics2);
            // Mirrored timeouts are the active's plus the grace: 600 s flows hold about 690 s on fw2,
            // beyond fw2's defaults (established TCP lowered to 300 s here; replied UDP 120 s).
            fw2.sysctl("net.netfilter.nf_conntrack_tcp_timeout_established", "300");
            long udpStream = Long.parseLong(fw2.execOk("sysctl", "-n", "net.netfilter.nf_conntrack_udp_timeout_stream")
                    .stdout().strip());
            assertEquals(500, beyond(t2, 300, udpStream), "every mirrored timeout exceeds fw2's defaults before the takeover");

            // The master stops: fw2 takes over the VIP, and its table, mirrored flows and all, is now published as fw2's.
            int activations = a2.occurrences("active: VIPs held");
            a1.stop();
            a2.awaitLog("active: VIPs held", activations + 1, Duration.ofSeconds(30));
            awaitVips("the VIP moved to fw2", false, true);
            assertEquals(500, mirrorable(t2).size(), "the mirrored flows stay in fw2's kernel");
            a2.awaitLog("takeover: 500 of ", Duration.ofSeconds(10));
            assertEquals(0, beyond(t2, 300, udpStream), "the takeover brought them back to fw2's defaults");
            assertEquals(0, t2.createAll(FLOWS.range(1000, 10)).failed());

            // fw1 comes back: it mirrors fw2 first, then (higher priority, preempt) takes the VIP back.
            int standbys = a2.occurrences("standby: VIPs released");
            AgentProcess back = agent(fw1, "fw1", 150);
            back.awaitLog("active: VIPs held", Duration.ofSeconds(60));
            assertTrue(back.log().indexOf("standby: VIPs released") < back.log().indexOf("active: VIPs held"),
                    "a node starts as standby and mirrors before it takes over:\n" + back.log());
            a2.awaitLog("standby: VIPs released", standbys + 1, Duration.ofSeconds(30));
            long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (a2.log().split("bootstrap: ", -1).length < 3 && System.nanoTime() < end) {
                Thread.sleep(100);
            }
            String[] bootstraps = a2.log().split("bootstrap: ", -1);
            assertTrue(bootstraps.length >= 3, "fw2 bootstrapped at start and when stepping back:\n" + a2.log());
            assertTrue(bootstraps[bootstraps.length - 1].lines().findFirst().orElse("").contains(", 0 ghosts deleted"),
                    "the flows fw2 published as master are not ghosts when it steps back:\n" + a2.log());
            awaitVips("fw1 holds the VIP again", true, false);
            assertEquals(510, mirrorable(t1).size(), "fw1 got the 10 flows made on fw2 while it was master");
            awaitEqual("the tables agree again", t1, t2);

            Set<String> nodes = Kcat.values(kafka, BROKER + ":9092", "roles.events").stream()
                    .map(v -> {
                        try {
                            return FlowRecordCodec.decode(v).nodeId();
                        } catch (Exception e) {
                            throw new AssertionError(e);
                        }
                    }).collect(Collectors.toCollection(TreeSet::new));
            assertEquals(Set.of("fw1", "fw2"), nodes, "each published while it was master");
        }
    }

    private AgentProcess agent(Host host, String node, int priority) {
        return AgentProcess.start(host, """
                node.id=%s
                role=vrrp
                kafka.bootstrap.servers=%s:9092
                kafka.topic.prefix=roles
                kafka.topic.partitions=3
                filter.sync.interface=sync0
                vrrp.interface=eth0
                vrrp.vrid=40
                vrrp.priority=%d
                vrrp.interval.centiseconds=50
                vrrp.vips=%s/24
                control.socket=%s
                """.formatted(node, BROKER, priority, VIP, dir.resolve(node + ".sock")));
    }

    private String status(Host fw, String node) {
        return fw.execOk(ZaroCli.command("status", "--socket", dir.resolve(node + ".sock").toString())
                .toArray(String[]::new)).stdout();
    }

    /** The agent's metrics endpoint, read inside its namespace (metrics.listen defaults to 127.0.0.1:9740). */
    private static String metrics(Host fw) {
        return fw.execOk("sh", "-c", "printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' | socat -t 5 - TCP:127.0.0.1:9740").stdout();
    }

    private void awaitVips(String what, boolean onFw1, boolean onFw2) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (hasVip(fw1) != onFw1 || hasVip(fw2) != onFw2) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out: " + what);
            }
            Thread.sleep(100);
        }
    }

    private static boolean hasVip(Host h) {
        return h.hasAddress("eth0", VIP);
    }

    private static Set<String> mirrorable(ConntrackTable t) {
        return t.dump(Family.ALL).stream().filter(e -> !SYNC.contains(e.original().source()))
                .map(RoleSwitchKernelTest::key).collect(Collectors.toCollection(TreeSet::new));
    }

    /** Mirrorable entries whose timeout exceeds {@code tcp} (TCP) or {@code udp} (the rest, replied UDP). */
    private static long beyond(ConntrackTable t, long tcp, long udp) {
        return t.dump(Family.ALL).stream().filter(e -> !SYNC.contains(e.original().source()))
                .filter(e -> e.timeout() > (e.protocol().equals(IpProtocol.TCP) ? tcp : udp)).count();
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

package io.zaro.tests;

import static io.zaro.tests.Ips.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.conntrack.BatchResult;
import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.Family;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.Status;
import io.zaro.conntrack.filter.Cidr;
import io.zaro.kafka.record.FlowRecord;
import io.zaro.kafka.record.FlowRecordCodec;
import io.zaro.tests.netns.AgentProcess;
import io.zaro.tests.netns.BrokerFixture;
import io.zaro.tests.netns.Cmd;
import io.zaro.tests.netns.ConntrackCli;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Kcat;
import io.zaro.tests.netns.Lab;
import io.zaro.tests.netns.SyntheticFlows;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Mirroring end to end (issue 4): client -- fw1 -- server carries the traffic; fw1 and fw2 and
 * a broker namespace share a sync bridge. The project's broker runs in its namespace, started by
 * {@code zaro kafka start}; each firewall runs {@code zaro agent} in its own namespace, fw1
 * active and fw2 standby. {@code conntrack -L} inside fw2 is the witness; kcat reads the topics.
 * Each test uses topics of its own and starts from empty tables.
 */
@KernelTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MirrorKernelTest {
    private static final String BROKER = "10.99.0.10";
    private static final String CLIENT_V4 = "10.20.1.2";
    private static final String CLIENT_V6 = "fd20:1::2";
    private static final String SERVER_V4 = "10.20.2.2";
    private static final String SERVER_V6 = "fd20:2::2";
    private static final String FW1_OUTSIDE_V4 = "10.20.2.1";
    private static final Cidr SYNC_NETWORK = Cidr.parse("10.99.0.0/24");
    private static final SyntheticFlows FLOWS = new SyntheticFlows(SERVER_V4, SERVER_V6, FW1_OUTSIDE_V4);

    private Lab lab;
    private Host client;
    private Host fw1;
    private Host fw2;
    private Host server;
    private Host kafka;
    private BrokerFixture broker;
    private final List<AgentProcess> agents = new ArrayList<>();
    private final List<Process> traffic = new ArrayList<>();

    @BeforeAll
    void topology() {
        lab = new Lab();
        client = lab.host("client");
        fw1 = lab.host("fw1");
        fw2 = lab.host("fw2");
        server = lab.host("server");
        kafka = lab.host("kafka");
        lab.link(client, "eth0", fw1, "eth0");
        lab.link(fw1, "eth1", server, "eth0");
        lab.bridge("sync", "sync0", fw1, fw2, kafka);
        client.address("eth0", CLIENT_V4 + "/24").address("eth0", CLIENT_V6 + "/64")
                .route("default", "10.20.1.1").route("default", "fd20:1::1");
        fw1.address("eth0", "10.20.1.1/24").address("eth0", "fd20:1::1/64")
                .address("eth1", FW1_OUTSIDE_V4 + "/24").address("eth1", "fd20:2::1/64")
                .address("sync0", "10.99.0.1/24").forwarding();
        fw2.address("sync0", "10.99.0.2/24");
        kafka.address("sync0", BROKER + "/24");
        server.address("eth0", SERVER_V4 + "/24").address("eth0", SERVER_V6 + "/64").route("default", "fd20:2::1");
        // Stateful forwarding, IPv4 source NAT to fw1's outside address, a mark on UDP 5001 and
        // zone 7 for UDP 5002 in both directions.
        fw1.nft("""
                table inet zaro_raw {
                  chain pre { type filter hook prerouting priority raw;
                    udp dport 5002 ct zone set 7
                    udp sport 5002 ct zone set 7
                  }
                }
                table inet zaro_fw {
                  chain forward { type filter hook forward priority 0; policy drop;
                    ct state established,related accept
                    iifname "eth0" ct state new accept
                  }
                  chain marking { type filter hook forward priority 10; udp dport 5001 ct mark set 42; }
                }
                table ip zaro_nat {
                  chain post { type nat hook postrouting priority 100; oifname "eth1" snat to 10.20.2.1; }
                }
                """);
        for (String key : List.of("icmp_timeout", "icmpv6_timeout", "udp_timeout", "udp_timeout_stream",
                "tcp_timeout_time_wait", "tcp_timeout_close", "tcp_timeout_last_ack", "tcp_timeout_fin_wait",
                "tcp_timeout_close_wait")) {
            fw1.sysctl("net.netfilter.nf_conntrack_" + key, "2");
        }
        broker = new BrokerFixture(kafka, BROKER);
    }

    @AfterAll
    void teardown() {
        try {
            if (broker != null) {
                broker.close();
            }
        } finally {
            lab.close();
        }
    }

    @BeforeEach
    void emptyTables() {
        fw1.exec("conntrack", "-F");
        fw2.exec("conntrack", "-F");
    }

    @AfterEach
    void stopAgentsAndTraffic() {
        stopTraffic();
        agents.forEach(AgentProcess::close);
        agents.clear();
    }

    // ------------------------------------------------------------------ tests

    @Test
    void flowsOfRealTrafficAppearInTheStandbysKernelAndLeaveWithThem() {
        AgentProcess standby = standby("traffic", "");
        AgentProcess active = active("traffic", "");
        standby.awaitLog("bootstrap:", Duration.ofSeconds(60));
        active.awaitLog("publishing", Duration.ofSeconds(60));

        server.spawn("socat", "TCP4-LISTEN:5000,fork,reuseaddr", "PIPE");
        server.spawn("socat", "TCP6-LISTEN:5003,fork,reuseaddr,ipv6only=1", "PIPE");
        server.spawn("socat", "UDP4-LISTEN:5001,reuseaddr", "PIPE");
        server.spawn("socat", "UDP4-LISTEN:5002,reuseaddr", "PIPE");
        waitListening(server, "5000", "5003");
        startTraffic("socat - TCP4:" + SERVER_V4 + ":5000");
        startTraffic("socat - TCP6:[" + SERVER_V6 + "]:5003");
        startTraffic("socat - UDP4:" + SERVER_V4 + ":5001");
        startTraffic("socat - UDP4:" + SERVER_V4 + ":5002");
        traffic.add(client.spawn("ping", "-i", "0.3", SERVER_V4));
        traffic.add(client.spawn("ping", "-i", "0.3", SERVER_V6));

        // Six flows on fw1: TCP over IPv4 (NATed) and IPv6, UDP with a mark, UDP in zone 7, ICMP, ICMPv6.
        Set<String> onFw1 = poll("six established client flows on fw1", Duration.ofSeconds(30), () -> {
            Set<String> v = clientFlows(fw1);
            return v.size() == 6 && v.stream().filter(s -> s.contains("ESTABLISHED")).count() == 2
                    && v.stream().filter(s -> s.contains("seen_reply=true")).count() == 6 ? v : null;
        });
        awaitEqual("fw2 mirrors fw1's flows", () -> clientFlows(fw1), () -> clientFlows(fw2), Duration.ofSeconds(30));
        List<ConntrackEntry> mirrored = ConntrackCli.list(fw2);
        assertTrue(mirrored.stream().anyMatch(e -> e.original().destinationPort() == 5000
                && e.reply().destination().equals(ip(FW1_OUTSIDE_V4))), "the NAT reply tuple is mirrored: " + mirrored);
        assertTrue(mirrored.stream().anyMatch(e -> e.original().destinationPort() == 5001 && e.mark() == 42), "mark: " + mirrored);
        assertTrue(mirrored.stream().anyMatch(e -> e.original().destinationPort() == 5002 && e.zone() == 7), "zone: " + mirrored);
        assertFalse(mirrored.stream().anyMatch(e -> e.original().source().equals(ip("10.99.0.1"))
                || e.original().destination().equals(ip("10.99.0.1"))), "fw1's own sync traffic is not mirrored: " + mirrored);
        assertEquals(6, onFw1.size());

        stopTraffic();
        poll("the ended flows leave fw1", Duration.ofSeconds(90), () -> clientFlows(fw1).isEmpty() ? true : null);
        poll("the ended flows leave fw2", Duration.ofSeconds(30), () -> clientFlows(fw2).isEmpty() ? true : null);
        assertTrue(active.isAlive() && standby.isAlive());
    }

    @Test
    void aRestartedStandbyBootstrapsFromTheStateTopicToTheActivesTable() {
        try (ConntrackTable t1 = Conntrack.open(fw1.name()); ConntrackTable t2 = Conntrack.open(fw2.name())) {
            assertEquals(0, t1.createAll(syntheticFlows(0, 2000)).failed());
            AgentProcess standby = standby("bootstrap", "");
            active("bootstrap", "").awaitLog("publishing", Duration.ofSeconds(60));
            awaitEqual("fw2 mirrors 2000 flows", () -> views(t1), () -> views(t2), Duration.ofSeconds(60));

            standby.stop();
            t2.flush(Family.ALL);
            ConntrackEntry ghost = syntheticFlows(5000, 1).get(0);
            t2.create(ghost);
            // The active's table changes while the standby is away: 100 flows end, 100 begin.
            for (ConntrackEntry gone : syntheticFlows(0, 100)) {
                assertTrue(t1.delete(gone.original(), gone.zone()));
            }
            assertEquals(0, t1.createAll(syntheticFlows(3000, 100)).failed());

            AgentProcess restarted = standby("bootstrap", "");
            restarted.awaitLog("bootstrap:", Duration.ofSeconds(60));
            awaitEqual("the restarted fw2 holds fw1's table", () -> views(t1), () -> views(t2), Duration.ofSeconds(30));
            assertTrue(t2.get(ghost.original(), ghost.zone()).isEmpty(), "the ghost was deleted");
            assertEquals(2000, mirrorable(t2).size());
        }
    }

    @Test
    void eventsLostToAFullSocketBufferAreResynchronised() {
        try (ConntrackTable t1 = Conntrack.open(fw1.name()); ConntrackTable t2 = Conntrack.open(fw2.name())) {
            AgentProcess standby = standby("loss", "");
            // A 16 KiB event buffer: a burst of 100 000 flows overflows it at once.
            AgentProcess active = active("loss", "capture.receive.buffer.bytes=16384\n");
            standby.awaitLog("bootstrap:", Duration.ofSeconds(60));
            active.awaitLog("publishing", Duration.ofSeconds(60));
            for (int start = 0; start < 100_000; start += 10_000) {
                BatchResult r = t1.createAll(syntheticFlows(start, 10_000));
                assertEquals(0, r.failed());
            }
            poll("fw2 holds all 100 000 flows", Duration.ofSeconds(180), () -> count(fw2) == 100_000 ? true : null);
            assertTrue(active.counter("eventLoss") > 0, "the burst overflowed the buffer: " + active.counters());
            poll("a resync after the start-up sweep", Duration.ofSeconds(10), () -> active.counter("resyncs") >= 2 ? true : null);
            assertEquals(keys(t1), keys(t2));
        }
    }

    @Test
    void recordsReadWithKcatDecodeWithTheSchemaAndAllComeFromTheActive() throws Exception {
        AgentProcess standby = standby("audit", "");
        AgentProcess active = active("audit", "");
        standby.awaitLog("bootstrap:", Duration.ofSeconds(60));
        active.awaitLog("publishing", Duration.ofSeconds(60));
        // Flows made by conntrack-tools, then some ended: NEW, UPDATE (the start-up resync) and DESTROY records.
        for (int i = 0; i < 20; i++) {
            fw1.execOk("conntrack", "-I", "-p", "udp", "-s", "10.20.1.2", "-d", "10.20.2.2", "--sport", Integer.toString(20000 + i),
                    "--dport", "53", "-t", "300", "--mark", "7");
        }
        poll("fw2 mirrors 20 flows", Duration.ofSeconds(30), () -> count(fw2) == 20 ? true : null);
        for (int i = 0; i < 5; i++) {
            fw1.execOk("conntrack", "-D", "-p", "udp", "-s", "10.20.1.2", "--sport", Integer.toString(20000 + i));
        }
        poll("fw2 drops 5 flows", Duration.ofSeconds(30), () -> count(fw2) == 15 ? true : null);

        List<byte[]> events = kcat("audit.events");
        List<byte[]> state = kcat("audit.state");
        assertEquals(25, events.size(), "20 NEW and 5 DESTROY on the events topic");
        long tombstones = state.stream().filter(v -> v == null).count();
        assertEquals(5, tombstones, "a tombstone on the state topic for each DESTROY");
        Set<String> nodes = new TreeSet<>();
        int destroys = 0;
        for (byte[] value : events) {
            FlowRecord r = FlowRecordCodec.decode(value);
            nodes.add(r.nodeId());
            destroys += r.type() == io.zaro.conntrack.ConntrackEvent.Type.DESTROY ? 1 : 0;
            assertEquals(7, r.entry().mark());
        }
        assertEquals(Set.of("fw1"), nodes, "no record from fw2: nothing it injected came back");
        assertEquals(5, destroys);
        for (byte[] value : state) {
            if (value != null) {
                assertEquals("fw1", FlowRecordCodec.decode(value).nodeId());
            }
        }

        // Decoded outside Java: one record through protoc with the schema in the repository.
        Path one = Files.createTempFile("zaro-record", ".bin");
        try {
            Files.write(one, events.get(0));
            Path proto = Path.of("../kafka/src/main/protobuf").toAbsolutePath().normalize();
            Cmd.Result decoded = Cmd.run(List.of("sh", "-c", "protoc --decode zaro.v1.FlowRecord -I " + proto + " "
                    + proto.resolve("zaro/v1/record.proto") + " < " + one), null, 30).ok();
            assertTrue(decoded.stdout().contains("node_id: \"fw1\""), decoded.stdout());
            assertTrue(decoded.stdout().contains("event: NEW"), decoded.stdout());
            assertTrue(decoded.stdout().contains("mark: 7"), decoded.stdout());
        } finally {
            Files.deleteIfExists(one);
        }
    }

    @Test
    void aLongLivedUdpFlowWithoutEventsOutlivesTheKernelTimeoutOnTheStandby() throws Exception {
        AgentProcess standby = standby("longudp", "");
        AgentProcess active = active("longudp", "");
        standby.awaitLog("bootstrap:", Duration.ofSeconds(60));
        active.awaitLog("publishing", Duration.ofSeconds(60));
        server.spawn("socat", "UDP4-LISTEN:5009,reuseaddr", "PIPE");
        startTraffic("socat - UDP4:" + SERVER_V4 + ":5009");
        poll("the UDP flow is mirrored", Duration.ofSeconds(30), () -> udp5009(fw2) != null ? true : null);
        Thread.sleep(3000); // its NEW and UPDATE events are in, and counted in a status line
        long eventsBefore = mirroredEvents(active);
        // fw1's UDP timeout is 2 s and the standby's grace 5 s: without refreshes the mirrored
        // entry would be gone within 7 s of the last event. Watch it for 20 s.
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < end) {
            assertTrue(udp5009(fw1) != null, "the flow lives on fw1");
            assertTrue(udp5009(fw2) != null, "the flow lives on in fw2's kernel");
            Thread.sleep(1000);
        }
        assertTrue(active.counter("refreshed") > 0, "refreshes kept it: " + active.counters());
        Thread.sleep(1500);
        assertEquals(eventsBefore, mirroredEvents(active),
                "the flow sent no events meanwhile (only refreshes kept it): " + active.counters());
        stopTraffic();
        poll("the ended flow leaves fw2", Duration.ofSeconds(60), () -> udp5009(fw2) == null ? true : null);
    }

    // ------------------------------------------------------------------ helpers

    private AgentProcess active(String prefix, String extra) {
        return agent(fw1, "fw1", "active", prefix, extra);
    }

    private AgentProcess standby(String prefix, String extra) {
        return agent(fw2, "fw2", "standby", prefix, extra);
    }

    private AgentProcess agent(Host host, String node, String role, String prefix, String extra) {
        AgentProcess a = AgentProcess.start(host, """
                node.id=%s
                role=%s
                kafka.bootstrap.servers=%s:9092
                kafka.topic.prefix=%s
                kafka.topic.partitions=3
                filter.sync.interface=sync0
                mirror.refresh.interval.seconds=2
                mirror.timeout.grace.seconds=5
                """.formatted(node, role, BROKER, prefix) + extra);
        agents.add(a);
        return a;
    }

    /** Events the active took for mirroring: captured, less those filtered out or its own. */
    private static long mirroredEvents(AgentProcess a) {
        return a.counter("captured") - a.counter("filtered") - a.counter("ownInjections");
    }

    private static void awaitEqual(String what, Supplier<Set<String>> expected, Supplier<Set<String>> actual, Duration timeout) {
        long end = System.nanoTime() + timeout.toNanos();
        while (true) {
            Set<String> e = expected.get();
            Set<String> a = actual.get();
            if (e.equals(a)) {
                return;
            }
            if (System.nanoTime() > end) {
                List<String> missing = e.stream().filter(x -> !a.contains(x)).limit(5).toList();
                List<String> extra = a.stream().filter(x -> !e.contains(x)).limit(5).toList();
                throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting until " + what + ": "
                        + e.size() + " expected, " + a.size() + " present; missing " + missing + "; unexpected " + extra);
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                throw new AssertionError(ex);
            }
        }
    }

    private void startTraffic(String socat) {
        traffic.add(client.spawn("sh", "-c", "while :; do echo x; sleep 0.3; done | " + socat));
    }

    private void stopTraffic() {
        for (Process p : traffic) {
            p.descendants().forEach(ProcessHandle::destroy);
            p.destroy();
        }
        traffic.clear();
    }

    /** fw's flows from the client, as the fields mirroring must keep (tuples, NAT, state, mark, zone, labels). */
    private static Set<String> clientFlows(Host fw) {
        return ConntrackCli.list(fw).stream()
                .filter(e -> e.original().source().equals(ip(CLIENT_V4)) || e.original().source().equals(ip(CLIENT_V6)))
                .map(MirrorKernelTest::view)
                .collect(Collectors.toCollection(TreeSet::new));
    }

    private static String view(ConntrackEntry e) {
        return e.original() + " | " + e.reply() + " tcp=" + (e.tcp() == null ? "-" : e.tcp().state())
                + " mark=" + e.mark() + " zone=" + e.zone() + " labels=" + e.labels()
                + " seen_reply=" + Status.SEEN_REPLY.isSet(e.status()) + " assured=" + Status.ASSURED.isSet(e.status());
    }

    /** The flows a table holds, less the agents' own traffic over the sync link (never mirrored). */
    private static List<ConntrackEntry> mirrorable(ConntrackTable t) {
        return t.dump(Family.ALL).stream().filter(e -> !SYNC_NETWORK.contains(e.original().source())).toList();
    }

    private static Set<String> views(ConntrackTable t) {
        return mirrorable(t).stream().map(MirrorKernelTest::view).collect(Collectors.toCollection(TreeSet::new));
    }

    private static Set<String> keys(ConntrackTable t) {
        return mirrorable(t).stream().map(e -> e.zone() + " " + e.original())
                .collect(Collectors.toCollection(TreeSet::new));
    }

    private static ConntrackEntry udp5009(Host fw) {
        return ConntrackCli.list(fw, "-p", "udp", "--dport", "5009").stream().findFirst().orElse(null);
    }

    private static long count(Host fw) {
        return Long.parseLong(fw.execOk("conntrack", "-C").stdout().trim());
    }

    private static List<ConntrackEntry> syntheticFlows(int first, int n) {
        return FLOWS.range(first, n);
    }

    private List<byte[]> kcat(String topic) {
        return Kcat.values(kafka, BROKER + ":9092", topic);
    }

    private static void waitListening(Host h, String... ports) {
        poll("listening on " + String.join(",", ports), Duration.ofSeconds(10), () -> {
            String ss = h.execOk("ss", "-ltn").stdout();
            for (String port : ports) {
                if (!ss.contains(":" + port + " ")) {
                    return null;
                }
            }
            return true;
        });
    }

    private static <T> T poll(String what, Duration timeout, Supplier<T> check) {
        long end = System.nanoTime() + timeout.toNanos();
        while (true) {
            T v = check.get();
            if (v != null) {
                return v;
            }
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting until " + what);
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }
}

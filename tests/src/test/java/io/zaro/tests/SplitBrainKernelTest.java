package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.filter.Cidr;
import io.zaro.tests.netns.AgentProcess;
import io.zaro.tests.netns.BrokerFixture;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import io.zaro.tests.netns.MirroredTables;
import io.zaro.tests.netns.SyntheticFlows;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Partitions of a {@code role=vrrp} pair (issue 9): VRRP on the LAN, Kafka on the sync link.
 * The sync link cut: the backup stays backup (it still hears the master), its mirror stalls,
 * and when the link returns it catches up with what changed meanwhile. A split brain (the
 * backup stops hearing the master's advertisements while both are up): both hold the VIP and
 * publish, the backup's takeover resync tombstoning the flows the master made meanwhile. When
 * the advertisements pass again, the lower priority steps back; the master, having seen another
 * node's records in the state topic, resyncs once they stop, and the backup then mirrors its
 * table again: the flows the master made during the split included, the ones the backup carried
 * (which the master lacks) deleted.
 */
@KernelTest
class SplitBrainKernelTest {
    private static final String BROKER = "10.96.0.10";
    private static final String VIP = "10.41.1.254";
    private static final Cidr SYNC = Cidr.parse("10.96.0.0/24");
    private static final SyntheticFlows FLOWS = new SyntheticFlows("10.41.2.2", "fd41:2::2", "10.41.2.254");

    private Lab lab;
    private Host fw1;
    private Host fw2;
    private BrokerFixture broker;
    private final List<AgentProcess> agents = new ArrayList<>();

    @TempDir
    Path dir;

    @BeforeEach
    void topology() {
        lab = new Lab();
        fw1 = lab.host("fw1");
        fw2 = lab.host("fw2");
        Host kafka = lab.host("kafka");
        lab.bridge("lan", "eth0", fw1, fw2);
        lab.bridge("sync", "sync0", fw1, fw2, kafka);
        fw1.address("eth0", "10.41.1.1/24").address("sync0", "10.96.0.1/24");
        fw2.address("eth0", "10.41.1.3/24").address("sync0", "10.96.0.2/24");
        kafka.address("sync0", BROKER + "/24");
        broker = new BrokerFixture(kafka, BROKER);
    }

    @AfterEach
    void cleanup() {
        agents.forEach(AgentProcess::close);
        try {
            if (broker != null) {
                broker.close();
            }
        } finally {
            lab.close();
        }
    }

    @Test
    void theSyncLinkCutStallsTheMirrorWhichCatchesUpWhenItReturns() throws Exception {
        try (ConntrackTable t1 = Conntrack.open(fw1.name()); ConntrackTable t2 = Conntrack.open(fw2.name())) {
            startPair(t1, t2, "cut");
            fw2.execOk("ip", "link", "set", "sync0", "down");
            for (ConntrackEntry gone : FLOWS.range(0, 100)) {
                assertTrue(t1.delete(gone.original(), gone.zone()));
            }
            assertEquals(0, t1.createAll(FLOWS.range(5000, 200)).failed());
            Thread.sleep(20_000);
            assertTrue(hasVip(fw1) && !hasVip(fw2), "the backup still hears the master: no second master");
            assertEquals(1000, tables(t1, t2).keys(t2).size(), "fw2 fell behind meanwhile: it holds what it held");
            assertEquals(1100, tables(t1, t2).keys(t1).size());
            fw2.execOk("ip", "link", "set", "sync0", "up");
            tables(t1, t2).awaitEqual("fw2 catches up once the sync link is back", Duration.ofSeconds(90));
            System.out.println("sync link cut for 20 s: 0 flows lost, 0 ghosts; " + tables(t1, t2).keys(t1).size() + " flows");
            assertTrue(agents.stream().allMatch(AgentProcess::isAlive));
        }
    }

    @Test
    void aSplitBrainEndsWithOneMasterAndTheBackupMirroringItAgain() throws Exception {
        try (ConntrackTable t1 = Conntrack.open(fw1.name()); ConntrackTable t2 = Conntrack.open(fw2.name())) {
            startPair(t1, t2, "split");
            // fw2 stops hearing fw1's advertisements: it becomes master too.
            fw2.nft("""
                    table inet zaro_split {
                      chain input { type filter hook input priority -10;
                        ip protocol vrrp drop
                      }
                    }
                    """);
            awaitVips("both hold the VIP: a split brain", true, true);
            assertEquals(0, t1.createAll(FLOWS.range(5000, 100)).failed()); // through fw1 meanwhile
            assertEquals(0, t2.createAll(FLOWS.range(8000, 20)).failed()); // through fw2 meanwhile
            Thread.sleep(5_000);

            fw2.execOk("nft", "delete", "table", "inet", "zaro_split");
            awaitVips("fw2, the lower priority, steps back", true, false);
            // fw1, still master, saw fw2's records in the state topic; once they stop it resyncs.
            agents.get(0).awaitLog("resynchronising so that the topic holds this node's table", Duration.ofSeconds(60));
            tables(t1, t2).awaitEqual("fw2 mirrors fw1 again", Duration.ofSeconds(90));
            System.out.printf("split brain of 5 s: after it, fw2 holds fw1's %d flows, none lost, and none of the 20 it "
                    + "carried itself%n", tables(t1, t2).keys(t1).size());
            assertEquals(1100, tables(t1, t2).keys(t1).size());
            assertTrue(agents.stream().allMatch(AgentProcess::isAlive));
        }
    }

    /** 1000 flows on fw1, then the agents (fw1 priority 150, fw2 100), fw2 mirroring them all. */
    private void startPair(ConntrackTable t1, ConntrackTable t2, String prefix) throws InterruptedException {
        assertEquals(0, t1.createAll(FLOWS.range(0, 1000)).failed());
        agent(fw1, "fw1", 150, prefix).awaitLog("active: VIPs held", Duration.ofSeconds(60));
        // fw1 started as backup, with an empty state topic: its flows are its own, not ghosts.
        assertEquals(1000, tables(t1, t2).keys(t1).size(), "zaro's first start on a firewall that forwards leaves its table alone");
        agent(fw2, "fw2", 100, prefix).awaitLog("bootstrap:", Duration.ofSeconds(60));
        awaitVips("fw1 alone holds the VIP", true, false);
        tables(t1, t2).awaitEqual("fw2 mirrors fw1's 1000 flows", Duration.ofSeconds(60));
    }

    private AgentProcess agent(Host host, String node, int priority, String prefix) {
        AgentProcess a = AgentProcess.start(host, """
                node.id=%s
                role=vrrp
                kafka.bootstrap.servers=%s:9092
                kafka.topic.prefix=%s
                kafka.topic.partitions=3
                filter.sync.interface=sync0
                vrrp.interface=eth0
                vrrp.vrid=41
                vrrp.priority=%d
                vrrp.interval.centiseconds=50
                vrrp.vips=%s/24
                control.socket=%s
                """.formatted(node, BROKER, prefix, priority, VIP, dir.resolve(node + ".sock")));
        agents.add(a);
        return a;
    }

    private void awaitVips(String what, boolean onFw1, boolean onFw2) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (hasVip(fw1) != onFw1 || hasVip(fw2) != onFw2) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out: " + what + " (fw1 " + hasVip(fw1) + ", fw2 " + hasVip(fw2) + ")");
            }
            Thread.sleep(100);
        }
    }

    private static boolean hasVip(Host h) {
        return h.hasAddress("eth0", VIP);
    }

    private static MirroredTables tables(ConntrackTable t1, ConntrackTable t2) {
        return new MirroredTables(t1, t2, SYNC);
    }
}

package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.filter.Cidr;
import io.zaro.tests.netns.AgentProcess;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import io.zaro.tests.netns.MirroredTables;
import io.zaro.tests.netns.SyntheticFlows;
import io.zaro.tests.netns.ZaroCli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults of issue 9, with the project's broker in a namespace of its own and the agents as
 * separate processes (fw1 active, fw2 standby), on tables filled with synthetic flows: the
 * broker stopped for 60 s while fw1's table changes, then started again; and kill -9 of each
 * agent while the table changes, then a restart. Each ends with fw2's table equal to fw1's,
 * and prints the flows lost (on fw1, not on fw2) and the ghosts (on fw2, not on fw1): both 0.
 */
@KernelTest
class FaultsKernelTest {
    private static final String BROKER = "10.97.0.10";
    private static final Cidr SYNC_NETWORK = Cidr.parse("10.97.0.0/24");
    private static final SyntheticFlows FLOWS = new SyntheticFlows("10.20.2.2", "fd20:2::2", "10.20.2.1");

    private Lab lab;
    private Host fw1;
    private Host fw2;
    private Host kafka;
    private final List<AgentProcess> agents = new ArrayList<>();

    @TempDir
    Path dir;

    @BeforeEach
    void topology() {
        lab = new Lab();
        fw1 = lab.host("fw1");
        fw2 = lab.host("fw2");
        kafka = lab.host("kafka");
        lab.bridge("sync", "sync0", fw1, fw2, kafka);
        fw1.address("sync0", "10.97.0.1/24");
        fw2.address("sync0", "10.97.0.2/24");
        kafka.address("sync0", BROKER + "/24");
        startBroker();
    }

    @AfterEach
    void cleanup() {
        agents.forEach(AgentProcess::close);
        agents.clear();
        try {
            kafka.exec(ZaroCli.command("kafka", "stop", "--data-dir", dir.resolve("kafka").toString(), "--timeout", "30")
                    .toArray(String[]::new));
        } finally {
            lab.close();
        }
    }

    @Test
    void theBrokerStoppedForAMinuteWhileTheTableChangesLosesNothing() throws Exception {
        try (ConntrackTable t1 = Conntrack.open(fw1.name()); ConntrackTable t2 = Conntrack.open(fw2.name())) {
            Pair pair = mirroring2000Flows(t1, t2, "");
            AgentProcess standby = pair.standby();
            AgentProcess active = pair.active();
            long rssBefore = rssKiB(fw1);

            stopBroker();
            Outage outage = changeTable(t1, Duration.ofSeconds(60), rssBefore);
            assertTrue(active.isAlive() && standby.isAlive(), "neither agent died while the broker was away");
            startBroker();

            tables(t1, t2).awaitEqual("fw2 converges to fw1's table after the outage", Duration.ofSeconds(180));
            report("broker stopped for 60 s (" + outage.rounds() + " rounds of changes)", t1, t2);
            System.out.printf("active's RSS: %d MiB before the outage, at most %d MiB during it, %d MiB after%n",
                    rssBefore / 1024, outage.maxRssKiB() / 1024, rssKiB(fw1) / 1024);
            assertTrue(active.isAlive() && standby.isAlive(), "neither agent died");
        }
    }

    /**
     * An outage longer than the producer holds records: with the producer's timeouts shortened
     * (a record given up after 15 s, a blocked send after 5 s, where Kafka's defaults are 120 s and
     * 60 s), a 40 s outage outlasts them as a long one outlasts the defaults. The records Kafka did
     * not take start a resync, which publishes fw1's table once the broker is back.
     */
    @Test
    void anOutageLongerThanTheProducerHoldsRecordsIsBridgedByAResync() throws Exception {
        try (ConntrackTable t1 = Conntrack.open(fw1.name()); ConntrackTable t2 = Conntrack.open(fw2.name())) {
            Pair pair = mirroring2000Flows(t1, t2, """
                    kafka.client.delivery.timeout.ms=15000
                    kafka.client.request.timeout.ms=5000
                    kafka.client.max.block.ms=5000
                    """);
            AgentProcess standby = pair.standby();
            AgentProcess active = pair.active();
            int resyncsBefore = active.occurrences("resync: ");
            long rssBefore = rssKiB(fw1);

            stopBroker();
            Outage outage = changeTable(t1, Duration.ofSeconds(40), rssBefore);
            assertTrue(active.isAlive() && standby.isAlive(), "neither agent died while the broker was away");
            assertTrue(active.log().contains("the table will be resynchronised"),
                    "the records Kafka did not take during the outage are told:\n" + active.log());
            startBroker();

            tables(t1, t2).awaitEqual("fw2 converges to fw1's table after the outage", Duration.ofSeconds(180));
            report("broker stopped for 40 s, past the producer's timeouts (" + outage.rounds() + " rounds of changes)", t1, t2);
            assertTrue(active.occurrences("resync: ") > resyncsBefore, "a resync published the table after the outage");
            System.out.printf("active's RSS: %d MiB before the outage, at most %d MiB during it, %d MiB after; "
                            + "%d records Kafka did not take%n", rssBefore / 1024, outage.maxRssKiB() / 1024,
                    rssKiB(fw1) / 1024, active.counter("publishFailed"));
            assertTrue(active.isAlive() && standby.isAlive(), "neither agent died");
        }
    }

    /** How many rounds of changes an outage saw, and the active's largest RSS meanwhile. */
    private record Outage(int rounds, long maxRssKiB) {
    }

    /** Every 5 s for {@code length}: 50 of fw1's flows end and 100 begin. */
    private Outage changeTable(ConntrackTable t1, Duration length, long rssBefore) throws Exception {
        long end = System.nanoTime() + length.toNanos();
        long maxRss = rssBefore;
        int round = 0;
        while (System.nanoTime() < end) {
            for (ConntrackEntry gone : FLOWS.range(round * 50, 50)) {
                t1.delete(gone.original(), gone.zone());
            }
            assertEquals(0, t1.createAll(FLOWS.range(10_000 + round * 100, 100)).failed());
            round++;
            maxRss = Math.max(maxRss, rssKiB(fw1));
            Thread.sleep(5_000);
        }
        return new Outage(round, maxRss);
    }

    @Test
    void killingEitherAgentWithSignalNineThenRestartingItLeavesNoGhostsAndNoGaps() throws Exception {
        try (ConntrackTable t1 = Conntrack.open(fw1.name()); ConntrackTable t2 = Conntrack.open(fw2.name())) {
            Pair pair = mirroring2000Flows(t1, t2, "");
            AgentProcess standby = pair.standby();
            AgentProcess active = pair.active();

            // The standby crashes; meanwhile 100 flows end and 100 begin on fw1.
            standby.kill();
            for (ConntrackEntry gone : FLOWS.range(0, 100)) {
                assertTrue(t1.delete(gone.original(), gone.zone()));
            }
            assertEquals(0, t1.createAll(FLOWS.range(3000, 100)).failed());
            agent(fw2, "fw2", "standby", "").awaitLog("bootstrap:", Duration.ofSeconds(60));
            tables(t1, t2).awaitEqual("the restarted standby holds fw1's table", Duration.ofSeconds(60));
            report("kill -9 of the standby", t1, t2);

            // The active crashes; meanwhile 100 flows end and 100 begin, which no event will tell.
            active.kill();
            for (ConntrackEntry gone : FLOWS.range(100, 100)) {
                assertTrue(t1.delete(gone.original(), gone.zone()));
            }
            assertEquals(0, t1.createAll(FLOWS.range(4000, 100)).failed());
            agent(fw1, "fw1", "active", "").awaitLog("publishing", Duration.ofSeconds(60));
            tables(t1, t2).awaitEqual("fw2 holds the restarted active's table", Duration.ofSeconds(60));
            report("kill -9 of the active", t1, t2);
        }
    }

    /** The standby on fw2 and the active on fw1, both running. */
    private record Pair(AgentProcess standby, AgentProcess active) {
    }

    /**
     * 2000 flows in fw1's table, the standby started on fw2 and the active on fw1 (with
     * {@code activeConfig} added to its configuration); returns once fw2 mirrors all of them.
     */
    private Pair mirroring2000Flows(ConntrackTable t1, ConntrackTable t2, String activeConfig) throws InterruptedException {
        assertEquals(0, t1.createAll(FLOWS.range(0, 2000)).failed());
        AgentProcess standby = agent(fw2, "fw2", "standby", "");
        AgentProcess active = agent(fw1, "fw1", "active", activeConfig);
        active.awaitLog("publishing", Duration.ofSeconds(60));
        tables(t1, t2).awaitEqual("fw2 mirrors 2000 flows", Duration.ofSeconds(60));
        return new Pair(standby, active);
    }

    private AgentProcess agent(Host host, String node, String role, String moreConfig) {
        AgentProcess a = AgentProcess.start(host, """
                node.id=%s
                role=%s
                kafka.bootstrap.servers=%s:9092
                kafka.topic.prefix=faults
                kafka.topic.partitions=3
                filter.sync.interface=sync0
                control.socket=%s
                """.formatted(node, role, BROKER, dir.resolve(node + "-" + agents.size() + ".sock")) + moreConfig);
        agents.add(a);
        return a;
    }

    private void startBroker() {
        kafka.exec(null, 180, ZaroCli.command("kafka", "start", "--data-dir", dir.resolve("kafka").toString(), "--host",
                BROKER, "--timeout", "120").toArray(String[]::new)).ok();
    }

    private void stopBroker() {
        kafka.exec(null, 60, ZaroCli.command("kafka", "stop", "--data-dir", dir.resolve("kafka").toString(), "--timeout",
                "30").toArray(String[]::new)).ok();
    }

    /** The resident memory of the zaro agent in {@code host}'s namespace, in KiB. */
    private static long rssKiB(Host host) throws Exception {
        long rss = 0;
        for (String pid : host.execOk("ip", "netns", "pids", host.name()).stdout().split("\\s+")) {
            Path status = Path.of("/proc", pid.strip(), "status");
            if (pid.isBlank() || !Files.exists(status)) {
                continue;
            }
            List<String> lines = Files.readAllLines(status);
            if (lines.stream().anyMatch(l -> l.startsWith("Name:") && l.contains("java"))) {
                rss += lines.stream().filter(l -> l.startsWith("VmRSS:"))
                        .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", ""))).sum();
            }
        }
        return rss;
    }

    private static void report(String fault, ConntrackTable t1, ConntrackTable t2) {
        Set<String> a = tables(t1, t2).keys(t1);
        Set<String> b = tables(t1, t2).keys(t2);
        long lost = a.stream().filter(k -> !b.contains(k)).count();
        long ghosts = b.stream().filter(k -> !a.contains(k)).count();
        System.out.printf("%s: %d flows on fw1, %d lost, %d ghosts on fw2%n", fault, a.size(), lost, ghosts);
        assertEquals(0, lost + ghosts);
    }

    private static MirroredTables tables(ConntrackTable t1, ConntrackTable t2) {
        return new MirroredTables(t1, t2, SYNC_NETWORK);
    }
}

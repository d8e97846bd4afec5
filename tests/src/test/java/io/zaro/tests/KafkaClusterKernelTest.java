package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.filter.Cidr;
import io.zaro.tests.netns.AgentProcess;
import io.zaro.tests.netns.Cmd;
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
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9's cluster fault: three of the project's brokers as one KRaft cluster, each in a
 * namespace of its own (broker and controller in one process), zaro's topics created with three
 * replicas and {@code min.insync.replicas=2}, fw1 active and fw2 standby. While fw1's table
 * changes (200 flows begin and 100 end every 0.1 s), the broker that leads the state topic's
 * first partition is killed with -9; the changes go on for 20 s more. fw2 must end with fw1's
 * table: 0 lost, 0 ghosts. The killed broker is then started again and must be back in every
 * partition's in-sync replicas.
 */
@KernelTest
class KafkaClusterKernelTest {
    private static final Cidr SYNC_NETWORK = Cidr.parse("10.96.0.0/24");
    private static final SyntheticFlows FLOWS = new SyntheticFlows("10.20.2.2", "fd20:2::2", "10.20.2.1");
    private static final String PREFIX = "cluster";
    private static final String STATE = PREFIX + ".state";
    private static final Pattern PARTITION = Pattern.compile(
            "partition (\\d+), leader (-?\\d+), replicas: ([\\d,]*), isrs: ([\\d,]*)");

    private Lab lab;
    private Host fw1;
    private Host fw2;
    private final List<Host> brokers = new ArrayList<>();
    private final List<AgentProcess> agents = new ArrayList<>();

    @TempDir
    Path dir;

    @BeforeEach
    void topology() {
        lab = new Lab();
        fw1 = lab.host("fw1");
        fw2 = lab.host("fw2");
        for (int id = 1; id <= 3; id++) {
            brokers.add(lab.host("kafka" + id));
        }
        List<Host> sync = new ArrayList<>(List.of(fw1, fw2));
        sync.addAll(brokers);
        lab.bridge("sync", "sync0", sync.toArray(Host[]::new));
        fw1.address("sync0", "10.96.0.1/24");
        fw2.address("sync0", "10.96.0.2/24");
        for (int id = 1; id <= 3; id++) {
            brokers.get(id - 1).address("sync0", address(id) + "/24");
        }
    }

    @AfterEach
    void cleanup() {
        agents.forEach(AgentProcess::close);
        try {
            for (int id = 1; id <= 3; id++) {
                brokers.get(id - 1).exec(ZaroCli.command("kafka", "stop", "--data-dir", dataDir(id).toString(),
                        "--timeout", "30").toArray(String[]::new));
            }
        } finally {
            lab.close();
        }
    }

    @Test
    void killingTheLeadingBrokerOfAThreeNodeClusterUnderLoadLosesNoFlow() throws Exception {
        // The nodes wait for a quorum of each other: they start together.
        CompletableFuture<?>[] starting = IntStream.rangeClosed(1, 3)
                .mapToObj(id -> CompletableFuture.runAsync(() -> startBroker(id))).toArray(CompletableFuture[]::new);
        CompletableFuture.allOf(starting).join();

        try (ConntrackTable t1 = Conntrack.open(fw1.name()); ConntrackTable t2 = Conntrack.open(fw2.name())) {
            MirroredTables tables = new MirroredTables(t1, t2, SYNC_NETWORK);
            assertEquals(0, t1.createAll(FLOWS.range(0, 2000)).failed());
            AgentProcess standby = agent(fw2, "fw2", "standby");
            AgentProcess active = agent(fw1, "fw1", "active");
            active.awaitLog("publishing", Duration.ofSeconds(90));
            tables.awaitEqual("fw2 mirrors 2000 flows", Duration.ofSeconds(60));

            Map<Integer, Partition> before = partitions(STATE);
            assertEquals(3, before.size(), "the state topic has 3 partitions: " + before);
            before.values().forEach(p -> assertEquals(Set.of(1, 2, 3), Set.copyOf(p.replicas()),
                    "every partition has a replica on each broker: " + p));
            String config = fw1.execOk(ZaroCli.java(), "-cp", ZaroCli.JAR.toString(), "kafka.admin.ConfigCommand",
                    "--bootstrap-server", servers(), "--entity-type", "topics", "--entity-name", STATE, "--describe")
                    .stdout();
            assertTrue(config.contains("min.insync.replicas=2"), "zaro created its topics with min.insync.replicas=2:\n" + config);

            int victim = before.get(0).leader();
            int next = 2000;
            int ended = 0;
            long killedAt = 0;
            for (int tick = 0; tick < 300; tick++) {
                long tickEnd = System.nanoTime() + 100_000_000L;
                assertEquals(0, t1.createAll(FLOWS.range(next, 200)).failed());
                next += 200;
                for (ConntrackEntry gone : FLOWS.range(ended, 100)) {
                    t1.delete(gone.original(), gone.zone());
                }
                ended += 100;
                if (tick == 100) {
                    long pid = Long.parseLong(Files.readString(dataDir(victim).resolve("broker.pid")).strip());
                    Cmd.run(List.of("kill", "-9", Long.toString(pid))).ok();
                    killedAt = System.nanoTime();
                    System.out.printf("killed broker %d (pid %d), leader of %s-0, with %d flows on fw1%n",
                            victim, pid, STATE, next - ended);
                }
                long rest = tickEnd - System.nanoTime();
                if (rest > 0) {
                    Thread.sleep(rest / 1_000_000L);
                }
            }
            System.out.printf("changes went on for %.1f s after the kill: %d flows created, %d ended in all%n",
                    (System.nanoTime() - killedAt) / 1e9, next, ended);
            Map<Integer, Partition> during = partitions(STATE);
            during.values().forEach(p -> assertTrue(p.leader() != victim && !p.isrs().contains(victim),
                    "the killed broker leads nothing and is out of the in-sync replicas: " + p));

            tables.awaitEqual("fw2 holds fw1's table after the broker's death", Duration.ofSeconds(180));
            Set<String> a = tables.keys(t1);
            Set<String> b = tables.keys(t2);
            long lost = a.stream().filter(k -> !b.contains(k)).count();
            long ghosts = b.stream().filter(k -> !a.contains(k)).count();
            System.out.printf("broker %d of 3 killed under load: %d flows on fw1, %d lost, %d ghosts on fw2; "
                    + "active's counters: %s%n", victim, a.size(), lost, ghosts, active.counters());
            assertEquals(0, lost + ghosts);
            assertTrue(active.isAlive() && standby.isAlive(), "neither agent died");

            // The killed node comes back and catches up: each partition has its three in-sync replicas again.
            startBroker(victim);
            long end = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            Map<Integer, Partition> after = partitions(STATE);
            while (after.values().stream().anyMatch(p -> p.isrs().size() < 3) && System.nanoTime() < end) {
                Thread.sleep(500);
                after = partitions(STATE);
            }
            after.values().forEach(p -> assertEquals(Set.of(1, 2, 3), Set.copyOf(p.isrs()),
                    "the restarted broker is in sync again: " + p));
        }
    }

    private record Partition(int id, int leader, List<Integer> replicas, List<Integer> isrs) {
    }

    /** The topic's partitions as the cluster describes them ({@code kcat -L}, from fw1). */
    private Map<Integer, Partition> partitions(String topic) {
        String metadata = fw1.execOk("kcat", "-L", "-b", servers(), "-t", topic, "-m", "10").stdout();
        Map<Integer, Partition> out = new TreeMap<>();
        Matcher m = PARTITION.matcher(metadata);
        while (m.find()) {
            out.put(Integer.parseInt(m.group(1)), new Partition(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                    ids(m.group(3)), ids(m.group(4))));
        }
        return out;
    }

    private static List<Integer> ids(String list) {
        return list.isEmpty() ? List.of() : java.util.Arrays.stream(list.split(",")).map(Integer::parseInt).toList();
    }

    private AgentProcess agent(Host host, String node, String role) {
        AgentProcess a = AgentProcess.start(host, """
                node.id=%s
                role=%s
                kafka.bootstrap.servers=%s
                kafka.topic.prefix=%s
                kafka.topic.partitions=3
                kafka.topic.replication.factor=3
                filter.sync.interface=sync0
                control.socket=%s
                """.formatted(node, role, servers(), PREFIX, dir.resolve(node + ".sock")));
        agents.add(a);
        return a;
    }

    private void startBroker(int id) {
        brokers.get(id - 1).exec(null, 240, ZaroCli.command("kafka", "start", "--data-dir", dataDir(id).toString(),
                "--host", address(id), "--node-id", Integer.toString(id), "--voters", voters(), "--timeout", "180")
                .toArray(String[]::new)).ok();
    }

    private Path dataDir(int id) {
        return dir.resolve("kafka" + id);
    }

    private static String address(int id) {
        return "10.96.0.1" + id;
    }

    private static String voters() {
        return String.join(",", IntStream.rangeClosed(1, 3).mapToObj(id -> id + "@" + address(id) + ":9093").toList());
    }

    private static String servers() {
        return String.join(",", IntStream.rangeClosed(1, 3).mapToObj(id -> address(id) + ":9092").toList());
    }
}

package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.zaro.kafka.auth.AuthKeys;
import io.zaro.tests.hostile.HostileRecords;
import io.zaro.tests.hostile.HostileRecords.Kind;
import io.zaro.tests.netns.AgentProcess;
import io.zaro.tests.netns.BrokerFixture;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import io.zaro.tests.netns.ZaroCli;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A standby with {@code auth.key.file}, {@code filter.accept.networks} and {@code filter.zones}
 * reads a state topic into which {@link HostileRecords} wrote, as node fw1, each kind of hostile
 * record for a flow of its own: unsigned, signed with another secret or an unknown key, tampered,
 * replayed, oversized, malformed, signed over another sequence number, and valid records for
 * flows outside its networks or zones; between valid records. Only the valid records inside its
 * networks and zones reach its kernel; each other one is counted by its reason; the agent goes on.
 */
@KernelTest
class HostileRecordsKernelTest {
    private static final String BROKER = "10.98.0.10";

    private Lab lab;
    private BrokerFixture broker;
    private Host fw2;
    private Host kafka;

    @TempDir
    Path dir;

    @BeforeEach
    void topology() {
        lab = new Lab();
        fw2 = lab.host("fw2");
        kafka = lab.host("kafka");
        lab.link(fw2, "sync0", kafka, "sync0");
        fw2.address("sync0", "10.98.0.2/24");
        kafka.address("sync0", BROKER + "/24");
        broker = new BrokerFixture(kafka, BROKER);
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
    void onlyValidRecordsInsideTheStandbysNetworksAndZonesAreInjected() throws Exception {
        Path keys = dir.resolve("keys");
        Files.write(keys, List.of(AuthKeys.generate("k1")));
        Files.setPosixFilePermissions(keys, PosixFilePermissions.fromString("rw-------"));
        try (AgentProcess agent = AgentProcess.start(fw2, """
                node.id=fw2
                role=standby
                kafka.bootstrap.servers=%s:9092
                kafka.topic.prefix=hostile
                kafka.topic.partitions=3
                filter.sync.interface=sync0
                filter.accept.networks=10.60.0.0/16
                filter.zones=0
                auth.key.file=%s
                control.socket=%s
                """.formatted(BROKER, keys, dir.resolve("fw2.sock")))) {
            agent.awaitLog("bootstrap:", Duration.ofSeconds(60));
            kafka.execOk(ProcessHandle.current().info().command().orElse("java"), "-cp", classPath(), HostileRecords.class.getName(), BROKER + ":9092", "hostile",
                    keys.toString());

            Map<String, Integer> expected = Map.of("rejectedUnsigned", 1, "rejectedForged", 4, "rejectedReplayed", 1,
                    "rejectedOversized", 1, "rejectedMalformed", 1, "rejectedFiltered", 2);
            long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            JsonNode counters = counters();
            while (!reached(counters, expected) || !injected().contains(Kind.VALID_AFTER.port())) {
                if (System.nanoTime() > end) {
                    break;
                }
                Thread.sleep(200);
                counters = counters();
            }
            for (Map.Entry<String, Integer> e : expected.entrySet()) {
                assertEquals(e.getValue().intValue(), counters.path(e.getKey()).asInt(), e.getKey() + " in " + counters);
            }
            assertEquals(Set.of(Kind.VALID.port(), Kind.VALID_AFTER.port()), injected(),
                    "fw2's kernel holds the valid flows inside its networks and zones, and no other");
            assertTrue(agent.isAlive(), "the agent goes on");
            assertTrue(agent.log().contains("rejected record at hostile.state-"), "rejections are logged");
        }
    }

    private JsonNode counters() throws Exception {
        String json = fw2.execOk(ZaroCli.command("status", "--json", "--socket", dir.resolve("fw2.sock").toString())
                .toArray(String[]::new)).stdout();
        return new ObjectMapper().readTree(json).path("counters");
    }

    private static boolean reached(JsonNode counters, Map<String, Integer> expected) {
        return expected.entrySet().stream().allMatch(e -> counters.path(e.getKey()).asInt() >= e.getValue());
    }

    /** The client ports of the TCP flows in fw2's kernel table (every zone). */
    private Set<Integer> injected() {
        return fw2.execOk("conntrack", "-L", "-p", "tcp").stdout().lines()
                .map(l -> java.util.regex.Pattern.compile("sport=(\\d+)").matcher(l))
                .filter(java.util.regex.Matcher::find)
                .map(m -> Integer.parseInt(m.group(1)))
                .filter(p -> p > 4000 && p < 4100)
                .collect(java.util.stream.Collectors.toSet());
    }

    /** The agent's jar (Kafka client, codec, keys) and the tests' classes (HostileRecords). */
    private static String classPath() throws URISyntaxException {
        return ZaroCli.JAR + ":" + Path.of(HostileRecords.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }
}

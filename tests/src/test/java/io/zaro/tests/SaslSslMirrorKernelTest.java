package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.Family;
import io.zaro.conntrack.filter.Cidr;
import io.zaro.kafka.broker.BrokerSecurity;
import io.zaro.kafka.broker.LabCertificates;
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
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mirroring through Kafka over TLS and SASL/SCRAM-SHA-512 (issue 9). The project's broker runs in
 * its namespace, started by {@code zaro kafka start --tls-keystore ... --scram-user fw1 ...
 * --scram-user fw2 ...} with a certificate for its sync address that {@code zaro kafka tls}'s code
 * made, and serves SASL_SSL alone; {@code zaro agent} in fw1 (active) and fw2 (standby) log in as
 * their own users and trust the lab CA's {@code ca.pem}, through {@code kafka.client.*} lines.
 * fw2's kernel ends with fw1's table; {@code zaro dump} reads the state topic with the same lines.
 */
@KernelTest
class SaslSslMirrorKernelTest {
    private static final String BROKER = "10.97.0.10";
    private static final Cidr SYNC_NETWORK = Cidr.parse("10.97.0.0/24");
    private static final SyntheticFlows FLOWS = new SyntheticFlows("10.20.2.2", "fd20:2::2", "10.20.2.1");

    @TempDir
    Path dir;

    private Lab lab;
    private Host fw1;
    private Host fw2;
    private BrokerFixture broker;
    private LabCertificates.Made tls;
    private final String fw1Password = UUID.randomUUID().toString();
    private final String fw2Password = UUID.randomUUID().toString();

    @BeforeEach
    void topology() throws IOException {
        lab = new Lab();
        fw1 = lab.host("fw1");
        fw2 = lab.host("fw2");
        Host kafka = lab.host("kafka");
        lab.bridge("sync", "sync0", fw1, fw2, kafka);
        fw1.address("sync0", "10.97.0.1/24");
        fw2.address("sync0", "10.97.0.2/24");
        kafka.address("sync0", BROKER + "/24");
        tls = LabCertificates.make(dir.resolve("tls"), List.of(BROKER), 30);
        broker = new BrokerFixture(kafka, BROKER, List.of(
                "--tls-keystore", tls.brokerKeystore().toString(), "--tls-password-file", tls.brokerPassword().toString(),
                "--scram-user", "fw1", "--scram-password-file", passwordFile("fw1", fw1Password),
                "--scram-user", "fw2", "--scram-password-file", passwordFile("fw2", fw2Password)));
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
    void anAgentPairMirrorsOverSaslSslWithScramSha512() throws IOException {
        try (ConntrackTable t1 = Conntrack.open(fw1.name()); ConntrackTable t2 = Conntrack.open(fw2.name())) {
            assertEquals(0, t1.createAll(FLOWS.range(0, 500)).failed());
            Path fw2Config = config("fw2", "standby", fw2Password);
            try (AgentProcess standby = AgentProcess.start(fw2, Files.readString(fw2Config));
                 AgentProcess active = AgentProcess.start(fw1, Files.readString(config("fw1", "active", fw1Password)))) {
                standby.awaitLog("bootstrap:", Duration.ofSeconds(90));
                active.awaitLog("publishing", Duration.ofSeconds(90));
                awaitEqual("fw2 holds the 500 flows fw1 had at start", () -> keys(t1), () -> keys(t2), Duration.ofSeconds(60));

                // Live events: 300 flows begin and 100 end on fw1.
                assertEquals(0, t1.createAll(FLOWS.range(500, 300)).failed());
                for (ConntrackEntry gone : FLOWS.range(0, 100)) {
                    assertTrue(t1.delete(gone.original(), gone.zone()));
                }
                awaitEqual("fw2 follows fw1's changes", () -> keys(t1), () -> keys(t2), Duration.ofSeconds(60));
                assertEquals(700, keys(t2).size());
                assertTrue(standby.isAlive() && active.isAlive(), "both agents run");
                for (AgentProcess a : List.of(active, standby)) {
                    assertFalse(a.log().contains("Authentication failed") || a.log().contains("SSL handshake failed"),
                            "no refused login or handshake: " + a.log());
                }

                Cmd.Result dump = fw2.exec(null, 120, ZaroCli.command("dump", "--config", fw2Config.toString())
                        .toArray(String[]::new));
                assertEquals(0, dump.exitCode(), dump.stderr());
                assertEquals("zaro: 700 flows in tls.state", lastLine(dump.stderr()), dump.stderr());
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    /** An agent's configuration: its own SCRAM user, the lab CA's certificate as its truststore. */
    private Path config(String node, String role, String password) throws IOException {
        Path file = dir.resolve(node + ".properties");
        Files.writeString(file, """
                node.id=%s
                role=%s
                kafka.bootstrap.servers=%s:9092
                kafka.topic.prefix=tls
                kafka.topic.partitions=3
                filter.sync.interface=sync0
                kafka.client.security.protocol=SASL_SSL
                kafka.client.sasl.mechanism=SCRAM-SHA-512
                kafka.client.sasl.jaas.config=%s
                kafka.client.ssl.truststore.type=PEM
                kafka.client.ssl.truststore.location=%s
                """.formatted(node, role, BROKER, BrokerSecurity.jaas(node, password), tls.caPem()));
        return file;
    }

    private String passwordFile(String user, String password) throws IOException {
        Path f = dir.resolve(user + ".password");
        Files.writeString(f, password + "\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        return f.toString();
    }

    /** The flows a table holds, by zone and original tuple, less the agents' own traffic over the sync link. */
    private static Set<String> keys(ConntrackTable t) {
        return t.dump(Family.ALL).stream().filter(e -> !SYNC_NETWORK.contains(e.original().source()))
                .map(e -> e.zone() + " " + e.original()).collect(Collectors.toCollection(TreeSet::new));
    }

    private static void awaitEqual(String what, Supplier<Set<String>> expected, Supplier<Set<String>> actual,
                                   Duration timeout) {
        long end = System.nanoTime() + timeout.toNanos();
        while (true) {
            Set<String> e = expected.get();
            Set<String> a = actual.get();
            if (e.equals(a)) {
                return;
            }
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting until " + what + ": "
                        + e.size() + " expected, " + a.size() + " present");
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                throw new AssertionError(ex);
            }
        }
    }

    private static String lastLine(String text) {
        String[] lines = text.strip().split("\n");
        return lines[lines.length - 1];
    }
}

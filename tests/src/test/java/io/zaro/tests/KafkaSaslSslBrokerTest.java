package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.kafka.broker.BrokerSecurity;
import io.zaro.kafka.broker.LabCertificates;
import io.zaro.tests.netns.Cmd;
import io.zaro.tests.netns.ZaroCli;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * {@code zaro kafka start} with TLS and SASL/SCRAM-SHA-512 (issue 9): the listener serves users
 * that log in with their password over TLS, and refuses a wrong password and a client without
 * TLS; {@code zaro agent} says so in one sentence; a restart changes passwords and removes users,
 * and refuses to fall back to PLAINTEXT. The TLS material is made by {@code zaro kafka tls}'s
 * code. No namespaces, never skipped.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KafkaSaslSslBrokerTest {
    private Path dir;
    private Path dataDir;
    private LabCertificates.Made tls;
    private int port;
    private int controllerPort;
    private final String fw1Password = "fw1-" + UUID.randomUUID();
    private final String fw2Password = "fw2-" + UUID.randomUUID();

    @BeforeAll
    void start() throws IOException {
        dir = Files.createTempDirectory("zaro-sasl-ssl");
        dataDir = dir.resolve("kafka");
        tls = LabCertificates.make(dir.resolve("tls"), List.of("127.0.0.1"), 30);
        port = freePort();
        controllerPort = freePort();
        Cmd.Result start = zaro(startCommand(List.of("fw1", passwordFile("fw1", fw1Password),
                "fw2", passwordFile("fw2", fw2Password))));
        assertEquals(0, start.exitCode(), start.stdout() + start.stderr());
        assertTrue(start.stdout().startsWith("zaro: kafka broker running at 127.0.0.1:" + port
                + " over SASL_SSL (SCRAM-SHA-512 users fw1, fw2; pid "), start.stdout());
    }

    @AfterAll
    void stop() throws IOException {
        zaro(List.of("kafka", "stop", "--data-dir", dataDir.toString()));
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    @Order(1)
    void usersProduceAndConsumeOverTlsAndTheBrokerKeepsNoPasswordInTheOpen() throws Exception {
        String topic = "tls-" + UUID.randomUUID();
        Properties pp = client("fw1", fw1Password);
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>(topic, "flow", "over SASL_SSL")).get(30, TimeUnit.SECONDS);
        }
        // A transaction's commit markers go through the broker's inter-broker client, which logs
        // in to its own listener as zaro-broker: a read_committed consumer sees the record only
        // once they are written.
        Properties tp = client("fw1", fw1Password);
        tp.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "zaro-test");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(tp, new StringSerializer(), new StringSerializer())) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, "flow", "committed"));
            producer.commitTransaction();
        }
        Properties cp = client("fw2", fw2Password);
        cp.put(ConsumerConfig.GROUP_ID_CONFIG, "zaro-test");
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        List<String> got = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (got.size() < 2 && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    got.add(r.value());
                }
            }
        }
        assertEquals(List.of("over SASL_SSL", "committed"), got, "fw2 reads what fw1 wrote, the transaction committed");

        String props = Files.readString(dataDir.resolve("server.properties"));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dataDir.resolve("server.properties"))));
        assertTrue(props.contains("listeners=SASL_SSL://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort), props);
        assertTrue(props.contains("listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT"), props);
        String log = Files.readString(dataDir.resolve("broker.log"));
        for (String secret : List.of(fw1Password, fw2Password)) {
            assertFalse(props.contains(secret) || log.contains(secret), "no user's password in server.properties or broker.log");
        }
        assertFalse(log.contains("saltedpassword"), "no salted password in broker.log");
        assertFalse(Files.exists(dataDir.resolve("format.args")), "the format tool's argument file is gone");
    }

    @Test
    @Order(2)
    void aWrongPasswordAndAClientWithoutTlsAreRefused() {
        ExecutionException wrong = assertThrows(ExecutionException.class, () -> describe(client("fw1", "not-" + fw1Password)));
        assertInstanceOf(SaslAuthenticationException.class, wrong.getCause(), wrong.toString());

        Properties plain = client("fw1", fw1Password);
        plain.put("security.protocol", "SASL_PLAINTEXT");
        plain.remove("ssl.truststore.type");
        plain.remove("ssl.truststore.location");
        ExecutionException noTls = assertThrows(ExecutionException.class, () -> describe(plain));
        assertInstanceOf(org.apache.kafka.common.errors.TimeoutException.class, noTls.getCause(),
                "a client without TLS gets no answer: " + noTls);
    }

    @Test
    @Order(3)
    void theAgentSaysInOneSentenceThatItsLoginOrHandshakeWasRefused() throws IOException {
        Cmd.Result wrong = agent("kafka.client.security.protocol=SASL_SSL", "kafka.client.sasl.mechanism=SCRAM-SHA-512",
                "kafka.client.sasl.jaas.config=" + BrokerSecurity.jaas("fw1", "not-" + fw1Password),
                "kafka.client.ssl.truststore.type=PEM", "kafka.client.ssl.truststore.location=" + tls.caPem());
        assertEquals(1, wrong.exitCode(), wrong.stderr());
        assertEquals("zaro: Kafka at 127.0.0.1:" + port + " refused the login of fw1 (SCRAM-SHA-512): check the user and "
                + "password in kafka.client.sasl.jaas.config", lastLine(wrong.stderr()));
        assertFalse(wrong.stderr().contains("\tat "), "no stack trace: " + wrong.stderr());

        // The JDK's public CAs do not include the lab's: the handshake fails.
        Cmd.Result untrusted = agent("kafka.client.security.protocol=SASL_SSL", "kafka.client.sasl.mechanism=SCRAM-SHA-512",
                "kafka.client.sasl.jaas.config=" + BrokerSecurity.jaas("fw1", fw1Password),
                "kafka.client.ssl.truststore.type=JKS", "kafka.client.ssl.truststore.password=changeit",
                "kafka.client.ssl.truststore.location=" + Path.of(System.getProperty("java.home"), "lib", "security", "cacerts"));
        assertEquals(1, untrusted.exitCode(), untrusted.stderr());
        assertEquals("zaro: the TLS handshake with Kafka at 127.0.0.1:" + port + " failed (unable to find valid certification "
                + "path to requested target): check that kafka.client.ssl.truststore.* holds the CA of the broker's "
                + "certificate, that the certificate names the address in kafka.bootstrap.servers, and that the listener "
                + "speaks TLS", lastLine(untrusted.stderr()));
        assertFalse(untrusted.stderr().contains("\tat "), "no stack trace: " + untrusted.stderr());

        Cmd.Result noTls = agent("kafka.client.security.protocol=SASL_PLAINTEXT", "kafka.client.sasl.mechanism=SCRAM-SHA-512",
                "kafka.client.sasl.jaas.config=" + BrokerSecurity.jaas("fw1", fw1Password),
                "kafka.client.default.api.timeout.ms=5000", "kafka.client.request.timeout.ms=4000");
        assertEquals(1, noTls.exitCode(), noTls.stderr());
        assertEquals("zaro: the Kafka cluster at 127.0.0.1:" + port + " did not answer: check kafka.bootstrap.servers, that "
                + "a broker is reachable from here, and that kafka.client.security.protocol (SASL_PLAINTEXT) is what its "
                + "listener speaks (a client without TLS gets no answer from a TLS listener)", lastLine(noTls.stderr()));
        assertFalse(noTls.stderr().contains("\tat "), "no stack trace: " + noTls.stderr());
    }

    @Test
    @Order(4)
    void aRestartChangesPasswordsRemovesUsersAndRefusesToFallBackToPlaintext() throws Exception {
        assertEquals(0, zaro(List.of("kafka", "stop", "--data-dir", dataDir.toString())).exitCode());
        Cmd.Result plain = zaro(List.of("kafka", "start", "--data-dir", dataDir.toString(), "--host", "127.0.0.1",
                "--port", Integer.toString(port), "--controller-port", Integer.toString(controllerPort)));
        assertEquals(1, plain.exitCode());
        assertEquals("zaro: the broker in " + dataDir + " last served SASL_SSL, and started without --tls-keystore and "
                + "--scram-user it would serve PLAINTEXT to anyone who reaches 127.0.0.1:" + port + ": give --tls-keystore "
                + "and --scram-user again (or delete " + dataDir.resolve("server.properties") + " to change it on purpose)",
                plain.stderr().strip());

        String newPassword = "fw1-new-" + UUID.randomUUID();
        Cmd.Result restart = zaro(startCommand(List.of("fw1", passwordFile("fw1-new", newPassword))));
        assertEquals(0, restart.exitCode(), restart.stdout() + restart.stderr());
        describe(client("fw1", newPassword));
        ExecutionException old = assertThrows(ExecutionException.class, () -> describe(client("fw1", fw1Password)));
        assertInstanceOf(SaslAuthenticationException.class, old.getCause(), "the old password is refused");
        ExecutionException removed = assertThrows(ExecutionException.class, () -> describe(client("fw2", fw2Password)));
        assertInstanceOf(SaslAuthenticationException.class, removed.getCause(), "fw2, no longer given, is removed");
    }

    // ------------------------------------------------------------------ helpers

    private List<String> startCommand(List<String> users) {
        List<String> c = new ArrayList<>(List.of("kafka", "start", "--data-dir", dataDir.toString(), "--host", "127.0.0.1",
                "--port", Integer.toString(port), "--controller-port", Integer.toString(controllerPort),
                "--tls-keystore", tls.brokerKeystore().toString(), "--tls-password-file", tls.brokerPassword().toString()));
        for (int i = 0; i < users.size(); i += 2) {
            c.addAll(List.of("--scram-user", users.get(i), "--scram-password-file", users.get(i + 1)));
        }
        return c;
    }

    private String passwordFile(String name, String password) throws IOException {
        Path f = dir.resolve(name + ".password");
        Files.writeString(f, password + "\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        return f.toString();
    }

    private Properties client(String user, String password) {
        Properties p = new Properties();
        p.put("bootstrap.servers", "127.0.0.1:" + port);
        p.put("security.protocol", "SASL_SSL");
        p.put("sasl.mechanism", "SCRAM-SHA-512");
        p.put("sasl.jaas.config", BrokerSecurity.jaas(user, password));
        p.put("ssl.truststore.type", "PEM");
        p.put("ssl.truststore.location", tls.caPem().toString());
        return p;
    }

    private static void describe(Properties client) throws Exception {
        client.put("default.api.timeout.ms", "5000");
        client.put("request.timeout.ms", "4000");
        try (Admin admin = Admin.create(client)) {
            admin.describeCluster().nodes().get(10, TimeUnit.SECONDS);
        }
    }

    /** {@code zaro agent} as a standby with these Kafka client lines; it fails before it needs any privilege. */
    private Cmd.Result agent(String... kafkaClient) throws IOException {
        Path config = Files.createTempFile(dir, "agent", ".properties");
        List<String> lines = new ArrayList<>(List.of("node.id=fw2", "role=standby",
                "kafka.bootstrap.servers=127.0.0.1:" + port, "metrics.listen=off",
                "control.socket=" + dir.resolve("control-" + UUID.randomUUID() + ".sock")));
        lines.addAll(Arrays.asList(kafkaClient));
        Files.write(config, lines);
        return zaro(List.of("agent", "--config", config.toString()));
    }

    private static String lastLine(String text) {
        String[] lines = text.strip().split("\n");
        return lines[lines.length - 1];
    }

    private static Cmd.Result zaro(List<String> args) {
        return Cmd.run(ZaroCli.command(args.toArray(String[]::new)), null, 180);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}

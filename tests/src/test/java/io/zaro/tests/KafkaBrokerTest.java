package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.tests.netns.Cmd;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code zaro kafka start|stop}: the project's own KRaft broker, used through the official client. Never skipped. */
class KafkaBrokerTest {
    private static final Path JAR = Path.of("../agent/target/zaro.jar").toAbsolutePath().normalize();

    @TempDir
    Path dataDir;
    private int port;
    private int controllerPort;

    @BeforeEach
    void ports() throws IOException {
        port = freePort();
        controllerPort = freePort();
    }

    @AfterEach
    void stop() {
        zaro("kafka", "stop", "--data-dir", dataDir.toString());
    }

    private static Cmd.Result zaro(String... args) {
        List<String> cmd = new java.util.ArrayList<>(List.of("java", "-jar", JAR.toString()));
        cmd.addAll(List.of(args));
        return Cmd.run(cmd, null, 180);
    }

    @Test
    void startsServesAndStops() throws Exception {
        Cmd.Result start = zaro("kafka", "start", "--data-dir", dataDir.toString(),
                "--port", Integer.toString(port), "--controller-port", Integer.toString(controllerPort));
        assertEquals(0, start.exitCode(), start.stderr());
        assertTrue(start.stdout().startsWith("zaro: kafka broker running at 127.0.0.1:" + port), start.stdout());
        long pid = Long.parseLong(Files.readString(dataDir.resolve("broker.pid")).trim());
        assertTrue(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));

        Cmd.Result again = zaro("kafka", "start", "--data-dir", dataDir.toString(),
                "--port", Integer.toString(port), "--controller-port", Integer.toString(controllerPort));
        assertEquals(1, again.exitCode());
        assertEquals("zaro: a broker already runs from " + dataDir.toAbsolutePath().normalize() + " (pid " + pid
                + "); stop it with `zaro kafka stop --data-dir " + dataDir.toAbsolutePath().normalize() + "`",
                again.stderr().strip());

        String topic = "zaro-test-" + UUID.randomUUID();
        String bootstrap = "127.0.0.1:" + port;
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>(topic, "flow", "hello")).get();
        }
        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        cp.put(ConsumerConfig.GROUP_ID_CONFIG, "zaro-test");
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(topic));
            ConsumerRecord<String, String> got = null;
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (got == null && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    got = r;
                }
            }
            assertTrue(got != null, "the record comes back");
            assertEquals("flow", got.key());
            assertEquals("hello", got.value());
        }

        Cmd.Result stop = zaro("kafka", "stop", "--data-dir", dataDir.toString());
        assertEquals("zaro: kafka broker stopped", stop.stdout().strip());
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "the broker process is gone");
        assertFalse(Files.exists(dataDir.resolve("broker.pid")));
        assertEquals("zaro: no kafka broker was running from " + dataDir.toAbsolutePath().normalize(),
                zaro("kafka", "stop", "--data-dir", dataDir.toString()).stdout().strip());
    }

    @Test
    void aTakenPortGetsOneSentence() throws Exception {
        try (ServerSocket taken = new ServerSocket(port, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            Cmd.Result r = zaro("kafka", "start", "--data-dir", dataDir.toString(),
                    "--port", Integer.toString(port), "--controller-port", Integer.toString(controllerPort));
            assertEquals(1, r.exitCode());
            assertEquals("zaro: port " + port + " on 127.0.0.1 is in use: choose another with --port", r.stderr().strip());
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}

package io.zaro.tests;

import static io.zaro.tests.Ips.ip;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent.Type;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import io.zaro.kafka.RecordPublisher;
import io.zaro.kafka.StateTopicReader;
import io.zaro.kafka.Topics;
import io.zaro.kafka.record.FlowRecord;
import io.zaro.kafka.record.FlowRecordCodec;
import io.zaro.tests.netns.BrokerFixture;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Topics and publisher against the project's own broker. Never skipped. */
class PublisherBrokerTest {
    private static BrokerFixture broker;

    @BeforeAll
    static void start() {
        broker = new BrokerFixture();
    }

    @AfterAll
    static void stop() {
        if (broker != null) {
            broker.close();
        }
    }

    @Test
    void eachChangeGoesToTheEventsTopicAndTheStateTopicKeepsTheCurrentValueOrATombstone() throws Exception {
        Topics topics = Topics.withPrefix("zaro-" + UUID.randomUUID());
        try (Admin admin = Admin.create(broker.client())) {
            topics.ensure(admin, 3, (short) 1, Duration.ofSeconds(30));
            topics.ensure(admin, 3, (short) 1, Duration.ofSeconds(30)); // a second run finds them and is fine
        }
        Instant now = Instant.now().truncatedTo(ChronoUnit.MICROS);
        ConntrackEntry a = ConntrackEntry.builder(Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.TCP, 1000, 80))
                .tcp(TcpInfo.of(TcpState.SYN_SENT)).timeout(120).build();
        ConntrackEntry b = ConntrackEntry.builder(Tuple.ofPorts(ip("fd00::1"), ip("fd00::2"), IpProtocol.UDP, 53, 53))
                .timeout(30).build();
        List<FlowRecord> sent = List.of(
                new FlowRecord(Type.NEW, "fw1", 1, now, a),
                new FlowRecord(Type.NEW, "fw1", 2, now, b),
                new FlowRecord(Type.UPDATE, "fw1", 3, now, a.toBuilder().tcp(TcpInfo.of(TcpState.ESTABLISHED)).timeout(432000).build()),
                new FlowRecord(Type.DESTROY, "fw1", 4, now, a.toBuilder().timeout((Long) null).build()));
        try (RecordPublisher publisher = new RecordPublisher(broker.client(), topics)) {
            List<java.util.concurrent.CompletableFuture<Void>> acks = new ArrayList<>();
            sent.forEach(r -> acks.add(publisher.publish(r)));
            for (var ack : acks) {
                ack.get(30, java.util.concurrent.TimeUnit.SECONDS);
            }
        }

        List<ConsumerRecord<byte[], byte[]>> events = readAll(topics.events());
        assertEquals(4, events.size());
        List<FlowRecord> ofA = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : events) {
            FlowRecord decoded = FlowRecordCodec.decode(r.value());
            assertArrayEquals(FlowRecordCodec.encodeKey(decoded.entry()), r.key(), "keyed by zone and original tuple");
            if (decoded.entry().original().equals(a.original())) {
                ofA.add(decoded);
            }
        }
        assertEquals(List.of(sent.get(0), sent.get(2), sent.get(3)), ofA, "one flow's changes stay in order");
        assertEquals(1, events.stream()
                .filter(r -> java.util.Arrays.equals(r.key(), FlowRecordCodec.encodeKey(a)))
                .map(ConsumerRecord::partition).distinct().count(), "one flow, one partition");

        // The state topic's last record per key: b's value, a's tombstone.
        Map<String, ConsumerRecord<byte[], byte[]>> last = new java.util.HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : readAll(topics.state())) {
            last.put(java.util.HexFormat.of().formatHex(r.key()), r);
        }
        assertEquals(2, last.size());
        assertNull(last.get(java.util.HexFormat.of().formatHex(FlowRecordCodec.encodeKey(a))).value(), "DESTROY is a tombstone");
        assertEquals(sent.get(1), FlowRecordCodec.decode(last.get(java.util.HexFormat.of().formatHex(FlowRecordCodec.encodeKey(b))).value()));
    }

    @Test
    void anExistingStateTopicThatIsNotCompactedIsRefusedWithTheFix() throws Exception {
        Topics topics = Topics.withPrefix("zaro-" + UUID.randomUUID());
        try (Admin admin = Admin.create(broker.client())) {
            admin.createTopics(List.of(new NewTopic(topics.state(), 1, (short) 1))).all().get();
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> topics.ensure(admin, 1, (short) 1, Duration.ofSeconds(30)));
            assertTrue(e.getMessage().startsWith("topic " + topics.state() + " has cleanup.policy=delete but must be compacted"),
                    e.getMessage());
        }
    }

    /**
     * A takeover's catch-up asks for the lag right after waking the injector's poll. The broker
     * holds a fetch that finds nothing for up to {@code fetch.max.wait.ms} and answers a
     * connection's requests in order: asked on the reading consumer's connection, the lag waited
     * behind that fetch (here 10 s, 500 ms by default). The reader asks on a connection of its own.
     */
    @Test
    void theStateTopicsLagIsAnsweredWhileTheReadersFetchWaitsAtTheBroker() throws Exception {
        Topics topics = Topics.withPrefix("zaro-" + UUID.randomUUID());
        try (Admin admin = Admin.create(broker.client())) {
            topics.ensure(admin, 1, (short) 1, Duration.ofSeconds(30));
        }
        Properties client = broker.client();
        client.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "10000");
        try (StateTopicReader reader = new StateTopicReader(client, topics, Duration.ofSeconds(30));
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(broker.client(), new ByteArraySerializer(),
                     new ByteArraySerializer())) {
            assertEquals(0, reader.readToEnd(Duration.ofMillis(100), Duration.ofSeconds(30), batch -> { }));
            assertTrue(reader.poll(Duration.ofMillis(300)).isEmpty(), "an empty topic"); // its fetch stays at the broker
            long started = System.nanoTime();
            assertEquals(0, reader.lag());
            long millis = (System.nanoTime() - started) / 1_000_000;
            assertTrue(millis < 5_000, "the lag took " + millis + " ms: it waited behind the reader's fetch");
            // Waking the poll (a takeover) leaves the lag alone.
            reader.wakeupPoll();
            assertThrows(WakeupException.class, () -> reader.poll(Duration.ofSeconds(5)));
            producer.send(new ProducerRecord<>(topics.state(), "k".getBytes(), "v".getBytes())).get();
            assertEquals(1, reader.lag());
            // Waking the reader (closing) stops whichever call comes next.
            reader.wakeup();
            assertThrows(WakeupException.class, reader::lag);
        }
    }

    private List<ConsumerRecord<byte[], byte[]>> readAll(String topic) {
        Properties p = broker.client();
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = c.partitionsFor(topic).stream()
                    .map(i -> new TopicPartition(topic, i.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts);
            List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
            out.sort(java.util.Comparator.comparingLong(ConsumerRecord::offset));
            return out;
        }
    }
}

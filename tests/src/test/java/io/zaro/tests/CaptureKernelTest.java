package io.zaro.tests;

import static io.zaro.tests.Ips.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.agent.mirror.Capture;
import io.zaro.agent.mirror.MirrorCounters;
import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.Tuple;
import io.zaro.conntrack.filter.FlowFilter;
import io.zaro.kafka.RecordPublisher;
import io.zaro.kafka.StateTopicReader;
import io.zaro.kafka.Topics;
import io.zaro.kafka.record.FlowRecord;
import io.zaro.kafka.record.FlowRecordCodec;
import io.zaro.tests.netns.BrokerFixture;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The active's capture, as production runs it, on a namespace's table and the project's broker
 * on loopback: what it publishes, and what it must not. A node that injects (a standby taking
 * over, issue 5) captures on the same table: the changes its injector's socket made come back
 * as events carrying that socket's port id, and are never published (no echo).
 */
@KernelTest
class CaptureKernelTest {
    private static BrokerFixture broker;

    @BeforeAll
    static void startBroker() {
        broker = new BrokerFixture();
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    @Test
    void changesMadeThroughTheInjectorsSocketAreNeverPublished() throws Exception {
        Topics topics = Topics.withPrefix("zaro-" + UUID.randomUUID());
        try (Admin admin = Admin.create(broker.client())) {
            topics.ensure(admin, 3, (short) 1, Duration.ofSeconds(30));
        }
        MirrorCounters counters = new MirrorCounters();
        try (Lab lab = new Lab()) {
            Host fw = lab.host("fw");
            try (ConntrackTable capturing = Conntrack.open(fw.name());
                 ConntrackTable injector = Conntrack.open(fw.name());
                 RecordPublisher publisher = new RecordPublisher(broker.client(), topics)) {
                Capture capture = new Capture(capturing, publisher, new Capture.Settings("fw2", FlowFilter.all(),
                        64 * 1024 * 1024, 1024, Duration.ofSeconds(30), Duration.ofSeconds(90), Set.of(injector.portId())),
                        counters, Clock.systemUTC());
                try (StateTopicReader state = new StateTopicReader(broker.client(), topics, Duration.ofSeconds(30))) {
                    capture.start(state, Duration.ofSeconds(30));
                }
                // The start-up resync publishes the whole table, whoever made its flows (the node is
                // active from here on): the injections below must come after its dump.
                long resyncEnd = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (counters.resyncs.get() < 1 && System.nanoTime() < resyncEnd) {
                    Thread.sleep(20);
                }
                assertEquals(1, counters.resyncs.get(), "the start-up resync ran: " + counters);
                // Injected, as a standby injects mirrored flows: ten creates and an update.
                List<ConntrackEntry> injected = new ArrayList<>();
                for (int i = 0; i < 10; i++) {
                    injected.add(ConntrackEntry.builder(Tuple.ofPorts(ip("10.30.0.1"), ip("10.30.0.2"), IpProtocol.UDP,
                            2000 + i, 53)).timeout(300).build());
                }
                assertEquals(10, injector.createAll(injected).succeeded());
                // Made by someone else (conntrack-tools): published.
                for (int i = 0; i < 3; i++) {
                    fw.execOk("conntrack", "-I", "-p", "udp", "-s", "10.30.1.1", "-d", "10.30.1.2",
                            "--sport", Integer.toString(3000 + i), "--dport", "53", "-t", "300");
                }
                injector.update(injected.get(0).toBuilder().mark(9).build());
                long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while ((counters.published.get() < 3 || counters.ownInjections.get() < 11) && System.nanoTime() < end) {
                    Thread.sleep(100);
                }
                capture.close();
                publisher.flush();
                assertEquals(11, counters.ownInjections.get(), "ten creates and an update came back as events: " + counters);
            }
        }
        List<FlowRecord> published = new ArrayList<>();
        for (byte[] value : readAll(topics.events())) {
            published.add(FlowRecordCodec.decode(value));
        }
        assertEquals(3, published.size(), "only conntrack-tools' flows: " + published);
        assertTrue(published.stream().allMatch(r -> r.entry().original().source().equals(ip("10.30.1.1"))), published.toString());
        assertTrue(published.stream().allMatch(r -> r.nodeId().equals("fw2")));
    }

    private static List<byte[]> readAll(String topic) {
        Properties p = broker.client();
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        List<byte[]> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = c.partitionsFor(topic).stream()
                    .map(i -> new TopicPartition(topic, i.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            var end = c.endOffsets(parts);
            while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                    out.add(r.value());
                }
            }
        }
        return out;
    }
}

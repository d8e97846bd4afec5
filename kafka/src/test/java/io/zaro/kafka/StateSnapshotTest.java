package io.zaro.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent.Type;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.Tuple;
import io.zaro.kafka.record.FlowRecord;
import io.zaro.kafka.record.FlowRecordCodec;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/** The state topic as a standby reads it: each key's latest record, tombstones applied. */
class StateSnapshotTest {
    private static final Instant T = Instant.parse("2026-12-06T02:00:00Z");
    private final List<ConsumerRecord<byte[], byte[]>> topic = new ArrayList<>();

    private static ConntrackEntry flow(int port) {
        try {
            return ConntrackEntry.builder(Tuple.ofPorts(InetAddress.getByName("10.0.0.1"), InetAddress.getByName("10.0.0.2"),
                    IpProtocol.UDP, port, 53)).timeout(30).build();
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    private void add(byte[] key, byte[] value) {
        topic.add(new ConsumerRecord<>("zaro.state", 0, topic.size(), key, value));
    }

    private void publish(Type type, String node, ConntrackEntry e) {
        add(FlowRecordCodec.encodeKey(e), FlowRecordCodec.encode(new FlowRecord(type, node, topic.size(), T, e)));
    }

    private void tombstone(ConntrackEntry e) {
        add(FlowRecordCodec.encodeKey(e), null);
    }

    @Test
    void eachFlowIsItsLatestRecordAndATombstoneEndsIt() {
        publish(Type.NEW, "fw1", flow(1));
        publish(Type.NEW, "fw1", flow(2));
        publish(Type.UPDATE, "fw1", flow(1).toBuilder().mark(7).build());
        tombstone(flow(2));
        publish(Type.NEW, "fw1", flow(3));
        tombstone(flow(3));
        publish(Type.NEW, "fw2", flow(3)); // the tuple used again, published by the other node
        tombstone(flow(4)); // a tombstone of a flow never seen
        StateSnapshot s = StateSnapshot.of(topic);
        assertEquals(List.of("1 mark 7 fw1", "3 mark 0 fw2"), s.flows().stream()
                .map(r -> r.entry().original().sourcePort() + " mark " + r.entry().mark() + " " + r.nodeId()).toList());
        assertEquals(List.of(), s.malformed());
        assertEquals(8, s.records());
    }

    @Test
    void aLatestRecordThatIsNotAValidRecordOfItsKeyIsMalformedNeverAFlow() {
        publish(Type.NEW, "fw1", flow(1));
        add(FlowRecordCodec.encodeKey(flow(1)), "garbage".getBytes()); // offset 1
        publish(Type.NEW, "fw1", flow(2));
        add(FlowRecordCodec.encodeKey(flow(2)), topic.get(0).value()); // flow 1's record under flow 2's key: offset 3
        add(null, topic.get(0).value()); // offset 4
        publish(Type.NEW, "fw1", flow(5));
        add(FlowRecordCodec.encodeKey(flow(5)), FlowRecordCodec.encode(new FlowRecord(Type.DESTROY, "fw1", 9, T, flow(5))));
        add("junk".getBytes(), "junk".getBytes()); // offset 7
        add("junk".getBytes(), null);
        StateSnapshot s = StateSnapshot.of(topic);
        assertEquals(List.of(), s.flows(), "a DESTROY with a value ends its flow as a tombstone does");
        assertEquals(List.of("4 a record without a key", "1 not a zaro record", "3 its key is not its flow's"),
                s.malformed().stream().map(m -> m.offset() + " " + m.reason().replaceAll(":.*", "")).toList());
        assertEquals("zaro.state", s.malformed().get(0).topic());
    }
}

package io.zaro.kafka;

import io.zaro.conntrack.ConntrackEvent;
import io.zaro.kafka.record.FlowRecord;
import io.zaro.kafka.record.FlowRecordCodec;
import io.zaro.kafka.record.MalformedRecordException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * The state topic read to its end, as a standby's bootstrap reads it: each flow's latest record,
 * with flows whose latest record is a tombstone (or a DESTROY) left out. A latest record that does not decode,
 * or whose key is not its flow's, is kept as {@link Malformed}, never as a flow (the standby's
 * injector rejects it too). The latest records are held as read and decoded once the end is
 * reached, so a key written many times costs one record.
 */
public final class StateSnapshot {
    /** A record that is not a valid zaro record, where it sits in the topic and why. */
    public record Malformed(String topic, int partition, long offset, Instant time, String reason) {
    }

    private final List<FlowRecord> flows;
    private final List<Malformed> malformed;
    private final long records;

    private StateSnapshot(List<FlowRecord> flows, List<Malformed> malformed, long records) {
        this.flows = List.copyOf(flows);
        this.malformed = List.copyOf(malformed);
        this.records = records;
    }

    /**
     * Reads every partition of the state topic from its beginning to its end as it was when the
     * read began. Without a consumer group: nothing is committed, no standby is disturbed.
     *
     * @param client connection settings, passed through (TLS and SASL included)
     * @param timeout how long to wait for the topic's metadata and, again, for its end
     */
    public static StateSnapshot read(Properties client, Topics topics, Duration timeout) {
        Builder b = new Builder();
        try (StateTopicReader reader = new StateTopicReader(client, topics, timeout)) {
            reader.readToEnd(Duration.ofMillis(500), timeout, batch -> batch.forEach(b::add));
        }
        return b.build();
    }

    /** A snapshot of records given in topic order (each partition's in offset order). */
    public static StateSnapshot of(Iterable<ConsumerRecord<byte[], byte[]>> records) {
        Builder b = new Builder();
        records.forEach(b::add);
        return b.build();
    }

    /** The flows: each key's latest record, in the order the keys were first read. */
    public List<FlowRecord> flows() {
        return flows;
    }

    /** Keys whose latest record is not a valid zaro record, and records without a key. */
    public List<Malformed> malformed() {
        return malformed;
    }

    /** How many records were read, tombstones and overwritten ones included. */
    public long records() {
        return records;
    }

    private static final class Builder {
        private final Map<ByteBuffer, ConsumerRecord<byte[], byte[]>> latest = new LinkedHashMap<>();
        private final List<Malformed> keyless = new ArrayList<>();
        private long records;

        void add(ConsumerRecord<byte[], byte[]> r) {
            records++;
            if (r.key() == null) {
                keyless.add(malformed(r, "a record without a key"));
            } else if (r.value() == null) {
                latest.remove(ByteBuffer.wrap(r.key()));
            } else {
                latest.put(ByteBuffer.wrap(r.key()), r);
            }
        }

        StateSnapshot build() {
            List<FlowRecord> flows = new ArrayList<>(latest.size());
            List<Malformed> bad = new ArrayList<>(keyless);
            for (ConsumerRecord<byte[], byte[]> r : latest.values()) {
                try {
                    FlowRecord record = FlowRecordCodec.decode(r.value());
                    if (!Arrays.equals(r.key(), FlowRecordCodec.encodeKey(record.entry()))) {
                        bad.add(malformed(r, "its key is not its flow's"));
                    } else if (record.type() != ConntrackEvent.Type.DESTROY) {
                        // A DESTROY with a value instead of a tombstone ends the flow all the same, as the injector reads it.
                        flows.add(record);
                    }
                } catch (MalformedRecordException e) {
                    bad.add(malformed(r, e.getMessage()));
                }
            }
            return new StateSnapshot(flows, bad, records);
        }

        private static Malformed malformed(ConsumerRecord<byte[], byte[]> r, String reason) {
            return new Malformed(r.topic(), r.partition(), r.offset(), Instant.ofEpochMilli(r.timestamp()), reason);
        }
    }
}

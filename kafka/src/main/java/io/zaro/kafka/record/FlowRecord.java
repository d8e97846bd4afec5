package io.zaro.kafka.record;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent;
import java.time.Instant;
import java.util.Objects;

/**
 * One change of one flow as it travels through Kafka: what happened, to which entry, which node
 * published it, and its place in that node's sequence. Wire form: {@code zaro.v1.FlowRecord}
 * (kafka/src/main/protobuf/zaro/v1/record.proto), through {@link FlowRecordCodec}.
 *
 * @param type NEW, UPDATE or DESTROY
 * @param nodeId the publishing node, 1..64 characters
 * @param sequence the node's record counter, increasing by one per record
 * @param timestamp when the publisher saw the change, to the microsecond
 * @param entry the flow
 */
public record FlowRecord(ConntrackEvent.Type type, String nodeId, long sequence, Instant timestamp, ConntrackEntry entry) {
    public static final int MAX_NODE_ID_LENGTH = 64;

    public FlowRecord {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(nodeId, "nodeId");
        Objects.requireNonNull(timestamp, "timestamp");
        Objects.requireNonNull(entry, "entry");
        if (nodeId.isEmpty() || nodeId.length() > MAX_NODE_ID_LENGTH) {
            throw new IllegalArgumentException("node id must be 1.." + MAX_NODE_ID_LENGTH + " characters, got '" + nodeId + "'");
        }
        if (sequence < 0) {
            throw new IllegalArgumentException("sequence must not be negative, got " + sequence);
        }
    }
}

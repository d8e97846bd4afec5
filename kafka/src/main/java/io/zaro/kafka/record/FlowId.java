package io.zaro.kafka.record;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.Tuple;
import java.util.Objects;

/**
 * What identifies a flow in the kernel's table and in Kafka: its zone and original tuple. The
 * Kafka key of every record ({@code zaro.v1.FlowKey}).
 */
public record FlowId(int zone, Tuple original) {
    public FlowId {
        Objects.requireNonNull(original, "original");
        if (zone < 0 || zone > 0xffff) {
            throw new IllegalArgumentException("zone must be 0..65535, got " + zone);
        }
    }

    public static FlowId of(ConntrackEntry e) {
        return new FlowId(e.zone(), e.original());
    }

    /** A bare entry for this flow (reply: the original's inverse), as a DESTROY record carries it when nothing else is known. */
    public ConntrackEntry bareEntry() {
        return ConntrackEntry.builder(original).zone(zone).build();
    }
}

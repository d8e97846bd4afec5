package io.zaro.agent.mirror;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.Status;
import io.zaro.kafka.record.FlowId;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How a standby's conntrack table differs from the active's, flow by flow: what
 * {@code zaro verify} reports.
 *
 * <p>A flow is its zone and original tuple ({@link FlowId}: the Kafka key, by which the injector
 * creates, updates and deletes). A flow of the active's that the standby lacks is
 * {@link Kind#MISSING}; one the standby holds and the active does not is {@link Kind#EXTRA} (a
 * ghost); one both hold is {@link Kind#DIFFERENT} when a field mirroring carries differs: the
 * reply tuple (NAT), the TCP or SCTP state, whether the flow has seen a reply, whether it is
 * assured, the mark, the labels or the helper (the fields {@code MirrorKernelTest} holds the
 * standby to). Left out, because they differ legitimately: the timeout (the standby holds the
 * active's plus a grace, and counts down on its own), the kernel's id and use count, TCP window
 * tracking (traffic changes its flags on the active without an event) and SCTP verification
 * tags. A state one side does not report (a record of a change that carried none) is not compared.
 */
public final class TableDiff {
    private TableDiff() {
    }

    public enum Kind { MISSING, EXTRA, DIFFERENT }

    /** One field that differs, as each side holds it (a tuple, a state, a number, a list, or null for none). */
    public record Field(String name, Object active, Object standby) {
    }

    /**
     * One flow that differs.
     *
     * @param active the active's entry; null when {@link Kind#EXTRA}
     * @param standby the standby's entry; null when {@link Kind#MISSING}
     * @param fields what differs, when {@link Kind#DIFFERENT}; else empty
     */
    public record Difference(Kind kind, FlowId flow, ConntrackEntry active, ConntrackEntry standby, List<Field> fields) {
        public Difference {
            fields = List.copyOf(fields);
        }
    }

    /** Every difference between the two tables, the active's flows first (in its order), then the ghosts. */
    public static List<Difference> compare(Map<FlowId, ConntrackEntry> active, Map<FlowId, ConntrackEntry> standby) {
        List<Difference> out = new ArrayList<>();
        active.forEach((id, a) -> {
            ConntrackEntry s = standby.get(id);
            if (s == null) {
                out.add(new Difference(Kind.MISSING, id, a, null, List.of()));
            } else {
                List<Field> fields = fields(a, s);
                if (!fields.isEmpty()) {
                    out.add(new Difference(Kind.DIFFERENT, id, a, s, fields));
                }
            }
        });
        standby.forEach((id, s) -> {
            if (!active.containsKey(id)) {
                out.add(new Difference(Kind.EXTRA, id, null, s, List.of()));
            }
        });
        return out;
    }

    /** The fields mirroring carries in which the standby's copy {@code s} differs from the active's {@code a}. */
    static List<Field> fields(ConntrackEntry a, ConntrackEntry s) {
        List<Field> out = new ArrayList<>();
        add(out, "reply", a.reply(), s.reply());
        if (a.tcp() != null && s.tcp() != null) {
            add(out, "tcp state", a.tcp().state(), s.tcp().state());
        }
        if (a.sctp() != null && s.sctp() != null) {
            add(out, "sctp state", a.sctp().state(), s.sctp().state());
        }
        add(out, "seen reply", Status.SEEN_REPLY.isSet(a.status()), Status.SEEN_REPLY.isSet(s.status()));
        add(out, "assured", Status.ASSURED.isSet(a.status()), Status.ASSURED.isSet(s.status()));
        add(out, "mark", a.mark(), s.mark());
        add(out, "labels", a.labels(), s.labels());
        add(out, "helper", a.helper(), s.helper());
        return out;
    }

    private static void add(List<Field> out, String name, Object active, Object standby) {
        if (!Objects.equals(active, standby)) {
            out.add(new Field(name, active, standby));
        }
    }
}

package io.zaro.agent.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.zaro.conntrack.Addresses;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.Status;
import io.zaro.conntrack.Tuple;
import io.zaro.kafka.record.FlowRecord;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.Collectors;

/**
 * A flow, or one record of a flow, on one line: what {@code zaro tail}, {@code dump} and
 * {@code verify} print. As text:
 *
 * <pre>
 * 2026-12-06T02:13:28.123Z fw1 NEW     tcp 10.20.1.2:40000&gt;10.20.2.2:5000 -&gt; 10.20.2.2:5000&gt;10.20.2.1:40000 ESTABLISHED [ASSURED] mark=42 timeout=432000
 * </pre>
 *
 * <p>that is the record's time (UTC), node and event, then the flow: protocol, original tuple
 * {@code ->} reply tuple (so NAT shows), the TCP or SCTP state, {@code [UNREPLIED]} and
 * {@code [ASSURED]} as conntrack prints them, and mark, zone, labels, helper and timeout where
 * set. ICMP tuples carry {@code type= code= id=} instead of ports. As JSON, one object per line:
 * {@code time}, {@code node}, {@code event}, {@code sequence}, {@code partition} and {@code offset}
 * (of a record read from the events topic), and {@code flow}, an entry as {@code zaro conntrack list --json} prints it.
 */
final class FlowLine {
    static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
            .withZone(ZoneOffset.UTC);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Flows in a stable order for listings: zone, family, protocol, then the original tuple's addresses and ports. */
    static final Comparator<ConntrackEntry> ORDER = Comparator.<ConntrackEntry>comparingInt(ConntrackEntry::zone)
            .thenComparingInt(e -> e.family().ordinal())
            .thenComparingInt(e -> e.protocol().number())
            .thenComparing((a, b) -> compare(a.original().source(), b.original().source()))
            .thenComparingInt(e -> e.original().sourcePort())
            .thenComparing((a, b) -> compare(a.original().destination(), b.original().destination()))
            .thenComparingInt(e -> e.original().destinationPort())
            .thenComparingInt(e -> e.original().icmpType())
            .thenComparingInt(e -> e.original().icmpId());

    private final boolean json;

    FlowLine(boolean json) {
        this.json = json;
    }

    /** A record, without where it was read. */
    String record(FlowRecord r) {
        return record(r, -1, -1);
    }

    /** A record read from a topic, at {@code partition}@{@code offset} (in the JSON form only; -1 for unknown). */
    String record(FlowRecord r, int partition, long offset) {
        if (json) {
            ObjectNode n = JSON.createObjectNode();
            n.put("time", TIME.format(r.timestamp()));
            n.put("node", r.nodeId());
            n.put("event", r.type().name());
            n.put("sequence", r.sequence());
            if (partition >= 0) {
                n.put("partition", partition);
                n.put("offset", offset);
            }
            n.set("flow", EntryFormat.toJson(r.entry()));
            return n.toString();
        }
        return TIME.format(r.timestamp()) + " " + r.nodeId() + " " + String.format("%-7s", r.type().name()) + " "
                + flow(r.entry());
    }

    /** A record that is not a valid zaro record: where it is, when Kafka took it, and why it is refused. */
    String malformed(String topic, int partition, long offset, Instant time, String reason) {
        reason = reason == null ? "unknown" : reason.strip().replaceAll("\\s+", " ");
        if (json) {
            ObjectNode n = JSON.createObjectNode();
            n.put("time", TIME.format(time));
            n.put("malformed", reason);
            n.put("topic", topic);
            n.put("partition", partition);
            n.put("offset", offset);
            return n.toString();
        }
        return TIME.format(time) + " malformed record at " + topic + "-" + partition + "@" + offset + ": " + reason;
    }

    /** A flow without a record around it (a kernel entry): the text line's flow part, or the entry's JSON. */
    String entry(ConntrackEntry e) {
        return json ? EntryFormat.toJson(e).toString() : flow(e);
    }

    /** The flow part of a line: protocol, original -> reply, state and what is set. */
    static String flow(ConntrackEntry e) {
        StringBuilder b = new StringBuilder().append(e.protocol()).append(' ')
                .append(tuple(e.original())).append(" -> ").append(tuple(e.reply()));
        if (e.tcp() != null) {
            b.append(' ').append(e.tcp().state());
        }
        if (e.sctp() != null) {
            b.append(' ').append(e.sctp().state());
        }
        if (!Status.SEEN_REPLY.isSet(e.status())) {
            b.append(" [UNREPLIED]");
        }
        if (Status.ASSURED.isSet(e.status())) {
            b.append(" [ASSURED]");
        }
        if (e.mark() != 0) {
            b.append(" mark=").append(e.mark());
        }
        if (e.zone() != 0) {
            b.append(" zone=").append(e.zone());
        }
        if (!e.labels().isEmpty()) {
            b.append(" labels=").append(e.labels().stream().map(String::valueOf).collect(Collectors.joining(",")));
        }
        if (e.helper() != null) {
            b.append(" helper=").append(e.helper());
        }
        if (e.timeout() != null) {
            b.append(" timeout=").append(e.timeout());
        }
        return b.toString();
    }

    /** {@code SRC:SPORT>DST:DPORT}, IPv6 addresses in brackets; ICMP with its type, code and id. */
    static String tuple(Tuple t) {
        if (t.protocol().hasPorts()) {
            return endpoint(t.source(), t.sourcePort()) + ">" + endpoint(t.destination(), t.destinationPort());
        }
        String addresses = Addresses.text(t.source()) + ">" + Addresses.text(t.destination());
        if (t.protocol().isIcmp()) {
            return addresses + " type=" + t.icmpType() + " code=" + t.icmpCode() + " id=" + t.icmpId();
        }
        return addresses;
    }

    private static String endpoint(InetAddress a, int port) {
        String text = Addresses.text(a);
        return (a instanceof Inet6Address ? "[" + text + "]" : text) + ":" + port;
    }

    private static int compare(InetAddress a, InetAddress b) {
        return Arrays.compareUnsigned(a.getAddress(), b.getAddress());
    }
}

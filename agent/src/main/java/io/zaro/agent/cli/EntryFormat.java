package io.zaro.agent.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.zaro.conntrack.Addresses;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent;
import io.zaro.conntrack.Status;
import io.zaro.conntrack.Tuple;

/** Renders entries and events as conntrack-style text or as one JSON object per line. */
public final class EntryFormat {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final boolean json;

    public EntryFormat(boolean json) {
        this.json = json;
    }

    public String entry(ConntrackEntry e) {
        return json ? toJson(e).toString() : e.toString();
    }

    public String event(ConntrackEvent ev) {
        if (json) {
            ObjectNode node = JSON.createObjectNode();
            node.put("event", ev.type().name());
            node.put("origin_port_id", Integer.toUnsignedLong(ev.originPortId()));
            node.set("entry", toJson(ev.entry()));
            return node.toString();
        }
        String tag = String.format("%9s", "[" + ev.type().name() + "]");
        return tag + " " + ev.entry() + (ev.originPortId() != 0 ? " origin=" + Integer.toUnsignedString(ev.originPortId()) : "");
    }

    /** The JSON form of an entry: field names follow {@link ConntrackEntry}'s. */
    public static ObjectNode toJson(ConntrackEntry e) {
        ObjectNode n = JSON.createObjectNode();
        n.put("family", e.family().name().toLowerCase(java.util.Locale.ROOT));
        n.put("protocol", e.protocol().toString());
        n.set("original", tuple(e.original()));
        n.set("reply", tuple(e.reply()));
        n.put("status", e.status());
        var names = n.putArray("status_flags");
        Status.names(e.status()).forEach(names::add);
        if (e.tcp() != null) {
            ObjectNode t = n.putObject("tcp");
            t.put("state", e.tcp().state().name());
            t.put("window_scale_original", e.tcp().windowScaleOriginal());
            t.put("window_scale_reply", e.tcp().windowScaleReply());
            t.put("flags_original", e.tcp().flagsOriginal());
            t.put("flags_reply", e.tcp().flagsReply());
        }
        if (e.sctp() != null) {
            ObjectNode s = n.putObject("sctp");
            s.put("state", e.sctp().state().name());
            s.put("vtag_original", e.sctp().vtagOriginal());
            s.put("vtag_reply", e.sctp().vtagReply());
        }
        if (e.timeout() != null) {
            n.put("timeout", e.timeout());
        }
        n.put("mark", e.mark());
        n.put("zone", e.zone());
        var labels = n.putArray("labels");
        e.labels().forEach(labels::add);
        if (e.helper() != null) {
            n.put("helper", e.helper());
        }
        if (e.id() != null) {
            n.put("id", e.id());
        }
        if (e.use() != null) {
            n.put("use", e.use());
        }
        return n;
    }

    private static ObjectNode tuple(Tuple t) {
        ObjectNode n = JSON.createObjectNode();
        n.put("src", Addresses.text(t.source()));
        n.put("dst", Addresses.text(t.destination()));
        if (t.protocol().hasPorts()) {
            n.put("sport", t.sourcePort());
            n.put("dport", t.destinationPort());
        } else if (t.protocol().isIcmp()) {
            n.put("type", t.icmpType());
            n.put("code", t.icmpCode());
            n.put("id", t.icmpId());
        }
        return n;
    }
}

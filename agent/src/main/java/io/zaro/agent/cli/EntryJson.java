package io.zaro.agent.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.SctpInfo;
import io.zaro.conntrack.SctpState;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import io.zaro.conntrack.filter.Cidr;
import java.io.BufferedReader;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads what {@code zaro conntrack list --json} prints ({@link EntryFormat#toJson}) back into
 * entries: a table taken on another host, for {@code zaro verify}. Addresses are literals, never
 * looked up.
 */
final class EntryJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private EntryJson() {
    }

    /**
     * Every entry of a {@code zaro conntrack list --json} output; blank lines are skipped.
     *
     * @param source named in the error, e.g. the file's path
     * @throws IllegalArgumentException naming the line that is not such an entry
     */
    static List<ConntrackEntry> read(BufferedReader in, String source) throws IOException {
        List<ConntrackEntry> out = new ArrayList<>();
        int number = 0;
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            number++;
            if (line.isBlank()) {
                continue;
            }
            try {
                out.add(parse(JSON.readTree(line)));
            } catch (IOException | RuntimeException e) {
                throw new IllegalArgumentException("line " + number + " of " + source + " is not an entry as `zaro "
                        + "conntrack list --json` prints it (" + why(e) + ")");
            }
        }
        return out;
    }

    private static String why(Exception e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
    }

    /** One entry; a missing or wrong field is an {@link IllegalArgumentException}. */
    static ConntrackEntry parse(JsonNode n) {
        IpProtocol protocol = IpProtocol.parse(text(n, "protocol"));
        ConntrackEntry.Builder b = ConntrackEntry.builder(tuple(protocol, field(n, "original")))
                .reply(tuple(protocol, field(n, "reply")))
                .status(field(n, "status").asInt())
                .mark(n.path("mark").asLong(0))
                .zone(n.path("zone").asInt(0));
        JsonNode tcp = n.path("tcp");
        if (tcp.isObject()) {
            b.tcp(new TcpInfo(TcpState.valueOf(text(tcp, "state")), tcp.path("window_scale_original").asInt(),
                    tcp.path("window_scale_reply").asInt(), tcp.path("flags_original").asInt(),
                    tcp.path("flags_reply").asInt()));
        }
        JsonNode sctp = n.path("sctp");
        if (sctp.isObject()) {
            b.sctp(new SctpInfo(SctpState.valueOf(text(sctp, "state")), sctp.path("vtag_original").asLong(),
                    sctp.path("vtag_reply").asLong()));
        }
        if (n.hasNonNull("timeout")) {
            b.timeout(n.get("timeout").asLong());
        }
        List<Integer> labels = new ArrayList<>();
        n.path("labels").forEach(l -> labels.add(l.asInt()));
        b.labels(labels);
        if (n.hasNonNull("helper")) {
            b.helper(n.get("helper").asText());
        }
        if (n.hasNonNull("id")) {
            b.id(n.get("id").asLong());
        }
        if (n.hasNonNull("use")) {
            b.use(n.get("use").asLong());
        }
        return b.build();
    }

    private static Tuple tuple(IpProtocol protocol, JsonNode t) {
        var src = Cidr.literalAddress(text(t, "src"));
        var dst = Cidr.literalAddress(text(t, "dst"));
        if (protocol.hasPorts()) {
            return Tuple.ofPorts(src, dst, protocol, field(t, "sport").asInt(), field(t, "dport").asInt());
        }
        if (protocol.isIcmp()) {
            return Tuple.ofIcmp(src, dst, protocol, field(t, "type").asInt(), field(t, "code").asInt(),
                    field(t, "id").asInt());
        }
        return new Tuple(src, dst, protocol, 0, 0, 0, 0, 0);
    }

    private static JsonNode field(JsonNode n, String name) {
        JsonNode v = n.get(name);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException("no '" + name + "'");
        }
        return v;
    }

    private static String text(JsonNode n, String name) {
        return field(n, name).asText();
    }
}

package io.zaro.agent.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.zaro.agent.failover.ControlSocket;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code zaro status}: what the running agent on this node is doing. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = {"Show the running agent's role, VRRP state and VIPs, the last peer heard, the Kafka lag, the "
                + "capture queue and the counters, asked of it over its control socket.",
                "Exits 1 when no agent answers."})
public final class StatusCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--socket", paramLabel = "PATH", defaultValue = "/run/zaro/control.sock",
            description = "The agent's control socket (its control.socket; default: ${DEFAULT-VALUE}).")
    Path socket;

    @Option(names = "--json", description = "Print the agent's answer as it is: one JSON object.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        String answer;
        try {
            answer = ControlSocket.request(socket, "status");
        } catch (IOException e) {
            throw new IllegalStateException("no agent answers on " + socket + " (" + e.getMessage()
                    + "): is zaro agent running, and is this its control.socket?", e);
        }
        if (answer.startsWith("error: ")) {
            spec.commandLine().getErr().println("zaro: " + answer.substring("error: ".length()));
            return 1;
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(answer);
        } else {
            human(JSON.readTree(answer)).forEach(out::println);
        }
        out.flush();
        return 0;
    }

    /** The answer as lines an operator reads. */
    static List<String> human(JsonNode s) {
        List<String> lines = new ArrayList<>();
        lines.add("node      " + s.path("node").asText() + ": " + s.path("role").asText() + " (role="
                + s.path("configured_role").asText() + ")");
        JsonNode v = s.path("vrrp");
        if (!v.isMissingNode()) {
            lines.add("vrrp      " + v.path("state").asText() + ", vrid " + v.path("vrid").asInt() + " on "
                    + v.path("interface").asText() + ", priority " + v.path("priority").asInt() + ", every "
                    + v.path("interval_centiseconds").asInt() * 10 + " ms"
                    + (v.path("unicast_peers").size() > 0 ? ", unicast to " + join(v.path("unicast_peers")) : ""));
            JsonNode p = v.path("last_peer");
            lines.add("peer      " + (p.isMissingNode() ? "none heard"
                    : p.path("address").asText() + ", priority " + p.path("priority").asInt() + ", heard "
                    + p.path("heard_ms_ago").asLong() + " ms ago"));
            List<String> vips = new ArrayList<>();
            s.path("vips").forEach(x -> vips.add(x.path("address").asText() + " on " + x.path("interface").asText()
                    + (x.path("held").asBoolean() ? " (held)" : " (not held)")));
            lines.add("vips      " + String.join(", ", vips));
        }
        JsonNode k = s.path("keepalived");
        if (!k.isMissingNode()) {
            lines.add("keepalived " + k.path("instance").asText() + " through " + k.path("fifo").asText()
                    + " or zaro keepalived-notify");
        }
        JsonNode kafka = s.path("kafka");
        long lag = kafka.path("lag").asLong();
        lines.add("kafka     " + kafka.path("bootstrap_servers").asText() + ", topics " + kafka.path("topic_prefix").asText()
                + ".*, lag " + (lag < 0 ? "- (not mirroring)" : lag + " records") + ", capture queue "
                + s.path("queue_depth").asLong());
        List<String> counters = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : (Iterable<Map.Entry<String, JsonNode>>) s.path("counters")::fields) {
            if (e.getValue().asLong() != 0) {
                counters.add(e.getKey() + "=" + e.getValue().asLong());
            }
        }
        lines.add("counters  " + (counters.isEmpty() ? "nothing yet" : String.join(" ", counters)));
        return lines;
    }

    private static String join(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(x -> out.add(x.asText()));
        return String.join(", ", out);
    }
}

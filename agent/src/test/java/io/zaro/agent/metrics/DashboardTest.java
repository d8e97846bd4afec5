package io.zaro.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.zaro.agent.mirror.MirrorCounters;
import io.zaro.agent.vrrp.VirtualRouter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The Grafana dashboard beside the agent ({@code grafana/zaro-dashboard.json}) asks only for metrics the agent serves. */
class DashboardTest {
    private static final Path DASHBOARD = Path.of("..", "grafana", "zaro-dashboard.json");
    private static final Pattern METRIC = Pattern.compile("\\b((?:zaro|jvm)_[a-z_]+)\\b");

    @Test
    void everyMetricTheDashboardQueriesIsServedByTheAgent() throws Exception {
        JsonNode dashboard = new ObjectMapper().readTree(DASHBOARD.toFile());
        assertEquals("zaro-agent", dashboard.path("uid").asText());
        List<String> expressions = new ArrayList<>();
        for (JsonNode panel : dashboard.path("panels")) {
            assertEquals("${DS_PROMETHEUS}", panel.path("datasource").path("uid").asText(), panel.path("title").asText());
            assertFalse(panel.path("targets").isEmpty(), panel.path("title").asText() + " has a query");
            panel.path("targets").forEach(t -> expressions.add(t.path("expr").asText()));
        }
        TreeSet<String> queried = new TreeSet<>();
        for (String e : expressions) {
            Matcher m = METRIC.matcher(e);
            while (m.find()) {
                queried.add(m.group(1));
            }
        }
        assertTrue(queried.size() >= 15, "the dashboard covers the agent's metrics: " + queried);

        String served;
        try (AgentMetrics metrics = new AgentMetrics(new AgentMetrics.Sources("fw1", new MirrorCounters(), () -> "active",
                () -> VirtualRouter.State.MASTER, () -> 0, () -> -1)).start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            metrics.transition(VirtualRouter.State.MASTER);
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + metrics.port() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
            served = r.body();
        }
        for (String name : queried) {
            assertTrue(Pattern.compile("(?m)^" + name + "[{ ]").matcher(served).find(), name + " is served by the agent");
        }
    }
}

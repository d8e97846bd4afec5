package io.zaro.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.agent.mirror.MirrorCounters;
import io.zaro.agent.vrrp.VirtualRouter;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class AgentMetricsTest {
    @Test
    void aScrapeReadsTheCountersRoleAndVrrpStateAsTheyAreNow() throws Exception {
        MirrorCounters counters = new MirrorCounters();
        AtomicReference<String> role = new AtomicReference<>("standby");
        AtomicReference<VirtualRouter.State> state = new AtomicReference<>(VirtualRouter.State.BACKUP);
        AtomicLong lag = new AtomicLong(42);
        try (AgentMetrics m = new AgentMetrics(new AgentMetrics.Sources("fw2", counters, role::get, state::get, () -> 7,
                lag::get)).start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            counters.created.addAndGet(3);
            counters.rejectedMalformed.incrementAndGet();
            String first = scrape(m.port());
            assertTrue(first.contains("zaro_records_injected_total{outcome=\"created\"} 3.0"), first);
            assertTrue(first.contains("zaro_records_rejected_total{reason=\"malformed\"} 1.0"), first);
            assertTrue(first.contains("zaro_kafka_lag_records 42.0"), first);
            assertTrue(first.contains("zaro_queue_depth 7.0"), first);
            assertTrue(first.contains("zaro_role{node=\"fw2\",role=\"standby\"} 1.0"), first);
            assertTrue(first.contains("zaro_vrrp_state{state=\"BACKUP\"} 1.0"), first);
            assertTrue(first.contains("jvm_memory_used_bytes"), "the JVM's own metrics too");

            counters.captured.addAndGet(5);
            role.set("active");
            state.set(VirtualRouter.State.MASTER);
            m.transition(VirtualRouter.State.MASTER);
            lag.set(-1);
            String second = scrape(m.port());
            assertTrue(second.contains("zaro_events_captured_total 5.0"), second);
            assertTrue(second.contains("zaro_role{node=\"fw2\",role=\"active\"} 1.0"), second);
            assertTrue(second.contains("zaro_role{node=\"fw2\",role=\"standby\"} 0.0"), second);
            assertTrue(second.contains("zaro_vrrp_state{state=\"MASTER\"} 1.0"), second);
            assertTrue(second.contains("zaro_vrrp_transitions_total{state=\"MASTER\"} 1.0"), second);
            assertTrue(second.contains("zaro_kafka_lag_records -1.0"), second);
        }
    }

    private static String scrape(int port) throws IOException, InterruptedException {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        assertTrue(r.statusCode() == 200, "HTTP " + r.statusCode());
        return r.body();
    }
}

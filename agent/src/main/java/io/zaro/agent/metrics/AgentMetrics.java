package io.zaro.agent.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.zaro.agent.mirror.MirrorCounters;
import io.zaro.agent.vrrp.VirtualRouter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The agent's Prometheus endpoint ({@code /metrics}, standard Java client): what it captured,
 * published, injected and rejected, by outcome; the Kafka lag and the capture queue; resyncs;
 * the role and the VRRP state with its transitions; and the JVM's own metrics. Counters are
 * read from {@link MirrorCounters} at each scrape, so the hot paths pay nothing for them.
 */
public final class AgentMetrics implements AutoCloseable {
    /**
     * What the metrics read.
     *
     * @param role "active", "standby" or "none"
     * @param vrrpState the virtual router's state; null in roles without one
     * @param queueDepth events waiting between the netlink reader and the producer
     * @param kafkaLag records the standby is behind the state topic's end; -1 when not mirroring
     */
    public record Sources(String nodeId, MirrorCounters counters, Supplier<String> role,
                          Supplier<VirtualRouter.State> vrrpState, LongSupplier queueDepth, LongSupplier kafkaLag) {
    }

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Counter transitions;
    private HTTPServer server;

    public AgentMetrics(Sources s) {
        MirrorCounters c = s.counters();
        counter("zaro_events_captured", "conntrack events the capture read from the kernel", c.captured);
        counter("zaro_events_filtered", "captured events the filter left out", c.filtered);
        counter("zaro_events_own_injections", "captured events caused by this node's own injections, not published",
                c.ownInjections);
        counter("zaro_records_published", "records Kafka acknowledged", c.published);
        counter("zaro_publish_failures", "records Kafka refused or that timed out (each starts a resync)", c.publishFailed);
        counter("zaro_event_overruns", "times the kernel dropped events (ENOBUFS): each starts a resync", c.eventLoss);
        counter("zaro_resyncs", "full-table resyncs, the start-up one included", c.resyncs);
        counter("zaro_refreshed", "flows republished to keep the standby's timeouts ahead", c.refreshed);
        counter("zaro_swept", "flows gone from the table without an event, tombstoned by a resync or refresh", c.swept);
        counter("zaro_records_consumed", "records the standby read from the state topic", c.consumed);
        labelled("zaro_records_injected", "records the standby applied to its kernel, by outcome", "outcome",
                Map.of("created", c.created, "updated", c.updated, "deleted", c.deleted, "delete_missing", c.deleteMissing,
                        "ghost_deleted", c.ghostsDeleted, "clash", c.clashes, "failed", c.injectFailed));
        labelled("zaro_records_rejected", "records the standby did not inject, by reason", "reason",
                Map.of("malformed", c.rejectedMalformed, "oversized", c.rejectedOversized, "unsigned", c.rejectedUnsigned,
                        "forged", c.rejectedForged, "replayed", c.rejectedReplayed, "filtered", c.rejectedFiltered,
                        "own_node", c.ignoredOwnNode, "expired", c.expired));
        GaugeWithCallback.builder().name("zaro_queue_depth").help("events waiting between the netlink reader and the producer")
                .callback(cb -> cb.call(s.queueDepth().getAsLong())).register(registry);
        GaugeWithCallback.builder().name("zaro_kafka_lag_records")
                .help("records the standby is behind the state topic's end at its last poll; -1 when not mirroring")
                .callback(cb -> cb.call(s.kafkaLag().getAsLong())).register(registry);
        GaugeWithCallback.builder().name("zaro_role").help("1 for the role this node has now").labelNames("node", "role")
                .callback(cb -> {
                    String now = s.role().get();
                    for (String r : new String[] {"active", "standby", "none"}) {
                        cb.call(r.equals(now) ? 1 : 0, s.nodeId(), r);
                    }
                }).register(registry);
        GaugeWithCallback.builder().name("zaro_vrrp_state").help("1 for the VRRP state this node is in").labelNames("state")
                .callback(cb -> {
                    VirtualRouter.State now = s.vrrpState().get();
                    if (now != null) {
                        for (VirtualRouter.State st : VirtualRouter.State.values()) {
                            cb.call(st == now ? 1 : 0, st.name());
                        }
                    }
                }).register(registry);
        transitions = Counter.builder().name("zaro_vrrp_transitions").help("role switches asked by VRRP or keepalived, "
                + "by the state switched to").labelNames("state").register(registry);
        JvmMetrics.builder().register(registry);
    }

    /** Counts a transition to {@code state}. */
    public void transition(VirtualRouter.State state) {
        transitions.labelValues(state.name()).inc();
    }

    /** Serves {@code /metrics} on {@code listen}. */
    public AgentMetrics start(InetSocketAddress listen) {
        try {
            server = HTTPServer.builder().inetAddress(listen.getAddress()).port(listen.getPort()).registry(registry)
                    .buildAndStart();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serve metrics on " + listen + " (" + e.getMessage()
                    + "): set metrics.listen to a free address and port, or empty for none", e);
        }
        return this;
    }

    /** The port it listens on (the one asked for, or the kernel's choice for 0). */
    public int port() {
        return server.getPort();
    }

    PrometheusRegistry registry() {
        return registry;
    }

    private void counter(String name, String help, AtomicLong value) {
        CounterWithCallback.builder().name(name).help(help).callback(cb -> cb.call(value.get())).register(registry);
    }

    private void labelled(String name, String help, String label, Map<String, AtomicLong> values) {
        CounterWithCallback.builder().name(name).help(help).labelNames(label)
                .callback(cb -> values.forEach((k, v) -> cb.call(v.get(), k))).register(registry);
    }

    @Override
    public void close() {
        if (server != null) {
            server.close();
        }
    }
}

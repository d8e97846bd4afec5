package io.zaro.tests.demo;

import io.zaro.tests.netns.FailoverLab.Failover;
import io.zaro.tests.netns.FailoverLab.Flow;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;

/**
 * What a user of the flows saw in one run of the demo, from {@link Failover}: the figures of the
 * demo's table, with the switch (the kill of fw1) as time zero.
 */
public record DemoRun(String name, Failover failover) {
    public List<Flow> tcp() {
        return failover.tcp();
    }

    public List<Flow> udp() {
        return failover.udp();
    }

    public static long survivors(List<Flow> flows) {
        return flows.stream().filter(Flow::wentOn).count();
    }

    /** The longest time any surviving flow of {@code flows} went without an echo across the switch; empty if none survived. */
    public static OptionalLong longestInterruption(List<Flow> flows) {
        return flows.stream().filter(Flow::wentOn).mapToLong(Flow::stallNanos).max();
    }

    /** From the switch until every surviving flow of {@code flows} had an echo again; empty if none survived. */
    public static OptionalLong recovery(List<Flow> flows) {
        return flows.stream().filter(Flow::wentOn)
                .mapToLong(f -> f.echoNanos().stream().filter(t -> t > 0).findFirst().orElse(Long.MAX_VALUE)).max();
    }

    public static long sent(List<Flow> flows) {
        return flows.stream().mapToLong(Flow::requestsSent).sum();
    }

    public static long lost(List<Flow> flows) {
        return flows.stream().mapToLong(Flow::requestsLost).sum();
    }

    /** The four rows of the table for this run: surviving, longest interruption, data lost, recovery. */
    public List<String> cells() {
        return List.of(
                String.format(Locale.ROOT, "TCP %d/%d, UDP %d/%d", survivors(tcp()), tcp().size(), survivors(udp()),
                        udp().size()),
                "TCP " + interruption(tcp()) + ", UDP " + interruption(udp()),
                String.format(Locale.ROOT, "TCP %d of %d, UDP %d of %d", lost(tcp()), sent(tcp()), lost(udp()), sent(udp())),
                perProtocol(recovery(tcp()), recovery(udp())));
    }

    /**
     * The longest interruption of the surviving flows, and how many never resumed; when none did,
     * how long they had been silent at least when the measurement ended.
     */
    private static String interruption(List<Flow> flows) {
        long dead = flows.size() - survivors(flows);
        OptionalLong longest = longestInterruption(flows);
        if (longest.isEmpty()) {
            long silent = flows.stream().mapToLong(Flow::stallNanos).min().orElse(0);
            return String.format(Locale.ROOT, "> %.0f s, none resumed", Math.floor(silent / 1e9));
        }
        return seconds(longest) + (dead > 0 ? " (" + dead + " never resumed)" : "");
    }

    private static String perProtocol(OptionalLong tcp, OptionalLong udp) {
        return "TCP " + seconds(tcp) + ", UDP " + seconds(udp);
    }

    private static String seconds(OptionalLong nanos) {
        return nanos.isPresent() ? String.format(Locale.ROOT, "%.2f s", nanos.getAsLong() / 1e9) : "never";
    }
}

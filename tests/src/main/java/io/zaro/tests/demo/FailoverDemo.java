package io.zaro.tests.demo;

import io.zaro.tests.netns.FailoverLab;
import io.zaro.tests.netns.FailoverLab.Switch;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code zaro demo}: the failover of a firewall pair, once with connection mirroring and once
 * without, in {@link FailoverLab}'s namespaces (client -- fw1 / fw2 -- server, a strict ruleset
 * on both firewalls, zaro agents moving two VIPs with VRRP, the project's own Kafka broker). In
 * each run TCP connections and UDP flows send a line every 0.2 s through the VIPs; fw1's agent is
 * killed with -9 and its links taken down; fw2 takes over. Prints what a user of the flows saw in
 * both runs, and writes a PNG timeline of every flow ({@link Timeline}).
 *
 * <p>Usage: {@code FailoverDemo [--connections N] [--udp-flows N] [--advert-interval SECONDS] [--png FILE]};
 * {@code scripts/demo.sh} builds the project and runs it. Everything it made is removed at the
 * end, Ctrl-C included.
 */
public final class FailoverDemo {
    /** Both runs and where the timeline went. */
    public record Result(DemoRun mirrored, DemoRun control, Path png) {
    }

    private FailoverDemo() {
    }

    public static void main(String[] args) {
        int connections = 50;
        int udpFlows = 4;
        double interval = 0.2;
        Path png = Path.of("zaro-demo.png");
        try {
            for (int i = 0; i < args.length; i++) {
                String value = i + 1 < args.length ? args[i + 1] : null;
                switch (args[i]) {
                    case "--connections" -> connections = Integer.parseInt(value);
                    case "--udp-flows" -> udpFlows = Integer.parseInt(value);
                    case "--advert-interval" -> interval = Double.parseDouble(value);
                    case "--png" -> png = Path.of(value);
                    case "--help", "-h" -> {
                        System.out.println("Usage: zaro demo [--connections N] [--udp-flows N] [--advert-interval SECONDS] [--png FILE]");
                        return;
                    }
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
                i++;
            }
            if (connections < 1 || udpFlows < 1 || interval < 0.01 || interval > 40.95) {
                throw new IllegalArgumentException("--connections and --udp-flows must be at least 1, --advert-interval from 0.01 to 40.95");
            }
        } catch (IllegalArgumentException | NullPointerException e) {
            System.err.println("zaro demo: " + (e.getMessage() == null ? "an option lacks its value" : e.getMessage())
                    + " (see --help)");
            System.exit(2);
            return;
        }
        try {
            Result r = run(connections, udpFlows, (int) Math.round(interval * 100), png, System.err);
            System.out.println();
            System.out.println(table(r));
            System.out.println();
            System.out.println("Timeline of every flow, both runs: " + r.png().toAbsolutePath());
        } catch (Exception | AssertionError e) {
            System.err.println("zaro demo failed: " + e.getMessage());
            System.exit(1);
        }
    }

    /**
     * Builds the lab, runs the failover with mirroring and then without (fw2 follows topics fw1
     * never writes), writes the timeline to {@code png}, and removes the lab; progress goes to
     * {@code progress}.
     */
    public static Result run(int connections, int udpFlows, int intervalCentis, Path png, PrintStream progress)
            throws Exception {
        AtomicReference<FailoverLab> open = new AtomicReference<>();
        Thread cleanup = new Thread(() -> {
            FailoverLab lab = open.getAndSet(null);
            if (lab != null) {
                System.err.println("zaro demo: interrupted, removing the namespaces, agents and broker...");
                lab.close();
            }
        }, "zaro-demo-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        long start = System.nanoTime();
        try {
            step(progress, start, "building client -- fw1 / fw2 -- server in network namespaces, "
                    + "a strict nftables ruleset on both firewalls, and starting the Kafka broker");
            open.set(new FailoverLab(connections, udpFlows));
            FailoverLab lab = open.get();
            lab.onProgress(s -> step(progress, start, "  " + s));
            lab.leadIn(Duration.ofSeconds(4)); // for the timeline: the flows as they were before
            step(progress, start, "run 1 of 2, with mirroring: starting zaro on fw1 (priority 150) and fw2 (100), "
                    + "advertisements every " + intervalCentis / 100.0 + " s");
            DemoRun mirrored = new DemoRun("with mirroring: fw2 injects what fw1's agent publishes",
                    lab.failover("demo-mirrored", "demo-mirrored", intervalCentis, Switch.KILL));
            step(progress, start, "run 2 of 2, without mirroring: fw2's agent follows topics fw1 never writes");
            DemoRun control = new DemoRun("without mirroring: fw2's conntrack table starts empty",
                    lab.failover("demo-control1", "demo-control2", intervalCentis, Switch.KILL));
            step(progress, start, "removing the namespaces, agents and broker");
            open.set(null);
            lab.close();
            Timeline.write(List.of(mirrored, control), 1000.0 / FailoverLab.ECHO_INTERVAL_MS, png);
            step(progress, start, "done");
            return new Result(mirrored, control, png);
        } finally {
            FailoverLab lab = open.getAndSet(null);
            if (lab != null) {
                lab.close();
            }
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or ran
            }
        }
    }

    /** The table the demo prints: one column per run. */
    public static String table(Result r) {
        List<String> rows = List.of("connections surviving the failover", "longest interruption a user saw",
                "data lost (requests sent, never echoed)", "recovery time (from the kill)");
        List<String> a = r.mirrored().cells();
        List<String> b = r.control().cells();
        int w0 = rows.stream().mapToInt(String::length).max().orElse(0);
        int w1 = Math.max("with mirroring".length(), a.stream().mapToInt(String::length).max().orElse(0));
        int w2 = Math.max("without mirroring".length(), b.stream().mapToInt(String::length).max().orElse(0));
        String format = "| %-" + w0 + "s | %-" + w1 + "s | %-" + w2 + "s |%n";
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, format, "", "with mirroring", "without mirroring"));
        out.append("|").append("-".repeat(w0 + 2)).append("|").append("-".repeat(w1 + 2)).append("|")
                .append("-".repeat(w2 + 2)).append("|").append(System.lineSeparator());
        for (int i = 0; i < rows.size(); i++) {
            out.append(String.format(Locale.ROOT, format, rows.get(i), a.get(i), b.get(i)));
        }
        out.append(String.format(Locale.ROOT, "%nfw2 took over %.2f s (with mirroring) and %.2f s (without) after the kill; "
                        + "each flow sends a request every %d ms; the TCP connections pass a ruleset that drops INVALID.",
                r.mirrored().failover().takeoverNanos() / 1e9, r.control().failover().takeoverNanos() / 1e9,
                FailoverLab.ECHO_INTERVAL_MS));
        return out.toString();
    }

    private static void step(PrintStream progress, long start, String what) {
        progress.printf(Locale.ROOT, "[%5.1f s] %s%n", (System.nanoTime() - start) / 1e9, what);
    }
}

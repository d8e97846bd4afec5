package io.zaro.tests.bench;

import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent;
import io.zaro.conntrack.ConntrackEventListener;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.EventOptions;
import io.zaro.conntrack.EventSubscription;
import io.zaro.conntrack.Family;
import io.zaro.tests.netns.AgentProcess;
import io.zaro.tests.netns.BrokerFixture;
import io.zaro.tests.netns.Cmd;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.Lab;
import io.zaro.tests.netns.SyntheticFlows;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Mirroring from fw1 to fw2 through the project's broker, end to end, as issue 4 asks it to be
 * measured. Topology: fw1, fw2 and a broker namespace on a sync bridge; {@code zaro agent} runs
 * in fw1 (active) and fw2 (standby) with default settings, as separate processes.
 *
 * <ol>
 *   <li><b>burst</b>: N flows created on fw1 in batches as fast as the kernel takes them; the
 *       time from the first create until fw2's table holds all N (read from
 *       {@code conntrack -C} every 100 ms), and the flows lost (N less what fw2 holds once its
 *       count stops moving). The active's event overruns and resyncs are reported: a burst
 *       beyond the socket buffer is recovered by a resync, not by events.</li>
 *   <li><b>latency</b>: flows created on fw1 at a steady rate; the benchmark listens to both
 *       tables' NEW events and takes, for each flow, the time from its NEW on fw1 to its NEW on
 *       fw2 (one clock: this JVM's). p50, p99 and max over the flows after a warm-up of
 *       {@value #WARMUP_SECONDS} s at the same rate (not measured: the agents' JVMs compile their
 *       hot paths then), and flows missing.</li>
 * </ol>
 *
 * <p>Bursts beyond 250 000 flows raise the machine-wide {@code nf_conntrack_max} (and the hash
 * size) for the run and restore them afterwards.
 *
 * <p>Usage: {@code MirrorBenchmark [BURSTS] [RATE] [SECONDS]}, default {@code 100000,1000000 10000 20}.
 */
public final class MirrorBenchmark {
    private static final String BROKER = "10.99.0.10";
    private static final int WARMUP_SECONDS = 10;
    private static final SyntheticFlows FLOWS = new SyntheticFlows("10.20.2.2", "fd20:2::2", "10.20.2.1");
    private static final Path MAX = Path.of("/proc/sys/net/netfilter/nf_conntrack_max");
    private static final Path HASHSIZE = Path.of("/sys/module/nf_conntrack/parameters/hashsize");

    private final Host fw1;
    private final Host fw2;

    private MirrorBenchmark(Host fw1, Host fw2) {
        this.fw1 = fw1;
        this.fw2 = fw2;
    }

    public static void main(String[] args) throws Exception {
        int[] bursts = Arrays.stream((args.length > 0 ? args[0] : "100000,1000000").split(","))
                .mapToInt(Integer::parseInt).toArray();
        int rate = args.length > 1 ? Integer.parseInt(args[1]) : 10_000;
        int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        int largest = Math.max(Arrays.stream(bursts).max().orElse(0), rate * (seconds + WARMUP_SECONDS));
        List<String> rows = new ArrayList<>();
        long needed = 2L * largest + 50_000;
        try (RaisedSysctl max = RaisedSysctl.atLeast(MAX, needed, 2L * largest + 100_000);
             RaisedSysctl hash = RaisedSysctl.atLeastIfPossible(HASHSIZE, needed > 262_144 ? 1 << 20 : 0, 1 << 20);
             Lab lab = new Lab()) {
            System.err.println("nf_conntrack_max " + max + ", hash size " + hash);
            Host fw1 = lab.host("fw1");
            Host fw2 = lab.host("fw2");
            Host kafka = lab.host("kafka");
            lab.bridge("sync", "sync0", fw1, fw2, kafka);
            fw1.address("sync0", "10.99.0.1/24");
            fw2.address("sync0", "10.99.0.2/24");
            kafka.address("sync0", BROKER + "/24");
            System.err.println("starting the broker...");
            try (BrokerFixture broker = new BrokerFixture(kafka, BROKER)) {
                MirrorBenchmark bench = new MirrorBenchmark(fw1, fw2);
                for (int n : bursts) {
                    rows.add(bench.burst(n));
                }
                rows.add(bench.latency(rate, seconds));
            }
        }
        System.out.println();
        System.out.println("| workload | flows | insert on fw1 | until all in fw2's kernel | lost | p50 | p99 | max | fw1 overruns / resyncs |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        rows.forEach(System.out::println);
        System.out.println();
        System.out.println("Machine: " + Runtime.getRuntime().availableProcessors() + " CPUs, "
                + Cmd.run(List.of("uname", "-r")).stdout().trim() + " kernel, Java " + Runtime.version());
    }

    private AgentProcess[] agents(String prefix) {
        AgentProcess standby = AgentProcess.start(fw2, config("fw2", "standby", prefix));
        AgentProcess active = AgentProcess.start(fw1, config("fw1", "active", prefix));
        standby.awaitLog("bootstrap:", Duration.ofSeconds(120));
        active.awaitLog("publishing", Duration.ofSeconds(120));
        return new AgentProcess[] {active, standby};
    }

    private static String config(String node, String role, String prefix) {
        return """
                node.id=%s
                role=%s
                kafka.bootstrap.servers=%s:9092
                kafka.topic.prefix=%s
                filter.sync.interface=sync0
                """.formatted(node, role, BROKER, prefix);
    }

    private String burst(int n) throws Exception {
        fw1.exec("conntrack", "-F");
        fw2.exec("conntrack", "-F");
        AgentProcess[] agents = agents("burst" + n);
        try (ConntrackTable t1 = Conntrack.open(fw1.name())) {
            System.err.printf("burst of %d flows...%n", n);
            long start = System.nanoTime();
            for (int first = 0; first < n; first += 10_000) {
                int failed = t1.createAll(FLOWS.range(first, Math.min(10_000, n - first))).failed();
                if (failed != 0) {
                    throw new IllegalStateException(failed + " creates failed on fw1");
                }
            }
            long inserted = System.nanoTime();
            long last = -1;
            long lastChange = System.nanoTime();
            long done = -1;
            while (System.nanoTime() - lastChange < Duration.ofSeconds(60).toNanos()) {
                long c = count(fw2);
                if (c != last) {
                    last = c;
                    lastChange = System.nanoTime();
                }
                if (c >= n) {
                    done = System.nanoTime();
                    break;
                }
                Thread.sleep(100);
            }
            long lost = n - keysOnBoth(t1, n);
            String row = String.format(Locale.ROOT, "| burst | %,d | %.2f s | %s | %d | | | | %d / %d |", n,
                    (inserted - start) / 1e9, done < 0 ? "never (" + last + " after 60 s without change)"
                            : String.format(Locale.ROOT, "%.2f s", (done - start) / 1e9),
                    lost, agents[0].counter("eventLoss"), agents[0].counter("resyncs"));
            System.err.println(row);
            return row;
        } finally {
            for (AgentProcess a : agents) {
                a.stop();
            }
        }
    }

    /** How many of fw1's flows fw2 holds (same zone and original tuple). */
    private long keysOnBoth(ConntrackTable t1, int n) {
        Set<String> onFw1 = new HashSet<>(n * 2);
        t1.dump(Family.ALL, e -> onFw1.add(key(e)));
        long[] both = {0};
        try (ConntrackTable t2 = Conntrack.open(fw2.name())) {
            t2.dump(Family.ALL, e -> {
                if (onFw1.contains(key(e))) {
                    both[0]++;
                }
            });
        }
        return both[0];
    }

    private String latency(int rate, int seconds) throws Exception {
        fw1.exec("conntrack", "-F");
        fw2.exec("conntrack", "-F");
        AgentProcess[] agents = agents("latency");
        Map<String, Long> seenOnFw1 = new ConcurrentHashMap<>();
        Map<String, Long> seenOnFw2 = new ConcurrentHashMap<>();
        AtomicLong overruns = new AtomicLong();
        EventOptions options = EventOptions.defaults().withReceiveBufferBytes(256 * 1024 * 1024);
        try (ConntrackTable t1 = Conntrack.open(fw1.name()); ConntrackTable t2 = Conntrack.open(fw2.name());
             EventSubscription s1 = t1.listen(options, recorder(seenOnFw1, overruns));
             EventSubscription s2 = t2.listen(options, recorder(seenOnFw2, overruns))) {
            System.err.printf("latency at %d flows/s for %d s...%n", rate, seconds);
            int perTick = Math.max(1, rate / 100);
            int total = rate * (seconds + WARMUP_SECONDS);
            long start = System.nanoTime();
            for (int i = 0, tick = 0; i < total; i += perTick, tick++) {
                long due = start + tick * 10_000_000L;
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                }
                List<ConntrackEntry> batch = FLOWS.range(2_000_000 + i, Math.min(perTick, total - i));
                var result = t1.createAll(batch);
                for (int k = 0; k < result.size(); k++) {
                    if (result.errno(k) != 0) {
                        throw new IllegalStateException("create failed on fw1 with errno " + result.errno(k) + ": " + batch.get(k));
                    }
                }
            }
            long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (seenOnFw2.size() < seenOnFw1.size() && System.nanoTime() < end) {
                Thread.sleep(100);
            }
            double achieved = total / ((System.nanoTime() - start) / 1e9);
            // The first WARMUP_SECONDS are not measured: the agents' JVMs compile their hot paths then.
            Set<String> measured = new HashSet<>();
            for (int i = rate * WARMUP_SECONDS; i < total; i++) {
                measured.add(key(FLOWS.flow(2_000_000 + i)));
            }
            List<Long> latencies = new ArrayList<>();
            long missing = 0;
            for (String k : measured) {
                Long t1seen = seenOnFw1.get(k);
                Long t2seen = seenOnFw2.get(k);
                if (t1seen != null && t2seen != null) {
                    latencies.add(t2seen - t1seen);
                } else {
                    missing++;
                }
            }
            latencies.sort(null);
            String row = String.format(Locale.ROOT, "| steady %,d flows/s for %d s | %,d | | | %d | %.2f ms | %.2f ms | %.2f ms | %d / %d |",
                    rate, seconds, measured.size(), missing, pct(latencies, 0.50), pct(latencies, 0.99),
                    latencies.isEmpty() ? Double.NaN : latencies.get(latencies.size() - 1) / 1e6,
                    agents[0].counter("eventLoss"), agents[0].counter("resyncs"));
            if (overruns.get() > 0) {
                row += " (the benchmark's own listeners overran " + overruns.get() + " times: figures incomplete)";
            }
            System.err.println(row);
            return row;
        } finally {
            for (AgentProcess a : agents) {
                a.stop();
            }
        }
    }

    private static ConntrackEventListener recorder(Map<String, Long> seen, AtomicLong overruns) {
        return new ConntrackEventListener() {
            @Override
            public void onEvent(ConntrackEvent event) {
                if (event.type() == ConntrackEvent.Type.NEW) {
                    seen.putIfAbsent(key(event.entry()), System.nanoTime());
                }
            }

            @Override
            public void onEventLoss(long lossCount) {
                overruns.incrementAndGet();
            }
        };
    }

    private static double pct(List<Long> sorted, double q) {
        if (sorted.isEmpty()) {
            return Double.NaN;
        }
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(q * sorted.size()) - 1)) / 1e6;
    }

    private static String key(ConntrackEntry e) {
        return e.zone() + " " + e.original();
    }

    private static long count(Host h) {
        return Long.parseLong(h.execOk("conntrack", "-C").stdout().trim());
    }
}

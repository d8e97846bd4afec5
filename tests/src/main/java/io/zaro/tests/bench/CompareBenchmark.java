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
import io.zaro.tests.netns.FailoverLab;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.Lab;
import io.zaro.tests.netns.SyntheticFlows;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;

/**
 * zaro side by side with conntrackd (issue 8), on the same namespaces and the same synthetic
 * flows, in one run. fw1, fw2 and a broker namespace share a sync bridge; zaro runs as two
 * {@code zaro agent} processes (fw1 active, fw2 standby) through the project's broker;
 * conntrackd runs on fw1 and fw2 as its manual recommends for active-backup ({@link ConntrackdPair}:
 * FTFW over UDP on the sync link, external cache, committed at takeover). Each measure starts
 * from empty tables and fresh daemons.
 *
 * <ol>
 *   <li><b>burst</b>: N flows created on fw1 as fast as the kernel takes them; the time until fw2
 *       could take them over (zaro: all in fw2's kernel; conntrackd: all in fw2's external cache,
 *       plus the commit that puts them in its kernel), and the flows lost (fw1's flows missing
 *       from fw2's kernel after that).</li>
 *   <li><b>sustained</b>: flows created at each rate for the given time; the highest rate after
 *       which fw2 holds every flow (the external cache for conntrackd), once its count has not
 *       moved for {@value #SETTLE_SECONDS} s.</li>
 *   <li><b>latency</b>: flows created at a steady rate; for each, from its NEW event on fw1 to its
 *       NEW event on fw2 (one clock, this JVM's). conntrackd's external cache sends no events, so
 *       this one measure runs conntrackd with its external cache off (it injects at once, the
 *       mode its manual gives for that); zaro is the same as everywhere.</li>
 *   <li><b>resources</b>: resident memory of each side once the largest burst is mirrored, and CPU
 *       (a share of one core) during the latency run; zaro's broker is shown apart.</li>
 *   <li><b>failover</b>: in {@link FailoverLab}'s topology, live TCP connections (1000 by default)
 *       and 3 UDP flows through fw1, killed with -9 with advertisements every 0.1 s: the share of
 *       TCP connections that went on through fw2, and each flow's longest stall; conntrackd runs
 *       there with keepalived, whose notify script commits the external cache at takeover.</li>
 *   <li><b>bootstrap</b>: after the largest burst, fw2's side is stopped, fw2's table emptied,
 *       and a fresh one started: the time until fw2 could take over all flows again (conntrackd:
 *       a resync request, {@code conntrackd -n}, then the commit).</li>
 * </ol>
 *
 * <p>Usage: {@code CompareBenchmark [--bursts 100000,1000000] [--rates 5000,10000,20000,40000,80000]
 * [--sustain-seconds 60] [--latency-rate 10000] [--latency-seconds 20] [--failover-connections 1000]
 * [--failover-runs 1] [--plot FILE]}. An empty {@code --bursts} or {@code --rates}, or a
 * {@code --latency-rate} or {@code --failover-connections} of 0, leaves that measure out (a
 * profiling run of one measure).
 */
public final class CompareBenchmark {
    private static final String BROKER = "10.99.0.10";
    private static final int WARMUP_SECONDS = 10;
    static final int SETTLE_SECONDS = 10;
    private static final int WARMUP_FLOWS = 50_000;
    private static final int WARMUP_ROUNDS = 6;
    private static final SyntheticFlows FLOWS = new SyntheticFlows("10.20.2.2", "fd20:2::2", "10.20.2.1");
    private static final Path MAX = Path.of("/proc/sys/net/netfilter/nf_conntrack_max");
    private static final Path HASHSIZE = Path.of("/sys/module/nf_conntrack/parameters/hashsize");

    private final Host fw1;
    private final Host fw2;
    private final BrokerFixture broker;
    private int runs;

    /** One way of mirroring fw1's table to fw2, as the benchmark drives it. */
    interface Mirror extends AutoCloseable {
        String name();

        /** Starts mirroring (both tables empty) and returns once both sides are ready. */
        void start() throws Exception;

        /** How many flows fw2 could take over now (zaro: in its kernel; conntrackd: in its cache). */
        long peerHolds() throws Exception;

        /** What fw2 does at takeover before its kernel holds them (conntrackd's commit); its time in nanoseconds. */
        long takeOver() throws Exception;

        /** Stops fw2's side, empties fw2's table and starts a fresh one, which asks for the whole table. */
        void restartPeer() throws Exception;

        List<Long> activePids();

        List<Long> peerPids();

        /** Processes both sides need besides themselves: zaro's broker. */
        List<Long> infrastructurePids();

        @Override
        void close();
    }

    private CompareBenchmark(Host fw1, Host fw2, BrokerFixture broker) {
        this.fw1 = fw1;
        this.fw2 = fw2;
        this.broker = broker;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = options(args);
        int[] bursts = ints(o.getOrDefault("--bursts", "100000,1000000"));
        int[] rates = ints(o.getOrDefault("--rates", "5000,10000,20000,40000,80000"));
        int sustain = Integer.parseInt(o.getOrDefault("--sustain-seconds", "60"));
        int latencyRate = Integer.parseInt(o.getOrDefault("--latency-rate", "10000"));
        int latencySeconds = Integer.parseInt(o.getOrDefault("--latency-seconds", "20"));
        Path plot = Path.of(o.getOrDefault("--plot", "docs/bench-compare.png"));
        int failoverConnections = Integer.parseInt(o.getOrDefault("--failover-connections", "1000"));
        int failoverRuns = Integer.parseInt(o.getOrDefault("--failover-runs", "1"));
        int largest = Math.max(Arrays.stream(bursts).max().orElse(0),
                Math.max(Arrays.stream(rates).max().orElse(0) * sustain, latencyRate * (latencySeconds + WARMUP_SECONDS)));
        long needed = 2L * largest + 50_000;
        Report report = new Report();
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
                CompareBenchmark bench = new CompareBenchmark(fw1, fw2, broker);
                bench.run(report, bursts, rates, sustain, latencyRate, latencySeconds);
            }
        }
        if (failoverConnections > 0) {
            failover(report, failoverConnections, failoverRuns);
        }
        report.print(System.out);
        ComparisonPlot.write("zaro and conntrackd, fw1 to fw2 (" + LocalDate.now() + ", "
                + Runtime.getRuntime().availableProcessors() + " CPUs)", report.measures, plot);
        System.out.println();
        System.out.println("Plot: " + plot.toAbsolutePath());
        System.out.println("Machine: " + Runtime.getRuntime().availableProcessors() + " CPUs, "
                + Cmd.run(List.of("uname", "-r")).stdout().trim() + " kernel, Java " + Runtime.version() + ", "
                + Cmd.run(List.of("sh", "-c", "conntrackd -v 2>&1 | head -1")).stdout().trim());
    }

    private void run(Report report, int[] bursts, int[] rates, int sustain, int latencyRate, int latencySeconds)
            throws Exception {
        int largest = Arrays.stream(bursts).max().orElse(0);
        // Each measure gets conntrackd sized for the most flows it holds (its hash table is allocated at start).
        IntFunction<Mirror> zaro = flows -> new ZaroMirror();
        IntFunction<Mirror> conntrackd = flows -> new ConntrackdMirror(false, flows);
        for (int n : bursts) {
            Burst z = burst(zaro, n, n == largest);
            Burst c = burst(conntrackd, n, n == largest);
            report.burst(n, z, c);
        }
        if (rates.length > 0) {
            report.sustained(sustain, sustained(zaro, rates, sustain), sustained(conntrackd, rates, sustain));
        }
        if (latencyRate > 0) {
            report.latency(latencyRate, latencySeconds, latency(zaro, latencyRate, latencySeconds),
                    latency(flows -> new ConntrackdMirror(true, flows), latencyRate, latencySeconds));
        }
    }

    // ------------------------------------------------------------------ failover

    /**
     * The failover lab ({@link FailoverLab}: client -- fw1 / fw2 -- server, strict rulesets,
     * VIPs): {@code connections} live TCP connections and 3 UDP flows through fw1, which is killed
     * (kill -9, links down) with advertisements every 0.1 s; zaro's agents, then conntrackd with
     * keepalived running the manual's primary-backup steps.
     */
    private static void failover(Report report, int connections, int runs) throws Exception {
        List<FailoverLab.Failover> zaro = new ArrayList<>();
        List<FailoverLab.Failover> conntrackd = new ArrayList<>();
        System.err.printf("failover with %,d TCP connections, %d run(s) each...%n", connections, runs);
        try (FailoverLab lab = new FailoverLab(connections, 3)) {
            for (int r = 1; r <= runs; r++) {
                String topics = "compare-failover" + r;
                zaro.add(lab.failover(topics, topics, 10, FailoverLab.Switch.KILL));
                conntrackd.add(lab.failoverConntrackd(10));
            }
        }
        report.failover(connections, zaro, conntrackd);
    }

    // ------------------------------------------------------------------ burst and bootstrap

    /**
     * A burst's figures; with {@code bootstrap}, the resources once it is mirrored and the
     * bootstrap of a fresh fw2 after it.
     */
    record Burst(long insertNanos, long readyNanos, long takeOverNanos, long lost, Usage mirrored,
                 long bootstrapNanos, long bootstrapTakeOverNanos, long bootstrapLost) {
        long total() {
            return readyNanos + takeOverNanos;
        }

        long bootstrapTotal() {
            return bootstrapNanos < 0 ? -1 : bootstrapNanos + bootstrapTakeOverNanos;
        }
    }

    /** Resident memory (KiB) of each side, and of the infrastructure they share. */
    record Usage(ProcessUsage active, ProcessUsage peer, ProcessUsage infrastructure) {
        static Usage of(Mirror m) {
            return new Usage(ProcessUsage.sum(m.activePids()), ProcessUsage.sum(m.peerPids()),
                    ProcessUsage.sum(m.infrastructurePids()));
        }
    }

    private Burst burst(IntFunction<Mirror> mirrors, int n, boolean bootstrap) throws Exception {
        flush();
        try (Mirror m = mirrors.apply(n + WARMUP_FLOWS); ConntrackTable t1 = Conntrack.open(fw1.name())) {
            m.start();
            warmUp(m, t1);
            System.err.printf("%s: burst of %,d flows...%n", m.name(), n);
            Usage before = Usage.of(m);
            long start = System.nanoTime();
            createOnFw1(t1, 0, n);
            long inserted = System.nanoTime();
            long ready = awaitPeer(m, n);
            long takeOver = m.takeOver();
            Usage usage = Usage.of(m);
            long lost = n - onBoth(t1, n);
            System.err.printf(Locale.ROOT, "%s: CPU during the burst: fw1 %.2f s, fw2 %.2f s, broker %.2f s%n", m.name(),
                    (usage.active().cpuMillis() - before.active().cpuMillis()) / 1e3,
                    (usage.peer().cpuMillis() - before.peer().cpuMillis()) / 1e3,
                    (usage.infrastructure().cpuMillis() - before.infrastructure().cpuMillis()) / 1e3);
            System.err.printf(Locale.ROOT, "%s: insert %.2f s, peer holds all after %s, take-over %.2f s, lost %d%n",
                    m.name(), (inserted - start) / 1e9, seconds(ready < 0 ? -1 : ready - start), takeOver / 1e9, lost);
            long boot = -1;
            long bootTakeOver = 0;
            long bootLost = -1;
            if (bootstrap) {
                System.err.printf("%s: bootstrap of a fresh fw2 with %,d flows...%n", m.name(), n);
                long restart = System.nanoTime();
                m.restartPeer();
                long done = awaitPeer(m, n);
                boot = done < 0 ? -1 : done - restart;
                bootTakeOver = m.takeOver();
                bootLost = n - onBoth(t1, n);
                System.err.printf(Locale.ROOT, "%s: bootstrap %s, take-over %.2f s, lost %d%n", m.name(), seconds(boot),
                        bootTakeOver / 1e9, bootLost);
            }
            return new Burst(inserted - start, ready < 0 ? -1 : ready - start, takeOver, lost, usage, boot, bootTakeOver,
                    bootLost);
        }
    }

    /**
     * As on a firewall that has run a while: rounds of {@value #WARMUP_FLOWS} flows mirrored, then
     * deleted on fw1 and gone from fw2, until a round is no more than 10 % faster than the best
     * before it (at most {@value #WARMUP_ROUNDS} rounds). A daemon's first flows are not what a
     * burst on a running firewall meets: zaro's JVM loads and compiles its hot path then (the
     * compiler threads took half of the agents' CPU in a burst right after their start), its
     * producer fetches metadata.
     */
    private void warmUp(Mirror m, ConntrackTable t1) throws Exception {
        long best = Long.MAX_VALUE;
        for (int round = 1; round <= WARMUP_ROUNDS; round++) {
            long start = System.nanoTime();
            createOnFw1(t1, 8_000_000, WARMUP_FLOWS);
            long done = awaitPeer(m, WARMUP_FLOWS);
            if (done < 0) {
                throw new IllegalStateException(m.name() + " did not mirror the warm-up flows");
            }
            fw1.execOk("conntrack", "-F");
            long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (m.peerHolds() > 0 && System.nanoTime() < end) {
                Thread.sleep(100);
            }
            if (m.peerHolds() > 0) {
                throw new IllegalStateException(m.name() + " still holds " + m.peerHolds() + " warm-up flows on fw2 after 60 s");
            }
            long took = done - start;
            System.err.printf(Locale.ROOT, "%s: warm-up round %d: %,d flows mirrored in %.2f s%n", m.name(), round,
                    WARMUP_FLOWS, took / 1e9);
            if (took > best * 0.9) {
                return;
            }
            best = Math.min(best, took);
        }
    }

    /** When fw2 held {@code n} flows (System.nanoTime), or -1 when its count stopped short for 60 s. */
    private static long awaitPeer(Mirror m, long n) throws Exception {
        long last = -1;
        long lastChange = System.nanoTime();
        while (System.nanoTime() - lastChange < Duration.ofSeconds(60).toNanos()) {
            long c = m.peerHolds();
            if (c >= n) {
                return System.nanoTime();
            }
            if (c != last) {
                last = c;
                lastChange = System.nanoTime();
            }
            Thread.sleep(100);
        }
        System.err.printf("%s: fw2 stopped at %,d of %,d flows%n", m.name(), last, n);
        return -1;
    }

    // ------------------------------------------------------------------ sustained rate

    /** Each rate tried, with its result. */
    record Sustained(Map<Integer, Step> steps) {
        int highestWithoutLoss() {
            return steps.entrySet().stream().filter(e -> e.getValue().lost() == 0 && e.getValue().reached())
                    .mapToInt(Map.Entry::getKey).max().orElse(0);
        }
    }

    /** One rate: the rate the generator reached, and the flows fw2 never got. */
    record Step(double achieved, long created, long lost, boolean reached) {
    }

    /** Tries the rates in order and stops at the first that loses flows or that the generator cannot reach. */
    private Sustained sustained(IntFunction<Mirror> mirrors, int[] rates, int seconds) throws Exception {
        Map<Integer, Step> steps = new LinkedHashMap<>();
        for (int rate : rates) {
            flush();
            try (Mirror m = mirrors.apply(rate * seconds + WARMUP_FLOWS); ConntrackTable t1 = Conntrack.open(fw1.name())) {
                m.start();
                warmUp(m, t1);
                System.err.printf("%s: %,d flows/s for %d s...%n", m.name(), rate, seconds);
                int total = rate * seconds;
                double achieved = steady(t1, rate, total, 3_000_000);
                long held = settle(m, total);
                Step step = new Step(achieved, total, Math.max(0, total - held), achieved >= 0.95 * rate);
                steps.put(rate, step);
                System.err.printf(Locale.ROOT, "%s: %,d flows/s: generator reached %,.0f/s, fw2 holds %,d of %,d%n", m.name(),
                        rate, achieved, held, total);
                if (step.lost() > 0 || !step.reached()) {
                    break;
                }
            }
        }
        return new Sustained(steps);
    }

    /** fw2's count once it has not moved for {@value #SETTLE_SECONDS} s (or reached {@code n}). */
    private static long settle(Mirror m, long n) throws Exception {
        long last = -1;
        long lastChange = System.nanoTime();
        while (System.nanoTime() - lastChange < Duration.ofSeconds(SETTLE_SECONDS).toNanos()) {
            long c = m.peerHolds();
            if (c >= n) {
                return c;
            }
            if (c != last) {
                last = c;
                lastChange = System.nanoTime();
            }
            Thread.sleep(200);
        }
        return last;
    }

    // ------------------------------------------------------------------ latency and CPU

    /** Event-to-peer latencies (nanoseconds, sorted), flows missing, and CPU of each side meanwhile. */
    record Latency(List<Long> sorted, long missing, double activeCpu, double peerCpu, double infrastructureCpu,
                   Usage after, long overruns) {
        double pct(double q) {
            return sorted.isEmpty() ? Double.NaN : sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(q * sorted.size()) - 1)) / 1e6;
        }

        double max() {
            return sorted.isEmpty() ? Double.NaN : sorted.get(sorted.size() - 1) / 1e6;
        }
    }

    private Latency latency(IntFunction<Mirror> mirrors, int rate, int seconds) throws Exception {
        flush();
        Map<String, Long> seenOnFw1 = new ConcurrentHashMap<>();
        Map<String, Long> seenOnFw2 = new ConcurrentHashMap<>();
        AtomicLong overruns = new AtomicLong();
        EventOptions options = EventOptions.defaults().withReceiveBufferBytes(256 * 1024 * 1024);
        try (Mirror m = mirrors.apply(rate * (seconds + WARMUP_SECONDS)); ConntrackTable t1 = Conntrack.open(fw1.name());
             ConntrackTable t2 = Conntrack.open(fw2.name())) {
            m.start();
            try (EventSubscription s1 = t1.listen(options, recorder(seenOnFw1, overruns));
                 EventSubscription s2 = t2.listen(options, recorder(seenOnFw2, overruns))) {
                System.err.printf("%s: latency at %,d flows/s for %d s after %d s of warm-up...%n", m.name(), rate, seconds,
                        WARMUP_SECONDS);
                steady(t1, rate, rate * WARMUP_SECONDS, 5_000_000);
                Usage before = Usage.of(m);
                long from = System.nanoTime();
                steady(t1, rate, rate * seconds, 5_000_000 + rate * WARMUP_SECONDS);
                long wall = System.nanoTime() - from;
                Usage after = Usage.of(m);
                long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (seenOnFw2.size() < seenOnFw1.size() && System.nanoTime() < end) {
                    Thread.sleep(100);
                }
                List<Long> latencies = new ArrayList<>();
                long missing = 0;
                for (int i = 0; i < rate * seconds; i++) {
                    String k = key(FLOWS.flow(5_000_000 + rate * WARMUP_SECONDS + i));
                    Long a = seenOnFw1.get(k);
                    Long b = seenOnFw2.get(k);
                    if (a != null && b != null) {
                        latencies.add(b - a);
                    } else {
                        missing++;
                    }
                }
                latencies.sort(null);
                Latency l = new Latency(latencies, missing, after.active().cpuPercentSince(before.active(), wall),
                        after.peer().cpuPercentSince(before.peer(), wall),
                        after.infrastructure().cpuPercentSince(before.infrastructure(), wall), after, overruns.get());
                System.err.printf(Locale.ROOT, "%s: p50 %.2f ms, p99 %.2f ms, max %.2f ms, missing %d, CPU %.0f%% / %.0f%%%n",
                        m.name(), l.pct(0.5), l.pct(0.99), l.max(), missing, l.activeCpu(), l.peerCpu());
                return l;
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

    // ------------------------------------------------------------------ the tables

    /** Creates {@code total} flows from index {@code first} on fw1 at {@code rate} per second in 10 ms ticks; returns the rate reached. */
    private static double steady(ConntrackTable t1, int rate, int total, int first) throws InterruptedException {
        int perTick = Math.max(1, rate / 100);
        long start = System.nanoTime();
        for (int i = 0, tick = 0; i < total; i += perTick, tick++) {
            long wait = start + tick * 10_000_000L - System.nanoTime();
            if (wait > 0) {
                Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
            }
            List<ConntrackEntry> batch = FLOWS.range(first + i, Math.min(perTick, total - i));
            int failed = t1.createAll(batch).failed();
            if (failed != 0) {
                throw new IllegalStateException(failed + " creates failed on fw1 (is nf_conntrack_max large enough?)");
            }
        }
        return total / ((System.nanoTime() - start) / 1e9);
    }

    private static void createOnFw1(ConntrackTable t1, int first, int n) {
        for (int i = 0; i < n; i += 10_000) {
            int failed = t1.createAll(FLOWS.range(first + i, Math.min(10_000, n - i))).failed();
            if (failed != 0) {
                throw new IllegalStateException(failed + " creates failed on fw1");
            }
        }
    }

    /** How many of fw1's flows fw2's kernel holds (same zone and original tuple). */
    private long onBoth(ConntrackTable t1, int n) {
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

    private void flush() {
        fw1.exec("conntrack", "-F");
        fw2.exec("conntrack", "-F");
    }

    static long kernelCount(Host h) {
        return Long.parseLong(h.execOk("conntrack", "-C").stdout().trim());
    }

    private static String key(ConntrackEntry e) {
        return e.zone() + " " + e.original();
    }

    private static String seconds(long nanos) {
        return nanos < 0 ? "never" : String.format(Locale.ROOT, "%.2f s", nanos / 1e9);
    }

    // ------------------------------------------------------------------ the two mirrors

    /** zaro: {@code zaro agent} in fw1 (active) and fw2 (standby), default settings, through the broker. */
    private final class ZaroMirror implements Mirror {
        private final String prefix = "compare" + (++runs);
        private AgentProcess active;
        private AgentProcess standby;

        @Override
        public String name() {
            return "zaro";
        }

        @Override
        public void start() {
            standby = AgentProcess.start(fw2, config("fw2", "standby"));
            active = AgentProcess.start(fw1, config("fw1", "active"));
            standby.awaitLog("bootstrap:", Duration.ofSeconds(120));
            active.awaitLog("publishing", Duration.ofSeconds(120));
        }

        private String config(String node, String role) {
            return """
                    node.id=%s
                    role=%s
                    kafka.bootstrap.servers=%s:9092
                    kafka.topic.prefix=%s
                    filter.sync.interface=sync0
                    """.formatted(node, role, BROKER, prefix);
        }

        @Override
        public long peerHolds() {
            return kernelCount(fw2);
        }

        @Override
        public long takeOver() {
            return 0; // the flows are in fw2's kernel already
        }

        @Override
        public void restartPeer() {
            standby.closeAndDelete();
            fw2.exec("conntrack", "-F");
            standby = AgentProcess.start(fw2, config("fw2", "standby"));
        }

        @Override
        public List<Long> activePids() {
            return List.of(active.pid());
        }

        @Override
        public List<Long> peerPids() {
            return List.of(standby.pid());
        }

        @Override
        public List<Long> infrastructurePids() {
            return List.of(broker.pid());
        }

        @Override
        public void close() {
            for (AgentProcess a : new AgentProcess[] {active, standby}) {
                if (a != null) {
                    if (Boolean.getBoolean("zaro.bench.agentLogs")) {
                        System.err.println("---- " + (a == active ? "fw1" : "fw2") + "'s agent:\n" + a.log());
                    }
                    a.closeAndDelete();
                }
            }
        }
    }

    /** conntrackd on fw1 and fw2 ({@link ConntrackdPair}); with {@code direct}, fw2 injects at once instead of caching. */
    private final class ConntrackdMirror implements Mirror {
        private final ConntrackdPair pair;
        private final boolean direct;

        /** @param flows the most flows the run holds at once: conntrackd's hash and cache are sized for them */
        ConntrackdMirror(boolean direct, int flows) {
            this.direct = direct;
            pair = new ConntrackdPair(fw1, fw2, "sync0", ConntrackdPair.Settings.forFlows(Math.max(flows, 100_000))
                    .withExternalCache(!direct));
        }

        @Override
        public String name() {
            return direct ? "conntrackd (no external cache)" : "conntrackd";
        }

        @Override
        public void start() {
            pair.start();
        }

        @Override
        public long peerHolds() {
            return direct ? kernelCount(fw2) : pair.externalCacheCount(fw2);
        }

        @Override
        public long takeOver() {
            if (direct) {
                return 0;
            }
            ConntrackdPair.Commit c = pair.commit(fw2);
            System.err.printf(Locale.ROOT, "conntrackd: commit of %,d flows took %.2f s; fw2's kernel holds %,d%n",
                    c.committed(), c.took().toNanos() / 1e9, c.kernelCount());
            return c.took().toNanos();
        }

        /** As after a reboot: a fresh daemon on an empty table, which asks fw1's for a resync ({@code -n}). */
        @Override
        public void restartPeer() {
            fw2.exec("conntrack", "-F");
            pair.restart(fw2);
            pair.requestResync(fw2);
        }

        @Override
        public List<Long> activePids() {
            return List.of(pair.pid(fw1));
        }

        @Override
        public List<Long> peerPids() {
            return List.of(pair.pid(fw2));
        }

        @Override
        public List<Long> infrastructurePids() {
            return List.of();
        }

        @Override
        public void close() {
            List<String> losses = new ArrayList<>(pair.lossLog(fw1));
            losses.addAll(pair.lossLog(fw2));
            if (!losses.isEmpty()) {
                System.err.println("conntrackd's logs on losses and resyncs:\n  " + String.join("\n  ", losses));
            }
            pair.close();
        }
    }

    // ------------------------------------------------------------------ the report

    /** The table's rows and the plot's measures, in the order measured. */
    static final class Report {
        private final List<String> rows = new ArrayList<>();
        private final List<String> notes = new ArrayList<>();
        final List<ComparisonPlot.Measure> measures = new ArrayList<>();

        void burst(int n, Burst z, Burst c) {
            row(String.format(Locale.ROOT, "burst of %,d flows: until fw2 could take them over", n), secs(z.total()),
                    secs(c.total()) + (c.readyNanos() < 0 ? "" : String.format(Locale.ROOT, " (%.2f s to its cache + %.2f s commit)",
                            c.readyNanos() / 1e9, c.takeOverNanos() / 1e9)), ratio(z.total(), c.total()), "≤ 0.67×");
            row(String.format(Locale.ROOT, "burst of %,d flows: lost", n), Long.toString(z.lost()), Long.toString(c.lost()),
                    "", "0");
            notes.add(String.format(Locale.ROOT, "Burst of %,d: fw1 inserted the flows in %.2f s while zaro ran, %.2f s while "
                    + "conntrackd ran.", n, z.insertNanos() / 1e9, c.insertNanos() / 1e9));
            measures.add(new ComparisonPlot.Measure(String.format(Locale.ROOT, "burst of %,d: until fw2 could take over", n),
                    "s", nanosToSeconds(z.total()), nanosToSeconds(c.total()), true));
            if (z.bootstrapNanos() != -1 || c.bootstrapNanos() != -1) {
                row(String.format(Locale.ROOT, "resident memory with %,d flows mirrored: fw1 / fw2", n),
                        mib(z.mirrored().active()) + " / " + mib(z.mirrored().peer()) + " (broker "
                                + mib(z.mirrored().infrastructure()) + ")",
                        mib(c.mirrored().active()) + " / " + mib(c.mirrored().peer()), "", "≤ 256 MiB");
                measures.add(new ComparisonPlot.Measure(String.format(Locale.ROOT, "memory at %,d flows: fw1 + fw2 (no broker)", n),
                        "MiB", (z.mirrored().active().rssKiB() + z.mirrored().peer().rssKiB()) / 1024.0,
                        (c.mirrored().active().rssKiB() + c.mirrored().peer().rssKiB()) / 1024.0, true));
                row(String.format(Locale.ROOT, "bootstrap of a fresh fw2 with %,d flows: until it could take over", n),
                        secs(z.bootstrapTotal()), secs(c.bootstrapTotal()) + (c.bootstrapNanos() < 0 ? ""
                                : String.format(Locale.ROOT, " (%.2f s to its cache + %.2f s commit)",
                                        c.bootstrapNanos() / 1e9, c.bootstrapTakeOverNanos() / 1e9)),
                        ratio(z.bootstrapTotal(), c.bootstrapTotal()), "");
                row(String.format(Locale.ROOT, "bootstrap of %,d flows: lost", n), Long.toString(z.bootstrapLost()),
                        Long.toString(c.bootstrapLost()), "", "0");
                measures.add(new ComparisonPlot.Measure(String.format(Locale.ROOT, "bootstrap of a fresh fw2 with %,d", n), "s",
                        nanosToSeconds(z.bootstrapTotal()), nanosToSeconds(c.bootstrapTotal()), true));
            }
        }

        void sustained(int seconds, Sustained z, Sustained c) {
            int zr = z.highestWithoutLoss();
            int cr = c.highestWithoutLoss();
            row(String.format(Locale.ROOT, "sustained: highest rate of new flows with 0 lost over %d s", seconds),
                    String.format(Locale.ROOT, "%,d /s", zr), String.format(Locale.ROOT, "%,d /s", cr),
                    cr == 0 ? "" : String.format(Locale.ROOT, "%.2f×", (double) zr / cr), "≥ 1.5×");
            notes.add("Sustained, each rate tried (the generator's rate reached; flows fw2 lacked once its count stood still "
                    + SETTLE_SECONDS + " s): zaro " + steps(z) + "; conntrackd " + steps(c) + ".");
            measures.add(new ComparisonPlot.Measure("sustained rate with 0 lost", "flows/s", zr, cr, false));
        }

        private static String steps(Sustained s) {
            List<String> out = new ArrayList<>();
            s.steps().forEach((rate, st) -> out.add(String.format(Locale.ROOT, "%,d/s: %,.0f/s reached, %,d lost", rate,
                    st.achieved(), st.lost())));
            return String.join("; ", out);
        }

        void latency(int rate, int seconds, Latency z, Latency c) {
            row(String.format(Locale.ROOT, "latency, NEW on fw1 to NEW in fw2's kernel, at %,d flows/s: p50 / p99 / max", rate),
                    ms(z), ms(c) + " (external cache off)", String.format(Locale.ROOT, "p99 %.2f×", z.pct(0.99) / c.pct(0.99)),
                    "p99 ≤ 5 ms");
            row(String.format(Locale.ROOT, "latency at %,d flows/s: flows missing on fw2", rate), Long.toString(z.missing()),
                    Long.toString(c.missing()), "", "0");
            row(String.format(Locale.ROOT, "CPU at %,d flows/s (share of one core): fw1 / fw2", rate),
                    String.format(Locale.ROOT, "%.0f%% / %.0f%% (broker %.0f%%)", z.activeCpu(), z.peerCpu(), z.infrastructureCpu()),
                    String.format(Locale.ROOT, "%.0f%% / %.0f%%", c.activeCpu(), c.peerCpu()), "", "");
            row(String.format(Locale.ROOT, "resident memory after the latency run (%,d flows): fw1 / fw2", rate * (seconds + WARMUP_SECONDS)),
                    mib(z.after().active()) + " / " + mib(z.after().peer()) + " (broker " + mib(z.after().infrastructure()) + ")",
                    mib(c.after().active()) + " / " + mib(c.after().peer()), "", "");
            if (z.overruns() + c.overruns() > 0) {
                notes.add("The benchmark's own event listeners overran " + (z.overruns() + c.overruns())
                        + " times: the latency figures miss some flows.");
            }
            measures.add(new ComparisonPlot.Measure(String.format(Locale.ROOT, "latency p99 at %,d flows/s", rate), "ms",
                    z.pct(0.99), c.pct(0.99), true));
            measures.add(new ComparisonPlot.Measure(String.format(Locale.ROOT, "CPU at %,d flows/s: fw1 + fw2", rate), "% of a core",
                    z.activeCpu() + z.peerCpu(), c.activeCpu() + c.peerCpu(), true));
        }

        void failover(int connections, List<FailoverLab.Failover> z, List<FailoverLab.Failover> c) {
            Stalls zs = Stalls.of(z);
            Stalls cs = Stalls.of(c);
            row(String.format(Locale.ROOT, "failover, kill -9 of fw1, advertisements every 0.1 s: TCP connections "
                    + "that went on (of %,d live)", connections), zs.tcpShare(), cs.tcpShare(), "", "100 %");
            row("failover: stall per flow p50 / p99 / max (detection included)", zs.stallText(), cs.stallText(),
                    cs.max() <= 0 ? "" : String.format(Locale.ROOT, "max %.2f×", (double) zs.max() / cs.max()), "");
            row("failover: UDP flows' stall p50 / max (they resume as soon as fw2 forwards)", zs.udp(), cs.udp(), "", "");
            measures.add(new ComparisonPlot.Measure("failover at 0.1 s: TCP connections that went on", "%",
                    zs.tcpPercent(), cs.tcpPercent(), false));
            measures.add(new ComparisonPlot.Measure("failover at 0.1 s: longest stall", "ms", zs.max() / 1e6,
                    cs.max() / 1e6, true));
        }

        /** The flows of failover runs, pooled: TCP connections that went on, and the stalls of the flows that did. */
        record Stalls(long tcpOn, long tcp, long[] stalls, long[] udpStalls) {
            static Stalls of(List<FailoverLab.Failover> runs) {
                List<FailoverLab.Flow> flows = runs.stream().flatMap(r -> r.flows().stream()).toList();
                return new Stalls(flows.stream().filter(f -> f.tcp() && f.wentOn()).count(),
                        flows.stream().filter(FailoverLab.Flow::tcp).count(),
                        flows.stream().filter(FailoverLab.Flow::wentOn).mapToLong(FailoverLab.Flow::stallNanos).sorted().toArray(),
                        flows.stream().filter(f -> !f.tcp() && f.wentOn()).mapToLong(FailoverLab.Flow::stallNanos).sorted()
                                .toArray());
            }

            double tcpPercent() {
                return tcp == 0 ? Double.NaN : 100.0 * tcpOn / tcp;
            }

            String tcpShare() {
                return String.format(Locale.ROOT, "%,d / %,d (%.1f %%)", tcpOn, tcp, tcpPercent());
            }

            long max() {
                return stalls.length == 0 ? -1 : stalls[stalls.length - 1];
            }

            String stallText() {
                return ms(rank(stalls, 0.5)) + " / " + ms(rank(stalls, 0.99)) + " / " + ms(max());
            }

            String udp() {
                return ms(rank(udpStalls, 0.5)) + " / " + ms(rank(udpStalls, 1.0));
            }

            private static long rank(long[] sorted, double p) {
                return sorted.length == 0 ? -1 : sorted[Math.max(0, (int) Math.ceil(p * sorted.length) - 1)];
            }

            private static String ms(long nanos) {
                return nanos < 0 ? "-" : String.format(Locale.ROOT, "%,d ms", nanos / 1_000_000);
            }
        }

        void row(String measure, String zaro, String conntrackd, String ratio, String goal) {
            rows.add("| " + measure + " | " + zaro + " | " + conntrackd + " | " + ratio + " | " + goal + " |");
        }

        void print(java.io.PrintStream out) {
            out.println();
            out.println("| measure | zaro | conntrackd | zaro ÷ conntrackd | goal |");
            out.println("|---|---:|---:|---:|---|");
            rows.forEach(out::println);
            out.println();
            notes.forEach(n -> out.println("- " + n));
        }

        private static String ms(Latency l) {
            return String.format(Locale.ROOT, "%.2f / %.2f / %.2f ms", l.pct(0.5), l.pct(0.99), l.max());
        }

        private static String mib(ProcessUsage u) {
            return String.format(Locale.ROOT, "%.0f MiB", u.rssMiB());
        }

        private static String secs(long nanos) {
            return nanos < 0 ? "never" : String.format(Locale.ROOT, "%.2f s", nanos / 1e9);
        }

        private static String ratio(long zaro, long conntrackd) {
            return zaro < 0 || conntrackd <= 0 ? "" : String.format(Locale.ROOT, "%.2f×", (double) zaro / conntrackd);
        }

        private static double nanosToSeconds(long nanos) {
            return nanos < 0 ? Double.NaN : nanos / 1e9;
        }
    }

    // ------------------------------------------------------------------ options

    private static Map<String, String> options(String[] args) {
        Map<String, String> o = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("usage: CompareBenchmark [--bursts N,N] [--rates R,R] [--sustain-seconds S] "
                        + "[--failover-connections N] [--failover-runs N] "
                        + "[--latency-rate R] [--latency-seconds S] [--plot FILE]; not '" + args[i] + "'");
            }
            o.put(args[i], args[++i]);
        }
        return o;
    }

    private static int[] ints(String list) {
        return list.isBlank() ? new int[0] : Arrays.stream(list.split(",")).mapToInt(s -> Integer.parseInt(s.strip())).toArray();
    }

}

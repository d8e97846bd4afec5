package io.zaro.tests.bench;

import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent;
import io.zaro.conntrack.ConntrackEventListener;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.EventOptions;
import io.zaro.conntrack.EventSubscription;
import io.zaro.conntrack.Family;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.Status;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import io.zaro.tests.netns.Cmd;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.Lab;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Compares zaro's conntrack bindings with conntrack-tools on one kernel, in one fresh network
 * namespace, and prints the figures as a Markdown table. It measures, with the wall clock:
 *
 * <ol>
 *   <li><b>insert</b> of {@value #DEFAULT_ENTRIES} entries: {@code table.create(entry)} in a loop,
 *       and {@code table.createAll(entries)}, which packs many requests into each netlink message,
 *       against {@code conntrack -R FILE} (the file holds {@code conntrack -L -o save} lines);
 *       the table is flushed in between and its size checked with {@code conntrack -C};</li>
 *   <li><b>dump</b> of those entries: {@code table.dump(Family.ALL, consumer)} against
 *       {@code conntrack -L > /dev/null} (which reports how many entries it printed), each run
 *       {@value #DUMP_RUNS} times, the median reported;</li>
 *   <li><b>events</b>: zaro's listener with {@link EventOptions#defaults()} and
 *       {@code conntrack -E -e NEW} both listen while {@code conntrack -R} creates
 *       {@value #DEFAULT_ENTRIES} new entries in one burst; reported is how many NEW events each
 *       received, when the last one arrived, and the overruns (ENOBUFS) each saw.</li>
 * </ol>
 *
 * <p>Every entry is a distinct established TCP flow ({@code 10.a.b.c} to {@code 10.200.0.x},
 * timeout 600 s). Times of conntrack-tools include starting the process through
 * {@code ip netns exec}; that overhead is printed with the machine description.
 *
 * <p>{@code nf_conntrack_max} and {@code nf_conntrack_buckets} can only be set in the machine's
 * own namespace on most kernels; the benchmark raises them there when they are too small for the
 * run and restores them afterwards. Nothing else outside the lab's namespace is changed, and no
 * packet is sent anywhere.
 *
 * <p>Run it as root with {@code scripts/bench-conntrack.sh [ENTRIES]}, which builds the project and
 * starts this class on the tests module's runtime classpath.
 */
public final class ConntrackBenchmark {
    static final int DEFAULT_ENTRIES = 100_000;
    private static final Path CONNTRACK_MAX = Path.of("/proc/sys/net/netfilter/nf_conntrack_max");
    private static final Path CONNTRACK_BUCKETS = Path.of("/proc/sys/net/netfilter/nf_conntrack_buckets");
    private static final long RAISED_CONNTRACK_MAX = 2_000_000;
    private static final Pattern SHOWN = Pattern.compile("(\\d+) flow entries have been shown");
    /** Events count as all delivered once no counter has moved for this long. */
    private static final Duration QUIET = Duration.ofSeconds(3);
    private static final Duration EVENT_DEADLINE = Duration.ofMinutes(2);
    private static final long COMMAND_TIMEOUT_SECONDS = 600;

    private final Host host;
    private final ConntrackTable table;
    private final Path workDir;
    private final int entries;
    private final List<Row> rows = new ArrayList<>();

    private ConntrackBenchmark(Host host, ConntrackTable table, Path workDir, int entries) {
        this.host = host;
        this.table = table;
        this.workDir = workDir;
        this.entries = entries;
    }

    /** One line of the result table; {@code count} over {@code seconds} gives the rate. */
    private record Row(String benchmark, String tool, String result, long count, double seconds, String notes) {
        String rate() {
            return seconds > 0 ? number(Math.round(count / seconds)) + " /s" : "–";
        }
    }

    /** An established TCP flow from {@code source} to {@code destination}, without NAT. */
    private record Flow(InetAddress source, InetAddress destination, int sourcePort, int destinationPort) {
        ConntrackEntry entry() {
            Tuple original = Tuple.ofPorts(source, destination, IpProtocol.TCP, sourcePort, destinationPort);
            return ConntrackEntry.builder(original)
                    .status(Status.SEEN_REPLY, Status.ASSURED)
                    .tcp(TcpInfo.of(TcpState.ESTABLISHED))
                    .timeout(600)
                    .build();
        }

        /** The line {@code conntrack -L -o save} prints for this flow, which {@code conntrack -R} reads. */
        String saveLine() {
            String src = source.getHostAddress();
            String dst = destination.getHostAddress();
            return "-A -t 600 -u SEEN_REPLY,ASSURED -s " + src + " -d " + dst + " -r " + dst + " -q " + src
                    + " -p tcp --sport " + sourcePort + " --dport " + destinationPort
                    + " --reply-port-src " + destinationPort + " --reply-port-dst " + sourcePort
                    + " --state ESTABLISHED\n";
        }
    }

    public static void main(String[] args) throws Exception {
        int entries = args.length > 0 ? Integer.parseInt(args[0]) : DEFAULT_ENTRIES;
        Instant start = Instant.now();
        Path workDir = Files.createTempDirectory("zaro-bench");
        try (RaisedSysctl max = RaisedSysctl.atLeast(CONNTRACK_MAX, 2L * entries, RAISED_CONNTRACK_MAX);
             RaisedSysctl buckets = RaisedSysctl.atLeastIfPossible(CONNTRACK_BUCKETS, entries, entries);
             Lab lab = new Lab()) {
            Host host = lab.host("bench");
            printMachine(host, max, buckets);
            try (ConntrackTable table = Conntrack.open(host.name())) {
                new ConntrackBenchmark(host, table, workDir, entries).run();
            }
        } finally {
            deleteRecursively(workDir);
        }
        System.out.printf(Locale.ROOT, "%nWhole run: %.1f s%n", seconds(start, Instant.now()));
    }

    private void run() throws Exception {
        List<Flow> flows = flows(entries, 1, 80);
        Path loadFile = writeLoadFile("insert.save", flows);

        insertWithZaro(flows);
        insertWithZaroBatched(flows);
        dumpWithZaro();
        dumpWithConntrack();
        insertWithConntrack(loadFile);
        events(writeLoadFile("burst.save", flows(entries, 2, 443)));

        printTable();
    }

    // ---- insert -------------------------------------------------------------------------------

    private void insertWithZaro(List<Flow> flows) {
        table.flush(Family.ALL);
        List<ConntrackEntry> toCreate = flows.stream().map(Flow::entry).toList();
        long t0 = System.nanoTime();
        for (ConntrackEntry e : toCreate) {
            table.create(e);
        }
        double seconds = secondsSince(t0);
        long inTable = tableCount();
        add(new Row("insert " + number(entries), "zaro `table.create(entry)` loop",
                number(inTable) + " in table", inTable, seconds, checkCount(inTable)));
    }

    private void insertWithZaroBatched(List<Flow> flows) {
        table.flush(Family.ALL);
        List<ConntrackEntry> toCreate = flows.stream().map(Flow::entry).toList();
        long t0 = System.nanoTime();
        int created = table.createAll(toCreate).succeeded();
        double seconds = secondsSince(t0);
        long inTable = tableCount();
        add(new Row("insert " + number(entries), "zaro `table.createAll(entries)` (batched)",
                number(inTable) + " in table", inTable, seconds,
                checkCount(inTable) + (created == entries ? "" : "; kernel refused " + number(entries - created))));
    }

    private void insertWithConntrack(Path loadFile) {
        table.flush(Family.ALL);
        long t0 = System.nanoTime();
        host.exec(null, COMMAND_TIMEOUT_SECONDS, "conntrack", "-R", loadFile.toString()).ok();
        double seconds = secondsSince(t0);
        long inTable = tableCount();
        add(new Row("insert " + number(entries), "`conntrack -R FILE` (save format)",
                number(inTable) + " in table", inTable, seconds, checkCount(inTable)));
        table.flush(Family.ALL);
    }

    private String checkCount(long inTable) {
        return inTable == entries ? "`conntrack -C` = " + number(inTable) : "MISSING " + number(entries - inTable);
    }

    // ---- dump ---------------------------------------------------------------------------------

    /** Dumps are short and noisy: each tool dumps this many times, and the median is reported. */
    private static final int DUMP_RUNS = 5;

    private void dumpWithZaro() {
        double[] times = new double[DUMP_RUNS];
        long seen = 0;
        for (int run = 0; run < DUMP_RUNS; run++) {
            AtomicLong count = new AtomicLong();
            long t0 = System.nanoTime();
            table.dump(Family.ALL, e -> count.incrementAndGet());
            times[run] = secondsSince(t0);
            seen = count.get();
        }
        add(new Row("dump " + number(entries), "zaro `table.dump(ALL, consumer)`",
                number(seen) + " entries", seen, median(times),
                "entries mapped to Java records; " + spread(times)));
    }

    private static double median(double[] times) {
        double[] sorted = times.clone();
        java.util.Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    private static String spread(double[] times) {
        double[] sorted = times.clone();
        java.util.Arrays.sort(sorted);
        return String.format(Locale.ROOT, "median of %d runs, %.3f-%.3f s", sorted.length, sorted[0], sorted[sorted.length - 1]);
    }

    private void dumpWithConntrack() {
        double[] times = new double[DUMP_RUNS];
        long seen = -1;
        for (int run = 0; run < DUMP_RUNS; run++) {
            long t0 = System.nanoTime();
            Cmd.Result r = host.exec(null, COMMAND_TIMEOUT_SECONDS, "sh", "-c", "conntrack -L > /dev/null").ok();
            times[run] = secondsSince(t0);
            Matcher m = SHOWN.matcher(r.stderr());
            seen = m.find() ? Long.parseLong(m.group(1)) : -1;
        }
        add(new Row("dump " + number(entries), "`conntrack -L > /dev/null`",
                number(seen) + " entries", seen, median(times), "text formatted, written to /dev/null; " + spread(times)));
    }

    // ---- events -------------------------------------------------------------------------------

    /** Counts NEW events and overruns, and remembers when the last NEW event arrived. */
    private static final class NewEventCounter implements ConntrackEventListener {
        final AtomicLong newEvents = new AtomicLong();
        final AtomicLong overruns = new AtomicLong();
        volatile Instant lastNew;

        @Override
        public void onEvent(ConntrackEvent event) {
            if (event.type() == ConntrackEvent.Type.NEW) {
                newEvents.incrementAndGet();
                lastNew = Instant.now();
            }
        }

        @Override
        public void onEventLoss(long lossCount) {
            overruns.set(lossCount);
        }
    }

    private void events(Path burstFile) throws Exception {
        table.flush(Family.ALL);
        Path cliOut = workDir.resolve("events.out");
        Path cliErr = workDir.resolve("events.err");
        NewEventCounter zaro = new NewEventCounter();
        Instant burstStart;
        double burstSeconds;
        long zaroLosses;
        int granted;
        try (EventSubscription subscription = table.listen(EventOptions.defaults(), zaro)) {
            Process cli = host.spawn("sh", "-c", "exec conntrack -E -e NEW > '" + cliOut + "' 2> '" + cliErr + "'");
            try {
                Thread.sleep(1000);
                burstStart = Instant.now();
                host.exec(null, COMMAND_TIMEOUT_SECONDS, "conntrack", "-R", burstFile.toString()).ok();
                burstSeconds = seconds(burstStart, Instant.now());
                awaitQuiet(zaro.newEvents::get, () -> sizeOf(cliOut));
            } finally {
                stop(cli);
            }
            zaroLosses = subscription.lossCount();
            granted = subscription.receiveBufferBytes();
        }
        long inTable = tableCount();
        add(new Row("event burst", "`conntrack -R FILE` (the source)", number(inTable) + " in table",
                inTable, burstSeconds, checkCount(inTable)));
        addZaroEventRow(zaro, burstStart, zaroLosses, granted);
        addConntrackEventRow(cliOut, cliErr, burstStart);
        table.flush(Family.ALL);
    }

    private void addZaroEventRow(NewEventCounter zaro, Instant burstStart, long losses, int granted) {
        long received = zaro.newEvents.get();
        double seconds = zaro.lastNew == null ? 0 : seconds(burstStart, zaro.lastNew);
        add(new Row("events: NEW of " + number(entries), "zaro `listen(EventOptions.defaults())`",
                received(received), received, seconds,
                "overruns (ENOBUFS): " + losses + "; rcvbuf granted " + number(granted) + " B"));
    }

    private void addConntrackEventRow(Path out, Path err, Instant burstStart) throws IOException {
        long received = countLines(out);
        Instant last = Files.getLastModifiedTime(out).toInstant();
        double seconds = received == 0 ? 0 : Math.max(0, seconds(burstStart, last));
        long enobufs = Files.readString(err).lines().filter(l -> l.contains("ENOBUFS")).count();
        add(new Row("events: NEW of " + number(entries), "`conntrack -E -e NEW > file`",
                received(received), received, seconds, "ENOBUFS warnings: " + enobufs + "; default rcvbuf"));
    }

    private String received(long received) {
        String text = number(received) + " received";
        return received == entries ? text : text + " (" + number(entries - received) + " lost)";
    }

    /** Waits until none of the counters has moved for {@link #QUIET}, or gives up after {@link #EVENT_DEADLINE}. */
    private static void awaitQuiet(LongSupplier... counters) throws InterruptedException {
        long[] last = new long[counters.length];
        long deadline = System.nanoTime() + EVENT_DEADLINE.toNanos();
        long quietSince = System.nanoTime();
        while (System.nanoTime() - quietSince < QUIET.toNanos() && System.nanoTime() < deadline) {
            Thread.sleep(100);
            for (int i = 0; i < counters.length; i++) {
                long now = counters[i].getAsLong();
                if (now != last[i]) {
                    last[i] = now;
                    quietSince = System.nanoTime();
                }
            }
        }
    }

    /** Stops {@code conntrack -E} with SIGTERM, on which it flushes its output and exits. */
    private static void stop(Process p) throws InterruptedException {
        p.destroy();
        if (!p.waitFor(5, TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
    }

    // ---- helpers ------------------------------------------------------------------------------

    private void add(Row row) {
        rows.add(row);
        System.out.printf(Locale.ROOT, "  %-22s %-40s %-28s %8.3f s  %s%n",
                row.benchmark(), row.tool(), row.result(), row.seconds(), row.rate());
    }

    private long tableCount() {
        return Long.parseLong(host.execOk("conntrack", "-C").stdout().strip());
    }

    /**
     * {@code n} distinct flows: sources {@code 10.a.b.c} counting up from {@code 10.1.0.0}, all to
     * {@code 10.200.0.<destinationHost>:destinationPort}.
     */
    private static List<Flow> flows(int n, int destinationHost, int destinationPort) {
        InetAddress destination = ipv4(10, 200, 0, destinationHost);
        List<Flow> flows = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            InetAddress source = ipv4(10, 1 + (i >>> 16), (i >>> 8) & 0xff, i & 0xff);
            flows.add(new Flow(source, destination, 1024 + i % 60_000, destinationPort));
        }
        return flows;
    }

    private static InetAddress ipv4(int a, int b, int c, int d) {
        try {
            return InetAddress.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    private Path writeLoadFile(String name, List<Flow> flows) throws IOException {
        StringBuilder text = new StringBuilder(flows.size() * 160);
        flows.forEach(f -> text.append(f.saveLine()));
        return Files.writeString(workDir.resolve(name), text);
    }

    private static void printMachine(Host host, RaisedSysctl max, RaisedSysctl buckets) throws IOException {
        System.out.println("# zaro conntrack benchmark");
        System.out.println("CPU:       " + cpuModel() + ", nproc " + Runtime.getRuntime().availableProcessors());
        System.out.println("Kernel:    " + Files.readAllLines(Path.of("/proc/sys/kernel/osrelease")).get(0).strip());
        System.out.println("Java:      " + System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        System.out.println("Tools:     " + Cmd.run(List.of("conntrack", "--version")).stdout().strip());
        System.out.println("Sysctls:   nf_conntrack_max " + max + ", nf_conntrack_buckets " + buckets);
        long t0 = System.nanoTime();
        host.execOk("true");
        System.out.printf(Locale.ROOT, "Overhead:  `ip netns exec NS true` takes %.1f ms (included in conntrack-tools times)%n%n",
                secondsSince(t0) * 1000);
    }

    private static String cpuModel() throws IOException {
        return Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
                .filter(l -> l.startsWith("model name"))
                .map(l -> l.substring(l.indexOf(':') + 1).strip())
                .findFirst().orElse("unknown");
    }

    private void printTable() {
        System.out.println();
        System.out.println("| Benchmark | Tool | Result | Time | Rate | Notes |");
        System.out.println("|---|---|---|---:|---:|---|");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, "| %s | %s | %s | %.3f s | %s | %s |%n",
                    r.benchmark(), r.tool(), r.result(), r.seconds(), r.rate(), r.notes());
        }
        System.out.println();
        System.out.println("Event rows: time from the start of the burst to the last NEW event received.");
    }

    private static String number(long n) {
        return String.format(Locale.US, "%,d", n);
    }

    private static double secondsSince(long nanoStart) {
        return (System.nanoTime() - nanoStart) / 1e9;
    }

    private static double seconds(Instant from, Instant to) {
        return Duration.between(from, to).toNanos() / 1e9;
    }

    private static long sizeOf(Path p) {
        try {
            return Files.exists(p) ? Files.size(p) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    private static long countLines(Path p) throws IOException {
        long lines = 0;
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(p)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                for (int i = 0; i < n; i++) {
                    if (buf[i] == '\n') {
                        lines++;
                    }
                }
            }
        }
        return lines;
    }

    private static void deleteRecursively(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}

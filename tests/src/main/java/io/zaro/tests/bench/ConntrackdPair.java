package io.zaro.tests.bench;

import io.zaro.tests.netns.Cmd;
import io.zaro.tests.netns.Host;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * conntrackd (conntrack-tools) replicating between two firewalls of a lab, as its manual sets it up
 * for an active-backup pair: mode FTFW over unicast UDP on the dedicated sync link, the external
 * cache enabled (a backup holds the primary's flows in user space until {@link #commit} injects
 * them into its kernel at a takeover), buffers and caches sized for a heavy table, and a filter
 * that ignores the sync link's addresses. The yardstick zaro's benchmarks compare against.
 *
 * <p>Each daemon gets a directory of its own under a temporary one: config, log file, lock file
 * and UNIX control socket, so that pairs in different labs (and a machine's own conntrackd) can
 * run side by side. One pair per two namespaces: a second pair on the same ones starts as well
 * (conntrackd binds its UDP port for reuse) and both would read the same events. The daemons run
 * in the foreground as children of this JVM, with conntrackd's default scheduler (SCHED_RR,
 * priority 99, which zaro's agents do not have). {@link #close()} stops them
 * ({@code conntrackd -k}, then SIGKILL) and deletes the directory, whatever happened before.
 *
 * <p>Every client call fails when conntrackd's client exits non-zero or prints {@code [ERROR]}.
 */
public final class ConntrackdPair implements AutoCloseable {
    /** The UDP port of the sync link, conntrackd's customary one. */
    public static final int PORT = 3780;
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
    private static final long CLIENT_TIMEOUT_SECONDS = 600;
    private static final Pattern EXTERNAL = Pattern.compile(
            "cache:external\\s+active objects:\\s+(\\d+)\\s+active/total entries:\\s+(\\d+)/\\s*(\\d+)");
    private static final Pattern INTERNAL = Pattern.compile(
            "cache:internal\\s+active objects:\\s+(\\d+)\\s+active/total entries:\\s+(\\d+)/\\s*(\\d+)");
    private static final Pattern NO_SPACE = Pattern.compile("no space left in cache:\\s+(\\d+)");
    private static final Pattern COMMITTED = Pattern.compile("Committed (\\d+) new entries");
    /** Buckets of the external cache that conntrackd commits per turn of its event loop (its commit_steps). */
    static final int COMMIT_STEP_BUCKETS = 8192;
    private static final Pattern COMMIT_TOOK = Pattern.compile("commit has taken ([0-9.]+) seconds");

    /**
     * The knobs the manual names for a busy firewall, sized for a table of {@code flows}.
     *
     * @param flows the largest table the pair must carry
     * @param hashSize buckets of each cache's hash table ({@code HashSize})
     * @param hashLimit entries each cache may hold ({@code HashLimit}); the manual asks for twice
     *     the kernel's {@code nf_conntrack_max}, as dead entries wait there for retransmission
     * @param resendQueueSize FTFW messages kept until the peer acknowledges them
     *     ({@code ResendQueueSize}); when it is full the oldest are dropped and cannot be resent
     * @param netlinkBufferBytes the event socket's receive buffer ({@code NetlinkBufferSize})
     * @param netlinkBufferMaxBytes how far the daemon doubles it after an overrun
     *     ({@code NetlinkBufferSizeMaxGrowth})
     * @param socketBufferBytes the sync link's UDP send and receive buffers
     *     ({@code SndSocketBuffer}, {@code RcvSocketBuffer})
     * @param eventIterationLimit kernel events handled before the daemon turns to its other
     *     work: the sync link, client requests, a commit's next step ({@code EventIterationLimit})
     * @param kernelFilter filter events in the kernel ({@code Filter From Kernelspace}, which the
     *     manual prefers) rather than in the daemon
     * @param externalCache the backup keeps what it receives in its external cache until a commit
     *     (the manual's recommendation); off, it injects at once
     */
    public record Settings(long flows, long hashSize, long hashLimit, long resendQueueSize,
                           long netlinkBufferBytes, long netlinkBufferMaxBytes, long socketBufferBytes,
                           int eventIterationLimit, boolean kernelFilter, boolean externalCache) {
        /**
         * For a table of up to {@code flows}: {@code HashLimit} twice that (as the manual asks),
         * a resend queue as long as the table, 24 MB UDP buffers (the manual's redundant-link
         * example), and a 64 MB netlink buffer that may grow to 256 MB.
         *
         * <p>{@code HashSize} and {@code EventIterationLimit} are sized together for the commit:
         * the daemon commits {@value #COMMIT_STEP_BUCKETS} buckets of its external cache per turn
         * of its event loop (a constant of conntrackd, not an option), and in each turn reads at
         * most {@code EventIterationLimit} of the events that its own commit raises in its
         * kernel. With the default limit (100) and a quarter as many buckets as entries (the
         * manual's example), a commit of 100 000 flows queues some 90 000 events (about 1.2 KB
         * of socket buffer each), overruns even a 64 MB buffer and leaves the new primary's
         * internal cache short until a resync. At least as many buckets as flows (a bucket's
         * worth of entries per step stays near 8 192) and a limit of 10 000 keep the reader
         * ahead of the commit.
         */
        public static Settings forFlows(long flows) {
            long limit = 2 * flows;
            long buckets = Long.highestOneBit(Math.max(8192, flows - 1)) * 2;
            return new Settings(flows, buckets, limit, Math.max(131_072, flows),
                    64L << 20, 256L << 20, 24_985_600, 10_000, true, true);
        }

        public Settings withNetlinkBuffer(long bytes, long maxBytes) {
            return new Settings(flows, hashSize, hashLimit, resendQueueSize, bytes, maxBytes, socketBufferBytes,
                    eventIterationLimit, kernelFilter, externalCache);
        }

        public Settings withEventIterationLimit(int limit) {
            return new Settings(flows, hashSize, hashLimit, resendQueueSize, netlinkBufferBytes, netlinkBufferMaxBytes,
                    socketBufferBytes, limit, kernelFilter, externalCache);
        }

        public Settings withKernelFilter(boolean kernel) {
            return new Settings(flows, hashSize, hashLimit, resendQueueSize, netlinkBufferBytes, netlinkBufferMaxBytes,
                    socketBufferBytes, eventIterationLimit, kernel, externalCache);
        }

        /**
         * Without the external cache ({@code DisableExternalCache On}) the backup injects each
         * flow into its kernel as it arrives, as zaro's standby does, instead of at the commit.
         */
        public Settings withExternalCache(boolean cache) {
            return new Settings(flows, hashSize, hashLimit, resendQueueSize, netlinkBufferBytes, netlinkBufferMaxBytes,
                    socketBufferBytes, eventIterationLimit, kernelFilter, cache);
        }
    }

    /** One cache of a daemon, as {@code conntrackd -s cache} reports it. */
    public record CacheCount(long active, long total, long noSpaceLeft) {
    }

    /** The outcome of {@link #commit}. */
    public record Commit(Duration took, long committed, double daemonSeconds, long kernelCount) {
    }

    /** The daemon's own account of event loss, from {@code conntrackd -s runtime} and {@code -s}. */
    public record Health(long netlinkOverruns, long kernelResyncs, long netlinkBufferBytes, long lostMessages,
                         long malformedMessages) {
    }

    private final Settings settings;
    private final String syncInterface;
    private final Path dir;
    private final Map<String, Node> nodes = new LinkedHashMap<>();

    /** The daemon of one firewall: its files and, once started, its process (owned by the pair). */
    private static final class Node {
        final Host host;
        final String address;
        final String peerAddress;
        final Path config;
        final Path log;
        final Path out;
        final Path socket;
        final Path lock;
        Process process;

        Node(Host host, String address, String peerAddress, Path dir) {
            this.host = host;
            this.address = address;
            this.peerAddress = peerAddress;
            this.config = dir.resolve("conntrackd.conf");
            this.log = dir.resolve("conntrackd.log");
            this.out = dir.resolve("console.out");
            this.socket = dir.resolve("conntrackd.ctl");
            this.lock = dir.resolve("conntrackd.lock");
        }
    }

    /**
     * A pair for {@code fw1} and {@code fw2}, which must each have one IPv4 address on
     * {@code syncInterface}, on the same link. Writes both configs; {@link #start()} runs the
     * daemons.
     */
    public ConntrackdPair(Host fw1, Host fw2, String syncInterface, Settings settings) {
        this.settings = settings;
        this.syncInterface = syncInterface;
        String a1 = ipv4On(fw1, syncInterface);
        String a2 = ipv4On(fw2, syncInterface);
        try {
            dir = Files.createTempDirectory("zaro-conntrackd");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            nodes.put(fw1.name(), new Node(fw1, a1, a2, Files.createDirectory(dir.resolve("fw1"))));
            nodes.put(fw2.name(), new Node(fw2, a2, a1, Files.createDirectory(dir.resolve("fw2"))));
            for (Node n : nodes.values()) {
                Files.writeString(n.config, config(n));
            }
        } catch (IOException e) {
            deleteFiles();
            throw new UncheckedIOException(e);
        }
    }

    public ConntrackdPair(Host fw1, Host fw2, String syncInterface) {
        this(fw1, fw2, syncInterface, Settings.forFlows(1_000_000));
    }

    public Settings settings() {
        return settings;
    }

    /** Starts both daemons and waits (30 s at most each) until they answer on their UNIX sockets. */
    public void start() {
        for (Node n : nodes.values()) {
            startDaemon(n);
        }
        for (Node n : nodes.values()) {
            awaitAnswer(n);
        }
    }

    /** Stops {@code host}'s daemon and starts a fresh one, with empty caches; waits until it answers. */
    public void restart(Host host) {
        Node n = node(host);
        stopDaemon(n);
        startDaemon(n);
        awaitAnswer(n);
    }

    /** The config file of {@code host}'s daemon. */
    public Path configFile(Host host) {
        return node(host).config;
    }

    /** The text of {@code host}'s config file. */
    public String config(Host host) {
        return read(node(host).config);
    }

    /** {@code host}'s daemon log ({@code LogFile}) so far. */
    public String log(Host host) {
        return read(node(host).log);
    }

    /** The log lines of {@code host}'s daemon that tell of lost events or resynchronisations. */
    public List<String> lossLog(Host host) {
        return log(host).lines().filter(l -> l.contains("overrun") || l.contains("resync") || l.contains("doubled")
                || l.contains("losing") || l.contains("ERROR") || l.contains("WARNING")).toList();
    }

    /** Runs {@code conntrackd -C <config> args...} in {@code host}; fails when it reports an error. */
    public String client(Host host, String... args) {
        Node n = node(host);
        List<String> command = new ArrayList<>(List.of("conntrackd", "-C", n.config.toString()));
        command.addAll(List.of(args));
        Cmd.Result r = host.exec(null, CLIENT_TIMEOUT_SECONDS, command.toArray(String[]::new));
        if (r.exitCode() != 0 || r.stdout().contains("[ERROR]") || r.stderr().contains("[ERROR]")) {
            throw new IllegalStateException("conntrackd " + String.join(" ", args) + " in " + host.name()
                    + " failed (exit " + r.exitCode() + "): " + (r.stderr() + r.stdout()).strip());
        }
        return r.stdout();
    }

    /**
     * The flows in {@code host}'s external cache (the peer's, held for a takeover): the
     * {@code active} count of {@code conntrackd -s cache}, which the daemon keeps as a counter,
     * so asking costs the same for a million entries as for one (dumping with {@code -e}
     * formats every entry).
     */
    public long externalCacheCount(Host host) {
        return externalCache(host).active();
    }

    public CacheCount externalCache(Host host) {
        return cacheCount(host, EXTERNAL);
    }

    /** The flows in {@code host}'s internal cache (its own kernel table, as the daemon mirrors it). */
    public CacheCount internalCache(Host host) {
        return cacheCount(host, INTERNAL);
    }

    /** Counts the lines of a full {@code conntrackd -e} dump: slow, for checking {@link #externalCacheCount}. */
    public long externalCacheDumpCount(Host host) {
        Node n = node(host);
        Cmd.Result r = host.exec(null, CLIENT_TIMEOUT_SECONDS, "sh", "-c",
                "conntrackd -C " + n.config + " -e ct | wc -l").ok();
        return Long.parseLong(r.stdout().trim());
    }

    private CacheCount cacheCount(Host host, Pattern which) {
        String out = client(host, "-s", "cache");
        Matcher m = which.matcher(out);
        if (!m.find()) {
            throw new IllegalStateException("unexpected `conntrackd -s cache` output in " + host.name() + ":\n" + out);
        }
        Matcher space = NO_SPACE.matcher(out);
        long noSpace = 0;
        if (space.find(m.end())) {
            noSpace = Long.parseLong(space.group(1));
        }
        return new CacheCount(Long.parseLong(m.group(2)), Long.parseLong(m.group(3)), noSpace);
    }

    /**
     * Commits {@code host}'s external cache into its kernel table ({@code conntrackd -c}, as the
     * manual's primary-backup.sh does when the node becomes primary) and times it. The client
     * returns once the daemon has finished the commit. Then counts the kernel's table
     * ({@code conntrack -C}), which holds the committed flows and whatever it held before.
     */
    public Commit commit(Host host) {
        int before = logLength(host);
        long start = System.nanoTime();
        client(host, "-c");
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        String added = log(host).substring(before);
        long committed = 0;
        for (Matcher m = COMMITTED.matcher(added); m.find(); ) {
            committed += Long.parseLong(m.group(1));
        }
        double daemonSeconds = 0;
        for (Matcher m = COMMIT_TOOK.matcher(added); m.find(); ) {
            daemonSeconds += Double.parseDouble(m.group(1));
        }
        return new Commit(took, committed, daemonSeconds, kernelCount(host));
    }

    /**
     * Asks the peer for its whole table ({@code conntrackd -n}, as primary-backup.sh does when a
     * node becomes backup): how a fresh or restarted backup gets the primary's flows. The peer
     * answers with a bulk send of its internal cache; this returns at once.
     */
    public void requestResync(Host backup) {
        client(backup, "-n");
    }

    /**
     * Sends {@code primary}'s internal cache to the peer ({@code conntrackd -B}, as
     * primary-backup.sh does after a takeover); this returns at once.
     */
    public void bulkSend(Host primary) {
        client(primary, "-B");
    }

    /** Empties {@code host}'s external cache ({@code conntrackd -f external}). */
    public void flushExternalCache(Host host) {
        client(host, "-f", "external");
    }

    /**
     * Waits until {@code host}'s external cache holds at least {@code expected} flows, polling
     * every 100 ms; gives up once the count has not moved for {@code quiet}.
     *
     * @return the time from the call until it held them, or empty when it never did
     */
    public Optional<Duration> awaitExternalCache(Host host, long expected, Duration quiet) {
        long start = System.nanoTime();
        long last = -1;
        long lastChange = start;
        while (System.nanoTime() - lastChange < quiet.toNanos()) {
            long c = externalCacheCount(host);
            if (c >= expected) {
                return Optional.of(Duration.ofNanos(System.nanoTime() - start));
            }
            if (c != last) {
                last = c;
                lastChange = System.nanoTime();
            }
            sleep(100);
        }
        return Optional.empty();
    }

    /** What {@code host}'s daemon says of overruns, kernel resyncs and sync messages lost. */
    public Health health(Host host) {
        String runtime = client(host, "-s", "runtime");
        String general = client(host, "-s");
        return new Health(number(runtime, "netlink overrun:"), number(runtime, "resync with kernel table:"),
                number(runtime, "current buffer size \\(in bytes\\):"), numberBefore(general, "Lost msgs"),
                numberBefore(general, "Malformed msgs"));
    }

    /** The resident memory of {@code host}'s daemon, in KiB ({@code VmRSS}). */
    public long rssKiB(Host host) {
        return ProcessUsage.of(pid(host)).rssKiB();
    }

    /** The CPU time {@code host}'s daemon has used so far, user and system ({@code utime + stime}). */
    public Duration cpuTime(Host host) {
        return Duration.ofMillis(ProcessUsage.of(pid(host)).cpuMillis());
    }

    /** The process id of {@code host}'s daemon. */
    public long pid(Host host) {
        Process p = node(host).process;
        if (p == null || !p.isAlive()) {
            throw new IllegalStateException("conntrackd is not running in " + host.name() + ":\n" + tail(node(host)));
        }
        return p.pid();
    }

    /** {@code conntrack -C}: the flows in {@code host}'s kernel table. */
    public static long kernelCount(Host host) {
        return Long.parseLong(host.execOk("conntrack", "-C").stdout().trim());
    }

    /** Stops both daemons ({@code conntrackd -k}, then SIGKILL) and deletes their files. */
    @Override
    public void close() {
        try {
            for (Node n : nodes.values()) {
                try {
                    stopDaemon(n);
                } catch (RuntimeException e) {
                    System.err.println("warning: stopping conntrackd in " + n.host.name() + ": " + e.getMessage());
                }
            }
        } finally {
            deleteFiles();
        }
    }

    private String config(Node n) {
        Settings s = settings;
        return """
                # conntrackd for %1$s: an active-backup pair, FTFW over unicast UDP on %2$s (written by ConntrackdPair)
                Sync {
                \tMode FTFW {
                \t\tResendQueueSize %3$d
                \t\tPurgeTimeout 60
                \t\tACKWindowSize 300
                \t\tDisableExternalCache %17$s
                \t}
                \tUDP {
                \t\tIPv4_address %4$s
                \t\tIPv4_Destination_Address %5$s
                \t\tPort %6$d
                \t\tInterface %2$s
                \t\tSndSocketBuffer %7$d
                \t\tRcvSocketBuffer %7$d
                \t\tChecksum on
                \t}
                }
                General {
                \tSystemd no
                \tHashSize %8$d
                \tHashLimit %9$d
                \tLogFile %10$s
                \tSyslog no
                \tLockFile %11$s
                \tUNIX {
                \t\tPath %12$s
                \t}
                \tNetlinkBufferSize %13$d
                \tNetlinkBufferSizeMaxGrowth %14$d
                \tNetlinkOverrunResync on
                \tNetlinkEventsReliable off
                \tEventIterationLimit %16$d
                \tFilter From %15$s {
                \t\tAddress Ignore {
                \t\t\tIPv4_address 127.0.0.1
                \t\t\tIPv6_address ::1
                \t\t\tIPv4_address %4$s
                \t\t\tIPv4_address %5$s
                \t\t}
                \t}
                }
                """.formatted(n.host.name(), syncInterface, s.resendQueueSize(), n.address, n.peerAddress, PORT,
                s.socketBufferBytes(), s.hashSize(), s.hashLimit(), n.log, n.lock, n.socket, s.netlinkBufferBytes(),
                s.netlinkBufferMaxBytes(), s.kernelFilter() ? "Kernelspace" : "Userspace", s.eventIterationLimit(),
                s.externalCache() ? "Off" : "On");
    }

    private void startDaemon(Node n) {
        if (n.process != null && n.process.isAlive()) {
            throw new IllegalStateException("conntrackd already runs in " + n.host.name());
        }
        try {
            // A lock file left by a daemon that was killed would keep the next from starting.
            Files.deleteIfExists(n.lock);
            // In the foreground (no -d), so that the process is ours: `ip netns exec` execs conntrackd.
            n.process = new ProcessBuilder(n.host.wrapCommand("conntrackd", "-C", n.config.toString()))
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(n.out.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start conntrackd in " + n.host.name(), e);
        }
    }

    private void awaitAnswer(Node n) {
        long end = System.nanoTime() + START_TIMEOUT.toNanos();
        while (true) {
            if (!n.process.isAlive()) {
                throw new IllegalStateException("conntrackd exited (" + n.process.exitValue() + ") in " + n.host.name()
                        + ":\n" + tail(n));
            }
            Cmd.Result r = n.host.exec(null, 10, "conntrackd", "-C", n.config.toString(), "-s");
            if (r.exitCode() == 0 && r.stdout().contains("cache internal")) {
                return;
            }
            if (System.nanoTime() > end) {
                throw new IllegalStateException("conntrackd in " + n.host.name() + " does not answer on " + n.socket
                        + " after " + START_TIMEOUT.toSeconds() + " s:\n" + tail(n));
            }
            sleep(50);
        }
    }

    private void stopDaemon(Node n) {
        Process p = n.process;
        if (p == null || !p.isAlive()) {
            return;
        }
        try {
            n.host.exec(null, 10, "conntrackd", "-C", n.config.toString(), "-k");
            if (!p.waitFor(STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            p.destroyForcibly();
            throw e;
        }
    }

    private Node node(Host host) {
        Node n = nodes.get(host.name());
        if (n == null) {
            throw new IllegalArgumentException(host.name() + " is not one of this pair's firewalls");
        }
        return n;
    }

    private int logLength(Host host) {
        return log(host).length();
    }

    private static String tail(Node n) {
        String all = read(n.log) + read(n.out);
        return all.length() > 3000 ? "..." + all.substring(all.length() - 3000) : all;
    }

    private static long number(String text, String label) {
        Matcher m = Pattern.compile(label + "\\s+(\\d+)").matcher(text);
        if (!m.find()) {
            throw new IllegalStateException("no '" + label + "' in conntrackd's statistics:\n" + text);
        }
        return Long.parseLong(m.group(1));
    }

    private static long numberBefore(String text, String label) {
        Matcher m = Pattern.compile("(\\d+)\\s+" + Pattern.quote(label)).matcher(text);
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    private static String ipv4On(Host host, String ifname) {
        String out = host.execOk("ip", "-4", "-br", "address", "show", "dev", ifname).stdout().trim();
        String[] fields = out.split("\\s+");
        for (int i = 2; i < fields.length; i++) {
            String address = fields[i].split("/")[0];
            try {
                if (InetAddress.getByName(address) instanceof Inet4Address) {
                    return address;
                }
            } catch (UnknownHostException e) {
                // not an address
            }
        }
        throw new IllegalArgumentException(host.name() + " has no IPv4 address on " + ifname + ": add one first");
    }

    private static String read(Path p) {
        try {
            return Files.exists(p) ? Files.readString(p) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void deleteFiles() {
        if (dir == null) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException e) {
            System.err.println("warning: could not delete " + dir + ": " + e.getMessage());
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "conntrackd pair %s in %s", nodes.keySet(), dir);
    }
}

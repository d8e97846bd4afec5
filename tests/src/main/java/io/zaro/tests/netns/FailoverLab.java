package io.zaro.tests.netns;

import io.zaro.tests.traffic.EchoClients;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.LongStream;
import java.util.stream.Stream;

/**
 * The failover topology of issue 5, for {@code FailoverKernelTest} and {@code FailoverBenchmark}:
 * client -- fw1 / fw2 -- server, with fw1, fw2 and a broker namespace on a sync bridge. Both
 * firewalls have a strict ruleset (policy drop, {@code ct state invalid drop}, new connections
 * only from the client side, SNAT to a VIP, {@code nf_conntrack_tcp_loose=0}), and zaro agents
 * with {@code role=vrrp}, signing and verifying their records with one key, move two VIPs: the
 * client's gateway and the SNAT address. The server
 * echoes TCP on a port of its own for each run, from {@value #TCP_PORT} up, and UDP on the ports
 * from {@value #UDP_PORT}. (A run that kills its flows behind a dropping firewall leaves the
 * server's ends open; a later connection that met one of them on the same addresses and ports
 * would never get through.)
 *
 * <p>{@link #failover} starts both agents, runs the flows through fw1, switches to fw2 and
 * measures each flow; {@link #failoverConntrackd} runs the same with conntrackd and keepalived in
 * place of zaro, as the yardstick. The lab is closed (namespaces, broker, processes) by
 * {@link #close()}.
 */
public final class FailoverLab implements AutoCloseable {
    /** How a run moves the VIPs from fw1 to fw2. */
    public enum Switch {
        /** fw1's agent is killed with -9 and fw1's links are taken down: fw2 detects the silence. */
        KILL,
        /** {@code zaro handover} over fw1's control socket: publish everything, then priority 0. */
        HANDOVER,
        /**
         * KILL, then, 5 s after fw2 took over, fw1 comes back as from a reboot (empty table, no
         * VIPs, links up, a new agent): it mirrors fw2 and, with the higher priority, takes the
         * VIPs back. The switch measured is this fail-back, and "took over" means fw1 did.
         */
        FAIL_BACK
    }

    /**
     * One flow of a run. {@code echoesAfter} counts its echoes from {@value #WINDOW_FROM_SECONDS}
     * s to {@value #WINDOW_TO_SECONDS} s after fw2 took over. {@code stallNanos} is the longest
     * time without an echo from the flow's last echo before the switch until the end of that
     * window (an open gap at the end counts): for a flow that went on, the stall at the switch,
     * detection and takeover included; for one that died, at least the time since it died.
     * {@code requestsSent} counts the lines it sent until 1 s before the end of the window,
     * {@code requestsLost} those of them whose echo had not come by the end. {@code echoNanos}
     * holds the arrival time of each echo until the end of the window, from the switch (negative
     * before it).
     */
    public record Flow(int index, boolean tcp, long echoesAfter, long stallNanos, long requestsSent, long requestsLost,
                       List<Long> echoNanos) {
        /** Went on through fw2: at least 10 echoes in the window, where about 35 come when nothing happens. */
        public boolean wentOn() {
            return echoesAfter >= 10;
        }
    }

    /**
     * One run: {@code takeoverNanos} is the time from the switch until fw2's agent logged that it
     * holds the VIPs and publishes (as this process saw it, polling every 100 ms; for a handover
     * it includes starting the {@code zaro handover} JVM), or, with conntrackd and keepalived,
     * until fw2 held both VIPs (polled every 100 ms too); the TCP connections come first in
     * {@code flows}, then the UDP flows. {@code milestones} are the steps of the takeover that the
     * pair timed itself, as nanoseconds from the switch in the order they happened: none for
     * zaro; for conntrackd, what keepalived's notify script logged on fw2
     * ({@code committed} when {@code conntrackd -c} returned).
     */
    public record Failover(Switch how, int intervalCentis, long takeoverNanos, List<Flow> flows,
                           Map<String, Long> milestones) {
        public List<Flow> tcp() {
            return flows.stream().filter(Flow::tcp).toList();
        }

        public List<Flow> udp() {
            return flows.stream().filter(f -> !f.tcp()).toList();
        }

        /** The time from the switch until fw2's {@code conntrackd -c} returned, when the run had one. */
        public OptionalLong commitNanos() {
            Long t = milestones.get(ConntrackdKeepalivedPair.COMMITTED);
            return t == null ? OptionalLong.empty() : OptionalLong.of(t);
        }
    }

    public static final int TCP_PORT = 7000;
    public static final int UDP_PORT = 7100;
    /** Each flow sends a line this often (milliseconds): the gap between echoes when nothing happens. */
    public static final int ECHO_INTERVAL_MS = 200;
    static final int WINDOW_FROM_SECONDS = 3;
    public static final int WINDOW_TO_SECONDS = 10;
    private static final String BROKER = "10.99.0.10";
    private static final String SERVER = "10.50.2.2";
    /** The client's gateway, on eth0. */
    static final String GATEWAY_VIP = "10.50.1.254";
    /** The source address of the SNAT towards the server, on eth1. */
    static final String SNAT_VIP = "10.50.2.254";

    private final int connections;
    private final int udpFlows;
    private final Lab lab;
    private final Host client;
    private final Host fw1;
    private final Host fw2;
    private final Host server;
    private final BrokerFixture broker;
    private int runs;
    /** The current run's files, removed by {@link #close()} if the run could not remove them (Ctrl-C). */
    private volatile Path runDir;
    /** The current run's pair, which {@link #close()} closes if the run could not (Ctrl-C). */
    private volatile FirewallPair runPair;
    private volatile Consumer<String> progress = step -> { };
    private volatile Duration leadIn = Duration.ZERO;

    /** Builds the topology and starts the broker and the echo servers for {@code connections} TCP and {@code udpFlows} UDP flows. */
    public FailoverLab(int connections, int udpFlows) {
        this.connections = connections;
        this.udpFlows = udpFlows;
        lab = new Lab();
        BrokerFixture started = null;
        try {
            Host kafka = lab.host("kafka");
            client = lab.host("client");
            fw1 = lab.host("fw1");
            fw2 = lab.host("fw2");
            server = lab.host("server");
            lab.bridge("lan", "eth0", client, fw1, fw2);
            lab.bridge("wan", "eth1", fw1, fw2, server);
            lab.bridge("sync", "sync0", fw1, fw2, kafka);
            client.address("eth0", "10.50.1.2/24").route("default", GATEWAY_VIP);
            server.address("eth1", SERVER + "/24");
            int n = 1;
            for (Host fw : List.of(fw1, fw2)) {
                fw.address("eth0", "10.50.1." + (10 + n) + "/24").address("eth1", "10.50.2." + (10 + n) + "/24")
                        .address("sync0", "10.99.0." + n + "/24").forwarding()
                        .sysctl("net.netfilter.nf_conntrack_tcp_loose", "0");
                fw.nft("""
                        table inet zaro_fw {
                          chain forward { type filter hook forward priority 0; policy drop;
                            ct state invalid drop
                            ct state established,related accept
                            iifname "eth0" oifname "eth1" ct state new accept
                          }
                        }
                        table ip zaro_nat {
                          chain post { type nat hook postrouting priority 100; oifname "eth1" snat to 10.50.2.254; }
                        }
                        """);
                n++;
            }
            kafka.address("sync0", BROKER + "/24");
            started = new BrokerFixture(kafka, BROKER);
            for (int i = 0; i < udpFlows; i++) {
                server.spawn("socat", "UDP4-LISTEN:" + (UDP_PORT + i) + ",reuseaddr,fork", "PIPE");
            }
        } catch (RuntimeException | Error e) {
            lab.close();
            throw e;
        }
        broker = started;
    }

    /** Tells {@code listener} each step of a run, in a few words, as it happens (for the demo). */
    public void onProgress(Consumer<String> listener) {
        progress = listener;
    }

    /** How long the flows run through fw1, once each has echoes, before the switch (none by default). */
    public void leadIn(Duration time) {
        leadIn = time;
    }

    /**
     * Starts fw1's agent (priority 150) on topics {@code fw1Topics} and fw2's (100) on
     * {@code fw2Topics}, both advertising every {@code intervalCentis} hundredths of a second;
     * waits until fw1 alone holds the VIPs; runs the flows through fw1 until each has more than
     * 5 echoes and, with mirroring, until fw2's kernel holds every connection; switches
     * {@code how}; waits until fw2's agent holds the VIPs; measures the flows for
     * {@value #WINDOW_TO_SECONDS} s; stops the flows and the agents. Different topics make a
     * control run without mirroring. Each run starts with both firewalls' links up and their
     * tables empty; use fresh topics for each run.
     */
    public Failover failover(String fw1Topics, String fw2Topics, int intervalCentis, Switch how)
            throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("zaro-failover");
        return run(new ZaroPair(fw1, fw2, BROKER, fw1Topics, fw2Topics, intervalCentis, dir), dir, intervalCentis, how);
    }

    /**
     * The same run as {@code failover(topics, topics, intervalCentis, Switch.KILL)} with
     * conntrackd and keepalived instead of zaro, as conntrack-tools' manual sets them up for an
     * active-backup pair ({@link ConntrackdKeepalivedPair}): keepalived moves the VIPs and runs
     * the manual's primary-backup steps; conntrackd (FTFW over UDP on sync0, external cache)
     * mirrors the table. The run switches once fw2's external cache holds every TCP connection;
     * fw2 took over when it holds both VIPs. {@link Failover#milestones()} has the times the notify
     * script logged, its commit included.
     */
    public Failover failoverConntrackd(int intervalCentis) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("zaro-failover");
        return run(new ConntrackdKeepalivedPair(fw1, fw2, intervalCentis, dir), dir, intervalCentis, Switch.KILL);
    }

    private Failover run(FirewallPair pair, Path dir, int intervalCentis, Switch how)
            throws IOException, InterruptedException {
        runDir = dir;
        runPair = pair;
        Process traffic = null;
        int tcpPort = TCP_PORT + runs++;
        Process echoServer = server.spawn("socat", "TCP4-LISTEN:" + tcpPort + ",fork,reuseaddr,backlog="
                + Math.max(256, connections), "PIPE");
        try {
            for (Host fw : List.of(fw1, fw2)) {
                fw.execOk("ip", "link", "set", "eth0", "up");
                fw.execOk("ip", "link", "set", "eth1", "up");
                fw.exec("conntrack", "-F");
            }
            pair.start();
            // The client and the server start from what they learn now. fw2 holding the VIPs for a
            // moment while the agents start (or in the run before) can leave their ARP caches on
            // fw2 until fw1's announcement 5 s after its takeover: Linux ignores the first ones when
            // they come within a second of fw2's.
            client.execOk("ip", "neigh", "flush", "all");
            server.execOk("ip", "neigh", "flush", "all");
            progress.accept("fw1 holds the VIPs, fw2 is its standby; starting " + connections + " TCP connections and "
                    + udpFlows + " UDP flows through fw1");

            String classes = classPath();
            String java = ProcessHandle.current().info().command().orElse("java");
            traffic = client.spawn(java, "-cp", classes, EchoClients.class.getName(), SERVER, Integer.toString(tcpPort),
                    Integer.toString(connections), Integer.toString(ECHO_INTERVAL_MS), dir.toString(),
                    Integer.toString(UDP_PORT), Integer.toString(udpFlows));
            long running = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            for (int i = 0; i < connections + udpFlows; i++) {
                while (echoes(dir, i).size() <= 5 && System.nanoTime() < running && traffic.isAlive()) {
                    Thread.sleep(100);
                }
                if (echoes(dir, i).size() <= 5) {
                    // Say what went wrong: a flap (a starved JVM misses advertisements) or a dead client.
                    check(false, "flow " + i + " runs through fw1 before the failover (it has " + echoes(dir, i).size()
                            + " echoes after " + Duration.ofNanos(System.nanoTime() - running).plusSeconds(30).toSeconds()
                            + " s; the client is " + (traffic.isAlive() ? "running" : "gone") + "; " + pair.diagnosis()
                            + "; fw1's conntrack entries for the port: "
                            + fw1.exec("conntrack", "-L", "-p", "tcp", "--dport", Integer.toString(tcpPort)).stdout().lines().count()
                            + ")");
                }
            }

            Thread.sleep(leadIn.toMillis());
            // Mirroring is asynchronous: a connection made just before a crash may not have
            // reached the standby yet (on a loaded machine, seconds). The runs measure the
            // failover of mirrored connections, so they switch once fw2 holds them all.
            pair.awaitMirrored(tcpPort, connections);
            progress.accept("every flow runs; " + pair.describe(how));
            long switchAt = pair.switchOver(how);
            long takeover = System.nanoTime();
            progress.accept(String.format(Locale.ROOT, "%s took over %.1f s after the switch; watching the flows for %d s",
                    how == Switch.FAIL_BACK ? "fw1" : "fw2", (takeover - switchAt) / 1e9, WINDOW_TO_SECONDS));
            long windowFrom = takeover + Duration.ofSeconds(WINDOW_FROM_SECONDS).toNanos();
            long windowTo = takeover + Duration.ofSeconds(WINDOW_TO_SECONDS).toNanos();
            Thread.sleep(Math.max(0, (windowTo - System.nanoTime()) / 1_000_000 + 1));

            List<Flow> flows = new ArrayList<>();
            for (int i = 0; i < connections + udpFlows; i++) {
                List<Long> times = echoes(dir, i);
                long after = times.stream().filter(t -> t >= windowFrom && t < windowTo).count();
                List<Long> sent = sent(dir, i);
                long sentBefore = sent.stream().filter(t -> t < windowTo - Duration.ofSeconds(1).toNanos()).count();
                Set<Long> echoed = echoedNumbers(dir, i, windowTo);
                long lost = LongStream.range(0, sentBefore).filter(n -> !echoed.contains(n)).count();
                long from = switchAt;
                List<Long> relative = times.stream().filter(t -> t < windowTo).map(t -> t - from).toList();
                flows.add(new Flow(i, i < connections, after, stall(times, switchAt, windowTo), sentBefore, lost, relative));
            }
            return new Failover(how, intervalCentis, takeover - switchAt, List.copyOf(flows), pair.milestones());
        } finally {
            if (traffic != null) {
                traffic.descendants().forEach(ProcessHandle::destroyForcibly);
                traffic.destroyForcibly();
                traffic.waitFor();
            }
            pair.close();
            runPair = null;
            echoServer.descendants().forEach(ProcessHandle::destroyForcibly);
            echoServer.destroyForcibly();
            echoServer.waitFor();
            deleteQuietly(dir);
            runDir = null;
        }
    }

    /**
     * The longest time without an echo from the last echo before {@code switchAt} until
     * {@code end}, the open gap before {@code end} included.
     */
    static long stall(List<Long> times, long switchAt, long end) {
        long previous = Long.MIN_VALUE;
        for (long t : times) {
            if (t < switchAt) {
                previous = t;
            }
        }
        if (previous == Long.MIN_VALUE) {
            return end - switchAt;
        }
        long worst = 0;
        for (long t : times) {
            if (t > previous && t <= end) {
                worst = Math.max(worst, t - previous);
                previous = t;
            }
        }
        return Math.max(worst, end - previous);
    }

    @Override
    public void close() {
        try {
            broker.close();
        } finally {
            lab.close();
            FirewallPair pair = runPair;
            if (pair != null) {
                pair.close();
            }
            Path dir = runDir;
            if (dir != null) {
                deleteQuietly(dir);
            }
        }
    }

    /** The established TCP connections to {@code port} in {@code h}'s conntrack table. */
    static long established(Host h, int port) {
        return h.exec("conntrack", "-L", "-p", "tcp", "--dport", Integer.toString(port)).stdout().lines()
                .filter(l -> l.contains(" ESTABLISHED ")).count();
    }

    static boolean hasVip(Host h) {
        return h.hasAddress("eth0", GATEWAY_VIP);
    }

    /** Waits (15 s at most) until fw1 holds the VIPs and fw2 does not; fails otherwise. */
    static void awaitFw1Alone(Host fw1, Host fw2) throws InterruptedException {
        long settle = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while ((!hasVip(fw1) || hasVip(fw2)) && System.nanoTime() < settle) {
            Thread.sleep(100);
        }
        check(hasVip(fw1) && !hasVip(fw2), "fw1 is master before the failover");
    }

    /** Takes {@code fw}'s LAN and WAN links down, as when it loses power: its sync link stays up. */
    static void linksDown(Host fw) {
        fw.execOk("ip", "link", "set", "eth0", "down");
        fw.execOk("ip", "link", "set", "eth1", "down");
    }

    /** Removes both VIPs from {@code fw}, where they are (as after a reboot, or a killed daemon's). */
    static void removeVips(Host fw) {
        fw.exec("ip", "address", "del", GATEWAY_VIP + "/24", "dev", "eth0");
        fw.exec("ip", "address", "del", SNAT_VIP + "/24", "dev", "eth1");
    }

    static void check(boolean condition, String what) {
        if (!condition) {
            throw new AssertionError("expected: " + what);
        }
    }

    /** The arrival times EchoClients wrote for flow {@code i}, complete lines only. */
    private static List<Long> echoes(Path dir, int i) throws IOException {
        return lines(dir.resolve("conn-" + i)).stream().map(l -> Long.parseLong(l.split(" ")[0])).toList();
    }

    /** The numbers that came back to flow {@code i} before {@code end}. */
    private static Set<Long> echoedNumbers(Path dir, int i, long end) throws IOException {
        Set<Long> numbers = new HashSet<>();
        for (String line : lines(dir.resolve("conn-" + i))) {
            String[] f = line.split(" ");
            if (f.length == 2 && Long.parseLong(f[0]) < end) {
                numbers.add(Long.parseLong(f[1]));
            }
        }
        return numbers;
    }

    /** The send time of each line of flow {@code i}, line N first sent at the Nth. */
    private static List<Long> sent(Path dir, int i) throws IOException {
        return lines(dir.resolve("sent-" + i)).stream().map(Long::parseLong).toList();
    }

    /** The complete lines of an EchoClients file (none when it does not exist yet). */
    private static List<String> lines(Path f) throws IOException {
        if (!Files.exists(f)) {
            return List.of();
        }
        String text = new String(Files.readAllBytes(f), StandardCharsets.US_ASCII);
        int end = text.lastIndexOf('\n');
        return end < 0 ? List.of() : text.substring(0, end).lines().toList();
    }

    /** Where EchoClients was loaded from (tests/target/classes), for the client's JVM. */
    private static String classPath() {
        try {
            return Path.of(EchoClients.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteQuietly(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException ignored) {
            // a leftover temp directory is harmless
        }
    }
}

package io.zaro.tests.bench;

import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.Family;
import io.zaro.tests.netns.Cmd;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.Lab;
import io.zaro.tests.netns.SyntheticFlows;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * conntrackd's side of the mirror benchmark, on its own: fw1 and fw2 on a sync bridge
 * (10.99.0.0/24) with a {@link ConntrackdPair}; a burst of N flows created on fw1 as
 * {@link CompareBenchmark} creates them; then
 *
 * <ol>
 *   <li>the time from the first create until fw2's external cache holds all N (read from
 *       {@code conntrackd -s cache} every 100 ms), and the flows it never got;</li>
 *   <li>the commit of fw2's external cache into fw2's kernel ({@code conntrackd -c}): its time,
 *       fw2's kernel count afterwards, and the flows of fw1 missing from fw2's kernel (same zone
 *       and original tuple);</li>
 *   <li>the bootstrap of a fresh backup: fw2's daemon restarted with empty caches asks fw1 for
 *       its table ({@code conntrackd -n}); the time until its external cache holds all N; and
 *       the same after fw2's external cache is flushed and fw1 pushes its table
 *       ({@code conntrackd -B});</li>
 *   <li>each daemon's resident memory and CPU time, and what its statistics and log say of
 *       netlink overruns, kernel resyncs and sync messages lost.</li>
 * </ol>
 *
 * <p>Usage: {@code ConntrackdProbe [FLOWS [netlinkMiB=N] [netlinkMaxMiB=N] [eventIterationLimit=N]
 * [filter=Kernelspace|Userspace]]}, default 100000 flows and {@link ConntrackdPair.Settings#forFlows}
 * for a million. Prints fw1's config.
 */
public final class ConntrackdProbe {
    private static final SyntheticFlows FLOWS = new SyntheticFlows("10.20.2.2", "fd20:2::2", "10.20.2.1");
    private static final Path MAX = Path.of("/proc/sys/net/netfilter/nf_conntrack_max");
    private static final Duration QUIET = Duration.ofSeconds(60);

    private ConntrackdProbe() {
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        long needed = 2L * n + 50_000;
        try (RaisedSysctl max = RaisedSysctl.atLeast(MAX, needed, 2L * n + 100_000);
             Lab lab = new Lab()) {
            System.err.println("nf_conntrack_max " + max);
            Host fw1 = lab.host("fw1");
            Host fw2 = lab.host("fw2");
            lab.bridge("sync", "sync0", fw1, fw2);
            fw1.address("sync0", "10.99.0.1/24");
            fw2.address("sync0", "10.99.0.2/24");
            ConntrackdPair.Settings settings = ConntrackdPair.Settings.forFlows(1_000_000);
            for (int i = 1; i < args.length; i++) {
                String[] kv = args[i].split("=", 2);
                settings = switch (kv[0]) {
                    case "netlinkMiB" -> settings.withNetlinkBuffer(Long.parseLong(kv[1]) << 20, settings.netlinkBufferMaxBytes());
                    case "netlinkMaxMiB" -> settings.withNetlinkBuffer(settings.netlinkBufferBytes(), Long.parseLong(kv[1]) << 20);
                    case "eventIterationLimit" -> settings.withEventIterationLimit(Integer.parseInt(kv[1]));
                    case "filter" -> settings.withKernelFilter(kv[1].equalsIgnoreCase("kernelspace"));
                    default -> throw new IllegalArgumentException("unknown setting " + args[i]);
                };
            }
            try (ConntrackdPair pair = new ConntrackdPair(fw1, fw2, "sync0", settings)) {
                System.out.println("## fw1's conntrackd.conf\n\n```\n" + pair.config(fw1) + "```\n");
                pair.start();
                run(pair, fw1, fw2, n);
            }
        }
        System.out.println();
        System.out.println("Machine: " + Runtime.getRuntime().availableProcessors() + " CPUs, "
                + Cmd.run(List.of("uname", "-r")).stdout().trim() + " kernel, "
                + Cmd.run(List.of("conntrackd", "-v")).stdout().lines().findFirst().orElse("conntrackd ?"));
    }

    private static void run(ConntrackdPair pair, Host fw1, Host fw2, int n) throws Exception {
        resources(pair, fw1, fw2, "idle");
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
            Optional<Duration> synced = pair.awaitExternalCache(fw2, n, QUIET);
            ConntrackdPair.CacheCount internal = pair.internalCache(fw1);
            ConntrackdPair.CacheCount external = pair.externalCache(fw2);
            long dumped = pair.externalCacheDumpCount(fw2);
            line("burst: insert on fw1", seconds(inserted - start));
            line("burst: until all in fw2's external cache", synced.isPresent()
                    ? seconds(inserted - start + synced.get().toNanos())
                    : "never (" + external.active() + " after " + QUIET.toSeconds() + " s without change)");
            line("burst: fw1 internal cache (active/total)", internal.active() + "/" + internal.total());
            line("burst: fw2 external cache (-s cache active/total; -e lines)",
                    external.active() + "/" + external.total() + "; " + dumped);
            line("burst: lost (not in fw2's external cache)", Long.toString(Math.max(0, n - external.active())));
            resources(pair, fw1, fw2, "after burst");
            health(pair, fw1, "after burst");

            ConntrackdPair.Commit commit = pair.commit(fw2);
            line("commit on fw2: conntrackd -c", String.format(Locale.ROOT, "%.2f s (daemon's log: %.2f s, %d new entries)",
                    commit.took().toNanos() / 1e9, commit.daemonSeconds(), commit.committed()));
            line("commit: fw2 kernel count", Long.toString(commit.kernelCount()));
            line("commit: fw1 flows missing from fw2's kernel (zone + original)", Long.toString(n - keysOnBoth(t1, fw2, n)));
            ConntrackdPair.CacheCount own = pair.internalCache(fw2);
            line("commit: fw2 internal cache (its kernel's flows, from events)", own.active() + "/" + own.total());
            resources(pair, fw1, fw2, "after commit");
            health(pair, fw2, "after commit");

            pair.restart(fw2);
            long resync = System.nanoTime();
            pair.requestResync(fw2);
            long requested = System.nanoTime();
            Optional<Duration> bootstrapped = pair.awaitExternalCache(fw2, n, QUIET);
            line("bootstrap: fresh fw2, conntrackd -n, until all in its external cache", bootstrapped
                    .map(d -> seconds(requested - resync + d.toNanos()))
                    .orElse("never (" + pair.externalCacheCount(fw2) + ")"));
            line("bootstrap: fw1 external cache (what fresh fw2 sent of its own table)",
                    Long.toString(pair.externalCacheCount(fw1)));

            pair.flushExternalCache(fw2);
            long bulk = System.nanoTime();
            pair.bulkSend(fw1);
            long sent = System.nanoTime();
            Optional<Duration> resent = pair.awaitExternalCache(fw2, n, QUIET);
            line("bulk send: fw2's external cache flushed, conntrackd -B on fw1, until all in it", resent
                    .map(d -> seconds(sent - bulk + d.toNanos()))
                    .orElse("never (" + pair.externalCacheCount(fw2) + ")"));
            resources(pair, fw1, fw2, "after bootstrap");
            health(pair, fw1, "at the end");
            health(pair, fw2, "after bootstrap");
            for (Host h : List.of(fw1, fw2)) {
                for (String l : pair.lossLog(h)) {
                    System.out.println("    " + role(h) + " log: " + l);
                }
            }
        }
    }

    private static void health(ConntrackdPair pair, Host h, String when) {
        ConntrackdPair.Health health = pair.health(h);
        line(role(h) + " " + when + ": netlink overruns / kernel resyncs / netlink buffer / sync msgs lost",
                health.netlinkOverruns() + " / " + health.kernelResyncs() + " / " + health.netlinkBufferBytes()
                        + " B / " + health.lostMessages());
    }

    private static void resources(ConntrackdPair pair, Host fw1, Host fw2, String when) {
        for (Host h : List.of(fw1, fw2)) {
            line(role(h) + " conntrackd " + when + ": RSS / CPU", String.format(Locale.ROOT, "%,d KiB / %.2f s",
                    pair.rssKiB(h), pair.cpuTime(h).toMillis() / 1e3));
        }
    }

    private static String seconds(long nanos) {
        return String.format(Locale.ROOT, "%.2f s", nanos / 1e9);
    }

    private static void line(String what, String value) {
        String row = "| " + what + " | " + value + " |";
        System.out.println(row);
        System.err.println(row);
    }

    private static String role(Host h) {
        return h.name().substring(h.name().lastIndexOf('-') + 1);
    }

    /** How many of fw1's flows {@code fw2}'s kernel holds (same zone and original tuple). */
    private static long keysOnBoth(ConntrackTable t1, Host fw2, int n) {
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

    private static String key(ConntrackEntry e) {
        return e.zone() + " " + e.original();
    }
}

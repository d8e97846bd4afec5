package io.zaro.agent.cli;

import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackEvent;
import io.zaro.conntrack.ConntrackEventListener;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.EventOptions;
import io.zaro.conntrack.EventSubscription;
import io.zaro.conntrack.Family;
import java.io.PrintWriter;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code zaro conntrack}: what the bindings see, as {@code conntrack -L} and {@code conntrack -E} show it. */
@Command(name = "conntrack", mixinStandardHelpOptions = true,
        description = "Read the kernel's conntrack table as zaro sees it.",
        subcommands = {ConntrackCommand.ListCommand.class, ConntrackCommand.WatchCommand.class})
public final class ConntrackCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static class TableOptions {
        @Option(names = "--netns", paramLabel = "NAME",
                description = "Network namespace to read (as `ip netns` names it); default: this one.")
        String netns;

        @Option(names = "--family", paramLabel = "FAMILY", defaultValue = "all",
                description = "ipv4, ipv6 or all (default: ${DEFAULT-VALUE}).")
        String family;

        @Option(names = "--json", description = "One JSON object per line instead of conntrack's text format.")
        boolean json;

        Family family() {
            return switch (family.toLowerCase(java.util.Locale.ROOT)) {
                case "ipv4", "4" -> Family.IPV4;
                case "ipv6", "6" -> Family.IPV6;
                case "all", "any" -> Family.ALL;
                default -> throw new IllegalArgumentException("--family must be ipv4, ipv6 or all, not '" + family + "'");
            };
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "Print every conntrack entry (like `conntrack -L`).")
    static final class ListCommand implements Runnable {
        @picocli.CommandLine.Mixin
        TableOptions options = new TableOptions();

        @Spec
        CommandSpec spec;

        @Override
        public void run() {
            Family family = options.family();
            PrintWriter out = spec.commandLine().getOut();
            EntryFormat format = new EntryFormat(options.json);
            long[] count = {0};
            try (ConntrackTable table = Conntrack.open(options.netns)) {
                table.dump(family, e -> {
                    out.println(format.entry(e));
                    count[0]++;
                });
            }
            out.flush();
            spec.commandLine().getErr().println("zaro: " + count[0] + " flow entries listed");
        }
    }

    @Command(name = "watch", mixinStandardHelpOptions = true,
            description = "Print conntrack events as they happen (like `conntrack -E`), until Ctrl-C.")
    static final class WatchCommand implements Runnable {
        @picocli.CommandLine.Mixin
        TableOptions options = new TableOptions();

        @Option(names = "--receive-buffer", paramLabel = "BYTES",
                description = "Event socket receive buffer (default: ${DEFAULT-VALUE}).",
                defaultValue = "" + EventOptions.DEFAULT_RECEIVE_BUFFER_BYTES)
        int receiveBuffer;

        @Option(names = "--duration", paramLabel = "SECONDS",
                description = "Stop after this many seconds (default: run until interrupted).")
        Long durationSeconds;

        @Spec
        CommandSpec spec;

        @Override
        public void run() {
            Family family = options.family();
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            EntryFormat format = new EntryFormat(options.json);
            CountDownLatch done = new CountDownLatch(1);
            java.util.concurrent.atomic.AtomicReference<io.zaro.conntrack.ConntrackException> failed =
                    new java.util.concurrent.atomic.AtomicReference<>();
            try (ConntrackTable table = Conntrack.open(options.netns);
                 EventSubscription sub = table.listen(
                         EventOptions.defaults().withReceiveBufferBytes(receiveBuffer),
                         new ConntrackEventListener() {
                             @Override
                             public void onEvent(ConntrackEvent event) {
                                 if (family == Family.ALL || event.entry().family() == family) {
                                     synchronized (out) {
                                         out.println(format.event(event));
                                         out.flush();
                                     }
                                 }
                             }

                             @Override
                             public void onEventLoss(long lossCount) {
                                 err.println("zaro: events lost: the receive buffer overran (" + lossCount
                                         + " times so far); raise --receive-buffer");
                                 err.flush();
                             }

                             @Override
                             public void onFailure(io.zaro.conntrack.ConntrackException error) {
                                 failed.set(error);
                                 done.countDown();
                             }
                         })) {
                Thread hook = new Thread(done::countDown);
                Runtime.getRuntime().addShutdownHook(hook);
                try {
                    if (durationSeconds != null) {
                        done.await(durationSeconds, TimeUnit.SECONDS);
                    } else {
                        done.await();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                err.println("zaro: " + sub.eventCount() + " events, " + sub.lossCount() + " overruns");
                err.flush();
                if (failed.get() != null) {
                    throw failed.get();
                }
            }
        }
    }
}

package io.zaro.agent.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.zaro.agent.config.AgentConfig;
import io.zaro.agent.config.ConfigException;
import io.zaro.agent.mirror.NodeFilter;
import io.zaro.agent.mirror.TableDiff;
import io.zaro.agent.mirror.TableDiff.Difference;
import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackException;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.Family;
import io.zaro.conntrack.Tuple;
import io.zaro.conntrack.filter.Cidr;
import io.zaro.conntrack.filter.FlowFilter;
import io.zaro.kafka.StateSnapshot;
import io.zaro.kafka.record.FlowId;
import io.zaro.kafka.record.FlowRecord;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code zaro verify}: compares the active's conntrack table with a standby's and reports each
 * flow that differs (see {@link TableDiff}). Exit 0 when they match, 1 when they differ, 2 when
 * they could not be compared.
 */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Compare the active's conntrack table with a standby's, flow by flow, and print each "
                + "difference: a flow missing on the standby, an extra one on the standby (a ghost), or one whose "
                + "reply tuple (NAT), TCP or SCTP state, reply and assured status, mark, labels or helper differ. "
                + "Timeouts, counters and TCP window tracking differ legitimately and are not compared.",
                "Only flows the agent mirrors count: the configuration's filter, each node's own addresses and the "
                + "sync link's networks apply, as the agents apply them. A difference found is checked again after "
                + "--settle seconds and reported only when it is still there, so that records in flight do not count.",
                "A SOURCE is state-topic (what the active published to Kafka, as a standby would inject it), kernel "
                + "(this host's table), netns:NAME (the table of a network namespace of this host) or a file of "
                + "`zaro conntrack list --json` taken on the other node (- for standard input).",
                "Exit status: 0 when the tables match, 1 when they differ, 2 when they could not be compared (one "
                + "sentence on stderr)."})
public final class VerifyCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Mixin
    KafkaOptions kafka = new KafkaOptions();

    @Mixin
    FlowMatch.Options filter = new FlowMatch.Options();

    @Option(names = "--active", paramLabel = "SOURCE", defaultValue = Source.STATE_TOPIC,
            description = "The active's table (default: ${DEFAULT-VALUE}).")
    String active;

    @Option(names = "--standby", paramLabel = "SOURCE", defaultValue = Source.KERNEL,
            description = "The standby's table (default: ${DEFAULT-VALUE}).")
    String standby;

    @Option(names = "--ignore", paramLabel = "NETWORK", split = ",",
            description = "Leave out flows from or to these networks too (ADDRESS[/LEN], comma-separated or repeated): "
                    + "the active's own addresses, when its table comes from a file.")
    List<String> ignore = new ArrayList<>();

    @Option(names = "--settle", paramLabel = "SECONDS", defaultValue = "2",
            description = "How long to wait before checking the differences found again; 0 checks once "
                    + "(default: ${DEFAULT-VALUE}).")
    double settleSeconds;

    @Option(names = "--json", description = "One JSON object per difference, then one with the counts.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        try {
            return verify();
        } catch (ConntrackException | ConfigException | IllegalArgumentException | IllegalStateException
                 | UncheckedIOException e) {
            spec.commandLine().getErr().println("zaro: " + e.getMessage());
            return 2;
        }
    }

    private int verify() {
        FlowMatch match = filter.match();
        if (!(settleSeconds >= 0 && settleSeconds <= 3600)) {
            throw new IllegalArgumentException("--settle must be 0..3600 seconds, not " + settleSeconds);
        }
        List<Cidr> ignored = new ArrayList<>();
        for (String network : ignore) {
            try {
                ignored.add(Cidr.parse(network));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--ignore must be networks such as 192.0.2.1 or 10.0.0.0/8, not '"
                        + network + "'");
            }
        }
        Source a = Source.parse(active, "--active");
        Source s = Source.parse(standby, "--standby");
        if (a.equals(s)) {
            throw new IllegalArgumentException("--active and --standby are both " + active + ": name the other node's table");
        }
        KafkaOptions.Access access = kafka.resolve(true);
        Reader reader = new Reader(access, ignored);

        Comparison first = compare(reader.read(a), reader.read(s), match);
        Comparison result = first;
        if (!first.differences().isEmpty() && settleSeconds > 0) {
            sleep(Duration.ofMillis((long) (settleSeconds * 1000)));
            result = persisting(first, compare(reader.read(a), reader.read(s), match));
        }
        print(result);
        return result.differences().isEmpty() ? 0 : 1;
    }

    /** What verify compares and found. */
    record Comparison(List<Difference> differences, int activeFlows, int standbyFlows, int leftOut) {
    }

    /**
     * Compares the flows both nodes' agents mirror and {@code match} selects. A flow counts when
     * the filters of both sides accept it, judged on the active's entry when it has one: a flow
     * the active's agent would not publish, or the standby's would not inject, is neither missing
     * nor a ghost.
     */
    static Comparison compare(Table active, Table standby, FlowMatch match) {
        Set<FlowId> ids = new LinkedHashSet<>(active.flows().keySet());
        ids.addAll(standby.flows().keySet());
        Map<FlowId, ConntrackEntry> a = new LinkedHashMap<>();
        Map<FlowId, ConntrackEntry> s = new LinkedHashMap<>();
        int leftOut = 0;
        for (FlowId id : ids) {
            ConntrackEntry onActive = active.flows().get(id);
            ConntrackEntry onStandby = standby.flows().get(id);
            ConntrackEntry judged = onActive != null ? onActive : onStandby;
            if (!match.matches(judged)) {
                continue;
            }
            if (active.unjudged().contains(id) || standby.unjudged().contains(id)
                    || !active.filter().accepts(judged) || !standby.filter().accepts(judged)) {
                leftOut++;
                continue;
            }
            if (onActive != null) {
                a.put(id, onActive);
            }
            if (onStandby != null) {
                s.put(id, onStandby);
            }
        }
        List<Difference> differences = new ArrayList<>(TableDiff.compare(a, s));
        differences.sort((x, y) -> FlowLine.ORDER.compare(entry(x), entry(y)));
        return new Comparison(differences, a.size(), s.size(), leftOut);
    }

    /**
     * The second comparison with only the differences the first found too (the same kind for the
     * same flow): what records in flight caused is gone by then.
     */
    static Comparison persisting(Comparison first, Comparison second) {
        Set<String> before = first.differences().stream().map(VerifyCommand::identity).collect(Collectors.toSet());
        return new Comparison(second.differences().stream().filter(d -> before.contains(identity(d))).toList(),
                second.activeFlows(), second.standbyFlows(), second.leftOut());
    }

    private static ConntrackEntry entry(Difference d) {
        return d.active() != null ? d.active() : d.standby();
    }

    private static String identity(Difference d) {
        return d.kind() + " " + d.flow();
    }

    private void print(Comparison c) {
        PrintWriter out = spec.commandLine().getOut();
        for (Difference d : c.differences()) {
            out.println(json ? json(d) : text(d));
        }
        long missing = count(c.differences(), TableDiff.Kind.MISSING);
        long extra = count(c.differences(), TableDiff.Kind.EXTRA);
        long different = count(c.differences(), TableDiff.Kind.DIFFERENT);
        if (json) {
            ObjectNode n = JSON.createObjectNode();
            n.put("match", c.differences().isEmpty());
            n.put("missing", missing);
            n.put("extra", extra);
            n.put("different", different);
            n.put("active_flows", c.activeFlows());
            n.put("standby_flows", c.standbyFlows());
            n.put("left_out", c.leftOut());
            out.println(n);
        } else {
            out.println("zaro: " + summary(c, missing, extra, different));
        }
        out.flush();
    }

    static String summary(Comparison c, long missing, long extra, long different) {
        String leftOut = " (" + c.leftOut() + (c.leftOut() == 1 ? " flow" : " flows") + " the agent does not mirror left out)";
        if (c.differences().isEmpty()) {
            return "the tables match: " + c.activeFlows() + " mirrored " + (c.activeFlows() == 1 ? "flow" : "flows")
                    + " on both" + leftOut;
        }
        return "the tables differ: " + missing + " missing on the standby, " + extra + " extra on the standby, "
                + different + " different, of " + c.activeFlows() + " mirrored flows on the active and "
                + c.standbyFlows() + " on the standby" + leftOut;
    }

    static String text(Difference d) {
        return switch (d.kind()) {
            case MISSING -> "missing on the standby: " + FlowLine.flow(d.active());
            case EXTRA -> "extra on the standby (ghost): " + FlowLine.flow(d.standby());
            case DIFFERENT -> "different: " + FlowLine.flow(d.active()) + ": " + d.fields().stream()
                    .map(f -> f.name() + " " + value(f.active()) + " on the active, " + value(f.standby())
                            + " on the standby")
                    .collect(Collectors.joining("; "));
        };
    }

    static String json(Difference d) {
        ObjectNode n = JSON.createObjectNode();
        n.put("difference", d.kind().name().toLowerCase(java.util.Locale.ROOT));
        if (d.active() != null) {
            n.set("active", EntryFormat.toJson(d.active()));
        }
        if (d.standby() != null) {
            n.set("standby", EntryFormat.toJson(d.standby()));
        }
        if (!d.fields().isEmpty()) {
            ArrayNode fields = n.putArray("fields");
            d.fields().forEach(f -> fields.addObject().put("field", f.name()).put("active", value(f.active()))
                    .put("standby", value(f.standby())));
        }
        return n.toString();
    }

    /** A field's value as the lines print it. */
    static String value(Object v) {
        if (v == null) {
            return "none";
        }
        if (v instanceof Tuple t) {
            return FlowLine.tuple(t);
        }
        if (v instanceof Boolean b) {
            return b ? "yes" : "no";
        }
        if (v instanceof Collection<?> c) {
            return c.isEmpty() ? "none" : c.stream().map(String::valueOf).collect(Collectors.joining(","));
        }
        return v.toString();
    }

    private static long count(List<Difference> differences, TableDiff.Kind kind) {
        return differences.stream().filter(d -> d.kind() == kind).count();
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while letting the tables settle", e);
        }
    }

    /**
     * Where one side's table comes from.
     *
     * @param netns for {@link #KERNEL}-like sources: the namespace, or null for this process's
     * @param file for a file source: its path, "-" for standard input
     */
    record Source(String kind, String netns, Path file) {
        static final String STATE_TOPIC = "state-topic";
        static final String KERNEL = "kernel";
        static final String NETNS_PREFIX = "netns:";
        static final String FILE = "file";

        static Source parse(String text, String option) {
            if (text.equals(STATE_TOPIC)) {
                return new Source(STATE_TOPIC, null, null);
            }
            if (text.equals(KERNEL)) {
                return new Source(KERNEL, null, null);
            }
            if (text.startsWith(NETNS_PREFIX)) {
                String name = text.substring(NETNS_PREFIX.length());
                if (!name.matches("[A-Za-z0-9._-]+")) {
                    throw new IllegalArgumentException(option + " " + text + " names no namespace: write netns:NAME, "
                            + "NAME as `ip netns list` shows it");
                }
                return new Source(KERNEL, name, null);
            }
            if (text.isBlank()) {
                throw new IllegalArgumentException(option + " must be state-topic, kernel, netns:NAME or a file");
            }
            return new Source(FILE, null, Path.of(text));
        }
    }

    /**
     * One side's flows and the filter of the agent on that side.
     *
     * @param unjudged flows neither side's agent acts on (the standby's own records in the state
     *     topic): left out of the comparison
     */
    record Table(Map<FlowId, ConntrackEntry> flows, FlowFilter filter, Set<FlowId> unjudged) {
    }

    /** Reads sources; holds what they share. A file is read once: it does not change, and standard input cannot be read again. */
    private final class Reader {
        private final KafkaOptions.Access access;
        private final List<Cidr> ignored;
        private final Map<Path, Table> files = new HashMap<>();

        Reader(KafkaOptions.Access access, List<Cidr> ignored) {
            this.access = access;
            this.ignored = ignored;
        }

        Table read(Source source) {
            AgentConfig cfg = access.config();
            return switch (source.kind()) {
                case Source.STATE_TOPIC -> stateTopic(cfg);
                case Source.KERNEL -> {
                    List<ConntrackEntry> entries;
                    try (ConntrackTable table = Conntrack.open(source.netns())) {
                        entries = table.dump(Family.ALL);
                    }
                    yield new Table(index(entries), NodeFilter.of(cfg, source.netns()).ignoring(ignored), Set.of());
                }
                default -> files.computeIfAbsent(source.file(),
                        f -> new Table(index(file(f)), cfg.filter().ignoring(ignored), Set.of()));
            };
        }

        /**
         * What the active published, as the standby's injector takes it: the flows of other nodes
         * whose mirrored timeout has not run out; the records this node published itself (while it
         * was master) are neither injected nor ghosts.
         */
        private Table stateTopic(AgentConfig cfg) {
            StateSnapshot state = access.read(() -> StateSnapshot.read(access.client(), access.topics(), access.timeout()));
            if (!state.malformed().isEmpty()) {
                spec.commandLine().getErr().println("zaro: " + state.malformed().size() + " malformed records in "
                        + access.topics().state() + " left out (zaro dump shows them)");
            }
            Map<FlowId, ConntrackEntry> flows = new LinkedHashMap<>();
            Set<FlowId> own = new HashSet<>();
            long now = Clock.systemUTC().instant().getEpochSecond();
            for (FlowRecord r : state.flows()) {
                FlowId id = FlowId.of(r.entry());
                if (r.nodeId().equals(cfg.nodeId())) {
                    own.add(id);
                } else if (stillMirrored(r, now, cfg.timeoutGrace())) {
                    flows.put(id, r.entry());
                }
            }
            if (!own.isEmpty()) {
                spec.commandLine().getErr().println("zaro: " + own.size() + " flows in " + access.topics().state()
                        + " were published by this node (" + cfg.nodeId() + ") and are left out, as its injector leaves "
                        + "them: run zaro verify on the standby, with the standby's configuration");
            }
            return new Table(flows, cfg.filter().ignoring(ignored), own);
        }

        private List<ConntrackEntry> file(Path file) {
            boolean stdin = file.toString().equals("-");
            String name = stdin ? "standard input" : file.toString();
            try (BufferedReader in = stdin
                    ? new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))
                    : Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                return EntryJson.read(in, name);
            } catch (NoSuchFileException e) {
                throw new IllegalArgumentException(name + " does not exist: a SOURCE is state-topic, kernel, netns:NAME, "
                        + "or a file of `zaro conntrack list --json`");
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read " + name + ": " + e.getMessage());
            }
        }
    }

    /** Whether the standby still holds a flow of this record: its timeout, less the record's age, plus the grace. */
    static boolean stillMirrored(FlowRecord r, long nowEpochSecond, Duration grace) {
        long timeout = r.entry().timeout() == null ? 0 : r.entry().timeout();
        long age = Math.max(0, nowEpochSecond - r.timestamp().getEpochSecond());
        return timeout - age + grace.toSeconds() > 0;
    }

    private static Map<FlowId, ConntrackEntry> index(List<ConntrackEntry> entries) {
        Map<FlowId, ConntrackEntry> out = new LinkedHashMap<>();
        entries.forEach(e -> out.put(FlowId.of(e), e));
        return out;
    }
}

package io.zaro.agent.cli;

import io.zaro.kafka.StateSnapshot;
import io.zaro.kafka.record.FlowRecord;
import java.io.PrintWriter;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code zaro dump}: the mirrored table as the state topic holds it, which is what a standby
 * bootstraps from. Reads Kafka, not a kernel, so it works on any host with the configuration.
 */
@Command(name = "dump", mixinStandardHelpOptions = true,
        description = {"Print the mirrored table: each flow's latest record in the state topic (PREFIX.state), "
                + "flows that ended (tombstones) left out; what a standby bootstrapping now would inject. One line per "
                + "flow, as zaro tail prints records, then the count (on stderr).",
                "Reads Kafka, not the kernel: it works on any host that reaches the cluster. A record that is not a "
                + "valid zaro record is printed as such."})
public final class DumpCommand implements Callable<Integer> {
    private static final Comparator<FlowRecord> ORDER = Comparator.comparing(FlowRecord::entry, FlowLine.ORDER);

    @Mixin
    KafkaOptions kafka = new KafkaOptions();

    @Mixin
    FlowMatch.Options filter = new FlowMatch.Options();

    @Option(names = "--json", description = "One JSON object per flow (the flow as `zaro conntrack list --json` "
            + "prints an entry).")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        FlowMatch match = filter.match();
        KafkaOptions.Access access = kafka.resolve(false);
        StateSnapshot state = access.read(() -> StateSnapshot.read(access.client(), access.topics(), access.timeout()));
        PrintWriter out = spec.commandLine().getOut();
        FlowLine line = new FlowLine(json);
        List<FlowRecord> flows = state.flows().stream().sorted(ORDER).toList();
        long shown = 0;
        for (FlowRecord r : flows) {
            if (match.matches(r.entry())) {
                out.println(line.record(r));
                shown++;
            }
        }
        state.malformed().forEach(m -> out.println(line.malformed(m.topic(), m.partition(), m.offset(), m.time(),
                m.reason())));
        out.flush();
        spec.commandLine().getErr().println("zaro: " + summary(shown, flows.size(), match.isAll(), access.topics().state(),
                state.malformed().size()));
        return 0;
    }

    static String summary(long shown, long flows, boolean all, String topic, int malformed) {
        return (all ? flows + plural(flows, " flow") : shown + " of " + flows + plural(flows, " flow") + " matching")
                + " in " + topic + (malformed > 0 ? "; " + malformed + plural(malformed, " malformed record") : "");
    }

    private static String plural(long n, String what) {
        return n == 1 ? what : what + "s";
    }
}

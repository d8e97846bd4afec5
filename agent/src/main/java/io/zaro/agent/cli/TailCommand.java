package io.zaro.agent.cli;

import io.zaro.kafka.EventsTopicReader;
import io.zaro.kafka.record.FlowRecord;
import io.zaro.kafka.record.FlowRecordCodec;
import io.zaro.kafka.record.MalformedRecordException;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.errors.WakeupException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code zaro tail}: the events topic, the audit log of every change the active published, as it happens. */
@Command(name = "tail", mixinStandardHelpOptions = true,
        description = {"Follow the events topic (PREFIX.events, the audit log: every NEW, UPDATE and DESTROY the "
                + "active publishes) and print each record on one line: time, node, event, protocol, original tuple "
                + "-> reply tuple, state, mark and zone.",
                "Reads Kafka, from any host that reaches the cluster: the agent's configuration names it. Prints only "
                + "new records unless --from-beginning; runs until Ctrl-C or --count. A record that is not a valid "
                + "zaro record is printed as such, whatever the filters."})
public final class TailCommand implements Callable<Integer> {
    @Mixin
    KafkaOptions kafka = new KafkaOptions();

    @Mixin
    FlowMatch.Options filter = new FlowMatch.Options();

    @Option(names = "--from-beginning", description = "Start at the oldest record the topic keeps, not at its end.")
    boolean fromBeginning;

    @Option(names = "--count", paramLabel = "N", description = "Exit after N records that match.")
    Long count;

    @Option(names = "--json", description = "One JSON object per record (the flow as `zaro conntrack list --json` "
            + "prints an entry).")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        FlowMatch match = filter.match();
        if (count != null && count < 1) {
            throw new IllegalArgumentException("--count must be 1 or more, not " + count);
        }
        KafkaOptions.Access access = kafka.resolve(false);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        FlowLine line = new FlowLine(json);
        CountDownLatch done = new CountDownLatch(1);
        try (EventsTopicReader reader = access.read(() -> new EventsTopicReader(access.client(), access.topics(),
                fromBeginning, access.timeout()))) {
            Thread hook = new Thread(() -> {
                reader.wakeup();
                try {
                    done.await(5, TimeUnit.SECONDS); // let the reader close before the JVM goes
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "zaro-tail-stop");
            Runtime.getRuntime().addShutdownHook(hook);
            err.println("zaro: following " + access.topics().events() + " (" + reader.partitionCount() + " partitions) "
                    + (fromBeginning ? "from its beginning" : "from now on")
                    + (count == null ? ", until Ctrl-C" : ", until " + count + (count == 1 ? " record matches" : " records match")));
            err.flush();
            try {
                long shown = 0;
                follow:
                while (true) {
                    for (ConsumerRecord<byte[], byte[]> r : access.read(() -> reader.poll(Duration.ofMillis(500)))) {
                        if (print(r, match, line, out) && count != null && ++shown >= count) {
                            break follow;
                        }
                    }
                    out.flush();
                }
                out.flush();
            } catch (WakeupException e) {
                // Ctrl-C
            } finally {
                removeQuietly(hook);
            }
        } finally {
            done.countDown();
        }
        return 0;
    }

    /** Prints the record if it matches, or a line saying it is malformed; true when it matched. */
    static boolean print(ConsumerRecord<byte[], byte[]> r, FlowMatch match, FlowLine line, PrintWriter out) {
        FlowRecord record;
        try {
            if (r.value() == null) {
                throw new MalformedRecordException("a record without a value");
            }
            record = FlowRecordCodec.decode(r.value());
            if (r.key() == null || !Arrays.equals(r.key(), FlowRecordCodec.encodeKey(record.entry()))) {
                throw new MalformedRecordException("its key is not its flow's");
            }
        } catch (MalformedRecordException e) {
            out.println(line.malformed(r.topic(), r.partition(), r.offset(), Instant.ofEpochMilli(r.timestamp()),
                    e.getMessage()));
            return false;
        }
        if (!match.matches(record.entry())) {
            return false;
        }
        out.println(line.record(record, r.partition(), r.offset()));
        return true;
    }

    private static void removeQuietly(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook is running
        }
    }
}

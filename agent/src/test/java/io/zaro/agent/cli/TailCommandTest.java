package io.zaro.agent.cli;

import static io.zaro.agent.cli.FlowLineTest.NAT_TCP;
import static io.zaro.agent.cli.FlowLineTest.TIME;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.agent.Main;
import io.zaro.conntrack.ConntrackEvent;
import io.zaro.kafka.record.FlowRecord;
import io.zaro.kafka.record.FlowRecordCodec;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@code zaro tail} makes of each record, and the one-sentence errors of the commands that read Kafka. */
class TailCommandTest {
    private static final byte[] KEY = FlowRecordCodec.encodeKey(NAT_TCP);
    private static final byte[] VALUE = FlowRecordCodec.encode(new FlowRecord(ConntrackEvent.Type.NEW, "fw1", 1, TIME, NAT_TCP));

    private static ConsumerRecord<byte[], byte[]> record(byte[] key, byte[] value) {
        return new ConsumerRecord<>("zaro.events", 2, 40, key, value);
    }

    private static String print(ConsumerRecord<byte[], byte[]> r, FlowMatch match, boolean[] matched) {
        StringWriter s = new StringWriter();
        matched[0] = TailCommand.print(r, match, new FlowLine(false), new PrintWriter(s, true));
        return s.toString();
    }

    @Test
    void aRecordThatMatchesIsPrintedAndCounted() {
        boolean[] matched = {false};
        assertEquals(new FlowLine(false).record(new FlowRecord(ConntrackEvent.Type.NEW, "fw1", 1, TIME, NAT_TCP)) + "\n",
                print(record(KEY, VALUE), FlowMatch.ALL, matched));
        assertTrue(matched[0]);
        assertEquals("", print(record(KEY, VALUE), new FlowMatch(null, 22, null), matched));
        assertFalse(matched[0]);
    }

    @Test
    void aMalformedRecordIsPrintedAsSuchWhateverTheFilterAndNotCounted() {
        FlowMatch nothing = new FlowMatch(null, 22, null);
        for (ConsumerRecord<byte[], byte[]> bad : List.of(
                record(KEY, "garbage".getBytes()),
                record(KEY, new byte[0]),
                record(KEY, null),
                record(null, VALUE),
                record(FlowRecordCodec.encodeKey(NAT_TCP.toBuilder().zone(3).build()), VALUE))) {
            boolean[] matched = {true};
            String line = print(bad, nothing, matched);
            assertTrue(line.matches("\\S+ malformed record at zaro\\.events-2@40: [^\\n]+\\n"), line);
            assertFalse(matched[0]);
        }
        assertTrue(print(record(null, VALUE), FlowMatch.ALL, new boolean[1]).endsWith(": its key is not its flow's\n"));
        assertTrue(print(record(KEY, null), FlowMatch.ALL, new boolean[1]).endsWith(": a record without a value\n"));
    }

    private static String[] run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new String[] {Integer.toString(code), out.toString(), err.toString()};
    }

    @Test
    void aClusterThatDoesNotAnswerIsOneSentence() {
        // Port 1 of the loopback: nothing listens, every connection is refused at once.
        for (String command : List.of("tail", "dump")) {
            String[] r = run(command, "--bootstrap-server", "127.0.0.1:1", "--timeout", "2", "--config",
                    writeConfig().toString());
            assertEquals("1", r[0], r[2]);
            assertEquals("zaro: the Kafka cluster at 127.0.0.1:1 did not answer within 2 s: check kafka.bootstrap.servers "
                    + "(or --bootstrap-server) and that a broker is reachable from here", r[2].strip());
        }
    }

    @Test
    void badOptionsAreOneSentence() {
        Path config = writeConfig();
        assertEquals("zaro: --count must be 1 or more, not 0", run("tail", "--count", "0", "--config", config.toString())[2].strip());
        assertEquals("zaro: --protocol must be tcp, udp, icmp, icmpv6, sctp or a protocol number, not 'tcpp'",
                run("dump", "--protocol", "tcpp", "--config", config.toString())[2].strip());
        assertEquals("zaro: --bootstrap-server must be HOST:PORT[,HOST:PORT...], not 'broker'",
                run("dump", "--bootstrap-server", "broker", "--config", config.toString())[2].strip());
        assertEquals("zaro: topic prefix 'a b' may use only letters, digits, '.', '_' and '-'",
                run("tail", "--topic-prefix", "a b", "--config", config.toString())[2].strip());
        String[] missing = run("dump", "--config", "/nonexistent/zaro.properties");
        assertEquals("1", missing[0]);
        assertEquals("zaro: config file /nonexistent/zaro.properties does not exist: create it (see the README's "
                + "configuration section) or pass --config", missing[2].strip());
    }

    @Test
    void eachCommandHasHelp() {
        for (String command : List.of("tail", "dump", "verify")) {
            String[] r = run(command, "--help");
            assertEquals("0", r[0], r[2]);
            assertTrue(r[1].startsWith("Usage: zaro " + command + " "), r[1]);
            for (String option : List.of("--config", "--bootstrap-server", "--address", "--port", "--protocol", "--json")) {
                assertTrue(r[1].contains(option), command + " has " + option + ":\n" + r[1]);
            }
        }
        assertTrue(run("--help")[1].contains("verify"), "zaro lists the commands");
    }

    @Test
    void theCountOfADumpSaysWhatItCounted() {
        assertEquals("6 flows in zaro.state", DumpCommand.summary(6, 6, true, "zaro.state", 0));
        assertEquals("1 flow in zaro.state; 1 malformed record", DumpCommand.summary(1, 1, true, "zaro.state", 1));
        assertEquals("2 of 6 flows matching in ops.state; 3 malformed records", DumpCommand.summary(2, 6, false, "ops.state", 3));
        assertEquals("0 flows in zaro.state", DumpCommand.summary(0, 0, true, "zaro.state", 0));
    }

    @TempDir
    Path dir;

    private Path writeConfig() {
        try {
            return Files.writeString(dir.resolve("zaro.properties"), """
                    node.id=fw2
                    role=standby
                    kafka.bootstrap.servers=192.0.2.10:9092
                    """);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}

package io.zaro.agent.cli;

import static io.zaro.agent.cli.FlowLineTest.NAT_TCP;
import static io.zaro.agent.cli.FlowLineTest.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.zaro.agent.Main;
import io.zaro.agent.mirror.TableDiff;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.Status;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import io.zaro.conntrack.filter.Cidr;
import io.zaro.conntrack.filter.FlowFilter;
import io.zaro.kafka.record.FlowId;
import io.zaro.kafka.record.FlowRecord;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code zaro verify} on tables taken with {@code zaro conntrack list --json}, and its comparison rules. */
class VerifyCommandTest {
    private static final ConntrackEntry UDP = ConntrackEntry.builder(
                    Tuple.ofPorts(ip("10.20.1.2"), ip("10.20.2.2"), IpProtocol.UDP, 33000, 5001))
            .status(Status.SEEN_REPLY, Status.ASSURED).mark(42).timeout(120).build();
    /** fw1's own Kafka connection over the sync link: never mirrored. */
    private static final ConntrackEntry SYNC = ConntrackEntry.builder(
                    Tuple.ofPorts(ip("10.99.0.1"), ip("10.99.0.10"), IpProtocol.TCP, 41000, 9092))
            .status(Status.SEEN_REPLY, Status.ASSURED).tcp(TcpInfo.of(TcpState.ESTABLISHED)).timeout(432000).build();
    /** An ssh session to fw1's own address. */
    private static final ConntrackEntry SSH = ConntrackEntry.builder(
                    Tuple.ofPorts(ip("10.20.1.50"), ip("10.20.1.1"), IpProtocol.TCP, 50000, 22))
            .status(Status.SEEN_REPLY, Status.ASSURED).tcp(TcpInfo.of(TcpState.ESTABLISHED)).timeout(432000).build();
    private static final ConntrackEntry GHOST = ConntrackEntry.builder(
            Tuple.ofPorts(ip("10.20.1.2"), ip("10.20.2.2"), IpProtocol.UDP, 7777, 53)).timeout(30).build();

    @TempDir
    Path dir;
    private Path config;

    @BeforeEach
    void config() throws IOException {
        config = Files.writeString(dir.resolve("zaro.properties"), """
                node.id=fw2
                role=standby
                kafka.bootstrap.servers=192.0.2.10:9092
                filter.ignore.networks=10.99.0.0/24
                """);
    }

    private Path table(String name, ConntrackEntry... entries) throws IOException {
        return Files.writeString(dir.resolve(name), Arrays.stream(entries).map(e -> EntryFormat.toJson(e).toString())
                .collect(Collectors.joining("\n", "", "\n")));
    }

    private static String[] run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new String[] {Integer.toString(code), out.toString(), err.toString()};
    }

    private String[] verify(Path active, Path standby, String... more) {
        List<String> args = new java.util.ArrayList<>(List.of("verify", "--config", config.toString(), "--active",
                active.toString(), "--standby", standby.toString(), "--settle", "0"));
        args.addAll(List.of(more));
        return run(args.toArray(String[]::new));
    }

    @Test
    void tablesThatDifferOnlyInTimeoutsAndUnmirroredFlowsMatch() throws IOException {
        Path fw1 = table("fw1.json", NAT_TCP, UDP, SYNC, SSH);
        Path fw2 = table("fw2.json", NAT_TCP.toBuilder().timeout(432090).id(5L).build(), UDP.toBuilder().timeout(200).build());
        String[] r = verify(fw1, fw2, "--ignore", "10.20.1.1");
        assertEquals("0", r[0], r[1] + r[2]);
        assertEquals("zaro: the tables match: 2 mirrored flows on both (2 flows the agent does not mirror left out)\n", r[1]);
        assertEquals("", r[2]);
    }

    @Test
    void eachDifferenceIsOneLineAndTheExitStatusIsOne() throws IOException {
        Path fw1 = table("fw1.json", NAT_TCP, UDP, SYNC, SSH);
        Path fw2 = table("fw2.json", UDP.toBuilder().mark(99).build(), GHOST);
        String[] r = verify(fw1, fw2);
        assertEquals("1", r[0], r[1] + r[2]);
        assertEquals(List.of(
                "missing on the standby: tcp 10.20.1.2:40000>10.20.2.2:5000 -> 10.20.2.2:5000>10.20.2.1:40000 ESTABLISHED "
                        + "[ASSURED] mark=42 timeout=432000",
                "missing on the standby: tcp 10.20.1.50:50000>10.20.1.1:22 -> 10.20.1.1:22>10.20.1.50:50000 ESTABLISHED "
                        + "[ASSURED] timeout=432000",
                "extra on the standby (ghost): udp 10.20.1.2:7777>10.20.2.2:53 -> 10.20.2.2:53>10.20.1.2:7777 [UNREPLIED] "
                        + "timeout=30",
                "different: udp 10.20.1.2:33000>10.20.2.2:5001 -> 10.20.2.2:5001>10.20.1.2:33000 [ASSURED] mark=42 "
                        + "timeout=120: mark 42 on the active, 99 on the standby",
                "zaro: the tables differ: 2 missing on the standby, 1 extra on the standby, 1 different, of 3 mirrored "
                        + "flows on the active and 2 on the standby (1 flow the agent does not mirror left out)"),
                r[1].lines().toList());
    }

    @Test
    void theFiltersOfTheCommandNarrowTheComparison() throws IOException {
        Path fw1 = table("fw1.json", NAT_TCP, UDP);
        Path fw2 = table("fw2.json", UDP.toBuilder().mark(99).build(), GHOST);
        String[] r = verify(fw1, fw2, "--port", "5000");
        assertEquals("1", r[0]);
        assertEquals(2, r[1].lines().count(), r[1]);
        assertTrue(r[1].startsWith("missing on the standby: tcp 10.20.1.2:40000>10.20.2.2:5000"), r[1]);
        String[] udp = verify(fw1, fw2, "--protocol", "udp", "--address", "10.20.1.2", "--port", "5001");
        assertEquals("1", udp[0]);
        assertTrue(udp[1].startsWith("different: udp") && udp[1].lines().count() == 2, udp[1]);
        assertEquals("0", verify(fw1, fw2, "--protocol", "icmp")[0], "nothing to compare is no difference");
    }

    @Test
    void asJsonEachDifferenceIsAnObjectThenTheCounts() throws Exception {
        Path fw1 = table("fw1.json", NAT_TCP, UDP);
        Path fw2 = table("fw2.json", UDP.toBuilder().mark(99).build(), GHOST);
        String[] r = verify(fw1, fw2, "--json");
        assertEquals("1", r[0], r[2]);
        ObjectMapper m = new ObjectMapper();
        List<JsonNode> lines = r[1].lines().map(l -> {
            try {
                return m.readTree(l);
            } catch (IOException e) {
                throw new AssertionError(l, e);
            }
        }).toList();
        assertEquals(4, lines.size(), r[1]);
        assertEquals("missing", lines.get(0).get("difference").asText());
        assertEquals(5000, lines.get(0).get("active").get("original").get("dport").asInt());
        assertFalse(lines.get(0).has("standby"));
        assertEquals("extra", lines.get(1).get("difference").asText());
        assertEquals(7777, lines.get(1).get("standby").get("original").get("sport").asInt());
        assertFalse(lines.get(1).has("active"));
        assertEquals("different", lines.get(2).get("difference").asText());
        assertEquals("mark", lines.get(2).get("fields").get(0).get("field").asText());
        assertEquals("42", lines.get(2).get("fields").get(0).get("active").asText());
        assertEquals("99", lines.get(2).get("fields").get(0).get("standby").asText());
        JsonNode counts = lines.get(3);
        assertFalse(counts.get("match").asBoolean());
        assertEquals(1, counts.get("missing").asInt());
        assertEquals(1, counts.get("extra").asInt());
        assertEquals(1, counts.get("different").asInt());
        assertEquals(2, counts.get("active_flows").asInt());
    }

    @Test
    void aTableReadFromStandardInput() throws IOException {
        Path fw1 = table("fw1.json", NAT_TCP);
        java.io.InputStream stdin = System.in;
        try {
            System.setIn(new java.io.ByteArrayInputStream((EntryFormat.toJson(NAT_TCP) + "\n").getBytes()));
            String[] r = run("verify", "--config", config.toString(), "--active", fw1.toString(), "--standby", "-");
            assertEquals("0", r[0], r[1] + r[2]);
            // Read once: the check after --settle compares the same table, not an empty second read.
            System.setIn(new java.io.ByteArrayInputStream((EntryFormat.toJson(NAT_TCP) + "\n" + EntryFormat.toJson(GHOST)
                    + "\n").getBytes()));
            String[] ghost = run("verify", "--config", config.toString(), "--active", fw1.toString(), "--standby", "-",
                    "--settle", "0.1");
            assertEquals("1", ghost[0], ghost[1] + ghost[2]);
            assertTrue(ghost[1].startsWith("extra on the standby (ghost): udp 10.20.1.2:7777>"), ghost[1]);
        } finally {
            System.setIn(stdin);
        }
    }

    @Test
    void whatCannotBeComparedIsOneSentenceAndExitStatusTwo() throws IOException {
        Path fw1 = table("fw1.json", NAT_TCP);
        Path bad = Files.writeString(dir.resolve("bad.json"), "{\"protocol\":\"tcp\"}\n");
        assertError(verify(fw1, dir.resolve("fw2.json")), "zaro: " + dir.resolve("fw2.json") + " does not exist: a SOURCE "
                + "is state-topic, kernel, netns:NAME, or a file of `zaro conntrack list --json`");
        assertError(verify(fw1, bad), "zaro: line 1 of " + bad + " is not an entry as `zaro conntrack list --json` prints "
                + "it (no 'original')");
        assertError(verify(fw1, fw1), "zaro: --active and --standby are both " + fw1 + ": name the other node's table");
        assertError(run("verify", "--config", config.toString(), "--active", "kernel", "--standby", "netns:"),
                "zaro: --standby netns: names no namespace: write netns:NAME, NAME as `ip netns list` shows it");
        assertError(run("verify", "--config", config.toString(), "--active", fw1.toString(), "--settle", "-1"),
                "zaro: --settle must be 0..3600 seconds, not -1.0");
        assertError(verify(fw1, bad, "--ignore", "10.0.0.1/8"), "zaro: --ignore must be networks such as 192.0.2.1 or "
                + "10.0.0.0/8, not '10.0.0.1/8'");
        assertError(verify(fw1, bad, "--port", "x"), null);
        assertError(run("verify", "--config", dir.resolve("none.properties").toString(), "--active", fw1.toString(),
                "--standby", fw1 + "x"), "zaro: config file " + dir.resolve("none.properties") + " does not exist: create "
                + "it (see the README's configuration section) or pass --config");
    }

    private static void assertError(String[] r, String message) {
        assertEquals("2", r[0], r[1] + r[2]);
        assertEquals("", r[1]);
        if (message != null) {
            assertEquals(message, r[2].strip());
        }
        assertFalse(r[2].contains("\tat "), "no stack trace: " + r[2]);
    }

    // ------------------------------------------------------------------ the rules, without files

    private static VerifyCommand.Table table(FlowFilter filter, Set<FlowId> unjudged, ConntrackEntry... entries) {
        Map<FlowId, ConntrackEntry> flows = new LinkedHashMap<>();
        for (ConntrackEntry e : entries) {
            flows.put(FlowId.of(e), e);
        }
        return new VerifyCommand.Table(flows, filter, unjudged);
    }

    @Test
    void aFlowCountsOnlyWhenBothSidesFiltersAcceptItJudgedOnTheActivesEntry() {
        FlowFilter activeOwn = FlowFilter.all().ignoring(List.of(Cidr.parse("10.20.1.1")));
        FlowFilter standbyOwn = FlowFilter.all().ignoring(List.of(Cidr.parse("10.20.1.3"), Cidr.parse("10.99.0.0/24")));
        ConntrackEntry toStandby = ConntrackEntry.builder(
                Tuple.ofPorts(ip("10.20.1.50"), ip("10.20.1.3"), IpProtocol.TCP, 50000, 22)).build();
        FlowFilter established = new FlowFilter(List.of(), List.of(), Set.of(), Set.of(TcpState.ESTABLISHED), Set.of(), 0, 0);
        ConntrackEntry closing = NAT_TCP.toBuilder().tcp(TcpInfo.of(TcpState.FIN_WAIT)).build();
        VerifyCommand.Comparison c = VerifyCommand.compare(
                table(activeOwn, Set.of(), SSH, SYNC, closing),
                table(standbyOwn, Set.of(), SSH, SYNC, toStandby, NAT_TCP), FlowMatch.ALL);
        // SSH and toStandby are missing or extra only as far as one side's filter knows; NAT_TCP differs in state.
        assertEquals(List.of(TableDiff.Kind.DIFFERENT), c.differences().stream().map(TableDiff.Difference::kind).toList());
        assertEquals(3, c.leftOut(), "SSH (the active's own), SYNC and toStandby (the standby's own)");
        // Only established flows mirrored: the active's flow left that state, the standby's copy did not yet.
        VerifyCommand.Comparison filtered = VerifyCommand.compare(table(established, Set.of(), closing),
                table(FlowFilter.all(), Set.of(), NAT_TCP), FlowMatch.ALL);
        assertEquals(List.of(), filtered.differences(), "the active's FIN_WAIT flow is no longer mirrored: not a ghost");
        assertEquals(1, filtered.leftOut());
    }

    @Test
    void flowsTheStandbyPublishedItselfAreNeitherMissingNorGhosts() {
        VerifyCommand.Comparison c = VerifyCommand.compare(table(FlowFilter.all(), Set.of(FlowId.of(UDP), FlowId.of(GHOST)),
                NAT_TCP), table(FlowFilter.all(), Set.of(), NAT_TCP, GHOST), FlowMatch.ALL);
        assertEquals(List.of(), c.differences());
        assertEquals(1, c.activeFlows());
        assertEquals(1, c.leftOut());
    }

    @Test
    void onlyDifferencesFoundTwiceAreReported() {
        VerifyCommand.Comparison first = VerifyCommand.compare(table(FlowFilter.all(), Set.of(), NAT_TCP, UDP),
                table(FlowFilter.all(), Set.of(), UDP.toBuilder().mark(1).build(), GHOST), FlowMatch.ALL);
        assertEquals(3, first.differences().size());
        // Meanwhile the standby got NAT_TCP and UDP's update, still holds the ghost, and the active has a new flow.
        ConntrackEntry fresh = GHOST.toBuilder().build();
        VerifyCommand.Comparison second = VerifyCommand.compare(table(FlowFilter.all(), Set.of(), NAT_TCP, UDP, SSH),
                table(FlowFilter.all(), Set.of(), NAT_TCP, UDP, fresh), FlowMatch.ALL);
        VerifyCommand.Comparison settled = VerifyCommand.persisting(first, second);
        assertEquals(List.of("EXTRA " + FlowId.of(GHOST)), settled.differences().stream()
                .map(d -> d.kind() + " " + d.flow()).toList());
        assertEquals(3, settled.activeFlows(), "the counts are the second pass's");
    }

    @Test
    void aRecordIsStillMirroredUntilItsTimeoutAndTheGraceHaveRunOut() {
        Instant at = Instant.parse("2026-12-06T02:00:00Z");
        FlowRecord r = new FlowRecord(ConntrackEvent.Type.NEW, "fw1", 1, at, UDP); // timeout 120
        long then = at.getEpochSecond();
        assertTrue(VerifyCommand.stillMirrored(r, then, Duration.ofSeconds(90)));
        assertTrue(VerifyCommand.stillMirrored(r, then + 209, Duration.ofSeconds(90)));
        assertFalse(VerifyCommand.stillMirrored(r, then + 210, Duration.ofSeconds(90)));
        assertTrue(VerifyCommand.stillMirrored(r, then - 1000, Duration.ofSeconds(90)), "a clock behind is no age");
        FlowRecord noTimeout = new FlowRecord(ConntrackEvent.Type.UPDATE, "fw1", 2, at, UDP.toBuilder().timeout(null).build());
        assertTrue(VerifyCommand.stillMirrored(noTimeout, then + 89, Duration.ofSeconds(90)));
        assertFalse(VerifyCommand.stillMirrored(noTimeout, then + 90, Duration.ofSeconds(90)));
    }
}

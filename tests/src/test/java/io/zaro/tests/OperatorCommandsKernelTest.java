package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.zaro.conntrack.Addresses;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.Status;
import io.zaro.tests.netns.AgentProcess;
import io.zaro.tests.netns.BrokerFixture;
import io.zaro.tests.netns.Cmd;
import io.zaro.tests.netns.ConntrackCli;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import io.zaro.tests.netns.ZaroCli;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The operator's commands against a running pair (issue 6): client -- fw1 (active) -- server,
 * fw2 standby, fw1, fw2 and the project's broker on a sync bridge, as in {@code MirrorKernelTest}.
 * A TCP connection (source-NATed), a UDP flow with a mark and a ping run through fw1 for the whole
 * class; {@code zaro tail} and {@code zaro dump} run inside fw2 with the agent's configuration,
 * {@code zaro verify} compares fw1's and fw2's kernels, first mirrored, then after the test
 * deleted, added and changed entries in fw2's. The methods run in order: the last one breaks fw2's
 * copy.
 */
@KernelTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class OperatorCommandsKernelTest {
    private static final String BROKER = "10.99.0.10";
    private static final String CLIENT = "10.20.1.2";
    private static final String SERVER = "10.20.2.2";
    private static final String NAT = "10.20.2.1";
    private static final ObjectMapper JSON = new ObjectMapper();

    private Lab lab;
    private Host fw1;
    private Host fw2;
    private Host kafka;
    private BrokerFixture broker;
    private Path dir;
    /** The standby's configuration, which the commands read as an operator on fw2 would. */
    private String config;
    private final List<AgentProcess> agents = new ArrayList<>();

    @BeforeAll
    void mirroredPairWithTraffic() throws IOException {
        lab = new Lab();
        Host client = lab.host("client");
        fw1 = lab.host("fw1");
        fw2 = lab.host("fw2");
        Host server = lab.host("server");
        kafka = lab.host("kafka");
        lab.link(client, "eth0", fw1, "eth0");
        lab.link(fw1, "eth1", server, "eth0");
        lab.bridge("sync", "sync0", fw1, fw2, kafka);
        client.address("eth0", CLIENT + "/24").route("default", "10.20.1.1");
        fw1.address("eth0", "10.20.1.1/24").address("eth1", NAT + "/24").address("sync0", "10.99.0.1/24").forwarding();
        fw2.address("sync0", "10.99.0.2/24");
        kafka.address("sync0", BROKER + "/24");
        server.address("eth0", SERVER + "/24");
        fw1.nft("""
                table inet zaro_fw {
                  chain forward { type filter hook forward priority 0; policy drop;
                    ct state established,related accept
                    iifname "eth0" ct state new accept
                  }
                  chain marking { type filter hook forward priority 10; udp dport 5001 ct mark set 42; }
                }
                table ip zaro_nat {
                  chain post { type nat hook postrouting priority 100; oifname "eth1" snat to 10.20.2.1; }
                }
                """);
        broker = new BrokerFixture(kafka, BROKER);
        dir = Files.createTempDirectory("zaro-operator");
        // No refresh while the class runs: nothing but the test changes fw2's copy once the flows are mirrored.
        String common = """
                kafka.bootstrap.servers=%s:9092
                kafka.topic.prefix=ops
                kafka.topic.partitions=3
                filter.sync.interface=sync0
                mirror.refresh.interval.seconds=300
                mirror.timeout.grace.seconds=700
                """.formatted(BROKER);
        config = Files.writeString(dir.resolve("fw2.properties"), "node.id=fw2\nrole=standby\n" + common).toString();
        agents.add(AgentProcess.start(fw2, "node.id=fw2\nrole=standby\n" + common));
        agents.add(AgentProcess.start(fw1, "node.id=fw1\nrole=active\n" + common));
        agents.get(0).awaitLog("bootstrap:", Duration.ofSeconds(60));
        agents.get(1).awaitLog("publishing", Duration.ofSeconds(60));

        server.spawn("socat", "TCP4-LISTEN:5000,fork,reuseaddr", "PIPE");
        server.spawn("socat", "UDP4-LISTEN:5001,reuseaddr", "PIPE");
        poll("the server listens", Duration.ofSeconds(10), () -> server.execOk("ss", "-ltn").stdout().contains(":5000 ") ? true : null);
        client.spawn("sh", "-c", "while :; do echo x; sleep 0.3; done | socat - TCP4:" + SERVER + ":5000");
        client.spawn("sh", "-c", "while :; do echo x; sleep 0.3; done | socat - UDP4:" + SERVER + ":5001");
        client.spawn("ping", "-i", "0.3", SERVER);
        // Settled: the TCP connection established, the UDP flow assured (its last event), the ping answered.
        poll("three settled client flows on fw1", Duration.ofSeconds(30), () -> {
            List<ConntrackEntry> flows = clientFlows(fw1);
            return flows.size() == 3 && flows.stream().allMatch(e -> Status.SEEN_REPLY.isSet(e.status()))
                    && flows.stream().filter(e -> Status.ASSURED.isSet(e.status())).count() == 2 ? true : null;
        });
    }

    @AfterAll
    void teardown() {
        try {
            agents.forEach(AgentProcess::close);
            if (broker != null) {
                broker.close();
            }
        } finally {
            lab.close();
        }
    }

    // ------------------------------------------------------------------ tests

    @Test
    @Order(1)
    void tailPrintsTheActivesRecordsFromTheBeginningWithFilters() throws IOException {
        List<String> tcp = zaroOk(fw2, "tail", "--config", config, "--from-beginning", "--port", "5000", "--count", "2")
                .stdout().lines().toList();
        assertEquals(2, tcp.size(), String.join("\n", tcp));
        // A flow's records are in order in its partition: its NEW comes first, with the translated reply tuple.
        assertTrue(Pattern.matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z fw1 NEW     tcp 10\\.20\\.1\\.2:\\d+>"
                + "10\\.20\\.2\\.2:5000 -> 10\\.20\\.2\\.2:5000>10\\.20\\.2\\.1:\\d+ SYN_SENT \\[UNREPLIED\\] timeout=\\d+",
                tcp.get(0)), tcp.get(0));
        assertTrue(tcp.get(1).contains(" fw1 UPDATE  tcp 10.20.1.2:") && tcp.get(1).contains(">10.20.2.2:5000 -> "),
                tcp.get(1));

        // The UDP flow found by the address NAT gave it (only in its reply tuple), as JSON.
        JsonNode udp = JSON.readTree(zaroOk(fw2, "tail", "--config", config, "--from-beginning", "--address", NAT,
                "--protocol", "udp", "--count", "1", "--json").stdout());
        assertEquals("fw1", udp.get("node").asText());
        assertEquals("NEW", udp.get("event").asText());
        assertEquals("udp", udp.get("flow").get("protocol").asText());
        assertEquals(5001, udp.get("flow").get("original").get("dport").asInt());
        assertEquals(NAT, udp.get("flow").get("reply").get("dst").asText());
        assertEquals(42, udp.get("flow").get("mark").asLong(), "the mark was set before the flow was confirmed");
        assertTrue(udp.get("offset").asLong() >= 0 && udp.has("sequence"), udp.toString());

        String ping = zaroOk(fw2, "tail", "--config", config, "--from-beginning", "--protocol", "icmp", "--count", "1").stdout();
        assertTrue(ping.contains(" fw1 NEW     icmp 10.20.1.2>10.20.2.2 type=8 code=0 id="), ping);
    }

    @Test
    @Order(2)
    void tailFromNowShowsOnlyNewRecordsAndAMalformedOneWithoutStopping() throws Exception {
        Path out = dir.resolve("tail.out");
        Path err = dir.resolve("tail.err");
        Process tail = fw2.spawn("sh", "-c", "exec " + String.join(" ", ZaroCli.command("tail", "--config", config,
                "--protocol", "tcp", "--count", "1")) + " > " + out + " 2> " + err);
        poll("tail follows", Duration.ofSeconds(30), () -> read(err).contains("zaro: following ops.events (3 partitions) "
                + "from now on, until 1 record matches") ? true : null);
        kafka.exec("this is not a zaro record\n", 30, "kcat", "-b", BROKER + ":9092", "-P", "-t", "ops.events").ok();
        poll("tail prints the malformed record", Duration.ofSeconds(30), () -> read(out).contains("malformed") ? true : null);
        assertTrue(tail.isAlive(), "a malformed record does not stop tail, nor count: " + read(err));
        fw1.execOk("conntrack", "-I", "-p", "tcp", "-s", CLIENT, "-d", SERVER, "--sport", "41000", "--dport", "5005",
                "--state", "ESTABLISHED", "-u", "SEEN_REPLY,ASSURED", "-t", "600");
        assertTrue(tail.waitFor(30, TimeUnit.SECONDS), "tail exits after --count records: " + read(out) + read(err));
        assertEquals(0, tail.exitValue(), read(err));
        List<String> lines = read(out).lines().toList();
        assertEquals(2, lines.size(), "the new flow's record and nothing of the older TCP flow: " + lines);
        assertTrue(Pattern.matches("\\S+ malformed record at ops\\.events-\\d@\\d+: not a zaro record: .*", lines.get(0)),
                lines.get(0));
        assertTrue(lines.get(1).contains(" fw1 NEW     tcp 10.20.1.2:41000>10.20.2.2:5005 -> 10.20.2.2:5005>10.20.1.2:41000 "
                + "ESTABLISHED [ASSURED] timeout="), lines.get(1));
    }

    @Test
    @Order(3)
    void dumpListsWhatTheStateTopicHoldsForTheStandby() throws IOException {
        // The four client flows of fw1 (the one conntrack -I added included): what a standby would inject.
        Set<String> onFw1 = clientFlows(fw1).stream().map(OperatorCommandsKernelTest::key)
                .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(4, onFw1.size(), onFw1.toString());
        Cmd.Result json = zaroOk(fw2, "dump", "--config", config, "--json");
        Set<String> dumped = new TreeSet<>();
        for (String line : json.stdout().lines().toList()) {
            JsonNode flow = JSON.readTree(line).get("flow");
            assertEquals("fw1", JSON.readTree(line).get("node").asText(), line);
            dumped.add(key(flow));
        }
        assertEquals(onFw1, dumped, "the state topic holds fw1's mirrored flows, and nothing of the sync link");
        assertEquals("zaro: 4 flows in ops.state", json.stderr().strip());

        Cmd.Result udp = zaroOk(fw2, "dump", "--config", config, "--protocol", "udp");
        List<String> lines = udp.stdout().lines().toList();
        assertEquals(1, lines.size(), udp.stdout());
        assertTrue(Pattern.matches("\\S+ fw1 UPDATE  udp 10\\.20\\.1\\.2:\\d+>10\\.20\\.2\\.2:5001 -> 10\\.20\\.2\\.2:5001>10\\.20\\.2\\.1:\\d+ "
                + "\\[ASSURED\\] mark=42 timeout=\\d+", lines.get(0)), lines.get(0));
        assertEquals("zaro: 1 of 4 flows matching in ops.state", udp.stderr().strip());
    }

    @Test
    @Order(4)
    void verifyFindsTheMirroredTablesEqualWhereverTheActivesTableComesFrom() throws IOException {
        // Both kernels, from this host: fw1 tracks its agent's Kafka connections over the sync link;
        // they are not mirrored, so they are left out rather than missing on the standby.
        Cmd.Result kernels = zaro(null, "verify", "--config", config, "--active", "netns:" + fw1.name(),
                "--standby", "netns:" + fw2.name());
        assertEquals(0, kernels.exitCode(), kernels.stdout() + kernels.stderr());
        Matcher m = Pattern.compile("zaro: the tables match: 4 mirrored flows on both \\((\\d+) flows the agent does not "
                + "mirror left out\\)\n").matcher(kernels.stdout());
        assertTrue(m.matches(), kernels.stdout());
        assertTrue(Integer.parseInt(m.group(1)) >= 1, "at least fw1's agent's Kafka connection: " + kernels.stdout());

        // On fw2 as in production: its kernel against what fw1 published (the defaults).
        Cmd.Result topic = zaro(fw2, "verify", "--config", config);
        assertEquals(0, topic.exitCode(), topic.stdout() + topic.stderr());
        assertTrue(topic.stdout().startsWith("zaro: the tables match: 4 mirrored flows on both"), topic.stdout());

        // On fw2, against fw1's table taken there with zaro conntrack list --json.
        Path fw1Table = dir.resolve("fw1.json");
        Files.writeString(fw1Table, zaroOk(fw1, "conntrack", "list", "--json").stdout());
        Cmd.Result file = zaro(fw2, "verify", "--config", config, "--active", fw1Table.toString());
        assertEquals(0, file.exitCode(), file.stdout() + file.stderr());
        assertTrue(file.stdout().startsWith("zaro: the tables match: 4 mirrored flows on both"), file.stdout());
    }

    @Test
    @Order(5)
    void verifyNamesAFlowMissingOnTheStandbyAGhostAndAChangedMarkAndExitsOne() throws IOException {
        fw2.execOk("conntrack", "-D", "-p", "tcp", "--dport", "5000");
        fw2.execOk("conntrack", "-I", "-p", "udp", "-s", CLIENT, "-d", SERVER, "--sport", "7777", "--dport", "53", "-t", "600");
        // conntrack -U changes a mark only given the whole original tuple (its filter mode fails with EOPNOTSUPP).
        ConntrackEntry udp = ConntrackCli.list(fw2, "-p", "udp", "--dport", "5001").get(0);
        fw2.execOk("conntrack", "-U", "-p", "udp", "-s", CLIENT, "-d", SERVER, "--sport",
                Integer.toString(udp.original().sourcePort()), "--dport", "5001", "-m", "99");

        Cmd.Result kernels = zaro(null, "verify", "--config", config, "--active", "netns:" + fw1.name(),
                "--standby", "netns:" + fw2.name());
        assertEquals(1, kernels.exitCode(), kernels.stdout() + kernels.stderr());
        assertDifferences(kernels.stdout());

        // fw2's kernel against the state topic finds the same three.
        Cmd.Result topic = zaro(fw2, "verify", "--config", config);
        assertEquals(1, topic.exitCode(), topic.stdout() + topic.stderr());
        assertDifferences(topic.stdout());

        Cmd.Result one = zaro(fw2, "verify", "--config", config, "--port", "5001", "--json", "--settle", "0");
        assertEquals(1, one.exitCode(), one.stdout() + one.stderr());
        List<String> lines = one.stdout().lines().toList();
        assertEquals(2, lines.size(), one.stdout());
        JsonNode different = JSON.readTree(lines.get(0));
        assertEquals("different", different.get("difference").asText());
        assertEquals("mark", different.get("fields").get(0).get("field").asText());
        assertEquals(99, different.get("standby").get("mark").asLong());
        assertEquals(1, JSON.readTree(lines.get(1)).get("different").asInt());

        Cmd.Result error = zaro(null, "verify", "--config", config, "--active", "netns:zaro-no-such-namespace",
                "--standby", "netns:" + fw2.name());
        assertEquals(2, error.exitCode(), error.stdout() + error.stderr());
        assertEquals("zaro: cannot open network namespace /run/netns/zaro-no-such-namespace: No such file or directory "
                + "(list them with `ip netns list`)", error.stderr().strip());
    }

    private static void assertDifferences(String stdout) {
        List<String> lines = stdout.lines().toList();
        assertEquals(4, lines.size(), stdout);
        assertTrue(Pattern.matches("missing on the standby: tcp 10\\.20\\.1\\.2:\\d+>10\\.20\\.2\\.2:5000 -> "
                + "10\\.20\\.2\\.2:5000>10\\.20\\.2\\.1:\\d+ ESTABLISHED \\[ASSURED\\] timeout=\\d+", lines.get(0)), stdout);
        // In the order of the original tuples: the ghost's source port is below the client's ephemeral one.
        assertTrue(lines.get(1).startsWith("extra on the standby (ghost): udp 10.20.1.2:7777>10.20.2.2:53 -> "
                + "10.20.2.2:53>10.20.1.2:7777 [UNREPLIED] timeout="), stdout);
        assertTrue(Pattern.matches("different: udp 10\\.20\\.1\\.2:\\d+>10\\.20\\.2\\.2:5001 -> 10\\.20\\.2\\.2:5001>"
                + "10\\.20\\.2\\.1:\\d+ \\[ASSURED\\] mark=42 timeout=\\d+: mark 42 on the active, 99 on the standby",
                lines.get(2)), stdout);
        assertTrue(lines.get(3).startsWith("zaro: the tables differ: 1 missing on the standby, 1 extra on the standby, "
                + "1 different, of 4 mirrored flows on the active and 4 on the standby ("), stdout);
    }

    // ------------------------------------------------------------------ helpers

    /** {@code zaro ARGS} in {@code host}'s namespace, or in the test's own when null. */
    private static Cmd.Result zaro(Host host, String... args) {
        List<String> command = ZaroCli.command(args);
        return host == null ? Cmd.run(command, null, 120) : host.exec(null, 120, command.toArray(String[]::new));
    }

    private static Cmd.Result zaroOk(Host host, String... args) {
        return zaro(host, args).ok();
    }

    /** fw's flows from the client. */
    private static List<ConntrackEntry> clientFlows(Host fw) {
        return ConntrackCli.list(fw).stream().filter(e -> Addresses.text(e.original().source()).equals(CLIENT)).toList();
    }

    /** A flow's identity, from a kernel entry. */
    private static String key(ConntrackEntry e) {
        return e.protocol() + " " + e.zone() + " " + e.original();
    }

    /** A flow's identity, from the JSON of an entry. */
    private static String key(JsonNode flow) {
        JsonNode o = flow.get("original");
        String tuple = "src=" + o.get("src").asText() + " dst=" + o.get("dst").asText()
                + (o.has("sport") ? " sport=" + o.get("sport").asInt() + " dport=" + o.get("dport").asInt()
                : " type=" + o.get("type").asInt() + " code=" + o.get("code").asInt() + " id=" + o.get("id").asInt());
        return flow.get("protocol").asText() + " " + flow.get("zone").asInt() + " " + tuple;
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static <T> T poll(String what, Duration timeout, Supplier<T> check) {
        long end = System.nanoTime() + timeout.toNanos();
        while (true) {
            T v = check.get();
            if (v != null) {
                return v;
            }
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting until " + what);
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }
}

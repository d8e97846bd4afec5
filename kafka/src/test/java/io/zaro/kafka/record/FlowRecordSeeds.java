package io.zaro.kafka.record;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent.Type;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.SctpInfo;
import io.zaro.conntrack.SctpState;
import io.zaro.conntrack.Status;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * The seed corpus of {@link FlowRecordCodecFuzzTest}: valid records and keys of every kind of flow
 * zaro mirrors, and a few broken ones. Each file is named {@code valid-*} (must decode) or
 * {@code malformed-*} (must be refused); {@link FlowRecordSeedsTest} checks that the committed
 * files are what this class writes and that each is what its name says. Jazzer's findings
 * ({@code crash-*}, {@code timeout-*}...) sit beside them, as regression inputs, and are not
 * written here.
 *
 * <p>Regenerate after a change of the record format, from the repository's root:
 * <pre>
 * mvn -q -B -ntp -pl kafka test-compile exec:java -Dexec.classpathScope=test \
 *     -Dexec.mainClass=io.zaro.kafka.record.FlowRecordSeeds
 * </pre>
 */
public final class FlowRecordSeeds {
    /** Where Jazzer looks for the inputs of each fuzz test method, below the test resources. */
    static final String INPUTS = "io/zaro/kafka/record/FlowRecordCodecFuzzTestInputs";
    private static final Instant T = Instant.parse("2026-11-25T07:30:00.123456Z");

    private FlowRecordSeeds() {
    }

    /** Valid records, by name: every protocol and family, NAT, labels, helpers, the extremes. */
    static Map<String, FlowRecord> records() {
        Map<String, FlowRecord> m = new LinkedHashMap<>();
        Tuple tcp4 = Tuple.ofPorts(ip("10.0.0.1"), ip("198.51.100.7"), IpProtocol.TCP, 40000, 443);
        m.put("tcp4-snat-labels-helper", new FlowRecord(Type.NEW, "fw1", 1, T, ConntrackEntry.builder(tcp4)
                .reply(Tuple.ofPorts(ip("198.51.100.7"), ip("192.0.2.10"), IpProtocol.TCP, 443, 61001))
                .status(Status.SEEN_REPLY, Status.ASSURED, Status.CONFIRMED, Status.SRC_NAT, Status.SRC_NAT_DONE)
                .tcp(new TcpInfo(TcpState.ESTABLISHED, 7, 9, 0x23, 0x03))
                .timeout(431999).mark(0x10).zone(3).labels(List.of(0, 64, 127)).helper("ftp").build()));
        m.put("tcp4-dnat", new FlowRecord(Type.UPDATE, "fw1", 2, T,
                ConntrackEntry.builder(Tuple.ofPorts(ip("203.0.113.9"), ip("192.0.2.80"), IpProtocol.TCP, 51515, 80))
                        .reply(Tuple.ofPorts(ip("10.1.0.80"), ip("203.0.113.9"), IpProtocol.TCP, 8080, 51515))
                        .status(Status.SEEN_REPLY, Status.CONFIRMED, Status.DST_NAT, Status.DST_NAT_DONE)
                        .tcp(new TcpInfo(TcpState.SYN_RECV, 0, 0, 0, 0)).timeout(60).build()));
        m.put("tcp6-syn-sent", new FlowRecord(Type.NEW, "fw2", 3, T,
                ConntrackEntry.builder(Tuple.ofPorts(ip("2001:db8::1"), ip("2001:db8:ffff::443"), IpProtocol.TCP, 33000, 443))
                        .status(Status.CONFIRMED).tcp(TcpInfo.of(TcpState.SYN_SENT)).timeout(120).build()));
        m.put("udp4-mark", new FlowRecord(Type.NEW, "fw1", 4, T,
                ConntrackEntry.builder(Tuple.ofPorts(ip("10.0.0.5"), ip("10.0.9.53"), IpProtocol.UDP, 5353, 53))
                        .status(Status.CONFIRMED).timeout(30).mark(0xfffffffeL).build()));
        m.put("udp6-zone-labels-helper", new FlowRecord(Type.UPDATE, "fw-with-a-long-name.example", 5, T,
                ConntrackEntry.builder(Tuple.ofPorts(ip("2001:db8::1"), ip("2001:db8:ffff::53"), IpProtocol.UDP, 5353, 69))
                        .status(Status.SEEN_REPLY, Status.CONFIRMED, Status.HELPER).timeout(30).zone(7)
                        .labels(List.of(1, 2, 3, 100, 101, 127)).helper("tftp").build()));
        m.put("icmp4-echo", new FlowRecord(Type.NEW, "fw1", 6, T,
                ConntrackEntry.builder(Tuple.ofIcmp(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.ICMP, 8, 0, 4242))
                        .status(Status.CONFIRMED).timeout(30).build()));
        m.put("icmp6-echo", new FlowRecord(Type.NEW, "fw1", 7, T,
                ConntrackEntry.builder(Tuple.ofIcmp(ip("fd00::1"), ip("fd00::2"), IpProtocol.ICMPV6, 128, 0, 1))
                        .status(Status.SEEN_REPLY, Status.CONFIRMED).timeout(30).build()));
        m.put("sctp4-established", new FlowRecord(Type.UPDATE, "fw1", 8, T,
                ConntrackEntry.builder(Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.SCTP, 3868, 3868))
                        .status(Status.SEEN_REPLY, Status.ASSURED, Status.CONFIRMED)
                        .sctp(new SctpInfo(SctpState.ESTABLISHED, 0xdeadbeefL, 0x01020304L)).timeout(210).build()));
        m.put("sctp6-cookie-wait", new FlowRecord(Type.NEW, "fw1", 9, T,
                ConntrackEntry.builder(Tuple.ofPorts(ip("2001:db8::7"), ip("2001:db8::8"), IpProtocol.SCTP, 2905, 2905))
                        .status(Status.CONFIRMED).sctp(new SctpInfo(SctpState.COOKIE_WAIT, 0, 0xffffffffL)).timeout(3).build()));
        m.put("gre4-keys", new FlowRecord(Type.NEW, "fw1", 10, T,
                ConntrackEntry.builder(Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.GRE, 0x1234, 0x5678))
                        .timeout(600).build()));
        m.put("esp4-generic", new FlowRecord(Type.NEW, "fw1", 11, Instant.EPOCH,
                ConntrackEntry.builder(new Tuple(ip("10.0.0.1"), ip("10.0.0.2"), new IpProtocol(50), 0, 0, 0, 0, 0))
                        .timeout(600).build()));
        m.put("udp-ipv4-mapped-ipv6", new FlowRecord(Type.NEW, "fw1", 12, T,
                ConntrackEntry.builder(Tuple.ofPorts(v4Mapped(192, 0, 2, 1), v4Mapped(192, 0, 2, 2), IpProtocol.UDP, 1, 2))
                        .timeout(30).build()));
        m.put("destroy-bare", new FlowRecord(Type.DESTROY, "fw1", 13, T,
                new FlowId(3, tcp4).bareEntry()));
        m.put("extremes", new FlowRecord(Type.UPDATE, "n".repeat(FlowRecord.MAX_NODE_ID_LENGTH), Long.MAX_VALUE,
                Instant.parse("9999-12-31T23:59:59.999999Z"),
                ConntrackEntry.builder(Tuple.ofPorts(ip("255.255.255.255"), ip("0.0.0.0"), IpProtocol.UDPLITE, 65535, 0))
                        .status(0xffff).timeout(0xffffffffL).mark(0xffffffffL).zone(65535)
                        .labels(IntStream.rangeClosed(0, ConntrackEntry.MAX_LABEL_BIT).boxed().toList())
                        .helper("h".repeat(ConntrackEntry.MAX_HELPER_NAME)).build()));
        m.put("before-1970", new FlowRecord(Type.NEW, "fw1", 0, Instant.parse("1969-07-20T20:17:40Z"),
                ConntrackEntry.builder(Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.DCCP, 5004, 5005))
                        .timeout(0).build()));
        return m;
    }

    /** Every seed file of the fuzz test method {@code method}, by file name. */
    static Map<String, byte[]> files(String method) {
        Map<String, FlowRecord> records = records();
        Map<String, byte[]> files = new LinkedHashMap<>();
        byte[] first = FlowRecordCodec.encode(records.get("tcp4-snat-labels-helper"));
        byte[] firstKey = FlowRecordCodec.encodeKey(records.get("tcp4-snat-labels-helper").entry());
        switch (method) {
            case "decode" -> {
                records.forEach((name, r) -> files.put("valid-" + name, FlowRecordCodec.encode(r)));
                for (int cut : new int[] {1, 10, first.length / 2, first.length - 1}) {
                    files.put("malformed-truncated-" + cut, Arrays.copyOf(first, cut));
                }
                byte[] flipped = first.clone();
                flipped[1] ^= 0x02; // format_version 1 becomes 3
                files.put("malformed-version-3", flipped);
                files.put("malformed-oversized", Arrays.copyOf(first, FlowRecordCodec.MAX_RECORD_BYTES + 1));
                files.put("malformed-a-key", firstKey);
            }
            case "decodeKey" -> {
                // A tombstone on the state topic is a key without a value: these keys are all there is of one.
                records.forEach((name, r) -> files.put("valid-" + name, FlowRecordCodec.encodeKey(r.entry())));
                for (int cut : new int[] {1, firstKey.length / 2, firstKey.length - 1}) {
                    files.put("malformed-truncated-" + cut, Arrays.copyOf(firstKey, cut));
                }
                files.put("malformed-oversized", Arrays.copyOf(firstKey, FlowRecordCodec.MAX_RECORD_BYTES + 1));
                files.put("malformed-a-record", first);
            }
            default -> throw new IllegalArgumentException("no fuzz test method " + method);
        }
        return files;
    }

    /** Writes the seed files into {@code kafka/src/test/resources} (or {@code src/test/resources} from inside kafka/). */
    public static void main(String[] args) throws IOException {
        Path resources = Files.isDirectory(Path.of("kafka", "src", "test"))
                ? Path.of("kafka", "src", "test", "resources") : Path.of("src", "test", "resources");
        for (String method : List.of("decode", "decodeKey")) {
            Path dir = resources.resolve(INPUTS).resolve(method);
            Files.createDirectories(dir);
            for (Map.Entry<String, byte[]> f : files(method).entrySet()) {
                Files.write(dir.resolve(f.getKey()), f.getValue());
            }
            System.out.println("wrote " + files(method).size() + " seeds to " + dir);
        }
    }

    private static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    private static InetAddress v4Mapped(int a, int b, int c, int d) {
        byte[] raw = new byte[16];
        raw[10] = (byte) 0xff;
        raw[11] = (byte) 0xff;
        raw[12] = (byte) a;
        raw[13] = (byte) b;
        raw[14] = (byte) c;
        raw[15] = (byte) d;
        try {
            return java.net.Inet6Address.getByAddress(null, raw, -1);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }
}

package io.zaro.kafka.record;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent.Type;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.SctpInfo;
import io.zaro.conntrack.SctpState;
import io.zaro.conntrack.Status;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import io.zaro.kafka.proto.v1.EventType;
import io.zaro.kafka.proto.v1.Flow;
import java.io.File;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class FlowRecordCodecTest {
    private static final Instant T = Instant.parse("2026-11-25T07:30:00.123456Z");

    static InetAddress ip(String s) {
        try {
            return InetAddress.getByName(s);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    static Stream<Arguments> records() {
        Tuple tcp = Tuple.ofPorts(ip("10.0.0.1"), ip("198.51.100.7"), IpProtocol.TCP, 40000, 443);
        return Stream.of(
                Arguments.of(new FlowRecord(Type.NEW, "fw1", 1, T, ConntrackEntry.builder(tcp)
                        .reply(Tuple.ofPorts(ip("198.51.100.7"), ip("192.0.2.10"), IpProtocol.TCP, 443, 61001))
                        .status(Status.SEEN_REPLY, Status.ASSURED, Status.SRC_NAT, Status.SRC_NAT_DONE)
                        .tcp(new TcpInfo(TcpState.ESTABLISHED, 7, 9, 0x23, 0x03))
                        .timeout(431999).mark(0xfffffffeL).zone(65535).labels(List.of(0, 64, 127)).helper("ftp").build())),
                Arguments.of(new FlowRecord(Type.UPDATE, "fw-with-a-long-name.example", Long.MAX_VALUE, T,
                        ConntrackEntry.builder(Tuple.ofPorts(ip("2001:db8::1"), ip("2001:db8:ffff::53"), IpProtocol.UDP, 5353, 53))
                                .timeout(30).zone(7).labels(List.of(1, 2, 3, 100, 101, 127)).helper("tftp").build())),
                Arguments.of(new FlowRecord(Type.DESTROY, "fw1", 3, T, ConntrackEntry.builder(
                        Tuple.ofIcmp(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.ICMP, 8, 0, 4242)).build())),
                Arguments.of(new FlowRecord(Type.NEW, "fw1", 4, T, ConntrackEntry.builder(
                        Tuple.ofIcmp(ip("fd00::1"), ip("fd00::2"), IpProtocol.ICMPV6, 128, 0, 1)).timeout(30).build())),
                Arguments.of(new FlowRecord(Type.NEW, "fw1", 5, T, ConntrackEntry.builder(
                        Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.SCTP, 3868, 3868))
                        .sctp(new SctpInfo(SctpState.ESTABLISHED, 0xdeadbeefL, 0x01020304L)).timeout(300).build())),
                Arguments.of(new FlowRecord(Type.NEW, "fw1", 6, T, ConntrackEntry.builder(
                        Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.GRE, 0x1234, 0x5678)).timeout(600).build())),
                Arguments.of(new FlowRecord(Type.NEW, "fw1", 7, Instant.EPOCH, ConntrackEntry.builder(
                        new Tuple(ip("10.0.0.1"), ip("10.0.0.2"), new IpProtocol(50), 0, 0, 0, 0, 0)).timeout(600).build())));
    }

    @ParameterizedTest
    @MethodSource("records")
    void roundTripsEveryFieldInUnder200Bytes(FlowRecord record) throws Exception {
        byte[] bytes = FlowRecordCodec.encode(record);
        assertEquals(record, FlowRecordCodec.decode(bytes));
        assertTrue(bytes.length < 200, "record of " + bytes.length + " bytes");
    }

    @Test
    void keysDependOnZoneAndOriginalTupleOnly() {
        ConntrackEntry a = ConntrackEntry.builder(Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.TCP, 1, 2))
                .timeout(10).mark(1).build();
        ConntrackEntry sameFlowLater = a.toBuilder().timeout(99).mark(2).tcp(TcpInfo.of(TcpState.CLOSE)).build();
        ConntrackEntry otherZone = a.toBuilder().zone(1).build();
        assertArrayEquals(FlowRecordCodec.encodeKey(a), FlowRecordCodec.encodeKey(sameFlowLater));
        assertFalse(java.util.Arrays.equals(FlowRecordCodec.encodeKey(a), FlowRecordCodec.encodeKey(otherZone)));
    }

    /** A valid record's wire form, changed by {@code edit}. */
    static byte[] valid(UnaryOperator<io.zaro.kafka.proto.v1.FlowRecord.Builder> edit) {
        FlowRecord r = (FlowRecord) records().findFirst().orElseThrow().get()[0];
        try {
            io.zaro.kafka.proto.v1.FlowRecord.Builder b = io.zaro.kafka.proto.v1.FlowRecord.parseFrom(FlowRecordCodec.encode(r)).toBuilder();
            return edit.apply(b).build().toByteArray();
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new AssertionError(e);
        }
    }

    static UnaryOperator<io.zaro.kafka.proto.v1.FlowRecord.Builder> flow(UnaryOperator<Flow.Builder> edit) {
        return b -> b.setFlow(edit.apply(b.getFlow().toBuilder()));
    }

    static Stream<Arguments> hostile() {
        return Stream.of(
                Arguments.of("empty", new byte[0]),
                Arguments.of("garbage", "not a record at all, just text".getBytes(StandardCharsets.UTF_8)),
                Arguments.of("truncated", java.util.Arrays.copyOf(valid(b -> b), 20)),
                Arguments.of("oversized", new byte[FlowRecordCodec.MAX_RECORD_BYTES + 1]),
                Arguments.of("unknown version", valid(b -> b.setFormatVersion(2))),
                Arguments.of("no version", valid(b -> b.clearFormatVersion())),
                Arguments.of("unspecified event", valid(b -> b.setEvent(EventType.EVENT_TYPE_UNSPECIFIED))),
                Arguments.of("unknown event", valid(b -> b.setEventValue(9))),
                Arguments.of("no flow", valid(b -> b.clearFlow())),
                Arguments.of("empty node id", valid(b -> b.setNodeId(""))),
                Arguments.of("negative sequence", valid(b -> b.setSequence(-1))),
                Arguments.of("no reply tuple", valid(flow(f -> f.clearReply()))),
                Arguments.of("5-byte address", valid(flow(f -> f.setOriginal(f.getOriginal().toBuilder()
                        .setSource(ByteString.copyFrom(new byte[5])))))),
                Arguments.of("mixed families", valid(flow(f -> f.setOriginal(f.getOriginal().toBuilder()
                        .setSource(ByteString.copyFrom(new byte[16])))))),
                Arguments.of("port 70000", valid(flow(f -> f.setOriginal(f.getOriginal().toBuilder().setSourcePort(70000))))),
                Arguments.of("protocol 300", valid(flow(f -> f.setOriginal(f.getOriginal().toBuilder().setProtocol(300))))),
                Arguments.of("protocol 2^32-1", valid(flow(f -> f.setOriginal(f.getOriginal().toBuilder().setProtocol(-1))))),
                Arguments.of("reply of another protocol", valid(flow(f -> f.setReply(f.getReply().toBuilder().setProtocol(17))))),
                Arguments.of("tcp state 99", valid(flow(f -> f.setTcp(f.getTcp().toBuilder().setState(99))))),
                Arguments.of("zone 70000", valid(flow(f -> f.setZone(70000)))),
                Arguments.of("label bit 128", valid(flow(f -> f.addLabels(128)))),
                Arguments.of("label bit 2^32-1", valid(flow(f -> f.addLabels(-1)))),
                Arguments.of("helper name too long", valid(flow(f -> f.setHelper("x".repeat(40))))),
                Arguments.of("helper name with a control character", valid(flow(f -> f.setHelper("ftp\n")))),
                Arguments.of("helper name beyond ASCII", valid(flow(f -> f.setHelper("ft\u00e9")))),
                Arguments.of("node id with a control character", valid(b -> b.setNodeId("fw1\nfw2"))),
                Arguments.of("node id with a space", valid(b -> b.setNodeId("fw 1"))),
                Arguments.of("node id of 65 characters", valid(b -> b.setNodeId("n".repeat(65)))),
                Arguments.of("status bit 16", valid(flow(f -> f.setStatus(f.getStatus() | 1 << 16)))),
                Arguments.of("status bit 31", valid(flow(f -> f.setStatus(f.getStatus() | 1 << 31)))),
                Arguments.of("sctp state on tcp", valid(flow(f -> f.setSctp(io.zaro.kafka.proto.v1.SctpInfo.newBuilder().setState(4))))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hostile")
    void refusesWhatIsNotAValidRecord(String what, byte[] bytes) {
        assertThrows(MalformedRecordException.class, () -> FlowRecordCodec.decode(bytes), what);
    }

    @Test
    void theSchemaFileDecodesRecordsOutsideJava() throws Exception {
        if (!new File("/usr/bin/protoc").canExecute()) {
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                throw new IllegalStateException("protoc is missing: scripts/setup.sh installs protobuf-compiler");
            }
            Assumptions.abort("protoc is missing: install protobuf-compiler");
        }
        FlowRecord r = (FlowRecord) records().findFirst().orElseThrow().get()[0];
        Path in = Files.createTempFile("zaro-record", ".bin");
        try {
            Files.write(in, FlowRecordCodec.encode(r));
            Process p = new ProcessBuilder("/usr/bin/protoc", "--decode", "zaro.v1.FlowRecord",
                    "-I", "src/main/protobuf", "src/main/protobuf/zaro/v1/record.proto")
                    .redirectInput(in.toFile()).redirectErrorStream(true).start();
            String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), text);
            for (String expected : List.of("format_version: 1", "event: NEW", "node_id: \"fw1\"", "sequence: 1",
                    "timestamp_micros: " + java.time.temporal.ChronoUnit.MICROS.between(Instant.EPOCH, T),
                    "source: \"\\n\\000\\000\\001\"", "protocol: 6", "source_port: 40000", "destination_port: 443",
                    "destination_port: 61001", "status: 150", "state: 3", "window_scale_original: 7",
                    "timeout: 431999", "mark: 4294967294", "zone: 65535", "labels: 64", "helper: \"ftp\"")) {
                assertTrue(text.contains(expected), "protoc output lacks '" + expected + "':\n" + text);
            }
        } finally {
            Files.deleteIfExists(in);
        }
    }
}

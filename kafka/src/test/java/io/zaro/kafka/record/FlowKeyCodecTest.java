package io.zaro.kafka.record;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnknownFieldSet;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent.Type;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import io.zaro.kafka.proto.v1.FlowKey;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The Kafka key of a flow ({@code zaro.v1.FlowKey}): {@link FlowRecordCodec#encodeKey(FlowId)} and {@link FlowRecordCodec#decodeKey}. */
class FlowKeyCodecTest {
    static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** {@code ::ffff:a.b.c.d} as an IPv6 address: InetAddress.getByName would make it IPv4. */
    static InetAddress ipv4Mapped(int a, int b, int c, int d) {
        byte[] raw = new byte[16];
        raw[10] = (byte) 0xff;
        raw[11] = (byte) 0xff;
        raw[12] = (byte) a;
        raw[13] = (byte) b;
        raw[14] = (byte) c;
        raw[15] = (byte) d;
        try {
            return Inet6Address.getByAddress(null, raw, -1);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    static Stream<Arguments> flows() {
        return Stream.of(
                Arguments.of("IPv4 TCP", new FlowId(0,
                        Tuple.ofPorts(ip("10.0.0.1"), ip("198.51.100.7"), IpProtocol.TCP, 40000, 443))),
                Arguments.of("IPv6 UDP", new FlowId(0,
                        Tuple.ofPorts(ip("2001:db8::1"), ip("2001:db8:ffff::53"), IpProtocol.UDP, 5353, 53))),
                Arguments.of("ICMP echo", new FlowId(0,
                        Tuple.ofIcmp(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.ICMP, 8, 0, 4242))),
                Arguments.of("ICMPv6 echo", new FlowId(0,
                        Tuple.ofIcmp(ip("fd00::1"), ip("fd00::2"), IpProtocol.ICMPV6, 128, 0, 65535))),
                Arguments.of("zone 7", new FlowId(7,
                        Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.TCP, 1, 2))),
                Arguments.of("zone 65535, IPv6 SCTP", new FlowId(65535,
                        Tuple.ofPorts(ip("fd00::1"), ip("fd00::2"), IpProtocol.SCTP, 3868, 3868))),
                Arguments.of("GRE keys", new FlowId(1,
                        Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.GRE, 0x1234, 0x5678))),
                Arguments.of("ESP, no ports", new FlowId(0,
                        new Tuple(ip("10.0.0.1"), ip("10.0.0.2"), new IpProtocol(50), 0, 0, 0, 0, 0))),
                Arguments.of("all-zero addresses and ports", new FlowId(0,
                        Tuple.ofPorts(ip("0.0.0.0"), ip("0.0.0.0"), IpProtocol.UDP, 0, 0))),
                Arguments.of("IPv4-mapped IPv6 stays IPv6", new FlowId(0,
                        Tuple.ofPorts(ipv4Mapped(10, 0, 0, 1), ipv4Mapped(10, 0, 0, 2), IpProtocol.TCP, 65535, 80))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("flows")
    void roundTrips(String what, FlowId id) throws Exception {
        FlowId decoded = FlowRecordCodec.decodeKey(FlowRecordCodec.encodeKey(id));
        assertEquals(id, decoded, what);
        assertEquals(id.original().source().getClass(), decoded.original().source().getClass(), what);
        assertEquals(id.original().destination().getClass(), decoded.original().destination().getClass(), what);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("flows")
    void anEntryAndItsIdGiveTheSameKey(String what, FlowId id) {
        ConntrackEntry entry = id.bareEntry().toBuilder().timeout(30).mark(0x42).status(0x8e).build();
        assertArrayEquals(FlowRecordCodec.encodeKey(id), FlowRecordCodec.encodeKey(entry), what);
        assertEquals(id, FlowId.of(entry), what);
    }

    @Test
    void theKeyOfALaterStateOfAFlowIsTheSame() throws Exception {
        ConntrackEntry syn = ConntrackEntry.builder(Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.TCP, 1, 2))
                .tcp(TcpInfo.of(TcpState.SYN_SENT)).timeout(120).build();
        ConntrackEntry established = syn.toBuilder().tcp(TcpInfo.of(TcpState.ESTABLISHED)).timeout(432000).build();
        byte[] key = FlowRecordCodec.encodeKey(syn);
        assertArrayEquals(key, FlowRecordCodec.encodeKey(established));
        assertEquals(FlowId.of(established), FlowRecordCodec.decodeKey(key));
    }

    /** A valid key's wire form, changed by {@code edit}. */
    static byte[] valid(UnaryOperator<FlowKey.Builder> edit) {
        FlowId id = new FlowId(3, Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.TCP, 40000, 443));
        try {
            return edit.apply(FlowKey.parseFrom(FlowRecordCodec.encodeKey(id)).toBuilder()).build().toByteArray();
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new AssertionError(e);
        }
    }

    static UnaryOperator<FlowKey.Builder> tuple(UnaryOperator<io.zaro.kafka.proto.v1.Tuple.Builder> edit) {
        return k -> k.setOriginal(edit.apply(k.getOriginal().toBuilder()));
    }

    static Stream<Arguments> hostile() {
        byte[] value = FlowRecordCodec.encode(new FlowRecord(Type.NEW, "fw1", 1, Instant.EPOCH,
                ConntrackEntry.builder(Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.TCP, 1, 2)).build()));
        return Stream.of(
                Arguments.of("null", null),
                Arguments.of("empty", new byte[0]),
                Arguments.of("oversized", new byte[FlowRecordCodec.MAX_RECORD_BYTES + 1]),
                Arguments.of("oversized but otherwise valid", valid(k -> k.setUnknownFields(UnknownFieldSet.newBuilder()
                        .addField(99, UnknownFieldSet.Field.newBuilder()
                                .addLengthDelimited(ByteString.copyFrom(new byte[FlowRecordCodec.MAX_RECORD_BYTES])).build())
                        .build()))),
                Arguments.of("garbage", "not a key at all, just text".getBytes(StandardCharsets.UTF_8)),
                Arguments.of("truncated", Arrays.copyOf(valid(k -> k), 10)),
                Arguments.of("key without tuple", valid(FlowKey.Builder::clearOriginal)),
                Arguments.of("zone only", FlowKey.newBuilder().setZone(1).build().toByteArray()),
                Arguments.of("a record value read as a key", value),
                Arguments.of("source port 70000", valid(tuple(t -> t.setSourcePort(70000)))),
                Arguments.of("destination port 65536", valid(tuple(t -> t.setDestinationPort(65536)))),
                Arguments.of("port 2^32-1", valid(tuple(t -> t.setSourcePort(-1)))),
                Arguments.of("zone 70000", valid(k -> k.setZone(70000))),
                Arguments.of("zone 2^32-1", valid(k -> k.setZone(-1))),
                Arguments.of("protocol 300", valid(tuple(t -> t.setProtocol(300)))),
                Arguments.of("protocol 2^32-1", valid(tuple(t -> t.setProtocol(-1)))),
                Arguments.of("ICMP type on TCP", valid(tuple(t -> t.setIcmpType(8)))),
                Arguments.of("ports on ICMP", valid(tuple(t -> t.setProtocol(1)))),
                Arguments.of("ICMP type 300", valid(tuple(t -> t.setProtocol(1).setSourcePort(0).setDestinationPort(0)
                        .setIcmpType(300)))),
                Arguments.of("5-byte address", valid(tuple(t -> t.setSource(ByteString.copyFrom(new byte[5]))))),
                Arguments.of("no destination", valid(tuple(t -> t.clearDestination()))),
                Arguments.of("mixed families", valid(tuple(t -> t.setSource(ByteString.copyFrom(new byte[16]))))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hostile")
    void refusesWhatIsNotAValidKey(String what, byte[] bytes) {
        assertThrows(MalformedRecordException.class, () -> FlowRecordCodec.decodeKey(bytes), what);
    }
}

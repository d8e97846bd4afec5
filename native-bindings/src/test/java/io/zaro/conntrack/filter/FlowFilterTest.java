package io.zaro.conntrack.filter;

import static io.zaro.conntrack.TupleTest.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class FlowFilterTest {
    static final ConntrackEntry FORWARDED_TCP = ConntrackEntry.builder(
                    Tuple.ofPorts(ip("10.10.1.2"), ip("10.10.2.2"), IpProtocol.TCP, 40000, 80))
            .reply(Tuple.ofPorts(ip("10.10.2.2"), ip("10.10.2.1"), IpProtocol.TCP, 80, 40000)) // SNAT to fw
            .tcp(TcpInfo.of(TcpState.ESTABLISHED)).mark(0x12).zone(3).timeout(100).build();
    static final ConntrackEntry SSH_TO_FW = ConntrackEntry.builder(
                    Tuple.ofPorts(ip("10.10.1.2"), ip("10.10.1.1"), IpProtocol.TCP, 50000, 22))
            .tcp(TcpInfo.of(TcpState.ESTABLISHED)).timeout(100).build();
    static final ConntrackEntry UDP_V6 = ConntrackEntry.builder(
                    Tuple.ofPorts(ip("fd10:1::2"), ip("fd10:2::2"), IpProtocol.UDP, 5000, 53)).timeout(30).build();

    static FlowFilter filter(List<String> accept, List<String> ignore, Set<IpProtocol> protocols,
                             Set<TcpState> states, Set<Integer> zones, long mark, long mask) {
        return new FlowFilter(accept.stream().map(Cidr::parse).toList(), ignore.stream().map(Cidr::parse).toList(),
                protocols, states, zones, mark, mask);
    }

    static Stream<Arguments> cases() {
        FlowFilter fwOwn = FlowFilter.all().ignoring(List.of(Cidr.parse("10.10.1.1"), Cidr.parse("10.10.2.1")));
        return Stream.of(
                Arguments.of("everything", FlowFilter.all(), FORWARDED_TCP, true),
                Arguments.of("own address ignored: flow to the firewall", fwOwn, SSH_TO_FW, false),
                Arguments.of("own address in the SNAT reply only: mirrored", fwOwn, FORWARDED_TCP, true),
                Arguments.of("accept network matches destination", filter(List.of("10.10.2.0/24"), List.of(), Set.of(), Set.of(), Set.of(), 0, 0), FORWARDED_TCP, true),
                Arguments.of("accept network misses", filter(List.of("192.168.0.0/16"), List.of(), Set.of(), Set.of(), Set.of(), 0, 0), FORWARDED_TCP, false),
                Arguments.of("accept IPv6 network", filter(List.of("fd10::/16"), List.of(), Set.of(), Set.of(), Set.of(), 0, 0), UDP_V6, true),
                Arguments.of("IPv4 network never matches IPv6", filter(List.of("0.0.0.0/0"), List.of(), Set.of(), Set.of(), Set.of(), 0, 0), UDP_V6, false),
                Arguments.of("ignore wins over accept", filter(List.of("10.0.0.0/8"), List.of("10.10.1.0/24"), Set.of(), Set.of(), Set.of(), 0, 0), FORWARDED_TCP, false),
                Arguments.of("protocol accepted", filter(List.of(), List.of(), Set.of(IpProtocol.TCP), Set.of(), Set.of(), 0, 0), FORWARDED_TCP, true),
                Arguments.of("protocol refused", filter(List.of(), List.of(), Set.of(IpProtocol.TCP), Set.of(), Set.of(), 0, 0), UDP_V6, false),
                Arguments.of("tcp state accepted", filter(List.of(), List.of(), Set.of(), Set.of(TcpState.ESTABLISHED), Set.of(), 0, 0), FORWARDED_TCP, true),
                Arguments.of("tcp state refused", filter(List.of(), List.of(), Set.of(), Set.of(TcpState.SYN_SENT), Set.of(), 0, 0), FORWARDED_TCP, false),
                Arguments.of("tcp states do not concern udp", filter(List.of(), List.of(), Set.of(), Set.of(TcpState.SYN_SENT), Set.of(), 0, 0), UDP_V6, true),
                Arguments.of("zone accepted", filter(List.of(), List.of(), Set.of(), Set.of(), Set.of(3), 0, 0), FORWARDED_TCP, true),
                Arguments.of("zone refused", filter(List.of(), List.of(), Set.of(), Set.of(), Set.of(0), 0, 0), FORWARDED_TCP, false),
                Arguments.of("mark under mask matches", filter(List.of(), List.of(), Set.of(), Set.of(), Set.of(), 0x2, 0xf), FORWARDED_TCP, true),
                Arguments.of("mark under mask differs", filter(List.of(), List.of(), Set.of(), Set.of(), Set.of(), 0x3, 0xf), FORWARDED_TCP, false));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void decidesAsConntrackdDoes(String what, FlowFilter filter, ConntrackEntry flow, boolean mirrored) {
        assertEquals(mirrored, filter.accepts(flow), what);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"10.0.0.0/8, 10.255.1.2, true", "10.0.0.0/8, 11.0.0.1, false", "10.1.2.3, 10.1.2.3, true",
        "10.1.2.3, 10.1.2.4, false", "0.0.0.0/0, 1.2.3.4, true", "fd00::/8, fdff::1, true", "fd00::/8, fe80::1, false",
        "2001:db8::1, 2001:db8::1, true", "10.0.0.0/9, 10.127.0.1, true", "10.0.0.0/9, 10.128.0.1, false"})
    void cidrContains(String cidr, String address, boolean inside) {
        assertEquals(inside, Cidr.parse(cidr).contains(ip(address)));
    }

    @Test
    void aKeyAloneDecidesUnlessATcpStateOrAMarkIsAsked() {
        assertTrue(FlowFilter.all().decidesOnKey());
        assertTrue(new FlowFilter(List.of(Cidr.parse("10.0.0.0/8")), List.of(), Set.of(IpProtocol.UDP), Set.of(), Set.of(3), 0, 0)
                .decidesOnKey(), "networks, protocols and zones are in the key");
        assertFalse(new FlowFilter(List.of(), List.of(), Set.of(), Set.of(io.zaro.conntrack.TcpState.ESTABLISHED), Set.of(), 0, 0)
                .decidesOnKey());
        assertFalse(new FlowFilter(List.of(), List.of(), Set.of(), Set.of(), Set.of(), 0x1, 0xff).decidesOnKey());
    }

    @Test
    void badNetworksAreOneSentenceNamingTheFix() {
        IllegalArgumentException hostBits = assertThrows(IllegalArgumentException.class, () -> Cidr.parse("10.1.2.3/8"));
        assertEquals("10.1.2.3/8 has host bits set: did you mean 10.0.0.0/8?", hostBits.getMessage());
        for (String bad : List.of("example.com", "10.0.0.0/33", "fd00::/129", "10.0.0.0/x", "", "10.0.0.0/8/8")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Cidr.parse(bad), bad);
            assertTrue(e.getMessage().contains(bad.isEmpty() ? "''" : bad.split("/")[0]) || e.getMessage().contains("prefix"),
                    e.getMessage());
        }
        assertThrows(IllegalArgumentException.class,
                () -> new FlowFilter(List.of(), List.of(), Set.of(), Set.of(), Set.of(), 0x10, 0x0f), "mark outside mask");
    }
}

package io.zaro.conntrack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.InetAddress;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

public class TupleTest {
    public static InetAddress ip(String s) {
        try {
            return InetAddress.getByName(s);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    static Stream<Arguments> inverses() {
        return Stream.of(
                Arguments.of(Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.TCP, 40000, 80),
                        Tuple.ofPorts(ip("10.0.0.2"), ip("10.0.0.1"), IpProtocol.TCP, 80, 40000)),
                Arguments.of(Tuple.ofPorts(ip("fd00::1"), ip("fd00::2"), IpProtocol.UDP, 53, 5353),
                        Tuple.ofPorts(ip("fd00::2"), ip("fd00::1"), IpProtocol.UDP, 5353, 53)),
                Arguments.of(Tuple.ofIcmp(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.ICMP, 8, 0, 77),
                        Tuple.ofIcmp(ip("10.0.0.2"), ip("10.0.0.1"), IpProtocol.ICMP, 0, 0, 77)),
                Arguments.of(Tuple.ofIcmp(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.ICMP, 13, 0, 1),
                        Tuple.ofIcmp(ip("10.0.0.2"), ip("10.0.0.1"), IpProtocol.ICMP, 14, 0, 1)),
                Arguments.of(Tuple.ofIcmp(ip("fd00::1"), ip("fd00::2"), IpProtocol.ICMPV6, 128, 0, 9),
                        Tuple.ofIcmp(ip("fd00::2"), ip("fd00::1"), IpProtocol.ICMPV6, 129, 0, 9)),
                Arguments.of(new Tuple(ip("10.0.0.1"), ip("10.0.0.2"), new IpProtocol(50), 0, 0, 0, 0, 0),
                        new Tuple(ip("10.0.0.2"), ip("10.0.0.1"), new IpProtocol(50), 0, 0, 0, 0, 0)));
    }

    @ParameterizedTest
    @MethodSource("inverses")
    void inverseSwapsDirectionAsTheKernelDoes(Tuple original, Tuple expected) {
        assertEquals(expected, original.inverse());
    }

    static Stream<Arguments> invalid() {
        return Stream.of(
                Arguments.of("mixed families", (Runnable) () ->
                        Tuple.ofPorts(ip("10.0.0.1"), ip("fd00::1"), IpProtocol.TCP, 1, 2)),
                Arguments.of("port too large", (Runnable) () ->
                        Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.TCP, 65536, 2)),
                Arguments.of("negative port", (Runnable) () ->
                        Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.UDP, -1, 2)),
                Arguments.of("ports on ICMP", (Runnable) () ->
                        Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.ICMP, 1, 2)),
                Arguments.of("ICMP fields on TCP", (Runnable) () ->
                        new Tuple(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.TCP, 1, 2, 8, 0, 0)),
                Arguments.of("ICMP type too large", (Runnable) () ->
                        Tuple.ofIcmp(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.ICMP, 256, 0, 0)),
                Arguments.of("protocol out of range", (Runnable) () -> new IpProtocol(256)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalid")
    void rejectsInvalidTuples(String what, Runnable build) {
        assertThrows(IllegalArgumentException.class, build::run, what);
    }

    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.CsvSource({"tcp,6", "UDP,17", "icmpv6,58", "sctp,132", "udplite,136", "gre,47", "50,50"})
    void parsesProtocolNamesAndNumbers(String text, int number) {
        assertEquals(number, IpProtocol.parse(text).number());
    }
}

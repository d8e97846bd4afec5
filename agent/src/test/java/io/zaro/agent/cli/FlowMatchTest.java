package io.zaro.agent.cli;

import static io.zaro.agent.cli.FlowLineTest.NAT_TCP;
import static io.zaro.agent.cli.FlowLineTest.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.Tuple;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class FlowMatchTest {
    private static final ConntrackEntry PING = ConntrackEntry.builder(
            Tuple.ofIcmp(ip("fd20:1::2"), ip("fd20:2::2"), IpProtocol.ICMPV6, 128, 0, 5000)).build();

    private static FlowMatch match(String address, Integer port, String protocol) {
        FlowMatch.Options o = new FlowMatch.Options();
        o.address = address;
        o.port = port;
        o.protocol = protocol;
        return o.match();
    }

    /** NAT_TCP: 10.20.1.2:40000 > 10.20.2.2:5000, reply 10.20.2.2:5000 > 10.20.2.1:40000 (source NAT). */
    @ParameterizedTest
    @CsvSource(nullValues = "-", value = {
            "-, -, -, true",
            "10.20.1.2, -, -, true",           // the client, original source
            "10.20.2.2, -, -, true",           // the server
            "10.20.2.1, -, -, true",           // the NAT address: only in the reply tuple
            "10.20.1.3, -, -, false",
            "10.20.0.0/16, -, -, true",
            "10.30.0.0/16, -, -, false",
            "fd20:1::2, -, -, false",
            "-, 5000, -, true",
            "-, 40000, -, true",
            "-, 4000, -, false",
            "-, -, tcp, true",
            "-, -, TCP, true",
            "-, -, 6, true",
            "-, -, udp, false",
            "10.20.2.1, 5000, tcp, true",
            "10.20.2.1, 5000, udp, false",
            "10.20.1.3, 5000, tcp, false"})
    void everyCriterionGivenMustMatchInEitherTuple(String address, Integer port, String protocol, boolean matches) {
        assertEquals(matches, match(address, port, protocol).matches(NAT_TCP));
    }

    @Test
    void aPortNeverMatchesAFlowWithoutPorts() {
        assertFalse(match(null, 5000, null).matches(PING), "the ICMP id is not a port");
        assertTrue(match("fd20:2::/64", null, "icmpv6").matches(PING));
        assertTrue(FlowMatch.ALL.matches(PING) && FlowMatch.ALL.isAll());
        assertFalse(match(null, null, "icmp").isAll());
    }

    @ParameterizedTest
    @CsvSource(nullValues = "-", delimiter = '|', value = {
            "example.com | - | - | --address must be an IPv4 or IPv6 address or network such as 10.0.0.1 or fd00::/64, not 'example.com'",
            "10.0.0.1/8 | - | - | --address must be an IPv4 or IPv6 address or network such as 10.0.0.1 or fd00::/64, not '10.0.0.1/8'",
            "- | 0 | - | --port must be 1..65535, not 0",
            "- | 65536 | - | --port must be 1..65535, not 65536",
            "- | - | tpc | --protocol must be tcp, udp, icmp, icmpv6, sctp or a protocol number, not 'tpc'"})
    void aBadCriterionIsOneSentenceNamingTheOption(String address, Integer port, String protocol, String message) {
        assertEquals(message, assertThrows(IllegalArgumentException.class, () -> match(address, port, protocol)).getMessage());
    }
}

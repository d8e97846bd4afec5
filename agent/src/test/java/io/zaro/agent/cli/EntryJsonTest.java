package io.zaro.agent.cli;

import static io.zaro.agent.cli.FlowLineTest.NAT_TCP;
import static io.zaro.agent.cli.FlowLineTest.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.SctpInfo;
import io.zaro.conntrack.SctpState;
import io.zaro.conntrack.Status;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class EntryJsonTest {
    static Stream<ConntrackEntry> entries() {
        return Stream.of(
                NAT_TCP,
                NAT_TCP.toBuilder().tcp(new TcpInfo(TcpState.SYN_SENT, 7, 0, 0x23, 0x01)).id(123456789L).use(2L)
                        .labels(List.of(0, 127)).helper("ftp").build(),
                ConntrackEntry.builder(Tuple.ofPorts(ip("fd20:1::2"), ip("fd20:2::2"), IpProtocol.UDP, 5353, 53))
                        .zone(65535).mark(0xffffffffL).timeout(0).build(),
                ConntrackEntry.builder(Tuple.ofIcmp(ip("10.20.1.2"), ip("10.20.2.2"), IpProtocol.ICMP, 8, 0, 65535))
                        .status(Status.SEEN_REPLY).timeout(29).build(),
                ConntrackEntry.builder(Tuple.ofIcmp(ip("fd20:1::2"), ip("fd20:2::2"), IpProtocol.ICMPV6, 128, 0, 1)).build(),
                ConntrackEntry.builder(Tuple.ofPorts(ip("10.1.1.1"), ip("10.1.1.2"), IpProtocol.SCTP, 3000, 3868))
                        .sctp(new SctpInfo(SctpState.ESTABLISHED, 0xffffffffL, 1)).build(),
                ConntrackEntry.builder(Tuple.ofPorts(ip("10.1.1.1"), ip("10.1.1.2"), IpProtocol.GRE, 0x1234, 0xffff)).build(),
                ConntrackEntry.builder(new Tuple(ip("10.1.1.1"), ip("10.1.1.2"), new IpProtocol(50), 0, 0, 0, 0, 0)).build());
    }

    @ParameterizedTest
    @MethodSource("entries")
    void whatConntrackListJsonPrintsReadsBackEqual(ConntrackEntry e) {
        assertEquals(e, EntryJson.parse(EntryFormat.toJson(e)));
    }

    @Test
    void aFileIsOneEntryPerLineBlankLinesSkipped() throws IOException {
        String file = EntryFormat.toJson(NAT_TCP) + "\n\n" + EntryFormat.toJson(entries().toList().get(2)) + "\n";
        assertEquals(List.of(NAT_TCP, entries().toList().get(2)), EntryJson.read(new BufferedReader(new StringReader(file)), "f"));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "not json",
            "{}",
            "{\"protocol\":\"tcp\",\"original\":{\"src\":\"10.0.0.1\",\"dst\":\"10.0.0.2\",\"sport\":1,\"dport\":2},\"status\":0}",
            "{\"protocol\":\"tcp\",\"original\":{\"src\":\"host.example\",\"dst\":\"10.0.0.2\",\"sport\":1,\"dport\":2},"
                    + "\"reply\":{\"src\":\"10.0.0.2\",\"dst\":\"10.0.0.1\",\"sport\":2,\"dport\":1},\"status\":0}",
            "{\"protocol\":\"tcp\",\"original\":{\"src\":\"10.0.0.1\",\"dst\":\"10.0.0.2\",\"sport\":70000,\"dport\":2},"
                    + "\"reply\":{\"src\":\"10.0.0.2\",\"dst\":\"10.0.0.1\",\"sport\":2,\"dport\":1},\"status\":0}",
            "{\"protocol\":\"tcp\",\"original\":{\"src\":\"10.0.0.1\",\"dst\":\"10.0.0.2\",\"sport\":1,\"dport\":2},"
                    + "\"reply\":{\"src\":\"10.0.0.2\",\"dst\":\"10.0.0.1\",\"sport\":2,\"dport\":1},\"status\":0,"
                    + "\"tcp\":{\"state\":\"OPEN\"}}"})
    void aLineThatIsNotAnEntryIsNamedInOneSentence(String bad) {
        String file = EntryFormat.toJson(NAT_TCP) + "\n" + bad + "\n";
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> EntryJson.read(new BufferedReader(new StringReader(file)), "fw1.json"));
        assertTrue(e.getMessage().startsWith("line 2 of fw1.json is not an entry as `zaro conntrack list --json` prints it ("),
                e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }
}

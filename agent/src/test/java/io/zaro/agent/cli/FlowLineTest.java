package io.zaro.agent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.Status;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import io.zaro.kafka.record.FlowRecord;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class FlowLineTest {
    static final Instant TIME = Instant.parse("2026-12-06T02:13:28.123456Z");

    static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** A source-NATed, established TCP flow with a mark. */
    static final ConntrackEntry NAT_TCP = ConntrackEntry.builder(
                    Tuple.ofPorts(ip("10.20.1.2"), ip("10.20.2.2"), IpProtocol.TCP, 40000, 5000))
            .reply(Tuple.ofPorts(ip("10.20.2.2"), ip("10.20.2.1"), IpProtocol.TCP, 5000, 40000))
            .status(Status.SEEN_REPLY, Status.ASSURED).tcp(TcpInfo.of(TcpState.ESTABLISHED)).timeout(432000).mark(42)
            .build();

    static Stream<Arguments> flows() {
        return Stream.of(
                Arguments.of(NAT_TCP, "tcp 10.20.1.2:40000>10.20.2.2:5000 -> 10.20.2.2:5000>10.20.2.1:40000 "
                        + "ESTABLISHED [ASSURED] mark=42 timeout=432000"),
                Arguments.of(ConntrackEntry.builder(Tuple.ofPorts(ip("fd20:1::2"), ip("fd20:2::2"), IpProtocol.UDP, 5353, 53))
                                .zone(7).labels(List.of(1, 64)).helper("tftp").build(),
                        "udp [fd20:1::2]:5353>[fd20:2::2]:53 -> [fd20:2::2]:53>[fd20:1::2]:5353 [UNREPLIED] zone=7 "
                                + "labels=1,64 helper=tftp"),
                Arguments.of(ConntrackEntry.builder(Tuple.ofIcmp(ip("10.20.1.2"), ip("10.20.2.2"), IpProtocol.ICMP, 8, 0, 77))
                                .status(Status.SEEN_REPLY).timeout(29).build(),
                        "icmp 10.20.1.2>10.20.2.2 type=8 code=0 id=77 -> 10.20.2.2>10.20.1.2 type=0 code=0 id=77 timeout=29"),
                Arguments.of(ConntrackEntry.builder(new Tuple(ip("10.0.0.1"), ip("10.0.0.2"), new IpProtocol(50), 0, 0, 0, 0, 0))
                                .status(Status.SEEN_REPLY).build(),
                        "50 10.0.0.1>10.0.0.2 -> 10.0.0.2>10.0.0.1"));
    }

    @ParameterizedTest
    @MethodSource("flows")
    void aFlowIsOneLineWithBothTuplesItsStateAndWhatIsSet(ConntrackEntry e, String expected) {
        assertEquals(expected, FlowLine.flow(e));
        assertEquals(expected, new FlowLine(false).entry(e));
    }

    @Test
    void aRecordLineStartsWithTimeNodeAndEvent() {
        FlowRecord r = new FlowRecord(ConntrackEvent.Type.NEW, "fw1", 5, TIME, NAT_TCP);
        assertEquals("2026-12-06T02:13:28.123Z fw1 NEW     tcp 10.20.1.2:40000>10.20.2.2:5000 -> "
                + "10.20.2.2:5000>10.20.2.1:40000 ESTABLISHED [ASSURED] mark=42 timeout=432000", new FlowLine(false).record(r));
        FlowRecord destroy = new FlowRecord(ConntrackEvent.Type.DESTROY, "fw-2.example", 6, TIME,
                io.zaro.kafka.record.FlowId.of(NAT_TCP).bareEntry());
        assertEquals("2026-12-06T02:13:28.123Z fw-2.example DESTROY tcp 10.20.1.2:40000>10.20.2.2:5000 -> "
                + "10.20.2.2:5000>10.20.1.2:40000 [UNREPLIED]", new FlowLine(false).record(destroy));
    }

    @Test
    void aRecordAsJsonCarriesTheEntryAsConntrackListPrintsIt() throws Exception {
        FlowRecord r = new FlowRecord(ConntrackEvent.Type.UPDATE, "fw1", 9, TIME, NAT_TCP);
        JsonNode n = new ObjectMapper().readTree(new FlowLine(true).record(r, 2, 40));
        assertEquals("2026-12-06T02:13:28.123Z", n.get("time").asText());
        assertEquals("fw1", n.get("node").asText());
        assertEquals("UPDATE", n.get("event").asText());
        assertEquals(9, n.get("sequence").asLong());
        assertEquals(2, n.get("partition").asInt());
        assertEquals(40, n.get("offset").asLong());
        assertEquals(EntryFormat.toJson(NAT_TCP).toString(), n.get("flow").toString());
        assertFalse(new ObjectMapper().readTree(new FlowLine(true).record(r)).has("partition"), "no place when unknown");
    }

    @Test
    void aMalformedRecordIsOneLineSayingWhereAndWhy() throws Exception {
        assertEquals("2026-12-06T02:13:28.123Z malformed record at zaro.events-3@17: not a zaro record: bad tag",
                new FlowLine(false).malformed("zaro.events", 3, 17, TIME, "not a zaro record: bad tag"));
        JsonNode n = new ObjectMapper().readTree(new FlowLine(true).malformed("zaro.events", 3, 17, TIME, "empty record"));
        assertEquals("empty record", n.get("malformed").asText());
        assertEquals("zaro.events", n.get("topic").asText());
        assertEquals(17, n.get("offset").asLong());
        assertEquals("2026-12-06T02:13:28.123Z malformed record at t-0@0: a b", new FlowLine(false).malformed("t", 0, 0,
                TIME, "a\n  b"), "one line, whatever the reason holds");
    }

    @Test
    void listingsAreOrderedByZoneFamilyProtocolAndOriginalTuple() {
        ConntrackEntry a = NAT_TCP;
        ConntrackEntry b = NAT_TCP.toBuilder().build();
        List<ConntrackEntry> sorted = new ArrayList<>(List.of(
                entry("10.20.1.10", 1, IpProtocol.TCP, 0),
                entry("fd00::1", 1, IpProtocol.UDP, 0),
                entry("10.20.1.9", 2, IpProtocol.TCP, 0),
                entry("10.20.1.9", 1, IpProtocol.UDP, 0),
                entry("10.20.1.9", 1, IpProtocol.TCP, 3),
                entry("10.20.1.9", 1, IpProtocol.TCP, 0)));
        sorted.sort(FlowLine.ORDER);
        assertEquals(List.of("10.20.1.9:1 tcp", "10.20.1.9:2 tcp", "10.20.1.10:1 tcp", "10.20.1.9:1 udp",
                        "fd00::1:1 udp", "10.20.1.9:1 tcp zone 3"),
                sorted.stream().map(e -> io.zaro.conntrack.Addresses.text(e.original().source()) + ":"
                        + e.original().sourcePort() + " " + e.protocol() + (e.zone() != 0 ? " zone " + e.zone() : "")).toList());
        assertEquals(0, FlowLine.ORDER.compare(a, b));
        assertTrue(FlowLine.ORDER.compare(sorted.get(0), sorted.get(5)) < 0);
    }

    private static ConntrackEntry entry(String source, int port, IpProtocol protocol, int zone) {
        InetAddress dst = ip(source.contains(":") ? "fd00::2" : "10.20.2.2");
        return ConntrackEntry.builder(Tuple.ofPorts(ip(source), dst, protocol, port, 80)).zone(zone).build();
    }
}

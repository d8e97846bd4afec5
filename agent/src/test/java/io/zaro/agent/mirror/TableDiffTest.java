package io.zaro.agent.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.agent.mirror.TableDiff.Difference;
import io.zaro.agent.mirror.TableDiff.Field;
import io.zaro.agent.mirror.TableDiff.Kind;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.SctpInfo;
import io.zaro.conntrack.SctpState;
import io.zaro.conntrack.Status;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import io.zaro.kafka.record.FlowId;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class TableDiffTest {
    /** An established, source-NATed TCP flow as the active holds it. */
    private static final ConntrackEntry TCP = ConntrackEntry.builder(
                    Tuple.ofPorts(ip("10.20.1.2"), ip("10.20.2.2"), IpProtocol.TCP, 40000, 5000))
            .reply(Tuple.ofPorts(ip("10.20.2.2"), ip("10.20.2.1"), IpProtocol.TCP, 5000, 40000))
            .status(Status.SEEN_REPLY, Status.ASSURED, Status.CONFIRMED, Status.SRC_NAT, Status.SRC_NAT_DONE)
            .tcp(new TcpInfo(TcpState.ESTABLISHED, 7, 7, 0x23, 0x23)).timeout(431999).mark(42).labels(List.of(3))
            .id(77L).use(1L).build();
    private static final ConntrackEntry UDP = ConntrackEntry.builder(
            Tuple.ofPorts(ip("fd20:1::2"), ip("fd20:2::2"), IpProtocol.UDP, 5353, 53)).status(Status.SEEN_REPLY)
            .timeout(30).zone(7).build();
    private static final ConntrackEntry SCTP = ConntrackEntry.builder(
                    Tuple.ofPorts(ip("10.20.1.2"), ip("10.20.2.2"), IpProtocol.SCTP, 3000, 3868))
            .status(Status.SEEN_REPLY).sctp(new SctpInfo(SctpState.ESTABLISHED, 1, 2)).timeout(200).build();

    static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    private static Map<FlowId, ConntrackEntry> table(ConntrackEntry... entries) {
        Map<FlowId, ConntrackEntry> t = new LinkedHashMap<>();
        for (ConntrackEntry e : entries) {
            t.put(FlowId.of(e), e);
        }
        return t;
    }

    @Test
    void equalTablesHaveNoDifferences() {
        assertEquals(List.of(), TableDiff.compare(table(TCP, UDP, SCTP), table(SCTP, UDP, TCP)));
        assertEquals(List.of(), TableDiff.compare(table(), table()));
    }

    @Test
    void aFlowOnlyTheActiveHoldsIsMissingAndOneOnlyTheStandbyHoldsIsExtra() {
        List<Difference> d = TableDiff.compare(table(TCP, UDP), table(UDP, SCTP));
        assertEquals(2, d.size(), d.toString());
        assertEquals(new Difference(Kind.MISSING, FlowId.of(TCP), TCP, null, List.of()), d.get(0));
        assertEquals(new Difference(Kind.EXTRA, FlowId.of(SCTP), null, SCTP, List.of()), d.get(1));
    }

    @Test
    void theSameTupleInAnotherZoneIsAnotherFlow() {
        ConntrackEntry inZone3 = UDP.toBuilder().zone(3).build();
        List<Difference> d = TableDiff.compare(table(UDP), table(inZone3));
        assertEquals(List.of(Kind.MISSING, Kind.EXTRA), d.stream().map(Difference::kind).toList());
    }

    /** What a standby's copy may legitimately differ in: none of it is a difference. */
    static Stream<Arguments> legitimate() {
        return Stream.<UnaryOperator<ConntrackEntry.Builder>>of(
                        b -> b.timeout(521),
                        b -> b.timeout(null),
                        b -> b.id(null).use(2L),
                        b -> b.tcp(new TcpInfo(TcpState.ESTABLISHED, 7, 7, 0x01, 0x00)),
                        b -> b.status(Status.SEEN_REPLY, Status.ASSURED, Status.CONFIRMED),
                        b -> b.tcp(null))
                .map(change -> Arguments.of(change.apply(TCP.toBuilder()).build()));
    }

    @ParameterizedTest
    @MethodSource("legitimate")
    void timeoutsCountersWindowTrackingAndOtherStatusBitsAreNotDifferences(ConntrackEntry standby) {
        assertEquals(List.of(), TableDiff.compare(table(TCP), table(standby)));
    }

    static Stream<Arguments> different() {
        return Stream.of(
                Arguments.of(TCP.toBuilder().reply(TCP.original().inverse()).build(),
                        new Field("reply", TCP.reply(), TCP.original().inverse())),
                Arguments.of(TCP.toBuilder().tcp(TcpInfo.of(TcpState.TIME_WAIT)).build(),
                        new Field("tcp state", TcpState.ESTABLISHED, TcpState.TIME_WAIT)),
                Arguments.of(TCP.toBuilder().status(Status.SEEN_REPLY).build(), new Field("assured", true, false)),
                Arguments.of(TCP.toBuilder().status(Status.ASSURED).build(), new Field("seen reply", true, false)),
                Arguments.of(TCP.toBuilder().mark(0).build(), new Field("mark", 42L, 0L)),
                Arguments.of(TCP.toBuilder().labels(List.of()).build(), new Field("labels", List.of(3), List.of())),
                Arguments.of(TCP.toBuilder().helper("ftp").build(), new Field("helper", null, "ftp")));
    }

    @ParameterizedTest
    @MethodSource("different")
    void aFieldMirroringCarriesThatDiffersIsNamedWithBothValues(ConntrackEntry standby, Field expected) {
        List<Difference> d = TableDiff.compare(table(TCP), table(standby));
        assertEquals(List.of(new Difference(Kind.DIFFERENT, FlowId.of(TCP), TCP, standby, List.of(expected))), d);
    }

    @Test
    void sctpStateIsComparedButNotItsVerificationTags() {
        ConntrackEntry tags = SCTP.toBuilder().sctp(new SctpInfo(SctpState.ESTABLISHED, 9, 9)).build();
        assertEquals(List.of(), TableDiff.compare(table(SCTP), table(tags)));
        ConntrackEntry closed = SCTP.toBuilder().sctp(new SctpInfo(SctpState.CLOSED, 1, 2)).build();
        List<Difference> d = TableDiff.compare(table(SCTP), table(closed));
        assertEquals(List.of(new Field("sctp state", SctpState.ESTABLISHED, SctpState.CLOSED)), d.get(0).fields());
    }

    @Test
    void severalFieldsOfOneFlowMakeOneDifference() {
        ConntrackEntry standby = TCP.toBuilder().mark(1).tcp(TcpInfo.of(TcpState.CLOSE)).build();
        List<Difference> d = TableDiff.compare(table(TCP, UDP), table(standby, UDP));
        assertEquals(1, d.size());
        assertEquals(List.of("tcp state", "mark"), d.get(0).fields().stream().map(Field::name).toList());
        assertTrue(d.get(0).active() == TCP && d.get(0).standby() == standby);
    }
}

package io.zaro.conntrack;

import static io.zaro.conntrack.TupleTest.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class ConntrackEntryTest {
    private static final Tuple TCP = Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.TCP, 40000, 80);

    @Test
    void replyDefaultsToTheInverseAndLabelsAreSortedWithoutDuplicates() {
        ConntrackEntry e = ConntrackEntry.builder(TCP).labels(List.of(9, 1, 9, 127)).build();
        assertEquals(TCP.inverse(), e.reply());
        assertEquals(List.of(1, 9, 127), e.labels());
        assertFalse(e.isSourceNat());
        assertFalse(e.isDestinationNat());
    }

    @Test
    void sourceNatIsSeenInTheReplyTuple() {
        Tuple reply = Tuple.ofPorts(ip("10.0.0.2"), ip("192.0.2.1"), IpProtocol.TCP, 80, 61000);
        ConntrackEntry e = ConntrackEntry.builder(TCP).reply(reply).build();
        assertTrue(e.isSourceNat());
        assertFalse(e.isDestinationNat());
    }

    @Test
    void rejectsValuesTheKernelWouldRefuse() {
        assertThrows(IllegalArgumentException.class, () -> ConntrackEntry.builder(TCP).zone(65536).build());
        assertThrows(IllegalArgumentException.class, () -> ConntrackEntry.builder(TCP).mark(1L << 32).build());
        assertThrows(IllegalArgumentException.class, () -> ConntrackEntry.builder(TCP).labels(List.of(128)).build());
        assertThrows(IllegalArgumentException.class, () -> ConntrackEntry.builder(TCP).helper("a-name-too-long-for-it").build());
        assertThrows(IllegalArgumentException.class, () -> ConntrackEntry.builder(TCP).timeout(-1).build());
        assertThrows(IllegalArgumentException.class, () -> ConntrackEntry.builder(TCP)
                .sctp(new SctpInfo(SctpState.ESTABLISHED, 1, 2)).build());
        Tuple udp = Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.UDP, 1, 2);
        assertThrows(IllegalArgumentException.class, () -> ConntrackEntry.builder(TCP).reply(udp).build());
        assertThrows(IllegalArgumentException.class, () -> ConntrackEntry.builder(udp)
                .tcp(TcpInfo.of(TcpState.ESTABLISHED)).build());
    }

    @Test
    void statusNamesIncludeUnknownBits() {
        assertEquals(List.of("SEEN_REPLY", "ASSURED", "BIT20"),
                Status.names(Status.maskOf(Status.SEEN_REPLY, Status.ASSURED) | (1 << 20)));
    }

    @Test
    void eventTypeCodesAreStable() {
        for (ConntrackEvent.Type t : ConntrackEvent.Type.values()) {
            assertEquals(t, ConntrackEvent.Type.fromCode(t.code()));
        }
        assertEquals("NUD", "" + ConntrackEvent.Type.NEW.code() + ConntrackEvent.Type.UPDATE.code()
                + ConntrackEvent.Type.DESTROY.code());
    }
}

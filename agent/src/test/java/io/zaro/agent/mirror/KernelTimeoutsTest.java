package io.zaro.agent.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.SctpInfo;
import io.zaro.conntrack.SctpState;
import io.zaro.conntrack.Status;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KernelTimeoutsTest {
    private static final InetAddress A = InetAddress.getLoopbackAddress();

    @Test
    void eachProtocolAndStateGetsItsOwnSetting(@TempDir Path proc) throws IOException {
        write(proc, "nf_conntrack_tcp_timeout_established", "300");
        write(proc, "nf_conntrack_tcp_timeout_syn_sent", "120");
        write(proc, "nf_conntrack_tcp_timeout_time_wait", "60");
        write(proc, "nf_conntrack_udp_timeout", "30");
        write(proc, "nf_conntrack_udp_timeout_stream", "180");
        write(proc, "nf_conntrack_icmp_timeout", "25");
        write(proc, "nf_conntrack_sctp_timeout_established", "3000");
        write(proc, "nf_conntrack_max", "262144"); // not a timeout: ignored
        KernelTimeouts t = KernelTimeouts.read(proc);

        assertEquals(OptionalLong.of(300), t.of(tcp(TcpState.ESTABLISHED)));
        assertEquals(OptionalLong.of(120), t.of(tcp(TcpState.SYN_SENT2)), "SYN_SENT2 counts as SYN_SENT");
        assertEquals(OptionalLong.of(60), t.of(tcp(TcpState.TIME_WAIT)));
        assertEquals(OptionalLong.empty(), t.of(tcp(TcpState.FIN_WAIT)), "no setting: left alone");
        assertEquals(OptionalLong.of(30), t.of(udp(0)), "unreplied");
        assertEquals(OptionalLong.of(180), t.of(udp(Status.SEEN_REPLY.mask())), "replied: a stream");
        assertEquals(OptionalLong.of(25), t.of(ConntrackEntry.builder(Tuple.ofIcmp(A, A, IpProtocol.ICMP, 8, 0, 1))
                .timeout(30).build()));
        assertEquals(OptionalLong.of(3000), t.of(ConntrackEntry.builder(Tuple.ofPorts(A, A, IpProtocol.SCTP, 1, 2))
                .sctp(new SctpInfo(SctpState.HEARTBEAT_ACKED, 1, 2)).timeout(30).build()),
                "HEARTBEAT_ACKED has the established timeout on current kernels");
        assertEquals(OptionalLong.empty(), t.of(ConntrackEntry.builder(Tuple.ofPorts(A, A, IpProtocol.DCCP, 1, 2))
                .timeout(30).build()));
    }

    @Test
    void aMissingDirectoryShortensNothing(@TempDir Path dir) {
        assertEquals(OptionalLong.empty(), KernelTimeouts.read(dir.resolve("absent")).of(tcp(TcpState.ESTABLISHED)));
    }

    private static ConntrackEntry tcp(TcpState state) {
        return ConntrackEntry.builder(Tuple.ofPorts(A, A, IpProtocol.TCP, 1000, 80)).tcp(TcpInfo.of(state)).timeout(500)
                .build();
    }

    private static ConntrackEntry udp(int status) {
        return ConntrackEntry.builder(Tuple.ofPorts(A, A, IpProtocol.UDP, 1000, 53)).status(status).timeout(500).build();
    }

    private static void write(Path dir, String name, String value) throws IOException {
        Files.writeString(dir.resolve(name), value + "\n");
    }
}

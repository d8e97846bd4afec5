package io.zaro.tests.netns;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.Status;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * Flows as a busy firewall holds them, for tests and benchmarks that fill a table without
 * traffic: half established TCP (IPv4 ones source-NATed to {@code natAddress}, or to 10.21.x.y
 * beyond the first 60 000 flows), half UDP with
 * marks, a third of those in zone 3, a tenth of all over IPv6. Flow {@code i} is always the same.
 */
public final class SyntheticFlows {
    private final InetAddress serverV4;
    private final InetAddress serverV6;
    private final InetAddress natAddress;

    public SyntheticFlows(String serverV4, String serverV6, String natAddress) {
        this.serverV4 = ip(serverV4);
        this.serverV6 = ip(serverV6);
        this.natAddress = ip(natAddress);
    }

    /** {@code n} flows from index {@code first}, with a 600 s timeout. */
    public List<ConntrackEntry> range(int first, int n) {
        List<ConntrackEntry> out = new ArrayList<>(n);
        for (int i = first; i < first + n; i++) {
            out.add(flow(i));
        }
        return out;
    }

    public ConntrackEntry flow(int i) {
        int port = 1024 + i % 60000;
        int host = i / 60000;
        boolean v6 = i % 10 == 9;
        InetAddress src = ip(v6 ? "fd20:1::" + Integer.toHexString(0x100 + host) : "10.20." + (1 + host / 150) + "." + (100 + host % 150));
        InetAddress dst = v6 ? serverV6 : serverV4;
        if (i % 2 == 0) {
            Tuple orig = Tuple.ofPorts(src, dst, IpProtocol.TCP, port, 443);
            ConntrackEntry.Builder b = ConntrackEntry.builder(orig).timeout(600)
                    .status(Status.SEEN_REPLY, Status.ASSURED)
                    .tcp(new TcpInfo(TcpState.ESTABLISHED, 7, 7, 0, 0));
            if (!v6) {
                // One NAT address per 60 000 flows, so that no two reply tuples clash.
                InetAddress nat = host == 0 ? natAddress : ip("10.21." + (host / 250) + "." + (1 + host % 250));
                b.reply(Tuple.ofPorts(dst, nat, IpProtocol.TCP, 443, port));
            }
            return b.build();
        }
        Tuple orig = Tuple.ofPorts(src, dst, IpProtocol.UDP, port, 53);
        return ConntrackEntry.builder(orig).timeout(600).status(Status.SEEN_REPLY).mark(i % 7)
                .zone(i % 3 == 0 ? 3 : 0).build();
    }

    private static InetAddress ip(String text) {
        try {
            return InetAddress.getByName(text);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }
}

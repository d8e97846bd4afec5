package io.zaro.conntrack.nfct;

import static io.zaro.conntrack.TupleTest.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.sun.jna.Pointer;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.SctpInfo;
import io.zaro.conntrack.SctpState;
import io.zaro.conntrack.Status;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every mapped attribute survives Java -> nf_conntrack object -> the library's ctnetlink
 * encoding -> {@link CtNetlink} -> Java, through the real library but without the kernel (no
 * root needed). Needs libnetfilter_conntrack.so.3 installed.
 */
class NfctMapperTest {
    @BeforeAll
    public static void library() {
        try {
            NfctConntrackTable.loadLibrary();
        } catch (RuntimeException e) {
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                throw e;
            }
            Assumptions.abort(e.getMessage());
        }
    }

    static Stream<Arguments> entries() {
        Tuple tcp = Tuple.ofPorts(ip("10.0.0.1"), ip("198.51.100.7"), IpProtocol.TCP, 40000, 443);
        return Stream.of(
                Arguments.of("tcp with every attribute", ConntrackEntry.builder(tcp)
                        .status(Status.SEEN_REPLY, Status.ASSURED)
                        .tcp(new TcpInfo(TcpState.ESTABLISHED, 7, 9, 0x23, 0x03))
                        .timeout(431999).mark(0xfffffffeL).zone(65535).labels(List.of(0, 5, 64, 127))
                        .helper("ftp").build()),
                Arguments.of("udp ipv6", ConntrackEntry.builder(
                        Tuple.ofPorts(ip("fd00::1"), ip("2001:db8::53"), IpProtocol.UDP, 5353, 53))
                        .timeout(30).zone(7).build()),
                Arguments.of("udplite", ConntrackEntry.builder(
                        Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.UDPLITE, 1, 2)).timeout(30).build()),
                Arguments.of("gre keys", ConntrackEntry.builder(
                        Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.GRE, 0x1234, 0x5678)).timeout(30).build()),
                Arguments.of("icmp echo", ConntrackEntry.builder(
                        Tuple.ofIcmp(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.ICMP, 8, 0, 4242)).timeout(30).build()),
                Arguments.of("icmpv6 echo", ConntrackEntry.builder(
                        Tuple.ofIcmp(ip("fd00::1"), ip("fd00::2"), IpProtocol.ICMPV6, 128, 0, 1)).timeout(30).build()),
                Arguments.of("sctp", ConntrackEntry.builder(
                        Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.SCTP, 3868, 3868))
                        .sctp(new SctpInfo(SctpState.ESTABLISHED, 0xdeadbeefL, 0x01020304L)).timeout(300).build()),
                Arguments.of("generic protocol (esp)", ConntrackEntry.builder(
                        new Tuple(ip("10.0.0.1"), ip("10.0.0.2"), new IpProtocol(50), 0, 0, 0, 0, 0)).timeout(600).build()));
    }

    /** The entry as the library encodes it on the wire: written to an object, built into a ctnetlink message. */
    static java.nio.ByteBuffer encode(ConntrackEntry entry, boolean create) {
        Pointer ct = LibNetfilterConntrack.nfct_new();
        try (com.sun.jna.Memory msg = new com.sun.jna.Memory(4096)) {
            msg.clear();
            new NfctMapper().write(ct, entry, create);
            msg.setInt(0, CtNetlink.NLMSG_HDRLEN + CtNetlink.NFGENMSG_LEN);          // nlmsg_len
            msg.setShort(4, (short) (CtNetlink.SUBSYS_CTNETLINK << 8 | CtNetlink.IPCTNL_MSG_CT_NEW));
            msg.setShort(6, (short) (1 | CtNetlink.NLM_F_CREATE));                   // request, create
            msg.setByte(CtNetlink.NLMSG_HDRLEN, (byte) entry.family().af());         // nfgenmsg
            LibNetfilterConntrack.nfct_nlmsg_build(msg, ct);
            int len = msg.getInt(0);
            return java.nio.ByteBuffer.wrap(msg.getByteArray(0, len)).order(java.nio.ByteOrder.nativeOrder());
        } finally {
            LibNetfilterConntrack.nfct_destroy(ct);
        }
    }

    /** Parses one message with CtNetlink, as the table and the event reader do. */
    static ConntrackEntry decode(java.nio.ByteBuffer message) {
        ConntrackEntry[] out = new ConntrackEntry[1];
        CtNetlink.read(message, new CtNetlink.Sink() {
            @Override
            public void entry(io.zaro.conntrack.ConntrackEvent.Type type, ConntrackEntry entry, int portId) {
                assertEquals(io.zaro.conntrack.ConntrackEvent.Type.NEW, type);
                out[0] = entry;
            }

            @Override
            public void error(int errno, int seq) {
                throw new AssertionError("unexpected error message");
            }

            @Override
            public void done(boolean interrupted) {
                throw new AssertionError("unexpected done message");
            }
        });
        return out[0];
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("entries")
    void roundTripsThroughTheLibrarysWireEncoding(String name, ConntrackEntry entry) {
        ConntrackEntry got = decode(encode(entry, true));
        // libnetfilter_conntrack marks every create request CONFIRMED; the kernel ignores the bit.
        assertEquals(entry.status() | Status.CONFIRMED.mask(), got.status());
        assertEquals(entry, got.toBuilder().status(got.status() & ~Status.CONFIRMED.mask()).build());
    }

    static Stream<Arguments> natEntries() {
        Tuple tcp = Tuple.ofPorts(ip("10.0.0.1"), ip("198.51.100.7"), IpProtocol.TCP, 40000, 443);
        Tuple icmp = Tuple.ofIcmp(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.ICMP, 8, 0, 4242);
        Tuple v6 = Tuple.ofPorts(ip("fd00::1"), ip("2001:db8::1"), IpProtocol.UDP, 5000, 53);
        // name, entry, SNAT address, SNAT port, DNAT address, DNAT port (null: not requested)
        return Stream.of(
                Arguments.of("source NAT with port", ConntrackEntry.builder(tcp)
                        .reply(Tuple.ofPorts(ip("198.51.100.7"), ip("192.0.2.10"), IpProtocol.TCP, 443, 61001)).build(),
                        "192.0.2.10", 61001, null, null),
                Arguments.of("source NAT keeping the port", ConntrackEntry.builder(tcp)
                        .reply(Tuple.ofPorts(ip("198.51.100.7"), ip("192.0.2.10"), IpProtocol.TCP, 443, 40000)).build(),
                        "192.0.2.10", null, null, null),
                Arguments.of("destination NAT", ConntrackEntry.builder(tcp)
                        .reply(Tuple.ofPorts(ip("10.9.9.9"), ip("10.0.0.1"), IpProtocol.TCP, 8443, 40000)).build(),
                        null, null, "10.9.9.9", 8443),
                Arguments.of("ipv6 source NAT", ConntrackEntry.builder(v6)
                        .reply(Tuple.ofPorts(ip("2001:db8::1"), ip("fd00::99"), IpProtocol.UDP, 53, 5000)).build(),
                        "fd00::99", null, null, null),
                Arguments.of("icmp source NAT with a new id", ConntrackEntry.builder(icmp)
                        .reply(Tuple.ofIcmp(ip("10.0.0.2"), ip("192.0.2.10"), IpProtocol.ICMP, 0, 0, 7)).build(),
                        "192.0.2.10", 7, null, null),
                Arguments.of("no NAT", ConntrackEntry.builder(tcp).build(), null, null, null, null));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("natEntries")
    void aTranslatedReplyBecomesANatRequest(String name, ConntrackEntry entry, String snat, Integer snatPort,
                                            String dnat, Integer dnatPort) {
        Pointer ct = LibNetfilterConntrack.nfct_new();
        try {
            new NfctMapper().write(ct, entry, true);
            boolean v4 = entry.family() == io.zaro.conntrack.Family.IPV4;
            assertEquals(snat == null ? null : ip(snat), address(ct, v4 ? LibNetfilterConntrack.ATTR_SNAT_IPV4 : LibNetfilterConntrack.ATTR_SNAT_IPV6, v4));
            assertEquals(dnat == null ? null : ip(dnat), address(ct, v4 ? LibNetfilterConntrack.ATTR_DNAT_IPV4 : LibNetfilterConntrack.ATTR_DNAT_IPV6, v4));
            assertEquals(snatPort, port(ct, LibNetfilterConntrack.ATTR_SNAT_PORT));
            assertEquals(dnatPort, port(ct, LibNetfilterConntrack.ATTR_DNAT_PORT));
            // the request carries the untranslated reply; the kernel computes the translated one
            assertEquals(entry.original().inverse(), decode(encode(entry, true)).reply());
        } finally {
            LibNetfilterConntrack.nfct_destroy(ct);
        }
    }

    @org.junit.jupiter.api.Test
    void updatesNeverCarryNat() {
        Pointer ct = LibNetfilterConntrack.nfct_new();
        try {
            ConntrackEntry nat = ConntrackEntry.builder(Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.TCP, 1, 2))
                    .reply(Tuple.ofPorts(ip("10.0.0.2"), ip("192.0.2.1"), IpProtocol.TCP, 2, 3)).build();
            new NfctMapper().write(ct, nat, false);
            assertEquals(null, address(ct, LibNetfilterConntrack.ATTR_SNAT_IPV4, true));
            assertEquals(null, port(ct, LibNetfilterConntrack.ATTR_SNAT_PORT));
        } finally {
            LibNetfilterConntrack.nfct_destroy(ct);
        }
    }

    private static java.net.InetAddress address(Pointer ct, int attr, boolean v4) {
        Pointer p = LibNetfilterConntrack.nfct_get_attr(ct, attr);
        try {
            return p == null ? null : java.net.InetAddress.getByAddress(p.getByteArray(0, v4 ? 4 : 16));
        } catch (java.net.UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    private static Integer port(Pointer ct, int attr) {
        Pointer p = LibNetfilterConntrack.nfct_get_attr(ct, attr);
        return p == null ? null : ((p.getByte(0) & 0xff) << 8) | (p.getByte(1) & 0xff);
    }
}

package io.zaro.conntrack.nfct;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent;
import io.zaro.conntrack.Family;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.SctpInfo;
import io.zaro.conntrack.SctpState;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads ctnetlink messages (the kernel's conntrack netlink format, linux/netfilter/nfnetlink_conntrack.h)
 * straight from a receive buffer into entries: one pass, no native call per attribute. Netlink
 * headers are in host byte order, attribute values in network byte order.
 *
 * <p>Pure Java: works on any {@link ByteBuffer}, so it is tested without the kernel.
 */
final class CtNetlink {
    private CtNetlink() {
    }

    // netlink (linux/netlink.h)
    static final int NLMSG_HDRLEN = 16;
    static final int NLMSG_NOOP = 1;
    static final int NLMSG_ERROR = 2;
    static final int NLMSG_DONE = 3;
    static final int NLMSG_OVERRUN = 4;
    static final int NLM_F_EXCL = 0x200;
    static final int NLM_F_CREATE = 0x400;
    static final int NLM_F_DUMP_INTR = 0x10;
    static final int NFGENMSG_LEN = 4;
    private static final int NLA_TYPE_MASK = 0x3fff;

    // nfnetlink_conntrack.h
    static final int SUBSYS_CTNETLINK = 1;
    static final int IPCTNL_MSG_CT_NEW = 0;
    static final int IPCTNL_MSG_CT_DELETE = 2;
    static final int CTA_TUPLE_ORIG = 1;
    static final int CTA_TUPLE_REPLY = 2;
    static final int CTA_STATUS = 3;
    static final int CTA_PROTOINFO = 4;
    static final int CTA_HELP = 5;
    static final int CTA_TIMEOUT = 7;
    static final int CTA_MARK = 8;
    static final int CTA_USE = 11;
    static final int CTA_ID = 12;
    static final int CTA_ZONE = 18;
    static final int CTA_LABELS = 22;
    static final int CTA_TUPLE_IP = 1;
    static final int CTA_TUPLE_PROTO = 2;
    static final int CTA_IP_V4_SRC = 1;
    static final int CTA_IP_V4_DST = 2;
    static final int CTA_IP_V6_SRC = 3;
    static final int CTA_IP_V6_DST = 4;
    static final int CTA_PROTO_NUM = 1;
    static final int CTA_PROTO_SRC_PORT = 2;
    static final int CTA_PROTO_DST_PORT = 3;
    static final int CTA_PROTO_ICMP_ID = 4;
    static final int CTA_PROTO_ICMP_TYPE = 5;
    static final int CTA_PROTO_ICMP_CODE = 6;
    static final int CTA_PROTO_ICMPV6_ID = 7;
    static final int CTA_PROTO_ICMPV6_TYPE = 8;
    static final int CTA_PROTO_ICMPV6_CODE = 9;
    static final int CTA_PROTOINFO_TCP = 1;
    static final int CTA_PROTOINFO_SCTP = 3;
    static final int CTA_PROTOINFO_TCP_STATE = 1;
    static final int CTA_PROTOINFO_TCP_WSCALE_ORIGINAL = 2;
    static final int CTA_PROTOINFO_TCP_WSCALE_REPLY = 3;
    static final int CTA_PROTOINFO_TCP_FLAGS_ORIGINAL = 4;
    static final int CTA_PROTOINFO_TCP_FLAGS_REPLY = 5;
    static final int CTA_PROTOINFO_SCTP_STATE = 1;
    static final int CTA_PROTOINFO_SCTP_VTAG_ORIGINAL = 2;
    static final int CTA_PROTOINFO_SCTP_VTAG_REPLY = 3;
    static final int CTA_HELP_NAME = 1;

    /** What one netlink message in a receive buffer was. */
    interface Sink {
        /** A conntrack message; answers to dumps and gets come typed UPDATE, as the kernel marks them. */
        default void entry(ConntrackEvent.Type type, ConntrackEntry entry, int portId) {
        }

        /** NLMSG_ERROR: {@code errno} 0 is an acknowledgement. */
        default void error(int errno, int seq) {
        }

        /** NLMSG_DONE: the end of a dump. */
        default void done(boolean interrupted) {
        }
    }

    static int align4(int n) {
        return (n + 3) & ~3;
    }

    /**
     * Reads every netlink message in {@code buf} (position to limit). {@code buf}'s byte order
     * must be the host's. Message-level problems (a malformed entry) are thrown after the whole
     * buffer was read, so that a bad message never hides the ones after it.
     */
    static void read(ByteBuffer buf, Sink sink) {
        RuntimeException first = null;
        boolean interrupted = false;
        int pos = buf.position();
        int end = buf.limit();
        while (pos + NLMSG_HDRLEN <= end) {
            int len = buf.getInt(pos);
            if (len < NLMSG_HDRLEN || pos + len > end) {
                throw new IllegalStateException("truncated netlink message of " + len + " bytes at " + pos);
            }
            int type = Short.toUnsignedInt(buf.getShort(pos + 4));
            int flags = Short.toUnsignedInt(buf.getShort(pos + 6));
            int seq = buf.getInt(pos + 8);
            int portId = buf.getInt(pos + 12);
            interrupted |= (flags & NLM_F_DUMP_INTR) != 0;
            if (type == NLMSG_ERROR) {
                // struct nlmsgerr: the errno, then the header of the request it answers
                if (len < NLMSG_HDRLEN + 4 + NLMSG_HDRLEN) {
                    throw new IllegalStateException("truncated netlink error message of " + len + " bytes");
                }
                sink.error(-buf.getInt(pos + NLMSG_HDRLEN), buf.getInt(pos + NLMSG_HDRLEN + 4 + 8));
            } else if (type == NLMSG_DONE) {
                sink.done(interrupted);
            } else if (type >> 8 == SUBSYS_CTNETLINK) {
                try {
                    int msg = type & 0xff;
                    ConntrackEvent.Type eventType = msg == IPCTNL_MSG_CT_DELETE ? ConntrackEvent.Type.DESTROY
                            : (flags & (NLM_F_CREATE | NLM_F_EXCL)) != 0 ? ConntrackEvent.Type.NEW
                            : ConntrackEvent.Type.UPDATE;
                    ConntrackEntry entry = entry(buf, pos + NLMSG_HDRLEN, pos + len);
                    sink.entry(eventType, entry, portId);
                } catch (RuntimeException e) {
                    if (first == null) {
                        first = e;
                    }
                }
            }
            pos += align4(len);
        }
        if (first != null) {
            throw first;
        }
    }

    /**
     * Walks the attributes of one nest: after each {@link #next()}, {@link #type} (flags masked
     * off) and the value's bounds. An attribute shorter than its header or reaching beyond its
     * parent is malformed. A cursor rather than a callback, so that the hot path of a dump
     * makes no megamorphic call per attribute.
     */
    static final class Attributes {
        private final ByteBuffer b;
        private final int end;
        private int next;
        int type;
        int value;
        int valueEnd;

        Attributes(ByteBuffer b, int start, int end) {
            this.b = b;
            this.next = start;
            this.end = end;
        }

        boolean next() {
            if (next + 4 > end) {
                return false;
            }
            int alen = Short.toUnsignedInt(b.getShort(next));
            type = b.getShort(next + 2) & NLA_TYPE_MASK;
            if (alen < 4 || next + alen > end) {
                throw new IllegalStateException("malformed conntrack attribute " + type + " of " + alen + " bytes");
            }
            value = next + 4;
            valueEnd = next + alen;
            next += align4(alen);
            return true;
        }
    }

    /** One conntrack message's payload: nfgenmsg, then attributes. */
    static ConntrackEntry entry(ByteBuffer b, int start, int end) {
        if (end - start < NFGENMSG_LEN) {
            throw new IllegalStateException("conntrack message without its nfgenmsg header");
        }
        int af = Byte.toUnsignedInt(b.get(start));
        boolean v4 = af == Family.IPV4.af();
        if (!v4 && af != Family.IPV6.af()) {
            throw new IllegalStateException("conntrack message of unknown address family " + af);
        }
        Tuple original = null;
        Tuple reply = null;
        int status = 0;
        Long timeout = null;
        long mark = 0;
        int zone = 0;
        Long id = null;
        Long use = null;
        String helper = null;
        List<Integer> labels = List.of();
        TcpInfo tcp = null;
        SctpInfo sctp = null;
        for (Attributes a = new Attributes(b, start + NFGENMSG_LEN, end); a.next(); ) {
            int v = a.value;
            int vend = a.valueEnd;
            switch (a.type) {
                case CTA_TUPLE_ORIG -> original = tuple(b, v, vend, v4);
                case CTA_TUPLE_REPLY -> reply = tuple(b, v, vend, v4);
                case CTA_STATUS -> status = (int) be32(b, v, vend);
                case CTA_TIMEOUT -> timeout = be32(b, v, vend);
                case CTA_MARK -> mark = be32(b, v, vend);
                case CTA_ZONE -> zone = be16(b, v, vend);
                case CTA_ID -> id = be32(b, v, vend);
                case CTA_USE -> use = be32(b, v, vend);
                case CTA_LABELS -> labels = labels(b, v, vend);
                case CTA_HELP -> {
                    for (Attributes h = new Attributes(b, v, vend); h.next(); ) {
                        if (h.type == CTA_HELP_NAME) {
                            helper = string(b, h.value, h.valueEnd);
                        }
                    }
                }
                case CTA_PROTOINFO -> {
                    for (Attributes p = new Attributes(b, v, vend); p.next(); ) {
                        if (p.type == CTA_PROTOINFO_TCP) {
                            tcp = tcpInfo(b, p.value, p.valueEnd);
                        } else if (p.type == CTA_PROTOINFO_SCTP) {
                            sctp = sctpInfo(b, p.value, p.valueEnd);
                        }
                    }
                }
                default -> { }
            }
        }
        if (original == null || reply == null) {
            throw new IllegalStateException("conntrack message without both tuples");
        }
        ConntrackEntry.Builder builder = ConntrackEntry.builder(original).reply(reply)
                .status(status).timeout(timeout).mark(mark).zone(zone).id(id).use(use)
                .helper(helper).labels(labels);
        if (tcp != null && original.protocol().equals(IpProtocol.TCP)) {
            builder.tcp(tcp);
        }
        if (sctp != null && original.protocol().equals(IpProtocol.SCTP)) {
            builder.sctp(sctp);
        }
        return builder.build();
    }

    /** A tuple: CTA_TUPLE_IP and CTA_TUPLE_PROTO nests. */
    private static Tuple tuple(ByteBuffer b, int start, int end, boolean v4) {
        InetAddress src = null;
        InetAddress dst = null;
        int proto = -1;
        int sport = 0;
        int dport = 0;
        int icmpType = 0;
        int icmpCode = 0;
        int icmpId = 0;
        for (Attributes outer = new Attributes(b, start, end); outer.next(); ) {
            for (Attributes a = new Attributes(b, outer.value, outer.valueEnd); a.next(); ) {
                int v = a.value;
                int vend = a.valueEnd;
                if (outer.type == CTA_TUPLE_IP) {
                    switch (a.type) {
                        case CTA_IP_V4_SRC -> src = address(b, v, vend, 4);
                        case CTA_IP_V4_DST -> dst = address(b, v, vend, 4);
                        case CTA_IP_V6_SRC -> src = address(b, v, vend, 16);
                        case CTA_IP_V6_DST -> dst = address(b, v, vend, 16);
                        default -> { }
                    }
                } else if (outer.type == CTA_TUPLE_PROTO) {
                    switch (a.type) {
                        case CTA_PROTO_NUM -> proto = u8(b, v, vend);
                        case CTA_PROTO_SRC_PORT -> sport = be16(b, v, vend);
                        case CTA_PROTO_DST_PORT -> dport = be16(b, v, vend);
                        case CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMPV6_TYPE -> icmpType = u8(b, v, vend);
                        case CTA_PROTO_ICMP_CODE, CTA_PROTO_ICMPV6_CODE -> icmpCode = u8(b, v, vend);
                        case CTA_PROTO_ICMP_ID, CTA_PROTO_ICMPV6_ID -> icmpId = be16(b, v, vend);
                        default -> { }
                    }
                }
            }
        }
        if (src == null || dst == null || proto < 0) {
            throw new IllegalStateException("incomplete tuple in conntrack message");
        }
        if ((src.getAddress().length == 4) != v4 || (dst.getAddress().length == 4) != v4) {
            throw new IllegalStateException("tuple address family differs from the message's");
        }
        IpProtocol protocol = new IpProtocol(proto);
        if (protocol.isIcmp()) {
            return Tuple.ofIcmp(src, dst, protocol, icmpType, icmpCode, icmpId);
        }
        if (protocol.hasPorts()) {
            return Tuple.ofPorts(src, dst, protocol, sport, dport);
        }
        return new Tuple(src, dst, protocol, 0, 0, 0, 0, 0);
    }

    private static TcpInfo tcpInfo(ByteBuffer b, int start, int end) {
        int state = -1;
        int wsOrig = 0;
        int wsRepl = 0;
        int flOrig = 0;
        int flRepl = 0;
        for (Attributes a = new Attributes(b, start, end); a.next(); ) {
            switch (a.type) {
                case CTA_PROTOINFO_TCP_STATE -> state = u8(b, a.value, a.valueEnd);
                case CTA_PROTOINFO_TCP_WSCALE_ORIGINAL -> wsOrig = u8(b, a.value, a.valueEnd);
                case CTA_PROTOINFO_TCP_WSCALE_REPLY -> wsRepl = u8(b, a.value, a.valueEnd);
                // struct nf_ct_tcp_flags { flags; mask; }: the flags are the first byte
                case CTA_PROTOINFO_TCP_FLAGS_ORIGINAL -> flOrig = u8(b, a.value, a.valueEnd);
                case CTA_PROTOINFO_TCP_FLAGS_REPLY -> flRepl = u8(b, a.value, a.valueEnd);
                default -> { }
            }
        }
        return state < 0 ? null : new TcpInfo(TcpState.fromKernel(state), wsOrig, wsRepl, flOrig, flRepl);
    }

    private static SctpInfo sctpInfo(ByteBuffer b, int start, int end) {
        int state = -1;
        long vOrig = 0;
        long vRepl = 0;
        for (Attributes a = new Attributes(b, start, end); a.next(); ) {
            switch (a.type) {
                case CTA_PROTOINFO_SCTP_STATE -> state = u8(b, a.value, a.valueEnd);
                case CTA_PROTOINFO_SCTP_VTAG_ORIGINAL -> vOrig = be32(b, a.value, a.valueEnd);
                case CTA_PROTOINFO_SCTP_VTAG_REPLY -> vRepl = be32(b, a.value, a.valueEnd);
                default -> { }
            }
        }
        return state < 0 ? null : new SctpInfo(SctpState.fromKernel(state), vOrig, vRepl);
    }

    /** A NUL-terminated ASCII string; null when empty. */
    private static String string(ByteBuffer b, int start, int end) {
        StringBuilder s = new StringBuilder();
        for (int i = start; i < end && b.get(i) != 0; i++) {
            s.append((char) (b.get(i) & 0x7f));
        }
        return s.length() == 0 ? null : s.toString();
    }

    /** CTA_LABELS is the kernel's bitmap of unsigned longs, in host byte order (little-endian here). */
    private static List<Integer> labels(ByteBuffer b, int start, int end) {
        List<Integer> bits = new ArrayList<>();
        int bytes = Math.min(end - start, (ConntrackEntry.MAX_LABEL_BIT + 1) / 8);
        boolean little = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
        for (int i = 0; i < bytes; i++) {
            // bit n is in the n/W-th word; within a little-endian word, byte n/8 holds it.
            int index = little ? i : (i / 8) * 8 + (7 - i % 8);
            if (index >= end - start) {
                continue;
            }
            int value = Byte.toUnsignedInt(b.get(start + index));
            for (int bit = 0; bit < 8; bit++) {
                if ((value & (1 << bit)) != 0) {
                    bits.add(i * 8 + bit);
                }
            }
        }
        return bits;
    }

    private static void need(int at, int end, int bytes) {
        if (end - at < bytes) {
            throw new IllegalStateException("conntrack attribute value of " + (end - at) + " bytes where " + bytes + " are needed");
        }
    }

    private static int u8(ByteBuffer b, int at, int end) {
        need(at, end, 1);
        return Byte.toUnsignedInt(b.get(at));
    }

    private static int be16(ByteBuffer b, int at, int end) {
        need(at, end, 2);
        return ((b.get(at) & 0xff) << 8) | (b.get(at + 1) & 0xff);
    }

    private static long be32(ByteBuffer b, int at, int end) {
        need(at, end, 4);
        return ((long) (b.get(at) & 0xff) << 24) | ((b.get(at + 1) & 0xff) << 16)
                | ((b.get(at + 2) & 0xff) << 8) | (b.get(at + 3) & 0xff);
    }

    private static InetAddress address(ByteBuffer b, int at, int end, int len) {
        need(at, end, len);
        byte[] raw = new byte[len];
        b.get(at, raw);
        try {
            // Inet6Address keeps ::ffff:a.b.c.d an IPv6 address; InetAddress.getByAddress would not.
            return len == 16 ? java.net.Inet6Address.getByAddress(null, raw, -1) : InetAddress.getByAddress(raw);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }
}

package io.zaro.conntrack.nfct;

import static io.zaro.conntrack.nfct.LibNetfilterConntrack.*;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.Family;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.SctpInfo;
import io.zaro.conntrack.SctpState;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * Maps {@link ConntrackEntry} values to and from libnetfilter_conntrack's {@code nf_conntrack}
 * objects. Not thread-safe: each instance owns a scratch buffer for attribute values.
 */
final class NfctMapper {
    private static final int LABEL_BITS = ConntrackEntry.MAX_LABEL_BIT + 1;

    /** Attribute values are copied out of this buffer by nfct_set_attr. */
    private final Memory scratch = new Memory(32);

    // ---------------------------------------------------------------- kernel -> Java

    /** Reads a conntrack object into a value. */
    static ConntrackEntry read(Pointer ct) {
        int af = u8(ct, ATTR_ORIG_L3PROTO);
        boolean v4 = af == Family.IPV4.af();
        if (!v4 && af != Family.IPV6.af()) {
            throw new IllegalStateException("conntrack entry of unknown address family " + af);
        }
        IpProtocol protocol = new IpProtocol(u8(ct, ATTR_ORIG_L4PROTO));
        Tuple original = readTuple(ct, protocol, v4, true);
        Tuple reply = readTuple(ct, protocol, v4, false);
        ConntrackEntry.Builder b = ConntrackEntry.builder(original).reply(reply);

        Pointer p;
        if ((p = nfct_get_attr(ct, ATTR_STATUS)) != null) {
            b.status(p.getInt(0));
        }
        if ((p = nfct_get_attr(ct, ATTR_TIMEOUT)) != null) {
            b.timeout(Integer.toUnsignedLong(p.getInt(0)));
        }
        if ((p = nfct_get_attr(ct, ATTR_MARK)) != null) {
            b.mark(Integer.toUnsignedLong(p.getInt(0)));
        }
        if ((p = nfct_get_attr(ct, ATTR_ZONE)) != null) {
            b.zone(Short.toUnsignedInt(p.getShort(0)));
        }
        if ((p = nfct_get_attr(ct, ATTR_ID)) != null) {
            b.id(Integer.toUnsignedLong(p.getInt(0)));
        }
        if ((p = nfct_get_attr(ct, ATTR_USE)) != null) {
            b.use(Integer.toUnsignedLong(p.getInt(0)));
        }
        if ((p = nfct_get_attr(ct, ATTR_HELPER_NAME)) != null) {
            String helper = p.getString(0, "US-ASCII");
            b.helper(helper.isEmpty() ? null : helper);
        }
        if ((p = nfct_get_attr(ct, ATTR_CONNLABELS)) != null) {
            b.labels(readLabels(p));
        }
        if (protocol.equals(IpProtocol.TCP) && (p = nfct_get_attr(ct, ATTR_TCP_STATE)) != null) {
            b.tcp(new TcpInfo(TcpState.fromKernel(Byte.toUnsignedInt(p.getByte(0))),
                    optU8(ct, ATTR_TCP_WSCALE_ORIG), optU8(ct, ATTR_TCP_WSCALE_REPL),
                    optU8(ct, ATTR_TCP_FLAGS_ORIG), optU8(ct, ATTR_TCP_FLAGS_REPL)));
        }
        if (protocol.equals(IpProtocol.SCTP) && (p = nfct_get_attr(ct, ATTR_SCTP_STATE)) != null) {
            b.sctp(new SctpInfo(SctpState.fromKernel(Byte.toUnsignedInt(p.getByte(0))),
                    optU32(ct, ATTR_SCTP_VTAG_ORIG), optU32(ct, ATTR_SCTP_VTAG_REPL)));
        }
        return b.build();
    }

    private static Tuple readTuple(Pointer ct, IpProtocol protocol, boolean v4, boolean orig) {
        int srcAttr = v4 ? (orig ? ATTR_ORIG_IPV4_SRC : ATTR_REPL_IPV4_SRC) : (orig ? ATTR_ORIG_IPV6_SRC : ATTR_REPL_IPV6_SRC);
        InetAddress src = address(ct, srcAttr, v4);
        InetAddress dst = address(ct, srcAttr + 1, v4);
        if (protocol.hasPorts()) {
            return Tuple.ofPorts(src, dst, protocol,
                    be16(ct, orig ? ATTR_ORIG_PORT_SRC : ATTR_REPL_PORT_SRC),
                    be16(ct, orig ? ATTR_ORIG_PORT_DST : ATTR_REPL_PORT_DST));
        }
        if (protocol.isIcmp()) {
            if (orig) {
                return Tuple.ofIcmp(src, dst, protocol, optU8(ct, ATTR_ICMP_TYPE), optU8(ct, ATTR_ICMP_CODE),
                        be16(ct, ATTR_ICMP_ID));
            }
            // libnetfilter_conntrack keeps the reply's ICMP id, type and code in the reply port
            // fields (a union); they are set only when the kernel sent a reply ICMP tuple.
            Pointer id = nfct_get_attr(ct, ATTR_REPL_PORT_SRC);
            Pointer typeCode = nfct_get_attr(ct, ATTR_REPL_PORT_DST);
            Tuple inverse = readTuple(ct, protocol, v4, true).inverse();
            return Tuple.ofIcmp(src, dst, protocol,
                    typeCode == null ? inverse.icmpType() : Byte.toUnsignedInt(typeCode.getByte(0)),
                    typeCode == null ? inverse.icmpCode() : Byte.toUnsignedInt(typeCode.getByte(1)),
                    id == null ? inverse.icmpId() : be16(id));
        }
        return new Tuple(src, dst, protocol, 0, 0, 0, 0, 0);
    }

    private static InetAddress address(Pointer ct, int attr, boolean v4) {
        Pointer p = nfct_get_attr(ct, attr);
        byte[] raw = p == null ? new byte[v4 ? 4 : 16] : p.getByteArray(0, v4 ? 4 : 16);
        try {
            return InetAddress.getByAddress(raw);
        } catch (UnknownHostException e) {
            throw new IllegalStateException("impossible address length", e);
        }
    }

    private static List<Integer> readLabels(Pointer bitmask) {
        int max = Math.min(nfct_bitmask_maxbit(bitmask), ConntrackEntry.MAX_LABEL_BIT);
        List<Integer> bits = new ArrayList<>();
        for (int bit = 0; bit <= max; bit++) {
            if (nfct_bitmask_test_bit(bitmask, bit) != 0) {
                bits.add(bit);
            }
        }
        return bits;
    }

    private static int u8(Pointer ct, int attr) {
        Pointer p = nfct_get_attr(ct, attr);
        if (p == null) {
            throw new IllegalStateException("conntrack entry without attribute " + attr);
        }
        return Byte.toUnsignedInt(p.getByte(0));
    }

    private static int optU8(Pointer ct, int attr) {
        Pointer p = nfct_get_attr(ct, attr);
        return p == null ? 0 : Byte.toUnsignedInt(p.getByte(0));
    }

    private static long optU32(Pointer ct, int attr) {
        Pointer p = nfct_get_attr(ct, attr);
        return p == null ? 0 : Integer.toUnsignedLong(p.getInt(0));
    }

    /** A 16-bit value stored in network byte order. */
    private static int be16(Pointer ct, int attr) {
        Pointer p = nfct_get_attr(ct, attr);
        return p == null ? 0 : be16(p);
    }

    private static int be16(Pointer p) {
        return ((p.getByte(0) & 0xff) << 8) | (p.getByte(1) & 0xff);
    }

    // ---------------------------------------------------------------- Java -> kernel

    /** Sets the identity of a flow: family, original tuple and zone. Enough for get and delete. */
    void writeKey(Pointer ct, Tuple original, int zone) {
        boolean v4 = original.source() instanceof Inet4Address;
        nfct_set_attr_u8(ct, ATTR_ORIG_L3PROTO, (byte) (v4 ? Family.IPV4.af() : Family.IPV6.af()));
        nfct_set_attr_u8(ct, ATTR_ORIG_L4PROTO, (byte) original.protocol().number());
        setAddress(ct, v4 ? ATTR_ORIG_IPV4_SRC : ATTR_ORIG_IPV6_SRC, original.source());
        setAddress(ct, v4 ? ATTR_ORIG_IPV4_DST : ATTR_ORIG_IPV6_DST, original.destination());
        if (original.protocol().hasPorts()) {
            setBe16(ct, ATTR_ORIG_PORT_SRC, original.sourcePort());
            setBe16(ct, ATTR_ORIG_PORT_DST, original.destinationPort());
        } else if (original.protocol().isIcmp()) {
            nfct_set_attr_u8(ct, ATTR_ICMP_TYPE, (byte) original.icmpType());
            nfct_set_attr_u8(ct, ATTR_ICMP_CODE, (byte) original.icmpCode());
            setBe16(ct, ATTR_ICMP_ID, original.icmpId());
        }
        nfct_set_attr_u16(ct, ATTR_ZONE, (short) zone);
    }

    /**
     * Sets every attribute of {@code entry} that a create or update sends.
     *
     * <p>The reply tuple is sent as the original's inverse (the library computes it, ICMP types
     * included). A translated reply becomes a NAT request instead, for create only: the kernel
     * owns the NAT status bits and ignores them in a request; it sets them, and rewrites the
     * reply tuple, only when it sets up the translation itself from the original tuple and a NAT
     * range (as conntrackd injects NAT flows). An update cannot change NAT.
     *
     * <p>Labels are sent only when the entry has some: the kernel refuses labels in a namespace
     * that never enabled them.
     */
    void write(Pointer ct, ConntrackEntry entry, boolean create) {
        writeKey(ct, entry.original(), entry.zone());
        nfct_setobjopt(ct, NFCT_SOPT_SETUP_REPLY);
        if (create) {
            writeNat(ct, entry);
        }
        nfct_set_attr_u32(ct, ATTR_STATUS, entry.status());
        if (entry.timeout() != null) {
            nfct_set_attr_u32(ct, ATTR_TIMEOUT, (int) (long) entry.timeout());
        }
        nfct_set_attr_u32(ct, ATTR_MARK, (int) entry.mark());
        TcpInfo tcp = entry.tcp();
        if (tcp != null) {
            nfct_set_attr_u8(ct, ATTR_TCP_STATE, (byte) tcp.state().kernelValue());
            nfct_set_attr_u8(ct, ATTR_TCP_FLAGS_ORIG, (byte) tcp.flagsOriginal());
            nfct_set_attr_u8(ct, ATTR_TCP_MASK_ORIG, (byte) 0xff);
            nfct_set_attr_u8(ct, ATTR_TCP_FLAGS_REPL, (byte) tcp.flagsReply());
            nfct_set_attr_u8(ct, ATTR_TCP_MASK_REPL, (byte) 0xff);
            nfct_set_attr_u8(ct, ATTR_TCP_WSCALE_ORIG, (byte) tcp.windowScaleOriginal());
            nfct_set_attr_u8(ct, ATTR_TCP_WSCALE_REPL, (byte) tcp.windowScaleReply());
        }
        SctpInfo sctp = entry.sctp();
        if (sctp != null) {
            nfct_set_attr_u8(ct, ATTR_SCTP_STATE, (byte) sctp.state().kernelValue());
            nfct_set_attr_u32(ct, ATTR_SCTP_VTAG_ORIG, (int) sctp.vtagOriginal());
            nfct_set_attr_u32(ct, ATTR_SCTP_VTAG_REPL, (int) sctp.vtagReply());
        }
        if (entry.helper() != null) {
            scratch.clear();
            scratch.setString(0, entry.helper(), "US-ASCII");
            nfct_set_attr(ct, ATTR_HELPER_NAME, scratch);
        }
        if (!entry.labels().isEmpty()) {
            nfct_set_attr(ct, ATTR_CONNLABELS, bitmask(entry.labels()));
            nfct_set_attr(ct, ATTR_CONNLABELS_MASK, bitmask(allLabelBits()));
        }
    }

    /** The NAT request that turns the original tuple into the entry's reply tuple. */
    private void writeNat(Pointer ct, ConntrackEntry entry) {
        Tuple o = entry.original();
        Tuple r = entry.reply();
        boolean v4 = o.source() instanceof Inet4Address;
        if (!r.destination().equals(o.source())) {
            setAddress(ct, v4 ? ATTR_SNAT_IPV4 : ATTR_SNAT_IPV6, r.destination());
        }
        if (r.destinationPort() != o.sourcePort()) {
            setBe16(ct, ATTR_SNAT_PORT, r.destinationPort());
        } else if (o.protocol().isIcmp() && r.icmpId() != o.icmpId()) {
            setBe16(ct, ATTR_SNAT_PORT, r.icmpId());
        }
        if (!r.source().equals(o.destination())) {
            setAddress(ct, v4 ? ATTR_DNAT_IPV4 : ATTR_DNAT_IPV6, r.source());
        }
        if (r.sourcePort() != o.destinationPort()) {
            setBe16(ct, ATTR_DNAT_PORT, r.sourcePort());
        }
    }

    private static List<Integer> allLabelBits() {
        List<Integer> all = new ArrayList<>(LABEL_BITS);
        for (int i = 0; i < LABEL_BITS; i++) {
            all.add(i);
        }
        return all;
    }

    /** A new bitmask; the conntrack object takes ownership when it is set as an attribute. */
    private static Pointer bitmask(List<Integer> bits) {
        Pointer bm = nfct_bitmask_new(ConntrackEntry.MAX_LABEL_BIT);
        if (bm == null) {
            throw new OutOfMemoryError("nfct_bitmask_new");
        }
        for (int bit : bits) {
            nfct_bitmask_set_bit(bm, bit);
        }
        return bm;
    }

    private void setAddress(Pointer ct, int attr, InetAddress address) {
        byte[] raw = address.getAddress();
        scratch.write(0, raw, 0, raw.length);
        nfct_set_attr(ct, attr, scratch);
    }

    private void setBe16(Pointer ct, int attr, int value) {
        scratch.setByte(0, (byte) (value >>> 8));
        scratch.setByte(1, (byte) value);
        nfct_set_attr(ct, attr, scratch);
    }
}

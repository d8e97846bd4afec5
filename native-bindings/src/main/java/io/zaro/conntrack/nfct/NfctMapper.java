package io.zaro.conntrack.nfct;

import static io.zaro.conntrack.nfct.LibNetfilterConntrack.*;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.Family;
import io.zaro.conntrack.SctpInfo;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.Tuple;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * Maps {@link ConntrackEntry} values to libnetfilter_conntrack's {@code nf_conntrack} objects, for
 * the library to build requests from (the way back is {@link CtNetlink}). Not thread-safe: each
 * instance owns a scratch buffer for attribute values.
 */
final class NfctMapper {
    private static final int LABEL_BITS = ConntrackEntry.MAX_LABEL_BIT + 1;

    /** Attribute values are copied out of this buffer by nfct_set_attr. */
    private final Memory scratch = new Memory(32);

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

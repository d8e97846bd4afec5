package io.zaro.conntrack.nfct;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

/**
 * Direct-mapped calls into {@code libnetfilter_conntrack.so.3} (Debian libnetfilter-conntrack3)
 * and the two calls of {@code libnfnetlink.so.0} it needs. Thin calls only: mapping to Java types
 * lives in {@link NfctMapper}. Contracts restated from libnetfilter_conntrack.h.
 *
 * <p>Multi-byte tuple attributes (addresses, ports, ICMP id) are in network byte order; the
 * others (status, timeout, mark, zone, id, use, vtags) in host order.
 */
final class LibNetfilterConntrack {
    static final String LIBRARY = "libnetfilter_conntrack.so.3";
    static final String NFNETLINK = "libnfnetlink.so.0";

    static {
        Native.register(LibNetfilterConntrack.class, NativeLibrary.getInstance(LIBRARY));
    }

    private LibNetfilterConntrack() {
    }

    // subsystem ids and multicast groups (linux/netfilter/nfnetlink.h, nfnetlink_compat.h)
    static final byte CONNTRACK = 1;
    static final int NF_NETLINK_CONNTRACK_NEW = 0x1;
    static final int NF_NETLINK_CONNTRACK_UPDATE = 0x2;
    static final int NF_NETLINK_CONNTRACK_DESTROY = 0x4;

    // enum nf_conntrack_query
    static final int NFCT_Q_CREATE = 0;
    static final int NFCT_Q_UPDATE = 1;
    static final int NFCT_Q_DESTROY = 2;
    static final int NFCT_Q_GET = 3;
    static final int NFCT_Q_FLUSH = 4;
    static final int NFCT_Q_DUMP = 5;

    // nfct_setobjopt
    static final int NFCT_SOPT_SETUP_REPLY = 5;

    // enum nf_conntrack_attr
    static final int ATTR_ORIG_IPV4_SRC = 0;
    static final int ATTR_ORIG_IPV4_DST = 1;
    static final int ATTR_REPL_IPV4_SRC = 2;
    static final int ATTR_REPL_IPV4_DST = 3;
    static final int ATTR_ORIG_IPV6_SRC = 4;
    static final int ATTR_ORIG_IPV6_DST = 5;
    static final int ATTR_REPL_IPV6_SRC = 6;
    static final int ATTR_REPL_IPV6_DST = 7;
    static final int ATTR_ORIG_PORT_SRC = 8;
    static final int ATTR_ORIG_PORT_DST = 9;
    static final int ATTR_REPL_PORT_SRC = 10;
    static final int ATTR_REPL_PORT_DST = 11;
    static final int ATTR_ICMP_TYPE = 12;
    static final int ATTR_ICMP_CODE = 13;
    static final int ATTR_ICMP_ID = 14;
    static final int ATTR_ORIG_L3PROTO = 15;
    static final int ATTR_REPL_L3PROTO = 16;
    static final int ATTR_ORIG_L4PROTO = 17;
    static final int ATTR_REPL_L4PROTO = 18;
    static final int ATTR_TCP_STATE = 19;
    static final int ATTR_SNAT_IPV4 = 20;
    static final int ATTR_DNAT_IPV4 = 21;
    static final int ATTR_SNAT_PORT = 22;
    static final int ATTR_DNAT_PORT = 23;
    static final int ATTR_TIMEOUT = 24;
    static final int ATTR_MARK = 25;
    static final int ATTR_USE = 30;
    static final int ATTR_ID = 31;
    static final int ATTR_STATUS = 32;
    static final int ATTR_TCP_FLAGS_ORIG = 33;
    static final int ATTR_TCP_FLAGS_REPL = 34;
    static final int ATTR_TCP_MASK_ORIG = 35;
    static final int ATTR_TCP_MASK_REPL = 36;
    static final int ATTR_SCTP_STATE = 52;
    static final int ATTR_SCTP_VTAG_ORIG = 53;
    static final int ATTR_SCTP_VTAG_REPL = 54;
    static final int ATTR_HELPER_NAME = 55;
    static final int ATTR_TCP_WSCALE_ORIG = 59;
    static final int ATTR_TCP_WSCALE_REPL = 60;
    static final int ATTR_ZONE = 61;
    static final int ATTR_CONNLABELS = 66;
    static final int ATTR_CONNLABELS_MASK = 67;
    static final int ATTR_SNAT_IPV6 = 70;
    static final int ATTR_DNAT_IPV6 = 71;

    /** Opens a netlink handle; {@code subscriptions} are multicast groups (0 for requests only). NULL on failure, errno set. */
    static native Pointer nfct_open(byte subsysId, int subscriptions);

    /** Closes the handle and its socket. -1 on failure. */
    static native int nfct_close(Pointer handle);

    /** The socket's file descriptor. */
    static native int nfct_fd(Pointer handle);

    /** The underlying libnfnetlink handle (owned by the nfct handle). */
    static native Pointer nfct_nfnlh(Pointer handle);

    /** Allocates an empty conntrack object; NULL when out of memory. Free with {@link #nfct_destroy}. */
    static native Pointer nfct_new();

    static native void nfct_destroy(Pointer ct);

    /** Sets an attribute by copying from {@code value} (labels: takes ownership of the bitmask). */
    static native void nfct_set_attr(Pointer ct, int attr, Pointer value);

    static native void nfct_set_attr_u8(Pointer ct, int attr, byte value);

    static native void nfct_set_attr_u16(Pointer ct, int attr, short value);

    static native void nfct_set_attr_u32(Pointer ct, int attr, int value);

    /** Pointer to the attribute's value inside the object, or NULL (errno ENODATA) when unset. */
    static native Pointer nfct_get_attr(Pointer ct, int attr);

    static native int nfct_setobjopt(Pointer ct, int option);

    /**
     * Builds and sends a query without reading the answer (the caller reads it from
     * {@link #nfct_fd}). {@code data} is a conntrack object, or a pointer to a u32 family for DUMP
     * and FLUSH. Every query but DUMP asks for an acknowledgement. -1 on failure, errno set.
     */
    static native int nfct_send(Pointer handle, int query, Pointer data);

    /**
     * Appends the nfgenmsg header and the attributes of {@code ct} to the netlink message at
     * {@code nlh}, whose nlmsg_len must be set; updates nlmsg_len. The caller provides the room.
     */
    static native int nfct_nlmsg_build(Pointer nlh, Pointer ct);

    static native Pointer nfct_bitmask_new(int maxbit);

    static native int nfct_bitmask_maxbit(Pointer bitmask);

    static native void nfct_bitmask_set_bit(Pointer bitmask, int bit);

    static native int nfct_bitmask_test_bit(Pointer bitmask, int bit);

    static native void nfct_bitmask_destroy(Pointer bitmask);

    /** libnfnetlink, the library libnetfilter_conntrack is built on. */
    static final class Nfnl {
        static {
            Native.register(Nfnl.class, NativeLibrary.getInstance(NFNETLINK));
        }

        private Nfnl() {
        }

        /** The socket's netlink port id, as the kernel assigned it at bind. */
        static native int nfnl_portid(Pointer nfnlh);

        /** Sets SO_RCVBUF (SO_RCVBUFFORCE when privileged) and returns the size the kernel reports. */
        static native int nfnl_rcvbufsiz(Pointer nfnlh, int size);
    }
}

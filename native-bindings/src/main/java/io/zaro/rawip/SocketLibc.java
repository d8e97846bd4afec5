package io.zaro.rawip;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

/**
 * The libc socket calls a raw IP socket needs (Linux x86_64 and arm64 values). Each returns -1
 * on failure with errno set, as its man page says.
 */
final class SocketLibc {
    static {
        Native.register(SocketLibc.class, NativeLibrary.getInstance("c"));
    }

    private SocketLibc() {
    }

    static final int AF_INET = 2;
    static final int SOCK_RAW = 3;
    static final int SOCK_CLOEXEC = 0x80000;
    static final int SOL_SOCKET = 1;
    static final int SO_BINDTODEVICE = 25;
    static final int SO_RCVTIMEO = 20;
    static final int IPPROTO_IP = 0;
    static final int IP_TTL = 2;
    static final int IP_MULTICAST_IF = 32;
    static final int IP_MULTICAST_TTL = 33;
    static final int IP_MULTICAST_LOOP = 34;
    static final int IP_ADD_MEMBERSHIP = 35;
    static final int AF_INET6 = 10;
    static final int IPPROTO_IPV6 = 41;
    static final int IPV6_CHECKSUM = 7;
    static final int IPV6_UNICAST_HOPS = 16;
    static final int IPV6_MULTICAST_IF = 17;
    static final int IPV6_MULTICAST_HOPS = 18;
    static final int IPV6_MULTICAST_LOOP = 19;
    static final int IPV6_ADD_MEMBERSHIP = 20;
    static final int IPV6_RECVPKTINFO = 49;
    static final int IPV6_PKTINFO = 50;
    static final int IPV6_RECVHOPLIMIT = 51;
    static final int IPV6_HOPLIMIT = 52;
    static final int EINTR = 4;
    static final int EAGAIN = 11;

    /** A socket's file descriptor. */
    static native int socket(int domain, int type, int protocol);

    static native int bind(int fd, Pointer addr, int addrlen);

    static native int setsockopt(int fd, int level, int optname, Pointer optval, int optlen);

    static native long sendto(int fd, Pointer buf, long len, int flags, Pointer destAddr, int addrlen);

    static native long recv(int fd, Pointer buf, long len, int flags);

    static native long recvmsg(int fd, Pointer msghdr, int flags);

    static native int close(int fd);

    /** The interface's index, or 0 when there is none of that name. */
    static native int if_nametoindex(String ifname);

    static native String strerror(int errnum);
}

package io.zaro.conntrack.nfct;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

/** The few libc calls the bindings need. Each returns -1 on failure with errno set. */
final class Libc {
    static {
        Native.register(Libc.class, NativeLibrary.getInstance("c"));
    }

    private Libc() {
    }

    static final int O_RDONLY = 0;
    static final int O_CLOEXEC = 0x80000;
    static final int CLONE_NEWNET = 0x40000000;
    static final int SOL_SOCKET = 1;
    static final int SO_RCVTIMEO = 20;
    static final int MSG_DONTWAIT = 0x40;
    static final int EINTR = 4;
    static final int EAGAIN = 11;

    static native int open(String path, int flags);

    static native int close(int fd);

    /** Moves the calling thread (only) into the namespace behind {@code fd}. */
    static native int setns(int fd, int nstype);

    /** Receives one datagram into {@code buf}; its length, or -1 with errno. */
    static native long recv(int fd, Pointer buf, long len, int flags);

    /** Sends {@code len} bytes as one datagram; the bytes sent, or -1 with errno. */
    static native long send(int fd, Pointer buf, long len, int flags);

    static native int setsockopt(int fd, int level, int optname, Pointer optval, int optlen);

    static native String strerror(int errnum);
}

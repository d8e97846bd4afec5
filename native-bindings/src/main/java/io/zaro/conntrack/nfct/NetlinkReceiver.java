package io.zaro.conntrack.nfct;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Receives netlink datagrams from one socket into a native buffer and hands them to
 * {@link CtNetlink#read}: one native call per datagram (a dump datagram holds some hundred
 * entries), none per entry or attribute. Not thread-safe: each socket has its own.
 */
final class NetlinkReceiver {
    /** The kernel fills dump datagrams up to 32 KiB when the reader offers that much. */
    static final int BUFFER_BYTES = 64 * 1024;

    private final int fd;
    private final Memory buffer = new Memory(BUFFER_BYTES);
    private final ByteBuffer view = buffer.getByteBuffer(0, BUFFER_BYTES).order(ByteOrder.nativeOrder());

    NetlinkReceiver(int fd) {
        this.fd = fd;
    }

    /**
     * Receives one datagram and reads its messages into {@code sink}.
     *
     * @return 0, or the errno of a failed receive (EAGAIN after the socket's receive timeout,
     *     ENOBUFS when the kernel dropped messages, EINTR)
     */
    int receive(CtNetlink.Sink sink) {
        return receive(sink, 0);
    }

    /** Discards whatever is queued on the socket without waiting: the rest of an aborted answer. */
    void drain() {
        CtNetlink.Sink ignore = new CtNetlink.Sink() {
        };
        while (true) {
            int errno;
            try {
                errno = receive(ignore, Libc.MSG_DONTWAIT);
            } catch (RuntimeException e) {
                continue;
            }
            if (errno != 0 && errno != Libc.EINTR) {
                return;
            }
        }
    }

    private int receive(CtNetlink.Sink sink, int flags) {
        long n = Libc.recv(fd, buffer, BUFFER_BYTES, flags);
        if (n < 0) {
            return Native.getLastError();
        }
        view.limit((int) n).position(0);
        CtNetlink.read(view, sink);
        return 0;
    }
}

package io.zaro.conntrack.nfct;

import static io.zaro.conntrack.nfct.LibNetfilterConntrack.*;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent;
import io.zaro.conntrack.ConntrackEventListener;
import io.zaro.conntrack.ConntrackException;
import io.zaro.conntrack.EventOptions;
import io.zaro.conntrack.EventSubscription;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One event socket and the thread that reads it. The socket has a receive timeout so that the
 * reader notices {@link #close()} within {@link #POLL_MILLIS}.
 */
final class NfctEventSubscription implements EventSubscription {
    private static final Logger log = LoggerFactory.getLogger(NfctEventSubscription.class);
    static final int POLL_MILLIS = 200;

    /** Owned by the reader thread; closed by it on exit. */
    private final Pointer handle;
    private final ConntrackEventListener listener;
    private final int receiveBufferBytes;
    private final AtomicLong events = new AtomicLong();
    private final AtomicLong losses = new AtomicLong();
    private volatile boolean closing;
    private final Thread reader;

    private NfctEventSubscription(Pointer handle, int receiveBufferBytes, ConntrackEventListener listener) {
        this.handle = handle;
        this.listener = listener;
        this.receiveBufferBytes = receiveBufferBytes;
        this.reader = new Thread(this::run, "zaro-conntrack-events");
        this.reader.setDaemon(true);
    }

    static NfctEventSubscription start(Path netns, EventOptions options, ConntrackEventListener listener) {
        int groups = 0;
        for (ConntrackEvent.Type t : options.types()) {
            groups |= switch (t) {
                case NEW -> NF_NETLINK_CONNTRACK_NEW;
                case UPDATE -> NF_NETLINK_CONNTRACK_UPDATE;
                case DESTROY -> NF_NETLINK_CONNTRACK_DESTROY;
            };
        }
        int subscribed = groups;
        Pointer h = NetnsEntry.call(netns, () -> NfctConntrackTable.openHandle(subscribed, "listen"));
        try {
            int granted = Nfnl.nfnl_rcvbufsiz(nfct_nfnlh(h), options.receiveBufferBytes());
            setReceiveTimeout(nfct_fd(h));
            NfctEventSubscription s = new NfctEventSubscription(h, granted, listener);
            s.reader.start();
            return s;
        } catch (RuntimeException e) {
            nfct_close(h);
            throw e;
        }
    }

    private static void setReceiveTimeout(int fd) {
        try (Memory tv = new Memory(16)) {
            tv.setLong(0, 0);
            tv.setLong(8, POLL_MILLIS * 1000L);
            if (Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_RCVTIMEO, tv, 16) != 0) {
                throw NfctConntrackTable.error("listen", Native.getLastError());
            }
        }
    }

    /** Owned by the reader thread. */
    private void deliver(ConntrackEvent.Type type, ConntrackEntry entry, int portId) {
        events.incrementAndGet();
        try {
            listener.onEvent(new ConntrackEvent(type, entry, portId));
        } catch (RuntimeException e) {
            // A listener's failure must not stop the reader: log and go on.
            log.warn("conntrack event listener failed: {}", e.toString());
        }
    }

    private void run() {
        NetlinkReceiver receiver = new NetlinkReceiver(nfct_fd(handle));
        CtNetlink.Sink sink = new CtNetlink.Sink() {
            @Override
            public void entry(ConntrackEvent.Type type, ConntrackEntry entry, int portId) {
                deliver(type, entry, portId);
            }

        };
        try {
            readUntilClosed(receiver, sink);
        } catch (Error e) {
            // An Error (out of memory, a listener's assertion) would end this thread silently:
            // tell the listener that no further events will come.
            log.error("conntrack event reader stopped", e);
            try {
                listener.onFailure(new ConntrackException("listen", 0, "the event reader stopped: " + e, e));
            } catch (RuntimeException ignored) {
                // nothing more to tell
            }
        } finally {
            nfct_close(handle);
        }
    }

    private void readUntilClosed(NetlinkReceiver receiver, CtNetlink.Sink sink) {
        while (!closing) {
            int errno;
            try {
                errno = receiver.receive(sink);
            } catch (RuntimeException e) {
                // The datagram may have held more events than the one that failed: report a loss,
                // so that the listener resynchronises rather than trust a gap.
                log.warn("malformed conntrack event datagram dropped: {}", e.toString());
                errno = ConntrackException.ENOBUFS;
            }
            if (errno == ConntrackException.ENOBUFS) {
                long n = losses.incrementAndGet();
                log.warn("conntrack events lost: receive buffer of {} bytes overran (overrun #{})", receiveBufferBytes, n);
                try {
                    listener.onEventLoss(n);
                } catch (RuntimeException e) {
                    log.warn("event-loss listener failed: {}", e.toString());
                }
            } else if (errno != 0 && errno != Libc.EAGAIN && errno != Libc.EINTR && !closing) {
                ConntrackException error = NfctConntrackTable.error("listen", errno);
                log.error(error.getMessage());
                listener.onFailure(error);
                return;
            }
        }
    }

    @Override
    public long eventCount() {
        return events.get();
    }

    @Override
    public long lossCount() {
        return losses.get();
    }

    @Override
    public int receiveBufferBytes() {
        return receiveBufferBytes;
    }

    /** Stops the reader (within about {@link #POLL_MILLIS}) and waits for it to close the socket. */
    @Override
    public void close() {
        closing = true;
        if (Thread.currentThread() == reader) {
            return;
        }
        try {
            reader.join(10L * POLL_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package io.zaro.conntrack.nfct;

import static io.zaro.conntrack.nfct.LibNetfilterConntrack.*;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
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
    private static final int NLMSG_PID_OFFSET = 12;

    /** Owned by the reader thread; closed by it on exit. */
    private final Pointer handle;
    private final ConntrackEventListener listener;
    private final int receiveBufferBytes;
    private final AtomicLong events = new AtomicLong();
    private final AtomicLong losses = new AtomicLong();
    private volatile boolean closing;
    private final Thread reader;
    /** Strong reference: the native side holds only a pointer to it. */
    private final MessageCallback callback;

    private NfctEventSubscription(Pointer handle, int receiveBufferBytes, ConntrackEventListener listener) {
        this.handle = handle;
        this.listener = listener;
        this.receiveBufferBytes = receiveBufferBytes;
        this.callback = this::onMessage;
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
            if (nfct_callback_register2(h, NFCT_T_ALL, s.callback, null) < 0) {
                throw NfctConntrackTable.error("listen", Native.getLastError());
            }
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

    private int onMessage(Pointer nlh, int type, Pointer ct, Pointer data) {
        try {
            ConntrackEvent.Type t = switch (type) {
                case NFCT_T_NEW -> ConntrackEvent.Type.NEW;
                case NFCT_T_UPDATE -> ConntrackEvent.Type.UPDATE;
                case NFCT_T_DESTROY -> ConntrackEvent.Type.DESTROY;
                default -> null;
            };
            if (t != null) {
                ConntrackEvent event = new ConntrackEvent(t, NfctMapper.read(ct), nlh.getInt(NLMSG_PID_OFFSET));
                events.incrementAndGet();
                listener.onEvent(event);
            }
        } catch (RuntimeException e) {
            // A listener's or mapper's failure must not stop the reader: log and go on.
            log.warn("conntrack event dropped: {}", e.toString());
        }
        return closing ? NFCT_CB_STOP : NFCT_CB_CONTINUE;
    }

    private void run() {
        try {
            while (!closing) {
                int rc = nfct_catch(handle);
                if (rc >= 0) {
                    continue;
                }
                int errno = Native.getLastError();
                if (errno == ConntrackException.ENOBUFS) {
                    long n = losses.incrementAndGet();
                    log.warn("conntrack events lost: receive buffer of {} bytes overran (overrun #{})", receiveBufferBytes, n);
                    try {
                        listener.onEventLoss(n);
                    } catch (RuntimeException e) {
                        log.warn("event-loss listener failed: {}", e.toString());
                    }
                } else if (errno != Libc.EAGAIN && errno != Libc.EINTR && !closing) {
                    ConntrackException error = NfctConntrackTable.error("listen", errno);
                    log.error(error.getMessage());
                    listener.onFailure(error);
                    return;
                }
            }
        } finally {
            nfct_callback_unregister2(handle);
            nfct_close(handle);
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

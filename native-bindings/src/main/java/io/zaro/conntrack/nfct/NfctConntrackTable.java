package io.zaro.conntrack.nfct;

import static io.zaro.conntrack.nfct.LibNetfilterConntrack.*;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent;
import io.zaro.conntrack.ConntrackEventListener;
import io.zaro.conntrack.ConntrackException;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.EventOptions;
import io.zaro.conntrack.EventSubscription;
import io.zaro.conntrack.Family;
import io.zaro.conntrack.Status;
import io.zaro.conntrack.Tuple;
import io.zaro.conntrack.BatchResult;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * {@link ConntrackTable} on libnetfilter_conntrack: one netlink request socket, used under this
 * object's lock, plus one socket and thread per event subscription. The library opens the
 * sockets, subscribes, and builds and sends requests; answers and events are received a
 * datagram at a time and parsed in Java ({@link CtNetlink}), which spares a native call per
 * entry and attribute.
 */
public final class NfctConntrackTable implements ConntrackTable {
    /** Status bits only the kernel may set; create and update never send them. */
    static final int KERNEL_OWNED_STATUS = Status.maskOf(Status.EXPECTED, Status.CONFIRMED, Status.DYING, Status.TEMPLATE,
            Status.NAT_CLASH, Status.OFFLOAD, Status.HW_OFFLOAD, Status.SRC_NAT, Status.DST_NAT,
            Status.SRC_NAT_DONE, Status.DST_NAT_DONE) | 0xffff0000;

    private final Path netns;
    /** The request handle; guarded by {@code this}, null once closed. */
    private Pointer handle;
    /** Guarded by {@code this}. */
    private final NfctMapper mapper = new NfctMapper();
    /** A u32 family argument for dump and flush; guarded by {@code this}. */
    private final Memory familyArg = new Memory(4);
    private final int portId;
    /** Batched requests are built here; guarded by {@code this}. */
    private final Memory batch = new Memory(BATCH_BYTES);
    /** Sequence numbers of batched requests; guarded by {@code this}. */
    private int nextSeq = 1 << 30;
    /**
     * Set when a request was abandoned before its whole answer was read; the socket is drained
     * before the next request, so that no stale answer is taken for its. Guarded by {@code this}.
     */
    private boolean unreadAnswer;
    /**
     * A request is being answered. The lock is reentrant, so a dump consumer calling back into
     * the table would otherwise run a second request on the same socket mid-answer. Guarded by {@code this}.
     */
    private boolean busy;
    /** Reads the answers of the request socket; guarded by {@code this}. */
    private final NetlinkReceiver receiver;

    /**
     * One batch datagram: below the socket's default send buffer (netlink refuses a datagram
     * larger than sk_sndbuf - 32).
     */
    static final int BATCH_BYTES = 128 * 1024;
    /** Room kept for one create request; the largest (IPv6, labels, helper, NAT) is under 400 bytes. */
    static final int MAX_REQUEST_BYTES = 1024;
    /** The request socket's receive buffer: holds the acknowledgements of a whole batch. */
    static final int REQUEST_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
    private static final int NLM_F_REQUEST = 0x1;
    private static final int NLM_F_ACK = 0x4;

    private NfctConntrackTable(Path netns, Pointer handle) {
        this.netns = netns;
        this.handle = handle;
        Nfnl.nfnl_rcvbufsiz(nfct_nfnlh(handle), REQUEST_RECEIVE_BUFFER_BYTES);
        this.portId = Nfnl.nfnl_portid(nfct_nfnlh(handle));
        this.receiver = new NetlinkReceiver(nfct_fd(handle));
    }

    /**
     * Opens the table of the network namespace at {@code netns} (such as /run/netns/NAME), or of
     * the caller's own namespace when null.
     *
     * @throws ConntrackException with a one-sentence fix when the library is missing or the
     *     namespace cannot be entered
     */
    public static NfctConntrackTable open(Path netns) {
        loadLibrary();
        Pointer h = NetnsEntry.call(netns, () -> openHandle(0, "open"));
        return new NfctConntrackTable(netns, h);
    }

    static void loadLibrary() {
        try {
            Class.forName(LibNetfilterConntrack.class.getName(), true, NfctConntrackTable.class.getClassLoader());
            Class.forName(Nfnl.class.getName(), true, NfctConntrackTable.class.getClassLoader());
            Class.forName(Libc.class.getName(), true, NfctConntrackTable.class.getClassLoader());
        } catch (LinkageError | ClassNotFoundException e) {
            throw new ConntrackException("load", 0, LIBRARY + " could not be loaded: install it with "
                    + "`apt-get install libnetfilter-conntrack3` (" + rootMessage(e) + ")", e);
        }
    }

    /** The loader's own reason (such as "file too short"), from the innermost cause's second line on. */
    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        java.util.List<String> lines = String.valueOf(t.getMessage()).lines().map(String::strip)
                .filter(l -> !l.isEmpty() && !l.startsWith("Unable to load library") && !l.contains("resource path"))
                .toList();
        return lines.isEmpty() ? "not found" : lines.get(0);
    }

    static Pointer openHandle(int groups, String operation) {
        Pointer h = nfct_open(CONNTRACK, groups);
        if (h == null) {
            throw error(operation, Native.getLastError());
        }
        return h;
    }

    /** The one place a native errno becomes an exception with a sentence a user can act on. */
    static ConntrackException error(String operation, int errno) {
        String text = Libc.strerror(errno);
        String message = switch (errno) {
            case ConntrackException.EPERM -> "conntrack " + operation + " is not permitted: run zaro as root or "
                    + "give it CAP_NET_ADMIN (" + text + ")";
            case 93 /* EPROTONOSUPPORT */ -> "conntrack " + operation + " failed: the kernel has no conntrack "
                    + "netlink support; load it with `modprobe nf_conntrack_netlink` (" + text + ")";
            default -> "conntrack " + operation + " failed: " + text;
        };
        return new ConntrackException(operation, errno, message);
    }

    @Override
    public int portId() {
        return portId;
    }

    private Pointer handle() {
        if (handle == null) {
            throw new IllegalStateException("conntrack table is closed");
        }
        return handle;
    }

    /**
     * Sends a query through the library and reads its answer here, until the kernel's final
     * acknowledgement (or the end of a dump). Answer entries go to {@code sink}; the first
     * exception of the sink or of parsing is rethrown after the whole answer was read, so that
     * no part of it is left in the socket for the next query.
     *
     * @return 0, or the errno the kernel answered with
     */
    private int query(int query, Pointer arg, Consumer<ConntrackEntry> sink) {
        enter();
        boolean complete = false;
        try {
            int errno = queryOnce(query, arg, sink);
            complete = true;
            return errno;
        } finally {
            leave(complete);
        }
    }

    private void enter() {
        if (busy) {
            throw new IllegalStateException("conntrack table methods cannot be called from inside a dump consumer");
        }
        busy = true;
    }

    /** Ends a request; one that did not end normally (any Throwable) may have left answers unread. */
    private void leave(boolean complete) {
        busy = false;
        if (!complete) {
            unreadAnswer = true;
        }
    }

    private int queryOnce(int query, Pointer arg, Consumer<ConntrackEntry> sink) {
        Pointer h = handle();
        drainIfNeeded();
        if (nfct_send(h, query, arg) < 0) {
            return Native.getLastError();
        }
        int[] result = {-1};
        RuntimeException[] failure = new RuntimeException[1];
        CtNetlink.Sink answer = new CtNetlink.Sink() {
            @Override
            public void entry(ConntrackEvent.Type type, ConntrackEntry entry, int portId) {
                if (failure[0] == null) {
                    try {
                        sink.accept(entry);
                    } catch (RuntimeException e) {
                        failure[0] = e;
                    }
                }
            }

            @Override
            public void error(int errno, int seq) {
                // The kernel sends 0 (ack) or a negated errno; anything else ends the query too.
                result[0] = errno < 0 ? ConntrackException.EINVAL : errno;
            }

            @Override
            public void done(boolean interrupted) {
                result[0] = 0;
            }
        };
        while (result[0] < 0) {
            int errno;
            try {
                errno = receiver.receive(answer);
            } catch (RuntimeException e) {
                if (failure[0] == null) {
                    failure[0] = e;
                }
                continue;
            }
            if (errno != 0 && errno != Libc.EINTR) {
                unreadAnswer = true;
                return errno;
            }
        }
        if (failure[0] != null) {
            throw failure[0];
        }
        return result[0];
    }

    private void drainIfNeeded() {
        if (unreadAnswer) {
            receiver.drain();
            unreadAnswer = false;
        }
    }

    @Override
    public synchronized void dump(Family family, Consumer<ConntrackEntry> sink) {
        familyArg.setInt(0, family.af());
        int errno = query(NFCT_Q_DUMP, familyArg, sink);
        if (errno != 0) {
            throw error("dump", errno);
        }
    }

    @Override
    public synchronized Optional<ConntrackEntry> get(Tuple original, int zone) {
        ConntrackEntry[] found = new ConntrackEntry[1];
        Pointer ct = newObject("get");
        try {
            mapper.writeKey(ct, original, zone);
            int errno = query(NFCT_Q_GET, ct, e -> found[0] = e);
            if (errno == ConntrackException.ENOENT) {
                return Optional.empty();
            }
            if (errno != 0) {
                throw error("get", errno);
            }
            return Optional.ofNullable(found[0]);
        } finally {
            nfct_destroy(ct);
        }
    }

    @Override
    public synchronized void create(ConntrackEntry entry) {
        requireTimeout(entry);
        write("create", NFCT_Q_CREATE, entry);
    }


    @Override
    public synchronized BatchResult createAll(List<ConntrackEntry> entries) {
        entries.forEach(NfctConntrackTable::requireTimeout);
        return writeAll(entries, Write.CREATE);
    }

    @Override
    public synchronized BatchResult updateAll(List<ConntrackEntry> entries) {
        return writeAll(entries, Write.UPDATE);
    }

    @Override
    public synchronized BatchResult deleteAll(List<ConntrackEntry> flows) {
        return writeAll(flows, Write.DELETE);
    }

    /** The batched requests: each a ctnetlink message of its own in one datagram, acknowledged one by one. */
    private enum Write {
        // As libnetfilter_conntrack builds NFCT_Q_CREATE, NFCT_Q_UPDATE and NFCT_Q_DESTROY: creates and
        // updates are CT_NEW messages (a create exclusive), deletes CT_DELETE with only the key.
        CREATE("create", CtNetlink.IPCTNL_MSG_CT_NEW, NLM_F_REQUEST | NLM_F_ACK | CtNetlink.NLM_F_CREATE | CtNetlink.NLM_F_EXCL),
        UPDATE("update", CtNetlink.IPCTNL_MSG_CT_NEW, NLM_F_REQUEST | NLM_F_ACK),
        DELETE("delete", CtNetlink.IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK);

        final String operation;
        final int message;
        final int flags;

        Write(String operation, int message, int flags) {
            this.operation = operation;
            this.message = message;
            this.flags = flags;
        }
    }

    private BatchResult writeAll(List<ConntrackEntry> entries, Write write) {
        int[] errnos = new int[entries.size()];
        int from = 0;
        enter();
        boolean complete = false;
        try {
            while (from < entries.size()) {
                from = sendBatch(entries, from, errnos, write);
            }
            complete = true;
        } finally {
            leave(complete);
        }
        return new BatchResult(errnos);
    }

    /**
     * Builds create, update or delete requests from {@code entries[from..]} into one datagram, as
     * many as fit, sends it and reads one acknowledgement per request (matched by sequence number).
     *
     * @return the index of the first entry not sent
     */
    private int sendBatch(List<ConntrackEntry> entries, int from, int[] errnos, Write write) {
        String operation = write.operation;
        Pointer h = handle();
        drainIfNeeded();
        int seqBase = nextSeq;
        int offset = 0;
        int i = from;
        while (i < entries.size() && offset + MAX_REQUEST_BYTES <= BATCH_BYTES) {
            ConntrackEntry e = entries.get(i);
            Pointer nlh = batch.share(offset);
            batch.setMemory(offset, MAX_REQUEST_BYTES, (byte) 0);
            nlh.setInt(0, CtNetlink.NLMSG_HDRLEN + CtNetlink.NFGENMSG_LEN);
            nlh.setShort(4, (short) (CtNetlink.SUBSYS_CTNETLINK << 8 | write.message));
            nlh.setShort(6, (short) write.flags);
            nlh.setInt(8, seqBase + (i - from));
            nlh.setByte(CtNetlink.NLMSG_HDRLEN, (byte) e.family().af());
            Pointer ct = newObject(operation);
            try {
                if (write == Write.DELETE) {
                    mapper.writeKey(ct, e.original(), e.zone());
                } else {
                    mapper.write(ct, sendable(e), write == Write.CREATE);
                }
                nfct_nlmsg_build(nlh, ct);
            } finally {
                nfct_destroy(ct);
            }
            offset += CtNetlink.align4(nlh.getInt(0));
            i++;
        }
        int count = i - from;
        nextSeq += count;
        if (Libc.send(nfct_fd(h), batch, offset, 0) < 0) {
            throw error(operation, Native.getLastError());
        }
        int[] acked = {0};
        CtNetlink.Sink acks = new CtNetlink.Sink() {
            @Override
            public void error(int errno, int seq) {
                int index = seq - seqBase;
                if (index >= 0 && index < count) {
                    errnos[from + index] = errno;
                    acked[0]++;
                }
            }
        };
        while (acked[0] < count) {
            int errno;
            try {
                errno = receiver.receive(acks);
            } catch (RuntimeException e) {
                unreadAnswer = true;
                throw e;
            }
            if (errno != 0 && errno != Libc.EINTR) {
                unreadAnswer = true;
                throw error(operation, errno);
            }
        }
        return i;
    }

    @Override
    public synchronized void update(ConntrackEntry entry) {
        write("update", NFCT_Q_UPDATE, entry);
    }

    private void write(String operation, int query, ConntrackEntry entry) {
        Pointer ct = newObject(operation);
        try {
            mapper.write(ct, sendable(entry), query == NFCT_Q_CREATE);
            int errno = query(query, ct, c -> { });
            if (errno != 0) {
                throw error(operation, errno);
            }
        } finally {
            nfct_destroy(ct);
        }
    }

    @Override
    public synchronized boolean delete(Tuple original, int zone) {
        Pointer ct = newObject("delete");
        try {
            mapper.writeKey(ct, original, zone);
            int errno = query(NFCT_Q_DESTROY, ct, c -> { });
            if (errno == ConntrackException.ENOENT) {
                return false;
            }
            if (errno != 0) {
                throw error("delete", errno);
            }
            return true;
        } finally {
            nfct_destroy(ct);
        }
    }

    @Override
    public synchronized void flush(Family family) {
        familyArg.setInt(0, family.af());
        int errno = query(NFCT_Q_FLUSH, familyArg, c -> { });
        if (errno != 0) {
            throw error("flush", errno);
        }
    }

    /** The kernel refuses to create a flow without a timeout: checked before anything is sent. */
    private static void requireTimeout(ConntrackEntry entry) {
        if (entry.timeout() == null) {
            throw new IllegalArgumentException("a conntrack entry needs a timeout to be created: " + entry);
        }
    }

    /** The entry as a request may carry it: without the status bits only the kernel sets. */
    private static ConntrackEntry sendable(ConntrackEntry entry) {
        return entry.toBuilder().status(entry.status() & ~KERNEL_OWNED_STATUS).build();
    }

    private static Pointer newObject(String operation) {
        Pointer ct = nfct_new();
        if (ct == null) {
            throw new ConntrackException(operation, 12, "conntrack " + operation + " failed: out of memory");
        }
        return ct;
    }

    @Override
    public EventSubscription listen(EventOptions options, ConntrackEventListener listener) {
        synchronized (this) {
            handle();
        }
        return NfctEventSubscription.start(netns, options, listener);
    }

    @Override
    public synchronized void close() {
        if (handle != null) {
            nfct_close(handle);
            handle = null;
        }
    }
}

package io.zaro.conntrack;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The kernel's conntrack table of one network namespace, in its own verbs.
 *
 * <p>Implementations check input before calling the kernel. Request methods are safe to call from
 * several threads (they are serialised on one netlink socket); event subscriptions have sockets
 * and threads of their own. Every failure is a {@link ConntrackException}.
 */
public interface ConntrackTable extends AutoCloseable {

    /** Streams every entry of {@code family} to {@code sink}, on the calling thread. */
    void dump(Family family, Consumer<ConntrackEntry> sink);

    /** Every entry of {@code family}. */
    default List<ConntrackEntry> dump(Family family) {
        List<ConntrackEntry> out = new ArrayList<>();
        dump(family, out::add);
        return out;
    }

    /** The entry with this zone and original tuple, if the kernel has one. */
    Optional<ConntrackEntry> get(Tuple original, int zone);

    /**
     * Creates an entry. It must have a timeout. {@code id} and {@code use} are ignored.
     *
     * @throws ConntrackException with errno EEXIST when the flow already exists
     */
    void create(ConntrackEntry entry);

    /**
     * Creates many entries, packing many requests into each netlink message, which costs far
     * fewer system calls than one {@link #create} each. Entries are checked as {@link #create}
     * checks them, all before the first is sent.
     *
     * @return the kernel's answer for each entry, in order (EEXIST where the flow already existed)
     */
    BatchResult createAll(List<ConntrackEntry> entries);

    /**
     * Updates many entries as {@link #update} does, packing many requests into each netlink
     * message.
     *
     * @return the kernel's answer for each entry, in order (ENOENT where the flow did not exist)
     */
    BatchResult updateAll(List<ConntrackEntry> entries);

    /**
     * Changes an existing entry's status, timeout, mark, labels, helper and protocol state.
     *
     * @throws ConntrackException with errno ENOENT when the flow does not exist
     */
    void update(ConntrackEntry entry);

    /** Deletes the flow with this zone and original tuple; false if there was none. */
    boolean delete(Tuple original, int zone);

    /**
     * Deletes each flow by its zone and original tuple (the rest of each entry is not read), in
     * batched requests. Per flow, in input order: 0 when deleted, ENOENT when there was none.
     */
    BatchResult deleteAll(List<ConntrackEntry> flows);

    /** Deletes every entry of {@code family}. */
    void flush(Family family);

    /**
     * The netlink port id of this table's request socket. Events caused by this table's create,
     * update and delete carry it as {@link ConntrackEvent#originPortId()}.
     */
    int portId();

    /**
     * Subscribes to NEW, UPDATE and DESTROY events on a socket and reader thread of its own.
     * The listener is called on that thread until the subscription is closed.
     */
    EventSubscription listen(EventOptions options, ConntrackEventListener listener);

    @Override
    void close();
}

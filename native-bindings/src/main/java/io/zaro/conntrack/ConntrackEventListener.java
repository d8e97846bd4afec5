package io.zaro.conntrack;

/**
 * Receives the events of one subscription, on that subscription's reader thread, in the order
 * the kernel delivered them. Keep the work short: while a listener runs, the kernel queues
 * further events in the socket's receive buffer, and drops them when it is full.
 */
public interface ConntrackEventListener {
    void onEvent(ConntrackEvent event);

    /**
     * The kernel dropped events because the receive buffer was full (ENOBUFS). The table must
     * be considered out of sync: dump it to resynchronise.
     *
     * @param lossCount how many overruns this subscription has seen so far, this one included
     */
    void onEventLoss(long lossCount);

    /** The subscription stopped on an error it cannot recover from; no further calls follow. */
    default void onFailure(ConntrackException error) {
    }
}

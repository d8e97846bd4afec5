package io.zaro.conntrack;

/** A running subscription to conntrack events. Closing it stops its reader thread and frees the socket. */
public interface EventSubscription extends AutoCloseable {
    /** Events delivered to the listener so far. */
    long eventCount();

    /** ENOBUFS overruns seen so far: each means events were lost. */
    long lossCount();

    /** The receive buffer size the kernel granted, in bytes (the kernel reports twice what was asked). */
    int receiveBufferBytes();

    @Override
    void close();
}

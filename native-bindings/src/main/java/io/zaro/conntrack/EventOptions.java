package io.zaro.conntrack;

import java.util.EnumSet;
import java.util.Set;

/**
 * Settings of an event subscription.
 *
 * @param receiveBufferBytes the socket receive buffer to ask for. The default, 64 MiB, holds a
 *     burst of roughly 100 000 events while the reader catches up; the kernel doubles the value
 *     for its bookkeeping. Set beyond {@code net.core.rmem_max} with CAP_NET_ADMIN.
 * @param types the event types to subscribe to
 */
public record EventOptions(int receiveBufferBytes, Set<ConntrackEvent.Type> types) {
    public static final int DEFAULT_RECEIVE_BUFFER_BYTES = 64 * 1024 * 1024;
    /** Smallest buffer accepted: below this the kernel cannot deliver a single event batch. */
    public static final int MIN_RECEIVE_BUFFER_BYTES = 4096;

    public EventOptions {
        if (receiveBufferBytes < MIN_RECEIVE_BUFFER_BYTES) {
            throw new IllegalArgumentException("receive buffer must be at least " + MIN_RECEIVE_BUFFER_BYTES
                    + " bytes, got " + receiveBufferBytes);
        }
        if (types == null || types.isEmpty()) {
            throw new IllegalArgumentException("subscribe to at least one event type");
        }
        types = Set.copyOf(types);
    }

    public static EventOptions defaults() {
        return new EventOptions(DEFAULT_RECEIVE_BUFFER_BYTES, EnumSet.allOf(ConntrackEvent.Type.class));
    }

    public EventOptions withReceiveBufferBytes(int bytes) {
        return new EventOptions(bytes, types);
    }
}

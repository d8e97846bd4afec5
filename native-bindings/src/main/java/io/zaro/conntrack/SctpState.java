package io.zaro.conntrack;

/** The kernel's SCTP conntrack states, in the order of {@code enum sctp_conntrack} (the wire value is the ordinal). */
public enum SctpState {
    NONE, CLOSED, COOKIE_WAIT, COOKIE_ECHOED, ESTABLISHED, SHUTDOWN_SENT, SHUTDOWN_RECD,
    SHUTDOWN_ACK_SENT, HEARTBEAT_SENT, HEARTBEAT_ACKED;

    public static SctpState fromKernel(int value) {
        SctpState[] all = values();
        if (value < 0 || value >= all.length) {
            throw new IllegalArgumentException("unknown SCTP conntrack state " + value);
        }
        return all[value];
    }

    public int kernelValue() {
        return ordinal();
    }
}

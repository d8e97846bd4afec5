package io.zaro.conntrack;

/** The kernel's TCP conntrack states, in the order of {@code enum tcp_conntrack} (the wire value is the ordinal). */
public enum TcpState {
    NONE, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE, SYN_SENT2;

    public static TcpState fromKernel(int value) {
        TcpState[] all = values();
        if (value < 0 || value >= all.length) {
            throw new IllegalArgumentException("unknown TCP conntrack state " + value);
        }
        return all[value];
    }

    public int kernelValue() {
        return ordinal();
    }
}

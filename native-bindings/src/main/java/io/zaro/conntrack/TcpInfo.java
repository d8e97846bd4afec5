package io.zaro.conntrack;

import java.util.Objects;

/**
 * TCP protocol state of a flow: the conntrack state and, per direction, the window scale and the
 * {@code IP_CT_TCP_FLAG_*} bits (window scale seen, SACK permitted, close init, be liberal...).
 */
public record TcpInfo(TcpState state, int windowScaleOriginal, int windowScaleReply,
                      int flagsOriginal, int flagsReply) {
    /** {@code IP_CT_TCP_FLAG_WINDOW_SCALE}: the window scale of that direction is valid. */
    public static final int FLAG_WINDOW_SCALE = 0x01;
    public static final int FLAG_SACK_PERM = 0x02;
    public static final int FLAG_CLOSE_INIT = 0x04;
    public static final int FLAG_BE_LIBERAL = 0x08;

    public TcpInfo {
        Objects.requireNonNull(state, "state");
        for (int v : new int[] {windowScaleOriginal, windowScaleReply, flagsOriginal, flagsReply}) {
            if (v < 0 || v > 0xff) {
                throw new IllegalArgumentException("TCP window scale and flags are 0..255, got " + v);
            }
        }
    }

    public static TcpInfo of(TcpState state) {
        return new TcpInfo(state, 0, 0, 0, 0);
    }
}

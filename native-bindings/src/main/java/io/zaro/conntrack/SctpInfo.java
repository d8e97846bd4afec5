package io.zaro.conntrack;

import java.util.Objects;

/** SCTP protocol state of a flow: the conntrack state and the verification tag of each direction. */
public record SctpInfo(SctpState state, long vtagOriginal, long vtagReply) {
    public SctpInfo {
        Objects.requireNonNull(state, "state");
        if (vtagOriginal < 0 || vtagOriginal > 0xffffffffL || vtagReply < 0 || vtagReply > 0xffffffffL) {
            throw new IllegalArgumentException("SCTP verification tags are unsigned 32-bit values");
        }
    }
}

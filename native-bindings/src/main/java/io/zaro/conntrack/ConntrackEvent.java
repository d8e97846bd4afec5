package io.zaro.conntrack;

import java.util.Objects;

/**
 * A change of the kernel's conntrack table.
 *
 * @param type what happened
 * @param entry the entry as the kernel reported it with the event (a DESTROY carries no timeout)
 * @param originPortId the netlink port id of the socket whose request caused the change, or 0
 *     when the kernel itself did (traffic, expiry). Compare it with {@link ConntrackTable#portId()}
 *     to recognise one's own writes.
 */
public record ConntrackEvent(Type type, ConntrackEntry entry, int originPortId) {
    public ConntrackEvent {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(entry, "entry");
    }

    /** Event types, with stable one-letter codes for logs and wire formats. */
    public enum Type {
        NEW('N'), UPDATE('U'), DESTROY('D');

        private final char code;

        Type(char code) {
            this.code = code;
        }

        public char code() {
            return code;
        }

        public static Type fromCode(char code) {
            for (Type t : values()) {
                if (t.code == code) {
                    return t;
                }
            }
            throw new IllegalArgumentException("unknown event type code '" + code + "'");
        }
    }
}

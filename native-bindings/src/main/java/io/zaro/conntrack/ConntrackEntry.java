package io.zaro.conntrack;

import java.util.List;
import java.util.Objects;
import java.util.TreeSet;

/**
 * One entry of the kernel's conntrack table, as an immutable value.
 *
 * <p>The flow is identified by its zone and original tuple. The reply tuple differs from the
 * original's inverse when NAT applies. {@code timeout} is in seconds and {@code null} when the
 * kernel did not report one (in DESTROY events, for example). {@code id} and {@code use} are
 * the kernel's bookkeeping: {@code null} on entries the caller builds, and never sent on create.
 *
 * @param original the original direction; never null
 * @param reply the reply direction; never null (see {@link Builder#reply} for the default)
 * @param status the {@link Status} bits
 * @param tcp TCP state; null for other protocols or when the kernel did not report it
 * @param sctp SCTP state; null for other protocols or when the kernel did not report it
 * @param timeout seconds until the entry expires, or null
 * @param mark connection mark (unsigned 32-bit)
 * @param zone conntrack zone (0..65535)
 * @param labels connection label bit numbers set, ascending, without duplicates (0..127)
 * @param helper name of the conntrack helper (e.g. "ftp"), or null
 * @param id the kernel's entry id, or null
 * @param use the kernel's reference count, or null
 */
public record ConntrackEntry(
        Tuple original,
        Tuple reply,
        int status,
        TcpInfo tcp,
        SctpInfo sctp,
        Long timeout,
        long mark,
        int zone,
        List<Integer> labels,
        String helper,
        Long id,
        Long use) {

    /** The kernel keeps 128 label bits per entry. */
    public static final int MAX_LABEL_BIT = 127;
    /** Longest helper name the kernel accepts (NF_CT_HELPER_NAME_LEN - 1). */
    public static final int MAX_HELPER_NAME = 15;

    public ConntrackEntry {
        Objects.requireNonNull(original, "original tuple");
        Objects.requireNonNull(reply, "reply tuple");
        if (!original.protocol().equals(reply.protocol())) {
            throw new IllegalArgumentException("original and reply tuples have different protocols");
        }
        if (original.family() != reply.family()) {
            throw new IllegalArgumentException("original and reply tuples have different address families");
        }
        if (tcp != null && !original.protocol().equals(IpProtocol.TCP)) {
            throw new IllegalArgumentException("TCP state on a " + original.protocol() + " flow");
        }
        if (sctp != null && !original.protocol().equals(IpProtocol.SCTP)) {
            throw new IllegalArgumentException("SCTP state on a " + original.protocol() + " flow");
        }
        if (timeout != null && (timeout < 0 || timeout > 0xffffffffL)) {
            throw new IllegalArgumentException("timeout must be 0..4294967295 seconds, got " + timeout);
        }
        if (mark < 0 || mark > 0xffffffffL) {
            throw new IllegalArgumentException("mark must be an unsigned 32-bit value, got " + mark);
        }
        if (zone < 0 || zone > 0xffff) {
            throw new IllegalArgumentException("zone must be 0..65535, got " + zone);
        }
        TreeSet<Integer> sorted = new TreeSet<>(labels == null ? List.of() : labels);
        if (!sorted.isEmpty() && (sorted.first() < 0 || sorted.last() > MAX_LABEL_BIT)) {
            throw new IllegalArgumentException("label bits must be 0.." + MAX_LABEL_BIT + ", got " + sorted);
        }
        labels = List.copyOf(sorted);
        if (helper != null && (helper.isEmpty() || helper.length() > MAX_HELPER_NAME)) {
            throw new IllegalArgumentException("helper name must be 1.." + MAX_HELPER_NAME + " characters, got '" + helper + "'");
        }
    }

    public static Builder builder(Tuple original) {
        return new Builder(original);
    }

    public Builder toBuilder() {
        Builder b = new Builder(original);
        b.reply = reply;
        b.status = status;
        b.tcp = tcp;
        b.sctp = sctp;
        b.timeout = timeout;
        b.mark = mark;
        b.zone = zone;
        b.labels = labels;
        b.helper = helper;
        b.id = id;
        b.use = use;
        return b;
    }

    public Family family() {
        return original.family();
    }

    public IpProtocol protocol() {
        return original.protocol();
    }

    /** The same entry without the kernel's bookkeeping ({@code id}, {@code use}) and timeout, for comparing flow state. */
    public ConntrackEntry withoutVolatile() {
        return toBuilder().id(null).use(null).timeout(null).build();
    }

    /** Source NAT is in effect: the reply is not addressed to the original source. */
    public boolean isSourceNat() {
        return !reply.destination().equals(original.source()) || reply.destinationPort() != original.sourcePort();
    }

    /** Destination NAT is in effect: the reply does not come from the original destination. */
    public boolean isDestinationNat() {
        return !reply.source().equals(original.destination()) || reply.sourcePort() != original.destinationPort();
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder()
                .append(family() == Family.IPV4 ? "ipv4 " : "ipv6 ")
                .append(protocol()).append(' ');
        if (timeout != null) {
            b.append(timeout).append(' ');
        }
        if (tcp != null) {
            b.append(tcp.state()).append(' ');
        }
        if (sctp != null) {
            b.append(sctp.state()).append(' ');
        }
        b.append(original).append(' ');
        if (!Status.SEEN_REPLY.isSet(status)) {
            b.append("[UNREPLIED] ");
        }
        b.append(reply);
        if (Status.ASSURED.isSet(status)) {
            b.append(" [ASSURED]");
        }
        b.append(" mark=").append(mark);
        if (zone != 0) {
            b.append(" zone=").append(zone);
        }
        if (helper != null) {
            b.append(" helper=").append(helper);
        }
        if (!labels.isEmpty()) {
            b.append(" labels=").append(labels);
        }
        if (use != null) {
            b.append(" use=").append(use);
        }
        return b.toString();
    }

    /** Builds entries; every field but the original tuple has a default (reply: the original's inverse). */
    public static final class Builder {
        private final Tuple original;
        private Tuple reply;
        private int status;
        private TcpInfo tcp;
        private SctpInfo sctp;
        private Long timeout;
        private long mark;
        private int zone;
        private List<Integer> labels = List.of();
        private String helper;
        private Long id;
        private Long use;

        private Builder(Tuple original) {
            this.original = Objects.requireNonNull(original, "original tuple");
        }

        /** The reply tuple; when never set, the original's inverse (no NAT). */
        public Builder reply(Tuple reply) {
            this.reply = reply;
            return this;
        }

        public Builder status(int status) {
            this.status = status;
            return this;
        }

        public Builder status(Status... bits) {
            this.status = Status.maskOf(bits);
            return this;
        }

        public Builder tcp(TcpInfo tcp) {
            this.tcp = tcp;
            return this;
        }

        public Builder sctp(SctpInfo sctp) {
            this.sctp = sctp;
            return this;
        }

        public Builder timeout(Long seconds) {
            this.timeout = seconds;
            return this;
        }

        public Builder timeout(long seconds) {
            this.timeout = seconds;
            return this;
        }

        public Builder mark(long mark) {
            this.mark = mark;
            return this;
        }

        public Builder zone(int zone) {
            this.zone = zone;
            return this;
        }

        public Builder labels(List<Integer> labels) {
            this.labels = labels;
            return this;
        }

        public Builder helper(String helper) {
            this.helper = helper;
            return this;
        }

        public Builder id(Long id) {
            this.id = id;
            return this;
        }

        public Builder use(Long use) {
            this.use = use;
            return this;
        }

        public ConntrackEntry build() {
            return new ConntrackEntry(original, reply == null ? original.inverse() : reply, status, tcp, sctp,
                    timeout, mark, zone, labels, helper, id, use);
        }
    }
}

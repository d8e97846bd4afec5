package io.zaro.agent.mirror;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.Family;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.Status;
import io.zaro.conntrack.filter.FlowFilter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.stream.Stream;

/**
 * The timeout this kernel gives a flow on its next packet, per protocol and state: the
 * {@code net.netfilter.nf_conntrack_*_timeout*} settings of the network namespace.
 *
 * <p>A mirrored entry's timeout is the active's plus a grace (see {@link Injector}), so a
 * standby that takes over holds entries that would outlive the old active's by up to that grace.
 * {@link #shorten} brings them back to no more than what a packet would give them now: no
 * flow loses time it could have had, and a flow that ended quietly on the old active does not
 * linger. A flow that had a {@code ct timeout} policy on the active gets the default too: an
 * injected entry carries no policy, so its next packet would set the default anyway.
 */
public final class KernelTimeouts {
    /** Where the settings live, per network namespace. */
    public static final Path PROC = Path.of("/proc/sys/net/netfilter");
    private static final String PREFIX = "nf_conntrack_";
    /** Entries updated per batch while the dump streams. */
    private static final int BATCH = 10_000;

    /** What {@link #shorten} did. */
    public record Shortened(long examined, long shortened, long failed) {
    }

    /** Setting name without prefix (such as {@code tcp_timeout_established}) to seconds. */
    private final Map<String, Long> seconds;

    KernelTimeouts(Map<String, Long> seconds) {
        this.seconds = Map.copyOf(seconds);
    }

    /** Reads every timeout setting of {@code dir} (normally {@link #PROC}); unreadable ones are left out. */
    public static KernelTimeouts read(Path dir) {
        Map<String, Long> values = new HashMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String name = f.getFileName().toString();
                if (!name.startsWith(PREFIX) || !name.contains("timeout")) {
                    continue;
                }
                try {
                    // Not Files.readString: procfs reports size 0, and that method then reads one byte.
                    values.put(name.substring(PREFIX.length()), Long.parseLong(Files.readAllLines(f).get(0).strip()));
                } catch (IOException | RuntimeException e) {
                    // left out: flows it would govern are not shortened
                }
            }
        } catch (IOException e) {
            // no settings: nothing is shortened
        }
        return new KernelTimeouts(values);
    }

    /** The timeout a packet of this flow would set now, when this kernel has a setting for its protocol and state. */
    public OptionalLong of(ConntrackEntry e) {
        String name = setting(e);
        Long value = name == null ? null : seconds.get(name);
        return value == null ? OptionalLong.empty() : OptionalLong.of(value);
    }

    private static String setting(ConntrackEntry e) {
        IpProtocol p = e.protocol();
        boolean replied = Status.SEEN_REPLY.isSet(e.status());
        if (p.equals(IpProtocol.TCP)) {
            if (e.tcp() == null) {
                return null;
            }
            return switch (e.tcp().state()) {
                case NONE -> null;
                case SYN_SENT, SYN_SENT2 -> "tcp_timeout_syn_sent";
                default -> "tcp_timeout_" + e.tcp().state().name().toLowerCase(Locale.ROOT);
            };
        }
        if (p.equals(IpProtocol.UDP) || p.equals(IpProtocol.UDPLITE)) {
            return replied ? "udp_timeout_stream" : "udp_timeout";
        }
        if (p.equals(IpProtocol.GRE)) {
            return replied ? "gre_timeout_stream" : "gre_timeout";
        }
        if (p.equals(IpProtocol.ICMP)) {
            return "icmp_timeout";
        }
        if (p.equals(IpProtocol.ICMPV6)) {
            return "icmpv6_timeout";
        }
        if (p.equals(IpProtocol.SCTP)) {
            if (e.sctp() == null) {
                return null;
            }
            return switch (e.sctp().state()) {
                case NONE -> null;
                // Linux 5.19 and later keep no HEARTBEAT_ACKED timeout: such a flow is established.
                case HEARTBEAT_ACKED -> "sctp_timeout_established";
                default -> "sctp_timeout_" + e.sctp().state().name().toLowerCase(Locale.ROOT);
            };
        }
        return null; // DCCP and others: their modules' settings vary; left alone
    }

    /**
     * Sets every entry that {@code filter} accepts and whose timeout exceeds {@link #of} to that
     * value. {@code reader} dumps (it must be another socket than {@code writer}'s, which takes
     * the updates in batches while the dump streams, so memory stays bounded). Only the
     * timeout changes: the update carries no protocol state that traffic may have moved on.
     */
    public Shortened shorten(ConntrackTable reader, ConntrackTable writer, FlowFilter filter) {
        long[] counts = new long[3];
        List<ConntrackEntry> batch = new ArrayList<>();
        reader.dump(Family.ALL, e -> {
            if (!filter.accepts(e) || e.timeout() == null) {
                return;
            }
            counts[0]++;
            OptionalLong limit = of(e);
            if (limit.isPresent() && e.timeout() > limit.getAsLong()) {
                batch.add(e.toBuilder().tcp(null).sctp(null).timeout(limit.getAsLong()).id(null).use(null).build());
                if (batch.size() == BATCH) {
                    counts[2] += update(writer, batch);
                    counts[1] += BATCH;
                }
            }
        });
        counts[1] += batch.size();
        counts[2] += update(writer, batch);
        return new Shortened(counts[0], counts[1] - counts[2], counts[2]);
    }

    /** Updates and empties {@code batch}; returns how many failed (a flow gone meanwhile is one). */
    private static long update(ConntrackTable writer, List<ConntrackEntry> batch) {
        if (batch.isEmpty()) {
            return 0;
        }
        long failed = writer.updateAll(batch).failed();
        batch.clear();
        return failed;
    }
}

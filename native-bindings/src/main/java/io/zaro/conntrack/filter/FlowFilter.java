package io.zaro.conntrack.filter;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.TcpState;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Which flows are mirrored, as conntrackd's {@code Filter} section decides it. A flow passes
 * when every criterion that is set accepts it; an empty criterion accepts everything.
 *
 * <ul>
 *   <li>{@code ignoreNetworks}: a flow whose original source or destination lies in one of them
 *       is not mirrored (the firewall's own addresses, the sync link). Only the original tuple
 *       counts: a source-NATed flow has the firewall's address in its reply and is mirrored.</li>
 *   <li>{@code acceptNetworks}: when set, the original source or destination must lie in one.</li>
 *   <li>{@code protocols}: when set, the flow's protocol must be one of them.</li>
 *   <li>{@code tcpStates}: when set, a TCP flow must be in one of them (other protocols pass).</li>
 *   <li>{@code zones}: when set, the flow's zone must be one of them.</li>
 *   <li>{@code mark}/{@code markMask}: when the mask is not 0, {@code flow.mark & mask == mark}.</li>
 * </ul>
 */
public record FlowFilter(List<Cidr> acceptNetworks, List<Cidr> ignoreNetworks, Set<IpProtocol> protocols,
                         Set<TcpState> tcpStates, Set<Integer> zones, long mark, long markMask) {
    public FlowFilter {
        acceptNetworks = List.copyOf(Objects.requireNonNull(acceptNetworks, "acceptNetworks"));
        ignoreNetworks = List.copyOf(Objects.requireNonNull(ignoreNetworks, "ignoreNetworks"));
        protocols = Set.copyOf(Objects.requireNonNull(protocols, "protocols"));
        tcpStates = Set.copyOf(Objects.requireNonNull(tcpStates, "tcpStates"));
        zones = Set.copyOf(Objects.requireNonNull(zones, "zones"));
        if (markMask < 0 || markMask > 0xffffffffL || mark < 0 || mark > 0xffffffffL) {
            throw new IllegalArgumentException("mark and mark mask are unsigned 32-bit values");
        }
        if ((mark & ~markMask) != 0) {
            throw new IllegalArgumentException("mark 0x" + Long.toHexString(mark) + " has bits outside mask 0x"
                    + Long.toHexString(markMask) + ": it could never match");
        }
    }

    /** Accepts every flow. */
    public static FlowFilter all() {
        return new FlowFilter(List.of(), List.of(), Set.of(), Set.of(), Set.of(), 0, 0);
    }

    /** The same filter, ignoring flows to and from these networks too. */
    public FlowFilter ignoring(List<Cidr> more) {
        List<Cidr> all = new java.util.ArrayList<>(ignoreNetworks);
        all.addAll(more);
        return new FlowFilter(acceptNetworks, all, protocols, tcpStates, zones, mark, markMask);
    }

    /**
     * Whether {@link #accepts} needs nothing but a flow's zone and original tuple: no TCP state
     * and no mark to match, so a flow's key alone (as a tombstone carries it) decides.
     */
    public boolean decidesOnKey() {
        return tcpStates.isEmpty() && markMask == 0;
    }

    public boolean accepts(ConntrackEntry e) {
        byte[] src = e.original().source().getAddress();
        byte[] dst = e.original().destination().getAddress();
        for (Cidr c : ignoreNetworks) {
            if (c.contains(src) || c.contains(dst)) {
                return false;
            }
        }
        if (!acceptNetworks.isEmpty() && acceptNetworks.stream().noneMatch(c -> c.contains(src) || c.contains(dst))) {
            return false;
        }
        if (!protocols.isEmpty() && !protocols.contains(e.protocol())) {
            return false;
        }
        if (!tcpStates.isEmpty() && e.protocol().equals(IpProtocol.TCP)
                && (e.tcp() == null || !tcpStates.contains(e.tcp().state()))) {
            return false;
        }
        if (!zones.isEmpty() && !zones.contains(e.zone())) {
            return false;
        }
        return markMask == 0 || (e.mark() & markMask) == mark;
    }
}

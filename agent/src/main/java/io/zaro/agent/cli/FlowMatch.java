package io.zaro.agent.cli;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.Tuple;
import io.zaro.conntrack.filter.Cidr;
import picocli.CommandLine.Option;

/**
 * The flows an operator asks {@code zaro tail}, {@code dump} or {@code verify} for. A flow
 * matches when every criterion given matches; none given matches every flow. Addresses and ports
 * are looked for in both tuples, so a flow is found by its client's address as by the address
 * NAT gave it.
 *
 * @param network a flow with a source or destination in it, in either tuple; null for any
 * @param port a flow with this source or destination port, in either tuple; null for any
 * @param protocol a flow of this protocol; null for any
 */
record FlowMatch(Cidr network, Integer port, IpProtocol protocol) {
    static final FlowMatch ALL = new FlowMatch(null, null, null);

    boolean matches(ConntrackEntry e) {
        if (protocol != null && !e.protocol().equals(protocol)) {
            return false;
        }
        if (network != null && !has(e.original()) && !has(e.reply())) {
            return false;
        }
        return port == null || e.protocol().hasPorts() && (hasPort(e.original()) || hasPort(e.reply()));
    }

    boolean isAll() {
        return network == null && port == null && protocol == null;
    }

    private boolean has(Tuple t) {
        return network.contains(t.source()) || network.contains(t.destination());
    }

    private boolean hasPort(Tuple t) {
        return t.sourcePort() == port || t.destinationPort() == port;
    }

    /** The criteria as options, shared by the commands. */
    static final class Options {
        @Option(names = "--address", paramLabel = "ADDRESS",
                description = "Only flows from or to this address, or network (ADDRESS/LEN), in the original or the "
                        + "reply tuple.")
        String address;

        @Option(names = "--port", paramLabel = "PORT",
                description = "Only flows from or to this port, in the original or the reply tuple.")
        Integer port;

        @Option(names = "--protocol", paramLabel = "PROTOCOL",
                description = "Only flows of this protocol: tcp, udp, icmp, icmpv6, sctp (or another name conntrack "
                        + "uses, or a number).")
        String protocol;

        /** The criteria, checked: a bad one is an {@link IllegalArgumentException} naming the option. */
        FlowMatch match() {
            Cidr network = null;
            if (address != null) {
                try {
                    network = Cidr.parse(address);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("--address must be an IPv4 or IPv6 address or network such as "
                            + "10.0.0.1 or fd00::/64, not '" + address + "'");
                }
            }
            if (port != null && (port < 1 || port > 0xffff)) {
                throw new IllegalArgumentException("--port must be 1..65535, not " + port);
            }
            IpProtocol p = null;
            if (protocol != null) {
                try {
                    p = IpProtocol.parse(protocol);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("--protocol must be tcp, udp, icmp, icmpv6, sctp or a protocol "
                            + "number, not '" + protocol + "'");
                }
            }
            return new FlowMatch(network, port, p);
        }
    }
}

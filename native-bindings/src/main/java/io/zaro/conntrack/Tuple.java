package io.zaro.conntrack;

import java.net.InetAddress;
import java.util.Objects;

/**
 * One direction of a flow: addresses, layer-4 protocol, and what identifies the flow inside it.
 * For TCP, UDP, UDP-Lite, SCTP and DCCP that is the port pair, for GRE the key pair (carried in
 * the port fields, as the kernel does), for ICMP and ICMPv6 the type, code and id. Fields that do
 * not apply to the protocol are 0.
 */
public record Tuple(
        InetAddress source,
        InetAddress destination,
        IpProtocol protocol,
        int sourcePort,
        int destinationPort,
        int icmpType,
        int icmpCode,
        int icmpId) {

    public Tuple {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(destination, "destination");
        Objects.requireNonNull(protocol, "protocol");
        if (source.getClass() != destination.getClass()) {
            throw new IllegalArgumentException("source " + source.getHostAddress() + " and destination "
                    + destination.getHostAddress() + " are of different address families");
        }
        checkRange("source port", sourcePort, 0xffff);
        checkRange("destination port", destinationPort, 0xffff);
        checkRange("ICMP type", icmpType, 0xff);
        checkRange("ICMP code", icmpCode, 0xff);
        checkRange("ICMP id", icmpId, 0xffff);
        if (!protocol.hasPorts() && (sourcePort != 0 || destinationPort != 0)) {
            throw new IllegalArgumentException("protocol " + protocol + " has no ports");
        }
        if (!protocol.isIcmp() && (icmpType != 0 || icmpCode != 0 || icmpId != 0)) {
            throw new IllegalArgumentException("protocol " + protocol + " has no ICMP type, code or id");
        }
    }

    private static void checkRange(String what, int value, int max) {
        if (value < 0 || value > max) {
            throw new IllegalArgumentException(what + " must be 0.." + max + ", got " + value);
        }
    }

    /** A tuple of a protocol with ports (TCP, UDP, UDP-Lite, SCTP, DCCP; GRE keys). */
    public static Tuple ofPorts(InetAddress source, InetAddress destination, IpProtocol protocol,
                                int sourcePort, int destinationPort) {
        return new Tuple(source, destination, protocol, sourcePort, destinationPort, 0, 0, 0);
    }

    /** An ICMP or ICMPv6 tuple. */
    public static Tuple ofIcmp(InetAddress source, InetAddress destination, IpProtocol protocol,
                               int type, int code, int id) {
        if (!protocol.isIcmp()) {
            throw new IllegalArgumentException(protocol + " is not ICMP or ICMPv6");
        }
        return new Tuple(source, destination, protocol, 0, 0, type, code, id);
    }

    public Family family() {
        return Family.of(source);
    }

    /**
     * The tuple of the opposite direction when no NAT applies: addresses and ports swapped. For
     * ICMP echo the reply type is the request's answer (8 to 0, 128 to 129), as the kernel inverts it.
     */
    public Tuple inverse() {
        int type = icmpType;
        if (protocol.equals(IpProtocol.ICMP)) {
            type = switch (icmpType) {
                case 8 -> 0;
                case 13 -> 14;
                case 15 -> 16;
                case 17 -> 18;
                default -> icmpType;
            };
        } else if (protocol.equals(IpProtocol.ICMPV6)) {
            type = switch (icmpType) {
                case 128 -> 129;
                case 130 -> 131;
                default -> icmpType;
            };
        }
        return new Tuple(destination, source, protocol, destinationPort, sourcePort, type, icmpCode, icmpId);
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder()
                .append("src=").append(Addresses.text(source))
                .append(" dst=").append(Addresses.text(destination));
        if (protocol.hasPorts()) {
            b.append(" sport=").append(sourcePort).append(" dport=").append(destinationPort);
        } else if (protocol.isIcmp()) {
            b.append(" type=").append(icmpType).append(" code=").append(icmpCode).append(" id=").append(icmpId);
        }
        return b.toString();
    }
}

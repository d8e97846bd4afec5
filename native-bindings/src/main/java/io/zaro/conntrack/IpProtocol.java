package io.zaro.conntrack;

import java.util.Locale;
import java.util.Map;

/**
 * A layer-4 protocol as the kernel's conntrack table knows it: the IP protocol number, with the
 * names {@code conntrack -L} prints. Protocols the kernel tracks only generically (ESP, for
 * instance) are valid too; they carry no ports.
 */
public record IpProtocol(int number) {
    public static final IpProtocol ICMP = new IpProtocol(1);
    public static final IpProtocol TCP = new IpProtocol(6);
    public static final IpProtocol UDP = new IpProtocol(17);
    public static final IpProtocol DCCP = new IpProtocol(33);
    public static final IpProtocol GRE = new IpProtocol(47);
    public static final IpProtocol ICMPV6 = new IpProtocol(58);
    public static final IpProtocol SCTP = new IpProtocol(132);
    public static final IpProtocol UDPLITE = new IpProtocol(136);

    private static final Map<Integer, String> NAMES = Map.of(
            1, "icmp", 6, "tcp", 17, "udp", 33, "dccp", 47, "gre",
            58, "icmpv6", 132, "sctp", 136, "udplite");

    public IpProtocol {
        if (number < 0 || number > 255) {
            throw new IllegalArgumentException("IP protocol number must be 0..255, got " + number);
        }
    }

    /** The protocol for a name {@code conntrack} uses ("tcp", "icmpv6"...) or a number. */
    public static IpProtocol parse(String text) {
        String name = text.trim().toLowerCase(Locale.ROOT);
        for (Map.Entry<Integer, String> e : NAMES.entrySet()) {
            if (e.getValue().equals(name)) {
                return new IpProtocol(e.getKey());
            }
        }
        try {
            return new IpProtocol(Integer.parseInt(name));
        } catch (NumberFormatException ex) {
            throw new IllegalArgumentException("unknown protocol '" + text + "': use a name such as tcp, udp, icmp or a number 0..255");
        }
    }

    /** Ports (or GRE keys) identify the flow, as opposed to ICMP type/code/id or nothing. */
    public boolean hasPorts() {
        return number == 6 || number == 17 || number == 33 || number == 47 || number == 132 || number == 136;
    }

    public boolean isIcmp() {
        return number == 1 || number == 58;
    }

    /** The name {@code conntrack -L} prints, or "unknown". */
    public String displayName() {
        return NAMES.getOrDefault(number, "unknown");
    }

    @Override
    public String toString() {
        return displayName().equals("unknown") ? Integer.toString(number) : displayName();
    }
}

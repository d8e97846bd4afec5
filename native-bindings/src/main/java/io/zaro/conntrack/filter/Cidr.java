package io.zaro.conntrack.filter;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;

/** An IPv4 or IPv6 network in CIDR form ({@code 10.0.0.0/8}, {@code fd00::/8}, or one address). */
public record Cidr(InetAddress network, int prefixLength) {
    public Cidr {
        int bits = network.getAddress().length * 8;
        if (prefixLength < 0 || prefixLength > bits) {
            throw new IllegalArgumentException("prefix length must be 0.." + bits + ", got " + prefixLength);
        }
        byte[] masked = mask(network.getAddress(), prefixLength);
        if (!Arrays.equals(masked, network.getAddress())) {
            throw new IllegalArgumentException(network.getHostAddress() + "/" + prefixLength
                    + " has host bits set: did you mean " + of(masked).getHostAddress() + "/" + prefixLength + "?");
        }
    }

    /** Parses {@code ADDRESS/LEN} or a single address (a /32 or /128). Only literal addresses: no name lookup. */
    public static Cidr parse(String text) {
        String t = text.trim();
        int slash = t.indexOf('/');
        String addr = slash < 0 ? t : t.substring(0, slash);
        InetAddress a;
        try {
            a = literalAddress(addr);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + text + "' is not an IPv4 or IPv6 network such as 10.0.0.0/8 or fd00::/8");
        }
        int len;
        try {
            len = slash < 0 ? a.getAddress().length * 8 : Integer.parseInt(t.substring(slash + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' has no valid prefix length after '/'");
        }
        return new Cidr(a, len);
    }

    private static final java.util.regex.Pattern IPV4 =
            java.util.regex.Pattern.compile("((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)");

    /**
     * Parses a literal address: dotted-quad IPv4 (all four parts) or IPv6. Never a name lookup:
     * anything else is an {@link IllegalArgumentException}.
     */
    public static InetAddress literalAddress(String text) {
        String t = text.trim();
        boolean v4 = IPV4.matcher(t).matches();
        if (!v4 && !(t.contains(":") && t.matches("[0-9A-Fa-f:.]+"))) {
            throw new IllegalArgumentException("'" + text + "' is not an IPv4 or IPv6 address");
        }
        try {
            // A literal with ':' is parsed as IPv6 (and refused if invalid), a dotted quad as IPv4: no lookup.
            return InetAddress.getByName(t);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("'" + text + "' is not an IPv4 or IPv6 address");
        }
    }

    /** The network of {@code prefixLength} bits that holds {@code address} (host bits cleared). */
    public static Cidr containing(InetAddress address, int prefixLength) {
        int bits = address.getAddress().length * 8;
        if (prefixLength < 0 || prefixLength > bits) {
            throw new IllegalArgumentException("prefix length must be 0.." + bits + ", got " + prefixLength);
        }
        return new Cidr(of(mask(address.getAddress(), prefixLength)), prefixLength);
    }

    public boolean contains(InetAddress address) {
        return contains(address.getAddress());
    }

    /** As {@link #contains(InetAddress)}, for an address in network byte order; allocates nothing. */
    public boolean contains(byte[] address) {
        byte[] net = network.getAddress();
        if (address.length != net.length) {
            return false;
        }
        int full = prefixLength / 8;
        for (int i = 0; i < full; i++) {
            if (address[i] != net[i]) {
                return false;
            }
        }
        int rest = prefixLength % 8;
        return rest == 0 || ((address[full] ^ net[full]) & (0xff << (8 - rest)) & 0xff) == 0;
    }

    private static byte[] mask(byte[] address, int prefix) {
        byte[] out = address.clone();
        for (int i = 0; i < out.length; i++) {
            int keep = Math.max(0, Math.min(8, prefix - i * 8));
            out[i] &= (byte) (0xff << (8 - keep));
        }
        return out;
    }

    private static InetAddress of(byte[] raw) {
        try {
            return InetAddress.getByAddress(raw);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return network.getHostAddress() + "/" + prefixLength;
    }
}

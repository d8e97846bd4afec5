package io.zaro.agent.vrrp;

import java.net.Inet6Address;
import java.net.InetAddress;

/** The Internet checksum (RFC 1071) over a pseudo-header and a message, as VRRPv3 uses it (RFC 5798 section 5.2.8). */
final class Checksum {
    private Checksum() {
    }

    /**
     * The one's complement of the one's complement sum of the pseudo-header (IPv4: source,
     * destination, zero, protocol, length; IPv6, RFC 8200 section 8.1: source, destination,
     * 32-bit length, three zero bytes, next header) and {@code message}. Computed over a message
     * whose checksum field is zero, it is the checksum to put there; over a message that carries
     * a correct checksum, it is 0.
     */
    static int withPseudoHeader(InetAddress source, InetAddress destination, int protocol, byte[] message) {
        long sum = 0;
        sum += words(source.getAddress());
        sum += words(destination.getAddress());
        if (source instanceof Inet6Address) {
            sum += (message.length >>> 16) + (message.length & 0xffff);
            sum += protocol;
        } else {
            sum += protocol;
            sum += message.length;
        }
        sum += words(message);
        while (sum >>> 16 != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (int) (~sum & 0xffff);
    }

    private static long words(byte[] b) {
        long sum = 0;
        for (int i = 0; i + 1 < b.length; i += 2) {
            sum += (b[i] & 0xff) << 8 | b[i + 1] & 0xff;
        }
        if (b.length % 2 == 1) {
            sum += (b[b.length - 1] & 0xff) << 8;
        }
        return sum;
    }
}

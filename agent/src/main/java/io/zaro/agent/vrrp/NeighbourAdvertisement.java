package io.zaro.agent.vrrp;

import io.zaro.rawip.RawIpSocket;
import io.zaro.rawip.RawSocketException;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Unsolicited neighbour advertisements (RFC 4861 section 7.2.6), the IPv6 counterpart of
 * gratuitous ARP: sent to all nodes (ff02::1) with the Override flag and the interface's
 * link-layer address, so that neighbours that cached an address's old owner switch to this one
 * (they mark the entry STALE and confirm it on first use). The Router flag is set when the
 * interface forwards.
 */
final class NeighbourAdvertisement {
    private static final Logger log = LoggerFactory.getLogger(NeighbourAdvertisement.class);
    static final int ICMPV6 = 58;
    static final int TYPE = 136;
    static final int OPTION_TARGET_LINK_LAYER_ADDRESS = 2;
    private static final InetAddress ALL_NODES = address("ff02::1");
    private static final InetAddress ANY = address("::");
    /** How many advertisements per address, and the gap between rounds (section 7.2.6 allows a few). */
    private static final int ROUNDS = 2;
    private static final long GAP_MILLIS = 100;

    private NeighbourAdvertisement() {
    }

    /** Announces {@code addresses} (IPv6 literals) on {@code interfaceName}; failures are logged, not thrown. */
    static void announce(String interfaceName, List<String> addresses) {
        byte[] mac;
        boolean router;
        try {
            mac = HexFormat.ofDelimiter(":").parseHex(Files.readAllLines(Path.of("/sys/class/net", interfaceName, "address"))
                    .get(0).strip());
            router = Files.readAllLines(Path.of("/proc/sys/net/ipv6/conf", interfaceName, "forwarding")).get(0).strip()
                    .equals("1");
        } catch (IOException | RuntimeException e) {
            log.warn("cannot announce {} on {}: its link-layer address is unknown ({})", addresses, interfaceName,
                    e.getMessage());
            return;
        }
        // The kernel chooses the source (the interface's link-local address) and the checksum of an ICMPv6 socket.
        try (RawIpSocket socket = RawIpSocket.open(interfaceName, ICMPV6, ANY, null, -1)) {
            for (int round = 0; round < ROUNDS; round++) {
                if (round > 0) {
                    Thread.sleep(GAP_MILLIS);
                }
                for (String a : addresses) {
                    socket.send(ALL_NODES, encode((Inet6Address) address(a), mac, router));
                }
            }
        } catch (RawSocketException | IllegalArgumentException e) {
            log.warn("cannot announce {} on {}: {}", addresses, interfaceName, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The ICMPv6 message: type 136, code 0, checksum (0: the kernel's), flags R, S=0, O, the
     * target, and a target link-layer address option (RFC 4861 sections 4.4 and 4.6.1).
     */
    static byte[] encode(Inet6Address target, byte[] mac, boolean router) {
        int optionLength = (2 + mac.length + 7) / 8; // in units of 8 bytes
        byte[] m = new byte[24 + optionLength * 8];
        m[0] = (byte) TYPE;
        m[4] = (byte) ((router ? 0x80 : 0) | 0x20);
        System.arraycopy(target.getAddress(), 0, m, 8, 16);
        m[24] = OPTION_TARGET_LINK_LAYER_ADDRESS;
        m[25] = (byte) optionLength;
        System.arraycopy(mac, 0, m, 26, mac.length);
        return m;
    }

    private static InetAddress address(String literal) {
        try {
            return InetAddress.getByName(literal); // a literal: no lookup
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(literal + " is not an address", e);
        }
    }
}

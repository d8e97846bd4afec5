package io.zaro.rawip;

import java.net.InetAddress;

/**
 * An IP packet as a raw socket received it: the header fields a protocol such as VRRP checks
 * (for IPv6, from the socket's ancillary data), and the payload.
 *
 * @param hopLimit the IPv4 TTL or the IPv6 hop limit
 */
public record IpDatagram(InetAddress source, InetAddress destination, int hopLimit, int protocol, byte[] payload) {
}

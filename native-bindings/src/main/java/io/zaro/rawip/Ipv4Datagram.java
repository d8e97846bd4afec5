package io.zaro.rawip;

import java.net.Inet4Address;

/**
 * An IPv4 packet as a raw socket received it: the header fields a protocol such as VRRP checks,
 * and the payload.
 */
public record Ipv4Datagram(Inet4Address source, Inet4Address destination, int ttl, int protocol, byte[] payload) {
}

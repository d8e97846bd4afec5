package io.zaro.agent.vrrp;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Objects;

/**
 * A VRRPv3 ADVERTISEMENT (RFC 5798 section 5.2), the only VRRPv3 message, and its wire form: the
 * VRRP part of the IP packet, from the version field on. Addresses are all IPv4 or all IPv6.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
 * |(rsvd) |     Max Adver Int     |          Checksum             |
 * |                       IPvX Address(es)                        |
 * </pre>
 *
 * @param virtualRouterId the VRID, 1..255 (section 5.2.3)
 * @param priority 0..255; 255 is the address owner, 0 a master that stops (section 5.2.4)
 * @param maxAdvertIntervalCentis the sender's advertisement interval in centiseconds, 1..4095 (section 5.2.7)
 * @param addresses the virtual addresses, at least one (section 5.2.9)
 */
public record Advertisement(int virtualRouterId, int priority, int maxAdvertIntervalCentis, List<InetAddress> addresses) {
    public static final int VERSION = 3;
    public static final int TYPE_ADVERTISEMENT = 1;
    /** IP protocol number of VRRP (section 5.1.1.4). */
    public static final int IP_PROTOCOL = 112;
    public static final int HEADER_BYTES = 8;

    public Advertisement {
        if (virtualRouterId < 1 || virtualRouterId > 255) {
            throw new IllegalArgumentException("virtual router id must be 1..255, got " + virtualRouterId);
        }
        if (priority < 0 || priority > 255) {
            throw new IllegalArgumentException("priority must be 0..255, got " + priority);
        }
        if (maxAdvertIntervalCentis < 1 || maxAdvertIntervalCentis > 0xfff) {
            throw new IllegalArgumentException("advertisement interval must be 1..4095 centiseconds, got "
                    + maxAdvertIntervalCentis);
        }
        addresses = List.copyOf(Objects.requireNonNull(addresses, "addresses"));
        if (addresses.isEmpty() || addresses.size() > 255) {
            throw new IllegalArgumentException("an advertisement carries 1..255 addresses, got " + addresses.size());
        }
        Class<?> family = addresses.get(0).getClass();
        if (addresses.stream().anyMatch(a -> a.getClass() != family)) {
            throw new IllegalArgumentException("an advertisement's addresses are all IPv4 or all IPv6: " + addresses);
        }
    }

    public boolean isIpv6() {
        return addresses.get(0) instanceof Inet6Address;
    }

    /**
     * The VRRP message with its checksum, computed over the message and the pseudo-header of the
     * IP packet that will carry it from {@code source} to {@code destination} (section 5.2.8).
     */
    public byte[] encode(InetAddress source, InetAddress destination) {
        int addressBytes = isIpv6() ? 16 : 4;
        byte[] out = new byte[HEADER_BYTES + addresses.size() * addressBytes];
        out[0] = (byte) (VERSION << 4 | TYPE_ADVERTISEMENT);
        out[1] = (byte) virtualRouterId;
        out[2] = (byte) priority;
        out[3] = (byte) addresses.size();
        out[4] = (byte) (maxAdvertIntervalCentis >> 8 & 0x0f);
        out[5] = (byte) maxAdvertIntervalCentis;
        int offset = HEADER_BYTES;
        for (InetAddress a : addresses) {
            System.arraycopy(a.getAddress(), 0, out, offset, addressBytes);
            offset += addressBytes;
        }
        int sum = Checksum.withPseudoHeader(source, destination, IP_PROTOCOL, out);
        out[6] = (byte) (sum >> 8);
        out[7] = (byte) sum;
        return out;
    }

    /**
     * Decodes a received VRRP message and checks it as section 7.1 asks of the receiver: the
     * version, the type, the checksum (with the pseudo-header of the packet that carried it), and
     * an address count that matches the length. TTL / hop limit 255 and the VRID are the
     * caller's to check.
     */
    public static Advertisement decode(byte[] message, InetAddress source, InetAddress destination)
            throws MalformedAdvertisementException {
        if (message.length < HEADER_BYTES) {
            throw new MalformedAdvertisementException("VRRP message of " + message.length + " bytes");
        }
        int version = (message[0] & 0xff) >> 4;
        int type = message[0] & 0x0f;
        if (version != VERSION) {
            throw new MalformedAdvertisementException("VRRP version " + version + ", not 3");
        }
        if (type != TYPE_ADVERTISEMENT) {
            throw new MalformedAdvertisementException("VRRP message type " + type);
        }
        boolean v6 = source instanceof Inet6Address;
        if (v6 != destination instanceof Inet6Address) {
            throw new MalformedAdvertisementException("source and destination of different families");
        }
        int addressBytes = v6 ? 16 : 4;
        int count = message[3] & 0xff;
        if (count == 0 || message.length < HEADER_BYTES + count * addressBytes) {
            throw new MalformedAdvertisementException("address count " + count + " does not fit " + message.length + " bytes");
        }
        if (Checksum.withPseudoHeader(source, destination, IP_PROTOCOL, message) != 0) {
            throw new MalformedAdvertisementException("bad checksum");
        }
        int vrid = message[1] & 0xff;
        if (vrid == 0) {
            throw new MalformedAdvertisementException("virtual router id 0");
        }
        int interval = (message[4] & 0x0f) << 8 | message[5] & 0xff;
        if (interval == 0) {
            throw new MalformedAdvertisementException("advertisement interval 0");
        }
        InetAddress[] addresses = new InetAddress[count];
        for (int i = 0; i < count; i++) {
            byte[] raw = new byte[addressBytes];
            System.arraycopy(message, HEADER_BYTES + i * addressBytes, raw, 0, addressBytes);
            try {
                addresses[i] = v6 ? Inet6Address.getByAddress(null, raw, -1) : Inet4Address.getByAddress(raw);
            } catch (UnknownHostException e) {
                throw new MalformedAdvertisementException("bad address");
            }
        }
        return new Advertisement(vrid, message[2] & 0xff, interval, List.of(addresses));
    }
}

package io.zaro.rawip;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Optional;

/**
 * A raw IPv4 socket for one IP protocol on one interface, as VRRP uses it: multicast packets go
 * out with TTL 255 from the given source address (the kernel writes the IP header), and are not looped
 * back, and received packets come with their IP header, parsed here. Not thread-safe, but
 * {@link #close()} may be called from another thread to end a blocked {@link #receive}.
 */
public final class RawIpv4Socket implements AutoCloseable {
    private static final int MAX_PACKET = 65_536;

    private final int fd;
    private final int protocol;
    private final Memory receiveBuffer = new Memory(MAX_PACKET);
    private volatile boolean closed;

    private RawIpv4Socket(int fd, int protocol) {
        this.fd = fd;
        this.protocol = protocol;
    }

    /**
     * Opens the socket on {@code interfaceName}, sending from {@code source} (an address of that
     * interface) and, when {@code group} is not null, receiving that multicast group there.
     *
     * @throws RawSocketException naming the fix when the interface is missing or the process lacks CAP_NET_RAW
     */
    public static RawIpv4Socket open(String interfaceName, Inet4Address source, int protocol, Inet4Address group) {
        int ifindex = SocketLibc.if_nametoindex(interfaceName);
        if (ifindex == 0) {
            throw new RawSocketException("open", RawSocketException.ENODEV, "there is no interface " + interfaceName
                    + ": name one that `ip link` shows");
        }
        int fd = SocketLibc.socket(SocketLibc.AF_INET, SocketLibc.SOCK_RAW | SocketLibc.SOCK_CLOEXEC, protocol);
        if (fd < 0) {
            int errno = Native.getLastError();
            if (errno == RawSocketException.EPERM) {
                throw new RawSocketException("socket", errno, "a raw IP socket is not permitted: run zaro as root or give it "
                        + "CAP_NET_RAW (" + SocketLibc.strerror(errno) + ")");
            }
            throw error("socket", errno);
        }
        RawIpv4Socket s = new RawIpv4Socket(fd, protocol);
        try {
            Memory name = new Memory(interfaceName.length() + 1L);
            name.setString(0, interfaceName, "US-ASCII");
            s.check("bind to device", SocketLibc.setsockopt(fd, SocketLibc.SOL_SOCKET, SocketLibc.SO_BINDTODEVICE, name,
                    (int) name.size()));
            // Not bound to the source address: a bound raw socket receives only packets addressed to
            // it, never the multicast group's. IP_MULTICAST_IF below gives multicasts their source.
            s.intOption(SocketLibc.IP_TTL, 255);
            s.intOption(SocketLibc.IP_MULTICAST_TTL, 255);
            s.intOption(SocketLibc.IP_MULTICAST_LOOP, 0);
            s.check("multicast interface", SocketLibc.setsockopt(fd, SocketLibc.IPPROTO_IP, SocketLibc.IP_MULTICAST_IF,
                    mreqn(null, source, ifindex), 12));
            if (group != null) {
                s.check("join " + group.getHostAddress(), SocketLibc.setsockopt(fd, SocketLibc.IPPROTO_IP,
                        SocketLibc.IP_ADD_MEMBERSHIP, mreqn(group, null, ifindex), 12));
            }
            return s;
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** Sends {@code payload} as one IPv4 packet of this socket's protocol to {@code destination}. */
    public void send(Inet4Address destination, byte[] payload) {
        Memory buf = new Memory(Math.max(1, payload.length));
        buf.write(0, payload, 0, payload.length);
        long n = SocketLibc.sendto(fd, buf, payload.length, 0, sockaddr(destination), 16);
        if (n < 0) {
            throw error("send", Native.getLastError());
        }
    }

    /**
     * Waits up to {@code timeout} for a packet of this socket's protocol; empty when none came
     * (or the socket was closed meanwhile). Packets too short for their own header are skipped.
     */
    public Optional<Ipv4Datagram> receive(Duration timeout) {
        if (closed) {
            return Optional.empty();
        }
        long micros = Math.max(1, timeout.toNanos() / 1000);
        Memory tv = new Memory(16);
        tv.setLong(0, micros / 1_000_000);
        tv.setLong(8, micros % 1_000_000);
        check("receive timeout", SocketLibc.setsockopt(fd, SocketLibc.SOL_SOCKET, SocketLibc.SO_RCVTIMEO, tv, 16));
        long n = SocketLibc.recv(fd, receiveBuffer, MAX_PACKET, 0);
        if (n < 0) {
            int errno = Native.getLastError();
            if (errno == SocketLibc.EAGAIN || errno == SocketLibc.EINTR || closed) {
                return Optional.empty();
            }
            throw error("receive", errno);
        }
        return parse(receiveBuffer.getByteArray(0, (int) n));
    }

    /** The IPv4 header (RFC 791) of a received packet, and its payload; empty when malformed. */
    static Optional<Ipv4Datagram> parse(byte[] packet) {
        if (packet.length < 20 || (packet[0] & 0xf0) != 0x40) {
            return Optional.empty();
        }
        int headerLength = (packet[0] & 0x0f) * 4;
        int totalLength = (packet[2] & 0xff) << 8 | packet[3] & 0xff;
        if (headerLength < 20 || totalLength < headerLength || totalLength > packet.length) {
            return Optional.empty();
        }
        try {
            Inet4Address src = (Inet4Address) InetAddress.getByAddress(java.util.Arrays.copyOfRange(packet, 12, 16));
            Inet4Address dst = (Inet4Address) InetAddress.getByAddress(java.util.Arrays.copyOfRange(packet, 16, 20));
            return Optional.of(new Ipv4Datagram(src, dst, packet[8] & 0xff, packet[9] & 0xff,
                    java.util.Arrays.copyOfRange(packet, headerLength, totalLength)));
        } catch (UnknownHostException e) {
            return Optional.empty();
        }
    }

    public int protocol() {
        return protocol;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            SocketLibc.close(fd);
        }
    }

    private void intOption(int option, int value) {
        Memory v = new Memory(4);
        v.setInt(0, value);
        check("option " + option, SocketLibc.setsockopt(fd, SocketLibc.IPPROTO_IP, option, v, 4));
    }

    private void check(String operation, int result) {
        if (result < 0) {
            throw error(operation, Native.getLastError());
        }
    }

    private static RawSocketException error(String operation, int errno) {
        return new RawSocketException(operation, errno, "raw socket " + operation + " failed: " + SocketLibc.strerror(errno));
    }

    /** struct sockaddr_in: family (host order), port 0, address. */
    private static Memory sockaddr(Inet4Address a) {
        Memory m = new Memory(16);
        m.clear();
        m.setShort(0, (short) SocketLibc.AF_INET);
        m.write(4, a.getAddress(), 0, 4);
        return m;
    }

    /** struct ip_mreqn: multicast address, local address, interface index. */
    private static Memory mreqn(Inet4Address group, Inet4Address local, int ifindex) {
        Memory m = new Memory(12);
        m.clear();
        if (group != null) {
            m.write(0, group.getAddress(), 0, 4);
        }
        if (local != null) {
            m.write(4, local.getAddress(), 0, 4);
        }
        m.setInt(8, ifindex);
        return m;
    }
}

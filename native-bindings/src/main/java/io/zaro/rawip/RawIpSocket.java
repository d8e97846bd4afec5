package io.zaro.rawip;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;

/**
 * A raw IPv4 or IPv6 socket for one IP protocol on one interface, as VRRP uses it: packets go
 * out with TTL / hop limit 255 (the kernel writes the IP header), multicasts are not looped back,
 * and received packets come with the header fields a protocol checks (IPv4: parsed from the
 * header the kernel passes up; IPv6: from the socket's ancillary data). Not thread-safe, but
 * {@link #close()} may be called from another thread to end a blocked {@link #receive}.
 *
 * <p>Linux x86_64 and arm64 layouts (64-bit pointers) for the socket structures.
 */
public final class RawIpSocket implements AutoCloseable {
    private static final int MAX_PACKET = 65_536;
    private static final int CONTROL_BYTES = 256;

    private final int fd;
    private final int protocol;
    private final boolean ipv6;
    private final int ifindex;
    private final Memory receiveBuffer = new Memory(MAX_PACKET);
    /** IPv6 only: struct msghdr, the source's sockaddr_in6, the iovec and the control buffer. */
    private final Memory msghdr;
    private final Memory name;
    private final Memory control;
    private volatile boolean closed;

    private RawIpSocket(int fd, int protocol, boolean ipv6, int ifindex) {
        this.fd = fd;
        this.protocol = protocol;
        this.ipv6 = ipv6;
        this.ifindex = ifindex;
        if (ipv6) {
            msghdr = new Memory(56);
            name = new Memory(28);
            control = new Memory(CONTROL_BYTES);
            Memory iov = new Memory(16);
            iov.setPointer(0, receiveBuffer);
            iov.setLong(8, MAX_PACKET);
            msghdr.clear();
            msghdr.setPointer(0, name);
            msghdr.setPointer(16, iov);
            msghdr.setLong(24, 1);
            msghdr.setPointer(32, control);
        } else {
            msghdr = null;
            name = null;
            control = null;
        }
    }

    /**
     * Opens the socket on {@code interfaceName}.
     *
     * <ul>
     *   <li>With a {@code group}, it joins that multicast group there and is not bound to an
     *       address: a bound socket would receive only packets addressed to it. Multicasts go
     *       out from {@code source} (IPv4) or the interface's link-local address (IPv6, chosen by
     *       the kernel).</li>
     *   <li>Without one, it is bound to {@code source} (packets go out from it, and only packets
     *       addressed to it come in), unless {@code source} is the wildcard address, when the
     *       kernel picks the source per destination.</li>
     * </ul>
     *
     * @param kernelChecksumOffset IPv6 only: where in the payload the kernel writes (and, on
     *     receipt, checks) the checksum of the payload and the IPv6 pseudo-header; -1 for none.
     *     ICMPv6 sockets always have it (at 2), and must pass -1.
     * @throws RawSocketException naming the fix when the interface is missing or the process lacks CAP_NET_RAW
     */
    public static RawIpSocket open(String interfaceName, int protocol, InetAddress source, InetAddress group,
                                   int kernelChecksumOffset) {
        boolean v6 = source instanceof Inet6Address;
        if (group != null && v6 != group instanceof Inet6Address) {
            throw new IllegalArgumentException("source " + source.getHostAddress() + " and group " + group.getHostAddress()
                    + " are of different families");
        }
        int ifindex = SocketLibc.if_nametoindex(interfaceName);
        if (ifindex == 0) {
            throw new RawSocketException("open", RawSocketException.ENODEV, "there is no interface " + interfaceName
                    + ": name one that `ip link` shows");
        }
        int fd = SocketLibc.socket(v6 ? SocketLibc.AF_INET6 : SocketLibc.AF_INET,
                SocketLibc.SOCK_RAW | SocketLibc.SOCK_CLOEXEC, protocol);
        if (fd < 0) {
            int errno = Native.getLastError();
            if (errno == RawSocketException.EPERM) {
                throw new RawSocketException("socket", errno, "a raw IP socket is not permitted: run zaro as root or give it "
                        + "CAP_NET_RAW (" + SocketLibc.strerror(errno) + ")");
            }
            throw error("socket", errno);
        }
        RawIpSocket s = new RawIpSocket(fd, protocol, v6, ifindex);
        try {
            Memory device = new Memory(interfaceName.length() + 1L);
            device.setString(0, interfaceName, "US-ASCII");
            s.check("bind to device", SocketLibc.setsockopt(fd, SocketLibc.SOL_SOCKET, SocketLibc.SO_BINDTODEVICE, device,
                    (int) device.size()));
            if (v6) {
                s.setupIpv6((Inet6Address) group, kernelChecksumOffset);
            } else {
                s.setupIpv4((Inet4Address) source, (Inet4Address) group);
            }
            if (group == null && !source.isAnyLocalAddress()) {
                Memory address = s.sockaddr(source);
                s.check("bind to " + source.getHostAddress(), SocketLibc.bind(fd, address, (int) address.size()));
            }
            return s;
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
    }

    private void setupIpv4(Inet4Address source, Inet4Address group) {
        intOption(SocketLibc.IPPROTO_IP, SocketLibc.IP_TTL, 255);
        intOption(SocketLibc.IPPROTO_IP, SocketLibc.IP_MULTICAST_TTL, 255);
        intOption(SocketLibc.IPPROTO_IP, SocketLibc.IP_MULTICAST_LOOP, 0);
        check("multicast interface", SocketLibc.setsockopt(fd, SocketLibc.IPPROTO_IP, SocketLibc.IP_MULTICAST_IF,
                mreqn(null, source, ifindex), 12));
        if (group != null) {
            check("join " + group.getHostAddress(), SocketLibc.setsockopt(fd, SocketLibc.IPPROTO_IP,
                    SocketLibc.IP_ADD_MEMBERSHIP, mreqn(group, null, ifindex), 12));
        }
    }

    private void setupIpv6(Inet6Address group, int kernelChecksumOffset) {
        intOption(SocketLibc.IPPROTO_IPV6, SocketLibc.IPV6_UNICAST_HOPS, 255);
        intOption(SocketLibc.IPPROTO_IPV6, SocketLibc.IPV6_MULTICAST_HOPS, 255);
        intOption(SocketLibc.IPPROTO_IPV6, SocketLibc.IPV6_MULTICAST_LOOP, 0);
        intOption(SocketLibc.IPPROTO_IPV6, SocketLibc.IPV6_MULTICAST_IF, ifindex);
        intOption(SocketLibc.IPPROTO_IPV6, SocketLibc.IPV6_RECVPKTINFO, 1);
        intOption(SocketLibc.IPPROTO_IPV6, SocketLibc.IPV6_RECVHOPLIMIT, 1);
        if (kernelChecksumOffset >= 0) {
            intOption(SocketLibc.IPPROTO_IPV6, SocketLibc.IPV6_CHECKSUM, kernelChecksumOffset);
        }
        if (group != null) {
            Memory mreq = new Memory(20); // struct ipv6_mreq: group, interface index
            mreq.write(0, group.getAddress(), 0, 16);
            mreq.setInt(16, ifindex);
            check("join " + group.getHostAddress(), SocketLibc.setsockopt(fd, SocketLibc.IPPROTO_IPV6,
                    SocketLibc.IPV6_ADD_MEMBERSHIP, mreq, 20));
        }
    }

    /** Sends {@code payload} as one packet of this socket's protocol to {@code destination}. */
    public void send(InetAddress destination, byte[] payload) {
        if (ipv6 != destination instanceof Inet6Address) {
            throw new IllegalArgumentException("cannot send to " + destination.getHostAddress() + " on an IPv"
                    + (ipv6 ? 6 : 4) + " socket");
        }
        Memory buf = new Memory(Math.max(1, payload.length));
        buf.write(0, payload, 0, payload.length);
        Memory address = sockaddr(destination);
        long n = SocketLibc.sendto(fd, buf, payload.length, 0, address, (int) address.size());
        if (n < 0) {
            throw error("send", Native.getLastError());
        }
    }

    /**
     * Waits up to {@code timeout} for a packet of this socket's protocol; empty when none came
     * (or the socket was closed meanwhile). Packets too short for their own header are skipped.
     */
    public Optional<IpDatagram> receive(Duration timeout) {
        if (closed) {
            return Optional.empty();
        }
        long micros = Math.max(1, timeout.toNanos() / 1000);
        Memory tv = new Memory(16);
        tv.setLong(0, micros / 1_000_000);
        tv.setLong(8, micros % 1_000_000);
        check("receive timeout", SocketLibc.setsockopt(fd, SocketLibc.SOL_SOCKET, SocketLibc.SO_RCVTIMEO, tv, 16));
        long n;
        if (ipv6) {
            msghdr.setInt(8, (int) name.size());
            msghdr.setLong(40, CONTROL_BYTES);
            msghdr.setInt(48, 0);
            n = SocketLibc.recvmsg(fd, msghdr, 0);
        } else {
            n = SocketLibc.recv(fd, receiveBuffer, MAX_PACKET, 0);
        }
        if (n < 0) {
            int errno = Native.getLastError();
            if (errno == SocketLibc.EAGAIN || errno == SocketLibc.EINTR || closed) {
                return Optional.empty();
            }
            throw error("receive", errno);
        }
        byte[] packet = receiveBuffer.getByteArray(0, (int) n);
        return ipv6 ? ipv6Datagram(packet) : parseIpv4(packet);
    }

    /** The IPv4 header (RFC 791) of a received packet, and its payload; empty when malformed. */
    static Optional<IpDatagram> parseIpv4(byte[] packet) {
        if (packet.length < 20 || (packet[0] & 0xf0) != 0x40) {
            return Optional.empty();
        }
        int headerLength = (packet[0] & 0x0f) * 4;
        int totalLength = (packet[2] & 0xff) << 8 | packet[3] & 0xff;
        if (headerLength < 20 || totalLength < headerLength || totalLength > packet.length) {
            return Optional.empty();
        }
        try {
            InetAddress src = InetAddress.getByAddress(Arrays.copyOfRange(packet, 12, 16));
            InetAddress dst = InetAddress.getByAddress(Arrays.copyOfRange(packet, 16, 20));
            return Optional.of(new IpDatagram(src, dst, packet[8] & 0xff, packet[9] & 0xff,
                    Arrays.copyOfRange(packet, headerLength, totalLength)));
        } catch (UnknownHostException e) {
            return Optional.empty();
        }
    }

    /** An IPv6 payload with its source (the msghdr's name) and, from the control messages, destination and hop limit. */
    private Optional<IpDatagram> ipv6Datagram(byte[] payload) {
        int nameLength = msghdr.getInt(8);
        long controlLength = msghdr.getLong(40);
        if (nameLength < 24 || name.getShort(0) != SocketLibc.AF_INET6) {
            return Optional.empty();
        }
        byte[] destination = null;
        int hopLimit = -1;
        for (long offset = 0; offset + 16 <= controlLength; ) {
            long length = control.getLong(offset);
            int level = control.getInt(offset + 8);
            int type = control.getInt(offset + 12);
            if (length < 16 || offset + length > controlLength) {
                break;
            }
            if (level == SocketLibc.IPPROTO_IPV6 && type == SocketLibc.IPV6_PKTINFO && length >= 16 + 20) {
                destination = control.getByteArray(offset + 16, 16);
            } else if (level == SocketLibc.IPPROTO_IPV6 && type == SocketLibc.IPV6_HOPLIMIT && length >= 16 + 4) {
                hopLimit = control.getInt(offset + 16);
            }
            offset += (length + 7) & ~7L;
        }
        if (destination == null || hopLimit < 0) {
            return Optional.empty();
        }
        try {
            return Optional.of(new IpDatagram(InetAddress.getByAddress(name.getByteArray(8, 16)),
                    InetAddress.getByAddress(destination), hopLimit, protocol, payload));
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

    private void intOption(int level, int option, int value) {
        Memory v = new Memory(4);
        v.setInt(0, value);
        check("option " + level + "/" + option, SocketLibc.setsockopt(fd, level, option, v, 4));
    }

    private void check(String operation, int result) {
        if (result < 0) {
            throw error(operation, Native.getLastError());
        }
    }

    private static RawSocketException error(String operation, int errno) {
        return new RawSocketException(operation, errno, "raw socket " + operation + " failed: " + SocketLibc.strerror(errno));
    }

    /**
     * struct sockaddr_in (family in host order, port 0, address) or sockaddr_in6 (family, port,
     * flow info, address, scope: this interface for a link-local address).
     */
    private Memory sockaddr(InetAddress a) {
        Memory m = new Memory(a instanceof Inet6Address ? 28 : 16);
        m.clear();
        if (a instanceof Inet6Address) {
            m.setShort(0, (short) SocketLibc.AF_INET6);
            m.write(8, a.getAddress(), 0, 16);
            if (a.isLinkLocalAddress() || a.isMulticastAddress()) {
                m.setInt(24, ifindex);
            }
        } else {
            m.setShort(0, (short) SocketLibc.AF_INET);
            m.write(4, a.getAddress(), 0, 4);
        }
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

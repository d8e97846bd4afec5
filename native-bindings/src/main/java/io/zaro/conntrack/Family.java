package io.zaro.conntrack;

import java.net.Inet4Address;
import java.net.InetAddress;

/** Which layer-3 family a dump or flush covers. The numbers are the kernel's AF_ constants. */
public enum Family {
    IPV4(2),
    IPV6(10),
    /** Both IPv4 and IPv6 (AF_UNSPEC). */
    ALL(0);

    private final int af;

    Family(int af) {
        this.af = af;
    }

    public int af() {
        return af;
    }

    public static Family of(InetAddress address) {
        return address instanceof Inet4Address ? IPV4 : IPV6;
    }

    public static Family fromAf(int af) {
        for (Family f : values()) {
            if (f.af == af) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown address family " + af);
    }
}

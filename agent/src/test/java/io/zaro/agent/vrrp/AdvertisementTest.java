package io.zaro.agent.vrrp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdvertisementTest {
    private static final InetAddress SRC4 = ip("192.0.2.1");
    private static final InetAddress GROUP4 = ip("224.0.0.18");
    private static final InetAddress SRC6 = ip("fe80::1");
    private static final InetAddress GROUP6 = ip("ff02::12");

    @Test
    void ipv4AdvertisementHasTheRfcLayout() {
        Advertisement a = new Advertisement(51, 100, 100, List.of(ip("192.0.2.100"), ip("192.0.2.101")));
        byte[] m = a.encode(SRC4, GROUP4);
        assertEquals(8 + 2 * 4, m.length);
        assertEquals(0x31, m[0] & 0xff, "version 3, type 1");
        assertEquals(51, m[1] & 0xff);
        assertEquals(100, m[2] & 0xff);
        assertEquals(2, m[3] & 0xff);
        assertEquals(0, m[4] & 0xf0, "reserved bits zero");
        assertEquals(100, (m[4] & 0x0f) << 8 | m[5] & 0xff, "interval in centiseconds");
        assertArrayEquals(ip("192.0.2.100").getAddress(), java.util.Arrays.copyOfRange(m, 8, 12));
        // Checksum by hand (RFC 1071) over the IPv4 pseudo-header and the message with a zero checksum.
        long sum = 0xc000 + 0x0201 + 0xe000 + 0x0012 + 112 + m.length;
        byte[] zeroed = m.clone();
        zeroed[6] = 0;
        zeroed[7] = 0;
        for (int i = 0; i < zeroed.length; i += 2) {
            sum += (zeroed[i] & 0xff) << 8 | zeroed[i + 1] & 0xff;
        }
        while (sum >> 16 != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        assertEquals(~sum & 0xffff, (m[6] & 0xff) << 8 | m[7] & 0xff);
    }

    @Test
    void roundTripsOverIpv4AndIpv6() throws Exception {
        Advertisement v4 = new Advertisement(1, 255, 4095, List.of(ip("10.0.0.1")));
        assertEquals(v4, Advertisement.decode(v4.encode(SRC4, GROUP4), SRC4, GROUP4));
        Advertisement v6 = new Advertisement(255, 1, 10, List.of(ip("2001:db8::1"), ip("fe80::10")));
        byte[] m = v6.encode(SRC6, GROUP6);
        assertEquals(8 + 2 * 16, m.length);
        assertEquals(v6, Advertisement.decode(m, SRC6, GROUP6));
        assertTrue(Advertisement.decode(m, SRC6, GROUP6).isIpv6());
    }

    @Test
    void theChecksumCoversThePseudoHeader() throws Exception {
        byte[] m = new Advertisement(7, 100, 100, List.of(ip("10.0.0.1"))).encode(SRC4, GROUP4);
        assertThrows(MalformedAdvertisementException.class, () -> Advertisement.decode(m, ip("192.0.2.2"), GROUP4),
                "another sender than the checksum was made for");
        Advertisement.decode(m, SRC4, GROUP4);
    }

    @Test
    void everyCorruptionIsRefused() {
        byte[] good = new Advertisement(7, 100, 100, List.of(ip("10.0.0.1"))).encode(SRC4, GROUP4);
        for (int i = 0; i < good.length; i++) {
            for (int bit = 0; bit < 8; bit++) {
                byte[] bad = good.clone();
                bad[i] ^= (byte) (1 << bit);
                assertThrows(MalformedAdvertisementException.class, () -> Advertisement.decode(bad, SRC4, GROUP4),
                        "byte " + i + " bit " + bit);
            }
        }
        for (int n = 0; n < good.length; n++) {
            byte[] cut = java.util.Arrays.copyOf(good, n);
            assertThrows(MalformedAdvertisementException.class, () -> Advertisement.decode(cut, SRC4, GROUP4), "cut at " + n);
        }
    }

    @Test
    void versionTwoAndOtherTypesAreRefused() {
        byte[] m = new Advertisement(7, 100, 100, List.of(ip("10.0.0.1"))).encode(SRC4, GROUP4);
        m[0] = 0x21; // VRRPv2 (its checksum is not even checked first)
        MalformedAdvertisementException e = assertThrows(MalformedAdvertisementException.class,
                () -> Advertisement.decode(m, SRC4, GROUP4));
        assertTrue(e.getMessage().contains("version 2"), e.getMessage());
    }

    @Test
    void valuesOutsideTheRfcAreRefusedWhenBuilding() {
        assertThrows(IllegalArgumentException.class, () -> new Advertisement(0, 100, 100, List.of(ip("10.0.0.1"))));
        assertThrows(IllegalArgumentException.class, () -> new Advertisement(1, 256, 100, List.of(ip("10.0.0.1"))));
        assertThrows(IllegalArgumentException.class, () -> new Advertisement(1, 100, 4096, List.of(ip("10.0.0.1"))));
        assertThrows(IllegalArgumentException.class, () -> new Advertisement(1, 100, 100, List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> new Advertisement(1, 100, 100, List.of(ip("10.0.0.1"), ip("2001:db8::1"))));
    }

    static InetAddress ip(String s) {
        try {
            return InetAddress.getByName(s);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }
}

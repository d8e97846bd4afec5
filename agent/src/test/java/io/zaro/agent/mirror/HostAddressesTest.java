package io.zaro.agent.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.zaro.conntrack.filter.Cidr;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class HostAddressesTest {
    /**
     * {@code ip -json address show} on a firewall: loopback, a link without addresses, the LAN
     * link eth0 that holds the two VIPs (keepalived adds them as /32 and /128), and the sync link
     * eth1. Shaped as iproute2 6.1 prints it, pretty-printed here.
     */
    static final String IP_JSON = """
            [ {
                "ifindex": 1, "ifname": "lo", "flags": [ "LOOPBACK", "UP", "LOWER_UP" ], "mtu": 65536,
                "qdisc": "noqueue", "operstate": "UNKNOWN", "group": "default", "txqlen": 1000,
                "link_type": "loopback", "address": "00:00:00:00:00:00", "broadcast": "00:00:00:00:00:00",
                "addr_info": [ {
                    "family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host", "label": "lo",
                    "valid_life_time": 4294967295, "preferred_life_time": 4294967295
                }, {
                    "family": "inet6", "local": "::1", "prefixlen": 128, "scope": "host",
                    "valid_life_time": 4294967295, "preferred_life_time": 4294967295
                } ]
            }, {
                "ifindex": 2, "ifname": "ifb0", "flags": [ "BROADCAST", "NOARP" ], "mtu": 1500, "qdisc": "noop",
                "operstate": "DOWN", "group": "default", "txqlen": 32, "link_type": "ether",
                "address": "da:3a:77:2d:a4:05", "broadcast": "ff:ff:ff:ff:ff:ff", "addr_info": [ ]
            }, {
                "ifindex": 4, "ifname": "eth0", "flags": [ "BROADCAST", "MULTICAST", "UP", "LOWER_UP" ], "mtu": 1500,
                "qdisc": "pfifo_fast", "operstate": "UP", "group": "default", "txqlen": 1000, "link_type": "ether",
                "address": "02:fc:00:00:00:01", "broadcast": "ff:ff:ff:ff:ff:ff",
                "addr_info": [ {
                    "family": "inet", "local": "192.0.2.2", "prefixlen": 24, "broadcast": "192.0.2.255",
                    "scope": "global", "label": "eth0", "valid_life_time": 4294967295, "preferred_life_time": 4294967295
                }, {
                    "family": "inet", "local": "192.0.2.1", "prefixlen": 32, "scope": "global", "secondary": true,
                    "label": "eth0", "valid_life_time": 4294967295, "preferred_life_time": 4294967295
                }, {
                    "family": "inet6", "local": "2001:db8:1::1", "prefixlen": 128, "scope": "global", "nodad": true,
                    "valid_life_time": 4294967295, "preferred_life_time": 4294967295
                }, {
                    "family": "inet6", "local": "2001:db8:1::2", "prefixlen": 64, "scope": "global", "nodad": true,
                    "valid_life_time": 4294967295, "preferred_life_time": 4294967295
                }, {
                    "family": "inet6", "local": "fe80::fc:ff:fe00:1", "prefixlen": 64, "scope": "link",
                    "valid_life_time": 4294967295, "preferred_life_time": 4294967295
                } ]
            }, {
                "ifindex": 5, "ifname": "eth1", "flags": [ "BROADCAST", "MULTICAST", "UP", "LOWER_UP" ], "mtu": 1500,
                "qdisc": "pfifo_fast", "operstate": "UP", "group": "default", "txqlen": 1000, "link_type": "ether",
                "address": "02:fc:00:00:00:02", "broadcast": "ff:ff:ff:ff:ff:ff",
                "addr_info": [ {
                    "family": "inet", "local": "10.255.0.1", "prefixlen": 30, "broadcast": "10.255.0.3",
                    "scope": "global", "label": "eth1", "valid_life_time": 4294967295, "preferred_life_time": 4294967295
                }, {
                    "family": "inet6", "local": "fd00:ffff::1", "prefixlen": 64, "scope": "global",
                    "valid_life_time": 4294967295, "preferred_life_time": 4294967295
                }, {
                    "family": "inet6", "local": "fe80::fc:ff:fe00:2", "prefixlen": 64, "scope": "link",
                    "valid_life_time": 4294967295, "preferred_life_time": 4294967295
                } ]
            } ]
            """;

    static final List<InetAddress> VIPS = List.of(ip("192.0.2.1"), ip("2001:db8:1::1"));

    static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    static JsonNode json(String text) {
        try {
            return new ObjectMapper().readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(e);
        }
    }

    static List<Cidr> cidrs(String... text) {
        return Stream.of(text).map(Cidr::parse).toList();
    }

    /** Order is not part of the contract: compare sorted. */
    static List<Cidr> sorted(List<Cidr> cidrs) {
        return cidrs.stream().sorted(Comparator.comparing(Cidr::toString)).toList();
    }

    static final List<Cidr> OWN = cidrs("127.0.0.1/32", "::1/128", "192.0.2.2/32", "2001:db8:1::2/128",
            "fe80::fc:ff:fe00:1/128", "10.255.0.1/32", "fd00:ffff::1/128", "fe80::fc:ff:fe00:2/128");
    static final List<Cidr> SYNC_NETWORKS = cidrs("10.255.0.0/30", "fd00:ffff::/64", "fe80::/64");

    static Stream<Arguments> cases() {
        List<Cidr> both = Stream.concat(OWN.stream(), SYNC_NETWORKS.stream()).toList();
        return Stream.of(
                Arguments.of("own addresses, VIPs excluded", true, null, VIPS, OWN),
                Arguments.of("sync link networks, host bits cleared", false, "eth1", VIPS, SYNC_NETWORKS),
                Arguments.of("both", true, "eth1", VIPS, both),
                Arguments.of("neither", false, null, VIPS, List.of()),
                Arguments.of("a sync link without addresses", false, "ifb0", VIPS, List.of()),
                Arguments.of("without VIPs every address is the node's own", true, null, List.of(),
                        Stream.concat(OWN.stream(), cidrs("192.0.2.1/32", "2001:db8:1::1/128").stream()).toList()),
                Arguments.of("a VIP on the sync link is not among its networks", false, "eth0", VIPS,
                        cidrs("192.0.2.0/24", "2001:db8:1::/64", "fe80::/64")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void ignoresOwnAddressesAndSyncNetworksButNeverVips(String what, boolean own, String sync, List<InetAddress> vips,
                                                        List<Cidr> expected) {
        assertEquals(sorted(expected), sorted(HostAddresses.ignored(json(IP_JSON), own, sync, vips)), what);
    }

    @Test
    void aVipWrittenDifferentlyIsStillAVip() {
        List<Cidr> ignored = HostAddresses.ignored(json(IP_JSON), true, null,
                List.of(ip("192.0.2.1"), ip("2001:0db8:0001:0000:0000:0000:0000:0001")));
        assertTrue(ignored.stream().noneMatch(c -> c.contains(ip("2001:db8:1::1"))), ignored.toString());
    }

    @Test
    void addressEntriesWithoutALocalAddressAreSkipped() {
        JsonNode links = json("""
                [ { "ifindex": 7, "ifname": "wg0", "addr_info": [ { }, { "family": "inet", "local": "",
                      "prefixlen": 24 }, { "family": "inet", "local": "10.8.0.1", "address": "10.8.0.2", "prefixlen": 32,
                      "scope": "global", "label": "wg0" } ] },
                  { "ifindex": 8, "ifname": "dummy0" } ]
                """);
        assertEquals(cidrs("10.8.0.1/32"), HostAddresses.ignored(links, true, null, List.of()));
    }

    @Test
    void unknownSyncInterfaceIsNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HostAddresses.ignored(json(IP_JSON), true, "eth9", VIPS));
        assertTrue(e.getMessage().contains("'eth9'"), e.getMessage());
        assertTrue(e.getMessage().contains("filter.sync.interface"), e.getMessage());
    }

    @Test
    void noLinksAtAllGiveNothingToIgnore() {
        assertEquals(List.of(), HostAddresses.ignored(json("[]"), true, null, VIPS));
        assertThrows(IllegalArgumentException.class, () -> HostAddresses.ignored(json("[]"), false, "eth1", VIPS));
    }
}

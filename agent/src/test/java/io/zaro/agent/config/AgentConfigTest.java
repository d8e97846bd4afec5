package io.zaro.agent.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.agent.config.AgentConfig.Key;
import io.zaro.agent.config.AgentConfig.Role;
import io.zaro.agent.vrrp.TrackScripts;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.EventOptions;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import io.zaro.conntrack.filter.Cidr;
import io.zaro.conntrack.filter.FlowFilter;
import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class AgentConfigTest {
    /** The smallest valid file: the three required keys. */
    private static final String MINIMAL = """
            node.id=fw1
            role=active
            kafka.bootstrap.servers=192.0.2.10:9092
            """;

    static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** The minimal file followed by {@code lines}, read as {@link AgentConfig#load} reads a file: a later line wins. */
    static Properties file(String lines) {
        Properties p = new Properties();
        try {
            p.load(new StringReader(MINIMAL + lines));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    static AgentConfig parse(String lines) {
        return AgentConfig.parse(file(lines));
    }

    /** A user's mistake is one sentence that names the offending key, never a stack trace. */
    static void assertOneSentenceNaming(String key, ConfigException e) {
        String m = e.getMessage();
        assertEquals(key, e.key(), m);
        assertTrue(m.contains(key), "message does not name '" + key + "': " + m);
        assertFalse(m.contains("\n"), "message spans lines: " + m);
        assertFalse(Pattern.compile("[.!?]\\s+\\p{Lu}").matcher(m).find(), "more than one sentence: " + m);
        assertFalse(m.contains("Exception"), "message shows an exception: " + m);
    }

    // ------------------------------------------------------------------ valid files

    /** The example the README points to is a valid configuration. */
    @Test
    void theExampleConfigurationLoads() {
        AgentConfig c = AgentConfig.load(Path.of("../config/zaro.properties.example"));
        assertEquals("fw1", c.nodeId());
        assertEquals(AgentConfig.Role.ACTIVE, c.role());
        assertEquals("eth2", c.syncInterface());
    }

    @Test
    void minimalFileGetsTheDocumentedDefaults() {
        AgentConfig c = parse("");
        assertEquals("fw1", c.nodeId());
        assertEquals(Role.ACTIVE, c.role());
        Properties kafka = new Properties();
        kafka.setProperty("bootstrap.servers", "192.0.2.10:9092");
        assertEquals(kafka, c.kafka());
        assertEquals("zaro", c.topicPrefix());
        assertEquals(6, c.partitions());
        assertEquals((short) 1, c.replicationFactor());
        assertEquals(EventOptions.DEFAULT_RECEIVE_BUFFER_BYTES, c.receiveBufferBytes());
        assertEquals(65536, c.queueCapacity());
        assertEquals(Duration.ofSeconds(30), c.refreshInterval());
        assertEquals(Duration.ofSeconds(90), c.timeoutGrace());
        assertEquals(FlowFilter.all(), c.filter());
        assertTrue(c.ignoreOwnAddresses());
        assertNull(c.syncInterface());
        assertEquals(List.of(), c.vips());
        assertEquals(new InetSocketAddress(InetAddress.getLoopbackAddress(), 9740), c.metricsListen());
    }

    @Test
    void theMetricsEndpointListensWhereToldOrNowhere() throws Exception {
        assertEquals(new InetSocketAddress(InetAddress.getByName("::1"), 9100), parse("metrics.listen=[::1]:9100\n").metricsListen());
        assertEquals(new InetSocketAddress(InetAddress.getByName("10.99.0.1"), 80), parse("metrics.listen=10.99.0.1:80\n")
                .metricsListen());
        assertNull(parse("metrics.listen=off\n").metricsListen());
        for (String bad : List.of("9740", "localhost:9740", "::1:9740", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:x")) {
            ConfigException e = assertThrows(ConfigException.class, () -> parse("metrics.listen=" + bad + "\n"), bad);
            assertOneSentenceNaming("metrics.listen", e);
        }
    }

    static Stream<Key> keysWithDefaults() {
        return AgentConfig.KEYS.stream().filter(k -> k.defaultValue() != null);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("keysWithDefaults")
    void everyDocumentedDefaultIsTheOneApplied(Key key) {
        assertEquals(parse(""), parse(key.name() + "=" + key.defaultValue() + "\n"), key.name());
    }

    @Test
    void requiredKeysAreTheDocumentedOnes() {
        assertEquals(List.of("node.id", "role", "kafka.bootstrap.servers"),
                AgentConfig.KEYS.stream().filter(k -> k.defaultValue() == null).map(Key::name).toList());
    }

    @Test
    void everyKeyCanBeSet() {
        AgentConfig c = parse("""
                node.id = fw-2.dc_1
                role = STANDBY
                kafka.bootstrap.servers = kafka1.example:9093,[2001:db8::9]:9093,192.0.2.11:9093
                kafka.topic.prefix = lab.zaro
                kafka.topic.partitions = 12
                kafka.topic.replication.factor = 3
                capture.receive.buffer.bytes = 4096
                capture.queue.capacity = 16
                mirror.refresh.interval.seconds = 10
                mirror.timeout.grace.seconds = 21
                filter.accept.networks = 10.0.0.0/8, 2001:db8::/32
                filter.ignore.networks = 10.255.0.0/30
                filter.ignore.own.addresses = no
                filter.sync.interface = eth2
                filter.protocols = tcp, 17, sctp
                filter.tcp.states = established, SYN_SENT
                filter.zones = 0, 65535
                filter.mark = 0x10
                filter.mark.mask = 240
                vips = 192.0.2.1, 2001:db8::1
                """);
        assertEquals("fw-2.dc_1", c.nodeId());
        assertEquals(Role.STANDBY, c.role());
        assertEquals("kafka1.example:9093,[2001:db8::9]:9093,192.0.2.11:9093", c.kafka().getProperty("bootstrap.servers"));
        assertEquals("lab.zaro", c.topicPrefix());
        assertEquals(12, c.partitions());
        assertEquals((short) 3, c.replicationFactor());
        assertEquals(4096, c.receiveBufferBytes());
        assertEquals(16, c.queueCapacity());
        assertEquals(Duration.ofSeconds(10), c.refreshInterval());
        assertEquals(Duration.ofSeconds(21), c.timeoutGrace());
        assertEquals(new FlowFilter(List.of(Cidr.parse("10.0.0.0/8"), Cidr.parse("2001:db8::/32")),
                List.of(Cidr.parse("10.255.0.0/30")), Set.of(IpProtocol.TCP, IpProtocol.UDP, IpProtocol.SCTP),
                Set.of(TcpState.ESTABLISHED, TcpState.SYN_SENT), Set.of(0, 65535), 0x10, 0xf0), c.filter());
        assertFalse(c.ignoreOwnAddresses());
        assertEquals("eth2", c.syncInterface());
        assertEquals(List.of(ip("192.0.2.1"), ip("2001:db8::1")), c.vips());
    }

    @Test
    void kafkaClientKeysArePassedThroughWithoutThePrefix() {
        AgentConfig c = parse("""
                kafka.client.security.protocol=SSL
                kafka.client.ssl.truststore.location=/etc/zaro/truststore.p12
                kafka.client.acks = all\\u0020\\u0020
                kafka.topic.prefix=lab
                """);
        Properties expected = new Properties();
        expected.setProperty("bootstrap.servers", "192.0.2.10:9092");
        expected.setProperty("security.protocol", "SSL");
        expected.setProperty("ssl.truststore.location", "/etc/zaro/truststore.p12");
        expected.setProperty("acks", "all");
        assertEquals(expected, c.kafka(), "only bootstrap.servers and kafka.client.* reach the client, trimmed");
    }

    @Test
    void vrrpRoleNeedsItsVirtualRouterAndAddsTheVipsToTheFilter() {
        AgentConfig c = parse("role=vrrp\nvrrp.interface=eth0\nvrrp.vrid=51\nvrrp.priority=150\n"
                + "vrrp.vips=10.1.0.254/24,10.2.0.254/24@eth1\n");
        assertEquals(Role.VRRP, c.role());
        assertEquals(51, c.vrrp().virtualRouterId());
        assertEquals(150, c.vrrp().priority());
        assertEquals(100, c.vrrp().intervalCentis());
        assertEquals("eth0", c.vrrp().vips().get(0).interfaceName());
        assertEquals("eth1", c.vrrp().vips().get(1).interfaceName());
        assertEquals("10.2.0.254/24", c.vrrp().vips().get(1).cidr());
        assertEquals(2, c.vips().size(), "the VIPs are never counted among the node's own addresses");
        ConfigException missing = assertThrows(ConfigException.class, () -> parse("role=vrrp\nvrrp.interface=eth0\n"
                + "vrrp.vips=10.1.0.254/24\n"));
        assertEquals("vrrp.vrid", missing.key());
        ConfigException bad = assertThrows(ConfigException.class, () -> parse("role=vrrp\nvrrp.interface=eth0\n"
                + "vrrp.vrid=1\nvrrp.vips=2001:db8::1/129\n"));
        assertEquals("vrrp.vips", bad.key());
        ConfigException owner = assertThrows(ConfigException.class, () -> parse("role=vrrp\nvrrp.interface=eth0\n"
                + "vrrp.vrid=1\nvrrp.priority=255\nvrrp.vips=10.1.0.254/24\n"));
        assertEquals("vrrp.priority", owner.key(), "255 is the address owner's: a firewall pair has none");
    }

    @Test
    void aVirtualRouterSpeaksTheFamilyOfItsFirstVipAndCarriesOnlyThatFamilysVips() {
        AgentConfig v6 = parse("role=vrrp\nvrrp.interface=eth0\nvrrp.vrid=51\n"
                + "vrrp.vips=2001:db8:1::fe/64,10.1.0.254/24,2001:db8:2::fe/64@eth1\n");
        assertTrue(v6.vrrp().ipv6());
        assertEquals(List.of(Cidr.literalAddress("2001:db8:1::fe"), Cidr.literalAddress("2001:db8:2::fe")),
                v6.vrrp().advertised(), "the IPv4 VIP moves with them, unadvertised");
        assertEquals("2001:db8:2:0:0:0:0:fe/64", v6.vrrp().vips().get(2).cidr());
        assertEquals(3, v6.vips().size());
        AgentConfig v4 = parse("role=vrrp\nvrrp.interface=eth0\nvrrp.vrid=51\nvrrp.vips=10.1.0.254/24,2001:db8:1::fe/64\n");
        assertFalse(v4.vrrp().ipv6());
        assertEquals(List.of(Cidr.literalAddress("10.1.0.254")), v4.vrrp().advertised());
    }

    @Test
    void unicastPeersChooseTheFamilyAndMustShareIt() {
        AgentConfig c = parse("role=vrrp\nvrrp.interface=eth0\nvrrp.vrid=51\nvrrp.vips=10.1.0.254/24,2001:db8::fe/64\n"
                + "vrrp.unicast.peers=fe80::2\n");
        assertTrue(c.vrrp().ipv6(), "the peers are IPv6");
        assertEquals(List.of(Cidr.literalAddress("fe80::2")), c.vrrp().unicastPeers());
        assertEquals(List.of(), parse("role=vrrp\nvrrp.interface=eth0\nvrrp.vrid=51\nvrrp.vips=10.1.0.254/24\n")
                .vrrp().unicastPeers(), "multicast by default");
        ConfigException mixed = assertThrows(ConfigException.class, () -> parse("role=vrrp\nvrrp.interface=eth0\n"
                + "vrrp.vrid=1\nvrrp.vips=10.1.0.254/24\nvrrp.unicast.peers=10.1.0.2,fe80::2\n"));
        assertEquals("vrrp.unicast.peers", mixed.key());
        ConfigException none = assertThrows(ConfigException.class, () -> parse("role=vrrp\nvrrp.interface=eth0\n"
                + "vrrp.vrid=1\nvrrp.vips=10.1.0.254/24\nvrrp.unicast.peers=fe80::2\n"));
        assertEquals("vrrp.vips", none.key(), none.getMessage());
        ConfigException name = assertThrows(ConfigException.class, () -> parse("role=vrrp\nvrrp.interface=eth0\n"
                + "vrrp.vrid=1\nvrrp.vips=10.1.0.254/24\nvrrp.unicast.peers=fw2.example\n"));
        assertEquals("vrrp.unicast.peers", name.key(), "addresses, never names to look up");
    }

    @Test
    void trackScriptsAreNamedCommandsWithSharedTiming() {
        AgentConfig c = parse("role=vrrp\nvrrp.interface=eth0\nvrrp.vrid=51\nvrrp.vips=10.1.0.254/24\n"
                + "vrrp.track.script.uplink=/usr/local/bin/check-uplink  eth1 8.8.8.8\n"
                + "vrrp.track.script.kafka=/bin/true\nvrrp.track.fall=3\nvrrp.track.interval.seconds=5\n");
        TrackScripts.Settings s = c.vrrp().scripts();
        assertEquals(List.of(new TrackScripts.Script("kafka", List.of("/bin/true")),
                new TrackScripts.Script("uplink", List.of("/usr/local/bin/check-uplink", "eth1", "8.8.8.8"))), s.scripts());
        assertEquals(3, s.fall());
        assertEquals(2, s.rise());
        assertEquals(Duration.ofSeconds(5), s.interval());
        assertEquals(Duration.ofSeconds(2), s.timeout());
        ConfigException badName = assertThrows(ConfigException.class, () -> parse("role=vrrp\nvrrp.interface=eth0\n"
                + "vrrp.vrid=1\nvrrp.vips=10.1.0.254/24\nvrrp.track.script.up.link=/bin/true\n"));
        assertEquals("vrrp.track.script.up.link", badName.key());
        ConfigException empty = assertThrows(ConfigException.class, () -> parse("role=vrrp\nvrrp.interface=eth0\n"
                + "vrrp.vrid=1\nvrrp.vips=10.1.0.254/24\nvrrp.track.script.x= \n"));
        assertEquals("vrrp.track.script.x", empty.key());
        ConfigException fall = assertThrows(ConfigException.class, () -> parse("role=vrrp\nvrrp.interface=eth0\n"
                + "vrrp.vrid=1\nvrrp.vips=10.1.0.254/24\nvrrp.track.fall=0\n"));
        assertEquals("vrrp.track.fall", fall.key());
    }

    @Test
    void kafkaPropertiesCannotBeChangedFromOutside() {
        Properties given = new Properties();
        given.setProperty("bootstrap.servers", "192.0.2.10:9092");
        AgentConfig c = new AgentConfig("fw1", Role.ACTIVE, given, "zaro", 6, (short) 1, 4096, 16,
                Duration.ofSeconds(30), Duration.ofSeconds(90), FlowFilter.all(), true, null, List.of(), null, null, Path.of("/run/zaro/control.sock"),
                null, null);
        given.setProperty("acks", "0");
        c.kafka().setProperty("acks", "1");
        assertNull(c.kafka().getProperty("acks"));
    }

    // ------------------------------------------------------------------ the filter

    static final ConntrackEntry TCP = ConntrackEntry.builder(
                    Tuple.ofPorts(ip("10.20.1.2"), ip("10.30.2.2"), IpProtocol.TCP, 40000, 443))
            .tcp(TcpInfo.of(TcpState.ESTABLISHED)).timeout(432000).build();
    static final ConntrackEntry TCP_SYN = TCP.toBuilder().tcp(TcpInfo.of(TcpState.SYN_SENT)).timeout(120).build();
    static final ConntrackEntry UDP_V6 = ConntrackEntry.builder(
            Tuple.ofPorts(ip("fd00:20::2"), ip("fd00:30::53"), IpProtocol.UDP, 5353, 53)).timeout(30).build();
    static final ConntrackEntry UDP_SYNC_LINK = ConntrackEntry.builder(
            Tuple.ofPorts(ip("fd00:ffff::1"), ip("fd00:ffff::2"), IpProtocol.UDP, 3780, 3780)).timeout(30).build();
    static final ConntrackEntry PING = ConntrackEntry.builder(
            Tuple.ofIcmp(ip("10.20.1.2"), ip("10.30.2.2"), IpProtocol.ICMP, 8, 0, 77)).timeout(30).build();

    static Stream<Arguments> filters() {
        return Stream.of(
                Arguments.of("", TCP, true),
                Arguments.of("", UDP_V6, true),
                Arguments.of("filter.ignore.networks=10.30.2.0/24", TCP, false),
                Arguments.of("filter.ignore.networks=10.20.0.0/16", TCP, false),
                Arguments.of("filter.ignore.networks=10.99.0.0/16, fd00:ffff::/64", TCP, true),
                Arguments.of("filter.ignore.networks=10.99.0.0/16, fd00:ffff::/64", UDP_SYNC_LINK, false),
                Arguments.of("filter.ignore.networks=10.99.0.0/16, fd00:ffff::/64", UDP_V6, true),
                Arguments.of("filter.ignore.networks=10.30.2.2", TCP, false),
                Arguments.of("filter.accept.networks=10.30.0.0/16", TCP, true),
                Arguments.of("filter.accept.networks=192.168.0.0/16", TCP, false),
                Arguments.of("filter.accept.networks=0.0.0.0/0", UDP_V6, false),
                Arguments.of("filter.accept.networks=0.0.0.0/0, ::/0", UDP_V6, true),
                Arguments.of("filter.accept.networks=10.0.0.0/8\nfilter.ignore.networks=10.20.1.0/24", TCP, false),
                Arguments.of("filter.protocols=udp, icmp", TCP, false),
                Arguments.of("filter.protocols=udp, icmp", PING, true),
                Arguments.of("filter.protocols=UDP", UDP_V6, true),
                Arguments.of("filter.protocols=6", TCP, true),
                Arguments.of("filter.tcp.states=established", TCP, true),
                Arguments.of("filter.tcp.states=established", TCP_SYN, false),
                Arguments.of("filter.tcp.states=ESTABLISHED,syn_sent", TCP_SYN, true),
                Arguments.of("filter.tcp.states=established", UDP_V6, true),
                Arguments.of("filter.zones=3, 7", TCP, false),
                Arguments.of("filter.zones=3, 7", TCP.toBuilder().zone(7).build(), true),
                Arguments.of("filter.zones=0", TCP, true),
                Arguments.of("filter.mark=0x10\nfilter.mark.mask=0xf0", TCP.toBuilder().mark(0x1f).build(), true),
                Arguments.of("filter.mark=0x10\nfilter.mark.mask=0xf0", TCP.toBuilder().mark(0x20).build(), false),
                Arguments.of("filter.mark=16\nfilter.mark.mask=240", TCP.toBuilder().mark(0x10).build(), true),
                Arguments.of("filter.mark=16\nfilter.mark.mask=240", TCP, false),
                Arguments.of("filter.mark=0\nfilter.mark.mask=0xffffffff", TCP.toBuilder().mark(0xffffffffL).build(), false),
                Arguments.of("filter.mark=0\nfilter.mark.mask=0", TCP.toBuilder().mark(0xffffffffL).build(), true));
    }

    @ParameterizedTest(name = "[{0}] {1} -> {2}")
    @MethodSource("filters")
    void filterKeysDecideWhichFlowsAreMirrored(String lines, ConntrackEntry flow, boolean mirrored) {
        assertEquals(mirrored, parse(lines).filter().accepts(flow));
    }

    // ------------------------------------------------------------------ bad files

    static Stream<Arguments> badFiles() {
        return Stream.of(
                // unknown keys: typos, and Kafka client settings without their prefix
                Arguments.of("filter.protocol=tcp", "filter.protocol", "unknown key"),
                Arguments.of("nodeid=fw1", "nodeid", "unknown key"),
                Arguments.of("vip=192.0.2.1", "vip", "unknown key"),
                Arguments.of("Role=active", "Role", "unknown key"),
                Arguments.of("security.protocol=SSL", "security.protocol", "kafka.client."),
                // required keys left blank
                Arguments.of("node.id=", "node.id", "missing"),
                Arguments.of("role=  ", "role", "missing"),
                Arguments.of("kafka.bootstrap.servers=", "kafka.bootstrap.servers", "missing"),
                // role
                Arguments.of("role=master", "role", "'master'"),
                Arguments.of("role=backup", "role", "active, standby, vrrp or keepalived"),
                // node id
                Arguments.of("node.id=fw 1", "node.id", "'fw 1'"),
                Arguments.of("node.id=fw/1", "node.id", "'fw/1'"),
                Arguments.of("node.id=" + "n".repeat(65), "node.id", "1-64"),
                Arguments.of("node.id=pare-feu-\u00e9t\u00e9", "node.id", "letters"),
                // bootstrap servers
                Arguments.of("kafka.bootstrap.servers=localhost", "kafka.bootstrap.servers", "'localhost'"),
                Arguments.of("kafka.bootstrap.servers=localhost:", "kafka.bootstrap.servers", "host:port"),
                Arguments.of("kafka.bootstrap.servers=:9092", "kafka.bootstrap.servers", "host:port"),
                Arguments.of("kafka.bootstrap.servers=kafka1:9092, kafka2:9092", "kafka.bootstrap.servers", "host:port"),
                Arguments.of("kafka.bootstrap.servers=kafka1:9092,,kafka2:9092", "kafka.bootstrap.servers", "host:port"),
                Arguments.of("kafka.bootstrap.servers=kafka1:9092,", "kafka.bootstrap.servers", "host:port"),
                Arguments.of("kafka.bootstrap.servers=kafka1:123456", "kafka.bootstrap.servers", "host:port"),
                Arguments.of("kafka.bootstrap.servers=kafka1:http", "kafka.bootstrap.servers", "host:port"),
                // topic prefix
                Arguments.of("kafka.topic.prefix=zaro/lab", "kafka.topic.prefix", "'zaro/lab'"),
                // numbers out of range or not numbers
                Arguments.of("kafka.topic.partitions=0", "kafka.topic.partitions", "1 to 10000"),
                Arguments.of("kafka.topic.partitions=10001", "kafka.topic.partitions", "1 to 10000"),
                Arguments.of("kafka.topic.partitions=-1", "kafka.topic.partitions", "'-1'"),
                Arguments.of("kafka.topic.partitions=six", "kafka.topic.partitions", "'six'"),
                Arguments.of("kafka.topic.partitions=1.5", "kafka.topic.partitions", "'1.5'"),
                Arguments.of("kafka.topic.partitions=2147483648", "kafka.topic.partitions", "whole number"),
                Arguments.of("kafka.topic.replication.factor=0", "kafka.topic.replication.factor", "1 to 32"),
                Arguments.of("kafka.topic.replication.factor=33", "kafka.topic.replication.factor", "1 to 32"),
                Arguments.of("capture.receive.buffer.bytes=4095", "capture.receive.buffer.bytes", "4096"),
                Arguments.of("capture.receive.buffer.bytes=64M", "capture.receive.buffer.bytes", "'64M'"),
                Arguments.of("capture.queue.capacity=15", "capture.queue.capacity", "16 to"),
                Arguments.of("capture.queue.capacity=16777217", "capture.queue.capacity", "16777216"),
                Arguments.of("mirror.refresh.interval.seconds=1", "mirror.refresh.interval.seconds", "2 to 86400"),
                Arguments.of("mirror.refresh.interval.seconds=86401", "mirror.refresh.interval.seconds", "2 to 86400"),
                Arguments.of("mirror.timeout.grace.seconds=0", "mirror.timeout.grace.seconds", "1 to 864000"),
                Arguments.of("mirror.timeout.grace.seconds=864001", "mirror.timeout.grace.seconds", "1 to 864000"),
                // grace must exceed twice the refresh interval
                Arguments.of("mirror.timeout.grace.seconds=60", "mirror.timeout.grace.seconds", "at least 61"),
                Arguments.of("mirror.refresh.interval.seconds=45", "mirror.timeout.grace.seconds", "at least 91"),
                Arguments.of("mirror.refresh.interval.seconds=10\nmirror.timeout.grace.seconds=20",
                        "mirror.timeout.grace.seconds", "mirror.refresh.interval.seconds"),
                // networks
                Arguments.of("filter.ignore.networks=10.0.0.0/33", "filter.ignore.networks", "'10.0.0.0/33'"),
                Arguments.of("filter.ignore.networks=fd00::/129", "filter.ignore.networks", "'fd00::/129'"),
                Arguments.of("filter.ignore.networks=10.0.0.0/x", "filter.ignore.networks", "'10.0.0.0/x'"),
                Arguments.of("filter.ignore.networks=10.0.0.0/8/8", "filter.ignore.networks", "'10.0.0.0/8/8'"),
                Arguments.of("filter.ignore.networks=lan.example", "filter.ignore.networks", "'lan.example'"),
                Arguments.of("filter.ignore.networks=10.0.0.0/8, 172.16.0.0-172.31.255.255", "filter.ignore.networks",
                        "'172.16.0.0-172.31.255.255'"),
                Arguments.of("filter.accept.networks=fd00::1::/64", "filter.accept.networks", "'fd00::1::/64'"),
                // host bits set
                Arguments.of("filter.ignore.networks=10.1.2.3/8", "filter.ignore.networks", "'10.1.2.3/8'"),
                Arguments.of("filter.accept.networks=2001:db8::1/32", "filter.accept.networks", "'2001:db8::1/32'"),
                // marks
                Arguments.of("filter.mark=0x10", "filter.mark", "filter.mark.mask (0x0)"),
                Arguments.of("filter.mark=0x1f\nfilter.mark.mask=0xf0", "filter.mark", "filter.mark.mask (0xf0)"),
                Arguments.of("filter.mark=0x100000000\nfilter.mark.mask=0xffffffff", "filter.mark", "32-bit"),
                Arguments.of("filter.mark.mask=-1", "filter.mark.mask", "'-1'"),
                Arguments.of("filter.mark.mask=0xzz", "filter.mark.mask", "'0xzz'"),
                Arguments.of("filter.mark.mask=0x", "filter.mark.mask", "hexadecimal"),
                // protocols, TCP states, zones
                Arguments.of("filter.protocols=tcp, ipv4", "filter.protocols", "'ipv4'"),
                Arguments.of("filter.protocols=256", "filter.protocols", "'256'"),
                Arguments.of("filter.tcp.states=established, syn-sent", "filter.tcp.states", "'syn-sent'"),
                Arguments.of("filter.tcp.states=open", "filter.tcp.states", "'open'"),
                Arguments.of("filter.zones=65536", "filter.zones", "'65536'"),
                Arguments.of("filter.zones=-1", "filter.zones", "'-1'"),
                Arguments.of("filter.zones=0, zone1", "filter.zones", "'zone1'"),
                // VIPs. Only inputs refused before any name lookup: 'cafe', 'dead.beef' or '10.0.0.256' would reach
                // InetAddress.getByName as host names (a DNS query), and be accepted if they resolve.
                Arguments.of("vips=vip.example.com", "vips", "'vip.example.com'"),
                Arguments.of("vips=192.0.2.1/32", "vips", "'192.0.2.1/32'"),
                Arguments.of("vips=192.0.2.1:80", "vips", "'192.0.2.1:80'"),
                Arguments.of("vips=192.0.2.1, fd00::1::2", "vips", "'fd00::1::2'"),
                // the rest
                Arguments.of("filter.ignore.own.addresses=maybe", "filter.ignore.own.addresses", "true or false"),
                Arguments.of("filter.sync.interface=eth 2", "filter.sync.interface", "'eth 2'"),
                Arguments.of("filter.sync.interface=a-name-over-15-chars", "filter.sync.interface", "interface name"));
    }

    @ParameterizedTest(name = "[{0}] -> {1}")
    @MethodSource("badFiles")
    void badInputIsOneSentenceNamingTheKey(String lines, String key, String saying) {
        ConfigException e = assertThrows(ConfigException.class, () -> parse(lines + "\n"));
        assertOneSentenceNaming(key, e);
        assertTrue(e.getMessage().contains(saying), "expected '" + saying + "' in: " + e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"node.id", "role", "kafka.bootstrap.servers"})
    void missingRequiredKeyIsNamed(String key) {
        Properties p = file("");
        p.remove(key);
        ConfigException e = assertThrows(ConfigException.class, () -> AgentConfig.parse(p));
        assertOneSentenceNaming(key, e);
        assertTrue(e.getMessage().contains("missing"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"kafka1:99999", "kafka1:65536", "kafka1:0", "kafka1:9092,kafka2:70000"})
    void bootstrapPortAbove65535IsRefused(String servers) {
        ConfigException e = assertThrows(ConfigException.class, () -> parse("kafka.bootstrap.servers=" + servers + "\n"));
        assertOneSentenceNaming("kafka.bootstrap.servers", e);
    }

    /** A VIP or network is a literal address, never a name to look up (found in review: 'cafe' was resolved). */
    @ParameterizedTest
    @ValueSource(strings = {"cafe", "dead.beef", "10.0.0.256", "10.1", "1.2.3"})
    void addressesAreLiteralsNeverNames(String text) {
        ConfigException vip = assertThrows(ConfigException.class, () -> parse("vips=" + text + "\n"));
        assertOneSentenceNaming("vips", vip);
        ConfigException net = assertThrows(ConfigException.class, () -> parse("filter.ignore.networks=" + text + "/32\n"));
        assertOneSentenceNaming("filter.ignore.networks", net);
    }

    // ------------------------------------------------------------------ files

    @Test
    void missingFileIsNamed(@TempDir Path dir) {
        Path missing = dir.resolve("zaro.properties");
        ConfigException e = assertThrows(ConfigException.class, () -> AgentConfig.load(missing));
        assertNull(e.key());
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void loadsAFile(@TempDir Path dir) throws IOException {
        Path f = Files.writeString(dir.resolve("zaro.properties"),
                "# zaro\n" + MINIMAL + "kafka.client.security.protocol=SSL\nvips=192.0.2.1\n");
        AgentConfig c = AgentConfig.load(f);
        assertEquals("fw1", c.nodeId());
        assertEquals("SSL", c.kafka().getProperty("security.protocol"));
        assertEquals(List.of(ip("192.0.2.1")), c.vips());
    }

    @Test
    void unreadableFileIsNamed(@TempDir Path dir) throws IOException {
        Path badEscape = Files.writeString(dir.resolve("escape.properties"), MINIMAL + "vips=\\uZZZZ\n");
        Path badUtf8 = dir.resolve("latin1.properties");
        Files.write(badUtf8, (MINIMAL + "node.id=pare-feu-\u00e9t\u00e9\n").getBytes(StandardCharsets.ISO_8859_1));
        for (Path f : List.of(badEscape, badUtf8)) {
            ConfigException e = assertThrows(ConfigException.class, () -> AgentConfig.load(f), f.toString());
            assertNull(e.key());
            assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
            assertTrue(e.getMessage().startsWith("cannot read config file"), e.getMessage());
        }
    }

    @Test
    void badKeyInAFileIsNamed(@TempDir Path dir) throws IOException {
        Path f = Files.writeString(dir.resolve("zaro.properties"), MINIMAL + "filter.protocol=tcp\n");
        assertOneSentenceNaming("filter.protocol", assertThrows(ConfigException.class, () -> AgentConfig.load(f)));
    }
}

package io.zaro.agent.config;

import io.zaro.agent.vrrp.TrackScripts;
import io.zaro.conntrack.EventOptions;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.filter.Cidr;
import io.zaro.conntrack.filter.FlowFilter;
import java.io.IOException;
import java.io.Reader;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * The agent's settings, read from a Java properties file ({@code /etc/zaro/zaro.properties}).
 * Every key is checked when the file is read: an unknown key (a typo), a missing required key or
 * a bad value is a {@link ConfigException} naming the key and the fix. The keys, their defaults
 * and their meaning are listed in {@link #KEYS} and in the README.
 *
 * @param nodeId this node's name in every record it publishes
 * @param role what the node does with the table: publish it, or mirror the active's
 * @param kafka client properties: bootstrap.servers and every {@code kafka.client.*} key, passed through
 * @param topicPrefix the topics are PREFIX.state and PREFIX.events
 * @param partitions partitions of topics zaro creates
 * @param replicationFactor replication factor of topics zaro creates
 * @param receiveBufferBytes the event socket's receive buffer
 * @param queueCapacity events held between the netlink reader and the producer
 * @param refreshInterval how often the active re-reads its table to refresh the standby's timeouts
 * @param timeoutGrace what the standby adds to each mirrored entry's timeout
 * @param filter which flows are mirrored (before the node's own addresses are added)
 * @param ignoreOwnAddresses whether flows to and from this node's own addresses are left out
 * @param syncInterface the sync link's interface, whose networks are left out; null for none
 * @param vips floating addresses: never counted among the node's own addresses
 * @param metricsListen where the Prometheus endpoint listens; null for none
 * @param authKeyFile the keys that sign and verify records; null: records are neither signed nor verified
 */
public record AgentConfig(String nodeId, Role role, Properties kafka, String topicPrefix, int partitions,
                          short replicationFactor, int receiveBufferBytes, int queueCapacity, Duration refreshInterval,
                          Duration timeoutGrace, FlowFilter filter, boolean ignoreOwnAddresses, String syncInterface,
                          List<InetAddress> vips, Vrrp vrrp, Keepalived keepalived, java.nio.file.Path controlSocket,
                          java.net.InetSocketAddress metricsListen, java.nio.file.Path authKeyFile) {

    /**
     * What a node does: the active publishes its table, a standby injects the active's; with
     * VRRP, the node is whichever its virtual router's state says (MASTER: active).
     */
    public enum Role { ACTIVE, STANDBY, VRRP, KEEPALIVED }

    /** keepalived mode: the notify FIFO and the instance (or sync group) whose state the node follows. */
    public record Keepalived(java.nio.file.Path fifo, String instance) {
    }

    /**
     * The virtual router of a node with {@code role=vrrp}. It speaks the family of its first VIP
     * (or of its unicast peers); its advertisements carry the VIPs of that family, and the others
     * move with them.
     *
     * @param vips floating addresses with prefix length and interface, moved together
     * @param unicastPeers the peers to advertise to; empty for multicast
     */
    public record Vrrp(String interfaceName, int virtualRouterId, int priority, int intervalCentis, boolean preempt,
                       List<Vip> vips, List<InetAddress> unicastPeers, List<String> trackedInterfaces,
                       TrackScripts.Settings scripts, Duration announceRepeat) {
        public Vrrp {
            vips = List.copyOf(vips);
            unicastPeers = List.copyOf(unicastPeers);
            trackedInterfaces = List.copyOf(trackedInterfaces);
        }

        public boolean ipv6() {
            return (unicastPeers.isEmpty() ? vips.get(0).address() : unicastPeers.get(0)) instanceof java.net.Inet6Address;
        }

        /** The VIPs the advertisements carry: those of the router's family. */
        public List<InetAddress> advertised() {
            return vips.stream().map(Vip::address).filter(a -> a instanceof java.net.Inet6Address == ipv6()).toList();
        }
    }

    /** A floating address: {@code address/prefixLength} on {@code interfaceName}. */
    public record Vip(InetAddress address, int prefixLength, String interfaceName) {
        public String cidr() {
            return address.getHostAddress() + "/" + prefixLength;
        }
    }

    public static final String KAFKA_CLIENT_PREFIX = "kafka.client.";
    /** {@code vrrp.track.script.NAME=COMMAND}: a health check, as keepalived's vrrp_script. */
    public static final String TRACK_SCRIPT_PREFIX = "vrrp.track.script.";

    /** Every key with its default ("" for none, null for required) and what it means. */
    public static final List<Key> KEYS = List.of(
            new Key("node.id", null, "this node's name in records: 1-64 letters, digits, '.', '_' or '-'"),
            new Key("role", null, "active (publishes its conntrack table) or standby (mirrors the active's)"),
            new Key("kafka.bootstrap.servers", null, "host:port[,host:port...] of the Kafka cluster"),
            new Key("kafka.topic.prefix", "zaro", "topics are PREFIX.state (compacted) and PREFIX.events (audit)"),
            new Key("kafka.topic.partitions", "6", "partitions of the topics zaro creates"),
            new Key("kafka.topic.replication.factor", "1",
                    "replication factor of the topics zaro creates (3 in production, which also sets min.insync.replicas=2)"),
            new Key("capture.receive.buffer.bytes", Integer.toString(EventOptions.DEFAULT_RECEIVE_BUFFER_BYTES),
                    "netlink event socket buffer; a burst beyond it is lost by the kernel and resynchronised"),
            new Key("capture.queue.capacity", "65536", "events held between the netlink reader and the Kafka producer"),
            new Key("mirror.refresh.interval.seconds", "30",
                    "how often the active re-reads its table to keep the standby's timeouts ahead of the flows"),
            new Key("mirror.timeout.grace.seconds", "90",
                    "seconds the standby adds to each mirrored timeout; must exceed twice the refresh interval"),
            new Key("filter.accept.networks", "", "if set, only flows from or to these networks (CIDR, comma-separated)"),
            new Key("filter.ignore.networks", "", "flows from or to these networks are not mirrored (CIDR, comma-separated)"),
            new Key("filter.ignore.own.addresses", "true", "leave out flows from or to this node's own addresses (not the VIPs)"),
            new Key("filter.sync.interface", "", "the sync link's interface: flows within its networks are not mirrored"),
            new Key("filter.protocols", "", "if set, only these protocols (tcp, udp, icmp, icmpv6, sctp, ... or numbers)"),
            new Key("filter.tcp.states", "", "if set, only TCP flows in these states (e.g. established,syn_sent)"),
            new Key("filter.zones", "", "if set, only flows in these conntrack zones"),
            new Key("filter.mark", "0", "with filter.mark.mask: only flows whose mark & mask equals this"),
            new Key("filter.mark.mask", "0", "mask for filter.mark; 0 turns the mark filter off"),
            new Key("vips", "", "the floating addresses (comma-separated): never counted among this node's own, so their flows are mirrored"),
            new Key("vrrp.interface", "", "with role=vrrp: the interface VRRP advertisements go over"),
            new Key("vrrp.vrid", "", "with role=vrrp: the virtual router id, 1-255, the same on both nodes"),
            new Key("vrrp.priority", "100", "with role=vrrp: this node's priority, 1-254 (the higher is master)"),
            new Key("vrrp.interval.centiseconds", "100", "with role=vrrp: the advertisement interval, 1-4095 centiseconds"),
            new Key("vrrp.preempt", "true", "with role=vrrp: whether a higher priority takes over from a running master"),
            new Key("vrrp.vips", "", "with role=vrrp: ADDRESS/LEN[@INTERFACE],... the VIPs the master holds, IPv4 or IPv6; "
                    + "VRRP speaks the family of the first"),
            new Key("vrrp.unicast.peers", "", "with role=vrrp: the peers' addresses, to advertise to them alone instead of "
                    + "multicast (as keepalived's unicast_peer); only their advertisements are accepted"),
            new Key("vrrp.track.interfaces", "", "with role=vrrp: interfaces that must be up (besides vrrp.interface); "
                    + "while one is down the node is in FAULT and yields the VIPs"),
            new Key("vrrp.track.interval.seconds", "1", "with role=vrrp: how often each vrrp.track.script.NAME runs"),
            new Key("vrrp.track.timeout.seconds", "2", "with role=vrrp: a track script that runs longer has failed"),
            new Key("vrrp.track.fall", "2", "with role=vrrp: failures in a row that put the node in FAULT"),
            new Key("vrrp.track.rise", "2", "with role=vrrp: successes in a row that end the FAULT"),
            new Key("vrrp.announce.repeat.seconds", "5", "with role=vrrp: the VIPs are announced again this long after "
                    + "the takeover (0: once only)"),
            new Key("keepalived.fifo", "/run/zaro/keepalived.fifo", "with role=keepalived: keepalived's notify_fifo"),
            new Key("auth.key.file", "", "the file of keys that sign and verify records (zaro keygen); empty: "
                    + "records are neither signed nor verified"),
            new Key("control.socket", "/run/zaro/control.sock", "the agent's control socket (zaro handover talks to it)"),
            new Key("metrics.listen", "127.0.0.1:9740", "ADDRESS:PORT of the Prometheus metrics endpoint (/metrics); "
                    + "off for none"),
            new Key("keepalived.instance", "", "with role=keepalived: the vrrp_instance (or sync group) to follow"));

    /** A configuration key. */
    public record Key(String name, String defaultValue, String meaning) {
    }

    public AgentConfig {
        kafka = copy(kafka);
        vips = List.copyOf(vips);
    }

    private static Properties copy(Properties p) {
        Properties c = new Properties();
        c.putAll(p);
        return c;
    }

    @Override
    public Properties kafka() {
        return copy(kafka);
    }

    /** Reads and checks a properties file. */
    public static AgentConfig load(Path file) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (NoSuchFileException e) {
            throw new ConfigException(null, "config file " + file + " does not exist: create it (see the README's "
                    + "configuration section) or pass --config");
        } catch (IOException | IllegalArgumentException e) {
            throw new ConfigException(null, "cannot read config file " + file + ": " + e.getMessage());
        }
        return parse(p);
    }

    /** Checks properties as read from a file. */
    public static AgentConfig parse(Properties p) {
        Set<String> known = new TreeSet<>();
        KEYS.forEach(k -> known.add(k.name()));
        for (String name : p.stringPropertyNames()) {
            if (!known.contains(name) && !name.startsWith(KAFKA_CLIENT_PREFIX) && !name.startsWith(TRACK_SCRIPT_PREFIX)) {
                throw new ConfigException(name, "unknown key '" + name + "': check its spelling against the README's "
                        + "configuration section (Kafka client settings go under " + KAFKA_CLIENT_PREFIX + ")");
            }
        }
        Values v = new Values(p);
        String nodeId = v.get("node.id");
        if (!nodeId.matches("[A-Za-z0-9._-]{1,64}")) {
            throw v.bad("node.id", "1-64 letters, digits, '.', '_' or '-'");
        }
        Role role = switch (v.get("role").toLowerCase(Locale.ROOT)) {
            case "active" -> Role.ACTIVE;
            case "standby" -> Role.STANDBY;
            case "vrrp" -> Role.VRRP;
            case "keepalived" -> Role.KEEPALIVED;
            default -> throw v.bad("role", "active, standby, vrrp or keepalived");
        };
        Properties kafka = new Properties();
        for (String name : p.stringPropertyNames()) {
            if (name.startsWith(KAFKA_CLIENT_PREFIX)) {
                kafka.put(name.substring(KAFKA_CLIENT_PREFIX.length()), p.getProperty(name).trim());
            }
        }
        String servers = v.get("kafka.bootstrap.servers");
        if (!servers.matches("[^,\\s]+:\\d{1,5}(,[^,\\s]+:\\d{1,5})*")
                || java.util.Arrays.stream(servers.split(",")).mapToInt(hp -> Integer.parseInt(hp.substring(hp.lastIndexOf(':') + 1)))
                        .anyMatch(port -> port < 1 || port > 65535)) {
            throw v.bad("kafka.bootstrap.servers", "host:port with ports 1-65535, comma-separated");
        }
        kafka.put("bootstrap.servers", servers);
        String prefix = v.get("kafka.topic.prefix");
        if (!prefix.matches("[A-Za-z0-9._-]{1,200}")) {
            throw v.bad("kafka.topic.prefix", "letters, digits, '.', '_' or '-'");
        }
        int partitions = v.integer("kafka.topic.partitions", 1, 10_000);
        short replication = (short) v.integer("kafka.topic.replication.factor", 1, 32);
        int buffer = v.integer("capture.receive.buffer.bytes", EventOptions.MIN_RECEIVE_BUFFER_BYTES, Integer.MAX_VALUE / 2);
        int queue = v.integer("capture.queue.capacity", 16, 16 * 1024 * 1024);
        int refresh = v.integer("mirror.refresh.interval.seconds", 2, 86_400);
        int grace = v.integer("mirror.timeout.grace.seconds", 1, 864_000);
        if (grace <= 2 * refresh) {
            throw new ConfigException("mirror.timeout.grace.seconds", "mirror.timeout.grace.seconds is " + grace
                    + " but must exceed twice mirror.refresh.interval.seconds (" + refresh + "): raise it to at least "
                    + (2 * refresh + 1) + ", or refresh more often");
        }
        long markMask = v.unsigned32("filter.mark.mask");
        long mark = v.unsigned32("filter.mark");
        if ((mark & ~markMask) != 0) {
            throw v.bad("filter.mark", "a value without bits outside filter.mark.mask (0x" + Long.toHexString(markMask) + ")");
        }
        FlowFilter filter = new FlowFilter(
                v.list("filter.accept.networks", Cidr::parse, "networks such as 10.0.0.0/8 or 2001:db8::/32"),
                v.list("filter.ignore.networks", Cidr::parse, "networks such as 10.0.0.0/8 or 2001:db8::/32"),
                new LinkedHashSet<>(v.list("filter.protocols", IpProtocol::parse, "protocol names or numbers such as tcp, udp, 132")),
                new LinkedHashSet<>(v.list("filter.tcp.states", s -> TcpState.valueOf(s.toUpperCase(Locale.ROOT)),
                        "TCP states such as established, syn_sent, time_wait")),
                new LinkedHashSet<>(v.list("filter.zones", s -> {
                    int z = Integer.parseInt(s);
                    if (z < 0 || z > 0xffff) {
                        throw new IllegalArgumentException();
                    }
                    return z;
                }, "zones 0..65535")),
                mark, markMask);
        boolean ignoreOwn = switch (v.get("filter.ignore.own.addresses").toLowerCase(Locale.ROOT)) {
            case "true", "yes" -> true;
            case "false", "no" -> false;
            default -> throw v.bad("filter.ignore.own.addresses", "true or false");
        };
        String sync = v.get("filter.sync.interface");
        if (!sync.isEmpty() && !isInterfaceName(sync)) {
            throw v.bad("filter.sync.interface", "an interface name such as eth2");
        }
        List<InetAddress> vips = new java.util.ArrayList<>(v.list("vips", Cidr::literalAddress, "IP addresses such as 192.0.2.1"));
        Vrrp vrrp = null;
        if (role == Role.VRRP) {
            vrrp = vrrp(v);
            vrrp.vips().forEach(vip -> {
                if (!vips.contains(vip.address())) {
                    vips.add(vip.address());
                }
            });
        }
        Keepalived keepalived = null;
        if (role == Role.KEEPALIVED) {
            String name = v.required("keepalived.instance");
            if (!name.matches("[^\"\\s]{1,100}")) {
                throw v.bad("keepalived.instance", "the name of a vrrp_instance, as in keepalived.conf");
            }
            keepalived = new Keepalived(java.nio.file.Path.of(v.get("keepalived.fifo")), name);
        }
        return new AgentConfig(nodeId, role, kafka, prefix, partitions, replication, buffer, queue,
                Duration.ofSeconds(refresh), Duration.ofSeconds(grace), filter, ignoreOwn, sync.isEmpty() ? null : sync, vips,
                vrrp, keepalived, java.nio.file.Path.of(v.get("control.socket")), metricsListen(v),
                v.get("auth.key.file").isBlank() ? null : java.nio.file.Path.of(v.get("auth.key.file").strip()));
    }

    /** {@code metrics.listen}: {@code ADDRESS:PORT}, an IPv6 address in brackets; {@code off} for none. */
    private static java.net.InetSocketAddress metricsListen(Values v) {
        String text = v.get("metrics.listen").strip();
        if (text.equals("off")) {
            return null;
        }
        int colon = text.lastIndexOf(':');
        String what = "ADDRESS:PORT such as 127.0.0.1:9740 or [::1]:9740, or off for no endpoint";
        if (colon <= 0) {
            throw v.bad("metrics.listen", what);
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":")) {
            throw v.bad("metrics.listen", what);
        }
        try {
            int port = Integer.parseInt(text.substring(colon + 1));
            if (port < 1 || port > 65535) {
                throw new NumberFormatException();
            }
            return new java.net.InetSocketAddress(Cidr.literalAddress(host), port);
        } catch (IllegalArgumentException e) {
            throw v.bad("metrics.listen", what);
        }
    }

    private static Vrrp vrrp(Values v) {
        String ifname = v.required("vrrp.interface");
        if (!isInterfaceName(ifname)) {
            throw v.bad("vrrp.interface", "an interface name such as eth0");
        }
        v.required("vrrp.vrid");
        int vrid = v.integer("vrrp.vrid", 1, 255);
        int priority = v.integer("vrrp.priority", 1, 254);
        int interval = v.integer("vrrp.interval.centiseconds", 1, 4095);
        boolean preempt = switch (v.get("vrrp.preempt").toLowerCase(Locale.ROOT)) {
            case "true", "yes" -> true;
            case "false", "no" -> false;
            default -> throw v.bad("vrrp.preempt", "true or false");
        };
        v.required("vrrp.vips");
        List<Vip> vips = v.list("vrrp.vips", item -> {
            String[] at = item.split("@", 2);
            String[] slash = at[0].split("/", 2);
            InetAddress a = Cidr.literalAddress(slash[0]);
            if (slash.length != 2) {
                throw new IllegalArgumentException();
            }
            int len = Integer.parseInt(slash[1]);
            if (len < 1 || len > a.getAddress().length * 8) {
                throw new IllegalArgumentException();
            }
            String dev = at.length == 2 ? at[1] : ifname;
            if (!isInterfaceName(dev)) {
                throw new IllegalArgumentException();
            }
            return new Vip(a, len, dev);
        }, "addresses with prefix length and optional interface, such as 192.0.2.1/24@eth1 or 2001:db8::1/64");
        List<String> tracked = v.list("vrrp.track.interfaces", name -> {
            if (!isInterfaceName(name)) {
                throw new IllegalArgumentException();
            }
            return name;
        }, "interface names such as eth1");
        List<InetAddress> peers = v.list("vrrp.unicast.peers", Cidr::literalAddress, "IP addresses such as 192.0.2.2");
        Class<?> family = (peers.isEmpty() ? vips.get(0).address() : peers.get(0)).getClass();
        if (peers.stream().anyMatch(a -> a.getClass() != family)) {
            throw v.bad("vrrp.unicast.peers", "addresses of one family: a virtual router speaks IPv4 or IPv6");
        }
        if (vips.stream().noneMatch(vip -> vip.address().getClass() == family)) {
            throw v.bad("vrrp.vips", "at least one address of the unicast peers' family, for the advertisements to carry");
        }
        return new Vrrp(ifname, vrid, priority, interval, preempt, vips, peers, tracked, trackScripts(v),
                Duration.ofSeconds(v.integer("vrrp.announce.repeat.seconds", 0, 3600)));
    }

    private static TrackScripts.Settings trackScripts(Values v) {
        List<TrackScripts.Script> scripts = new ArrayList<>();
        for (String name : new TreeSet<>(v.p.stringPropertyNames())) {
            if (!name.startsWith(TRACK_SCRIPT_PREFIX)) {
                continue;
            }
            String scriptName = name.substring(TRACK_SCRIPT_PREFIX.length());
            if (!scriptName.matches("[A-Za-z0-9_-]{1,32}")) {
                throw new ConfigException(name, "'" + name + "' names a track script '" + scriptName + "' but a name must be "
                        + "1-32 letters, digits, '_' or '-'");
            }
            String command = v.p.getProperty(name).trim();
            if (command.isEmpty()) {
                throw new ConfigException(name, "'" + name + "' is empty but must be a command, such as "
                        + "/usr/local/bin/check-uplink eth1");
            }
            scripts.add(new TrackScripts.Script(scriptName, List.of(command.split("\\s+"))));
        }
        int interval = v.integer("vrrp.track.interval.seconds", 1, 3600);
        int timeout = v.integer("vrrp.track.timeout.seconds", 1, 3600);
        return new TrackScripts.Settings(scripts, Duration.ofSeconds(interval), Duration.ofSeconds(timeout),
                v.integer("vrrp.track.fall", 1, 100), v.integer("vrrp.track.rise", 1, 100));
    }

    /** A Linux interface name (IFNAMSIZ: at most 15 characters), as the keys accept it. */
    private static boolean isInterfaceName(String name) {
        return name.matches("[A-Za-z0-9._@-]{1,15}");
    }

    /** Values with their defaults applied, and errors that name the key. */
    private static final class Values {
        private final Properties p;

        Values(Properties p) {
            this.p = p;
        }

        String get(String name) {
            Key key = KEYS.stream().filter(k -> k.name().equals(name)).findFirst().orElseThrow();
            String value = p.getProperty(name);
            if (value == null || value.isBlank()) {
                if (key.defaultValue() == null) {
                    throw new ConfigException(name, "required key '" + name + "' is missing: set it to " + key.meaning());
                }
                return key.defaultValue();
            }
            return value.trim();
        }

        /** The value of a key that is required in this configuration (its default is empty). */
        String required(String name) {
            String value = get(name);
            if (value.isEmpty()) {
                Key key = KEYS.stream().filter(k -> k.name().equals(name)).findFirst().orElseThrow();
                throw new ConfigException(name, "'" + name + "' is missing: set it to " + key.meaning());
            }
            return value;
        }

        ConfigException bad(String name, String expected) {
            return new ConfigException(name, "'" + name + "' is '" + get(name) + "' but must be " + expected);
        }

        int integer(String name, int min, int max) {
            try {
                int n = Integer.parseInt(get(name));
                if (n >= min && n <= max) {
                    return n;
                }
            } catch (NumberFormatException ignored) {
                // reported below
            }
            throw bad(name, "a whole number from " + min + " to " + max);
        }

        long unsigned32(String name) {
            String s = get(name).toLowerCase(Locale.ROOT);
            try {
                long n = s.startsWith("0x") ? Long.parseLong(s.substring(2), 16) : Long.parseLong(s);
                if (n >= 0 && n <= 0xffffffffL) {
                    return n;
                }
            } catch (NumberFormatException ignored) {
                // reported below
            }
            throw bad(name, "an unsigned 32-bit number, decimal or 0x hexadecimal");
        }

        <T> List<T> list(String name, Function<String, T> parse, String expected) {
            List<T> out = new ArrayList<>();
            for (String item : get(name).split(",")) {
                String s = item.trim();
                if (s.isEmpty()) {
                    continue;
                }
                try {
                    out.add(parse.apply(s));
                } catch (RuntimeException e) {
                    throw new ConfigException(name, "'" + name + "' has '" + s + "' but must list " + expected);
                }
            }
            return out;
        }
    }
}

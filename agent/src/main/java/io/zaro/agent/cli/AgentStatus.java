package io.zaro.agent.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.zaro.agent.config.AgentConfig;
import io.zaro.agent.mirror.MirrorCounters;
import io.zaro.agent.vrrp.VrrpInstance;
import java.net.InetAddress;
import java.net.InterfaceAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.List;

/** The agent's answer to {@code status} on its control socket: one line of JSON. */
final class AgentStatus {
    private static final ObjectMapper JSON = new ObjectMapper();

    private AgentStatus() {
    }

    static String of(AgentConfig cfg, MirrorCounters counters, String role, VrrpInstance vrrp, long queueDepth,
                     long kafkaLag) {
        ObjectNode s = JSON.createObjectNode();
        s.put("node", cfg.nodeId());
        s.put("configured_role", cfg.role().name().toLowerCase(java.util.Locale.ROOT));
        s.put("role", role);
        if (vrrp != null) {
            ObjectNode v = s.putObject("vrrp");
            AgentConfig.Vrrp c = cfg.vrrp();
            v.put("state", vrrp.state().name());
            v.put("interface", c.interfaceName());
            v.put("vrid", c.virtualRouterId());
            v.put("priority", c.priority());
            v.put("interval_centiseconds", c.intervalCentis());
            VrrpInstance.Peer peer = vrrp.lastHeard();
            if (peer != null) {
                ObjectNode p = v.putObject("last_peer");
                p.put("address", peer.address().getHostAddress());
                p.put("priority", peer.priority());
                p.put("heard_ms_ago", Math.max(0, System.currentTimeMillis() - peer.heardMillis()));
            }
            ArrayNode peers = v.putArray("unicast_peers");
            c.unicastPeers().forEach(a -> peers.add(a.getHostAddress()));
            ArrayNode vips = s.putArray("vips");
            for (AgentConfig.Vip vip : c.vips()) {
                ObjectNode o = vips.addObject();
                o.put("address", vip.cidr());
                o.put("interface", vip.interfaceName());
                o.put("held", held(vip.interfaceName(), vip.address()));
            }
        }
        if (cfg.keepalived() != null) {
            s.putObject("keepalived").put("instance", cfg.keepalived().instance()).put("fifo", cfg.keepalived().fifo().toString());
        }
        ObjectNode k = s.putObject("kafka");
        k.put("bootstrap_servers", cfg.kafka().getProperty("bootstrap.servers"));
        k.put("topic_prefix", cfg.topicPrefix());
        k.put("lag", kafkaLag);
        s.put("queue_depth", queueDepth);
        ObjectNode c = s.putObject("counters");
        counters.snapshot().forEach(c::put);
        return s.toString();
    }

    private static boolean held(String ifname, InetAddress address) {
        try {
            NetworkInterface nif = NetworkInterface.getByName(ifname);
            List<InterfaceAddress> addresses = nif == null ? List.of() : nif.getInterfaceAddresses();
            return addresses.stream().anyMatch(a -> a.getAddress().equals(address));
        } catch (SocketException e) {
            return false;
        }
    }
}

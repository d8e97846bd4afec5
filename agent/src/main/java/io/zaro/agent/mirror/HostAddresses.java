package io.zaro.agent.mirror;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.zaro.agent.config.AgentConfig;
import io.zaro.conntrack.filter.Cidr;
import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The networks the default filter leaves out: this node's own addresses (a flow to or from the
 * firewall itself is not one it forwards) and the networks of the sync link. The VIPs are never
 * among them: they move between nodes, and their flows are the ones that must survive.
 *
 * <p>Read with {@code ip -json address show} in the agent's own network namespace, as the
 * operator would check them.
 */
public final class HostAddresses {
    private HostAddresses() {
    }

    /** The networks to ignore under {@code config}; empty when it asks for neither. */
    public static List<Cidr> ignored(AgentConfig config) {
        if (!config.ignoreOwnAddresses() && config.syncInterface() == null) {
            return List.of();
        }
        return ignored(readIpJson(), config.ignoreOwnAddresses(), config.syncInterface(), config.vips());
    }

    /** As {@link #ignored(AgentConfig)}, from the output of {@code ip -json address show}. */
    static List<Cidr> ignored(JsonNode links, boolean own, String syncInterface, List<InetAddress> vips) {
        List<Cidr> out = new ArrayList<>();
        boolean syncSeen = syncInterface == null;
        for (JsonNode link : links) {
            boolean sync = link.path("ifname").asText().equals(syncInterface);
            syncSeen |= sync;
            for (JsonNode a : link.path("addr_info")) {
                String local = a.path("local").asText("");
                if (local.isEmpty()) {
                    continue;
                }
                InetAddress address;
                try {
                    address = InetAddress.getByName(local);
                } catch (IOException e) {
                    continue;
                }
                if (vips.contains(address)) {
                    continue;
                }
                int hostBits = address.getAddress().length * 8;
                if (own) {
                    out.add(new Cidr(address, hostBits));
                }
                if (sync) {
                    out.add(Cidr.containing(address, a.path("prefixlen").asInt(hostBits)));
                }
            }
        }
        if (!syncSeen) {
            throw new IllegalArgumentException("filter.sync.interface is '" + syncInterface
                    + "' but this host has no such interface: name the sync link's interface as `ip link` shows it");
        }
        return out;
    }

    private static JsonNode readIpJson() {
        try {
            Process p = new ProcessBuilder("ip", "-json", "address", "show").redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("`ip -json address show` failed: " + new String(out).trim());
            }
            return new ObjectMapper().readTree(out);
        } catch (IOException e) {
            throw new IllegalStateException("cannot run `ip -json address show` to find this node's addresses "
                    + "(install iproute2, or set filter.ignore.own.addresses=false): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while reading this node's addresses", e);
        }
    }
}

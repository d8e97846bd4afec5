package io.zaro.agent.mirror;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.zaro.agent.config.AgentConfig;
import io.zaro.conntrack.filter.FlowFilter;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The filter an agent applies, worked out from outside the agent, for {@code zaro verify}: the
 * configured filter, plus the node's own addresses and the sync link's networks as
 * {@link HostAddresses} finds them, read in the node's network namespace.
 */
public final class NodeFilter {
    private NodeFilter() {
    }

    /**
     * What an agent with {@code config} mirrors when it runs in network namespace {@code netns}
     * (a name {@code ip netns} knows), or in this process's namespace when {@code netns} is null.
     */
    public static FlowFilter of(AgentConfig config, String netns) {
        if (netns == null) {
            return config.filter().ignoring(HostAddresses.ignored(config));
        }
        if (!config.ignoreOwnAddresses() && config.syncInterface() == null) {
            return config.filter();
        }
        List<String> command = new ArrayList<>(List.of("ip", "-n", netns, "-json", "address", "show"));
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("`" + String.join(" ", command) + "` failed: " + new String(out).trim());
            }
            return config.filter().ignoring(HostAddresses.ignored(new ObjectMapper().readTree(out),
                    config.ignoreOwnAddresses(), config.syncInterface(), config.vips()));
        } catch (IOException e) {
            throw new IllegalStateException("cannot run `" + String.join(" ", command) + "` to find the addresses of "
                    + netns + " (install iproute2): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while reading the addresses of " + netns, e);
        }
    }
}

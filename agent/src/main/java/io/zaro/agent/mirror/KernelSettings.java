package io.zaro.agent.mirror;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The kernel settings mirroring depends on, checked (and where possible set) at start. */
public final class KernelSettings {
    private static final Logger log = LoggerFactory.getLogger(KernelSettings.class);
    /**
     * 0: no events; 1: every flow can report events; 2 (the default since Linux 6.1): only flows
     * created while some program listens do. With 2, a flow created while the agent was down
     * never reports UPDATE or DESTROY.
     */
    static final Path EVENTS = Path.of("/proc/sys/net/netfilter/nf_conntrack_events");

    private KernelSettings() {
    }

    /**
     * Sets {@code net.netfilter.nf_conntrack_events=1} in this network namespace when it is not,
     * so that flows created while no agent runs still report their changes later. Logs what it
     * did; a failure is a warning (the periodic refresh still catches such flows' ends).
     */
    public static void enableEventsForAllFlows() {
        try {
            if (!Files.exists(EVENTS)) {
                return; // older kernels: every flow reports events
            }
            // Not Files.readString: procfs reports size 0, and that method then reads one byte.
            String value = Files.readAllLines(EVENTS).get(0).strip();
            if (value.equals("1")) {
                return;
            }
            Files.writeString(EVENTS, "1\n");
            log.info("set net.netfilter.nf_conntrack_events=1 (was {}): flows created while no agent runs report events too",
                    value);
        } catch (IOException | SecurityException e) {
            log.warn("cannot set net.netfilter.nf_conntrack_events=1 ({}): set it in /etc/sysctl.d; until then flows created "
                    + "while the agent is down report no events, and their ends reach the standby only with the next refresh",
                    e.getMessage());
        }
    }
}

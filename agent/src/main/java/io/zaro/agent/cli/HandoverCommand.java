package io.zaro.agent.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code zaro handover}: a planned switch, asked of the running agent on this node. */
@Command(name = "handover", mixinStandardHelpOptions = true,
        description = {"Hand the VIPs over to the peer for maintenance: the agent (role=vrrp, master) first publishes "
                + "every change it has captured and waits for Kafka's acknowledgement, then advertises priority 0, so "
                + "the peer takes over within its skew time, and stays backup for 10 minutes.",
                "Exits 1 when this node is not the master."})
public final class HandoverCommand implements Callable<Integer> {
    @Option(names = "--socket", paramLabel = "PATH", defaultValue = "/run/zaro/control.sock",
            description = "The agent's control socket (its control.socket; default: ${DEFAULT-VALUE}).")
    Path socket;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        return ControlClient.ask(spec, socket, "handover", "vrrp");
    }
}

package io.zaro.agent.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code zaro keepalived-notify}: keepalived's notify script for an agent in keepalived mode.
 * keepalived runs it with the type, name, state and priority of each transition.
 */
@Command(name = "keepalived-notify", mixinStandardHelpOptions = true,
        description = {"Tell the agent (role=keepalived) on this node of a keepalived transition. Meant as keepalived's "
                + "notify script: notify \"/usr/bin/zaro keepalived-notify\" in a vrrp_instance or vrrp_sync_group; "
                + "keepalived adds TYPE NAME STATE PRIORITY.",
                "Exits 1 when no agent answers or the agent refuses the request."})
public final class KeepalivedNotifyCommand implements Callable<Integer> {
    @Option(names = "--socket", paramLabel = "PATH", defaultValue = "/run/zaro/control.sock",
            description = "The agent's control socket (its control.socket; default: ${DEFAULT-VALUE}).")
    Path socket;

    @Parameters(index = "0", paramLabel = "TYPE", description = "INSTANCE or GROUP.")
    String type;

    @Parameters(index = "1", paramLabel = "NAME", description = "The vrrp_instance or vrrp_sync_group.")
    String name;

    @Parameters(index = "2", paramLabel = "STATE", description = "MASTER, BACKUP, FAULT or STOP.")
    String state;

    @Parameters(index = "3", paramLabel = "PRIORITY", arity = "0..1", description = "The priority (ignored).")
    String priority;

    @Spec
    CommandSpec spec;

    /**
     * Sends the transition with the time keepalived started this script (this process's start:
     * the zaro script execs the JVM in the process keepalived forked). keepalived runs its notify
     * scripts without waiting for each other, so a slow one can arrive after the next; the agent
     * drops a transition older than one it applied.
     */
    @Override
    public Integer call() {
        long at = ProcessHandle.current().info().startInstant().map(java.time.Instant::toEpochMilli).orElse(0L);
        return ControlClient.ask(spec, socket, "keepalived " + type + " \"" + name + "\" " + state
                + (at > 0 ? " at=" + at : ""), "keepalived");
    }
}

package io.zaro.agent.cli;

import picocli.CommandLine.Command;

@Command(name = "zaro", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "Connection mirroring for Linux routers and firewalls.",
        subcommands = {AgentCommand.class, ConntrackCommand.class, DemoCommand.class, DumpCommand.class, HandoverCommand.class,
                KafkaCommand.class, KeepalivedNotifyCommand.class, KeygenCommand.class, StatusCommand.class, TailCommand.class,
                VerifyCommand.class, VrrpCommand.class})
public final class ZaroCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}

package io.zaro.agent.cli;

import io.zaro.kafka.broker.EmbeddedBroker;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code zaro kafka}: the project's own single-node KRaft broker, for the demo and the tests. */
@Command(name = "kafka", mixinStandardHelpOptions = true,
        description = "Start and stop zaro's own single-node Kafka broker (KRaft). Production clusters need none of this.",
        subcommands = {KafkaCommand.Start.class, KafkaCommand.Stop.class})
public final class KafkaCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class DataDir {
        @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "${env:ZARO_DATA:-.zaro}/kafka",
                description = "The broker's directory: config, data, broker.log, broker.pid (default: ${DEFAULT-VALUE}).")
        Path dataDir;
    }

    @Command(name = "start", mixinStandardHelpOptions = true,
            description = "Start the broker in the background and wait until it answers.")
    static final class Start implements Runnable {
        @picocli.CommandLine.Mixin
        DataDir dir = new DataDir();

        @Option(names = "--host", defaultValue = "127.0.0.1", description = "Listen address (default: ${DEFAULT-VALUE}).")
        String host;

        @Option(names = "--port", defaultValue = "" + EmbeddedBroker.Settings.DEFAULT_PORT,
                description = "Client port (default: ${DEFAULT-VALUE}).")
        int port;

        @Option(names = "--controller-port", defaultValue = "" + EmbeddedBroker.Settings.DEFAULT_CONTROLLER_PORT,
                description = "KRaft controller port (default: ${DEFAULT-VALUE}).")
        int controllerPort;

        @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "90",
                description = "How long to wait for the broker to answer (default: ${DEFAULT-VALUE}).")
        long timeoutSeconds;

        @Spec
        CommandSpec spec;

        @Override
        public void run() {
            EmbeddedBroker.Settings s = new EmbeddedBroker.Settings(dir.dataDir, host, port, controllerPort);
            long pid = EmbeddedBroker.start(s, Duration.ofSeconds(timeoutSeconds));
            spec.commandLine().getOut().printf("zaro: kafka broker running at %s (pid %d, data in %s)%n",
                    s.bootstrapServers(), pid, s.dataDir());
        }
    }

    @Command(name = "stop", mixinStandardHelpOptions = true, description = "Stop the broker (clean shutdown, forced after --timeout).")
    static final class Stop implements Runnable {
        @picocli.CommandLine.Mixin
        DataDir dir = new DataDir();

        @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "60",
                description = "How long a clean shutdown may take (default: ${DEFAULT-VALUE}).")
        long timeoutSeconds;

        @Spec
        CommandSpec spec;

        @Override
        public void run() {
            boolean stopped = EmbeddedBroker.stop(dir.dataDir, Duration.ofSeconds(timeoutSeconds));
            spec.commandLine().getOut().println(stopped ? "zaro: kafka broker stopped"
                    : "zaro: no kafka broker was running from " + dir.dataDir.toAbsolutePath().normalize());
        }
    }
}

package io.zaro.agent;

import io.zaro.agent.cli.ZaroCommand;
import io.zaro.agent.config.ConfigException;
import io.zaro.conntrack.ConntrackException;
import io.zaro.kafka.broker.EmbeddedBroker;
import java.io.PrintWriter;
import picocli.CommandLine;

/** Entry point of the {@code zaro} command. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command line and returns its exit code; user errors are one sentence on stderr. */
    public static int run(String... args) {
        return run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
    }

    /** As {@link #run(String...)}, writing to the given streams. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new ZaroCommand()).setOut(out).setErr(err);
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (e instanceof ConntrackException || e instanceof IllegalArgumentException
                    || e instanceof EmbeddedBroker.BrokerException || e instanceof ConfigException
                    || e instanceof IllegalStateException || e instanceof io.zaro.rawip.RawSocketException) {
                commandLine.getErr().println("zaro: " + e.getMessage());
                return 1;
            }
            throw e;
        });
        return cli.execute(args);
    }
}

package io.zaro.agent.cli;

import io.zaro.kafka.auth.AuthKeys;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code zaro keygen}: a new key line for {@code auth.key.file}. */
@Command(name = "keygen", mixinStandardHelpOptions = true,
        description = {"Print a new key for signing records: a line `ID SECRET` (32 random bytes in hex) for the file "
                + "that auth.key.file names. Both nodes need the same file, readable by its owner alone:",
                "  umask 077; zaro keygen > /etc/zaro/keys",
                "To rotate, add a new key as the second line on both nodes, move it first on both, then remove the old."})
public final class KeygenCommand implements Callable<Integer> {
    @Option(names = "--id", paramLabel = "ID", defaultValue = "k1",
            description = "The key's name, carried by each record it signs (default: ${DEFAULT-VALUE}).")
    String id;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.println(AuthKeys.generate(id));
        out.flush();
        return 0;
    }
}

package io.zaro.agent.cli;

import io.zaro.agent.failover.ControlSocket;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;

/** The commands that ask the running agent something over its control socket. */
final class ControlClient {
    private ControlClient() {
    }

    /**
     * Sends {@code request}, prints the agent's answer, and returns the exit code: 1 when the
     * agent answers with an error.
     *
     * @param role the agent role the request needs, named in the error when nobody answers
     */
    static int ask(CommandSpec spec, Path socket, String request, String role) {
        String answer;
        try {
            answer = ControlSocket.request(socket, request);
        } catch (IOException e) {
            throw new IllegalStateException("no agent answers on " + socket + " (" + e.getMessage()
                    + "): is zaro agent running with role=" + role + ", and is this its control.socket?", e);
        }
        if (answer.startsWith("error: ")) {
            spec.commandLine().getErr().println("zaro: " + answer.substring("error: ".length()));
            return 1;
        }
        spec.commandLine().getOut().println("zaro: " + answer);
        return 0;
    }
}

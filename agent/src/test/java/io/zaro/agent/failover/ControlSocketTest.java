package io.zaro.agent.failover;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ControlSocketTest {
    @Test
    void answersARequestAndRefusesASecondAgentOnTheSamePath(@TempDir Path dir) throws Exception {
        Path path = dir.resolve("control.sock");
        try (ControlSocket first = new ControlSocket(path, request -> "got " + request)) {
            assertEquals("got handover", ControlSocket.request(path, "handover"));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> new ControlSocket(path, r -> ""));
            assertTrue(e.getMessage().contains("give each agent on this machine its own control.socket"), e.getMessage());
            assertEquals("got handover", ControlSocket.request(path, "handover"), "the first agent still answers");
        }
    }

    @Test
    void replacesASocketFileNobodyAnswersOn(@TempDir Path dir) throws Exception {
        Path path = dir.resolve("control.sock");
        Files.createFile(path); // left by an agent that was killed
        try (ControlSocket s = new ControlSocket(path, request -> "ok")) {
            assertEquals("ok", ControlSocket.request(path, "x"));
        }
    }
}

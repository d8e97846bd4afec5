package io.zaro.agent.failover;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's control socket: a Unix domain socket, mode 0600, on which a local command (such
 * as {@code zaro handover}) sends one line and reads one line back. One request at a time.
 */
public final class ControlSocket implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ControlSocket.class);
    private static final int MAX_REQUEST = 256;

    private final Path path;
    private final ServerSocketChannel server;
    private final Thread thread;

    /**
     * Binds {@code path} and answers each request with {@code handler}. A socket file nobody
     * answers on (left by an agent that was killed) is replaced; one another agent answers on is
     * refused, naming the fix.
     */
    public ControlSocket(Path path, Function<String, String> handler) throws IOException {
        this.path = path;
        Files.createDirectories(path.toAbsolutePath().getParent());
        if (Files.exists(path)) {
            try (SocketChannel live = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
                throw new IllegalStateException("another agent already answers on " + path
                        + ": give each agent on this machine its own control.socket");
            } catch (IOException stale) {
                Files.delete(path);
            }
        }
        this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        this.thread = new Thread(() -> serve(handler), "zaro-control");
        thread.setDaemon(true);
        thread.start();
    }

    private void serve(Function<String, String> handler) {
        while (server.isOpen()) {
            try (SocketChannel c = server.accept()) {
                ByteBuffer in = ByteBuffer.allocate(MAX_REQUEST);
                while (in.hasRemaining() && c.read(in) > 0) {
                    if (in.get(in.position() - 1) == '\n') {
                        break;
                    }
                }
                String request = new String(in.array(), 0, in.position(), StandardCharsets.UTF_8).trim();
                String answer;
                try {
                    answer = handler.apply(request);
                } catch (RuntimeException e) {
                    answer = "error: " + e.getMessage();
                }
                c.write(ByteBuffer.wrap((answer + "\n").getBytes(StandardCharsets.UTF_8)));
            } catch (IOException e) {
                if (server.isOpen()) {
                    log.warn("control socket {}: {}", path, e.getMessage());
                }
            }
        }
    }

    /** Sends one request to the agent listening on {@code path} and returns its answer. */
    public static String request(Path path, String request) throws IOException {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            c.write(ByteBuffer.wrap((request + "\n").getBytes(StandardCharsets.UTF_8)));
            ByteBuffer out = ByteBuffer.allocate(4096);
            while (c.read(out) > 0) {
                // until the agent closes the connection
            }
            return new String(out.array(), 0, out.position(), StandardCharsets.UTF_8).trim();
        }
    }

    @Override
    public void close() {
        try {
            server.close();
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // nothing to do
        }
    }
}

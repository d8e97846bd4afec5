package io.zaro.tests.netns;

import io.zaro.kafka.broker.EmbeddedBroker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.Properties;
import java.util.stream.Stream;

/**
 * The project's own broker for a test class: started on free loopback ports in a fresh
 * directory, stopped and deleted on close (and by a shutdown hook when the run is interrupted).
 */
public final class BrokerFixture implements AutoCloseable {
    private final Path dataDir;
    private final EmbeddedBroker.Settings settings;
    private final Thread hook;

    public BrokerFixture() {
        try {
            dataDir = Files.createTempDirectory("zaro-broker");
            settings = new EmbeddedBroker.Settings(dataDir, "127.0.0.1", freePort(), freePort());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        hook = new Thread(this::stopQuietly, "zaro-broker-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        EmbeddedBroker.start(settings, Duration.ofSeconds(120));
    }

    public String bootstrapServers() {
        return settings.bootstrapServers();
    }

    /** Client properties for this broker. */
    public Properties client() {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrapServers());
        return p;
    }

    private void stopQuietly() {
        EmbeddedBroker.stop(dataDir, Duration.ofSeconds(30));
        try (Stream<Path> files = Files.walk(dataDir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a leftover temp directory is harmless
        }
    }

    @Override
    public void close() {
        stopQuietly();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException ignored) {
            // already shutting down
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}

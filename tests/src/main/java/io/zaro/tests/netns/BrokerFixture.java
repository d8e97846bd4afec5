package io.zaro.tests.netns;

import io.zaro.kafka.broker.EmbeddedBroker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.stream.Stream;

/**
 * The project's own broker for a test class: started in a fresh directory, on free loopback
 * ports or inside a lab namespace, stopped and deleted on close (and by a shutdown hook when the
 * run is interrupted).
 */
public final class BrokerFixture implements AutoCloseable {
    private final Path dataDir;
    private final EmbeddedBroker.Settings settings;
    private final Thread hook;

    /** A broker on free loopback ports of this process's namespace, started in-process. */
    public BrokerFixture() {
        this(null, "127.0.0.1");
    }

    /**
     * A broker inside {@code host}'s namespace listening on {@code address} (one of the host's),
     * started by {@code zaro kafka start} run in that namespace, as an operator would.
     */
    public BrokerFixture(Host host, String address) {
        this(host, address, List.of());
    }

    /**
     * As {@link #BrokerFixture(Host, String)}, with more options for {@code zaro kafka start}:
     * {@code --tls-keystore}, {@code --tls-password-file}, {@code --scram-user} and
     * {@code --scram-password-file} secure its client listener. Clients then need the matching
     * settings besides {@link #client()}'s.
     */
    public BrokerFixture(Host host, String address, List<String> startOptions) {
        if (host == null && !startOptions.isEmpty()) {
            throw new IllegalArgumentException("start options need a host: the in-process broker takes none");
        }
        try {
            dataDir = Files.createTempDirectory("zaro-broker");
            settings = host == null
                    ? new EmbeddedBroker.Settings(dataDir, address, freePort(), freePort())
                    : new EmbeddedBroker.Settings(dataDir, address, EmbeddedBroker.Settings.DEFAULT_PORT,
                            EmbeddedBroker.Settings.DEFAULT_CONTROLLER_PORT);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        hook = new Thread(this::stopQuietly, "zaro-broker-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        if (host == null) {
            EmbeddedBroker.start(settings, Duration.ofSeconds(120));
        } else {
            List<String> start = new ArrayList<>(List.of("kafka", "start", "--data-dir", dataDir.toString(), "--host", address,
                    "--port", Integer.toString(settings.port()), "--controller-port",
                    Integer.toString(settings.controllerPort()), "--timeout", "120"));
            start.addAll(startOptions);
            host.exec(null, 180, ZaroCli.command(start.toArray(String[]::new)).toArray(String[]::new)).ok();
        }
    }

    public String bootstrapServers() {
        return settings.bootstrapServers();
    }

    /** The broker's process id, or -1 when it does not run. */
    public long pid() {
        return EmbeddedBroker.runningPid(dataDir).orElse(-1L);
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

package io.zaro.kafka.broker;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;

/**
 * The project's own Kafka: one node in KRaft mode (broker and controller in one process), from
 * Maven Central's {@code org.apache.kafka:kafka_2.13}, run as a detached child process so that
 * it outlives the command that started it. It serves the demo and the tests; production points
 * zaro at any cluster instead.
 *
 * <p>Everything lives in the data directory: {@code server.properties}, the log segments under
 * {@code data/}, the broker's own output in {@code broker.log}, and {@code broker.pid} while it runs.
 */
public final class EmbeddedBroker {
    private static final String PID_FILE = "broker.pid";
    private static final String LOG_FILE = "broker.log";
    private static final String PROPERTIES = "server.properties";

    private EmbeddedBroker() {
    }

    /**
     * Where and how the broker runs.
     *
     * @param dataDir its directory (created when missing)
     * @param host the address it listens on; loopback by default
     * @param port the client listener
     * @param controllerPort the KRaft controller listener
     */
    public record Settings(Path dataDir, String host, int port, int controllerPort) {
        public static final int DEFAULT_PORT = 9092;
        public static final int DEFAULT_CONTROLLER_PORT = 9093;

        public Settings {
            dataDir = dataDir.toAbsolutePath().normalize();
            for (int p : new int[] {port, controllerPort}) {
                if (p < 1 || p > 65535) {
                    throw new IllegalArgumentException("a port must be 1..65535, not " + p);
                }
            }
            if (port == controllerPort) {
                throw new IllegalArgumentException("the client and controller ports must differ (both " + port + ")");
            }
        }

        public String bootstrapServers() {
            return host + ":" + port;
        }
    }

    /** A broker that could not be started or stopped; the message is one sentence with the fix. */
    public static final class BrokerException extends RuntimeException {
        BrokerException(String message) {
            super(message);
        }
    }

    /** The pid of the broker running from {@code dataDir}, if one does. */
    public static Optional<Long> runningPid(Path dataDir) {
        Path pidFile = dataDir.resolve(PID_FILE);
        try {
            if (!Files.exists(pidFile)) {
                return Optional.empty();
            }
            long pid = Long.parseLong(Files.readString(pidFile).trim());
            return ProcessHandle.of(pid).filter(ProcessHandle::isAlive).map(h -> pid);
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /**
     * Formats the storage on first use, starts the broker and waits until it answers.
     *
     * @return the broker's pid
     * @throws BrokerException when one already runs there, a port is taken, or it does not come up
     */
    public static long start(Settings s, Duration timeout) {
        Optional<Long> running = runningPid(s.dataDir());
        if (running.isPresent()) {
            throw new BrokerException("a broker already runs from " + s.dataDir() + " (pid " + running.get()
                    + "); stop it with `zaro kafka stop --data-dir " + s.dataDir() + "`");
        }
        requireFree(s.host(), s.port(), "--port");
        requireFree(s.host(), s.controllerPort(), "--controller-port");
        try {
            Files.createDirectories(s.dataDir());
            Path props = s.dataDir().resolve(PROPERTIES);
            Files.writeString(props, serverProperties(s));
            if (!Files.exists(s.dataDir().resolve("data/meta.properties"))) {
                format(s.dataDir(), props);
            }
            Path log = s.dataDir().resolve(LOG_FILE);
            Process broker = new ProcessBuilder(javaCommand("kafka.Kafka", props.toString()))
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectErrorStream(true)
                    .start();
            Files.writeString(s.dataDir().resolve(PID_FILE), broker.pid() + "\n");
            awaitReady(s, broker, timeout);
            return broker.pid();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the broker in " + s.dataDir(), e);
        }
    }

    /**
     * Stops the broker running from {@code dataDir}: SIGTERM for a clean shutdown, SIGKILL after
     * {@code timeout}.
     *
     * @return false when none was running
     */
    public static boolean stop(Path dataDir, Duration timeout) {
        Path dir = dataDir.toAbsolutePath().normalize();
        Optional<Long> pid = runningPid(dir);
        try {
            if (pid.isEmpty()) {
                Files.deleteIfExists(dir.resolve(PID_FILE));
                return false;
            }
            ProcessHandle h = ProcessHandle.of(pid.get()).orElseThrow();
            h.destroy();
            try {
                h.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                h.destroyForcibly();
                h.onExit().get(10, TimeUnit.SECONDS);
            }
            Files.deleteIfExists(dir.resolve(PID_FILE));
            return true;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BrokerException("interrupted while stopping the broker (pid " + pid.get() + ")");
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new BrokerException("the broker (pid " + pid.get() + ") did not exit; kill it with `kill -9 " + pid.get() + "`");
        }
    }

    static String serverProperties(Settings s) {
        return String.join("\n",
                "# written by zaro kafka start: a single-node KRaft broker for zaro's demo and tests",
                "process.roles=broker,controller",
                "node.id=1",
                "controller.quorum.voters=1@" + s.host() + ":" + s.controllerPort(),
                "listeners=PLAINTEXT://" + s.host() + ":" + s.port() + ",CONTROLLER://" + s.host() + ":" + s.controllerPort(),
                "advertised.listeners=PLAINTEXT://" + s.host() + ":" + s.port(),
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                "log.dirs=" + s.dataDir().resolve("data"),
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "") ;
    }

    private static void format(Path dataDir, Path props) throws IOException {
        Path log = dataDir.resolve(LOG_FILE);
        Process p = new ProcessBuilder(javaCommand("kafka.tools.StorageTool", "format", "--ignore-formatted",
                "-t", Uuid.randomUuid().toString(), "-c", props.toString()))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectErrorStream(true)
                .start();
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new BrokerException("formatting the broker's storage failed: see " + log + tail(log));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BrokerException("interrupted while formatting the broker's storage");
        }
    }

    private static void awaitReady(Settings s, Process broker, Duration timeout) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, s.bootstrapServers());
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "2000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "3000");
        long deadline = System.nanoTime() + timeout.toNanos();
        try (Admin admin = Admin.create(p)) {
            while (System.nanoTime() < deadline) {
                if (!broker.isAlive()) {
                    throw new BrokerException("the broker exited at start (exit " + broker.exitValue() + "): see "
                            + s.dataDir().resolve(LOG_FILE) + tail(s.dataDir().resolve(LOG_FILE)));
                }
                try {
                    admin.describeCluster().nodes().get(3, TimeUnit.SECONDS);
                    return;
                } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                    Thread.sleep(200);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        broker.destroyForcibly();
        throw new BrokerException("the broker did not answer at " + s.bootstrapServers() + " within "
                + timeout.toSeconds() + " s: see " + s.dataDir().resolve(LOG_FILE));
    }

    private static void requireFree(String host, int port, String option) {
        try (ServerSocket probe = new ServerSocket()) {
            probe.setReuseAddress(true);
            probe.bind(new InetSocketAddress(host, port));
        } catch (IOException e) {
            throw new BrokerException("port " + port + " on " + host + " is in use: choose another with " + option);
        }
    }

    /** This JVM's java, on this JVM's class path (zaro.jar holds the broker's classes too). */
    private static List<String> javaCommand(String mainClass, String... args) {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new java.util.ArrayList<>(List.of("setsid", java, "-Xmx512m",
                "-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return lines.isEmpty() ? "" : " (last line: " + lines.get(lines.size() - 1).strip() + ")";
        } catch (IOException e) {
            return "";
        }
    }
}

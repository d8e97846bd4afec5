package io.zaro.kafka.broker;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialDeletion;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.ResourceNotFoundException;
import org.apache.kafka.common.security.scram.internals.ScramFormatter;

/**
 * The project's own Kafka: one node in KRaft mode (broker and controller in one process), from
 * Maven Central's {@code org.apache.kafka:kafka_2.13}, run as a detached child process so that
 * it outlives the command that started it. It serves the demo and the tests; production points
 * zaro at any cluster instead. Several such nodes form a cluster when each is given the same
 * {@link KraftQuorum} (PLAINTEXT only); each node's start then waits for a quorum of them, so
 * they are started together.
 *
 * <p>Everything lives in the data directory: {@code server.properties} (mode 0600: it holds the
 * keystore's password), the log segments under {@code data/}, the broker's own output in
 * {@code broker.log}, and {@code broker.pid} while it runs; with SASL also {@code broker.password}
 * (the broker's own SCRAM password, made once) and {@code scram-users} (the users it was last
 * given, so that a user left out at the next start is removed).
 *
 * <p>The client listener serves {@code PLAINTEXT}, or TLS and SASL/SCRAM-SHA-512 as
 * {@link BrokerSecurity} says. SCRAM users are written into the cluster's bootstrap metadata
 * when the storage is formatted ({@code kafka-storage format --add-scram}, as
 * {@code UserScramCredentialRecord}s), so they exist before the listener opens; at a later start
 * the users given are created or given their new passwords, and users no longer given are
 * removed, through the Admin API, logged in as the broker's own user.
 */
public final class EmbeddedBroker {
    private static final String PID_FILE = "broker.pid";
    private static final String LOG_FILE = "broker.log";
    private static final String PROPERTIES = "server.properties";
    private static final String BROKER_PASSWORD = "broker.password";
    private static final String SCRAM_USERS = "scram-users";
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private EmbeddedBroker() {
    }

    /**
     * Where and how the broker runs.
     *
     * @param dataDir its directory (created when missing)
     * @param host the address it listens on; loopback by default
     * @param port the client listener
     * @param controllerPort the KRaft controller listener
     * @param quorum the cluster this node belongs to; null for a single node
     */
    public record Settings(Path dataDir, String host, int port, int controllerPort, KraftQuorum quorum) {
        public static final int DEFAULT_PORT = 9092;
        public static final int DEFAULT_CONTROLLER_PORT = 9093;

        /** A single node. */
        public Settings(Path dataDir, String host, int port, int controllerPort) {
            this(dataDir, host, port, controllerPort, null);
        }

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
            if (quorum != null) {
                KraftQuorum.Voter self = quorum.self();
                if (!self.host().equals(host) || self.port() != controllerPort) {
                    throw new IllegalArgumentException("--voters gives node " + quorum.nodeId() + " as " + self
                            + " but this node's controller listens on " + host + ":" + controllerPort
                            + ": give the same --host and --controller-port as its entry in --voters");
                }
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
     * Formats the storage on first use, starts the broker and waits until it answers: a
     * {@code PLAINTEXT} broker, as it has always been.
     *
     * @return the broker's pid
     * @throws BrokerException when one already runs there, a port is taken, or it does not come up
     */
    public static long start(Settings s, Duration timeout) {
        return start(s, BrokerSecurity.PLAINTEXT, timeout);
    }

    /**
     * Formats the storage on first use (with the SCRAM users), starts the broker with its client
     * listener secured as {@code security} says, brings its SCRAM users up to date when the
     * storage was formatted before, and waits until the listener answers a client that logs in as
     * the broker's own user.
     *
     * @return the broker's pid
     * @throws BrokerException when one already runs there, a port is taken, the data directory last
     *     served a more secure listener, or the broker does not come up
     * @throws IllegalArgumentException when the keystore cannot be opened or its certificate does
     *     not name the broker's address
     */
    public static long start(Settings s, BrokerSecurity security, Duration timeout) {
        Optional<Long> running = runningPid(s.dataDir());
        if (running.isPresent()) {
            throw new BrokerException("a broker already runs from " + s.dataDir() + " (pid " + running.get()
                    + "); stop it with `zaro kafka stop --data-dir " + s.dataDir() + "`");
        }
        if (s.quorum() != null && !security.equals(BrokerSecurity.PLAINTEXT)) {
            throw new BrokerException("a cluster of zaro's brokers (--voters) serves PLAINTEXT only: its controllers "
                    + "and brokers would talk to each other unauthenticated over the network; secure a production "
                    + "cluster with its own tooling, or use one broker with --tls-keystore and --scram-user");
        }
        if (security.hasTls()) {
            security.checkKeystore(s.host());
        }
        String controllerHost = controllerHost(s, security);
        requireFree(s.host(), s.port(), "--port");
        requireFree(controllerHost, s.controllerPort(), "--controller-port");
        try {
            Files.createDirectories(s.dataDir());
            refuseDowngrade(s, security);
            String brokerPassword = security.hasSasl() ? brokerPassword(s.dataDir()) : null;
            boolean formatted = Files.exists(s.dataDir().resolve("data/meta.properties"));
            Path users = s.dataDir().resolve(SCRAM_USERS);
            if (formatted && security.hasSasl() && !Files.exists(users)) {
                throw new BrokerException("the broker in " + s.dataDir() + " was formatted without SCRAM users, and its "
                        + "first users can only be written when the storage is formatted: start it with a new --data-dir "
                        + "(the active agent's resync fills zaro's topics again)");
            }
            Path props = s.dataDir().resolve(PROPERTIES);
            writeOwnerOnly(props, serverProperties(s, security, brokerPassword));
            if (!formatted) {
                if (security.hasSasl()) {
                    writeOwnerOnly(users, userList(security));
                }
                format(s, props, security, brokerPassword);
            }
            Path log = s.dataDir().resolve(LOG_FILE);
            Process broker = new ProcessBuilder(javaCommand("kafka.Kafka", props.toString()))
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectErrorStream(true)
                    .start();
            Files.writeString(s.dataDir().resolve(PID_FILE), broker.pid() + "\n");
            long deadline = System.nanoTime() + timeout.toNanos();
            Properties client = security.client(brokerPassword);
            awaitReady(s, client, broker, deadline, timeout);
            if (formatted && security.hasSasl()) {
                updateScramUsers(s, client, security, brokerPassword, broker);
                writeOwnerOnly(users, userList(security));
            }
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
        return serverProperties(s, BrokerSecurity.PLAINTEXT, null);
    }

    /**
     * The broker's configuration. The client listener is named after its protocol; the
     * controller listener is PLAINTEXT, on 127.0.0.1 when the client listener is secured.
     */
    static String serverProperties(Settings s, BrokerSecurity security, String brokerPassword) {
        String listener = security.protocol();
        String controller = controllerHost(s, security) + ":" + s.controllerPort();
        KraftQuorum q = s.quorum();
        List<String> lines = new ArrayList<>(List.of(
                q == null ? "# written by zaro kafka start: a single-node KRaft broker for zaro's demo and tests"
                        : "# written by zaro kafka start: node " + q.nodeId() + " of a " + q.voters().size()
                                + "-node KRaft cluster for zaro's tests",
                "process.roles=broker,controller",
                "node.id=" + (q == null ? 1 : q.nodeId()),
                "controller.quorum.voters=" + (q == null ? "1@" + controller : q.votersProperty()),
                "listeners=" + listener + "://" + s.host() + ":" + s.port() + ",CONTROLLER://" + controller,
                "advertised.listeners=" + listener + "://" + s.host() + ":" + s.port(),
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=" + listener + ":" + listener + ",CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=" + listener,
                "log.dirs=" + s.dataDir().resolve("data"),
                "num.partitions=1"));
        if (q == null) {
            lines.addAll(List.of(
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1"));
        } else {
            lines.addAll(List.of(
                    "default.replication.factor=" + q.replicationFactor(),
                    "min.insync.replicas=" + q.minInsyncReplicas(),
                    "offsets.topic.replication.factor=" + q.replicationFactor(),
                    "transaction.state.log.replication.factor=" + q.replicationFactor(),
                    "transaction.state.log.min.isr=" + q.minInsyncReplicas()));
        }
        lines.add("group.initial.rebalance.delay.ms=0");
        lines.addAll(security.serverProperties(listener, brokerPassword));
        lines.add("");
        return String.join("\n", lines);
    }

    static String controllerHost(Settings s, BrokerSecurity security) {
        return security.controllerOnLoopback() ? "127.0.0.1" : s.host();
    }

    /**
     * Refuses to start a broker whose data directory last served TLS or SASL without them: its
     * topics would be open to anyone who reaches the port, by an option forgotten at a restart.
     */
    private static void refuseDowngrade(Settings s, BrokerSecurity security) throws IOException {
        Path props = s.dataDir().resolve(PROPERTIES);
        if (!Files.exists(props)) {
            return;
        }
        Properties old = new Properties();
        try (var in = Files.newBufferedReader(props)) {
            old.load(in);
        }
        String advertised = old.getProperty("advertised.listeners", "");
        String was = advertised.contains("://") ? advertised.substring(0, advertised.indexOf("://")) : "PLAINTEXT";
        boolean lostTls = was.endsWith("SSL") && !security.hasTls();
        boolean lostSasl = was.startsWith("SASL_") && !security.hasSasl();
        if (lostTls || lostSasl) {
            String options = lostTls && lostSasl ? "--tls-keystore and --scram-user"
                    : lostTls ? "--tls-keystore" : "--scram-user";
            throw new BrokerException("the broker in " + s.dataDir() + " last served " + was + ", and started without "
                    + options + " it would serve " + security.protocol() + " to anyone who reaches "
                    + s.bootstrapServers() + ": give " + options + " again (or delete " + props
                    + " to change it on purpose)");
        }
    }

    /** The broker's own SCRAM password: made once per data directory, kept beside its data (mode 0600). */
    private static String brokerPassword(Path dataDir) throws IOException {
        Path file = dataDir.resolve(BROKER_PASSWORD);
        if (Files.exists(file)) {
            return Files.readAllLines(file, StandardCharsets.UTF_8).get(0).strip();
        }
        byte[] random = new byte[24];
        new SecureRandom().nextBytes(random);
        String password = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
        writeOwnerOnly(file, password + "\n");
        return password;
    }

    private static void writeOwnerOnly(Path file, String content) throws IOException {
        if (!Files.exists(file)) {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
        } else {
            Files.setPosixFilePermissions(file, OWNER_ONLY);
        }
        Files.writeString(file, content, StandardCharsets.UTF_8);
    }

    /** Every SCRAM user's password, the broker's own first. */
    private static Map<String, String> scramPasswords(BrokerSecurity security, String brokerPassword) {
        Map<String, String> users = new LinkedHashMap<>();
        users.put(BrokerSecurity.BROKER_USER, brokerPassword);
        security.users().forEach(u -> users.put(u.name(), u.password()));
        return users;
    }

    private static String userList(BrokerSecurity security) {
        return String.join("\n", security.users().stream().map(BrokerSecurity.ScramUser::name).toList()) + "\n";
    }

    /**
     * Creates the SCRAM users, or sets their passwords, and removes those of the last start that
     * are no longer given: through the Admin API on the client listener, logged in as the broker's
     * own user (whose credential the format wrote). The Admin client of Kafka 3.9 refuses
     * {@code alterUserScramCredentials} on the controller listener ("not yet supported when
     * communicating directly with the controller quorum"), so it goes through the broker, which
     * forwards it to the controller.
     */
    private static void updateScramUsers(Settings s, Properties client, BrokerSecurity security, String brokerPassword,
                                         Process broker) throws IOException {
        List<UserScramCredentialAlteration> changes = new ArrayList<>();
        Map<String, String> users = scramPasswords(security, brokerPassword);
        ScramCredentialInfo info = new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, BrokerSecurity.ITERATIONS);
        users.forEach((name, password) -> changes.add(new UserScramCredentialUpsertion(name, info, password)));
        for (String name : Files.readAllLines(s.dataDir().resolve(SCRAM_USERS))) {
            if (!name.isBlank() && !users.containsKey(name.strip())) {
                changes.add(new UserScramCredentialDeletion(name.strip(), ScramMechanism.SCRAM_SHA_512));
            }
        }
        Properties p = new Properties();
        p.putAll(client);
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, s.bootstrapServers());
        try (Admin admin = Admin.create(p)) {
            for (Map.Entry<String, KafkaFuture<Void>> e : admin.alterUserScramCredentials(changes).values().entrySet()) {
                try {
                    e.getValue().get(30, TimeUnit.SECONDS);
                } catch (ExecutionException failed) {
                    if (!(failed.getCause() instanceof ResourceNotFoundException)) { // a user removed already is fine
                        broker.destroyForcibly();
                        throw new BrokerException("the broker did not take SCRAM user " + e.getKey() + " ("
                                + failed.getCause().getMessage() + "): see " + s.dataDir().resolve(LOG_FILE));
                    }
                }
            }
        } catch (java.util.concurrent.TimeoutException e) {
            broker.destroyForcibly();
            throw new BrokerException("the broker did not take its SCRAM users within 30 s: see " + s.dataDir().resolve(LOG_FILE));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BrokerException("interrupted while giving the broker its SCRAM users");
        }
    }

    /**
     * Formats the storage. SCRAM users go into the bootstrap metadata as salted credentials
     * ({@code --add-scram SCRAM-SHA-512=[name=...,salt=...,saltedpassword=...,iterations=...]}),
     * passed in an argument file of mode 0600 (the tool's {@code @FILE}), deleted afterwards, so
     * that no password nor salted password shows on a command line.
     */
    private static void format(Settings s, Path props, BrokerSecurity security, String brokerPassword) throws IOException {
        Path dataDir = s.dataDir();
        Path log = dataDir.resolve(LOG_FILE);
        String clusterId = s.quorum() == null ? Uuid.randomUuid().toString() : s.quorum().clusterId();
        List<String> args = new ArrayList<>(List.of("format", "--ignore-formatted",
                "-t", clusterId, "-c", props.toString()));
        Path scramArgs = dataDir.resolve("format.args");
        try {
            if (security.hasSasl()) {
                List<String> lines = new ArrayList<>();
                for (Map.Entry<String, String> u : scramPasswords(security, brokerPassword).entrySet()) {
                    lines.add("--add-scram");
                    lines.add(scramArgument(u.getKey(), u.getValue()));
                }
                writeOwnerOnly(scramArgs, String.join("\n", lines) + "\n");
                args.add("@" + scramArgs);
            }
            Process p = new ProcessBuilder(javaCommand("kafka.tools.StorageTool", args.toArray(String[]::new)))
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectErrorStream(true)
                    .start();
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new BrokerException("formatting the broker's storage failed: see " + log + tail(log));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BrokerException("interrupted while formatting the broker's storage");
        } finally {
            Files.deleteIfExists(scramArgs);
        }
    }

    /** One {@code --add-scram} value: the user's SCRAM-SHA-512 credential, salted here. */
    static String scramArgument(String name, String password) {
        try {
            ScramFormatter formatter = new ScramFormatter(
                    org.apache.kafka.common.security.scram.internals.ScramMechanism.SCRAM_SHA_512);
            byte[] salt = formatter.secureRandomBytes();
            byte[] salted = formatter.saltedPassword(password, salt, BrokerSecurity.ITERATIONS);
            Base64.Encoder b64 = Base64.getEncoder();
            return BrokerSecurity.MECHANISM + "=[name=" + name + ",salt=\"" + b64.encodeToString(salt)
                    + "\",saltedpassword=\"" + b64.encodeToString(salted) + "\",iterations=" + BrokerSecurity.ITERATIONS + "]";
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("this JVM cannot compute SCRAM-SHA-512 credentials: " + e.getMessage(), e);
        }
    }

    private static void awaitReady(Settings s, Properties security, Process broker, long deadline, Duration timeout) {
        Properties p = new Properties();
        p.putAll(security);
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, s.bootstrapServers());
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "2000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "3000");
        try (Admin admin = Admin.create(p)) {
            while (System.nanoTime() < deadline) {
                if (!broker.isAlive()) {
                    throw exited(s, broker);
                }
                try {
                    admin.describeCluster().nodes().get(3, TimeUnit.SECONDS);
                    return;
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof AuthenticationException a) {
                        broker.destroyForcibly();
                        throw new BrokerException("the broker refused its own login at " + s.bootstrapServers() + " ("
                                + a.getMessage() + "): see " + s.dataDir().resolve(LOG_FILE));
                    }
                    Thread.sleep(200);
                } catch (java.util.concurrent.TimeoutException e) {
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

    private static BrokerException exited(Settings s, Process broker) {
        return new BrokerException("the broker exited at start (exit " + broker.exitValue() + "): see "
                + s.dataDir().resolve(LOG_FILE) + tail(s.dataDir().resolve(LOG_FILE)));
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

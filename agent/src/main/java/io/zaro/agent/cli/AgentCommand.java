package io.zaro.agent.cli;

import io.zaro.agent.config.AgentConfig;
import io.zaro.agent.config.ConfigException;
import io.zaro.agent.failover.ControlSocket;
import io.zaro.agent.failover.KeepalivedFifo;
import io.zaro.agent.failover.RoleController;
import io.zaro.agent.metrics.AgentMetrics;
import io.zaro.agent.mirror.Capture;
import io.zaro.agent.vrrp.VirtualRouter;
import io.zaro.agent.vrrp.Vips;
import io.zaro.agent.vrrp.VrrpInstance;
import io.zaro.agent.mirror.HostAddresses;
import io.zaro.agent.mirror.Injector;
import io.zaro.agent.mirror.KernelSettings;
import io.zaro.agent.mirror.MirrorCounters;
import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.filter.Cidr;
import io.zaro.conntrack.filter.FlowFilter;
import io.zaro.kafka.RecordPublisher;
import io.zaro.kafka.StateTopicReader;
import io.zaro.kafka.Topics;
import io.zaro.kafka.auth.AuthKeys;
import io.zaro.kafka.auth.RecordAuth;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.apache.kafka.clients.admin.Admin;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code zaro agent}: the daemon. Runs until SIGTERM or SIGINT; exits 1 when mirroring stopped on an error. */
@Command(name = "agent", mixinStandardHelpOptions = true,
        description = {"Run the mirroring agent until stopped: with role=active it publishes this node's conntrack "
                + "table to Kafka, with role=standby it mirrors the active's table into this node's kernel.",
                "Logs to stderr; the counters every --status-interval seconds."})
public final class AgentCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(AgentCommand.class);
    /** How long reading the state topic to its end at start may take before the agent gives up (and systemd restarts it). */
    private static final Duration STARTUP_READ_TIMEOUT = Duration.ofMinutes(10);
    /** How long a standby that becomes master waits to inject what the state topic still holds. */
    private static final Duration TAKEOVER_CATCH_UP = Duration.ofSeconds(5);

    @Option(names = "--config", paramLabel = "FILE", defaultValue = "/etc/zaro/zaro.properties",
            description = "Configuration file (default: ${DEFAULT-VALUE}).")
    Path config;

    @Option(names = "--status-interval", paramLabel = "SECONDS", defaultValue = "10",
            description = "How often to log the counters (default: ${DEFAULT-VALUE}).")
    int statusInterval;

    /** Signs and verifies records; null when the configuration names no key file. */
    private RecordAuth auth;

    @Override
    public Integer call() throws Exception {
        AgentConfig cfg = AgentConfig.load(config);
        List<Cidr> ignored = HostAddresses.ignored(cfg);
        FlowFilter filter = cfg.filter().ignoring(ignored);
        log.info("node {} starting as {}; Kafka {}; not mirroring {} own or sync-link networks",
                cfg.nodeId(), cfg.role().name().toLowerCase(java.util.Locale.ROOT),
                cfg.kafka().getProperty("bootstrap.servers"), ignored.size());
        auth = auth(cfg);
        Topics topics = Topics.withPrefix(cfg.topicPrefix());
        try (Admin admin = Admin.create(cfg.kafka())) {
            topics.ensure(admin, cfg.partitions(), cfg.replicationFactor(), Duration.ofSeconds(60));
        } catch (RuntimeException e) {
            throw KafkaErrors.explain(e, cfg.kafka()); // a refused login or handshake: one sentence
        }
        CountDownLatch stopping = new CountDownLatch(1);
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            stopping.countDown();
            try {
                stopped.await(40, TimeUnit.SECONDS);
            } catch (InterruptedException ignoredInterrupt) {
                Thread.currentThread().interrupt();
            }
        }, "zaro-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        MirrorCounters counters = new MirrorCounters();
        Live live = new Live();
        try (ConntrackTable table = Conntrack.open();
             AgentMetrics metrics = new AgentMetrics(new AgentMetrics.Sources(cfg.nodeId(), counters, () -> live.role.get(),
                     () -> live.vrrp == null ? null : live.vrrp.state(), () -> live.queueDepth.getAsLong(),
                     () -> live.kafkaLag.getAsLong()));
             ControlSocket control = control(cfg, request -> request.equals("status")
                     ? AgentStatus.of(cfg, counters, live.role.get(), live.vrrp, live.queueDepth.getAsLong(),
                             live.kafkaLag.getAsLong())
                     : live.requests.apply(request))) {
            if (cfg.metricsListen() != null) {
                metrics.start(cfg.metricsListen());
                log.info("metrics on http://{}/metrics", formatAddress(cfg.metricsListen()));
            }
            live.metrics = metrics;
            if (cfg.role() == AgentConfig.Role.ACTIVE) {
                return runActive(cfg, filter, topics, table, counters, stopping, live);
            }
            if (cfg.role() == AgentConfig.Role.VRRP) {
                return runVrrp(cfg, filter, topics, table, counters, stopping, live);
            }
            if (cfg.role() == AgentConfig.Role.KEEPALIVED) {
                return runKeepalived(cfg, filter, topics, table, counters, stopping, live);
            }
            return runStandby(cfg, filter, topics, table, counters, stopping, live);
        } finally {
            log.info("stopped; {}", counters);
            stopped.countDown();
        }
    }

    private int runActive(AgentConfig cfg, FlowFilter filter, Topics topics, ConntrackTable table, MirrorCounters counters,
                          CountDownLatch stopping, Live live) throws InterruptedException {
        KernelSettings.enableEventsForAllFlows();
        Capture.Settings settings = captureSettings(cfg, filter, table);
        RecordPublisher publisher = publisher(cfg, topics);
        Capture capture = new Capture(table, publisher, settings, counters, Clock.systemUTC());
        try {
            try (StateTopicReader state = new StateTopicReader(cfg.kafka(), topics, Duration.ofSeconds(60))) {
                capture.start(state, STARTUP_READ_TIMEOUT);
            }
            live.role = () -> "active";
            live.queueDepth = capture::queueDepth;
            log.info("publishing");
            return watch(stopping, counters, capture::failure, () -> "queue=" + capture.queueDepth());
        } finally {
            capture.close();
            publisher.close(Duration.ofSeconds(15));
        }
    }

    private int runVrrp(AgentConfig cfg, FlowFilter filter, Topics topics, ConntrackTable table, MirrorCounters counters,
                        CountDownLatch stopping, Live live) throws InterruptedException {
        KernelSettings.enableEventsForAllFlows();
        AgentConfig.Vrrp v = cfg.vrrp();
        List<java.net.InetAddress> addresses = v.vips().stream().map(AgentConfig.Vip::address).toList();
        java.net.InetAddress primary = VrrpInstance.primaryAddress(v.interfaceName(), v.ipv6(), addresses, v.unicastPeers());
        List<Vips> vips = new java.util.ArrayList<>();
        v.vips().stream().collect(java.util.stream.Collectors.groupingBy(AgentConfig.Vip::interfaceName,
                        java.util.LinkedHashMap::new, java.util.stream.Collectors.mapping(AgentConfig.Vip::cidr,
                                java.util.stream.Collectors.toList())))
                .forEach((dev, cidrs) -> vips.add(new Vips(dev, cidrs, v.announceRepeat())));
        Capture.Settings settings = captureSettings(cfg, filter, table);
        RecordPublisher publisher = publisher(cfg, topics);
        RoleController roles = new RoleController(new RoleController.Parts(table, publisher, cfg.kafka(), topics, settings,
                filter, cfg.timeoutGrace(), TAKEOVER_CATCH_UP, STARTUP_READ_TIMEOUT, vips, counters, Conntrack::open,
                auth));
        VrrpInstance vrrp = new VrrpInstance(new VrrpInstance.Setup(v.interfaceName(), new VirtualRouter.Settings(
                v.virtualRouterId(), v.priority(), v.intervalCentis(), v.preempt(), primary), v.advertised(), v.unicastPeers(),
                v.trackedInterfaces(), v.scripts()), state -> {
                    live.metrics.transition(state);
                    roles.onTransition(state);
                });
        live.follow(roles);
        live.vrrp = vrrp;
        live.requests = request -> handover(request, roles, vrrp);
        try {
            vrrp.start();
            return watch(stopping, counters, () -> vrrp.failure() != null ? vrrp.failure() : roles.failure(),
                    () -> "role=" + roles.role());
        } finally {
            live.requests = Live.NONE;
            roles.stopping();
            vrrp.close(); // a master advertises priority 0: the peer takes over within its skew time
            roles.close();
            publisher.close(Duration.ofSeconds(15));
        }
    }

    /** {@code zaro handover}: publish everything, then hand the VIPs over with a priority-0 advertisement. */
    private static String handover(String request, RoleController roles, VrrpInstance vrrp) {
        if (!request.equals("handover")) {
            return "error: unknown request '" + request + "': the agent knows 'status' and 'handover'";
        }
        try {
            if (!roles.drain(Duration.ofSeconds(10))) {
                return "error: this node is not the master: there is nothing to hand over";
            }
            if (!vrrp.handover().get(10, TimeUnit.SECONDS)) {
                return "error: this node stopped being master meanwhile";
            }
            log.info("handover: everything published; advertised priority 0, VIPs released");
            return "handed over: everything published, priority 0 advertised, VIPs released; this node stays backup for "
                    + VrrpInstance.HANDOVER_HOLDOFF.toMinutes() + " minutes";
        } catch (Exception e) {
            return "error: " + e.getMessage();
        }
    }

    /** The producer of every role, with its topics' metadata fetched before the first record. */
    private RecordPublisher publisher(AgentConfig cfg, Topics topics) {
        RecordPublisher publisher = new RecordPublisher(cfg.kafka(), topics, auth);
        if (!publisher.fetchMetadata()) {
            log.warn("the topics' partitions could not be read yet; the first records will wait for them");
        }
        return publisher;
    }

    /** keepalived mode: keepalived holds the VIPs; the role follows its notify FIFO, standby until it speaks. */
    private int runKeepalived(AgentConfig cfg, FlowFilter filter, Topics topics, ConntrackTable table,
                              MirrorCounters counters, CountDownLatch stopping, Live live) throws InterruptedException {
        KernelSettings.enableEventsForAllFlows();
        Capture.Settings settings = captureSettings(cfg, filter, table);
        RecordPublisher publisher = publisher(cfg, topics);
        RoleController roles = new RoleController(new RoleController.Parts(table, publisher, cfg.kafka(), topics, settings,
                filter, cfg.timeoutGrace(), TAKEOVER_CATCH_UP, STARTUP_READ_TIMEOUT, List.of(), counters,
                Conntrack::open, auth));
        String instance = cfg.keepalived().instance();
        java.util.function.Consumer<VirtualRouter.State> transition = state -> {
            live.metrics.transition(state);
            roles.onTransition(state);
        };
        KeepalivedFifo fifo = new KeepalivedFifo(cfg.keepalived().fifo(), instance, transition);
        live.follow(roles);
        java.util.concurrent.atomic.AtomicLong lastNotified = new java.util.concurrent.atomic.AtomicLong();
        live.requests = request -> keepalivedNotify(request, instance, transition, lastNotified);
        try {
            roles.onTransition(VirtualRouter.State.BACKUP);
            fifo.start();
            log.info("following keepalived's {} through {} and notify scripts on {}", instance, cfg.keepalived().fifo(),
                    cfg.controlSocket());
            return watch(stopping, counters, roles::failure, () -> "role=" + roles.role());
        } finally {
            live.requests = Live.NONE;
            roles.stopping();
            fifo.close();
            roles.close();
            publisher.close(Duration.ofSeconds(15));
        }
    }

    /**
     * {@code zaro keepalived-notify}, run by keepalived as its notify script, passes on the
     * transition as a FIFO line would say it, with {@code at=EPOCH_MILLIS}, when keepalived
     * started the script. keepalived does not wait for one notify script before it starts the
     * next, so a transition can arrive after a later one: it is dropped when it is older than
     * the last one applied ({@code lastNotified}), or a node that keepalived made MASTER would
     * follow a stale BACKUP and, mirroring, delete its own live flows as ghosts.
     */
    static synchronized String keepalivedNotify(String request, String instance,
                                                java.util.function.Consumer<VirtualRouter.State> transition,
                                                java.util.concurrent.atomic.AtomicLong lastNotified) {
        String prefix = "keepalived ";
        if (!request.startsWith(prefix)) {
            return "error: unknown request '" + request + "': in keepalived mode the agent knows 'status' and "
                    + "'keepalived TYPE \"NAME\" STATE'";
        }
        String line = request.substring(prefix.length());
        long at = 0;
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(" at=(\\d{1,18})$").matcher(line);
        if (m.find()) {
            at = Long.parseLong(m.group(1));
            line = line.substring(0, m.start());
        }
        if (at > 0 && at < lastNotified.get()) {
            log.warn("keepalived: {} (notify script started {} ms before the last one applied) ignored: keepalived ran "
                    + "its notify scripts out of order; notify_fifo keeps the order", line, lastNotified.get() - at);
            return "ignored: '" + line + "' is older than the last transition";
        }
        Optional<VirtualRouter.State> state = KeepalivedFifo.parse(line, instance);
        if (state.isEmpty()) {
            return "ignored: '" + line + "' is not a state of " + instance;
        }
        log.info("keepalived: {} (notify script)", line);
        lastNotified.accumulateAndGet(at, Math::max);
        transition.accept(state.get());
        return "following: " + line;
    }

    private int runStandby(AgentConfig cfg, FlowFilter filter, Topics topics, ConntrackTable table, MirrorCounters counters,
                           CountDownLatch stopping, Live live) throws InterruptedException {
        try (StateTopicReader state = new StateTopicReader(cfg.kafka(), topics, Duration.ofSeconds(60));
             Injector injector = new Injector(table, state, cfg.nodeId(), filter, cfg.timeoutGrace(), counters,
                     Clock.systemUTC(), auth)) {
            injector.start(STARTUP_READ_TIMEOUT);
            live.role = () -> "standby";
            live.kafkaLag = state::lastLag;
            return watch(stopping, counters, injector::failure, () -> "");
        }
    }

    /** What the metrics and {@code zaro status} read, set by whichever role runs. */
    static final class Live {
        static final Function<String, String> NONE = r -> "error: unknown request '" + r + "': the agent knows 'status'";
        volatile Supplier<String> role = () -> "none";
        volatile VrrpInstance vrrp;
        volatile LongSupplier queueDepth = () -> 0;
        volatile LongSupplier kafkaLag = () -> -1;
        volatile Function<String, String> requests = NONE;
        volatile AgentMetrics metrics;

        /** Role, queue and lag from a node that switches roles. */
        void follow(RoleController roles) {
            role = roles::role;
            queueDepth = roles::queueDepth;
            kafkaLag = roles::kafkaLag;
        }
    }

    /** The keys of {@code auth.key.file}, or null (and a warning) when there is none. */
    private static RecordAuth auth(AgentConfig cfg) {
        if (cfg.authKeyFile() == null) {
            log.warn("records are neither signed nor verified (no auth.key.file): whoever can write to the state topic "
                    + "can open flows in a standby's firewall");
            return null;
        }
        try {
            AuthKeys keys = AuthKeys.load(cfg.authKeyFile());
            log.info("records signed with key {} and verified with {} of {}", keys.signingId(), keys.ids(), cfg.authKeyFile());
            return new RecordAuth(keys);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("auth.key.file", e.getMessage());
        } catch (java.io.IOException e) {
            throw new ConfigException("auth.key.file", "cannot read the key file " + cfg.authKeyFile() + ": " + e.getMessage());
        }
    }

    private static ControlSocket control(AgentConfig cfg, Function<String, String> handler) {
        try {
            return new ControlSocket(cfg.controlSocket(), handler);
        } catch (java.io.IOException e) {
            throw new IllegalStateException("cannot open the control socket " + cfg.controlSocket() + ": " + e.getMessage()
                    + ": set control.socket to a path the agent may create", e);
        }
    }

    private static String formatAddress(java.net.InetSocketAddress a) {
        String host = a.getAddress().getHostAddress();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    /** The capture of this node: its events, less those its own socket (the injector's) caused. */
    private static Capture.Settings captureSettings(AgentConfig cfg, FlowFilter filter, ConntrackTable table) {
        return new Capture.Settings(cfg.nodeId(), filter, cfg.receiveBufferBytes(), cfg.queueCapacity(),
                cfg.refreshInterval(), cfg.timeoutGrace(), Set.of(table.portId()));
    }

    /** Logs the counters until asked to stop (0) or until the pipeline fails (1). */
    private int watch(CountDownLatch stopping, MirrorCounters counters, java.util.function.Supplier<Throwable> failure,
                      java.util.function.Supplier<String> extra) throws InterruptedException {
        while (!stopping.await(statusInterval, TimeUnit.SECONDS)) {
            Throwable f = failure.get();
            if (f != null) {
                log.error("mirroring stopped: {}", f.getMessage());
                return 1;
            }
            log.info("{} {}", counters, extra.get());
        }
        return 0;
    }
}

package io.zaro.agent.failover;

import io.zaro.agent.mirror.Capture;
import io.zaro.agent.mirror.Injector;
import io.zaro.agent.mirror.KernelTimeouts;
import io.zaro.agent.mirror.MirrorCounters;
import io.zaro.agent.vrrp.VirtualRouter;
import io.zaro.agent.vrrp.Vips;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.filter.FlowFilter;
import io.zaro.kafka.RecordPublisher;
import io.zaro.agent.mirror.ForeignRecordWatch;
import io.zaro.kafka.StateTopicReader;
import io.zaro.kafka.auth.RecordAuth;
import io.zaro.kafka.Topics;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Switches a node between mirroring (standby: the {@link Injector}) and publishing (active: the
 * {@link Capture}) as its virtual router changes state, on a thread of its own so that VRRP's
 * timing never waits for Kafka or the kernel.
 *
 * <p>Becoming master (issue 5's takeover order): the injector first consumes the state topic to
 * its end (at most {@code catchUp}), so the table is complete; then the VIPs are added and
 * announced; then mirrored timeouts are brought back to this kernel's defaults
 * ({@link KernelTimeouts}); then the capture starts, whose start-up resync publishes the whole table, mirrored
 * flows included, under this node's id. Becoming backup: the capture stops, the VIPs are
 * released, and the injector bootstraps from the new master's records.
 */
public final class RoleController implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RoleController.class);
    /** How long another node's records must have stopped before the active repairs the state topic. */
    private static final Duration SPLIT_BRAIN_QUIET = Duration.ofSeconds(5);

    /**
     * Everything both roles need. {@code tableOpener} opens another socket on the same table,
     * for a dump that runs while {@code table} takes updates. {@code auth} verifies what the
     * injector reads (null: records are taken unsigned).
     */
    public record Parts(ConntrackTable table, RecordPublisher publisher, Properties kafka, Topics topics,
                        Capture.Settings capture, FlowFilter filter, Duration timeoutGrace, Duration catchUp,
                        Duration startupRead, List<Vips> vips, MirrorCounters counters,
                        Supplier<ConntrackTable> tableOpener, RecordAuth auth) {
    }

    private final Parts parts;
    private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "zaro-role");
        t.setDaemon(true);
        return t;
    });
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    // Written by the worker thread only; volatile for the metrics and status readers.
    private volatile Capture capture;
    private volatile Injector injector;
    private volatile StateTopicReader injectorReader;
    private ForeignRecordWatch watch;
    private volatile String role = "none";
    private volatile boolean stopping;

    /** From now on transitions are ignored: the node is shutting down. */
    public void stopping() {
        stopping = true;
    }

    public RoleController(Parts parts) {
        this.parts = parts;
    }

    /** Called on the VRRP thread: queues the switch (none once stopping). */
    public void onTransition(VirtualRouter.State state) {
        if (stopping) {
            return;
        }
        worker.submit(() -> {
            try {
                if (state == VirtualRouter.State.MASTER) {
                    becomeActive();
                } else {
                    becomeStandby();
                }
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
                log.error("switching to {} failed", state, e);
            }
        });
    }

    /**
     * Before a planned handover: everything captured so far is published and acknowledged, so
     * the standby can have all of it before it takes over. Waits at most {@code timeout}.
     *
     * @return false when this node is not active
     */
    public boolean drain(Duration timeout) throws Exception {
        return worker.submit(() -> {
            if (capture == null) {
                return false;
            }
            if (!capture.awaitQueueEmpty(timeout)) {
                log.warn("handover: {} events still queued after {} s", capture.queueDepth(), timeout.toSeconds());
            }
            parts.publisher().flush();
            return true;
        }).get(timeout.toMillis() + 30_000, TimeUnit.MILLISECONDS);
    }

    public String role() {
        return role;
    }

    /** Events waiting in the capture's queue; 0 when not active. */
    public long queueDepth() {
        Capture c = capture;
        return c == null ? 0 : c.queueDepth();
    }

    /** Records the injector is behind the state topic's end; -1 when not mirroring. */
    public long kafkaLag() {
        StateTopicReader r = injectorReader;
        return r == null ? -1 : r.lastLag();
    }

    public Throwable failure() {
        Throwable f = failure.get();
        if (f == null && capture != null) {
            f = capture.failure();
        }
        if (f == null && injector != null) {
            f = injector.failure();
        }
        return f;
    }

    private void becomeActive() {
        if (capture != null) {
            return;
        }
        long started = System.nanoTime();
        boolean mirrored = injector != null;
        if (mirrored) {
            injector.catchUpAndClose(parts.catchUp());
            injector = null;
        }
        long caughtUp = System.nanoTime();
        parts.vips().forEach(Vips::add);
        long vipsAdded = System.nanoTime();
        closeInjectorReader(); // after the VIPs: closing a Kafka consumer takes its time
        if (mirrored) {
            shortenMirroredTimeouts();
        }
        capture = new Capture(parts.table(), parts.publisher(), parts.capture(), parts.counters(), Clock.systemUTC());
        try (StateTopicReader state = new StateTopicReader(parts.kafka(), parts.topics(), Duration.ofSeconds(60))) {
            capture.start(state, parts.startupRead());
        }
        watch = new ForeignRecordWatch(new StateTopicReader(parts.kafka(), parts.topics(), Duration.ofSeconds(60)),
                parts.capture().nodeId(), parts.auth(), SPLIT_BRAIN_QUIET, capture::foreignRecords);
        role = "active";
        log.info(parts.vips().isEmpty() ? "active (keepalived holds the VIPs), publishing ({} ms to take over: "
                        + "mirror caught up in {} ms, VIPs added in {} ms)"
                        : "active: VIPs held, publishing ({} ms to take over: mirror caught up in {} ms, VIPs added in {} ms)",
                (System.nanoTime() - started) / 1_000_000, (caughtUp - started) / 1_000_000,
                (vipsAdded - caughtUp) / 1_000_000);
    }

    /**
     * Brings mirrored timeouts (the old active's plus the grace) back to this kernel's defaults.
     * After the VIPs, not before: it reads and may update the whole table (about 1.2 s per
     * 100 000 flows), which would lengthen every flow's interruption, while a timeout too long
     * by at most the grace harms no packet. Before the capture, so the resync publishes the
     * shortened timeouts.
     */
    private void shortenMirroredTimeouts() {
        long started = System.nanoTime();
        try (ConntrackTable reader = parts.tableOpener().get()) {
            KernelTimeouts.Shortened s = KernelTimeouts.read(KernelTimeouts.PROC).shorten(reader, parts.table(),
                    parts.filter());
            log.info("takeover: {} of {} mirrored flows had timeouts beyond this kernel's defaults, shortened to them"
                    + " ({} failed, {} ms)", s.shortened(), s.examined(), s.failed(), (System.nanoTime() - started) / 1_000_000);
        } catch (RuntimeException e) {
            log.warn("takeover: cannot shorten mirrored timeouts to this kernel's defaults ({}); they stay up to "
                    + "mirror.timeout.grace.seconds too long", e.getMessage());
        }
    }

    private void becomeStandby() {
        if (injector != null) {
            return;
        }
        if (capture != null) {
            closeWatch();
            capture.close();
            capture = null;
            parts.publisher().flush();
        }
        parts.vips().forEach(Vips::remove);
        injectorReader = new StateTopicReader(parts.kafka(), parts.topics(), Duration.ofSeconds(60));
        injector = new Injector(parts.table(), injectorReader, parts.capture().nodeId(), parts.filter(),
                parts.timeoutGrace(), parts.counters(), Clock.systemUTC(), parts.auth());
        injector.start(parts.startupRead());
        role = "standby";
        log.info(parts.vips().isEmpty() ? "standby, mirroring" : "standby: VIPs released, mirroring");
    }

    private void closeWatch() {
        if (watch != null) {
            watch.close();
            watch = null;
        }
    }

    private void closeInjectorReader() {
        if (injectorReader != null) {
            injectorReader.close();
            injectorReader = null;
        }
    }

    /** Stops whichever role runs; the VIPs are released. */
    @Override
    public void close() {
        stopping = true;
        worker.submit(() -> {
            if (capture != null) {
                closeWatch();
                capture.close();
                capture = null;
            }
            if (injector != null) {
                injector.close();
                injector = null;
                closeInjectorReader();
            }
            parts.vips().forEach(Vips::remove);
        });
        worker.shutdown();
        try {
            worker.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

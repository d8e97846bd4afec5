package io.zaro.agent.mirror;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent;
import io.zaro.conntrack.ConntrackEventListener;
import io.zaro.conntrack.ConntrackException;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.EventOptions;
import io.zaro.conntrack.EventSubscription;
import io.zaro.conntrack.Family;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.filter.FlowFilter;
import io.zaro.kafka.RecordPublisher;
import io.zaro.kafka.StateTopicReader;
import io.zaro.kafka.record.FlowId;
import io.zaro.kafka.record.FlowRecord;
import io.zaro.kafka.record.FlowRecordCodec;
import io.zaro.kafka.record.MalformedRecordException;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Iterator;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The active node's half of mirroring: kernel events in, records out.
 *
 * <p>Two threads and a bounded queue between them. The subscription's reader thread filters each
 * event and puts it on the queue, blocking while the queue is full: the kernel then keeps events
 * in the socket's receive buffer, and when that overflows it reports the loss (ENOBUFS). The
 * publisher thread turns events into records and hands them to the producer, whose own buffer
 * blocks it in turn while Kafka stalls. Nothing is dropped without a resync following: a loss
 * reported by the kernel or a record Kafka did not take marks the table out of sync, and the
 * publisher thread dumps the table, publishes every flow and tombstones every key of the state
 * topic that the table no longer has. The same resync runs at start (the start-up sweep).
 *
 * <p>Timeouts: traffic refreshes a flow's timeout on the active without any event. Every
 * {@code refreshInterval} the publisher thread reads the table and republishes, to the state
 * topic only, each flow whose timeout traffic has extended and whose copy on the standby (which
 * adds {@code timeoutGrace}) would otherwise run out within two intervals.
 *
 * <p>The publisher thread owns the ledger (what the state topic holds, and the expiry the
 * standby was last told for each flow) and the sequence counter.
 */
public final class Capture implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Capture.class);
    private static final Object RESYNC = new Object();
    private static final Object REFRESH = new Object();
    private static final Duration MIN_RESYNC_SPACING = Duration.ofSeconds(5);
    private static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(10);

    /** What the capture needs to know besides its collaborators. */
    public record Settings(String nodeId, FlowFilter filter, int receiveBufferBytes, int queueCapacity,
                           Duration refreshInterval, Duration timeoutGrace, Set<Integer> ignoredPortIds) {
        public Settings {
            ignoredPortIds = Set.copyOf(ignoredPortIds);
        }
    }

    private final ConntrackTable table;
    private final RecordPublisher publisher;
    private final Settings settings;
    private final MirrorCounters counters;
    private final Clock clock;
    private final BlockingQueue<Object> queue;
    private final AtomicBoolean resyncWanted = new AtomicBoolean();
    private final AtomicBoolean refreshWanted = new AtomicBoolean();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    /** Keys whose tombstone Kafka did not take: written by producer callbacks, merged into the ledger by the publisher thread. */
    private final Set<ByteBuffer> failedTombstones = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile boolean draining;
    private final Thread publisherThread;
    private volatile boolean running;
    private EventSubscription subscription;

    // Owned by the publisher thread (and by start() before that thread runs).
    private final FlowLedger ledger = new FlowLedger();
    private long sequence;
    /** During a refresh's dump: keys published meanwhile are marked in the ledger as in the table. */
    private boolean sweeping;
    private long lastResyncNanos;
    private long nextRefreshNanos;

    public Capture(ConntrackTable table, RecordPublisher publisher, Settings settings, MirrorCounters counters, Clock clock) {
        this.table = table;
        this.publisher = publisher;
        this.settings = settings;
        this.counters = counters;
        this.clock = clock;
        this.queue = new ArrayBlockingQueue<>(settings.queueCapacity());
        this.publisherThread = new Thread(this::publishLoop, "zaro-publisher");
        this.publisherThread.setDaemon(true);
    }

    /**
     * Subscribes to the table's events, learns from the state topic which flows it holds, and
     * starts publishing with a start-up resync.
     *
     * @param state a reader of the state topic, read to its end here and closed by the caller
     * @param readTimeout how long reading it may take
     */
    public void start(StateTopicReader state, Duration readTimeout) {
        running = true;
        subscription = table.listen(EventOptions.defaults().withReceiveBufferBytes(settings.receiveBufferBytes()),
                new Listener());
        long[] maxOwnSequence = {-1};
        long records = state.readToEnd(Duration.ofMillis(500), readTimeout, batch -> {
            for (ConsumerRecord<byte[], byte[]> r : batch) {
                learn(r, maxOwnSequence);
            }
        });
        long nowMicros = ChronoUnit.MICROS.between(Instant.EPOCH, clock.instant());
        sequence = Math.max(maxOwnSequence[0] + 1, nowMicros);
        log.info("state topic: {} records read, {} flows held; publishing as node {} from sequence {}",
                records, ledger.size(), settings.nodeId(), sequence);
        resyncWanted.set(true);
        lastResyncNanos = System.nanoTime() - MIN_RESYNC_SPACING.toNanos();
        nextRefreshNanos = System.nanoTime() + settings.refreshInterval().toNanos();
        publisherThread.start();
    }

    private void learn(ConsumerRecord<byte[], byte[]> r, long[] maxOwnSequence) {
        if (r.key() == null) {
            return;
        }
        byte[] key = r.key();
        if (r.value() == null) {
            ledger.remove(key);
            return;
        }
        try {
            FlowRecord record = FlowRecordCodec.decode(r.value());
            Long timeout = record.entry().timeout();
            ledger.put(key, timeout == null ? Long.MAX_VALUE : record.timestamp().getEpochSecond() + timeout);
            if (record.nodeId().equals(settings.nodeId())) {
                maxOwnSequence[0] = Math.max(maxOwnSequence[0], record.sequence());
            }
        } catch (MalformedRecordException e) {
            // Held all the same: the resync replaces or tombstones it.
            ledger.put(key, Long.MIN_VALUE);
        }
    }

    /** The error that stopped capturing (the subscription or the publisher thread), if any. */
    public Throwable failure() {
        return failure.get();
    }

    /**
     * Waits until the events queued so far are handed to the producer (at most {@code timeout});
     * the caller then flushes the producer. The drain before a planned handover.
     *
     * @return whether the queue emptied in time
     */
    public boolean awaitQueueEmpty(Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (!queue.isEmpty()) {
            if (System.nanoTime() - end > 0) {
                return false;
            }
            Thread.sleep(5);
        }
        return true;
    }

    /** Events waiting for the publisher thread. */
    public int queueDepth() {
        return queue.size();
    }

    /**
     * Another node published {@code keys} to the state topic while this one is active (a split
     * brain, or a peer that took over meanwhile): resynchronise, publishing this node's whole
     * table and tombstoning those keys where this table lacks them, so that the topic, and the
     * standbys that read it, hold this node's table again.
     */
    public void foreignRecords(java.util.Collection<ByteBuffer> keys) {
        failedTombstones.addAll(keys);
        requestResync();
    }

    /** Asks for a resync at the publisher thread's next turn, as an event loss would. */
    public void requestResync() {
        resyncWanted.set(true);
    }

    private final class Listener implements ConntrackEventListener {
        @Override
        public void onEvent(ConntrackEvent event) {
            counters.captured.incrementAndGet();
            if (settings.ignoredPortIds().contains(event.originPortId())) {
                counters.ownInjections.incrementAndGet();
                return;
            }
            // An UPDATE without its protocol state is completed, then filtered, by the publisher thread.
            if (!incomplete(event) && !settings.filter().accepts(event.entry())) {
                counters.filtered.incrementAndGet();
                return;
            }
            try {
                // Blocks while the queue is full (the kernel buffers meanwhile), but not past close().
                while (running && !queue.offer(event, 100, TimeUnit.MILLISECONDS)) {
                    // waiting for the publisher thread
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void onEventLoss(long lossCount) {
            counters.eventLoss.incrementAndGet();
            resyncWanted.set(true);
        }

        @Override
        public void onFailure(ConntrackException error) {
            log.error("the conntrack event subscription failed: {}", error.getMessage());
            failure.compareAndSet(null, error);
        }
    }

    private void publishLoop() {
        while (running || draining) {
            try {
                long now = System.nanoTime();
                if (draining) {
                    // Stopping: publish what the reader queued before it stopped, then end.
                    Object item = queue.poll();
                    if (item == null) {
                        return;
                    }
                    if (item instanceof ConntrackEvent event) {
                        publishEvent(event);
                    }
                    continue;
                }
                if (resyncWanted.get() && now - lastResyncNanos >= MIN_RESYNC_SPACING.toNanos()) {
                    resyncWanted.set(false);
                    lastResyncNanos = now;
                    resync();
                    continue;
                }
                if (now - nextRefreshNanos >= 0) {
                    nextRefreshNanos = now + settings.refreshInterval().toNanos();
                    refresh();
                    continue;
                }
                Object item = queue.poll(200, TimeUnit.MILLISECONDS);
                if (item instanceof ConntrackEvent event) {
                    publishEvent(event);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                // A kernel or Kafka error in one turn: resynchronise on the next rather than stop.
                log.warn("publisher: {}; resynchronising", e.toString());
                resyncWanted.set(true);
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
                log.error("publisher thread stopped", e);
                return;
            }
        }
    }

    private void publishEvent(ConntrackEvent event) {
        ConntrackEntry entry = event.entry();
        ConntrackEvent.Type type = event.type();
        if (incomplete(event)) {
            // An UPDATE event carries only what changed; the state topic needs the whole flow.
            var current = table.get(entry.original(), entry.zone());
            if (current.isEmpty()) {
                return; // gone already: its DESTROY follows
            }
            entry = current.get();
        }
        ByteBuffer key = ByteBuffer.wrap(FlowRecordCodec.encodeKey(entry));
        if (incomplete(event) && !settings.filter().accepts(entry)) {
            counters.filtered.incrementAndGet();
            if (!ledger.contains(key.array())) {
                return;
            }
            // It was mirrored and has left the filter (a TCP state, a mark): the standby drops it.
            type = ConntrackEvent.Type.DESTROY;
        }
        FlowRecord record = record(type, entry);
        send(record, key, true);
        if (type == ConntrackEvent.Type.DESTROY) {
            ledger.remove(key.array());
        } else {
            ledger.put(key.array(), expiry(record));
            if (sweeping) {
                ledger.mark(key.array()); // published during a refresh's dump: not a flow to tombstone
            }
        }
    }

    private static boolean incomplete(ConntrackEvent event) {
        return event.type() == ConntrackEvent.Type.UPDATE && lacksProtocolState(event.entry());
    }

    private static boolean lacksProtocolState(ConntrackEntry e) {
        return (e.protocol().equals(IpProtocol.TCP) && e.tcp() == null)
                || (e.protocol().equals(IpProtocol.SCTP) && e.sctp() == null);
    }

    private static long expiry(FlowRecord r) {
        Long timeout = r.entry().timeout();
        return timeout == null ? Long.MAX_VALUE : r.timestamp().getEpochSecond() + timeout;
    }

    /** The next record of this node's sequence. */
    private FlowRecord record(ConntrackEvent.Type type, ConntrackEntry entry) {
        return new FlowRecord(type, settings.nodeId(), sequence++, clock.instant(), entry);
    }

    /** Hands the record, under its encoded {@code key}, to the producer: both topics, or ({@code audit} false) the state topic. */
    private void send(FlowRecord record, ByteBuffer key, boolean audit) {
        byte[] k = key.array();
        CompletableFuture<Void> done = audit ? publisher.publish(record, k) : publisher.publishState(record, k);
        done.whenComplete((ok, error) -> {
            if (error == null) {
                counters.published.incrementAndGet();
            } else {
                counters.publishFailed.incrementAndGet();
                if (record.type() == ConntrackEvent.Type.DESTROY) {
                    failedTombstones.add(key);
                }
                if (!resyncWanted.getAndSet(true)) {
                    log.warn("Kafka did not take a record ({}); the table will be resynchronised", error.getMessage());
                }
            }
        });
    }

    /**
     * Publishes the whole table and tombstones the keys it no longer has. Events queued before the
     * dump began are dropped first: the dump supersedes them.
     */
    private void resync() {
        long started = System.nanoTime();
        queue.clear();
        ledger.beginSweep();
        long[] flows = {0};
        table.dump(Family.ALL, entry -> {
            if (!settings.filter().accepts(entry)) {
                return;
            }
            FlowRecord record = record(ConntrackEvent.Type.UPDATE, entry);
            ByteBuffer key = ByteBuffer.wrap(FlowRecordCodec.encodeKey(entry));
            send(record, key, true);
            ledger.put(key.array(), expiry(record));
            ledger.mark(key.array());
            flows[0]++;
        });
        long tombstones = tombstoneAbsent();
        counters.resyncs.incrementAndGet();
        log.info("resync: {} flows published, {} gone flows tombstoned, in {} ms",
                flows[0], tombstones, (System.nanoTime() - started) / 1_000_000);
    }

    /**
     * Republishes flows whose timeout traffic extended before the standby's copy runs out, and
     * tombstones flows that left the table without an event. The kernel sends no event at all for
     * a flow created while nobody listened with {@code nf_conntrack_events=2} (the default); this
     * sweep catches such flows within one interval.
     */
    private void refresh() {
        long now = clock.instant().getEpochSecond();
        long horizon = now + 2 * settings.refreshInterval().toSeconds() - settings.timeoutGrace().toSeconds();
        long[] refreshed = {0};
        long[] seen = {0};
        ledger.beginSweep();
        sweeping = true;
        try {
            table.dump(Family.ALL, entry -> {
                if (++seen[0] % 512 == 0) {
                    // A large table takes seconds to read: keep events flowing meanwhile.
                    publishQueuedDuringDump();
                }
                refreshOne(entry, now, horizon, refreshed);
            });
        } finally {
            sweeping = false;
        }
        counters.refreshed.addAndGet(refreshed[0]);
        long tombstones = tombstoneAbsent();
        if (tombstones > 0) {
            log.info("refresh: {} flows left the table without an event; tombstoned", tombstones);
        }
    }

    /**
     * Publishes queued events from inside a refresh's dump, in order, up to the first one that
     * needs the table (an incomplete UPDATE: no request may be made while a dump runs).
     */
    private void publishQueuedDuringDump() {
        for (int i = 0; i < 4096; i++) {
            Object item = queue.peek();
            if (!(item instanceof ConntrackEvent event) || incomplete(event)) {
                return;
            }
            queue.poll();
            publishEvent(event);
        }
    }

    private void refreshOne(ConntrackEntry entry, long now, long horizon, long[] refreshed) {
        if (!settings.filter().accepts(entry)) {
            return;
        }
        ByteBuffer key = ByteBuffer.wrap(FlowRecordCodec.encodeKey(entry));
        ledger.mark(key.array());
        if (entry.timeout() == null) {
            return;
        }
        long told = ledger.get(key.array());
        long expiry = now + entry.timeout();
        // A flow without a ledger entry has its NEW event still queued: that publishes it.
        if (told != FlowLedger.ABSENT && told < horizon && expiry > told) {
            send(record(ConntrackEvent.Type.UPDATE, entry), key, false);
            ledger.put(key.array(), expiry);
            refreshed[0]++;
        }
    }

    /**
     * Tombstones every flow of the ledger the sweep's dump did not mark, and every key whose
     * tombstone Kafka did not take (or another node published) unless the table holds its flow
     * now; returns how many.
     */
    private long tombstoneAbsent() {
        for (Iterator<ByteBuffer> it = failedTombstones.iterator(); it.hasNext(); ) {
            byte[] key = it.next().array();
            it.remove();
            ledger.putIfAbsent(key, Long.MIN_VALUE);
            if (inTable(key)) {
                ledger.mark(key);
            }
        }
        long tombstones = ledger.sweepUnmarked(key -> {
            try {
                FlowId id = FlowRecordCodec.decodeKey(key);
                send(record(ConntrackEvent.Type.DESTROY, id.bareEntry()), ByteBuffer.wrap(key), true);
            } catch (MalformedRecordException e) {
                log.warn("state topic holds a key that is not a zaro key; it is left alone: {}", e.getMessage());
            }
        });
        counters.swept.addAndGet(tombstones);
        return tombstones;
    }

    /** Whether the table holds the flow of this key now, the filter accepting it. */
    private boolean inTable(byte[] key) {
        try {
            FlowId id = FlowRecordCodec.decodeKey(key);
            return table.get(id.original(), id.zone()).filter(settings.filter()::accepts).isPresent();
        } catch (MalformedRecordException e) {
            return false;
        }
    }

    /**
     * Stops capturing: closes the subscription, publishes the events already queued (for at most
     * 10 s), and stops the publisher thread. Records handed to the producer
     * are flushed by the caller.
     */
    @Override
    public void close() {
        if (!running) {
            return;
        }
        draining = true;
        running = false;
        if (subscription != null) {
            subscription.close();
        }
        try {
            publisherThread.join(DRAIN_TIMEOUT.toMillis());
            if (publisherThread.isAlive()) {
                log.warn("{} queued events not published within {} s of stopping; the next start's resync covers them",
                        queue.size(), DRAIN_TIMEOUT.toSeconds());
                draining = false;
                publisherThread.interrupt();
                publisherThread.join(2_000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

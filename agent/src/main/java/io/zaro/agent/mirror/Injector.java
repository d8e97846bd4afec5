package io.zaro.agent.mirror;

import io.zaro.conntrack.BatchResult;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackException;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.Family;
import io.zaro.conntrack.filter.FlowFilter;
import io.zaro.kafka.StateTopicReader;
import io.zaro.kafka.record.FlowId;
import io.zaro.kafka.record.FlowRecord;
import io.zaro.kafka.record.FlowRecordCodec;
import io.zaro.kafka.auth.RecordAuth;
import io.zaro.kafka.record.MalformedRecordException;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The standby's half of mirroring: state-topic records in, kernel entries out.
 *
 * <p>At start it bootstraps: reads the compacted state topic from its beginning to its end,
 * injecting each flow, then deletes every entry of its own table that the filter would mirror
 * but the topic does not hold (ghosts left from before a restart), once the topic holds a
 * record of another node (before that, this kernel's flows are its own, perhaps live). Then it
 * follows the topic.
 *
 * <p>Injection is idempotent, as conntrackd's is: a create of an existing flow updates it, an
 * update of a missing flow creates it, a delete of a missing flow is fine; each outcome is
 * counted. Records published by this node itself are ignored, as are records the filter does
 * not accept and records that do not decode. A mirrored entry's timeout is the one the active
 * reported, less the record's age, plus {@code timeoutGrace}: the active republishes a flow
 * whose timeout traffic extends before that runs out (see {@link Capture}), and a flow the
 * active loses without telling (its agent is down) leaves the standby at the latest
 * {@code timeout + timeoutGrace} after its last record.
 *
 * <p>All work happens on the injector's own thread, which owns the reader.
 */
public final class Injector implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Injector.class);
    private static final int ERRNO_EEXIST = 17;
    private static final int ERRNO_ENOENT = 2;
    private static final long LOG_SPACING_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final ConntrackTable table;
    private final StateTopicReader reader;
    private final String nodeId;
    private final FlowFilter filter;
    private final Duration timeoutGrace;
    private final MirrorCounters counters;
    private final Clock clock;
    private final Thread thread;
    private final CountDownLatch bootstrapped = new CountDownLatch(1);
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean running;
    /** Non-zero once {@link #catchUpAndClose} asked the thread to stop at the topic's end (a nanoTime deadline). */
    private volatile long catchUpDeadline;
    private long lastProblemLog;
    private final RecordAuth auth;
    /** Owned by the injector thread: the highest signed sequence number seen of each node in each partition. */
    private final Map<String, Long> highestSequence = new HashMap<>();
    /**
     * Owned by the injector thread: whether the bootstrap read a record of another node. Until
     * some node published, flows the topic lacks are not ghosts: zaro's first start on a
     * firewall that already forwards must not delete its table.
     */
    private boolean peerSeen;
    /** Owned by the injector thread: true until the bootstrap's end, and the creates that clashed meanwhile. */
    private boolean bootstrapping = true;
    private Duration bootstrapTimeout;
    private final List<ConntrackEntry> clashed = new ArrayList<>();

    public Injector(ConntrackTable table, StateTopicReader reader, String nodeId, FlowFilter filter, Duration timeoutGrace,
                    MirrorCounters counters, Clock clock) {
        this(table, reader, nodeId, filter, timeoutGrace, counters, clock, null);
    }

    /**
     * @param auth verifies each record's signature before anything else is read of it; null to
     *     take unsigned records (no authentication)
     */
    public Injector(ConntrackTable table, StateTopicReader reader, String nodeId, FlowFilter filter, Duration timeoutGrace,
                    MirrorCounters counters, Clock clock, RecordAuth auth) {
        this.auth = auth;
        this.table = table;
        this.reader = reader;
        this.nodeId = nodeId;
        this.filter = filter;
        this.timeoutGrace = timeoutGrace;
        this.counters = counters;
        this.clock = clock;
        this.thread = new Thread(this::run, "zaro-injector");
        this.thread.setDaemon(true);
    }

    /** Starts the injector thread; the bootstrap fails the injector when it takes longer than {@code bootstrapTimeout}. */
    public void start(Duration bootstrapTimeout) {
        this.bootstrapTimeout = bootstrapTimeout;
        running = true;
        thread.start();
    }

    /** Waits until the bootstrap is done; false on timeout. */
    public boolean awaitBootstrap(Duration timeout) throws InterruptedException {
        return bootstrapped.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** The error that stopped the injector, if any. */
    public Throwable failure() {
        return failure.get();
    }

    private void run() {
        try {
            bootstrap();
            bootstrapped.countDown();
            while (running) {
                ConsumerRecords<byte[], byte[]> batch;
                try {
                    batch = reader.poll(Duration.ofMillis(catchUpDeadline == 0 ? 500 : 50));
                } catch (WakeupException e) {
                    if (!running) {
                        return; // closing
                    }
                    batch = ConsumerRecords.empty(); // a takeover: catch up now, not after the poll's 500 ms
                }
                if (!batch.isEmpty()) {
                    apply(batch, null);
                }
                if (catchUpDeadline != 0 && (reader.lag() == 0 || System.nanoTime() - catchUpDeadline > 0)) {
                    long lag = reader.lag();
                    if (lag > 0) {
                        log.warn("stopping with {} records of the state topic not yet injected", lag);
                    }
                    return;
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (Throwable e) {
            if (running) {
                failure.compareAndSet(null, e);
                log.error("injector stopped", e);
            }
        }
    }

    /**
     * Reads the state topic to its end, injecting each flow, then deletes the ghosts (the flows
     * of this kernel that the filter would mirror but the topic does not hold).
     */
    private void bootstrap() {
        long started = System.nanoTime();
        // The keys as the ledger holds them: at 1 000 000 flows a HashSet of ByteBuffers took some
        // 130 bytes a key, all of it for the collector to copy and promote during the bootstrap.
        FlowLedger held = new FlowLedger();
        long records = reader.readToEnd(Duration.ofMillis(500), bootstrapTimeout, batch -> apply(batch, held));
        long ghosts;
        if (peerSeen) {
            ghosts = deleteGhosts(held);
        } else {
            ghosts = 0;
            log.info("bootstrap: the state topic holds no record of another node, so this kernel's flows are "
                    + "left alone: on a firewall that forwards them, they are live, not ghosts");
        }
        bootstrapping = false;
        clashed.forEach(this::createOrReplace);
        clashed.clear();
        log.info("bootstrap: {} records read, {} flows held, {} ghosts deleted, in {} ms",
                records, held.size(), ghosts, (System.nanoTime() - started) / 1_000_000);
    }

    private long deleteGhosts(FlowLedger held) {
        List<ConntrackEntry> ghosts = new ArrayList<>();
        table.dump(Family.ALL, e -> {
            if (filter.accepts(e) && !held.contains(FlowRecordCodec.encodeKey(e))) {
                ghosts.add(e);
            }
        });
        try {
            BatchResult result = table.deleteAll(ghosts);
            counters.ghostsDeleted.addAndGet(result.succeeded());
        } catch (RuntimeException e) {
            for (ConntrackEntry g : ghosts) {
                if (deleteQuietly(g.original(), g.zone())) {
                    counters.ghostsDeleted.incrementAndGet();
                }
            }
        }
        return ghosts.size();
    }

    /** What one batch asks for one flow: its last state (null: delete), and whether a delete came first. */
    private static final class Op {
        ConntrackEntry entry;
        boolean deleteFirst;
        boolean preferUpdate;
    }

    /**
     * Applies one batch. Within a batch only each flow's last record counts (they are the
     * flow's successive states, in order), except that a delete followed by a new state deletes
     * first: the flow ended and its tuple was used again, perhaps with other NAT. Then creates go
     * to the kernel batched.
     *
     * @param held during the bootstrap, the keys whose latest record is a live flow; else null
     */
    void apply(ConsumerRecords<byte[], byte[]> batch, FlowLedger held) {
        Map<ByteBuffer, Op> latest = new LinkedHashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : batch) {
            counters.consumed.incrementAndGet();
            if (r.key() == null) {
                counters.rejectedMalformed.incrementAndGet();
                problem("record without a key at {}-{}@{}", r.topic(), r.partition(), r.offset());
                continue;
            }
            ByteBuffer key = ByteBuffer.wrap(r.key());
            if ((r.value() != null && r.value().length > FlowRecordCodec.MAX_RECORD_BYTES)
                    || r.key().length > FlowRecordCodec.MAX_RECORD_BYTES) {
                counters.rejectedOversized.incrementAndGet();
                problem("rejected record at {}-{}@{}: larger than {} bytes", r.topic(), r.partition(), r.offset(),
                        FlowRecordCodec.MAX_RECORD_BYTES);
                continue;
            }
            String signedBy = null;
            long signedSequence = 0;
            if (auth != null) {
                RecordAuth.Verdict verdict = auth.verify(r.key(), r.value(), r.headers());
                if (verdict != RecordAuth.Verdict.VALID) {
                    (verdict == RecordAuth.Verdict.UNSIGNED ? counters.rejectedUnsigned : counters.rejectedForged)
                            .incrementAndGet();
                    problem("rejected record at {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), switch (verdict) {
                        case UNSIGNED -> "it is not signed";
                        case UNKNOWN_KEY -> "it is signed with a key this node does not have";
                        default -> "its signature does not match: it was changed or forged";
                    });
                    continue;
                }
                signedBy = RecordAuth.node(r.headers());
                signedSequence = RecordAuth.sequence(r.headers());
                String where = signedBy + "\0" + r.partition();
                Long highest = highestSequence.get(where);
                if (highest != null && signedSequence <= highest) {
                    counters.rejectedReplayed.incrementAndGet();
                    problem("rejected record at {}-{}@{}: sequence number {} of {} after {}: replayed", r.topic(),
                            r.partition(), r.offset(), signedSequence, signedBy, highest);
                    continue;
                }
                highestSequence.put(where, signedSequence);
            }
            if (r.value() == null) {
                peerSeen |= signedBy == null || !signedBy.equals(nodeId);
                delete(latest, key);
                continue;
            }
            FlowRecord record;
            try {
                record = FlowRecordCodec.decode(r.value());
            } catch (MalformedRecordException e) {
                counters.rejectedMalformed.incrementAndGet();
                latest.remove(key);
                problem("rejected record at {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
                continue;
            }
            if (signedBy != null && (!signedBy.equals(record.nodeId()) || signedSequence != record.sequence())) {
                counters.rejectedForged.incrementAndGet();
                latest.remove(key);
                problem("rejected record at {}-{}@{}: its signature names another node or sequence number than it holds",
                        r.topic(), r.partition(), r.offset());
                continue;
            }
            if (!java.util.Arrays.equals(r.key(), FlowRecordCodec.encodeKey(record.entry()))) {
                counters.rejectedMalformed.incrementAndGet();
                latest.remove(key);
                problem("rejected record at {}-{}@{}: its key is not its flow's", r.topic(), r.partition(), r.offset());
                continue;
            }
            peerSeen |= !record.nodeId().equals(nodeId);
            if (record.nodeId().equals(nodeId)) {
                // This node published it while it was master: not injected, but not a ghost either.
                // The new master's resync republishes the flow or tombstones it.
                counters.ignoredOwnNode.incrementAndGet();
                latest.remove(key);
                if (held != null) {
                    held.put(r.key(), 0);
                }
                continue;
            }
            if (!filter.accepts(record.entry())) {
                counters.rejectedFiltered.incrementAndGet();
                if (filter.decidesOnKey()) {
                    latest.remove(key); // outside the networks, protocols or zones: never mirrored here
                } else {
                    // A flow the filter no longer accepts (a TCP state or mark it left) is no longer mirrored.
                    delete(latest, key);
                }
                continue;
            }
            if (record.type() == io.zaro.conntrack.ConntrackEvent.Type.DESTROY) {
                delete(latest, key);
                continue;
            }
            ConntrackEntry mirrored = withMirroredTimeout(record);
            if (mirrored == null) {
                counters.expired.incrementAndGet();
                delete(latest, key);
                continue;
            }
            Op op = latest.get(key);
            if (op == null) {
                op = new Op();
                latest.put(key, op);
            } else if (op.entry == null) {
                op.deleteFirst = true;
            }
            op.entry = mirrored;
            op.preferUpdate = held == null && record.type() == io.zaro.conntrack.ConntrackEvent.Type.UPDATE;
        }
        List<ByteBuffer> deletes = new ArrayList<>();
        List<ConntrackEntry> creates = new ArrayList<>();
        List<ConntrackEntry> updates = new ArrayList<>();
        for (Map.Entry<ByteBuffer, Op> e : latest.entrySet()) {
            Op op = e.getValue();
            if (op.entry == null) {
                if (held != null) {
                    held.remove(e.getKey().array());
                }
                deletes.add(e.getKey());
                continue;
            }
            if (held != null) {
                held.put(e.getKey().array(), 0);
            }
            if (op.deleteFirst) {
                deletes.add(e.getKey());
                creates.add(op.entry);
            } else if (op.preferUpdate) {
                updates.add(op.entry);
            } else {
                creates.add(op.entry);
            }
        }
        deleteAll(deletes); // first: a flow deleted and created again in this batch is created after
        createAll(creates);
        updateAll(updates);
    }

    /**
     * Deletes the flows of these keys. When the filter decides on a key alone, they go to the
     * kernel batched; else each is read first, for the filter decides on the kernel's entry.
     */
    private void deleteAll(List<ByteBuffer> keys) {
        if (keys.isEmpty()) {
            return;
        }
        if (!filter.decidesOnKey()) {
            keys.forEach(this::delete);
            return;
        }
        List<ConntrackEntry> flows = new ArrayList<>(keys.size());
        for (ByteBuffer key : keys) {
            FlowId id;
            try {
                id = FlowRecordCodec.decodeKey(key.array());
            } catch (MalformedRecordException e) {
                counters.rejectedMalformed.incrementAndGet();
                problem("rejected tombstone: {}", e.getMessage());
                continue;
            }
            ConntrackEntry flow = id.bareEntry();
            if (filter.accepts(flow)) {
                flows.add(flow);
            } else {
                counters.rejectedFiltered.incrementAndGet();
            }
        }
        BatchResult result;
        try {
            result = table.deleteAll(flows);
        } catch (RuntimeException e) {
            // The batch did not go out whole; one by one, a failure costs only its flow.
            flows.forEach(f -> {
                if (deleteQuietly(f.original(), f.zone())) {
                    counters.deleted.incrementAndGet();
                } else {
                    counters.deleteMissing.incrementAndGet();
                }
            });
            return;
        }
        for (int i = 0; i < result.size(); i++) {
            int errno = result.errno(i);
            if (errno == 0) {
                counters.deleted.incrementAndGet();
            } else if (errno == ERRNO_ENOENT) {
                counters.deleteMissing.incrementAndGet();
            } else {
                counters.injectFailed.incrementAndGet();
                problem("cannot delete {}: errno {}", flows.get(i).original(), errno);
            }
        }
    }

    private void updateAll(List<ConntrackEntry> entries) {
        if (entries.isEmpty()) {
            return;
        }
        BatchResult result;
        try {
            result = table.updateAll(entries);
        } catch (RuntimeException e) {
            entries.forEach(this::updateOrCreate);
            return;
        }
        for (int i = 0; i < result.size(); i++) {
            int errno = result.errno(i);
            if (errno == 0) {
                counters.updated.incrementAndGet();
            } else if (errno == ERRNO_ENOENT) {
                if (createOnce(entries.get(i)) == Outcome.EXISTS) {
                    clash(entries.get(i));
                }
            } else {
                counters.injectFailed.incrementAndGet();
                problem("cannot update {}: errno {}", entries.get(i), errno);
            }
        }
    }

    private static void delete(Map<ByteBuffer, Op> latest, ByteBuffer key) {
        Op op = latest.computeIfAbsent(key, k -> new Op());
        op.entry = null;
        op.deleteFirst = false;
    }

    /** The entry with the timeout the standby keeps, or null when it has run out already. */
    private ConntrackEntry withMirroredTimeout(FlowRecord r) {
        Long timeout = r.entry().timeout();
        long age = Math.max(0, clock.instant().getEpochSecond() - r.timestamp().getEpochSecond());
        long remaining = (timeout == null ? 0 : timeout) - age + timeoutGrace.toSeconds();
        if (remaining <= 0) {
            return null;
        }
        return r.entry().toBuilder().timeout(Math.min(remaining, 0xffffffffL)).id(null).use(null).build();
    }

    private void createAll(List<ConntrackEntry> entries) {
        if (entries.isEmpty()) {
            return;
        }
        BatchResult result;
        try {
            result = table.createAll(entries);
        } catch (RuntimeException e) {
            // The batch did not go out whole; one by one, a bad entry costs only itself.
            entries.forEach(this::createOrReplace);
            return;
        }
        for (int i = 0; i < result.size(); i++) {
            int errno = result.errno(i);
            if (errno == 0) {
                counters.created.incrementAndGet();
            } else if (errno == ERRNO_EEXIST) {
                replaceOrUpdate(entries.get(i));
            } else {
                counters.injectFailed.incrementAndGet();
                problem("cannot create {}: errno {}", entries.get(i), errno);
            }
        }
    }

    private void createOrReplace(ConntrackEntry e) {
        Outcome o = createOnce(e);
        if (o == Outcome.EXISTS) {
            replaceOrUpdate(e);
        }
    }

    /**
     * The flow exists: update it, unless what an update cannot change (the reply tuple, that
     * is NAT, or the helper) differs; then the old flow ended and this is a new one on the same
     * tuple, so it is deleted and created.
     */
    private void replaceOrUpdate(ConntrackEntry e) {
        java.util.Optional<ConntrackEntry> existing;
        try {
            existing = table.get(e.original(), e.zone());
        } catch (RuntimeException ex) {
            counters.injectFailed.incrementAndGet();
            problem("cannot read {}: {}", e.original(), ex.getMessage());
            return;
        }
        if (existing.isEmpty()) {
            // EEXIST for a flow that is not there: its reply tuple clashes with another flow's.
            clash(e);
            return;
        }
        ConntrackEntry x = existing.get();
        if (!x.reply().equals(e.reply()) || !java.util.Objects.equals(x.helper(), e.helper())) {
            deleteQuietly(e.original(), e.zone());
            if (createOnce(e) == Outcome.EXISTS) {
                clash(e);
            }
            return;
        }
        updateOrCreate(e);
    }

    /** Updates the flow; creates it when it is missing. */
    private void updateOrCreate(ConntrackEntry e) {
        try {
            table.update(e);
            counters.updated.incrementAndGet();
        } catch (ConntrackException ex) {
            if (ex.errno() == ERRNO_ENOENT) {
                if (createOnce(e) == Outcome.EXISTS) {
                    clash(e);
                }
            } else {
                counters.injectFailed.incrementAndGet();
                problem("cannot update {}: {}", e, ex.getMessage());
            }
        } catch (RuntimeException ex) {
            counters.injectFailed.incrementAndGet();
            problem("cannot update {}: {}", e, ex.getMessage());
        }
    }

    private enum Outcome { CREATED, EXISTS, FAILED }

    private Outcome createOnce(ConntrackEntry e) {
        try {
            table.create(e);
            counters.created.incrementAndGet();
            return Outcome.CREATED;
        } catch (ConntrackException ex) {
            if (ex.errno() == ERRNO_EEXIST) {
                return Outcome.EXISTS;
            }
            counters.injectFailed.incrementAndGet();
            problem("cannot create {}: {}", e, ex.getMessage());
            return Outcome.FAILED;
        } catch (RuntimeException ex) {
            counters.injectFailed.incrementAndGet();
            problem("cannot create {}: {}", e, ex.getMessage());
            return Outcome.FAILED;
        }
    }

    /**
     * The flow's reply tuple is taken by another entry. During the bootstrap that is most likely
     * a ghost, deleted at its end, and the create is tried once more then; later it is counted.
     */
    private void clash(ConntrackEntry e) {
        if (bootstrapping) {
            clashed.add(e);
        } else {
            counters.clashes.incrementAndGet();
            problem("cannot create {}: another flow holds its reply tuple", e);
        }
    }

    private void delete(ByteBuffer key) {
        FlowId id;
        try {
            id = FlowRecordCodec.decodeKey(key.array());
        } catch (MalformedRecordException e) {
            counters.rejectedMalformed.incrementAndGet();
            problem("rejected tombstone: {}", e.getMessage());
            return;
        }
        // The filter decides on the kernel's entry: the key alone has no TCP state or mark.
        java.util.Optional<ConntrackEntry> existing;
        try {
            existing = table.get(id.original(), id.zone());
        } catch (RuntimeException e) {
            counters.injectFailed.incrementAndGet();
            problem("cannot read {}: {}", id.original(), e.getMessage());
            return;
        }
        if (existing.isEmpty()) {
            counters.deleteMissing.incrementAndGet();
        } else if (!filter.accepts(existing.get())) {
            counters.rejectedFiltered.incrementAndGet();
        } else if (deleteQuietly(id.original(), id.zone())) {
            counters.deleted.incrementAndGet();
        } else {
            counters.deleteMissing.incrementAndGet();
        }
    }

    private boolean deleteQuietly(io.zaro.conntrack.Tuple original, int zone) {
        try {
            return table.delete(original, zone);
        } catch (RuntimeException e) {
            counters.injectFailed.incrementAndGet();
            problem("cannot delete {}: {}", original, e.getMessage());
            return false;
        }
    }

    /** Logs a rejected or failed record, at most once every ten seconds; the counters count them all. */
    private void problem(String format, Object... args) {
        long now = System.nanoTime();
        if (lastProblemLog == 0 || now - lastProblemLog > LOG_SPACING_NANOS) {
            lastProblemLog = now;
            log.warn(format + " (further problems within 10 s are only counted)", args);
        }
    }

    /**
     * Injects what the state topic holds up to its current end, waiting at most {@code timeout},
     * then stops: a standby that takes over first completes its copy of the table.
     */
    public void catchUpAndClose(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        catchUpDeadline = deadline == 0 ? 1 : deadline;
        if (bootstrapped.getCount() == 0) {
            // Out of a poll that may wait 500 ms for records that will not come. Not during the
            // bootstrap, which must read the topic to its end: it turns to the catch-up after.
            reader.wakeupPoll();
        }
        try {
            thread.join(timeout.toMillis() + 2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        close();
    }

    @Override
    public void close() {
        running = false;
        reader.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

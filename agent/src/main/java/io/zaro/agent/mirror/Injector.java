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
import io.zaro.kafka.record.MalformedRecordException;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 * but the topic does not hold (ghosts left from before a restart). Then it follows the topic.
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
    private long lastProblemLog;

    public Injector(ConntrackTable table, StateTopicReader reader, String nodeId, FlowFilter filter, Duration timeoutGrace,
                    MirrorCounters counters, Clock clock) {
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

    public void start() {
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
            long started = System.nanoTime();
            Set<ByteBuffer> held = new HashSet<>();
            long records = reader.readToEnd(Duration.ofMillis(500), batch -> apply(batch, held));
            long ghosts = deleteGhosts(held);
            log.info("bootstrap: {} records read, {} flows held, {} ghosts deleted, in {} ms",
                    records, held.size(), ghosts, (System.nanoTime() - started) / 1_000_000);
            held.clear();
            bootstrapped.countDown();
            while (running) {
                ConsumerRecords<byte[], byte[]> batch = reader.poll(Duration.ofMillis(500));
                if (!batch.isEmpty()) {
                    apply(batch, null);
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

    private long deleteGhosts(Set<ByteBuffer> held) {
        List<ConntrackEntry> ghosts = new ArrayList<>();
        table.dump(Family.ALL, e -> {
            if (filter.accepts(e) && !held.contains(ByteBuffer.wrap(FlowRecordCodec.encodeKey(e)))) {
                ghosts.add(e);
            }
        });
        for (ConntrackEntry g : ghosts) {
            if (deleteQuietly(g.original(), g.zone())) {
                counters.ghostsDeleted.incrementAndGet();
            }
        }
        return ghosts.size();
    }

    /**
     * Applies one batch. Within a batch only each flow's last record counts (they are the
     * flow's successive states, in order); then creates go to the kernel batched.
     *
     * @param held during the bootstrap, the keys whose latest record is a live flow; else null
     */
    void apply(ConsumerRecords<byte[], byte[]> batch, Set<ByteBuffer> held) {
        Map<ByteBuffer, ConntrackEntry> latest = new LinkedHashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : batch) {
            counters.consumed.incrementAndGet();
            if (r.key() == null) {
                counters.rejectedMalformed.incrementAndGet();
                problem("record without a key at {}-{}@{}", r.topic(), r.partition(), r.offset());
                continue;
            }
            ByteBuffer key = ByteBuffer.wrap(r.key());
            if (r.value() == null) {
                latest.put(key, null);
                continue;
            }
            FlowRecord record;
            try {
                record = FlowRecordCodec.decode(r.value());
            } catch (MalformedRecordException e) {
                counters.rejectedMalformed.incrementAndGet();
                problem("rejected record at {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
                continue;
            }
            if (!java.util.Arrays.equals(r.key(), FlowRecordCodec.encodeKey(record.entry()))) {
                counters.rejectedMalformed.incrementAndGet();
                problem("rejected record at {}-{}@{}: its key is not its flow's", r.topic(), r.partition(), r.offset());
                continue;
            }
            if (record.nodeId().equals(nodeId)) {
                counters.ignoredOwnNode.incrementAndGet();
                continue;
            }
            if (!filter.accepts(record.entry())) {
                counters.rejectedFiltered.incrementAndGet();
                continue;
            }
            if (record.type() == io.zaro.conntrack.ConntrackEvent.Type.DESTROY) {
                latest.put(key, null);
                continue;
            }
            ConntrackEntry mirrored = withMirroredTimeout(record);
            if (mirrored == null) {
                counters.expired.incrementAndGet();
                latest.put(key, null);
            } else {
                latest.put(key, mirrored);
            }
        }
        List<ConntrackEntry> creates = new ArrayList<>();
        for (Map.Entry<ByteBuffer, ConntrackEntry> e : latest.entrySet()) {
            if (e.getValue() == null) {
                if (held != null) {
                    held.remove(e.getKey());
                }
                delete(e.getKey());
            } else {
                if (held != null) {
                    held.add(e.getKey());
                }
                creates.add(e.getValue());
            }
        }
        upsert(creates);
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

    private void upsert(List<ConntrackEntry> entries) {
        if (entries.isEmpty()) {
            return;
        }
        BatchResult result;
        try {
            result = table.createAll(entries);
        } catch (ConntrackException e) {
            // The whole batch failed to go out; try one by one so one bad entry costs only itself.
            entries.forEach(this::upsertOne);
            return;
        }
        for (int i = 0; i < result.size(); i++) {
            int errno = result.errno(i);
            if (errno == 0) {
                counters.created.incrementAndGet();
            } else if (errno == ERRNO_EEXIST) {
                update(entries.get(i));
            } else {
                counters.injectFailed.incrementAndGet();
                problem("cannot create {}: errno {}", entries.get(i), errno);
            }
        }
    }

    private void upsertOne(ConntrackEntry e) {
        try {
            table.create(e);
            counters.created.incrementAndGet();
        } catch (ConntrackException ex) {
            if (ex.errno() == ERRNO_EEXIST) {
                update(e);
            } else {
                counters.injectFailed.incrementAndGet();
                problem("cannot create {}: {}", e, ex.getMessage());
            }
        }
    }

    private void update(ConntrackEntry e) {
        try {
            table.update(e);
            counters.updated.incrementAndGet();
        } catch (ConntrackException ex) {
            if (ex.errno() == ERRNO_ENOENT) {
                // Gone between the create and the update (expired): create it again.
                upsertOne(e);
            } else {
                counters.injectFailed.incrementAndGet();
                problem("cannot update {}: {}", e, ex.getMessage());
            }
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
        if (!filter.accepts(id.bareEntry())) {
            counters.rejectedFiltered.incrementAndGet();
            return;
        }
        if (deleteQuietly(id.original(), id.zone())) {
            counters.deleted.incrementAndGet();
        } else {
            counters.deleteMissing.incrementAndGet();
        }
    }

    private boolean deleteQuietly(io.zaro.conntrack.Tuple original, int zone) {
        try {
            return table.delete(original, zone);
        } catch (ConntrackException e) {
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

package io.zaro.agent.mirror;

import io.zaro.kafka.StateTopicReader;
import io.zaro.kafka.auth.RecordAuth;
import io.zaro.kafka.record.FlowRecordCodec;
import io.zaro.kafka.record.MalformedRecordException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * While this node is active, follows the state topic from its end for records of another node:
 * in a split brain both nodes are master and publish, each overwriting and tombstoning the
 * other's flows, so that once it ends the topic no longer holds the master's table. When another
 * node's records stop for {@code quiet} (the split brain is over), the keys it wrote go to
 * {@code repair} (the capture's resync). With authentication only verified records count, so a
 * forged one cannot set a resync off.
 */
public final class ForeignRecordWatch implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ForeignRecordWatch.class);

    private final StateTopicReader reader;
    private final String nodeId;
    private final RecordAuth auth;
    private final Duration quiet;
    private final Consumer<Set<ByteBuffer>> repair;
    private final Thread thread;
    private volatile boolean running = true;

    /** @param reader a reader of the state topic, moved to its end here and closed by {@link #close()} */
    public ForeignRecordWatch(StateTopicReader reader, String nodeId, RecordAuth auth, Duration quiet,
                              Consumer<Set<ByteBuffer>> repair) {
        this.reader = reader;
        this.nodeId = nodeId;
        this.auth = auth;
        this.quiet = quiet;
        this.repair = repair;
        reader.seekToEnd();
        this.thread = new Thread(this::run, "zaro-foreign-watch");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    private void run() {
        Set<ByteBuffer> keys = new HashSet<>();
        Set<String> nodes = new HashSet<>();
        long lastSeen = 0;
        try {
            while (running) {
                for (ConsumerRecord<byte[], byte[]> r : reader.poll(Duration.ofMillis(500))) {
                    String node = publisher(r);
                    if (node != null && !node.equals(nodeId)) {
                        keys.add(ByteBuffer.wrap(r.key()));
                        nodes.add(node);
                        lastSeen = System.nanoTime();
                    }
                }
                if (!keys.isEmpty() && System.nanoTime() - lastSeen > quiet.toNanos()) {
                    log.warn("{} published {} flows to the state topic while this node was active (a split brain, or a "
                            + "peer that was master meanwhile); resynchronising so that the topic holds this node's table",
                            nodes, keys.size());
                    repair.accept(Set.copyOf(keys));
                    keys.clear();
                    nodes.clear();
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            log.warn("state topic watch stopped: {}", e.toString());
        }
    }

    /** The node that wrote a record, or null when it cannot be told (or, with authentication, trusted). */
    private String publisher(ConsumerRecord<byte[], byte[]> r) {
        if (r.key() == null) {
            return null;
        }
        if (auth != null) {
            return auth.verify(r.key(), r.value(), r.headers()) == RecordAuth.Verdict.VALID ? RecordAuth.node(r.headers()) : null;
        }
        if (r.value() == null) {
            return null;
        }
        try {
            return FlowRecordCodec.decode(r.value()).nodeId();
        } catch (MalformedRecordException e) {
            return null;
        }
    }

    @Override
    public void close() {
        running = false;
        reader.wakeup();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        reader.close();
    }
}

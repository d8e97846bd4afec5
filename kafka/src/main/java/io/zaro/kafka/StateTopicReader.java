package io.zaro.kafka;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads the compacted state topic: every partition from its beginning, without a consumer group,
 * so that any number of standbys read all of it independently and nothing is committed. Not
 * thread-safe, as {@link KafkaConsumer} is not; only {@link #wakeup()} may be called from
 * another thread.
 */
public final class StateTopicReader implements AutoCloseable {
    private final KafkaConsumer<byte[], byte[]> consumer;
    /**
     * Asks for the end offsets on connections of its own. A broker answers a connection's
     * requests in order, and holds a fetch that finds nothing for up to {@code fetch.max.wait.ms}
     * (500 ms): asked on the reading consumer's connection, right after a poll, the end offsets
     * waited behind that fetch, and a takeover's catch-up with them (150 to 370 ms measured).
     */
    private final KafkaConsumer<byte[], byte[]> offsets;
    private final List<TopicPartition> partitions;
    /** The lag after the last poll, for other threads (the consumer is the reading thread's alone). */
    private volatile long lastLag = -1;

    /**
     * Assigns every partition of the state topic and seeks to its beginning.
     *
     * @param client connection settings, passed through (TLS and SASL included)
     */
    public StateTopicReader(Properties client, Topics topics, Duration timeout) {
        Properties p = new Properties();
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "10000");
        p.putAll(client);
        p.remove(ConsumerConfig.GROUP_ID_CONFIG);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        // zaro's producers are not transactional; read_committed would let any producer that
        // leaves a transaction open stall every standby.
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        this.consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        KafkaConsumer<byte[], byte[]> offsetsClient = null;
        try {
            offsetsClient = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
            List<PartitionInfo> infos = consumer.partitionsFor(topics.state(), timeout);
            if (infos == null || infos.isEmpty()) {
                throw new IllegalStateException("topic " + topics.state() + " does not exist: start the active node first, "
                        + "or create the topics");
            }
            this.partitions = infos.stream().map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
        } catch (RuntimeException e) {
            consumer.close(Duration.ZERO);
            if (offsetsClient != null) {
                offsetsClient.close(Duration.ZERO);
            }
            throw e;
        }
        this.offsets = offsetsClient;
    }

    /**
     * Reads every record up to the end offsets as they were when this call began, handing them
     * over one poll's batch at a time, in partition order. Afterwards {@link #poll} follows on.
     * When a poll brings nothing, the end offsets are read again: an end that moved back (a log
     * truncated by an unclean leader election) counts as reached.
     *
     * @return how many records were read
     * @throws IllegalStateException when the end is not reached within {@code deadline}
     */
    public long readToEnd(Duration pollTimeout, Duration deadline, Consumer<ConsumerRecords<byte[], byte[]>> batch) {
        long giveUp = System.nanoTime() + deadline.toNanos();
        Map<TopicPartition, Long> end = offsets.endOffsets(partitions);
        long read = 0;
        while (behind(end)) {
            if (System.nanoTime() - giveUp > 0) {
                throw new IllegalStateException("the state topic was not read to its end within " + deadline.toSeconds()
                        + " s (" + read + " records read): check that every partition has a leader");
            }
            ConsumerRecords<byte[], byte[]> records = poll(pollTimeout);
            read += records.count();
            if (!records.isEmpty()) {
                batch.accept(records);
            } else {
                Map<TopicPartition, Long> now = offsets.endOffsets(partitions);
                now.forEach((tp, offset) -> end.merge(tp, offset, Math::min));
            }
        }
        return read;
    }

    private boolean behind(Map<TopicPartition, Long> end) {
        for (TopicPartition tp : partitions) {
            if (consumer.position(tp) < end.get(tp)) {
                return true;
            }
        }
        return false;
    }

    /** The next batch of records, possibly empty; throws {@link WakeupException} after {@link #wakeup()}. */
    public ConsumerRecords<byte[], byte[]> poll(Duration timeout) {
        ConsumerRecords<byte[], byte[]> records = consumer.poll(timeout);
        long lag = 0;
        for (TopicPartition tp : partitions) {
            OptionalLong l = consumer.currentLag(tp); // from the last fetch: no request to the broker
            if (l.isEmpty()) {
                return records;
            }
            lag += l.getAsLong();
        }
        lastLag = lag;
        return records;
    }

    /**
     * The records the reader was behind the end of the topic at its last poll, summed over
     * partitions; -1 before it knows. Safe from any thread.
     */
    public long lastLag() {
        return lastLag;
    }

    /** How many records the reader is behind the end of the topic, summed over partitions. */
    public long lag() {
        Map<TopicPartition, Long> end = offsets.endOffsets(partitions);
        long lag = 0;
        for (TopicPartition tp : partitions) {
            lag += Math.max(0, end.get(tp) - consumer.position(tp));
        }
        return lag;
    }

    /** Moves to the end of every partition: {@link #poll} then brings only what is written from now on. */
    public void seekToEnd() {
        consumer.seekToEnd(partitions);
        partitions.forEach(consumer::position); // resolves the end now, not at the first poll
    }

    /**
     * Makes the reader's blocked or next call ({@link #poll}, {@link #readToEnd}, {@link #lag})
     * throw {@link WakeupException}, to stop the reading thread; safe from any thread.
     */
    public void wakeup() {
        consumer.wakeup();
        offsets.wakeup();
    }

    /**
     * Makes a blocked or the next {@link #poll} throw {@link WakeupException}, and nothing else:
     * the reading thread then asks for the {@link #lag} at once. Safe from any thread.
     */
    public void wakeupPoll() {
        consumer.wakeup();
    }

    @Override
    public void close() {
        try {
            consumer.close(Duration.ofSeconds(5));
        } finally {
            offsets.close(Duration.ofSeconds(5));
        }
    }

    /** Iterates a batch as a flat list, in partition order. */
    public static List<ConsumerRecord<byte[], byte[]>> list(ConsumerRecords<byte[], byte[]> records) {
        java.util.ArrayList<ConsumerRecord<byte[], byte[]>> out = new java.util.ArrayList<>(records.count());
        records.forEach(out::add);
        return out;
    }
}

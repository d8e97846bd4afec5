package io.zaro.kafka;

import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Follows the events topic, the audit log: every partition, from its end (only what is
 * published from now on) or from its beginning, without a consumer group, so that nothing is
 * committed and any number of readers follow it side by side. Records come in order within a
 * partition, hence per flow. Not thread-safe, as {@link KafkaConsumer} is not; only
 * {@link #wakeup()} may be called from another thread.
 */
public final class EventsTopicReader implements AutoCloseable {
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final List<TopicPartition> partitions;

    /**
     * Assigns every partition of the events topic and fixes the starting offsets before it
     * returns: a record published after the constructor returned is read even when it reads from
     * the end.
     *
     * @param client connection settings, passed through (TLS and SASL included)
     * @throws IllegalStateException when the topic does not exist
     */
    public EventsTopicReader(Properties client, Topics topics, boolean fromBeginning, Duration timeout) {
        Properties p = new Properties();
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "1000");
        p.putAll(client);
        p.remove(ConsumerConfig.GROUP_ID_CONFIG);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        // A reader with a mistyped prefix must not create topics (a broker's default would).
        p.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        this.consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        try {
            List<PartitionInfo> infos = consumer.partitionsFor(topics.events(), timeout);
            if (infos == null || infos.isEmpty()) {
                throw new IllegalStateException("topic " + topics.events() + " does not exist: no agent has published "
                        + "with this topic prefix yet; check kafka.topic.prefix (or --topic-prefix)");
            }
            this.partitions = infos.stream().map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            consumer.assign(partitions);
            if (fromBeginning) {
                consumer.seekToBeginning(partitions);
            } else {
                consumer.seekToEnd(partitions);
            }
            for (TopicPartition tp : partitions) {
                consumer.position(tp, timeout); // resolves the lazy seek now
            }
        } catch (RuntimeException e) {
            consumer.close(Duration.ZERO);
            throw e;
        }
    }

    /** How many partitions the topic has. */
    public int partitionCount() {
        return partitions.size();
    }

    /** The next batch of records, possibly empty; throws {@link WakeupException} after {@link #wakeup()}. */
    public ConsumerRecords<byte[], byte[]> poll(Duration timeout) {
        return consumer.poll(timeout);
    }

    /** Makes a blocked or the next {@link #poll} throw {@link WakeupException}; safe from any thread. */
    public void wakeup() {
        consumer.wakeup();
    }

    @Override
    public void close() {
        consumer.close(Duration.ofSeconds(5));
    }
}

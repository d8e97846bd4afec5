package io.zaro.kafka;

import io.zaro.kafka.auth.RecordAuth;
import io.zaro.kafka.record.FlowRecord;
import io.zaro.kafka.record.FlowRecordCodec;
import io.zaro.conntrack.ConntrackEvent;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Publishes flow records: each to the events topic, and to the state topic as the flow's
 * current value (a tombstone for DESTROY). Both records carry the flow's key, so one flow's
 * changes stay in one partition, in order. Thread-safe, as {@link KafkaProducer} is.
 *
 * <p>The producer is idempotent with {@code acks=all}: a record acknowledged is on every in-sync
 * replica, retries never duplicate or reorder it. A record the cluster does not take within
 * {@code delivery.timeout.ms} fails its future; the caller must then resynchronise, never drop it.
 */
public final class RecordPublisher implements AutoCloseable {
    private final Producer<byte[], byte[]> producer;
    private final Topics topics;
    private final RecordAuth auth;

    /**
     * @param client connection settings (bootstrap.servers, and TLS/SASL properties passed
     *     through as given); zaro's producer defaults are set only where the caller set nothing
     */
    public RecordPublisher(Properties client, Topics topics) {
        this(client, topics, null);
    }

    /** @param auth signs every record (each topic's its own MAC: a tombstone has no value); null for unsigned records */
    public RecordPublisher(Properties client, Topics topics, RecordAuth auth) {
        this.producer = new KafkaProducer<>(withDefaults(client), new ByteArraySerializer(), new ByteArraySerializer());
        this.topics = topics;
        this.auth = auth;
    }

    /** zaro's producer settings: durable, ordered, and batched for bursts of small records. */
    static Properties withDefaults(Properties client) {
        Properties p = new Properties();
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "1");
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(256 * 1024));
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none");
        p.putAll(client);
        return p;
    }

    /** Sends the record; the future completes when both topics acknowledged it, or fails. */
    public CompletableFuture<Void> publish(FlowRecord record) {
        return publish(record, FlowRecordCodec.encodeKey(record.entry()));
    }

    /** As {@link #publish(FlowRecord)}, with the record's key already encoded by the caller. */
    public CompletableFuture<Void> publish(FlowRecord record, byte[] key) {
        byte[] value = FlowRecordCodec.encode(record);
        CompletableFuture<Void> event = send(signed(topics.events(), key, value, record));
        CompletableFuture<Void> state = send(signed(topics.state(), key,
                record.type() == ConntrackEvent.Type.DESTROY ? null : value, record));
        return CompletableFuture.allOf(event, state);
    }

    /**
     * Sends the record to the state topic only: a refresh of a flow's timeout, which the audit
     * log does not need.
     */
    public CompletableFuture<Void> publishState(FlowRecord record) {
        return publishState(record, FlowRecordCodec.encodeKey(record.entry()));
    }

    /** As {@link #publishState(FlowRecord)}, with the record's key already encoded by the caller. */
    public CompletableFuture<Void> publishState(FlowRecord record, byte[] key) {
        return send(signed(topics.state(), key,
                record.type() == ConntrackEvent.Type.DESTROY ? null : FlowRecordCodec.encode(record), record));
    }

    private ProducerRecord<byte[], byte[]> signed(String topic, byte[] key, byte[] value, FlowRecord record) {
        return new ProducerRecord<>(topic, null, key, value,
                auth == null ? null : auth.sign(key, value, record.nodeId(), record.sequence()));
    }

    private CompletableFuture<Void> send(ProducerRecord<byte[], byte[]> r) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        producer.send(r, (metadata, error) -> {
            if (error == null) {
                done.complete(null);
            } else {
                done.completeExceptionally(error);
            }
        });
        return done;
    }

    /**
     * Fetches the topics' partitions and leaders now, so that the first records do not wait for
     * them (a producer asks for a topic's metadata at its first record, and every record behind
     * it waits). Best effort: a cluster that does not answer now is asked again at the first record.
     *
     * @return whether both topics' metadata came
     */
    public boolean fetchMetadata() {
        try {
            producer.partitionsFor(topics.state());
            producer.partitionsFor(topics.events());
            return true;
        } catch (org.apache.kafka.common.KafkaException e) {
            return false;
        }
    }

    /** Blocks until every record sent so far was acknowledged or failed. */
    public void flush() {
        producer.flush();
    }

    /** Sends what is buffered, waiting at most {@code timeout}; records not acknowledged by then fail. */
    public void close(java.time.Duration timeout) {
        producer.close(timeout);
    }

    @Override
    public void close() {
        close(java.time.Duration.ofSeconds(30));
    }
}

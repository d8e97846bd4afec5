package io.zaro.tests.hostile;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent.Type;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import io.zaro.kafka.Topics;
import io.zaro.kafka.auth.AuthKeys;
import io.zaro.kafka.auth.RecordAuth;
import io.zaro.kafka.record.FlowRecord;
import io.zaro.kafka.record.FlowRecordCodec;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Writes to a state topic, as node {@code fw1}, the records an attacker (or a broken publisher)
 * could: each kind of hostile record for a flow of its own, between valid ones. Run inside the
 * broker's network namespace by {@code HostileRecordsKernelTest}, which knows the flows by their
 * client port ({@link Kind#port()}).
 *
 * <p>Usage: {@code HostileRecords BOOTSTRAP TOPIC_PREFIX KEY_FILE}
 */
public final class HostileRecords {
    /** What is written for each flow, in this order; the flow's client port tells them apart. */
    public enum Kind {
        VALID(4001),
        UNSIGNED(4002),
        WRONG_SECRET(4003),
        UNKNOWN_KEY(4004),
        TAMPERED(4005),
        /** Created, deleted, then the creating record again. */
        REPLAYED(4006),
        OVERSIZED(4007),
        /** Signed with the key, but not a record. */
        MALFORMED(4008),
        /** Valid, for a flow outside the standby's networks. */
        OUTSIDE_NETWORKS(4009),
        /** Valid, for a flow in another zone than the standby's. */
        OUTSIDE_ZONES(4010),
        /** Signed with the key, its signature naming another sequence number than the record holds. */
        MISMATCHED(4011),
        /** Valid, written last: the standby still injects after all the rest. */
        VALID_AFTER(4012);

        private final int port;

        Kind(int port) {
            this.port = port;
        }

        public int port() {
            return port;
        }
    }

    public static final String CLIENT = "10.60.1.2";
    public static final String SERVER = "10.60.2.2";
    public static final String OUTSIDE_CLIENT = "192.168.77.2";

    private HostileRecords() {
    }

    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        String topic = Topics.withPrefix(args[1]).state();
        RecordAuth auth = new RecordAuth(AuthKeys.load(Path.of(args[2])));
        RecordAuth stranger = new RecordAuth(keyFile(AuthKeys.load(Path.of(args[2])).signingId()));
        RecordAuth otherId = new RecordAuth(keyFile("not-ours"));
        long seq = 1_000;
        try (KafkaProducer<byte[], byte[]> out = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (Kind kind : Kind.values()) {
                ConntrackEntry e = entry(kind);
                byte[] key = FlowRecordCodec.encodeKey(e);
                byte[] value = FlowRecordCodec.encode(new FlowRecord(Type.NEW, "fw1", ++seq, now(), e));
                switch (kind) {
                    case UNSIGNED -> out.send(new ProducerRecord<>(topic, null, key, value, null));
                    case WRONG_SECRET -> out.send(new ProducerRecord<>(topic, null, key, value, stranger.sign(key, value, "fw1", seq)));
                    case UNKNOWN_KEY -> out.send(new ProducerRecord<>(topic, null, key, value, otherId.sign(key, value, "fw1", seq)));
                    case TAMPERED -> {
                        Headers h = auth.sign(key, value, "fw1", seq);
                        byte[] changed = FlowRecordCodec.encode(new FlowRecord(Type.NEW, "fw1", seq, now(),
                                e.toBuilder().mark(0x1337).build()));
                        out.send(new ProducerRecord<>(topic, null, key, changed, h));
                    }
                    case REPLAYED -> {
                        Headers created = auth.sign(key, value, "fw1", seq);
                        out.send(new ProducerRecord<>(topic, null, key, value, created));
                        out.send(new ProducerRecord<>(topic, null, key, null, auth.sign(key, null, "fw1", ++seq)));
                        out.send(new ProducerRecord<>(topic, null, key, value, copy(created)));
                    }
                    case OVERSIZED -> {
                        byte[] big = new byte[FlowRecordCodec.MAX_RECORD_BYTES + 1000];
                        System.arraycopy(value, 0, big, 0, value.length);
                        out.send(new ProducerRecord<>(topic, null, key, big, auth.sign(key, big, "fw1", seq)));
                    }
                    case MALFORMED -> {
                        byte[] junk = new byte[60];
                        new Random(7).nextBytes(junk);
                        out.send(new ProducerRecord<>(topic, null, key, junk, auth.sign(key, junk, "fw1", seq)));
                    }
                    case MISMATCHED -> out.send(new ProducerRecord<>(topic, null, key, value, auth.sign(key, value, "fw1", seq + 500)));
                    default -> out.send(new ProducerRecord<>(topic, null, key, value, auth.sign(key, value, "fw1", seq)));
                }
                out.flush();
            }
        }
    }

    /** The flow of a kind: TCP, established, from the client's port; the last two outside the standby's networks or zones. */
    public static ConntrackEntry entry(Kind kind) throws Exception {
        String client = kind == Kind.OUTSIDE_NETWORKS ? OUTSIDE_CLIENT : CLIENT;
        String server = kind == Kind.OUTSIDE_NETWORKS ? "192.168.77.3" : SERVER;
        ConntrackEntry.Builder b = ConntrackEntry.builder(Tuple.ofPorts(InetAddress.getByName(client),
                InetAddress.getByName(server), IpProtocol.TCP, kind.port(), 80)).tcp(TcpInfo.of(TcpState.ESTABLISHED))
                .timeout(600);
        if (kind == Kind.OUTSIDE_ZONES) {
            b.zone(7);
        }
        return b.build();
    }

    private static Instant now() {
        return Instant.now().truncatedTo(ChronoUnit.MICROS);
    }

    private static Headers copy(Headers h) {
        RecordHeaders c = new RecordHeaders();
        h.forEach(x -> c.add(x.key(), x.value()));
        return c;
    }

    /** Keys of a stranger: a fresh secret under {@code id}. */
    private static AuthKeys keyFile(String id) throws Exception {
        Path f = Files.createTempFile("zaro-stranger", ".keys", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rw-------")));
        try {
            Files.write(f, List.of(AuthKeys.generate(id)));
            return AuthKeys.load(f);
        } finally {
            Files.delete(f);
        }
    }
}

package io.zaro.kafka;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * zaro's two topics.
 *
 * <ul>
 *   <li>{@code PREFIX.state}: compacted, keyed by zone and original tuple; a DESTROY writes a
 *       tombstone, so the topic converges to the current table of each publishing node.</li>
 *   <li>{@code PREFIX.events}: append-only, every NEW, UPDATE and DESTROY: the audit log,
 *       kept {@value #DEFAULT_EVENTS_RETENTION_DAYS} days unless the operator configures more.</li>
 * </ul>
 *
 * <p>Topics created with a replication factor of three or more get
 * {@code min.insync.replicas={@value #MIN_INSYNC_REPLICAS}}; topics that exist are left as they are.
 */
public record Topics(String state, String events) {
    public static final String DEFAULT_PREFIX = "zaro";
    public static final int DEFAULT_EVENTS_RETENTION_DAYS = 7;
    /**
     * In-sync replicas a write needs before the producer's {@code acks=all} is answered, set on
     * topics created with three replicas or more: one broker may die without losing an
     * acknowledged record, and writes go on while two replicas remain.
     */
    public static final int MIN_INSYNC_REPLICAS = 2;

    public static Topics withPrefix(String prefix) {
        if (!prefix.matches("[A-Za-z0-9._-]{1,200}")) {
            throw new IllegalArgumentException("topic prefix '" + prefix + "' may use only letters, digits, '.', '_' and '-'");
        }
        return new Topics(prefix + ".state", prefix + ".events");
    }

    /**
     * Creates the topics that do not exist yet, and checks that an existing state topic is
     * compacted (without compaction a standby could not bootstrap from it).
     *
     * @throws IllegalStateException with a sentence naming the fix when the cluster refuses
     */
    public void ensure(Admin admin, int partitions, short replicationFactor, Duration timeout) {
        long giveUp = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                ensureOnce(admin, partitions, replicationFactor, timeout);
                return;
            } catch (IllegalStateException e) {
                // A broker that has just started, or a topic just created, answers with retriable
                // errors for a moment (no controller yet, metadata not yet everywhere): try again.
                if (!(e.getCause() instanceof org.apache.kafka.common.errors.RetriableException)
                        || e.getCause() instanceof org.apache.kafka.common.errors.TimeoutException
                        || System.nanoTime() - giveUp > 0) {
                    throw e;
                }
                try {
                    Thread.sleep(250);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    private void ensureOnce(Admin admin, int partitions, short replicationFactor, Duration timeout) {
        Map<String, String> stateConfig = new HashMap<>(Map.of(
                TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT));
        Map<String, String> eventsConfig = new HashMap<>(Map.of(
                TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_DELETE,
                TopicConfig.RETENTION_MS_CONFIG, Long.toString(Duration.ofDays(DEFAULT_EVENTS_RETENTION_DAYS).toMillis())));
        if (replicationFactor >= 3) {
            stateConfig.put(TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG, Integer.toString(MIN_INSYNC_REPLICAS));
            eventsConfig.put(TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG, Integer.toString(MIN_INSYNC_REPLICAS));
        }
        List<NewTopic> wanted = new ArrayList<>();
        wanted.add(new NewTopic(state, partitions, replicationFactor).configs(stateConfig));
        wanted.add(new NewTopic(events, partitions, replicationFactor).configs(eventsConfig));
        try {
            Set<String> existing = admin.listTopics().names().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            List<NewTopic> missing = wanted.stream().filter(t -> !existing.contains(t.name())).toList();
            if (!missing.isEmpty()) {
                try {
                    admin.createTopics(missing).all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw e;
                    }
                }
            }
            ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, state);
            Config config = admin.describeConfigs(List.of(resource)).all()
                    .get(timeout.toMillis(), TimeUnit.MILLISECONDS).get(resource);
            String policy = config.get(TopicConfig.CLEANUP_POLICY_CONFIG).value();
            if (!policy.contains(TopicConfig.CLEANUP_POLICY_COMPACT)) {
                throw new IllegalStateException("topic " + state + " has cleanup.policy=" + policy + " but must be compacted: "
                        + "run kafka-configs --alter --entity-type topics --entity-name " + state
                        + " --add-config cleanup.policy=compact");
            }
        } catch (ExecutionException e) {
            if (e.getCause() instanceof org.apache.kafka.common.errors.TimeoutException) {
                throw new IllegalStateException("the Kafka cluster did not answer within " + timeout.toSeconds()
                        + " s while checking topics: check the bootstrap servers and that a broker is reachable", e.getCause());
            }
            String why = e.getCause().getMessage() == null || e.getCause().getMessage().isBlank()
                    ? e.getCause().getClass().getSimpleName() : e.getCause().getMessage();
            throw new IllegalStateException("cannot create or check topics " + state + " and " + events + ": " + why,
                    e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("the Kafka cluster did not answer within " + timeout.toSeconds()
                    + " s while checking topics: check the bootstrap servers", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while checking topics", e);
        }
    }
}

package io.zaro.agent.cli;

import io.zaro.agent.config.AgentConfig;
import io.zaro.kafka.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.WakeupException;
import picocli.CommandLine.Option;

/**
 * Where the commands that read zaro's topics find them: the agent's configuration file, as
 * {@code zaro agent} reads it (bootstrap servers, topic prefix, and the {@code kafka.client.*}
 * settings for TLS or SASL), with command-line overrides. Without a configuration file the
 * bootstrap servers must be given.
 */
final class KafkaOptions {
    static final Path DEFAULT_CONFIG = Path.of("/etc/zaro/zaro.properties");

    @Option(names = "--config", paramLabel = "FILE",
            description = "The agent's configuration: Kafka bootstrap servers, topic prefix and client settings "
                    + "(default: /etc/zaro/zaro.properties).")
    Path config;

    @Option(names = "--bootstrap-server", paramLabel = "HOST:PORT[,...]",
            description = "Kafka bootstrap servers, instead of the configuration's kafka.bootstrap.servers.")
    String bootstrapServers;

    @Option(names = "--topic-prefix", paramLabel = "PREFIX",
            description = "Topic prefix, instead of the configuration's kafka.topic.prefix (zaro without one).")
    String topicPrefix;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "30",
            description = "How long to wait for the Kafka cluster (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    /**
     * The Kafka side of a command: client settings, topics, and the configuration they came from.
     *
     * @param config the agent's configuration; null when only {@code --bootstrap-server} was given
     */
    record Access(Properties client, Topics topics, Duration timeout, AgentConfig config) {
        String bootstrapServers() {
            return client.getProperty(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG);
        }

        /** Runs a read from Kafka; the client's own exceptions become one sentence naming what to check. */
        <T> T read(Supplier<T> read) {
            try {
                return read.get();
            } catch (WakeupException e) {
                throw e; // asked to stop: not an error
            } catch (org.apache.kafka.common.errors.TimeoutException e) {
                throw new IllegalStateException("the Kafka cluster at " + bootstrapServers() + " did not answer within "
                        + timeout.toSeconds() + " s: check kafka.bootstrap.servers (or --bootstrap-server) and that a "
                        + "broker is reachable from here", e);
            } catch (KafkaException e) {
                Throwable cause = e.getCause() != null ? e.getCause() : e;
                String why = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
                throw new IllegalStateException("cannot read from the Kafka cluster at " + bootstrapServers() + ": " + why
                        + ": check kafka.bootstrap.servers (or --bootstrap-server) and the kafka.client.* settings", e);
            }
        }
    }

    /**
     * Reads the configuration and applies the overrides.
     *
     * @param configRequired whether the command needs the configuration beyond Kafka (its filter)
     * @throws io.zaro.agent.config.ConfigException when the file is missing or wrong
     */
    Access resolve(boolean configRequired) {
        if (timeoutSeconds < 1) {
            throw new IllegalArgumentException("--timeout must be 1 second or more, not " + timeoutSeconds);
        }
        AgentConfig cfg = null;
        if (config != null || Files.exists(DEFAULT_CONFIG) || configRequired) {
            cfg = AgentConfig.load(config != null ? config : DEFAULT_CONFIG);
        } else if (bootstrapServers == null) {
            throw new IllegalArgumentException("there is no " + DEFAULT_CONFIG + " to find Kafka in: pass the agent's "
                    + "configuration with --config FILE, or the cluster with --bootstrap-server HOST:PORT");
        }
        Properties client = cfg != null ? cfg.kafka() : new Properties();
        if (bootstrapServers != null) {
            if (!bootstrapServers.matches("[^,\\s]+:\\d{1,5}(,[^,\\s]+:\\d{1,5})*")) {
                throw new IllegalArgumentException("--bootstrap-server must be HOST:PORT[,HOST:PORT...], not '"
                        + bootstrapServers + "'");
            }
            client.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        }
        // A reader with a mistyped prefix must not create topics (a broker's default would).
        client.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        String prefix = topicPrefix != null ? topicPrefix : cfg != null ? cfg.topicPrefix() : Topics.DEFAULT_PREFIX;
        return new Access(client, Topics.withPrefix(prefix), Duration.ofSeconds(timeoutSeconds), cfg);
    }
}

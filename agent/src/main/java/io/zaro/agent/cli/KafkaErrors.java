package io.zaro.agent.cli;

import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.SslAuthenticationException;
import org.apache.kafka.common.errors.TimeoutException;

/**
 * What the Kafka client's exceptions at an agent's start mean for its configuration, as one
 * sentence naming the setting to check: a refused login, a failed TLS handshake, a cluster that
 * does not answer (which is also what a client without TLS gets from a TLS listener), client
 * settings the client cannot start with.
 */
final class KafkaErrors {
    private static final Pattern USERNAME = Pattern.compile("username\\s*=\\s*\"([^\"]*)\"");

    private KafkaErrors() {
    }

    /**
     * The exception to report instead of {@code e}: an {@link IllegalStateException} whose message
     * is the sentence (and whose cause is {@code e}), or {@code e} itself when Kafka's client did
     * not cause it.
     *
     * @param client the client settings the agent used (bootstrap servers, {@code kafka.client.*})
     */
    static RuntimeException explain(RuntimeException e, Properties client) {
        String servers = client.getProperty("bootstrap.servers");
        String protocol = client.getProperty("security.protocol", "PLAINTEXT");
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SaslAuthenticationException) {
                return new IllegalStateException("Kafka at " + servers + " refused the login of " + user(client) + " ("
                        + client.getProperty("sasl.mechanism", "GSSAPI") + "): check the user and password in "
                        + "kafka.client.sasl.jaas.config", e);
            }
            if (t instanceof SslAuthenticationException) {
                return new IllegalStateException("the TLS handshake with Kafka at " + servers + " failed (" + root(t)
                        + "): check that kafka.client.ssl.truststore.* holds the CA of the broker's certificate, that "
                        + "the certificate names the address in kafka.bootstrap.servers, and that the listener speaks TLS", e);
            }
            if (t instanceof AuthenticationException) {
                return new IllegalStateException("Kafka at " + servers + " refused the authentication (" + root(t)
                        + "): check kafka.client.security.protocol (" + protocol + ") and kafka.client.sasl.mechanism "
                        + "against the broker's listener", e);
            }
            if (t instanceof TimeoutException || t instanceof java.util.concurrent.TimeoutException) {
                return new IllegalStateException("the Kafka cluster at " + servers + " did not answer: check "
                        + "kafka.bootstrap.servers, that a broker is reachable from here, and that "
                        + "kafka.client.security.protocol (" + protocol + ") is what its listener speaks (a client without "
                        + "TLS gets no answer from a TLS listener)", e);
            }
        }
        if (e instanceof KafkaException) {
            return new IllegalStateException("the Kafka client cannot start with these settings (" + root(e)
                    + "): check the kafka.client.* settings", e);
        }
        return e;
    }

    private static String user(Properties client) {
        Matcher m = USERNAME.matcher(client.getProperty("sasl.jaas.config", ""));
        return m.find() ? m.group(1) : "its user";
    }

    /** The innermost cause's message, on one line. */
    private static String root(Throwable t) {
        Throwable r = t;
        while (r.getCause() != null && r.getCause() != r) {
            r = r.getCause();
        }
        String m = r.getMessage() == null || r.getMessage().isBlank() ? r.getClass().getSimpleName() : r.getMessage();
        return m.strip().replaceAll("\\s+", " ");
    }
}

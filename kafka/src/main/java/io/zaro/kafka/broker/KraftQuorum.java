package io.zaro.kafka.broker;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.common.Uuid;

/**
 * The nodes of a KRaft cluster of the project's brokers, each broker and controller in one
 * process, as {@code controller.quorum.voters} names them: {@code ID@HOST:PORT,...}, the port
 * being each node's controller listener. One quorum is given, unchanged, to every node, with
 * the node's own id.
 *
 * <p>A cluster of three or more nodes replicates the internal topics three times and requires
 * two in-sync replicas ({@code min.insync.replicas=2}): one node may die without a write
 * acknowledged by the others being lost, and writes go on. The cluster id, which every node's
 * storage must be formatted with, is derived from the voters unless given.
 *
 * @param nodeId this node's id: one of the voters
 * @param voters every node, in the order given
 * @param clusterId the id the storage is formatted with
 */
public record KraftQuorum(int nodeId, List<Voter> voters, String clusterId) {

    /** One node: its id and its controller listener. */
    public record Voter(int id, String host, int port) {
        @Override
        public String toString() {
            return id + "@" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        }
    }

    public KraftQuorum {
        voters = List.copyOf(voters);
        Set<Integer> ids = new HashSet<>();
        for (Voter v : voters) {
            if (!ids.add(v.id())) {
                throw new IllegalArgumentException("--voters names node " + v.id() + " twice");
            }
        }
        if (!ids.contains(nodeId)) {
            throw new IllegalArgumentException("--node-id " + nodeId + " is not among --voters " + votersProperty(voters)
                    + ": give this node's own id");
        }
    }

    /**
     * Parses {@code ID@HOST:PORT[,ID@HOST:PORT...]} (an IPv6 host in brackets).
     *
     * @param clusterId the id every node's storage is formatted with; null to derive it from the voters
     * @throws IllegalArgumentException one sentence naming the option and the expected form
     */
    public static KraftQuorum parse(int nodeId, String voters, String clusterId) {
        List<Voter> list = new ArrayList<>();
        for (String part : voters.split(",")) {
            String v = part.strip();
            int at = v.indexOf('@');
            int colon = v.lastIndexOf(':');
            try {
                if (at <= 0 || colon <= at + 1) {
                    throw new NumberFormatException();
                }
                String host = v.substring(at + 1, colon);
                if (host.startsWith("[") && host.endsWith("]")) {
                    host = host.substring(1, host.length() - 1);
                }
                int id = Integer.parseInt(v.substring(0, at));
                int port = Integer.parseInt(v.substring(colon + 1));
                if (id < 0 || port < 1 || port > 65535 || host.isEmpty() || host.matches(".*[\\s,@\\[\\]].*")) {
                    throw new NumberFormatException();
                }
                list.add(new Voter(id, host, port));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--voters wants ID@HOST:PORT[,ID@HOST:PORT...] with each node's "
                        + "controller port, such as 1@10.97.0.11:9093,2@10.97.0.12:9093,3@10.97.0.13:9093; not '" + v + "'");
            }
        }
        if (clusterId != null && !clusterId.isBlank()) {
            try {
                Uuid.fromString(clusterId.strip());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--cluster-id must be a Kafka cluster id (22 characters of base64url, "
                        + "as kafka-storage random-uuid prints); not '" + clusterId + "'");
            }
            return new KraftQuorum(nodeId, list, clusterId.strip());
        }
        return new KraftQuorum(nodeId, list, derivedClusterId(list));
    }

    /** The voters as {@code controller.quorum.voters} takes them. */
    public String votersProperty() {
        return votersProperty(voters);
    }

    private static String votersProperty(List<Voter> voters) {
        return voters.stream().map(Voter::toString).collect(Collectors.joining(","));
    }

    /** This node's own voter entry. */
    public Voter self() {
        return voters.stream().filter(v -> v.id() == nodeId).findFirst().orElseThrow();
    }

    /** Copies of each internal topic's data: three where three nodes or more exist. */
    public int replicationFactor() {
        return Math.min(3, voters.size());
    }

    /** Replicas that must hold a write before it is acknowledged to {@code acks=all}. */
    public int minInsyncReplicas() {
        return voters.size() >= 3 ? 2 : 1;
    }

    /** The same on every node given the same voters: a Kafka id made from their hash. */
    static String derivedClusterId(List<Voter> voters) {
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(
                    ("zaro-kraft:" + votersProperty(voters)).getBytes(StandardCharsets.UTF_8));
            ByteBuffer b = ByteBuffer.wrap(hash);
            return new Uuid(b.getLong(), b.getLong()).toString();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }
}

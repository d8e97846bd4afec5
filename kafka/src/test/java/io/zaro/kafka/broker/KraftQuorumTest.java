package io.zaro.kafka.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.apache.kafka.common.Uuid;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A cluster of the project's brokers, without a broker: the voters, the cluster id, each node's properties. */
class KraftQuorumTest {
    private static final String THREE = "1@10.97.0.11:9093,2@10.97.0.12:9093,3@10.97.0.13:9093";

    @Test
    void everyNodeGivenTheSameVotersGetsTheSameClusterId() {
        KraftQuorum one = KraftQuorum.parse(1, THREE, null);
        KraftQuorum three = KraftQuorum.parse(3, " 1@10.97.0.11:9093, 2@10.97.0.12:9093,3@10.97.0.13:9093", null);
        assertEquals(one.clusterId(), three.clusterId());
        assertEquals(22, one.clusterId().length());
        assertEquals(one.clusterId(), Uuid.fromString(one.clusterId()).toString());
        assertNotEquals(one.clusterId(), KraftQuorum.parse(1, "1@10.97.0.11:9093,2@10.97.0.12:9093", null).clusterId());
        String given = Uuid.randomUuid().toString();
        assertEquals(given, KraftQuorum.parse(2, THREE, given).clusterId());
        assertEquals(new KraftQuorum.Voter(3, "10.97.0.13", 9093), three.self());
        assertEquals(THREE, three.votersProperty());
    }

    @Test
    void threeNodesReplicateThreeTimesAndWantTwoInSync() {
        KraftQuorum q = KraftQuorum.parse(2, THREE, null);
        assertEquals(3, q.replicationFactor());
        assertEquals(2, q.minInsyncReplicas());
        KraftQuorum two = KraftQuorum.parse(2, "1@[fd97::11]:9093,2@[fd97::12]:9093", null);
        assertEquals(2, two.replicationFactor());
        assertEquals(1, two.minInsyncReplicas());
        assertEquals("1@[fd97::11]:9093,2@[fd97::12]:9093", two.votersProperty());
    }

    @Test
    void eachNodesPropertiesNameTheWholeQuorumAndItsOwnId() {
        KraftQuorum q = KraftQuorum.parse(2, THREE, null);
        EmbeddedBroker.Settings s = new EmbeddedBroker.Settings(Path.of("/tmp/k2"), "10.97.0.12", 9092, 9093, q);
        List<String> lines = EmbeddedBroker.serverProperties(s).lines().toList();
        for (String expected : List.of(
                "node.id=2",
                "controller.quorum.voters=" + THREE,
                "listeners=PLAINTEXT://10.97.0.12:9092,CONTROLLER://10.97.0.12:9093",
                "advertised.listeners=PLAINTEXT://10.97.0.12:9092",
                "default.replication.factor=3",
                "min.insync.replicas=2",
                "offsets.topic.replication.factor=3",
                "transaction.state.log.replication.factor=3",
                "transaction.state.log.min.isr=2")) {
            assertTrue(lines.contains(expected), expected + " in\n" + lines);
        }
    }

    @Test
    void aNodeMustListenWhereTheVotersSayItDoes() {
        KraftQuorum q = KraftQuorum.parse(2, THREE, null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new EmbeddedBroker.Settings(Path.of("/tmp/k2"), "10.97.0.11", 9092, 9093, q));
        assertEquals("--voters gives node 2 as 2@10.97.0.12:9093 but this node's controller listens on 10.97.0.11:9093: "
                + "give the same --host and --controller-port as its entry in --voters", e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"10.97.0.11:9093", "1@10.97.0.11", "x@10.97.0.11:9093", "1@10.97.0.11:0", "1@:9093",
        "1@10.97.0.11:9093,,2@10.97.0.12:9093", "1@a b:9093"})
    void badVotersAreOneSentenceWithTheExpectedForm(String voters) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KraftQuorum.parse(1, voters, null));
        assertTrue(e.getMessage().startsWith("--voters wants ID@HOST:PORT[,ID@HOST:PORT...]"), e.getMessage());
    }

    @Test
    void theNodeIdMustBeAVoterAndEachVoterOnce() {
        assertEquals("--node-id 4 is not among --voters " + THREE + ": give this node's own id",
                assertThrows(IllegalArgumentException.class, () -> KraftQuorum.parse(4, THREE, null)).getMessage());
        assertEquals("--voters names node 1 twice", assertThrows(IllegalArgumentException.class,
                () -> KraftQuorum.parse(1, "1@10.97.0.11:9093,1@10.97.0.12:9093", null)).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> KraftQuorum.parse(1, THREE, "not-an-id"))
                .getMessage().startsWith("--cluster-id must be a Kafka cluster id"));
    }
}

package io.zaro.kafka.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The broker's listener security without a broker: protocols, properties, password files, keystores. */
class BrokerSecurityTest {
    @TempDir
    static Path dir;
    private static LabCertificates.Made tls;
    private static String password;

    @BeforeAll
    static void certificates() throws IOException {
        tls = LabCertificates.make(dir.resolve("tls"), List.of("10.99.0.10", "kafka.lab.example"), 30);
        password = Files.readAllLines(tls.brokerPassword()).get(0);
    }

    private static BrokerSecurity.Tls keystore() {
        return new BrokerSecurity.Tls(tls.brokerKeystore(), password);
    }

    private static final List<BrokerSecurity.ScramUser> FW1 = List.of(new BrokerSecurity.ScramUser("fw1", "secret"));

    @Test
    void theProtocolFollowsTheOptions() {
        assertEquals("PLAINTEXT", BrokerSecurity.PLAINTEXT.protocol());
        assertEquals("SSL", new BrokerSecurity(keystore(), List.of()).protocol());
        assertEquals("SASL_PLAINTEXT", new BrokerSecurity(null, FW1).protocol());
        assertEquals("SASL_SSL", new BrokerSecurity(keystore(), FW1).protocol());
        assertFalse(BrokerSecurity.PLAINTEXT.controllerOnLoopback());
        assertTrue(new BrokerSecurity(null, FW1).controllerOnLoopback());
    }

    @Test
    void aPlaintextBrokerIsConfiguredAsBefore() {
        EmbeddedBroker.Settings s = new EmbeddedBroker.Settings(dir.resolve("kafka"), "10.99.0.10", 9092, 9093);
        assertEquals(String.join("\n",
                "# written by zaro kafka start: a single-node KRaft broker for zaro's demo and tests",
                "process.roles=broker,controller",
                "node.id=1",
                "controller.quorum.voters=1@10.99.0.10:9093",
                "listeners=PLAINTEXT://10.99.0.10:9092,CONTROLLER://10.99.0.10:9093",
                "advertised.listeners=PLAINTEXT://10.99.0.10:9092",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                "log.dirs=" + s.dataDir().resolve("data"),
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                ""), EmbeddedBroker.serverProperties(s));
    }

    @Test
    void aSaslSslBrokerKeepsItsControllerOnLoopbackAndLogsInToItselfAsItsOwnUser() {
        EmbeddedBroker.Settings s = new EmbeddedBroker.Settings(dir.resolve("kafka"), "10.99.0.10", 9092, 9093);
        String props = EmbeddedBroker.serverProperties(s, new BrokerSecurity(keystore(), FW1), "brokerpw");
        List<String> lines = props.lines().toList();
        for (String expected : List.of(
                "controller.quorum.voters=1@127.0.0.1:9093",
                "listeners=SASL_SSL://10.99.0.10:9092,CONTROLLER://127.0.0.1:9093",
                "advertised.listeners=SASL_SSL://10.99.0.10:9092",
                "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=SASL_SSL",
                "ssl.keystore.type=PKCS12",
                "ssl.keystore.location=" + tls.brokerKeystore(),
                "ssl.keystore.password=" + password,
                "ssl.truststore.location=" + tls.brokerKeystore(),
                "ssl.client.auth=none",
                "sasl.enabled.mechanisms=SCRAM-SHA-512",
                "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
                "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram."
                        + "ScramLoginModule required username=\"zaro-broker\" password=\"brokerpw\";")) {
            assertTrue(lines.contains(expected), expected + " in\n" + props);
        }
        assertFalse(props.contains("secret"), "a user's password is not the broker's business");
    }

    @Test
    void theKeystoreMustOpenAndNameTheBrokersAddress() {
        BrokerSecurity security = new BrokerSecurity(keystore(), List.of());
        security.checkKeystore("10.99.0.10");
        security.checkKeystore("KAFKA.lab.example");
        IllegalArgumentException other = assertThrows(IllegalArgumentException.class, () -> security.checkKeystore("10.99.0.11"));
        assertEquals("the broker's certificate in " + tls.brokerKeystore() + " does not name 10.99.0.11 (it names "
                + "10.99.0.10, kafka.lab.example), so clients would refuse it: make one for 10.99.0.11 "
                + "(`zaro kafka tls --host 10.99.0.11`)", other.getMessage());
        IllegalArgumentException wrong = assertThrows(IllegalArgumentException.class,
                () -> new BrokerSecurity(new BrokerSecurity.Tls(tls.brokerKeystore(), "wrong"), List.of()).checkKeystore("10.99.0.10"));
        assertEquals("the password in --tls-password-file does not open --tls-keystore " + tls.brokerKeystore(), wrong.getMessage());
        IllegalArgumentException caOnly = assertThrows(IllegalArgumentException.class,
                () -> new BrokerSecurity(new BrokerSecurity.Tls(tls.dir().resolve("ca.pem"), password), List.of())
                        .checkKeystore("10.99.0.10"));
        assertTrue(caOnly.getMessage().startsWith("--tls-keystore " + tls.dir().resolve("ca.pem") + " is not a PKCS12 or JKS keystore"),
                caOnly.getMessage());
    }

    @ParameterizedTest
    @CsvSource({
        "kafka.lab.example, *.lab.example, true",
        "a.kafka.lab.example, *.lab.example, false",
        "lab.example, *.lab.example, false",
        "Kafka.Lab.Example, kafka.lab.example, true",
        "kafka2.lab.example, kafka.lab.example, false"})
    void dnsNamesMatchAsClientsMatchThem(String host, String pattern, boolean matches) {
        assertEquals(matches, BrokerSecurity.dnsMatches(pattern, host));
    }

    @Test
    void aPasswordFileMustBeTheOwnersAloneAndHoldAPassword() throws IOException {
        Path f = dir.resolve("pw");
        Files.writeString(f, "s3cret\nignored\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        assertEquals("s3cret", BrokerSecurity.readPasswordFile(f, "--scram-password-file"));
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
        assertEquals("--scram-password-file " + f + " is open to other users: chmod 600 " + f,
                assertThrows(IllegalArgumentException.class, () -> BrokerSecurity.readPasswordFile(f, "--scram-password-file"))
                        .getMessage());
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        Files.writeString(f, "\n");
        assertEquals("--tls-password-file " + f + " is empty: its first line is the password",
                assertThrows(IllegalArgumentException.class, () -> BrokerSecurity.readPasswordFile(f, "--tls-password-file"))
                        .getMessage());
        assertEquals("--tls-password-file " + dir.resolve("none") + " does not exist",
                assertThrows(IllegalArgumentException.class,
                        () -> BrokerSecurity.readPasswordFile(dir.resolve("none"), "--tls-password-file")).getMessage());
    }

    @Test
    void usersAreNamedOnceAndNeverAsTheBroker() {
        assertEquals("SCRAM user zaro-broker is the broker's own: choose another name",
                assertThrows(IllegalArgumentException.class, () -> new BrokerSecurity.ScramUser("zaro-broker", "x")).getMessage());
        assertEquals("SCRAM user 'fw 1' must be 1-64 letters, digits, '.', '_' or '-'",
                assertThrows(IllegalArgumentException.class, () -> new BrokerSecurity.ScramUser("fw 1", "x")).getMessage());
        assertEquals("SCRAM user fw1 is named twice: give each --scram-user once",
                assertThrows(IllegalArgumentException.class, () -> new BrokerSecurity(null,
                        List.of(new BrokerSecurity.ScramUser("fw1", "a"), new BrokerSecurity.ScramUser("fw1", "b")))).getMessage());
        assertFalse(FW1.toString().contains("secret"), "a user's toString keeps its password");
    }

    @Test
    void aJaasLineQuotesWhatItHolds() {
        assertEquals("org.apache.kafka.common.security.scram.ScramLoginModule required username=\"fw1\" "
                + "password=\"a\\\"b\\\\c\";", BrokerSecurity.jaas("fw1", "a\"b\\c"));
    }
}

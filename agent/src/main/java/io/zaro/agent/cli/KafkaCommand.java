package io.zaro.agent.cli;

import io.zaro.kafka.broker.BrokerSecurity;
import io.zaro.kafka.broker.EmbeddedBroker;
import io.zaro.kafka.broker.KraftQuorum;
import io.zaro.kafka.broker.LabCertificates;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code zaro kafka}: the project's own KRaft broker (one node, or a small cluster), for the demo and the tests. */
@Command(name = "kafka", mixinStandardHelpOptions = true,
        description = "Start and stop zaro's own Kafka broker (KRaft): one node, or each node of a small cluster. "
                + "Production clusters need none of this.",
        subcommands = {KafkaCommand.Start.class, KafkaCommand.Stop.class, KafkaCommand.Tls.class})
public final class KafkaCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class DataDir {
        @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "${env:ZARO_DATA:-.zaro}/kafka",
                description = "The broker's directory: config, data, broker.log, broker.pid (default: ${DEFAULT-VALUE}).")
        Path dataDir;
    }

    @Command(name = "start", mixinStandardHelpOptions = true,
            description = {"Start the broker in the background and wait until it answers.",
                    "With --tls-keystore its client listener speaks TLS; with --scram-user clients log in with "
                            + "SASL/SCRAM-SHA-512 (both: SASL_SSL). The controller listener then stays on 127.0.0.1. "
                            + "Give the same options at every start.",
                    "With --node-id and --voters it is one node of a cluster (PLAINTEXT): start every node within "
                            + "--timeout of each other, each with the same --voters."})
    static final class Start implements Runnable {
        @picocli.CommandLine.Mixin
        DataDir dir = new DataDir();

        @Option(names = "--host", defaultValue = "127.0.0.1", description = "Listen address (default: ${DEFAULT-VALUE}).")
        String host;

        @Option(names = "--port", defaultValue = "" + EmbeddedBroker.Settings.DEFAULT_PORT,
                description = "Client port (default: ${DEFAULT-VALUE}).")
        int port;

        @Option(names = "--controller-port", defaultValue = "" + EmbeddedBroker.Settings.DEFAULT_CONTROLLER_PORT,
                description = "KRaft controller port (default: ${DEFAULT-VALUE}).")
        int controllerPort;

        @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "90",
                description = "How long to wait for the broker to answer (default: ${DEFAULT-VALUE}).")
        long timeoutSeconds;

        @ArgGroup(exclusive = false)
        TlsOptions tls;

        @ArgGroup(exclusive = false)
        ClusterOptions cluster;

        @ArgGroup(exclusive = false, multiplicity = "0..*")
        List<ScramUserOptions> scramUsers = new ArrayList<>();

        @Spec
        CommandSpec spec;

        static final class TlsOptions {
            @Option(names = "--tls-keystore", paramLabel = "FILE", required = true,
                    description = "PKCS12 keystore with the broker's key and certificate, which must name --host "
                            + "(`zaro kafka tls` makes one): the client listener speaks TLS.")
            Path keystore;

            @Option(names = "--tls-password-file", paramLabel = "FILE", required = true,
                    description = "The keystore's password, on the file's first line (mode 0600).")
            Path passwordFile;
        }

        static final class ClusterOptions {
            @Option(names = "--node-id", paramLabel = "ID", required = true,
                    description = "This node's id among --voters.")
            int nodeId;

            @Option(names = "--voters", paramLabel = "ID@HOST:PORT,...", required = true,
                    description = "Every node of the cluster with its controller listener, the same on each node, "
                            + "such as 1@10.97.0.11:9093,2@10.97.0.12:9093,3@10.97.0.13:9093. Three or more nodes "
                            + "replicate three times with min.insync.replicas=2.")
            String voters;

            @Option(names = "--cluster-id", paramLabel = "ID",
                    description = "The cluster's id, the same on each node (default: derived from --voters).")
            String clusterId;
        }

        static final class ScramUserOptions {
            @Option(names = "--scram-user", paramLabel = "NAME", required = true,
                    description = "A SASL/SCRAM-SHA-512 user clients log in as (repeat, each with its "
                            + "--scram-password-file); users left out at a later start are removed.")
            String name;

            @Option(names = "--scram-password-file", paramLabel = "FILE", required = true,
                    description = "That user's password, on the file's first line (mode 0600).")
            Path passwordFile;
        }

        @Override
        public void run() {
            KraftQuorum quorum = cluster == null ? null
                    : KraftQuorum.parse(cluster.nodeId, cluster.voters, cluster.clusterId);
            EmbeddedBroker.Settings s = new EmbeddedBroker.Settings(dir.dataDir, host, port, controllerPort, quorum);
            BrokerSecurity security = security();
            long pid = EmbeddedBroker.start(s, security, Duration.ofSeconds(timeoutSeconds));
            if (quorum != null) {
                spec.commandLine().getOut().printf("zaro: kafka broker running at %s as node %d of %d (cluster %s, "
                        + "pid %d, data in %s)%n", s.bootstrapServers(), quorum.nodeId(), quorum.voters().size(),
                        quorum.clusterId(), pid, s.dataDir());
                return;
            }
            if (security.equals(BrokerSecurity.PLAINTEXT)) {
                spec.commandLine().getOut().printf("zaro: kafka broker running at %s (pid %d, data in %s)%n",
                        s.bootstrapServers(), pid, s.dataDir());
                return;
            }
            String users = security.users().stream().map(BrokerSecurity.ScramUser::name).toList().toString();
            spec.commandLine().getOut().printf("zaro: kafka broker running at %s over %s (%spid %d, data in %s)%n",
                    s.bootstrapServers(), security.protocol(),
                    security.hasSasl() ? BrokerSecurity.MECHANISM + " users " + users.substring(1, users.length() - 1) + "; "
                            : "", pid, s.dataDir());
        }

        private BrokerSecurity security() {
            BrokerSecurity.Tls t = tls == null ? null : new BrokerSecurity.Tls(tls.keystore,
                    BrokerSecurity.readPasswordFile(tls.passwordFile, "--tls-password-file"));
            List<BrokerSecurity.ScramUser> users = new ArrayList<>();
            for (ScramUserOptions u : scramUsers) {
                users.add(new BrokerSecurity.ScramUser(u.name,
                        BrokerSecurity.readPasswordFile(u.passwordFile, "--scram-password-file")));
            }
            return new BrokerSecurity(t, users);
        }
    }

    @Command(name = "tls", mixinStandardHelpOptions = true,
            description = {"Make a lab's TLS material with the JDK's keytool: a CA, a certificate for the broker naming "
                    + "each --host, and the CA's certificate in PEM for the clients.",
                    "A CA already in --dir is used again (clients keep their ca.pem)."})
    static final class Tls implements Runnable {
        @Option(names = "--dir", paramLabel = "DIR", defaultValue = "${env:ZARO_DATA:-.zaro}/kafka-tls",
                description = "Where to write them (mode 0700; default: ${DEFAULT-VALUE}).")
        Path dir;

        @Option(names = "--host", paramLabel = "ADDRESS", required = true,
                description = "An address or DNS name clients reach the broker at (repeat for more).")
        List<String> hosts;

        @Option(names = "--days", defaultValue = "825",
                description = "How long the broker's certificate is valid (default: ${DEFAULT-VALUE}).")
        int days;

        @Spec
        CommandSpec spec;

        @Override
        public void run() {
            LabCertificates.Made m = LabCertificates.make(dir, hosts, days);
            PrintWriter out = spec.commandLine().getOut();
            out.printf("zaro: TLS material for %s in %s:%n", String.join(", ", hosts), m.dir());
            out.printf("  %-16s the CA's certificate: the clients' truststore (ssl.truststore.type=PEM)%n",
                    LabCertificates.CA_PEM);
            out.printf("  %-16s the broker's key and certificate, valid until %s: zaro kafka start --tls-keystore%n",
                    LabCertificates.BROKER_KEYSTORE, m.notAfter());
            out.printf("  %-16s its password: zaro kafka start --tls-password-file%n", LabCertificates.BROKER_PASSWORD);
            out.printf("  %-16s the CA's key (%s) and its password in %s: keep them here, copy them nowhere%n",
                    LabCertificates.CA_KEYSTORE, m.newCa() ? "new" : "used again", LabCertificates.CA_PASSWORD);
        }
    }

    @Command(name = "stop", mixinStandardHelpOptions = true, description = "Stop the broker (clean shutdown, forced after --timeout).")
    static final class Stop implements Runnable {
        @picocli.CommandLine.Mixin
        DataDir dir = new DataDir();

        @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "60",
                description = "How long a clean shutdown may take (default: ${DEFAULT-VALUE}).")
        long timeoutSeconds;

        @Spec
        CommandSpec spec;

        @Override
        public void run() {
            boolean stopped = EmbeddedBroker.stop(dir.dataDir, Duration.ofSeconds(timeoutSeconds));
            spec.commandLine().getOut().println(stopped ? "zaro: kafka broker stopped"
                    : "zaro: no kafka broker was running from " + dir.dataDir.toAbsolutePath().normalize());
        }
    }
}

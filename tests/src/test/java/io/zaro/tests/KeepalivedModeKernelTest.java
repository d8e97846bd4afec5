package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.Family;
import io.zaro.conntrack.filter.Cidr;
import io.zaro.tests.netns.AgentProcess;
import io.zaro.tests.netns.BrokerFixture;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import io.zaro.tests.netns.SyntheticFlows;
import io.zaro.tests.netns.ZaroCli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * keepalived mode, for routers that already run keepalived: keepalived holds the VIP and zaro
 * follows its notify FIFO. fw1's keepalived is master and its agent publishes; fw2's agent
 * mirrors; when fw1's keepalived is killed, fw2's keepalived takes the VIP and tells its agent,
 * which starts publishing the mirrored table.
 */
@KernelTest
class KeepalivedModeKernelTest {
    private static final String BROKER = "10.99.0.10";
    private static final Cidr SYNC = Cidr.parse("10.99.0.0/24");
    private static final SyntheticFlows FLOWS = new SyntheticFlows("10.60.2.2", "fd60:2::2", "10.60.2.254");

    private Lab lab;
    private Host fw1;
    private Host fw2;
    private BrokerFixture broker;
    private Path dir;

    @BeforeEach
    void topology() throws Exception {
        assertTrue(io.zaro.tests.netns.Cmd.onPath("keepalived"), "keepalived is missing: run scripts/setup.sh");
        lab = new Lab();
        fw1 = lab.host("fw1");
        fw2 = lab.host("fw2");
        Host kafka = lab.host("kafka");
        lab.bridge("lan", "eth0", fw1, fw2);
        lab.bridge("sync", "sync0", fw1, fw2, kafka);
        fw1.address("eth0", "10.60.1.1/24").address("sync0", "10.99.0.1/24");
        fw2.address("eth0", "10.60.1.2/24").address("sync0", "10.99.0.2/24");
        kafka.address("sync0", BROKER + "/24");
        dir = Files.createTempDirectory("zaro-keepalived-mode");
        broker = new BrokerFixture(kafka, BROKER);
    }

    @AfterEach
    void cleanup() {
        try {
            if (broker != null) {
                broker.close();
            }
        } finally {
            lab.close();
        }
    }

    @ParameterizedTest(name = "through {0}")
    @ValueSource(strings = {"notify_fifo", "notify script"})
    void theAgentFollowsKeepalivedsTransitions(String channel) throws Exception {
        boolean script = channel.equals("notify script");
        try (ConntrackTable t1 = Conntrack.open(fw1.name()); ConntrackTable t2 = Conntrack.open(fw2.name())) {
            AgentProcess a1 = agent(fw1, "fw1");
            AgentProcess a2 = agent(fw2, "fw2");
            a1.awaitLog("following keepalived", Duration.ofSeconds(60));
            a2.awaitLog("following keepalived", Duration.ofSeconds(60));
            Process k1 = keepalived(fw1, "fw1", 150, script);
            keepalived(fw2, "fw2", 100, script);
            a1.awaitLog("active (keepalived holds the VIPs)", Duration.ofSeconds(30));
            assertEquals(0, t1.createAll(FLOWS.range(0, 200)).failed());
            long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (count(t2) < 200 && System.nanoTime() < end) {
                Thread.sleep(200);
            }
            assertEquals(200, count(t2), "fw2 mirrors while its keepalived is BACKUP");
            assertEquals(0, a2.occurrences("active (keepalived holds the VIPs)"));

            fw1.exec("sh", "-c", "kill -9 $(cat " + dir.resolve("fw1.pid") + " " + dir.resolve("fw1-vrrp.pid") + ")");
            k1.waitFor(10, TimeUnit.SECONDS);
            a2.awaitLog("active (keepalived holds the VIPs)", Duration.ofSeconds(30));
            assertTrue(a2.log().contains("keepalived: INSTANCE \"VI_1\" MASTER" + (script ? " (notify script)" : "")),
                    a2.log());
            assertEquals(200, count(t2), "the mirrored flows are fw2's now");
            assertTrue(fw2.hasAddress("eth0", "10.60.1.254"),
                    "keepalived holds the VIP");
        }
    }

    private long count(ConntrackTable t) {
        return t.dump(Family.ALL).stream().filter(e -> !SYNC.contains(e.original().source())).count();
    }

    private AgentProcess agent(Host host, String node) {
        return AgentProcess.start(host, """
                node.id=%s
                role=keepalived
                kafka.bootstrap.servers=%s:9092
                kafka.topic.prefix=kmode
                kafka.topic.partitions=3
                filter.sync.interface=sync0
                vips=10.60.1.254
                keepalived.fifo=%s
                keepalived.instance=VI_1
                control.socket=%s
                """.formatted(node, BROKER, dir.resolve(node + ".fifo"), dir.resolve(node + ".sock")));
    }

    /** keepalived telling the agent through its FIFO, or (script) running {@code zaro keepalived-notify}. */
    private Process keepalived(Host host, String node, int priority, boolean script) throws Exception {
        Path conf = dir.resolve(node + ".conf");
        String notify = String.join(" ", ZaroCli.command("keepalived-notify", "--socket", dir.resolve(node + ".sock").toString()));
        Files.writeString(conf, """
                global_defs {
                  vrrp_version 3
                  %s
                }
                vrrp_instance VI_1 {
                  %s
                  state BACKUP
                  interface eth0
                  virtual_router_id 60
                  priority %d
                  advert_int 0.5
                  virtual_ipaddress {
                    10.60.1.254/24
                  }
                }
                """.formatted(script ? "" : "notify_fifo " + dir.resolve(node + ".fifo"),
                script ? "notify \"" + notify + "\"" : "", priority));
        return host.spawn("keepalived", "--dont-fork", "--log-console", "--use-file=" + conf,
                "--pid=" + dir.resolve(node + ".pid"), "--vrrp_pid=" + dir.resolve(node + "-vrrp.pid"));
    }
}

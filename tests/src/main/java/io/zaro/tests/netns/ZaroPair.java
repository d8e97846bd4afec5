package io.zaro.tests.netns;

import io.zaro.kafka.auth.AuthKeys;
import io.zaro.tests.netns.FailoverLab.Switch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * zaro agents with {@code role=vrrp} on both firewalls of a {@link FailoverLab} run: fw1's
 * (priority 150) on topics {@code fw1Topics}, fw2's (100) on {@code fw2Topics}, advertising every
 * {@code intervalCentis} hundredths of a second on eth0, signing and verifying their records with
 * one key. Different topics make a control run without mirroring.
 */
final class ZaroPair implements FirewallPair {
    private final Host fw1;
    private final Host fw2;
    private final String broker;
    private final String fw1Topics;
    private final String fw2Topics;
    private final int intervalCentis;
    private final Path dir;
    /** The run's agents, a fail-back's new one included; the run thread adds, {@link #close} may run from another. */
    private final List<AgentProcess> agents = new CopyOnWriteArrayList<>();
    private AgentProcess a1;
    private AgentProcess a2;

    ZaroPair(Host fw1, Host fw2, String broker, String fw1Topics, String fw2Topics, int intervalCentis, Path dir) {
        this.fw1 = fw1;
        this.fw2 = fw2;
        this.broker = broker;
        this.fw1Topics = fw1Topics;
        this.fw2Topics = fw2Topics;
        this.intervalCentis = intervalCentis;
        this.dir = dir;
    }

    @Override
    public void start() throws IOException, InterruptedException {
        // Both agents sign and verify records with one key, as in production.
        Files.write(dir.resolve("keys"), List.of(AuthKeys.generate("lab")));
        Files.setPosixFilePermissions(dir.resolve("keys"), PosixFilePermissions.fromString("rw-------"));
        a1 = agent(fw1, "fw1", 150, fw1Topics);
        a2 = agent(fw2, "fw2", 100, fw2Topics);
        a1.awaitLog("active: VIPs held", Duration.ofSeconds(60));
        a2.awaitLog("standby: VIPs released", Duration.ofSeconds(60));
        // fw2 may be master for a moment while fw1's JVM starts; wait until fw1 holds the VIPs alone.
        FailoverLab.awaitFw1Alone(fw1, fw2);
    }

    @Override
    public void awaitMirrored(int port, int connections) throws InterruptedException {
        if (!fw1Topics.equals(fw2Topics)) {
            return;
        }
        long mirrored = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (FailoverLab.established(fw2, port) < connections && System.nanoTime() < mirrored) {
            Thread.sleep(100);
        }
        FailoverLab.check(FailoverLab.established(fw2, port) >= connections, "fw2 mirrors every connection before the switch ("
                + FailoverLab.established(fw2, port) + " of " + connections + " after 60 s)");
    }

    @Override
    public String diagnosis() {
        return "fw2's agent took the VIPs " + a2.occurrences("active: VIPs held") + " times, fw1's "
                + a1.occurrences("active: VIPs held");
    }

    @Override
    public String describe(Switch how) {
        return how == Switch.HANDOVER ? "zaro handover on fw1" : "killing fw1 (kill -9 of its agent, links down)";
    }

    @Override
    public long switchOver(Switch how) throws IOException, InterruptedException {
        int activations = a2.occurrences("active: VIPs held");
        long switchAt = System.nanoTime();
        if (how == Switch.HANDOVER) {
            String answer = fw1.execOk(ZaroCli.command("handover", "--socket", dir.resolve("fw1.sock").toString())
                    .toArray(String[]::new)).stdout();
            FailoverLab.check(answer.contains("handed over"), "fw1 handed over: " + answer);
        } else {
            a1.kill();
            FailoverLab.linksDown(fw1);
        }
        a2.awaitLog("active: VIPs held", activations + 1, Duration.ofSeconds(30));
        if (how == Switch.FAIL_BACK) {
            Thread.sleep(5_000);
            // As after a reboot: the killed agent's VIPs and the old table are gone.
            fw1.execOk("conntrack", "-F");
            FailoverLab.removeVips(fw1);
            switchAt = System.nanoTime();
            fw1.execOk("ip", "link", "set", "eth0", "up");
            fw1.execOk("ip", "link", "set", "eth1", "up");
            AgentProcess back = agent(fw1, "fw1", 150, fw1Topics);
            back.awaitLog("active: VIPs held", Duration.ofSeconds(60));
            FailoverLab.check(back.log().indexOf("standby: VIPs released") < back.log().indexOf("active: VIPs held"),
                    "fw1 mirrored fw2 before it took the VIPs back");
        }
        return switchAt;
    }

    @Override
    public Map<String, Long> milestones() {
        return Map.of();
    }

    @Override
    public void close() {
        agents.forEach(AgentProcess::closeAndDelete);
    }

    private AgentProcess agent(Host host, String node, int priority, String topics) {
        AgentProcess a = AgentProcess.start(host, """
                node.id=%s
                role=vrrp
                kafka.bootstrap.servers=%s:9092
                kafka.topic.prefix=%s
                kafka.topic.partitions=3
                filter.sync.interface=sync0
                vrrp.interface=eth0
                vrrp.vrid=50
                vrrp.priority=%d
                vrrp.interval.centiseconds=%d
                vrrp.vips=%s/24@eth0,%s/24@eth1
                control.socket=%s
                auth.key.file=%s
                """.formatted(node, broker, topics, priority, intervalCentis, FailoverLab.GATEWAY_VIP, FailoverLab.SNAT_VIP,
                dir.resolve(node + ".sock"), dir.resolve("keys")));
        agents.add(a);
        return a;
    }
}

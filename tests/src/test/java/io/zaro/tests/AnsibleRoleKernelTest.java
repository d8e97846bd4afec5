package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.agent.config.AgentConfig;
import io.zaro.tests.netns.BrokerFixture;
import io.zaro.tests.netns.Cmd;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import io.zaro.tests.netns.ZaroCli;
import io.zaro.tests.traffic.EchoClients;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The Ansible roll-out of issue 7 ({@code ansible/}): {@code ansible-lint} (production profile) and
 * {@code ansible-playbook --syntax-check} are clean, and the role's list of configuration keys is
 * the agent's. {@code site.yml} is applied over the chroot connection to two Debian 12 roots made
 * with debootstrap (one made, one copied): with {@code --check --diff} while they are fresh
 * (nothing written), then twice, the second run changing nothing, then to fw1 with
 * {@code --check --diff} and its priority changed (that line shown, nothing written). fw1's root
 * gets {@code role=vrrp} with nftables, fw2's the keepalived mode with iptables and an existing
 * keepalived.conf; both share a record authentication key. The configurations load as the agent
 * reads them, the units pass {@code systemd-analyze verify}, the rules load ({@code nft --check},
 * {@code iptables-restore --test}).
 *
 * <p>Then the roots meet the kernel, in {@code FailoverKernelTest}'s topology (client -- fw1 / fw2
 * -- server, strict forward rulesets, SNAT to a VIP, {@code nf_conntrack_tcp_loose=0}), where each
 * firewall's own host firewall drops everything new in and out (fw1's in nftables, fw2's in
 * iptables). There, zaro's VRRP on fw1 and keepalived on fw2 both take the VIP and neither reaches
 * the broker until each root's {@code zaro-firewall} loads its rules; then keepalived yields to
 * fw1 and both reach the broker. The agents run from the roots as their unit runs them (user zaro,
 * two capabilities, the unit's JVM options), on the configuration and keys the role wrote, fw2's
 * following keepalived through the role's notify_fifo; fw1's metrics endpoint answers the host the
 * role allowed and not the client; fw1 dies and every connection goes on through fw2. Unloading
 * leaves both host firewalls as they were.
 *
 * <p>Needs root, Debian's {@code ansible}, {@code ansible-lint}, {@code debootstrap},
 * {@code keepalived} and {@code iptables}, and the Debian archive ({@code ZARO_DEBIAN_MIRROR},
 * default {@value #DEFAULT_MIRROR}); {@code ZARO_ANSIBLE_BASE_ROOT} names a root made as
 * {@link #INCLUDE} says, to copy instead, when working on the roles. About 4 minutes on 2 cores,
 * debootstrap the longest part. Every command in a root runs in a mount namespace of its own, where
 * {@code /proc} (and {@code /sys} for the daemons) is mounted for it, so no mount reaches the machine.
 */
@KernelTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AnsibleRoleKernelTest {
    private static final String DEFAULT_MIRROR = "http://deb.debian.org/debian";
    private static final Path PROJECT = Files.isDirectory(Path.of("ansible")) ? Path.of("").toAbsolutePath()
            : Path.of("..").toAbsolutePath().normalize();
    private static final Path ANSIBLE = PROJECT.resolve("ansible");
    private static final List<String> TOOLS = List.of("ansible-playbook", "ansible-lint", "debootstrap", "keepalived",
            "iptables-restore", "ip6tables-restore", "socat");
    /**
     * What the roots hold besides minbase: what ansible needs (python3, python3-apt for its apt
     * module), procps (sysctl), what the package depends on and recommends (arping), the
     * firewalls' tools, systemd (for its unit files and systemd-analyze), and keepalived, which a
     * host in keepalived mode runs already. The role's apt tasks then find everything installed
     * and need no archive.
     */
    private static final String INCLUDE = "python3,python3-apt,procps,systemd,default-jre-headless,libnetfilter-conntrack3,"
            + "iproute2,adduser,iputils-arping,nftables,iptables,keepalived";
    private static final Pattern RECAP = Pattern.compile("(?m)^(fw[12])\\s*:\\s*ok=(\\d+)\\s+changed=(\\d+)\\s+"
            + "unreachable=(\\d+)\\s+failed=(\\d+)");
    /** systemd's PATH for services. */
    private static final String PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private static final String BROKER = "10.99.0.10";
    private static final String SERVER = "10.50.2.2";
    private static final String GATEWAY_VIP = "10.50.1.254";
    private static final String SNAT_VIP = "10.50.2.254";
    private static final int TCP_PORT = 7000;
    private static final int UDP_PORT = 7100;
    private static final int CONNECTIONS = 20;
    private static final int UDP_FLOWS = 2;

    private Path work;
    private Path root1;
    private Path root2;
    private Path inventory;
    private Path run;
    /** The output of each ansible-playbook run on the roots, in order; null until they ran. */
    private Map<String, String> runs;
    private Throwable rootsFailed;

    @BeforeAll
    void requirements() throws IOException {
        List<String> missing = TOOLS.stream().filter(t -> !Cmd.onPath(t)).map(t -> "`" + t + "` is not installed").toList();
        if (!missing.isEmpty()) {
            String reason = "the Ansible test cannot run: " + String.join("; ", missing) + " (run `sudo scripts/setup.sh`)";
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                throw new IllegalStateException(reason + " -- under CI=true this is a failure, not a skip");
            }
            Assumptions.abort(reason);
        }
        work = Files.createTempDirectory("zaro-ansible");
        root1 = work.resolve("fw1");
        root2 = work.resolve("fw2");
        run = Files.createDirectory(work.resolve("run"));
    }

    @AfterAll
    void cleanup() throws IOException {
        if (work == null) {
            return;
        }
        // Nothing can be mounted below the roots (each mount lived in a namespace now gone); if
        // something were, deleting through it would delete the machine's files.
        String mounts = Files.readString(Path.of("/proc/self/mountinfo"));
        if (mounts.contains(" " + work + "/")) {
            throw new AssertionError("something is mounted below " + work + ": not deleting it\n" + mounts);
        }
        Cmd.run(List.of("rm", "-rf", "--one-file-system", work.toString()), null, 300).ok();
    }

    @Test
    @Order(1)
    void ansibleLintWithTheProductionProfileIsClean() {
        Cmd.Result lint = Cmd.run(List.of("sh", "-c", "cd \"$0\" && exec ansible-lint --nocolor --profile production",
                ANSIBLE.toString()), null, 300);
        assertEquals(0, lint.exitCode(), lint.stdout() + lint.stderr());
        assertTrue(lint.stdout().concat(lint.stderr()).contains("Passed with production profile: 0 failure(s), 0 warning(s)"),
                lint.stdout() + lint.stderr());
    }

    /** The role refuses keys the agent does not know, by its own list: that list must be the agent's. */
    @Test
    @Order(2)
    void theRoleKnowsTheKeysTheAgentKnows() throws IOException {
        String vars = Files.readString(ANSIBLE.resolve("roles/zaro/vars/main.yml"));
        Matcher list = Pattern.compile("(?ms)^zaro_known_keys:\n((?:  - \\S+\n)+)").matcher(vars);
        assertTrue(list.find(), "zaro_known_keys in roles/zaro/vars/main.yml");
        TreeSet<String> role = list.group(1).lines().map(l -> l.substring("  - ".length())).collect(Collectors.toCollection(TreeSet::new));
        TreeSet<String> agent = AgentConfig.KEYS.stream().map(AgentConfig.Key::name).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(agent, role, "ansible/roles/zaro/vars/main.yml lists the keys of AgentConfig.KEYS");
    }

    @Test
    @Order(3)
    void theSyntaxCheckIsClean() {
        Cmd.Result check = ansible(List.of("--syntax-check", "-i", ANSIBLE.resolve("inventory/example.yml").toString()));
        assertEquals(0, check.exitCode(), check.stdout() + check.stderr());
        assertFalse(check.stderr().contains("WARNING"), check.stderr());
    }

    @Test
    @Order(4)
    void appliedTwiceToTwoDebianRootsTheSecondRunChangesNothing() throws Exception {
        Map<String, String> r = roots();
        String fresh = r.get("check on fresh roots");
        Map<String, int[]> freshRecap = recap(fresh);
        assertTrue(freshRecap.get("fw1")[1] > 0 && freshRecap.get("fw2")[1] > 0, "--check reports what it would change:\n" + fresh);
        assertTrue(fresh.contains("+node.id=fw1"), "--diff shows fw1's configuration:\n" + fresh);

        Map<String, int[]> first = recap(r.get("first run"));
        Map<String, int[]> second = recap(r.get("second run"));
        for (String fw : List.of("fw1", "fw2")) {
            assertTrue(first.get(fw)[1] > 10, fw + " changed on the first run:\n" + r.get("first run"));
            assertEquals(0, second.get(fw)[1], fw + " changed nothing on the second run:\n" + r.get("second run"));
        }

        // What the roots hold: the package's files, the configuration as the agent reads it.
        for (Path root : List.of(root1, root2)) {
            assertEquals("root zaro 640", inRoot(root, "stat -c '%U %G %a' /etc/zaro/zaro.properties").strip());
            assertEquals("enabled", inRoot(root, "systemctl is-enabled zaro.service").strip());
            assertEquals("enabled", inRoot(root, "systemctl is-enabled zaro-firewall.service").strip());
            String sysctl = Files.readString(root.resolve("etc/sysctl.d/60-zaro.conf"));
            assertTrue(sysctl.contains("net.netfilter.nf_conntrack_tcp_loose=0"), sysctl);
            assertTrue(sysctl.contains("net.netfilter.nf_conntrack_events=1"), sysctl);
            assertEquals("nf_conntrack", Files.readString(root.resolve("etc/modules-load.d/zaro.conf")).lines()
                    .filter(l -> !l.startsWith("#")).collect(Collectors.joining("\n")));
            Cmd.Result verify = inRootResult(root, "systemd-analyze verify /usr/lib/systemd/system/zaro.service "
                    + "/etc/systemd/system/zaro-firewall.service");
            assertEquals(0, verify.exitCode(), verify.stderr());
            assertFalse(verify.stderr().contains("zaro"), "no complaint about zaro's units:\n" + verify.stderr());
        }
        AgentConfig fw1 = AgentConfig.load(root1.resolve("etc/zaro/zaro.properties"));
        assertEquals("fw1", fw1.nodeId());
        assertEquals(AgentConfig.Role.VRRP, fw1.role());
        assertEquals(150, fw1.vrrp().priority());
        assertEquals(List.of(GATEWAY_VIP + "/24", SNAT_VIP + "/24"), fw1.vrrp().vips().stream().map(AgentConfig.Vip::cidr).toList());
        assertEquals(BROKER + ":9092", fw1.kafka().getProperty("bootstrap.servers"));
        assertEquals("sync0", fw1.syncInterface());
        AgentConfig fw2 = AgentConfig.load(root2.resolve("etc/zaro/zaro.properties"));
        assertEquals(AgentConfig.Role.KEEPALIVED, fw2.role());
        assertEquals("VI_1", fw2.keepalived().instance());
        assertEquals(Path.of("/run/zaro/keepalived.fifo"), fw2.keepalived().fifo());
        for (Path root : List.of(root1, root2)) {
            assertEquals("zaro zaro 600", inRoot(root, "stat -c '%U %G %a' /etc/zaro/keys").strip(), "the key file, as the agent wants it");
            assertEquals(Path.of("/etc/zaro/keys"), AgentConfig.load(root.resolve("etc/zaro/zaro.properties")).authKeyFile());
        }

        // keepalived mode: the administrator's keepalived.conf with one block added.
        String keepalived = Files.readString(root2.resolve("etc/keepalived/keepalived.conf"));
        assertTrue(keepalived.startsWith(KEEPALIVED_CONF), keepalived);
        assertTrue(keepalived.contains("notify_fifo /run/zaro/keepalived.fifo zaro zaro"), keepalived);
    }

    @Test
    @Order(5)
    void checkModeShowsTheDiffOfAChangeAndWritesNothing() throws Exception {
        roots();
        String before = Files.readString(root1.resolve("etc/zaro/zaro.properties"));
        // fw1 alone: check mode on both roots ran first, while they were fresh.
        Cmd.Result check = ansibleOnRoots(List.of("--check", "--diff", "--limit", "fw1", "-e", "{\"zaro_vrrp_priority\": 140}"), 600);
        assertEquals(0, check.exitCode(), check.stdout() + check.stderr());
        Matcher recap = RECAP.matcher(check.stdout());
        assertTrue(recap.find() && recap.group(1).equals("fw1") && recap.group(3).equals("1") && recap.group(5).equals("0"),
                "the configuration, and only it, would change on fw1:\n" + check.stdout());
        assertTrue(check.stdout().contains("-vrrp.priority=150") && check.stdout().contains("+vrrp.priority=140"), check.stdout());
        assertEquals(before, Files.readString(root1.resolve("etc/zaro/zaro.properties")), "check mode wrote nothing");
    }

    @Test
    @Order(6)
    void theRenderedRulesLoad() throws Exception {
        roots();
        Path nft = root1.resolve("etc/zaro/firewall.nft");
        String rules = Files.readString(nft);
        assertTrue(rules.contains("iifname \"eth0\" ip daddr 224.0.0.18 ip protocol 112 accept"), rules);
        assertTrue(rules.contains("ip daddr " + BROKER + " tcp dport 9092 accept"), rules);
        assertTrue(rules.contains("ip daddr 10.99.0.1 ip saddr { " + BROKER + " } tcp dport 9740 accept"), rules);
        Cmd.run(List.of("nft", "--check", "--file", nft.toString())).ok();
        for (String file : List.of("firewall.v4", "firewall.v6")) {
            Path f = root2.resolve("etc/zaro").resolve(file);
            Cmd.run(List.of(file.endsWith("v4") ? "iptables-restore" : "ip6tables-restore", "--test", "--noflush", f.toString()))
                    .ok();
        }
        String v4 = Files.readString(root2.resolve("etc/zaro/firewall.v4"));
        assertTrue(v4.contains("-A ZARO-INPUT -i eth0 -d 224.0.0.18 -p 112"), v4);
        assertTrue(v4.contains("-A ZARO-OUTPUT -d " + BROKER + " -p tcp -m tcp --dport 9092"), v4);
        assertFalse(v4.contains("9740"), "fw2's metrics listen on loopback: nothing to open\n" + v4);
    }

    @Test
    @Order(7)
    void inNamespacesTheRulesLetVrrpKafkaAndTheFailoverTrafficThroughAndNothingElse() throws Exception {
        roots();
        try (Lab lab = new Lab()) {
            Host kafka = lab.host("kafka");
            Host client = lab.host("client");
            Host fw1 = lab.host("fw1");
            Host fw2 = lab.host("fw2");
            Host server = lab.host("server");
            lab.bridge("lan", "eth0", client, fw1, fw2);
            lab.bridge("wan", "eth1", fw1, fw2, server);
            lab.bridge("sync", "sync0", fw1, fw2, kafka);
            client.address("eth0", "10.50.1.2/24").route("default", GATEWAY_VIP);
            server.address("eth1", SERVER + "/24");
            kafka.address("sync0", BROKER + "/24");
            int n = 1;
            for (Host fw : List.of(fw1, fw2)) {
                fw.address("eth0", "10.50.1." + (10 + n) + "/24").address("eth1", "10.50.2." + (10 + n) + "/24")
                        .address("sync0", "10.99.0." + n + "/24").forwarding()
                        .sysctl("net.netfilter.nf_conntrack_tcp_loose", "0");
                // The failover test's strict forward ruleset and SNAT to a VIP.
                fw.nft("""
                        table inet zaro_fw {
                          chain forward { type filter hook forward priority 0; policy drop;
                            ct state invalid drop
                            ct state established,related accept
                            iifname "eth0" oifname "eth1" ct state new accept
                          }
                        }
                        table ip zaro_nat {
                          chain post { type nat hook postrouting priority 100; oifname "eth1" snat to %s; }
                        }
                        """.formatted(SNAT_VIP));
                n++;
            }
            // Each firewall's own host firewall: nothing new in or out. fw1's in nftables, fw2's in iptables.
            fw1.nft("""
                    table inet filter {
                      chain input { type filter hook input priority filter; policy drop;
                        ct state established,related accept
                        iif "lo" accept
                      }
                      chain output { type filter hook output priority filter; policy drop;
                        ct state established,related accept
                        oif "lo" accept
                      }
                    }
                    """);
            for (String table : List.of("iptables", "ip6tables")) {
                for (String chain : List.of("INPUT", "OUTPUT")) {
                    fw2.execOk(table, "-A", chain, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT");
                    fw2.execOk(table, "-A", chain, chain.equals("INPUT") ? "-i" : "-o", "lo", "-j", "ACCEPT");
                    fw2.execOk(table, "-P", chain, "DROP");
                }
            }
            String fw1Ruleset = fw1.execOk("nft", "list", "ruleset").stdout();
            String fw2Ruleset = iptablesSave(fw2);

            try (BrokerFixture broker = new BrokerFixture(kafka, BROKER)) {
                // Without zaro's rules: no Kafka, no VRRP. fw1 runs zaro's VRRP alone (no agent: no
                // Kafka needed), fw2 its keepalived with the role's notify_fifo block.
                for (Host fw : List.of(fw1, fw2)) {
                    assertFalse(reaches(fw, BROKER, 9092), fw + " cannot reach the broker through its host firewall");
                    assertEquals(3, zaroFirewall(fw, fw == fw1 ? root1 : root2, "status").exitCode(), fw + ": not loaded yet");
                }
                // (Both VIPs on eth0: zaro vrrp's --vip takes no interface; the advertisement carries
                // the two addresses keepalived's virtual_ipaddress lists.)
                Daemon vrrp = Daemon.start(fw1, root1, run.resolve("fw1-vrrp.log"), "zaro vrrp --interface eth0 --vrid 50 "
                        + "--priority 150 --interval 50 --vip " + GATEWAY_VIP + "/24 --vip " + SNAT_VIP + "/24");
                Daemon keepalived = Daemon.start(fw2, root2, run.resolve("fw2-keepalived-1.log"), "keepalived --dont-fork --log-console");
                awaitTrue(() -> hasVip(fw1) && hasVip(fw2), Duration.ofSeconds(30),
                        "with the advertisements dropped, both firewalls take the VIP",
                        () -> "zaro vrrp on fw1:\n" + vrrp.log() + "\nkeepalived on fw2:\n" + keepalived.log());

                // zaro's rules, loaded by the roots' zaro-firewall on top of the host firewalls.
                for (Host fw : List.of(fw1, fw2)) {
                    Path root = fw == fw1 ? root1 : root2;
                    zaroFirewall(fw, root, "load").ok();
                    zaroFirewall(fw, root, "load").ok();
                    assertEquals(0, zaroFirewall(fw, root, "status").exitCode(), fw + ": loaded");
                }
                assertEquals(1, count(fw1.execOk("nft", "list", "chain", "inet", "filter", "input").stdout(), "jump zaro_input"),
                        "loaded twice, jumped to once");
                assertEquals(1, count(fw2.execOk("iptables", "-S", "INPUT").stdout(), "-j ZARO-INPUT"), "loaded twice, jumped to once");
                assertEquals(1, count(fw2.execOk("iptables", "-S", "ZARO-INPUT").stdout(), "224.0.0.18"),
                        "loaded twice, each rule once");
                awaitTrue(() -> hasVip(fw1) && !hasVip(fw2), Duration.ofSeconds(10),
                        "with zaro's rules, fw2's keepalived hears fw1 (priority 150) and gives up the VIP",
                        () -> "zaro vrrp on fw1:\n" + vrrp.log() + "\nkeepalived on fw2:\n" + keepalived.log());
                for (Host fw : List.of(fw1, fw2)) {
                    assertTrue(reaches(fw, BROKER, 9092), fw + " reaches the broker");
                }
                vrrp.stop();
                awaitTrue(() -> hasVip(fw2), Duration.ofSeconds(10), "fw2's keepalived takes over when zaro's VRRP stops on fw1");
                keepalived.stop();

                // The agents, each run from its root as zaro.service runs it (user zaro, its two
                // capabilities, its JVM options) on the configuration the role wrote: fw1's takes
                // the VIPs; then fw2's keepalived starts, hears fw1 and stays backup, and says so
                // through the role's notify_fifo.
                try (Daemon a2 = agent(fw2, root2); Daemon a1 = agent(fw1, root1)) {
                    a2.awaitLog("following keepalived", 1, Duration.ofSeconds(90));
                    a1.awaitLog("active: VIPs held", 1, Duration.ofSeconds(90));
                    try (Daemon keepalivedAgain = Daemon.start(fw2, root2, run.resolve("fw2-keepalived-2.log"),
                            "keepalived --dont-fork --log-console")) {
                        a2.awaitLog("keepalived: INSTANCE \"VI_1\" BACKUP", 1, Duration.ofSeconds(30));
                        assertTrue(hasVip(fw1) && !hasVip(fw2), "fw1 holds the VIPs alone");

                        // Metrics: fw1's endpoint on the sync link answers the broker's host, which the
                        // role allowed, and not the client.
                        assertTrue(metrics(kafka, "10.99.0.1").contains("zaro_role"), "the metrics endpoint answers the allowed host");
                        client.execOk("ip", "route", "add", "10.99.0.0/24", "via", GATEWAY_VIP);
                        assertFalse(reaches(client, "10.99.0.1", 9740), "the client may not scrape fw1");

                        flowsGoOnThroughFw2(client, server, fw1, a1, a2);
                        assertFalse(a2.log().contains("unsigned") || a2.log().contains("forged"),
                                "fw2 took fw1's signed records:\n" + a2.log());
                    }
                }
            }

            // Unloaded, the host firewalls are as they were.
            zaroFirewall(fw1, root1, "unload").ok();
            zaroFirewall(fw2, root2, "unload").ok();
            assertEquals(fw1Ruleset, fw1.execOk("nft", "list", "ruleset").stdout(),
                    "zaro-firewall unload leaves fw1's ruleset as it found it");
            assertEquals(fw2Ruleset, iptablesSave(fw2),
                    "zaro-firewall unload leaves fw2's iptables as it found them");
        }
    }

    /**
     * The agent of a root, as its zaro.service runs it: the unit's command and JVM options, as
     * the user zaro with CAP_NET_ADMIN and CAP_NET_RAW only and no new privileges, with the
     * runtime and cache directories systemd would make for it.
     */
    private Daemon agent(Host fw, Path root) throws IOException {
        String unit = Files.readString(root.resolve("usr/lib/systemd/system/zaro.service"));
        String exec = unit.lines().filter(l -> l.startsWith("ExecStart=")).findFirst().orElseThrow().substring("ExecStart=".length());
        String javaOptions = unit.lines().filter(l -> l.startsWith("Environment=\"ZARO_JAVA_OPTS="))
                .map(l -> l.substring("Environment=\"ZARO_JAVA_OPTS=".length(), l.length() - 1).replace("%C", "/var/cache"))
                .findFirst().orElseThrow(() -> new AssertionError("no ZARO_JAVA_OPTS in the unit:\n" + unit));
        inRoot(root, "install -d -o zaro -g zaro -m 0750 /run/zaro /var/cache/zaro");
        return Daemon.start(fw, root, run.resolve(fw.name() + "-agent.log"), "setpriv --reuid=zaro --regid=zaro --init-groups "
                + "--inh-caps=-all,+net_admin,+net_raw --ambient-caps=-all,+net_admin,+net_raw "
                + "--bounding-set=-all,+net_admin,+net_raw --no-new-privs env -i PATH=" + PATH + " 'ZARO_JAVA_OPTS=" + javaOptions
                + "' " + exec);
    }

    /**
     * A daemon of a root in a namespace of the lab: in a mount namespace of its own with the
     * root's {@code /proc} and {@code /sys} (the namespace's interfaces), chrooted, its output appended to a log file outside the root. Every
     * command on the way execs the next, so the process is the daemon's.
     */
    private static final class Daemon implements AutoCloseable {
        private final Process process;
        private final Path log;

        private Daemon(Process process, Path log) {
            this.process = process;
            this.log = log;
        }

        static Daemon start(Host host, Path root, Path log, String command) throws IOException {
            Files.writeString(log, "", java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            return new Daemon(host.spawn("unshare", "--mount", "--propagation", "private", "sh", "-c",
                    "mount -t proc proc \"$0/proc\" && mount -t sysfs sysfs \"$0/sys\" "
                            + "&& exec chroot \"$0\" sh -c \"exec $2\" >>\"$1\" 2>&1",
                    root.toString(), log.toString(), command), log);
        }

        String log() {
            try {
                return Files.readString(log);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        int occurrences(String text) {
            return count(log(), text);
        }

        void awaitLog(String text, int times, Duration timeout) throws InterruptedException {
            long end = System.nanoTime() + timeout.toNanos();
            while (occurrences(text) < times) {
                if (!process.isAlive()) {
                    throw new AssertionError("exited (" + process.exitValue() + ") before logging '" + text + "':\n" + log());
                }
                if (System.nanoTime() > end) {
                    throw new AssertionError("did not log '" + text + "' within " + timeout.toSeconds() + " s:\n" + log());
                }
                Thread.sleep(100);
            }
        }

        /** SIGKILL, as a crash. */
        void kill() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor();
        }

        /** SIGTERM, as systemd stops it, then waits (SIGKILL after 30 s). */
        void stop() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
                kill();
            }
        }

        @Override
        public void close() throws InterruptedException {
            if (process.isAlive()) {
                stop();
            }
        }
    }

    /** 20 TCP connections and 2 UDP flows through fw1; fw1 dies; every one goes on through fw2. */
    private void flowsGoOnThroughFw2(Host client, Host server, Host fw1, Daemon a1, Daemon a2)
            throws Exception {
        Path dir = Files.createDirectory(work.resolve("flows"));
        server.spawn("socat", "TCP4-LISTEN:" + TCP_PORT + ",fork,reuseaddr,backlog=256", "PIPE");
        for (int i = 0; i < UDP_FLOWS; i++) {
            server.spawn("socat", "UDP4-LISTEN:" + (UDP_PORT + i) + ",reuseaddr,fork", "PIPE");
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        Process traffic = client.spawn(java, "-cp", classPath(), EchoClients.class.getName(), SERVER, Integer.toString(TCP_PORT),
                Integer.toString(CONNECTIONS), "200", dir.toString(), Integer.toString(UDP_PORT), Integer.toString(UDP_FLOWS));
        try {
            for (int i = 0; i < CONNECTIONS + UDP_FLOWS; i++) {
                int flow = i;
                awaitTrue(() -> echoes(dir, flow).size() > 5, Duration.ofSeconds(30), "flow " + i + " runs through fw1");
            }
            int activations = a2.occurrences("active (keepalived holds the VIPs)");
            a1.kill();
            fw1.execOk("ip", "link", "set", "eth0", "down");
            fw1.execOk("ip", "link", "set", "eth1", "down");
            a2.awaitLog("active (keepalived holds the VIPs)", activations + 1, Duration.ofSeconds(30));
            long takeover = System.nanoTime();
            Thread.sleep(10_000);
            for (int i = 0; i < CONNECTIONS + UDP_FLOWS; i++) {
                long after = echoes(dir, i).stream().filter(t -> t > takeover + 3_000_000_000L).count();
                assertTrue(after >= 10, "flow " + i + (i < CONNECTIONS ? " (TCP)" : " (UDP)") + " went on through fw2: "
                        + after + " echoes from 3 s to 10 s after the takeover");
            }
        } finally {
            traffic.descendants().forEach(ProcessHandle::destroyForcibly);
            traffic.destroyForcibly();
            traffic.waitFor();
        }
    }

    /** The pre-existing keepalived.conf of fw2, a host that already runs keepalived (advertisements every 0.5 s). */
    private static final String KEEPALIVED_CONF = """
            global_defs {
              vrrp_version 3
            }
            vrrp_instance VI_1 {
              state BACKUP
              interface eth0
              virtual_router_id 50
              priority 100
              advert_int 0.5
              virtual_ipaddress {
                10.50.1.254/24 dev eth0
                10.50.2.254/24 dev eth1
              }
            }
            """;

    /**
     * The roots, built and configured once for the class: debootstrap makes fw1's, a copy is
     * fw2's; {@code site.yml} runs on them with {@code --check --diff}, then twice. Returns each
     * run's output by name; a failure is rethrown to every test that needs them.
     */
    private synchronized Map<String, String> roots() throws Exception {
        if (rootsFailed != null) {
            throw new AssertionError("building the roots failed (see the first test that needed them)", rootsFailed);
        }
        if (runs != null) {
            return runs;
        }
        try {
            long start = System.nanoTime();
            String built = Cmd.run(List.of("bash", PROJECT.resolve("scripts/build-deb.sh").toString(), work.toString()), null, 900)
                    .ok().stdout().strip();
            Path deb = Path.of(built.substring(built.lastIndexOf('\n') + 1));
            String base = System.getenv("ZARO_ANSIBLE_BASE_ROOT");
            if (base == null || base.isBlank()) {
                Cmd.run(List.of("unshare", "--mount", "--propagation", "private", "debootstrap", "--variant=minbase",
                        "--include=" + INCLUDE, "bookworm", root1.toString(), mirror()), null, 900).ok();
            } else {
                Cmd.run(List.of("cp", "-a", base, root1.toString()), null, 300).ok();
            }
            long debootstrapped = System.nanoTime();
            Cmd.run(List.of("cp", "-a", root1.toString(), root2.toString()), null, 300).ok();
            Files.createDirectories(root2.resolve("etc/keepalived"));
            Files.writeString(root2.resolve("etc/keepalived/keepalived.conf"), KEEPALIVED_CONF);
            inventory = work.resolve("inventory.yml");
            Files.writeString(inventory, inventory(deb));

            Map<String, String> out = new LinkedHashMap<>();
            List<String> names = List.of("check on fresh roots", "first run", "second run");
            for (String name : names) {
                long t = System.nanoTime();
                Cmd.Result r = ansibleOnRoots(name.startsWith("check") ? List.of("--check", "--diff") : List.of(), 900);
                assertEquals(0, r.exitCode(), name + ":\n" + r.stdout() + r.stderr());
                out.put(name, r.stdout());
                if (name.startsWith("check")) {
                    assertFalse(Files.exists(root1.resolve("etc/zaro")) || Files.exists(root2.resolve("etc/zaro")),
                            "check mode wrote nothing");
                    assertEquals(KEEPALIVED_CONF, Files.readString(root2.resolve("etc/keepalived/keepalived.conf")));
                }
                System.out.printf("ansible: %s took %.1f s%n", name, (System.nanoTime() - t) / 1e9);
            }
            System.out.printf("ansible: debootstrap took %.1f s, everything up to the second run %.1f s%n",
                    (debootstrapped - start) / 1e9, (System.nanoTime() - start) / 1e9);
            runs = out;
            return runs;
        } catch (Exception | Error e) {
            rootsFailed = e;
            throw e;
        }
    }

    /** The test's inventory: fw1 (root1) with zaro's VRRP and nftables, fw2 (root2) in keepalived mode with iptables. */
    private String inventory(Path deb) {
        String key = Cmd.run(ZaroCli.command("keygen")).ok().stdout().strip();
        return """
                all:
                  vars:
                    ansible_connection: community.general.chroot
                    ansible_python_interpreter: /usr/bin/python3
                    ansible_become: false
                    zaro_deb: %s
                    zaro_kafka_bootstrap_servers: ["%s:9092"]
                    zaro_kafka_topic_prefix: ansible
                    zaro_settings:
                      kafka.topic.partitions: 3
                    zaro_filter_sync_interface: sync0
                    zaro_vrrp_interface: eth0
                    zaro_auth_keys: ["%s"]
                  children:
                    zaro_kafka:
                      hosts: {}
                    zaro_firewalls:
                      hosts:
                        fw1:
                          ansible_host: %s
                          zaro_role: vrrp
                          zaro_firewall: nftables
                          zaro_vrrp_vrid: 50
                          zaro_vrrp_priority: 150
                          zaro_vrrp_interval_centiseconds: 50
                          zaro_vrrp_vips: [%s/24@eth0, %s/24@eth1]
                          zaro_metrics_listen: 10.99.0.1:9740
                          zaro_metrics_sources: [%s]
                        fw2:
                          ansible_host: %s
                          zaro_role: keepalived
                          zaro_firewall: iptables
                          zaro_keepalived_instance: VI_1
                          zaro_vips: [%s, %s]
                """.formatted(deb, BROKER, key, root1, GATEWAY_VIP, SNAT_VIP, BROKER, root2, GATEWAY_VIP, SNAT_VIP);
    }

    /** ansible-playbook site.yml on the roots, in a mount namespace where both have /proc. */
    private Cmd.Result ansibleOnRoots(List<String> args, long timeoutSeconds) {
        List<String> c = new ArrayList<>(List.of("unshare", "--mount", "--propagation", "private", "sh", "-c",
                "mount -t proc proc \"$0/proc\" && mount -t proc proc \"$1/proc\" && shift && exec \"$@\"",
                root1.toString(), root2.toString()));
        // Both roots at once (serial is one firewall at a time otherwise).
        c.addAll(ansibleCommand(List.of("-i", inventory.toString(), "-e", "zaro_serial=2")));
        c.addAll(args);
        return Cmd.run(c, null, timeoutSeconds);
    }

    private static Cmd.Result ansible(List<String> args) {
        return Cmd.run(ansibleCommand(args), null, 300);
    }

    private static List<String> ansibleCommand(List<String> args) {
        List<String> c = new ArrayList<>(List.of("env", "ANSIBLE_CONFIG=" + ANSIBLE.resolve("ansible.cfg"), "ANSIBLE_NOCOLOR=1",
                "ANSIBLE_FORCE_COLOR=0", "ansible-playbook", ANSIBLE.resolve("site.yml").toString()));
        c.addAll(args);
        return c;
    }

    /** Each host's PLAY RECAP: ok, changed, unreachable, failed. */
    private static Map<String, int[]> recap(String output) {
        Map<String, int[]> out = new LinkedHashMap<>();
        Matcher m = RECAP.matcher(output);
        while (m.find()) {
            int[] counts = {Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)), Integer.parseInt(m.group(4)),
                    Integer.parseInt(m.group(5))};
            out.put(m.group(1), counts);
        }
        assertEquals(new TreeSet<>(List.of("fw1", "fw2")), new TreeSet<>(out.keySet()), "a recap of both roots:\n" + output);
        out.values().forEach(counts -> assertEquals(0, counts[2] + counts[3], "nothing unreachable or failed:\n" + output));
        return out;
    }

    /** Runs the root's {@code zaro-firewall} in the namespace of {@code fw}. */
    private static Cmd.Result zaroFirewall(Host fw, Path root, String verb) {
        return Cmd.run(fw.wrapCommand("unshare", "--mount", "--propagation", "private", "sh", "-c",
                "mount -t proc proc \"$0/proc\" && exec chroot \"$0\" env -i PATH=" + PATH + " /usr/local/sbin/zaro-firewall \"$1\"",
                root.toString(), verb));
    }

    private static String inRoot(Path root, String command) {
        return inRootResult(root, command).ok().stdout();
    }

    private static Cmd.Result inRootResult(Path root, String command) {
        return Cmd.run(List.of("unshare", "--mount", "--propagation", "private", "sh", "-c",
                "mount -t proc proc \"$0/proc\" && exec chroot \"$0\" env -i HOME=/root PATH=" + PATH + " sh -c \"$1\"",
                root.toString(), command), null, 120);
    }

    /** fw2's IPv4 and IPv6 iptables rules, without comments and packet counters. */
    private static String iptablesSave(Host fw) {
        return (fw.execOk("iptables-save").stdout() + fw.execOk("ip6tables-save").stdout())
                .replaceAll("(?m)^#.*\n", "").replaceAll("\\[\\d+:\\d+\\]", "");
    }

    /** Whether a TCP connection from {@code host} to the address and port opens within 2 s. */
    private static boolean reaches(Host host, String address, int port) {
        return host.exec(null, 10, "socat", "-u", "OPEN:/dev/null", "TCP4:" + address + ":" + port + ",connect-timeout=2")
                .exitCode() == 0;
    }

    /** The metrics endpoint of {@code address}, fetched from {@code host} (socat speaks the HTTP request). */
    private static String metrics(Host host, String address) {
        return host.exec("GET /metrics HTTP/1.0\r\n\r\n", 10, "socat", "-t", "5", "-", "TCP4:" + address + ":9740,connect-timeout=2")
                .ok().stdout();
    }

    private static boolean hasVip(Host fw) {
        return fw.hasAddress("eth0", GATEWAY_VIP);
    }

    private static int count(String text, String what) {
        return text.split(Pattern.quote(what), -1).length - 1;
    }

    private static void awaitTrue(java.util.function.BooleanSupplier condition, Duration timeout, String what)
            throws InterruptedException {
        awaitTrue(condition, timeout, what, () -> "");
    }

    /** Waits until {@code condition} holds; fails saying {@code what} was expected, with {@code details}. */
    private static void awaitTrue(java.util.function.BooleanSupplier condition, Duration timeout, String what,
                                  java.util.function.Supplier<String> details) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("expected within " + timeout.toSeconds() + " s: " + what + "\n" + details.get());
            }
            Thread.sleep(100);
        }
    }

    /** The arrival times EchoClients wrote for flow {@code i}, complete lines only. */
    private static List<Long> echoes(Path dir, int i) {
        try {
            Path f = dir.resolve("conn-" + i);
            if (!Files.exists(f)) {
                return List.of();
            }
            String text = new String(Files.readAllBytes(f), StandardCharsets.US_ASCII);
            int end = text.lastIndexOf('\n');
            return end < 0 ? List.of() : text.substring(0, end).lines().map(l -> Long.parseLong(l.split(" ")[0])).toList();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static String classPath() throws URISyntaxException {
        return Path.of(EchoClients.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }

    private static String mirror() {
        String m = System.getenv("ZARO_DEBIAN_MIRROR");
        return m == null || m.isBlank() ? DEFAULT_MIRROR : m;
    }
}

package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.tests.netns.BrokerFixture;
import io.zaro.tests.netns.Cmd;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import io.zaro.tests.netns.SyntheticFlows;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The Debian package (issue 6): {@code scripts/build-deb.sh} builds it, and apt installs it into
 * a fresh Debian 12 root made by debootstrap (minbase and systemd, nothing else: apt brings what
 * the package depends on from the archive). There its maintainer scripts create the system user
 * and give the configuration to it, its unit passes {@code systemd-analyze verify}, the installed
 * command runs as that user with the unit's capabilities and JVM options, and the root, booted
 * with systemd as a container in a lab namespace, runs the unit: the agent, sandboxed as the unit
 * says, takes the VIP and publishes. Last, a purge removes what it should.
 *
 * <p>Every command in the root runs in a mount namespace of its own, so the mounts it needs
 * ({@code /proc}) and debootstrap's go with it and never reach the machine. Needs root, the
 * Debian archive ({@code ZARO_DEBIAN_MIRROR}, default {@value #DEFAULT_MIRROR}) and
 * systemd-nspawn; about 2 minutes.
 */
@KernelTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DebPackageKernelTest {
    private static final String DEFAULT_MIRROR = "http://deb.debian.org/debian";
    private static final Path PROJECT = Files.isRegularFile(Path.of("scripts/build-deb.sh"))
            ? Path.of("").toAbsolutePath() : Path.of("..").toAbsolutePath().normalize();
    /** systemd's PATH for services. */
    private static final String PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    private static final String UNIT = "/usr/lib/systemd/system/zaro.service";
    private static final String VIP = "10.41.1.254";
    private static final String BROKER = "10.98.0.10";
    /** CAP_NET_ADMIN (12) and CAP_NET_RAW (13), as /proc/PID/status shows a capability set. */
    private static final String TWO_CAPABILITIES = "0000000000003000";

    private Path work;
    private Path root;
    private Path deb;

    @BeforeAll
    void buildAndInstall() throws IOException {
        work = Files.createTempDirectory("zaro-deb");
        root = work.resolve("root");
        String built = Cmd.run(List.of(PROJECT.resolve("scripts/build-deb.sh").toString(), work.toString()), null, 900)
                .ok().stdout().strip();
        deb = Path.of(built.substring(built.lastIndexOf('\n') + 1));
        // A Debian 12 root with systemd; apt installs the package and what it depends on.
        Cmd.run(List.of("unshare", "--mount", "--propagation", "private", "debootstrap", "--variant=minbase",
                "--include=systemd", "bookworm", root.toString(), mirror()), null, 900).ok();
        Files.copy(deb, root.resolve("root/zaro.deb"));
        inRoot("apt-get update -qq");
        // With the package it recommends (arping, for gratuitous ARP), not the JRE's recommendations.
        inRoot("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /root/zaro.deb iputils-arping");
    }

    @AfterAll
    void cleanup() throws IOException {
        if (work == null) {
            return;
        }
        // Nothing can be mounted below the root (each mount lived in a namespace now gone); if
        // something were, deleting through it would delete the machine's files.
        String mounts = Files.readString(Path.of("/proc/self/mountinfo"));
        if (mounts.contains(" " + work + "/")) {
            throw new AssertionError("something is mounted below " + work + ": not deleting it\n" + mounts);
        }
        try (Stream<Path> files = Files.walk(work)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    @Order(1)
    void thePackageHoldsTheJarTheCommandTheUnitAndTheConffile() {
        assertTrue(deb.getFileName().toString().matches("zaro_\\d[^_]*_all\\.deb"), deb.toString());
        String contents = Cmd.run(List.of("dpkg-deb", "--contents", deb.toString())).ok().stdout();
        for (String file : List.of("-rw-r--r-- root/root .* ./usr/share/zaro/zaro.jar",
                "-rwxr-xr-x root/root .* ./usr/bin/zaro", "-rw-r--r-- root/root .* ." + UNIT,
                "-rw-r--r-- root/root .* ./etc/zaro/zaro.properties")) {
            assertTrue(contents.lines().anyMatch(l -> l.matches(file)), file + " in\n" + contents);
        }
        assertEquals("/etc/zaro/zaro.properties",
                Cmd.run(List.of("dpkg-deb", "--info", deb.toString(), "conffiles")).ok().stdout().strip());
    }

    @Test
    @Order(2)
    void itsScriptsMakeTheSystemUserGiveItTheConfigurationAndLeaveTheUnitDisabled() {
        String[] passwd = inRoot("getent passwd zaro").strip().split(":");
        assertTrue(Integer.parseInt(passwd[2]) < 1000, "a system uid: " + String.join(":", passwd));
        assertEquals("/nonexistent", passwd[5]);
        assertEquals("/usr/sbin/nologin", passwd[6]);
        assertEquals("root zaro 640", inRoot("stat -c '%U %G %a' /etc/zaro/zaro.properties").strip());
        assertEquals("disabled", inRootResult("systemctl is-enabled zaro.service").stdout().strip(),
                "not enabled on installation: the configuration comes first");
    }

    @Test
    @Order(3)
    void itsUnitPassesSystemdAnalyzeVerify() {
        // systemd 252, bookworm's. verify exits 0 on an unknown key or a bad value too: it only says so.
        Cmd.Result verify = inRootResult("systemd-analyze verify " + UNIT);
        assertEquals(0, verify.exitCode(), verify.stderr());
        assertFalse(verify.stderr().contains("zaro"), "no complaint about zaro's unit:\n" + verify.stderr());
        String security = inRootResult("systemd-analyze security --offline=yes " + UNIT).stdout();
        System.out.println("systemd-analyze security: " + security.lines()
                .filter(l -> l.contains("Overall exposure level")).findFirst().orElse(security));
    }

    @Test
    @Order(4)
    void theInstalledCommandRunsAsZaroWithTheUnitsCapabilitiesAndJvmOptions() throws IOException {
        // JNA's stub unpacked into /var/cache/zaro, which the unit's CacheDirectory= makes; the
        // table read through the root's libnetfilter_conntrack and Java.
        String unit = Files.readString(root.resolve(UNIT.substring(1)));
        String javaOptions = unit.lines().filter(l -> l.startsWith("Environment=\"ZARO_JAVA_OPTS="))
                .map(l -> l.substring("Environment=\"ZARO_JAVA_OPTS=".length(), l.length() - 1).replace("%C", "/var/cache"))
                .findFirst().orElseThrow(() -> new AssertionError("no ZARO_JAVA_OPTS in the unit:\n" + unit));
        inRoot("install -d -o zaro -g zaro -m 0750 /var/cache/zaro");
        try (Lab lab = new Lab()) {
            Host ns = lab.host("deb");
            ns.execOk("conntrack", "-I", "-p", "tcp", "-s", "10.1.1.1", "-d", "10.1.1.2", "--sport", "1000",
                    "--dport", "80", "--state", "ESTABLISHED", "-t", "500", "-u", "SEEN_REPLY,ASSURED");
            Cmd.Result list = Cmd.run(List.of("ip", "netns", "exec", ns.name(), "unshare", "--mount", "--propagation", "private",
                    "sh", "-c", "mount -t proc proc \"$0/proc\" && exec chroot \"$0\" setpriv --reuid=zaro --regid=zaro "
                            + "--init-groups --inh-caps=-all,+net_admin,+net_raw --ambient-caps=-all,+net_admin,+net_raw "
                            + "--bounding-set=-all,+net_admin,+net_raw --no-new-privs env -i PATH=" + PATH + " "
                            + "\"ZARO_JAVA_OPTS=$1\" zaro conntrack list", root.toString(), javaOptions + " -Djna.debug_load=true"),
                    null, 120).ok();
            assertTrue(list.stdout().contains("ESTABLISHED src=10.1.1.1 dst=10.1.1.2 sport=1000 dport=80"), list.stdout());
            assertTrue(list.stderr().contains("Extracting library to /var/cache/zaro/jna"), "JNA's stub in the cache directory:\n"
                    + list.stderr());
        }
        assertTrue(inRoot("zaro --version").startsWith("zaro "));
    }

    /**
     * The root boots with systemd (systemd-nspawn) in a lab namespace, fw, which has a LAN with a
     * client and a link to a broker's namespace. {@code systemctl start zaro} runs the agent as
     * the unit says, sandbox and all: with {@code role=vrrp} and no peer it sets
     * {@code nf_conntrack_events}, becomes master, adds the VIP (the client reaches it) and
     * publishes flows created in fw's table; a stop is a success and releases the VIP.
     */
    @Test
    @Order(5)
    void underSystemdTheUnitRunsTheAgentWhichTakesTheVipAndPublishes() throws Exception {
        try (Lab lab = new Lab()) {
            Host client = lab.host("client");
            Host fw = lab.host("fw");
            Host kafka = lab.host("kafka");
            lab.link(client, "eth0", fw, "eth0");
            lab.link(fw, "sync0", kafka, "sync0");
            client.address("eth0", "10.41.1.2/24");
            fw.address("eth0", "10.41.1.1/24").address("sync0", "10.98.0.1/24");
            kafka.address("sync0", BROKER + "/24");
            try (BrokerFixture broker = new BrokerFixture(kafka, BROKER); ConntrackTable table = Conntrack.open(fw.name())) {
                // The kernel's default since 6.1; the agent sets 1 through the unit's one writable sysctl directory.
                fw.sysctl("net.netfilter.nf_conntrack_events", "2");
                Files.writeString(root.resolve("etc/zaro/zaro.properties"), """
                        node.id=deb
                        role=vrrp
                        kafka.bootstrap.servers=%s:9092
                        kafka.topic.prefix=deb
                        kafka.topic.partitions=1
                        filter.sync.interface=sync0
                        vrrp.interface=eth0
                        vrrp.vrid=42
                        vrrp.interval.centiseconds=20
                        vrrp.vips=%s/24
                        """.formatted(BROKER, VIP));
                // Not through `ip netns exec`, whose fresh /sys lacks the cgroup hierarchies systemd-nspawn
                // needs; the lab still kills the container's processes, which are in fw's namespace. A
                // container has no CAP_NET_ADMIN unless given it: a firewall's systemd has.
                Process container = new ProcessBuilder("systemd-nspawn", "--quiet", "--directory=" + root,
                        "--machine=zaro-deb", "--register=no", "--keep-unit", "--console=passive",
                        "--network-namespace-path=/run/netns/" + fw.name(), "--capability=CAP_NET_ADMIN", "--boot")
                        .redirectErrorStream(true).redirectOutput(work.resolve("nspawn.log").toFile()).start();
                long init = -1;
                try {
                    init = containerInit(container);
                    awaitBoot(init);
                    inContainer(init, "systemctl start zaro.service").ok();
                    String log = awaitJournal(init, "active: VIPs held");
                    assertTrue(fw.hasAddress("eth0", VIP), log);
                    assertTrue(log.contains("set net.netfilter.nf_conntrack_events=1 (was 2)"), log);
                    assertEquals("1", fw.execOk("sysctl", "-n", "net.netfilter.nf_conntrack_events").stdout().strip());
                    client.execOk("ping", "-c", "1", "-W", "2", VIP);

                    String status = inContainer(init, "cat /proc/$(systemctl show -p MainPID --value zaro.service)/status")
                            .ok().stdout();
                    String uid = inContainer(init, "id -u zaro").ok().stdout().strip();
                    assertTrue(status.contains("\nUid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid + "\n"), status);
                    for (String set : List.of("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")) {
                        assertTrue(status.contains("\n" + set + ":\t" + TWO_CAPABILITIES + "\n"), set + ":\n" + status);
                    }
                    assertTrue(status.contains("\nNoNewPrivs:\t1\n") && status.contains("\nSeccomp:\t2\n"), status);

                    assertEquals(0, table.createAll(new SyntheticFlows("10.41.2.2", "fd41:2::2", "10.41.2.254")
                            .range(0, 10)).failed());
                    awaitPublished(init, 10);

                    inContainer(init, "systemctl stop zaro.service").ok();
                    assertEquals("success", inContainer(init, "systemctl show -p Result --value zaro.service").stdout().strip(),
                            "a stop is a clean exit (143 after SIGTERM)");
                    assertFalse(fw.hasAddress("eth0", VIP), "the VIP goes with the agent");
                    String journal = inContainer(init, "journalctl -u zaro.service -o cat --no-pager").stdout();
                    for (String refusal : List.of("not permitted", "Permission denied", "cannot set", "cannot run",
                            "cannot announce", "Read-only file system", "[ERROR]")) {
                        assertFalse(journal.contains(refusal), "'" + refusal + "' in the journal:\n" + journal);
                    }
                } finally {
                    if (init < 0 || inContainer(init, "systemctl poweroff").exitCode() != 0) {
                        container.destroy(); // systemd-nspawn halts the container on SIGTERM
                    }
                    if (!container.waitFor(60, TimeUnit.SECONDS)) {
                        container.destroyForcibly();
                    }
                }
            }
        }
    }

    @Test
    @Order(6)
    void aPurgeRemovesTheConfigurationAndTheCacheButKeepsTheUser() {
        String passwd = inRoot("getent passwd zaro").strip();
        inRoot("dpkg --purge zaro");
        assertFalse(Files.exists(root.resolve("etc/zaro/zaro.properties")), "purge removes the configuration");
        assertFalse(Files.exists(root.resolve("var/cache/zaro")), "purge removes the cache");
        assertEquals("", inRoot("dpkg-statoverride --list /etc/zaro/zaro.properties || true").strip());
        assertEquals(passwd, inRoot("getent passwd zaro").strip(), "the user stays");
    }

    private static String mirror() {
        String m = System.getenv("ZARO_DEBIAN_MIRROR");
        return m == null || m.isBlank() ? DEFAULT_MIRROR : m;
    }

    /** Runs a shell command in the root (with /proc mounted) and fails when it does; returns its output. */
    private String inRoot(String command) {
        return inRootResult(command).ok().stdout();
    }

    private Cmd.Result inRootResult(String command) {
        List<String> c = new ArrayList<>(List.of("unshare", "--mount", "--propagation", "private", "sh", "-c",
                "mount -t proc proc \"$0/proc\" && exec chroot \"$0\" env -i HOME=/root PATH=" + PATH + " sh -c \"$1\"",
                root.toString(), command));
        return Cmd.run(c, null, 600);
    }

    /** The container's systemd, as the machine sees it: the descendant of systemd-nspawn named systemd. */
    private long containerInit(Process nspawn) throws InterruptedException, IOException {
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < end) {
            for (ProcessHandle p : nspawn.descendants().toList()) {
                try {
                    if (Files.readString(Path.of("/proc", Long.toString(p.pid()), "comm")).strip().equals("systemd")) {
                        return p.pid();
                    }
                } catch (IOException gone) {
                    // it exited meanwhile
                }
            }
            if (!nspawn.isAlive()) {
                throw new AssertionError("systemd-nspawn exited (" + nspawn.exitValue() + ") before systemd started:\n"
                        + Files.readString(work.resolve("nspawn.log")));
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no systemd under systemd-nspawn after 30 s");
    }

    /** Waits until the container's systemd has started its units ("degraded" too: a container lacks some devices). */
    private static void awaitBoot(long init) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        Cmd.Result state = null;
        while (System.nanoTime() < end) {
            state = inContainer(init, "systemctl is-system-running");
            if (List.of("running", "degraded").contains(state.stdout().strip())) {
                return;
            }
            Thread.sleep(250);
        }
        throw new AssertionError("the container's systemd did not finish booting within 60 s: " + state.stdout() + state.stderr());
    }

    /** Runs a shell command inside the container (every namespace of its systemd). */
    private static Cmd.Result inContainer(long init, String command) {
        return Cmd.run(List.of("nsenter", "--target", Long.toString(init), "--all", "env", "-i", "PATH=" + PATH,
                "sh", "-c", command), null, 120);
    }

    private static String awaitJournal(long init, String text) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        String journal = "";
        while (System.nanoTime() < end) {
            journal = inContainer(init, "journalctl -u zaro.service -o cat --no-pager").stdout();
            if (journal.contains(text)) {
                return journal;
            }
            Thread.sleep(250);
        }
        throw new AssertionError("the agent did not log '" + text + "' within 90 s:\n" + journal
                + inContainer(init, "systemctl status --no-pager zaro.service").stdout());
    }

    /** Waits until {@code zaro status} in the container reports at least {@code count} records published. */
    private static void awaitPublished(long init, long count) throws InterruptedException {
        Pattern published = Pattern.compile("published=(\\d+)");
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        String status = "";
        while (System.nanoTime() < end) {
            status = inContainer(init, "zaro status").stdout();
            Matcher m = published.matcher(status);
            if (m.find() && Long.parseLong(m.group(1)) >= count) {
                return;
            }
            Thread.sleep(250);
        }
        throw new AssertionError("fewer than " + count + " records published within 30 s:\n" + status);
    }
}

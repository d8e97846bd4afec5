package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.tests.netns.Cmd;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Debian package (issue 6): {@code scripts/build-deb.sh} builds it, and it installs with apt
 * into a fresh Debian 12 root made by debootstrap (minbase and systemd, nothing else: apt brings
 * what the package depends on from the archive). There its maintainer scripts create the system
 * user and give the configuration to it, its unit passes {@code systemd-analyze verify}, the
 * installed command runs the agent's code as that user with the unit's capabilities and JVM
 * options (it reads a namespace's conntrack table), and a purge removes what it should.
 *
 * <p>Every command in the root runs in a mount namespace of its own, so the mounts it needs
 * ({@code /proc}) and debootstrap's go with it and never reach the machine. Needs root and the
 * Debian archive ({@code ZARO_DEBIAN_MIRROR}, default {@value #DEFAULT_MIRROR}); about 2 minutes.
 */
@KernelTest
class DebPackageKernelTest {
    private static final String DEFAULT_MIRROR = "http://deb.debian.org/debian";
    private static final Path PROJECT = Files.isRegularFile(Path.of("scripts/build-deb.sh"))
            ? Path.of("").toAbsolutePath() : Path.of("..").toAbsolutePath().normalize();

    /** systemd's PATH for services. */
    private static final String PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private Path work;
    private Path root;

    @BeforeEach
    void workDirectory() throws IOException {
        work = Files.createTempDirectory("zaro-deb");
        root = work.resolve("root");
    }

    @AfterEach
    void cleanup() throws IOException {
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
    void theDebInstallsIntoDebianBookwormAndItsUnitPassesSystemdAnalyzeVerify() throws Exception {
        String built = Cmd.run(List.of(PROJECT.resolve("scripts/build-deb.sh").toString(), work.toString()), null, 900)
                .ok().stdout().strip();
        Path deb = Path.of(built.substring(built.lastIndexOf('\n') + 1));
        assertTrue(deb.getFileName().toString().matches("zaro_\\d[^_]*_all\\.deb"), deb.toString());

        // What the package holds.
        String contents = Cmd.run(List.of("dpkg-deb", "--contents", deb.toString())).ok().stdout();
        for (String file : List.of("-rw-r--r-- root/root .* ./usr/share/zaro/zaro.jar",
                "-rwxr-xr-x root/root .* ./usr/bin/zaro", "-rw-r--r-- root/root .* ./usr/lib/systemd/system/zaro.service",
                "-rw-r--r-- root/root .* ./etc/zaro/zaro.properties")) {
            assertTrue(contents.lines().anyMatch(l -> l.matches(file)), file + " in\n" + contents);
        }
        assertEquals("/etc/zaro/zaro.properties",
                Cmd.run(List.of("dpkg-deb", "--info", deb.toString(), "conffiles")).ok().stdout().strip());

        // A Debian 12 root with systemd; apt installs the package and what it depends on.
        Cmd.run(List.of("unshare", "--mount", "--propagation", "private", "debootstrap", "--variant=minbase",
                "--include=systemd", "bookworm", root.toString(), mirror()), null, 900).ok();
        Files.copy(deb, root.resolve("tmp/zaro.deb"));
        inRoot("apt-get update -qq");
        inRoot("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/zaro.deb");

        // The user: a system account without a login shell or a home; the configuration is its group's to read.
        String passwd = inRoot("getent passwd zaro").strip();
        String[] fields = passwd.split(":");
        assertTrue(Integer.parseInt(fields[2]) < 1000, "a system uid: " + passwd);
        assertEquals("/nonexistent", fields[5], passwd);
        assertEquals("/usr/sbin/nologin", fields[6], passwd);
        assertEquals("root zaro 640", inRoot("stat -c '%U %G %a' /etc/zaro/zaro.properties").strip());
        assertEquals("disabled", inRootResult("systemctl is-enabled zaro.service").stdout().strip(),
                "not enabled on installation: the configuration comes first");

        // The unit as systemd 252 (bookworm's) reads it.
        Cmd.Result verify = inRootResult("systemd-analyze verify /usr/lib/systemd/system/zaro.service");
        assertEquals(0, verify.exitCode(), verify.stderr());
        assertFalse(verify.stderr().contains("zaro"), "no complaint about zaro's unit:\n" + verify.stderr());
        String security = inRootResult("systemd-analyze security --offline=yes /usr/lib/systemd/system/zaro.service")
                .stdout();
        System.out.println("systemd-analyze security: " + security.lines()
                .filter(l -> l.contains("Overall exposure level")).findFirst().orElse(security));

        // The installed command, run as the unit runs it: user zaro, CAP_NET_ADMIN and CAP_NET_RAW,
        // no new privileges, the unit's JVM options, JNA's stub unpacked into /var/cache/zaro (as the
        // unit's CacheDirectory= makes it). It lists a namespace's table through the root's
        // libnetfilter_conntrack and Java.
        String unit = Files.readString(root.resolve("usr/lib/systemd/system/zaro.service"));
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
        String version = inRoot("zaro --version").strip();
        assertTrue(version.startsWith("zaro "), version);

        // Purge: the configuration and its override go, the user stays (see postrm).
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
}

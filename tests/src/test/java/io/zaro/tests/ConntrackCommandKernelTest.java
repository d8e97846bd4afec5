package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.zaro.agent.Main;
import io.zaro.tests.netns.Cmd;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import io.zaro.tests.netns.ZaroCli;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code zaro conntrack list|watch} against a namespace, and the one-sentence errors a user gets. */
@KernelTest
class ConntrackCommandKernelTest {
    private static final Path JAR = ZaroCli.JAR;
    private Lab lab;
    private Host host;

    @BeforeEach
    void namespace() {
        lab = new Lab();
        host = lab.host("cli");
        host.execOk("conntrack", "-I", "-p", "tcp", "-s", "10.1.1.1", "-d", "10.1.1.2", "--sport", "1000",
                "--dport", "80", "--state", "ESTABLISHED", "-t", "500", "-u", "SEEN_REPLY,ASSURED", "-m", "77");
        host.execOk("conntrack", "-I", "-p", "udp", "-s", "fd00::1", "-d", "fd00::2", "--sport", "53",
                "--dport", "5353", "-t", "60");
    }

    @AfterEach
    void cleanup() {
        lab.close();
    }

    private static String[] run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new String[] {Integer.toString(code), out.toString(), err.toString()};
    }

    @Test
    void listPrintsWhatConntrackToolsPrints() {
        String[] r = run("conntrack", "list", "--netns", host.name());
        assertEquals("0", r[0], r[2]);
        List<String> lines = r[1].lines().toList();
        assertEquals(2, lines.size(), r[1]);
        assertTrue(r[1].contains("ipv4 tcp") && r[1].contains("ESTABLISHED src=10.1.1.1 dst=10.1.1.2 sport=1000 dport=80"), r[1]);
        assertTrue(r[1].contains("mark=77"), r[1]);
        assertTrue(r[1].contains("src=fd00::1 dst=fd00::2 sport=53 dport=5353 [UNREPLIED]"), r[1]);
        assertTrue(r[2].contains("2 flow entries listed"), r[2]);
    }

    @Test
    void listJsonHasOneObjectPerEntry() throws Exception {
        String[] r = run("conntrack", "list", "--netns", host.name(), "--json", "--family", "ipv4");
        assertEquals("0", r[0], r[2]);
        List<String> lines = r[1].lines().toList();
        assertEquals(1, lines.size());
        JsonNode n = new ObjectMapper().readTree(lines.get(0));
        assertEquals("tcp", n.get("protocol").asText());
        assertEquals("10.1.1.1", n.get("original").get("src").asText());
        assertEquals(1000, n.get("original").get("sport").asInt());
        assertEquals("ESTABLISHED", n.get("tcp").get("state").asText());
        assertEquals(77, n.get("mark").asLong());
        assertTrue(n.get("status_flags").toString().contains("ASSURED"));
    }

    @Test
    void watchPrintsEventsUntilItsDurationEnds() throws Exception {
        Process watch = new ProcessBuilder("java", "-jar", JAR.toString(), "conntrack", "watch", "--netns", host.name(),
                "--json", "--duration", "6").redirectErrorStream(false).start();
        Thread.sleep(3000); // the JVM starts and subscribes
        host.execOk("conntrack", "-I", "-p", "udp", "-s", "10.9.9.1", "-d", "10.9.9.2", "--sport", "7",
                "--dport", "8", "-t", "60");
        host.execOk("conntrack", "-D", "-p", "udp", "-s", "10.9.9.1");
        String out = new String(watch.getInputStream().readAllBytes());
        String err = new String(watch.getErrorStream().readAllBytes());
        assertEquals(0, watch.waitFor(), err);
        List<String> lines = out.lines().toList();
        assertEquals(2, lines.size(), out + err);
        assertTrue(lines.get(0).startsWith("{\"event\":\"NEW\""), lines.get(0));
        assertTrue(lines.get(1).startsWith("{\"event\":\"DESTROY\""), lines.get(1));
        assertTrue(err.contains("2 events, 0 overruns"), err);
    }

    @Test
    void usersGetOneSentenceNotAStackTrace() throws Exception {
        String[] missing = run("conntrack", "list", "--netns", "zaro-no-such-namespace");
        assertEquals("1", missing[0]);
        assertEquals("zaro: cannot open network namespace /run/netns/zaro-no-such-namespace: No such file or directory "
                + "(list them with `ip netns list`)", missing[2].strip());

        String[] family = run("conntrack", "list", "--family", "ipx");
        assertEquals("1", family[0]);
        assertEquals("zaro: --family must be ipv4, ipv6 or all, not 'ipx'", family[2].strip());

        // Without CAP_NET_ADMIN (as user nobody): one sentence naming the fix.
        assertTrue(Files.isReadable(JAR), "build the agent jar first: " + JAR);
        Cmd.Result unprivileged = Cmd.run(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "java", "-Duser.home=/tmp", "-jar", JAR.toString(), "conntrack", "list"), null, 60);
        assertEquals(1, unprivileged.exitCode(), unprivileged.stderr());
        assertEquals("zaro: conntrack dump is not permitted: run zaro as root or give it CAP_NET_ADMIN "
                + "(Operation not permitted)", unprivileged.stderr().strip());
        assertFalse(unprivileged.stderr().contains("\tat "), "no stack trace");
    }

    @Test
    void aMissingLibraryGetsOneSentenceNamingThePackage() {
        // Hide the library in a private mount namespace only: the machine itself is not touched.
        String lib = Stream.of("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib")
                .map(d -> Path.of(d, "libnetfilter_conntrack.so.3")).filter(Files::exists)
                .findFirst().orElseThrow().toString();
        Cmd.Result r = Cmd.run(List.of("unshare", "-m", "sh", "-c", "mount --bind /dev/null " + lib
                + " && exec java -jar " + JAR + " conntrack list"), null, 60);
        assertEquals(1, r.exitCode(), r.stderr());
        String[] lines = r.stderr().strip().split("\n");
        assertEquals(1, lines.length, r.stderr());
        assertTrue(lines[0].startsWith("zaro: libnetfilter_conntrack.so.3 could not be loaded: install it with "
                + "`apt-get install libnetfilter-conntrack3` ("), lines[0]);
    }
}

package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.HoldLab;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The namespace harness builds what it is asked and always removes it again. */
@KernelTest
class LabKernelTest {
    @Test
    void hostsOnABridgeReachEachOtherAndCloseRemovesEverything() {
        List<String> names;
        try (Lab lab = new Lab()) {
            Host a = lab.host("a");
            Host b = lab.host("b");
            Host c = lab.host("c");
            lab.bridge("sw", "eth0", a, b, c);
            a.address("eth0", "10.40.0.1/24").address("eth0", "fd40::1/64");
            c.address("eth0", "10.40.0.3/24").address("eth0", "fd40::3/64");
            a.execOk("ping", "-c", "1", "-W", "2", "10.40.0.3");
            a.execOk("ping", "-c", "1", "-W", "2", "fd40::3");
            names = lab.hosts().stream().map(Host::name).toList();
            assertEquals(4, names.size());
            assertTrue(Lab.existingNamespaces().containsAll(names));
        }
        assertTrue(Lab.existingNamespaces().stream().noneMatch(names::contains), "namespaces removed on close");
    }

    @Test
    void aFailingTestStillCleansUp() {
        String[] name = new String[1];
        assertThrows(IllegalStateException.class, () -> {
            try (Lab lab = new Lab()) {
                name[0] = lab.host("fail").name();
                lab.host("fail").execOk("false");
            }
        });
        assertFalse(Lab.existingNamespaces().contains(name[0]));
    }

    @Test
    void anInterruptedRunCleansUpAndAKilledOneIsSweptByTheNext() throws Exception {
        // SIGTERM (as Ctrl-C or a CI timeout sends): the shutdown hook removes the namespaces.
        Process terminated = startHoldLab();
        List<String> termNames = namesOf(terminated);
        terminated.destroy();
        assertTrue(terminated.waitFor(30, TimeUnit.SECONDS));
        assertTrue(Lab.existingNamespaces().stream().noneMatch(termNames::contains), "removed on SIGTERM");

        // kill -9 leaves them behind; the next lab sweeps namespaces whose owner is gone.
        Process killed = startHoldLab();
        List<String> killedNames = namesOf(killed);
        killed.destroyForcibly();
        killed.waitFor(30, TimeUnit.SECONDS);
        assertTrue(Lab.existingNamespaces().containsAll(killedNames), "kill -9 runs no hook");
        new Lab().close();
        assertTrue(Lab.existingNamespaces().stream().noneMatch(killedNames::contains), "swept by the next lab");
    }

    private static Process startHoldLab() throws Exception {
        return new ProcessBuilder("java", "-cp", System.getProperty("java.class.path"), HoldLab.class.getName())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

    private static List<String> namesOf(Process p) throws Exception {
        String line = new BufferedReader(new InputStreamReader(p.getInputStream())).readLine();
        assertTrue(line != null, "HoldLab printed its namespaces");
        List<String> names = List.of(line.trim().split(" "));
        assertTrue(Lab.existingNamespaces().containsAll(names));
        return names;
    }
}

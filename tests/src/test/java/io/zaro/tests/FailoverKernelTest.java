package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.tests.netns.FailoverLab;
import io.zaro.tests.netns.FailoverLab.Failover;
import io.zaro.tests.netns.FailoverLab.Flow;
import io.zaro.tests.netns.FailoverLab.Switch;
import io.zaro.tests.netns.KernelTest;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Planned and returning switches of issue 5 in {@link FailoverLab}'s topology (client -- fw1 /
 * fw2 -- server, both firewalls with a strict ruleset, zaro agents with {@code role=vrrp} moving
 * two VIPs, advertisements every 0.2 s, TCP connections and UDP flows exchanging data every
 * 0.2 s): {@code zaro handover} moves every flow to fw2; fail-back: after fw1's death, fw1 returns
 * as from a reboot, mirrors fw2, takes the VIPs back (higher priority, preempt), and every flow
 * goes on through it. The death of the active, with mirroring and without, is
 * {@code DemoKernelTest}'s; {@code FailoverBenchmark} measures the stalls.
 */
@KernelTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FailoverKernelTest {
    private static final int CONNECTIONS = 100;
    private static final int UDP_FLOWS = 3;
    private static final int INTERVAL_CENTIS = 20;

    private FailoverLab lab;

    @BeforeAll
    void lab() {
        lab = new FailoverLab(CONNECTIONS, UDP_FLOWS);
    }

    @AfterAll
    void teardown() {
        if (lab != null) {
            lab.close();
        }
    }

    @Test
    void aPlannedHandoverMovesEveryConnection() throws Exception {
        Failover run = lab.failover("handover", "handover", INTERVAL_CENTIS, Switch.HANDOVER);
        for (Flow f : run.flows()) {
            assertTrue(f.echoesAfter() >= 10, "flow " + f.index() + " went on through fw2: " + f.echoesAfter()
                    + " echoes after the handover");
        }
        report("handover", run);
    }

    @Test
    void theReturningActiveMirrorsTheStandbyAndTakesEveryConnectionBack() throws Exception {
        Failover run = lab.failover("failback", "failback", INTERVAL_CENTIS, Switch.FAIL_BACK);
        for (Flow f : run.flows()) {
            assertTrue(f.echoesAfter() >= 10, "flow " + f.index() + " went on through fw1 again: " + f.echoesAfter()
                    + " echoes after the fail-back");
        }
        report("fail-back", run);
    }

    /** Prints, not asserts, each flow's stall at the switch (from its last echo before it). */
    private static void report(String what, Failover run) {
        List<Long> stalls = run.flows().stream().map(f -> f.stallNanos() / 1_000_000).sorted().toList();
        System.out.println(what + ": longest stall per flow, ms: min " + stalls.get(0) + ", median "
                + stalls.get(stalls.size() / 2) + ", max " + stalls.get(stalls.size() - 1) + " (" + CONNECTIONS
                + " TCP connections and " + UDP_FLOWS + " UDP flows, advertisements every 0.2 s; the new master's agent logged the "
                + "takeover " + run.takeoverNanos() / 1_000_000 + " ms after the switch)");
    }
}

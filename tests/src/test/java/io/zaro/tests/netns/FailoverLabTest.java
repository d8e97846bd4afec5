package io.zaro.tests.netns;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The stall {@link FailoverLab} reports for a flow, from its echo times (no root). */
class FailoverLabTest {
    @Test
    void theStallRunsFromTheLastEchoBeforeTheSwitch() {
        // echoes every 200, the switch at 450, nothing from 400 until 1900, then every 200 again
        List<Long> times = List.of(0L, 200L, 400L, 1900L, 2100L, 2300L);
        assertEquals(1500, FailoverLab.stall(times, 450, 2400));
    }

    @Test
    void aGapBeforeTheSwitchIsNotTheStall() {
        List<Long> times = List.of(0L, 1000L, 1200L, 1400L, 1700L, 1900L);
        assertEquals(300, FailoverLab.stall(times, 1300, 2000));
    }

    @Test
    void aFlowThatDiedStallsUntilTheEnd() {
        List<Long> times = List.of(0L, 200L, 400L);
        assertEquals(9600, FailoverLab.stall(times, 450, 10_000));
    }

    @Test
    void echoesAfterTheEndDoNotCount() {
        List<Long> times = List.of(0L, 200L, 400L, 5000L);
        assertEquals(4600, FailoverLab.stall(times, 450, 5000));
        assertEquals(4000, FailoverLab.stall(times, 450, 4400));
    }
}

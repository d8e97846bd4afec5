package io.zaro.agent.failover;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.zaro.agent.vrrp.VirtualRouter.State;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class KeepalivedFifoTest {
    @ParameterizedTest
    @CsvSource(delimiter = '|', nullValues = "-", value = {
            "INSTANCE \"VI_1\" MASTER 150 | MASTER",
            "INSTANCE \"VI_1\" BACKUP 150 | BACKUP",
            "INSTANCE \"VI_1\" FAULT 0    | BACKUP",
            "INSTANCE \"VI_1\" STOP       | BACKUP",
            "GROUP \"VI_1\" MASTER        | MASTER",
            "INSTANCE \"VI_2\" MASTER 150 | -",
            "INSTANCE \"VI_10\" MASTER 1  | -",
            "MASTER                       | -",
            "INSTANCE \"VI_1\" RUNNING 1  | -",
            "''                           | -"})
    void linesOfTheInstanceBecomeStates(String line, String expected) {
        Optional<State> state = KeepalivedFifo.parse(line == null ? "" : line, "VI_1");
        assertEquals(expected == null ? Optional.empty() : Optional.of(State.valueOf(expected)), state, line);
    }
}

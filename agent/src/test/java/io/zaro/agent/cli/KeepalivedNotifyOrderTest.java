package io.zaro.agent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.agent.vrrp.VirtualRouter.State;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** keepalived's notify scripts run concurrently: a transition that arrives after a later one is dropped. */
class KeepalivedNotifyOrderTest {
    @Test
    void aNotificationStartedBeforeTheLastOneAppliedIsIgnored() {
        List<State> applied = new ArrayList<>();
        AtomicLong last = new AtomicLong();
        // keepalived started BACKUP at 1000 and MASTER at 4000; MASTER's JVM answered first.
        assertTrue(AgentCommand.keepalivedNotify("keepalived INSTANCE \"VI_1\" MASTER at=4000", "VI_1", applied::add, last)
                .startsWith("following"));
        assertTrue(AgentCommand.keepalivedNotify("keepalived INSTANCE \"VI_1\" BACKUP at=1000", "VI_1", applied::add, last)
                .startsWith("ignored"));
        assertEquals(List.of(State.MASTER), applied);
        AgentCommand.keepalivedNotify("keepalived INSTANCE \"VI_1\" BACKUP at=5000", "VI_1", applied::add, last);
        AgentCommand.keepalivedNotify("keepalived INSTANCE \"VI_1\" MASTER", "VI_1", applied::add, last); // no time: in order
        assertEquals(List.of(State.MASTER, State.BACKUP, State.MASTER), applied);
        assertTrue(AgentCommand.keepalivedNotify("keepalived INSTANCE \"OTHER\" MASTER at=9000", "VI_1", applied::add, last)
                .startsWith("ignored"));
        assertEquals(5000, last.get(), "another instance's transition moves nothing");
    }
}

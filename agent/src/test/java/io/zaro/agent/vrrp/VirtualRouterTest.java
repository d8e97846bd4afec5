package io.zaro.agent.vrrp;

import static io.zaro.agent.vrrp.AdvertisementTest.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.zaro.agent.vrrp.VirtualRouter.State;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The state machine of RFC 5798 section 6.4, on a clock the test moves. Times in milliseconds. */
class VirtualRouterTest {
    private static final long MS = 1_000_000L;
    private static final InetAddress LOW = ip("192.0.2.1");
    private static final InetAddress HIGH = ip("192.0.2.2");

    private final List<String> log = new ArrayList<>();
    private final VirtualRouter.Actions actions = new VirtualRouter.Actions() {
        @Override
        public void sendAdvertisement(int priority) {
            log.add("advert " + priority);
        }

        @Override
        public void becameMaster() {
            log.add("master");
        }

        @Override
        public void becameBackup() {
            log.add("backup");
        }
    };

    private VirtualRouter router(int priority, int intervalCentis, boolean preempt, InetAddress self) {
        return new VirtualRouter(new VirtualRouter.Settings(51, priority, intervalCentis, preempt, self), actions);
    }

    private static Advertisement adv(int priority, int intervalCentis) {
        return new Advertisement(51, priority, intervalCentis, List.of(ip("192.0.2.100")));
    }

    @Test
    void timersFollowSection61() {
        VirtualRouter r = router(100, 100, true, LOW);
        // Skew_Time = (256 - 100) * 100 cs / 256 = 60.9375 cs; Master_Down_Interval = 300 cs + skew.
        assertEquals(609_375_000L, r.skewTimeNanos());
        assertEquals(3_609_375_000L, r.masterDownIntervalNanos());
    }

    @Test
    void withoutAMasterABackupTakesOverAfterTheMasterDownInterval() {
        VirtualRouter r = router(100, 100, true, LOW);
        r.startup(0);
        assertEquals(State.BACKUP, r.state());
        r.tick(3_609 * MS);
        assertEquals(State.BACKUP, r.state(), "not before Master_Down_Interval");
        r.tick(3_610 * MS);
        assertEquals(State.MASTER, r.state());
        assertEquals(List.of("backup", "advert 100", "master"), log, "section 6.4.2: advertise, then act as master");
        r.tick(4_609 * MS);
        r.tick(4_610 * MS);
        assertEquals("advert 100", log.get(log.size() - 1), "then every Advertisement_Interval");
        assertEquals(4, log.size());
    }

    @Test
    void theAddressOwnerIsMasterAtOnce() {
        VirtualRouter r = router(255, 100, true, LOW);
        r.startup(0);
        assertEquals(State.MASTER, r.state());
        assertEquals(List.of("advert 255", "master"), log);
    }

    @Test
    void advertisementsOfAMasterKeepABackupWaitingAndTeachItsInterval() {
        VirtualRouter r = router(100, 100, true, LOW);
        r.startup(0);
        for (long t = 1_000; t <= 20_000; t += 1_000) {
            r.receive(adv(200, 10), HIGH, t * MS);
            r.tick(t * MS);
        }
        assertEquals(State.BACKUP, r.state());
        assertEquals(10, r.masterAdvertIntervalCentis(), "Master_Adver_Interval learned from the master");
        r.tick(20_000 * MS + 300 * MS + 61 * MS);
        assertEquals(State.MASTER, r.state(), "3 x 0.1 s + skew after the last advertisement");
    }

    @Test
    void aMasterThatStopsWithPriorityZeroIsReplacedAfterSkewTime() {
        VirtualRouter r = router(100, 100, true, LOW);
        r.startup(0);
        r.receive(adv(200, 100), HIGH, 1_000 * MS);
        r.receive(adv(0, 100), HIGH, 1_500 * MS);
        r.tick(1_500 * MS + 609 * MS);
        assertEquals(State.BACKUP, r.state());
        r.tick(1_500 * MS + 610 * MS);
        assertEquals(State.MASTER, r.state(), "Skew_Time after the priority-0 advertisement");
    }

    @Test
    void withPreemptAHigherPriorityBackupIgnoresALowerMasterAndTakesOver() {
        VirtualRouter r = router(150, 100, true, LOW);
        r.startup(0);
        r.receive(adv(100, 100), HIGH, 1_000 * MS);
        r.receive(adv(100, 100), HIGH, 2_000 * MS);
        r.tick(3_500 * MS); // Master_Down_Interval (3.39 s) after startup: the lower master is not heard
        assertEquals(State.MASTER, r.state());
    }

    @Test
    void withoutPreemptABackupLeavesALowerMasterAlone() {
        VirtualRouter r = router(150, 100, false, LOW);
        r.startup(0);
        for (long t = 1_000; t <= 10_000; t += 1_000) {
            r.receive(adv(100, 100), HIGH, t * MS);
            r.tick(t * MS);
        }
        assertEquals(State.BACKUP, r.state());
    }

    @Test
    void aMasterYieldsToHigherPriorityAndOnATieToTheHigherAddress() {
        VirtualRouter r = router(100, 100, true, LOW);
        r.startup(0);
        r.tick(4_000 * MS);
        assertEquals(State.MASTER, r.state());
        r.receive(adv(50, 100), HIGH, 4_100 * MS);
        assertEquals(State.MASTER, r.state(), "a lower priority is discarded");
        r.receive(adv(100, 100), ip("192.0.2.0"), 4_200 * MS);
        assertEquals(State.MASTER, r.state(), "same priority, lower address: discarded");
        r.receive(adv(100, 100), HIGH, 4_300 * MS);
        assertEquals(State.BACKUP, r.state(), "same priority, higher address: yield");
        assertEquals("backup", log.get(log.size() - 1));
    }

    @Test
    void aMasterAnswersAPriorityZeroAdvertisementAtOnce() {
        VirtualRouter r = router(255, 100, true, LOW);
        r.startup(0);
        log.clear();
        r.receive(adv(0, 100), HIGH, 500 * MS);
        assertEquals(List.of("advert 255"), log);
        assertEquals(1_500 * MS, r.nextDeadline(), "Adver_Timer reset");
    }

    @Test
    void aStoppingMasterAdvertisesPriorityZero() {
        VirtualRouter r = router(255, 100, true, LOW);
        r.startup(0);
        log.clear();
        r.shutdown(100 * MS);
        assertEquals(List.of("advert 0", "backup"), log);
        assertEquals(State.INITIALIZE, r.state());
        assertEquals(Long.MAX_VALUE, r.nextDeadline());
    }

    @Test
    void aFaultedMasterStepsDownAtOnceAndRecoversThroughStartup() {
        VirtualRouter r = router(100, 100, true, LOW);
        r.startup(0);
        r.tick(3_610 * MS);
        assertEquals(State.MASTER, r.state());
        log.clear();
        r.fault(4_000 * MS);
        assertEquals(State.FAULT, r.state());
        assertEquals(List.of("advert 0", "backup"), log, "priority 0, then release the VIPs");
        r.receive(adv(50, 100), HIGH, 5_000 * MS);
        r.tick(60_000 * MS);
        assertEquals(State.FAULT, r.state(), "no part in elections while faulted");
        assertEquals(Long.MAX_VALUE, r.nextDeadline());
        r.recover(61_000 * MS);
        assertEquals(State.BACKUP, r.state(), "section 6.4.1 again");
        r.tick(61_000 * MS + 3_610 * MS);
        assertEquals(State.MASTER, r.state());
    }

    @Test
    void aResigningMasterHandsOverAndDoesNotPreemptDuringTheHoldoff() {
        VirtualRouter r = router(150, 100, true, LOW);
        r.startup(0);
        r.tick(4_000 * MS);
        assertEquals(State.MASTER, r.state());
        log.clear();
        assertEquals(true, r.resign(5_000 * MS, 60_000 * MS));
        assertEquals(List.of("advert 0", "backup"), log);
        for (long t = 5_100; t <= 30_000; t += 1_000) {
            r.receive(adv(100, 100), HIGH, t * MS); // the new, lower-priority master
            r.tick(t * MS);
        }
        assertEquals(State.BACKUP, r.state(), "no preemption during the hold-off");
        r.receive(adv(100, 100), HIGH, 70_000 * MS);
        r.tick(70_000 * MS + 3_500 * MS);
        assertEquals(State.MASTER, r.state(), "after it, preemption as configured");
    }

    @Test
    void onlyAMasterCanResign() {
        VirtualRouter r = router(100, 100, true, LOW);
        r.startup(0);
        log.clear();
        assertEquals(false, r.resign(1_000 * MS, 60_000 * MS));
        assertEquals(List.of(), log);
        assertEquals(State.BACKUP, r.state());
    }

    @Test
    void advertisementsOfAnotherVirtualRouterAreIgnored() {
        VirtualRouter r = router(100, 100, true, LOW);
        r.startup(0);
        r.receive(new Advertisement(52, 200, 100, List.of(ip("192.0.2.100"))), HIGH, 1_000 * MS);
        r.tick(3_610 * MS);
        assertEquals(State.MASTER, r.state());
    }

    @Test
    void addressesCompareAsUnsignedNumbers() {
        assertEquals(true, VirtualRouter.greater(ip("200.0.0.1"), ip("10.0.0.1")));
        assertEquals(false, VirtualRouter.greater(ip("10.0.0.1"), ip("200.0.0.1")));
        assertEquals(true, VirtualRouter.greater(ip("fe80::2"), ip("fe80::1")));
    }
}

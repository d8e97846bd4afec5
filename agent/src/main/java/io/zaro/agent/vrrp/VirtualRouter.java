package io.zaro.agent.vrrp;

import java.net.InetAddress;
import java.util.Arrays;
import java.util.Objects;

/**
 * One virtual router's state machine, as RFC 5798 section 6 specifies it, with its timers
 * (section 6.2) kept as deadlines on a clock the caller passes in: the caller feeds it
 * received advertisements and the time, and carries out what {@link Actions} asks.
 *
 * <p>Not thread-safe: one thread drives it (the one that owns the VRRP socket).
 */
public final class VirtualRouter {
    private static final long NANOS_PER_CENTI = 10_000_000L;

    /**
     * Section 6.4: Initialize, Backup and Master; and Fault (as keepalived has it): a tracked
     * interface is down, so the router takes no part until it recovers.
     */
    public enum State { INITIALIZE, BACKUP, MASTER, FAULT }

    /** What the state machine asks of its surroundings; called on the driving thread. */
    public interface Actions {
        /** Sends an ADVERTISEMENT with this priority (0 when the master stops, section 6.4.3). */
        void sendAdvertisement(int priority);

        /** The router became master: add the VIPs and announce them (gratuitous ARP, unsolicited NA). */
        void becameMaster();

        /** The router became backup, or stopped: release the VIPs. */
        void becameBackup();
    }

    /**
     * @param virtualRouterId the VRID, 1..255
     * @param priority 1..255; 255 owns the addresses (section 5.2.4)
     * @param advertIntervalCentis this router's advertisement interval, 1..4095 centiseconds
     * @param preempt whether a higher-priority backup takes over from a lower-priority master (section 6.1)
     * @param primaryAddress the address advertisements are sent from, which breaks priority ties
     */
    public record Settings(int virtualRouterId, int priority, int advertIntervalCentis, boolean preempt,
                           InetAddress primaryAddress) {
        public Settings {
            if (virtualRouterId < 1 || virtualRouterId > 255) {
                throw new IllegalArgumentException("virtual router id must be 1..255, got " + virtualRouterId);
            }
            if (priority < 1 || priority > 255) {
                throw new IllegalArgumentException("priority must be 1..255, got " + priority);
            }
            if (advertIntervalCentis < 1 || advertIntervalCentis > 0xfff) {
                throw new IllegalArgumentException("advertisement interval must be 1..4095 centiseconds, got "
                        + advertIntervalCentis);
            }
            Objects.requireNonNull(primaryAddress, "primaryAddress");
        }
    }

    private final Settings settings;
    private final Actions actions;
    private State state = State.INITIALIZE;
    private int masterAdvertIntervalCentis;
    /** Backup: when the master is declared down. */
    private long masterDownDeadline;
    /** Master: when the next advertisement is due. */
    private long adverDeadline;
    /** After a handover, until when this router does not preempt (nanoTime); 0 when it does as configured. */
    private long noPreemptUntil;

    public VirtualRouter(Settings settings, Actions actions) {
        this.settings = settings;
        this.actions = actions;
        this.masterAdvertIntervalCentis = settings.advertIntervalCentis();
    }

    public State state() {
        return state;
    }

    /** The master's advertisement interval this router last learned (section 6.1). */
    public int masterAdvertIntervalCentis() {
        return masterAdvertIntervalCentis;
    }

    /** Section 6.1: Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256, in nanoseconds. */
    long skewTimeNanos() {
        return (256L - settings.priority()) * masterAdvertIntervalCentis * NANOS_PER_CENTI / 256;
    }

    /** Section 6.1: Master_Down_Interval = (3 * Master_Adver_Interval) + Skew_Time, in nanoseconds. */
    long masterDownIntervalNanos() {
        return 3L * masterAdvertIntervalCentis * NANOS_PER_CENTI + skewTimeNanos();
    }

    /** Section 6.4.1: the Startup event. */
    public void startup(long now) {
        if (state != State.INITIALIZE) {
            return;
        }
        if (settings.priority() == 255) {
            becomeMaster(now);
        } else {
            masterAdvertIntervalCentis = settings.advertIntervalCentis();
            becomeBackup(now);
        }
    }

    /** Sections 6.4.2 and 6.4.3: the Shutdown event. A master says so with priority 0. */
    public void shutdown(long now) {
        if (state == State.MASTER) {
            actions.sendAdvertisement(0);
            state = State.INITIALIZE;
            actions.becameBackup();
        } else {
            state = State.INITIALIZE;
        }
    }

    /**
     * Something this router depends on failed (a tracked interface went down): a master steps
     * down as on shutdown (priority 0, so the backup takes over at once); then the router stays
     * out, ignoring advertisements, until {@link #recover}.
     */
    public void fault(long now) {
        if (state == State.FAULT) {
            return;
        }
        if (state == State.MASTER) {
            actions.sendAdvertisement(0);
            actions.becameBackup();
        }
        state = State.FAULT;
    }

    /** What failed works again: the router starts up afresh (section 6.4.1). */
    public void recover(long now) {
        if (state != State.FAULT) {
            return;
        }
        state = State.INITIALIZE;
        startup(now);
    }

    /**
     * A planned handover: a master steps down as on shutdown (priority 0, so the backup takes
     * over within its skew time) and stays backup, not preempting the new master for
     * {@code holdoffNanos} even with a higher priority.
     *
     * @return whether this router was master
     */
    public boolean resign(long now, long holdoffNanos) {
        if (state != State.MASTER) {
            return false;
        }
        actions.sendAdvertisement(0);
        noPreemptUntil = now + holdoffNanos;
        masterAdvertIntervalCentis = settings.advertIntervalCentis();
        becomeBackup(now);
        return true;
    }

    private boolean preempting(long now) {
        return settings.preempt() && (noPreemptUntil == 0 || now - noPreemptUntil >= 0);
    }

    /** Fires the timers that are due at {@code now}. */
    public void tick(long now) {
        if (state == State.BACKUP && now - masterDownDeadline >= 0) {
            // Section 6.4.2: Master_Down_Timer fires.
            becomeMaster(now);
        } else if (state == State.MASTER && now - adverDeadline >= 0) {
            // Section 6.4.3: Adver_Timer fires.
            actions.sendAdvertisement(settings.priority());
            adverDeadline = now + settings.advertIntervalCentis() * NANOS_PER_CENTI;
        }
    }

    /** The next time {@link #tick} has something to do; {@code Long.MAX_VALUE} in Initialize. */
    public long nextDeadline() {
        return switch (state) {
            case BACKUP -> masterDownDeadline;
            case MASTER -> adverDeadline;
            case INITIALIZE, FAULT -> Long.MAX_VALUE;
        };
    }

    /**
     * An ADVERTISEMENT for this virtual router arrived from {@code sender}, already checked as
     * section 7.1 asks (checksum, TTL 255, VRID).
     */
    public void receive(Advertisement adv, InetAddress sender, long now) {
        if (adv.virtualRouterId() != settings.virtualRouterId()) {
            return;
        }
        switch (state) {
            case BACKUP -> {
                // Section 6.4.2.
                if (adv.priority() == 0) {
                    masterDownDeadline = now + skewTimeNanos();
                } else if (!preempting(now) || adv.priority() >= settings.priority()) {
                    masterAdvertIntervalCentis = adv.maxAdvertIntervalCentis();
                    masterDownDeadline = now + masterDownIntervalNanos();
                }
                // else: a lower-priority master, and we preempt: discard, and take over when it times out.
            }
            case MASTER -> {
                // Section 6.4.3.
                if (adv.priority() == 0) {
                    actions.sendAdvertisement(settings.priority());
                    adverDeadline = now + settings.advertIntervalCentis() * NANOS_PER_CENTI;
                } else if (adv.priority() > settings.priority()
                        || (adv.priority() == settings.priority() && greater(sender, settings.primaryAddress()))) {
                    masterAdvertIntervalCentis = adv.maxAdvertIntervalCentis();
                    becomeBackup(now);
                }
                // else: discard.
            }
            case INITIALIZE, FAULT -> {
                // Not running, or out of service: nothing to do.
            }
        }
    }

    private void becomeMaster(long now) {
        actions.sendAdvertisement(settings.priority());
        state = State.MASTER;
        adverDeadline = now + settings.advertIntervalCentis() * NANOS_PER_CENTI;
        actions.becameMaster();
    }

    private void becomeBackup(long now) {
        state = State.BACKUP;
        masterDownDeadline = now + masterDownIntervalNanos();
        actions.becameBackup();
    }

    /** Section 6.4.3: addresses compare as unsigned integers in network byte order. */
    static boolean greater(InetAddress a, InetAddress b) {
        return Arrays.compareUnsigned(a.getAddress(), b.getAddress()) > 0;
    }
}

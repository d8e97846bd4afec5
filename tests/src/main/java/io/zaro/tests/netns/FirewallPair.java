package io.zaro.tests.netns;

import io.zaro.tests.netns.FailoverLab.Switch;
import java.io.IOException;
import java.util.Map;

/**
 * What moves the VIPs and the connections from fw1 to fw2 in one {@link FailoverLab} run: zaro's
 * agents ({@link ZaroPair}) or conntrackd with keepalived ({@link ConntrackdKeepalivedPair}).
 * The lab calls, in this order: {@link #start}, {@link #awaitMirrored} (after the flows run
 * through fw1), {@link #switchOver}, {@link #milestones} (after the measuring window), and
 * {@link #close}, whatever happened before.
 */
interface FirewallPair extends AutoCloseable {
    /** Starts both firewalls' daemons; returns once fw1 alone holds the VIPs and fw2 is its standby. */
    void start() throws IOException, InterruptedException;

    /**
     * Waits (60 s at most) until fw2 holds, where this pair keeps the standby's copy, every one of
     * {@code connections} established TCP connections to {@code port}; fails otherwise. Returns at
     * once for a pair that does not mirror (a control run).
     */
    void awaitMirrored(int port, int connections) throws InterruptedException;

    /** What the pair's daemons did so far, in a few words, for a message on a flow that never got going. */
    String diagnosis();

    /** The words for the progress line before the switch, such as "killing fw1 (kill -9 of its agent, links down)". */
    String describe(Switch how);

    /**
     * Switches {@code how} and waits (30 s at most) until the new master holds the VIPs; returns
     * the {@link System#nanoTime()} of the switch that is measured (for a fail-back, fw1's return).
     */
    long switchOver(Switch how) throws IOException, InterruptedException;

    /**
     * Steps of the pair's own takeover that it timed, each as nanoseconds from the switch, in the
     * order they happened; empty when it timed none. Called after the measuring window.
     */
    Map<String, Long> milestones();

    /** Stops every process the pair started, even after a failure, and deletes its files. Never throws. */
    @Override
    void close();
}

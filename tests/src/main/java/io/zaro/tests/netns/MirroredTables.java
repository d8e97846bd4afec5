package io.zaro.tests.netns;

import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.Family;
import io.zaro.conntrack.filter.Cidr;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * fw1's and fw2's tables compared by flow (zone and original tuple), leaving out the agents'
 * own connections over the sync link, which are never mirrored.
 */
public final class MirroredTables {
    private final ConntrackTable fw1;
    private final ConntrackTable fw2;
    private final Cidr sync;

    public MirroredTables(ConntrackTable fw1, ConntrackTable fw2, Cidr sync) {
        this.fw1 = fw1;
        this.fw2 = fw2;
        this.sync = sync;
    }

    /** Zone and original tuple of every flow of {@code t} but those over the sync link. */
    public Set<String> keys(ConntrackTable t) {
        return t.dump(Family.ALL).stream().filter(e -> !sync.contains(e.original().source()))
                .map(e -> e.zone() + " " + e.original()).collect(Collectors.toCollection(TreeSet::new));
    }

    /** Waits until fw2 holds exactly fw1's flows; the error names a few missing ones and ghosts. */
    public void awaitEqual(String what, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (!keys(fw1).equals(keys(fw2))) {
            if (System.nanoTime() > end) {
                Set<String> a = keys(fw1);
                Set<String> b = keys(fw2);
                throw new AssertionError("timed out waiting until " + what + ": " + a.size() + " on fw1, " + b.size()
                        + " on fw2; missing " + a.stream().filter(k -> !b.contains(k)).limit(3).toList() + ", ghosts "
                        + b.stream().filter(k -> !a.contains(k)).limit(3).toList());
            }
            Thread.sleep(250);
        }
    }
}

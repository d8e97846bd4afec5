package io.zaro.agent.mirror;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the agent has done, counted by outcome. Written by the capture, publisher and injector
 * threads, read by anyone (the periodic log line, and later the metrics endpoint).
 */
public final class MirrorCounters {
    // Active: capture and publish.
    public final AtomicLong captured = new AtomicLong();
    public final AtomicLong filtered = new AtomicLong();
    public final AtomicLong ownInjections = new AtomicLong();
    public final AtomicLong published = new AtomicLong();
    public final AtomicLong publishFailed = new AtomicLong();
    public final AtomicLong eventLoss = new AtomicLong();
    public final AtomicLong resyncs = new AtomicLong();
    public final AtomicLong swept = new AtomicLong();
    public final AtomicLong refreshed = new AtomicLong();
    // Standby: consume and inject.
    public final AtomicLong consumed = new AtomicLong();
    public final AtomicLong created = new AtomicLong();
    public final AtomicLong updated = new AtomicLong();
    public final AtomicLong deleted = new AtomicLong();
    public final AtomicLong deleteMissing = new AtomicLong();
    public final AtomicLong ghostsDeleted = new AtomicLong();
    public final AtomicLong injectFailed = new AtomicLong();
    public final AtomicLong clashes = new AtomicLong();
    public final AtomicLong rejectedMalformed = new AtomicLong();
    public final AtomicLong rejectedOversized = new AtomicLong();
    public final AtomicLong rejectedUnsigned = new AtomicLong();
    public final AtomicLong rejectedForged = new AtomicLong();
    public final AtomicLong rejectedReplayed = new AtomicLong();
    public final AtomicLong rejectedFiltered = new AtomicLong();
    public final AtomicLong ignoredOwnNode = new AtomicLong();
    public final AtomicLong expired = new AtomicLong();

    /** Every counter by name, in a fixed order. */
    public Map<String, Long> snapshot() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (java.lang.reflect.Field f : MirrorCounters.class.getFields()) {
            try {
                m.put(f.getName(), ((AtomicLong) f.get(this)).get());
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
        }
        return m;
    }

    /** The counters that are not zero, as {@code name=value} pairs. */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        snapshot().forEach((k, v) -> {
            if (v != 0) {
                b.append(b.length() == 0 ? "" : " ").append(k).append('=').append(v);
            }
        });
        return b.length() == 0 ? "nothing yet" : b.toString();
    }
}

package io.zaro.agent.mirror;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * The active's ledger: for each flow the state topic holds, its Kafka key and one long (the
 * expiry the standby was told), in flat arrays rather than a {@code HashMap<ByteBuffer, Long>}.
 * A million flows took some 160 bytes each as objects (a map node, a buffer, an array, a boxed
 * long), all of them copied by each young collection until they were old, which made the
 * collector's pauses the tail of the mirroring latency; here a flow takes its key's bytes in an
 * arena plus four array slots, and the collector sees a handful of arrays.
 *
 * <p>Open addressing with linear probing; a removed flow leaves a marker in its slot and its bytes
 * in the arena until the next rebuild, which happens when live and removed slots fill 60 % of the
 * table, or when removed bytes outweigh live ones. A sweep replaces the set of keys a refresh
 * saw: {@link #beginSweep()}, then {@link #mark} each key seen, then {@link #sweepUnmarked}.
 *
 * <p>The standby's bootstrap holds the keys it has read in one too (the values unused), for
 * the same reasons.
 *
 * <p>Not thread-safe: the thread that made it owns it (the active's publisher thread, the
 * standby's injector thread).
 */
final class FlowLedger {
    /** What {@link #get} answers for a key the ledger lacks; never a value. */
    static final long ABSENT = Long.MIN_VALUE + 1;

    private static final int EMPTY = 0;
    private static final int REMOVED = -1;
    private static final int MAX_KEY = 0xffff;

    /** Per slot: the key's offset in the arena plus one (0: empty, -1: removed). */
    private int[] offsets;
    private int[] hashes;
    private long[] values;
    private int[] marks;
    private byte[] arena;
    private int arenaUsed;
    private int removedBytes;
    private int size;
    private int removedSlots;
    private int epoch;

    FlowLedger() {
        this(1024);
    }

    FlowLedger(int expected) {
        allocate(tableSize(expected), Math.max(4096, expected * 48));
    }

    int size() {
        return size;
    }

    boolean contains(byte[] key) {
        return find(key, hash(key)) >= 0;
    }

    /** The key's value, or {@link #ABSENT}. */
    long get(byte[] key) {
        int slot = find(key, hash(key));
        return slot < 0 ? ABSENT : values[slot];
    }

    void put(byte[] key, long value) {
        insert(key, value, true);
    }

    /** @return whether the key was absent (and is now held with {@code value}) */
    boolean putIfAbsent(byte[] key, long value) {
        return insert(key, value, false);
    }

    /** @return whether the key was held */
    boolean remove(byte[] key) {
        int slot = find(key, hash(key));
        if (slot < 0) {
            return false;
        }
        removeSlot(slot);
        maybeRebuild();
        return true;
    }

    /** Starts a sweep: no key is marked yet. */
    void beginSweep() {
        epoch++;
    }

    /** Marks the key as seen in this sweep; a key the ledger lacks is ignored. */
    void mark(byte[] key) {
        int slot = find(key, hash(key));
        if (slot >= 0) {
            marks[slot] = epoch;
        }
    }

    /**
     * Removes every key not marked since {@link #beginSweep()}, handing each to {@code removed}.
     *
     * @return how many were removed
     */
    long sweepUnmarked(Consumer<byte[]> removed) {
        long count = 0;
        for (int slot = 0; slot < offsets.length; slot++) {
            if (offsets[slot] > 0 && marks[slot] != epoch) {
                byte[] key = key(slot);
                removeSlot(slot);
                removed.accept(key);
                count++;
            }
        }
        maybeRebuild();
        return count;
    }

    /** The bytes the ledger holds in its arrays, for the figures. */
    long footprintBytes() {
        return (long) offsets.length * (4 + 4 + 8 + 4) + arena.length;
    }

    private boolean insert(byte[] key, long value, boolean replace) {
        if (value == ABSENT) {
            throw new IllegalArgumentException("ABSENT is not a value");
        }
        if (key.length == 0 || key.length > MAX_KEY) {
            throw new IllegalArgumentException("a key has 1.." + MAX_KEY + " bytes, not " + key.length);
        }
        int h = hash(key);
        int found = find(key, h);
        if (found >= 0) {
            if (replace) {
                values[found] = value;
            }
            return false;
        }
        if ((size + removedSlots + 1) * 10L > offsets.length * 6L) {
            rebuild(tableSize(size + 1));
        }
        int slot = h & (offsets.length - 1);
        while (offsets[slot] > 0) {
            slot = (slot + 1) & (offsets.length - 1);
        }
        if (offsets[slot] == REMOVED) {
            removedSlots--;
        }
        offsets[slot] = append(key) + 1;
        hashes[slot] = h;
        values[slot] = value;
        marks[slot] = epoch - 1;
        size++;
        return true;
    }

    private int find(byte[] key, int h) {
        int mask = offsets.length - 1;
        for (int slot = h & mask; ; slot = (slot + 1) & mask) {
            int o = offsets[slot];
            if (o == EMPTY) {
                return -1;
            }
            if (o > 0 && hashes[slot] == h && equalsAt(o - 1, key)) {
                return slot;
            }
        }
    }

    private void removeSlot(int slot) {
        int o = offsets[slot] - 1;
        removedBytes += 2 + length(o);
        offsets[slot] = REMOVED;
        size--;
        removedSlots++;
    }

    private void maybeRebuild() {
        if (removedBytes > 4096 && removedBytes > arenaUsed - removedBytes) {
            rebuild(tableSize(size));
        }
    }

    /** Copies the live keys into fresh arrays: no removed slot, no removed bytes. */
    private void rebuild(int tableSize) {
        int[] oldOffsets = offsets;
        int[] oldHashes = hashes;
        long[] oldValues = values;
        int[] oldMarks = marks;
        byte[] oldArena = arena;
        allocate(tableSize, Math.max(4096, (arenaUsed - removedBytes) * 3 / 2));
        for (int slot = 0; slot < oldOffsets.length; slot++) {
            int o = oldOffsets[slot] - 1;
            if (o < 0) {
                continue;
            }
            int len = (oldArena[o] & 0xff) << 8 | (oldArena[o + 1] & 0xff);
            int at = reserve(len);
            System.arraycopy(oldArena, o, arena, at, len + 2);
            int s = oldHashes[slot] & (offsets.length - 1);
            while (offsets[s] != EMPTY) {
                s = (s + 1) & (offsets.length - 1);
            }
            offsets[s] = at + 1;
            hashes[s] = oldHashes[slot];
            values[s] = oldValues[slot];
            marks[s] = oldMarks[slot];
            size++;
        }
    }

    private void allocate(int tableSize, int arenaSize) {
        offsets = new int[tableSize];
        hashes = new int[tableSize];
        values = new long[tableSize];
        marks = new int[tableSize];
        arena = new byte[arenaSize];
        arenaUsed = 0;
        removedBytes = 0;
        size = 0;
        removedSlots = 0;
    }

    /** Writes the key (two bytes of length, then the bytes) at the arena's end; returns its offset. */
    private int append(byte[] key) {
        int at = reserve(key.length);
        arena[at] = (byte) (key.length >>> 8);
        arena[at + 1] = (byte) key.length;
        System.arraycopy(key, 0, arena, at + 2, key.length);
        return at;
    }

    private int reserve(int length) {
        int needed = arenaUsed + 2 + length;
        if (needed > arena.length) {
            if (needed < 0 || arena.length >= Integer.MAX_VALUE - 16) {
                throw new IllegalStateException("the ledger's keys exceed 2 GiB");
            }
            arena = Arrays.copyOf(arena, (int) Math.min(Integer.MAX_VALUE - 16, Math.max(needed, arena.length * 3L / 2)));
        }
        int at = arenaUsed;
        arenaUsed = needed;
        return at;
    }

    private int length(int offset) {
        return (arena[offset] & 0xff) << 8 | (arena[offset + 1] & 0xff);
    }

    private boolean equalsAt(int offset, byte[] key) {
        return length(offset) == key.length
                && Arrays.equals(arena, offset + 2, offset + 2 + key.length, key, 0, key.length);
    }

    private byte[] key(int slot) {
        int o = offsets[slot] - 1;
        return Arrays.copyOfRange(arena, o + 2, o + 2 + length(o));
    }

    private static int hash(byte[] key) {
        int h = Arrays.hashCode(key);
        return h ^ (h >>> 16) * 0x45d9f3b; // spread the low bits, which pick the slot
    }

    /** A power of two with room for {@code n} keys at 50 % load. */
    private static int tableSize(int n) {
        int size = 16;
        while (size < 2L * n) {
            size <<= 1;
        }
        return size;
    }
}

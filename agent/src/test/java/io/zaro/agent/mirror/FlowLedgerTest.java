package io.zaro.agent.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The ledger's flat map against a {@link HashMap} doing the same, and its sweeps. */
class FlowLedgerTest {
    private static byte[] key(int i) {
        // Keys of several lengths, as IPv4, IPv6 and ICMP keys are.
        return ("flow-" + i + "-" + "x".repeat(i % 37)).getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void behavesAsAMapThroughGrowthRemovalsAndRebuilds() {
        FlowLedger ledger = new FlowLedger(4);
        Map<ByteBuffer, Long> model = new HashMap<>();
        Random random = new Random(7);
        for (int step = 0; step < 200_000; step++) {
            int i = random.nextInt(20_000);
            byte[] k = key(i);
            switch (random.nextInt(5)) {
                case 0, 1 -> {
                    long v = random.nextLong() == FlowLedger.ABSENT ? 0 : random.nextLong();
                    ledger.put(k, v);
                    model.put(ByteBuffer.wrap(k), v);
                }
                case 2 -> assertEquals(model.remove(ByteBuffer.wrap(k)) != null, ledger.remove(k));
                case 3 -> assertEquals(model.putIfAbsent(ByteBuffer.wrap(k), (long) i) == null, ledger.putIfAbsent(k, i));
                default -> {
                    Long want = model.get(ByteBuffer.wrap(k));
                    assertEquals(want == null ? FlowLedger.ABSENT : want, ledger.get(k));
                    assertEquals(want != null, ledger.contains(k));
                }
            }
            assertEquals(model.size(), ledger.size());
        }
        for (Map.Entry<ByteBuffer, Long> e : model.entrySet()) {
            assertEquals(e.getValue(), ledger.get(e.getKey().array()));
        }
        assertEquals(Long.MIN_VALUE, putAndGet(ledger, Long.MIN_VALUE), "the values zaro stores are values");
        assertEquals(Long.MAX_VALUE, putAndGet(ledger, Long.MAX_VALUE));
    }

    private static long putAndGet(FlowLedger ledger, long value) {
        byte[] k = "edge".getBytes(StandardCharsets.UTF_8);
        ledger.put(k, value);
        return ledger.get(k);
    }

    @Test
    void aSweepRemovesWhatWasNotMarkedAndHandsOverItsKeys() {
        FlowLedger ledger = new FlowLedger();
        for (int i = 0; i < 10_000; i++) {
            ledger.put(key(i), i);
        }
        ledger.beginSweep();
        for (int i = 0; i < 10_000; i += 2) {
            ledger.mark(key(i));
        }
        ledger.mark(key(99_999)); // not held: ignored
        ledger.put(key(20_000), 1); // added during the sweep, not marked: swept
        ledger.put(key(20_001), 1);
        ledger.mark(key(20_001)); // added and marked: kept
        Set<String> removed = new HashSet<>();
        long count = ledger.sweepUnmarked(k -> removed.add(new String(k, StandardCharsets.UTF_8)));

        assertEquals(5_001, count);
        assertEquals(5_001, removed.size());
        assertTrue(removed.contains(new String(key(1), StandardCharsets.UTF_8)));
        assertTrue(removed.contains(new String(key(20_000), StandardCharsets.UTF_8)));
        assertEquals(5_001, ledger.size());
        assertTrue(ledger.contains(key(0)) && ledger.contains(key(20_001)));
        assertFalse(ledger.contains(key(1)));

        ledger.beginSweep(); // the marks of the last sweep do not count in the next
        List<byte[]> second = new ArrayList<>();
        ledger.sweepUnmarked(second::add);
        assertEquals(5_001, second.size());
        assertEquals(0, ledger.size());
    }

    @Test
    void removedKeysLeaveNoGarbageBehindForLong() {
        FlowLedger ledger = new FlowLedger();
        for (int round = 0; round < 20; round++) {
            for (int i = 0; i < 50_000; i++) {
                ledger.put(key(round * 50_000 + i), i);
            }
            for (int i = 0; i < 50_000; i++) {
                assertTrue(ledger.remove(key(round * 50_000 + i)));
            }
        }
        assertEquals(0, ledger.size());
        assertTrue(ledger.footprintBytes() < 8 << 20, "rebuilt smaller after the churn: " + ledger.footprintBytes());
    }

    @Test
    void refusesWhatItCannotHold() {
        FlowLedger ledger = new FlowLedger();
        assertThrows(IllegalArgumentException.class, () -> ledger.put(new byte[0], 1));
        assertThrows(IllegalArgumentException.class, () -> ledger.put(key(1), FlowLedger.ABSENT));
    }
}

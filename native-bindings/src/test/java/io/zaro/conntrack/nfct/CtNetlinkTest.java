package io.zaro.conntrack.nfct;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The ctnetlink parser against damaged input: whatever the bytes, it returns entries or throws a
 * RuntimeException (which the table and the event reader catch), never anything else, and it
 * always terminates.
 */
class CtNetlinkTest {
    @BeforeAll
    static void library() {
        NfctMapperTest.library();
    }

    /** Every entry of the mapper's table, each encoded by the library, back to back in one buffer. */
    static byte[] datagram() {
        List<byte[]> parts = new ArrayList<>();
        NfctMapperTest.entries().forEach(a -> {
            ByteBuffer m = NfctMapperTest.encode((ConntrackEntry) a.get()[1], true);
            byte[] raw = new byte[CtNetlink.align4(m.remaining())];
            m.get(raw, 0, m.remaining());
            parts.add(raw);
        });
        int total = parts.stream().mapToInt(p -> p.length).sum();
        ByteBuffer all = ByteBuffer.allocate(total);
        parts.forEach(all::put);
        return all.array();
    }

    static int parse(byte[] bytes) {
        int[] entries = {0};
        CtNetlink.read(ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()), new CtNetlink.Sink() {
            @Override
            public void entry(ConntrackEvent.Type type, ConntrackEntry entry, int portId) {
                entries[0]++;
            }

            @Override
            public void error(int errno, int seq) {
            }

            @Override
            public void done(boolean interrupted) {
            }
        });
        return entries[0];
    }

    @Test
    void aWholeDatagramOfMessagesParses() {
        assertEquals((int) NfctMapperTest.entries().count(), parse(datagram()));
    }

    @Test
    void everyTruncationIsRefusedOrParsedNeverAnythingElse() {
        byte[] whole = datagram();
        for (int len = 0; len < whole.length; len++) {
            byte[] cut = java.util.Arrays.copyOf(whole, len);
            try {
                parse(cut);
            } catch (RuntimeException expected) {
                // refused: fine
            }
        }
    }

    @Test
    void randomCorruptionIsRefusedOrParsedNeverAnythingElse() {
        byte[] whole = datagram();
        Random random = new Random(42);
        int refused = 0;
        for (int round = 0; round < 20_000; round++) {
            byte[] bad = whole.clone();
            for (int flips = 1 + random.nextInt(4); flips > 0; flips--) {
                bad[random.nextInt(bad.length)] = (byte) random.nextInt(256);
            }
            try {
                parse(bad);
            } catch (RuntimeException e) {
                refused++;
            }
        }
        assertTrue(refused > 0, "some corruptions must be caught");
    }

    @Test
    void anAttributeLongerThanItsParentIsMalformed() {
        byte[] whole = datagram();
        // the first attribute of the first message: its length field, made to overrun the message
        int firstAttr = CtNetlink.NLMSG_HDRLEN + CtNetlink.NFGENMSG_LEN;
        ByteBuffer b = ByteBuffer.wrap(whole).order(ByteOrder.nativeOrder());
        b.putShort(firstAttr, (short) 0x7fff);
        assertThrows(IllegalStateException.class, () -> parse(whole));
    }
}

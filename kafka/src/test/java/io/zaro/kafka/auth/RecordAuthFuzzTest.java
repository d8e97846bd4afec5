package io.zaro.kafka.auth;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzzes {@link RecordAuth#verify} as a standby meets it: a record signed by a node (with our
 * key, the rotated-in second key, another secret under our key's ID, or a key we do not have),
 * then changed by an attacker in any way the fuzzer likes: key or value bits flipped or replaced,
 * a value turned into a tombstone or back, any header replaced, removed, added before or after
 * the real ones, with any name and bytes, or all of them replaced.
 *
 * <p>verify must never throw, and it says VALID exactly when the signer holds one of our secrets
 * and nothing it signed was changed: the key, the value, and the bytes of the node, sequence, key
 * ID and MAC headers the verifier reads (the last of each name). So VALID can never vouch for a
 * key, value, node or sequence number the signer did not sign.
 */
class RecordAuthFuzzTest {
    // Fixed secrets so that every finding reproduces; only this test knows them.
    private static final byte[] K1 = secret(1);
    private static final byte[] K2 = secret(2);
    private static final RecordAuth VERIFIER = new RecordAuth(keys("k1", K1, "k2", K2));
    private static final RecordAuth[] SIGNERS = {
        VERIFIER,                                     // our key
        new RecordAuth(keys("k2", K2, "k1", K1)),     // after rotation: signs with k2, which we have too
        new RecordAuth(keys("k1", secret(3))),        // our key's ID, another secret
        new RecordAuth(keys("k9", secret(9))),        // a key we do not have
    };
    private static final RecordAuth.Verdict[] UNCHANGED = {
        RecordAuth.Verdict.VALID, RecordAuth.Verdict.VALID, RecordAuth.Verdict.FORGED, RecordAuth.Verdict.UNKNOWN_KEY,
    };
    private static final String[] NAMES = {RecordAuth.NODE, RecordAuth.SEQUENCE, RecordAuth.KEY_ID, RecordAuth.MAC};
    private static final String NODE_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";

    @FuzzTest
    @Timeout(10)
    void verify(FuzzedDataProvider data) {
        int signer = data.consumeInt(0, SIGNERS.length - 1);
        byte[] key = data.consumeBoolean() ? null : data.consumeBytes(data.consumeInt(0, 300));
        byte[] value = data.consumeBoolean() ? null : data.consumeBytes(data.consumeInt(0, 300));
        String node = nodeId(data);
        long sequence = data.consumeLong();
        Headers signed = SIGNERS[signer].sign(key, value, node, sequence);
        Map<String, byte[]> signedFields = lastOfEach(signed);

        byte[] k = key;
        byte[] v = value;
        List<Header> headers = new ArrayList<>(Arrays.asList(signed.toArray()));
        int changes = data.consumeInt(0, 6);
        for (int i = 0; i < changes; i++) {
            switch (data.consumeInt(0, 8)) {
                case 0 -> k = flipBit(k, data);
                case 1 -> v = flipBit(v, data);
                case 2 -> k = data.consumeBoolean() ? null : data.consumeBytes(data.consumeInt(0, 64));
                case 3 -> v = v == null ? new byte[0] : (v.length == 0 ? null : data.consumeBytes(data.consumeInt(0, 64)));
                case 4 -> headers.add(new RecordHeader(name(data), headerValue(data)));
                case 5 -> headers.add(0, new RecordHeader(name(data), headerValue(data)));
                case 6 -> {
                    String name = name(data);
                    headers.removeIf(h -> h.key().equals(name));
                }
                case 7 -> {
                    if (!headers.isEmpty()) {
                        int at = data.consumeInt(0, headers.size() - 1);
                        headers.set(at, new RecordHeader(headers.get(at).key(), headerValue(data)));
                    }
                }
                default -> {
                    headers.clear();
                    for (int n = data.consumeInt(0, 6); n > 0; n--) {
                        headers.add(new RecordHeader(name(data), headerValue(data)));
                    }
                }
            }
        }
        Headers received = data.consumeBoolean() || !headers.isEmpty() ? new RecordHeaders(headers) : null;

        RecordAuth.Verdict verdict = VERIFIER.verify(k, v, received);

        boolean unchanged = Arrays.equals(key, k) && Arrays.equals(value, v) && sameFields(signedFields, lastOfEach(received));
        if (unchanged) {
            assertEquals(UNCHANGED[signer], verdict, "a record signed by signer " + signer + ", unchanged");
        } else {
            assertNotEquals(RecordAuth.Verdict.VALID, verdict, "a changed record of signer " + signer);
        }
        if (verdict == RecordAuth.Verdict.VALID) {
            // What the standby goes on to read of a VALID record is what the signer signed.
            assertArrayEquals(key, k);
            assertArrayEquals(value, v);
            assertEquals(RecordAuth.node(signed), RecordAuth.node(received));
            assertEquals(sequence, RecordAuth.sequence(received));
        }
    }

    private static String nodeId(FuzzedDataProvider data) {
        StringBuilder b = new StringBuilder();
        for (int n = data.consumeInt(1, 64); n > 0; n--) {
            b.append(NODE_CHARS.charAt(data.consumeInt(0, NODE_CHARS.length() - 1)));
        }
        return b.toString();
    }

    private static String name(FuzzedDataProvider data) {
        int pick = data.consumeInt(0, NAMES.length);
        return pick < NAMES.length ? NAMES[pick] : data.consumeString(20);
    }

    private static byte[] headerValue(FuzzedDataProvider data) {
        return data.consumeInt(0, 15) == 0 ? null : data.consumeBytes(data.consumeInt(0, 300));
    }

    private static byte[] flipBit(byte[] bytes, FuzzedDataProvider data) {
        if (bytes == null || bytes.length == 0) {
            return bytes;
        }
        byte[] flipped = bytes.clone();
        int bit = data.consumeInt(0, bytes.length * 8 - 1);
        flipped[bit / 8] ^= (byte) (1 << (bit % 8));
        return flipped;
    }

    /** The bytes of the last header of each signature header's name (null: none, or a null value), as verify reads them. */
    private static Map<String, byte[]> lastOfEach(Headers headers) {
        Map<String, byte[]> m = new LinkedHashMap<>();
        for (String name : NAMES) {
            Header h = headers == null ? null : headers.lastHeader(name);
            m.put(name, h == null ? null : h.value());
        }
        return m;
    }

    private static boolean sameFields(Map<String, byte[]> a, Map<String, byte[]> b) {
        for (String name : NAMES) {
            if (!Arrays.equals(a.get(name), b.get(name))) {
                return false;
            }
        }
        return true;
    }

    private static byte[] secret(int seed) {
        byte[] s = new byte[AuthKeys.MIN_SECRET_BYTES];
        Arrays.fill(s, (byte) (0x5a ^ seed));
        s[0] = (byte) seed;
        return s;
    }

    private static AuthKeys keys(Object... idsAndSecrets) {
        Map<String, byte[]> m = new LinkedHashMap<>();
        for (int i = 0; i < idsAndSecrets.length; i += 2) {
            m.put((String) idsAndSecrets[i], (byte[]) Objects.requireNonNull(idsAndSecrets[i + 1]));
        }
        return new AuthKeys(m);
    }
}

package io.zaro.kafka.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecordAuthTest {
    private static final byte[] KEY = "flow-key".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] VALUE = "flow-value".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    private AuthKeys keys(String... lines) throws Exception {
        Path f = dir.resolve("keys-" + System.nanoTime());
        Files.write(f, List.of(lines));
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        return AuthKeys.load(f);
    }

    @Test
    void aSignedRecordVerifiesAndNamesItsNodeAndSequence() throws Exception {
        RecordAuth auth = new RecordAuth(keys(AuthKeys.generate("k1")));
        Headers h = auth.sign(KEY, VALUE, "fw1", 42);
        assertEquals(RecordAuth.Verdict.VALID, auth.verify(KEY, VALUE, h));
        assertEquals("fw1", RecordAuth.node(h));
        assertEquals(42, RecordAuth.sequence(h));
        Headers tombstone = auth.sign(KEY, null, "fw1", 43);
        assertEquals(RecordAuth.Verdict.VALID, auth.verify(KEY, null, tombstone));
        assertEquals(RecordAuth.Verdict.FORGED, auth.verify(KEY, new byte[0], tombstone), "a tombstone is not an empty value");
    }

    @Test
    void anyChangeOfKeyValueNodeOrSequenceIsForged() throws Exception {
        RecordAuth auth = new RecordAuth(keys(AuthKeys.generate("k1")));
        Headers h = auth.sign(KEY, VALUE, "fw1", 42);
        byte[] tampered = VALUE.clone();
        tampered[3] ^= 1;
        assertEquals(RecordAuth.Verdict.FORGED, auth.verify(KEY, tampered, h));
        assertEquals(RecordAuth.Verdict.FORGED, auth.verify("flow-kez".getBytes(StandardCharsets.US_ASCII), VALUE, h));
        assertEquals(RecordAuth.Verdict.FORGED, auth.verify(KEY, VALUE, replaced(h, RecordAuth.NODE, "fw2".getBytes())));
        assertEquals(RecordAuth.Verdict.FORGED, auth.verify(KEY, VALUE,
                replaced(h, RecordAuth.SEQUENCE, new byte[] {0, 0, 0, 0, 0, 0, 0, 43})));
        byte[] mac = h.lastHeader(RecordAuth.MAC).value().clone();
        mac[0] ^= (byte) 0x80;
        assertEquals(RecordAuth.Verdict.FORGED, auth.verify(KEY, VALUE, replaced(h, RecordAuth.MAC, mac)));
        // Moving the boundary between key and value changes the MAC too.
        assertEquals(RecordAuth.Verdict.FORGED, auth.verify("flow-keyf".getBytes(StandardCharsets.US_ASCII),
                "low-value".getBytes(StandardCharsets.US_ASCII), h));
    }

    @Test
    void unsignedAndOtherKeysAreToldApart() throws Exception {
        RecordAuth ours = new RecordAuth(keys(AuthKeys.generate("k1")));
        RecordAuth theirs = new RecordAuth(keys(AuthKeys.generate("k1")));
        RecordAuth otherId = new RecordAuth(keys(AuthKeys.generate("k9")));
        assertEquals(RecordAuth.Verdict.UNSIGNED, ours.verify(KEY, VALUE, new RecordHeaders()));
        assertEquals(RecordAuth.Verdict.UNSIGNED, ours.verify(KEY, VALUE, null));
        Headers partial = ours.sign(KEY, VALUE, "fw1", 1);
        partial.remove(RecordAuth.SEQUENCE);
        assertEquals(RecordAuth.Verdict.UNSIGNED, ours.verify(KEY, VALUE, partial));
        assertEquals(RecordAuth.Verdict.FORGED, ours.verify(KEY, VALUE, theirs.sign(KEY, VALUE, "fw1", 1)),
                "the same key name with another secret");
        assertEquals(RecordAuth.Verdict.UNKNOWN_KEY, ours.verify(KEY, VALUE, otherId.sign(KEY, VALUE, "fw1", 1)));
    }

    @Test
    void rotationSignsWithTheFirstKeyAndVerifiesWithEvery() throws Exception {
        String old = AuthKeys.generate("old");
        String fresh = AuthKeys.generate("new");
        RecordAuth before = new RecordAuth(keys(old));
        RecordAuth adding = new RecordAuth(keys(old, fresh));
        RecordAuth switched = new RecordAuth(keys(fresh, old));
        RecordAuth after = new RecordAuth(keys(fresh));
        assertEquals(RecordAuth.Verdict.VALID, adding.verify(KEY, VALUE, before.sign(KEY, VALUE, "fw1", 1)));
        assertEquals(RecordAuth.Verdict.VALID, adding.verify(KEY, VALUE, switched.sign(KEY, VALUE, "fw1", 2)));
        assertEquals(RecordAuth.Verdict.VALID, switched.verify(KEY, VALUE, adding.sign(KEY, VALUE, "fw1", 3)));
        assertEquals(RecordAuth.Verdict.VALID, after.verify(KEY, VALUE, switched.sign(KEY, VALUE, "fw1", 4)));
        assertEquals(RecordAuth.Verdict.UNKNOWN_KEY, after.verify(KEY, VALUE, before.sign(KEY, VALUE, "fw1", 5)));
    }

    @Test
    void aKeyFileOthersCanReadOrThatIsBadlyFormedIsRefusedInOneSentence() throws Exception {
        Path open = dir.resolve("open");
        Files.write(open, List.of(AuthKeys.generate("k1")));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r-----"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AuthKeys.load(open));
        assertEquals("the key file " + open + " is open to other users: chmod 600 " + open, e.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AuthKeys.load(dir.resolve("none"))).getMessage()
                .contains("does not exist"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> keys("k1 abcd")).getMessage()
                .contains("fewer than 32"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> keys("k1 " + "zz".repeat(32))).getMessage()
                .contains("not hex"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> keys("# nothing")).getMessage()
                .contains("holds no key"));
        String k = AuthKeys.generate("k1");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> keys(k, k)).getMessage().contains("twice"));
        assertEquals(List.of("a", "b"), keys("# comment", "", AuthKeys.generate("a"), AuthKeys.generate("b")).ids());
    }

    private static Headers replaced(Headers h, String name, byte[] value) {
        RecordHeaders copy = new RecordHeaders();
        for (Header x : h) {
            copy.add(x.key(), x.key().equals(name) ? value : x.value());
        }
        return copy;
    }
}

package io.zaro.kafka.auth;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * Signs records with HMAC-SHA256 and verifies them. A signed record carries four headers: the
 * publishing node ({@value #NODE}), its sequence number ({@value #SEQUENCE}, 8 bytes), the key's
 * ID ({@value #KEY_ID}) and the MAC ({@value #MAC}), computed over a version tag, the record's
 * key, its value (a tombstone's absence included), the node, the sequence number and the key ID,
 * each with its length. So nothing of a record can be changed, and a tombstone (which has no
 * value to hold them) still says who sent it and when. Thread-safe.
 */
public final class RecordAuth {
    public static final String NODE = "zaro-node";
    public static final String SEQUENCE = "zaro-seq";
    public static final String KEY_ID = "zaro-key";
    public static final String MAC = "zaro-mac";
    private static final byte[] TAG = "zaro-record-v1".getBytes(StandardCharsets.US_ASCII);
    private static final int MAX_NODE_BYTES = 255;

    /** What {@link #verify} found. */
    public enum Verdict {
        VALID,
        /** No MAC, or headers missing: not from a node that holds a key. */
        UNSIGNED,
        /** Signed with a key this node does not have. */
        UNKNOWN_KEY,
        /** The MAC does not match: the record was changed, or forged. */
        FORGED
    }

    private final AuthKeys keys;
    private final ThreadLocal<Map<String, Mac>> macs = ThreadLocal.withInitial(HashMap::new);

    public RecordAuth(AuthKeys keys) {
        this.keys = keys;
    }

    /** The headers that sign a record of {@code node} with sequence number {@code sequence}; {@code value} null for a tombstone. */
    public Headers sign(byte[] key, byte[] value, String node, long sequence) {
        String id = keys.signingId();
        byte[] nodeBytes = node.getBytes(StandardCharsets.UTF_8);
        byte[] seq = ByteBuffer.allocate(Long.BYTES).putLong(sequence).array();
        RecordHeaders h = new RecordHeaders();
        h.add(NODE, nodeBytes);
        h.add(SEQUENCE, seq);
        h.add(KEY_ID, id.getBytes(StandardCharsets.US_ASCII));
        h.add(MAC, mac(id, key, value, nodeBytes, sequence));
        return h;
    }

    /** Whether the record's headers sign exactly this key and value. */
    public Verdict verify(byte[] key, byte[] value, Headers headers) {
        byte[] node = last(headers, NODE);
        byte[] seq = last(headers, SEQUENCE);
        byte[] id = last(headers, KEY_ID);
        byte[] mac = last(headers, MAC);
        if (node == null || seq == null || id == null || mac == null || seq.length != Long.BYTES
                || node.length == 0 || node.length > MAX_NODE_BYTES || id.length > 64) {
            return Verdict.UNSIGNED;
        }
        String keyId = new String(id, StandardCharsets.US_ASCII);
        if (keys.secret(keyId) == null) {
            return Verdict.UNKNOWN_KEY;
        }
        byte[] expected = mac(keyId, key, value, node, ByteBuffer.wrap(seq).getLong());
        return MessageDigest.isEqual(expected, mac) ? Verdict.VALID : Verdict.FORGED;
    }

    /** The node a signed record names (check {@link #verify} first). */
    public static String node(Headers headers) {
        byte[] node = last(headers, NODE);
        return node == null ? null : new String(node, StandardCharsets.UTF_8);
    }

    /** The sequence number a signed record carries (check {@link #verify} first). */
    public static long sequence(Headers headers) {
        return ByteBuffer.wrap(last(headers, SEQUENCE)).getLong();
    }

    private byte[] mac(String id, byte[] key, byte[] value, byte[] node, long sequence) {
        Mac m = macs.get().computeIfAbsent(id, k -> {
            try {
                Mac created = Mac.getInstance("HmacSHA256");
                created.init(new SecretKeySpec(keys.secret(k), "HmacSHA256"));
                return created;
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("this Java has no HmacSHA256", e);
            }
        });
        m.update(TAG);
        field(m, key);
        field(m, value);
        field(m, node);
        m.update(ByteBuffer.allocate(Long.BYTES).putLong(sequence).array());
        field(m, id.getBytes(StandardCharsets.US_ASCII));
        return m.doFinal();
    }

    /** The length (-1 for none), then the bytes: no two different inputs run together alike. */
    private static void field(Mac m, byte[] bytes) {
        m.update(ByteBuffer.allocate(Integer.BYTES).putInt(bytes == null ? -1 : bytes.length).array());
        if (bytes != null) {
            m.update(bytes);
        }
    }

    private static byte[] last(Headers headers, String name) {
        if (headers == null) {
            return null;
        }
        Header h = headers.lastHeader(name);
        return h == null ? null : h.value();
    }
}

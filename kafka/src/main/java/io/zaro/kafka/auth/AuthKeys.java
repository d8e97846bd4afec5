package io.zaro.kafka.auth;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The shared keys that sign and verify records, read from a file that only its owner may read:
 * one key per line, {@code ID SECRET}, the secret in hex (32 bytes or more), {@code #} comments.
 * The first key signs; every key verifies, so a key is rotated by adding the new one second on
 * every node, then moving it first on every node, then removing the old one.
 */
public final class AuthKeys {
    /** At least 256 bits, as HMAC-SHA256's output. */
    public static final int MIN_SECRET_BYTES = 32;
    private static final String ID = "[A-Za-z0-9._-]{1,32}";

    private final String signingId;
    private final Map<String, byte[]> secrets;

    AuthKeys(Map<String, byte[]> secrets) {
        if (secrets.isEmpty()) {
            throw new IllegalArgumentException("no key");
        }
        this.secrets = new LinkedHashMap<>(secrets);
        this.signingId = secrets.keySet().iterator().next();
    }

    /**
     * Reads the keys, refusing a file that others may read or write, owned by another user than
     * this process's or root, or not in the format; each refusal is one sentence naming the file.
     */
    public static AuthKeys load(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("the key file " + file + " does not exist (create it with `zaro keygen > "
                    + file + "` and chmod 600 it, the same file on both nodes)");
        }
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS);
        for (PosixFilePermission p : perms) {
            if (p.name().startsWith("GROUP_") || p.name().startsWith("OTHERS_")) {
                throw new IllegalArgumentException("the key file " + file + " is open to other users: chmod 600 " + file);
            }
        }
        String owner = Files.getOwner(file, LinkOption.NOFOLLOW_LINKS).getName();
        String me = System.getProperty("user.name");
        if (!owner.equals(me) && !owner.equals("root")) {
            throw new IllegalArgumentException("the key file " + file + " belongs to " + owner + ", not to " + me + " or root");
        }
        Map<String, byte[]> secrets = new LinkedHashMap<>();
        List<String> lines = Files.readAllLines(file);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\\s+");
            String where = file + " line " + (i + 1);
            if (f.length != 2 || !f[0].matches(ID)) {
                throw new IllegalArgumentException(where + " is not `ID SECRET` (an ID of letters, digits, '.', '_', '-')");
            }
            byte[] secret;
            try {
                secret = HexFormat.of().parseHex(f[1]);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + ": the secret is not hex");
            }
            if (secret.length < MIN_SECRET_BYTES) {
                throw new IllegalArgumentException(where + ": the secret has " + secret.length + " bytes, fewer than "
                        + MIN_SECRET_BYTES);
            }
            if (secrets.put(f[0], secret) != null) {
                throw new IllegalArgumentException(where + ": key " + f[0] + " is there twice");
            }
        }
        if (secrets.isEmpty()) {
            throw new IllegalArgumentException("the key file " + file + " holds no key");
        }
        return new AuthKeys(secrets);
    }

    /** A new key line, {@code ID SECRET}, with 32 random bytes from the system's strong source. */
    public static String generate(String id) {
        if (!id.matches(ID)) {
            throw new IllegalArgumentException("a key ID is 1 to 32 letters, digits, '.', '_' or '-'");
        }
        byte[] secret = new byte[MIN_SECRET_BYTES];
        new SecureRandom().nextBytes(secret);
        return id + " " + HexFormat.of().formatHex(secret);
    }

    public String signingId() {
        return signingId;
    }

    /** The secret of {@code id}, or null when there is no such key. */
    byte[] secret(String id) {
        return secrets.get(id);
    }

    public List<String> ids() {
        return new ArrayList<>(secrets.keySet());
    }
}

package io.zaro.kafka.broker;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The TLS material of a lab or a small site, made with the JDK's {@code keytool} (no openssl): a
 * CA, a certificate for the broker signed by it that names the broker's addresses, and the CA's
 * certificate in PEM, which is the clients' truststore ({@code ssl.truststore.type=PEM}) and
 * kcat's {@code ssl.ca.location}. Keys are EC P-256; keystores are PKCS12, each with a random
 * password in a file of mode 0600 beside it; the directory is mode 0700.
 *
 * <p>A CA already in the directory is used again, so that a new broker certificate (another
 * address, or a renewal) needs no new truststore on the clients.
 */
public final class LabCertificates {
    public static final String CA_KEYSTORE = "ca.p12";
    public static final String CA_PASSWORD = "ca.password";
    public static final String CA_PEM = "ca.pem";
    public static final String BROKER_KEYSTORE = "broker.p12";
    public static final String BROKER_PASSWORD = "broker.password";
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private LabCertificates() {
    }

    /**
     * What was made.
     *
     * @param dir the directory
     * @param newCa whether the CA was made now (false: the one there was used)
     * @param notAfter the end of the broker certificate's validity
     */
    public record Made(Path dir, boolean newCa, Instant notAfter) {
        public Path caPem() {
            return dir.resolve(CA_PEM);
        }

        public Path brokerKeystore() {
            return dir.resolve(BROKER_KEYSTORE);
        }

        public Path brokerPassword() {
            return dir.resolve(BROKER_PASSWORD);
        }
    }

    /**
     * Makes the CA (unless the directory has one) and a broker certificate for {@code hosts}
     * (IP addresses or DNS names), valid {@code days} days.
     *
     * @throws IllegalArgumentException when the directory already has a broker keystore, or a host
     *     is neither an address nor a name
     * @throws IllegalStateException when keytool fails (its message included)
     */
    public static Made make(Path dir, List<String> hosts, int days) {
        if (hosts.isEmpty()) {
            throw new IllegalArgumentException("name at least one --host: the address clients reach the broker at");
        }
        if (days < 1 || days > 3650) {
            throw new IllegalArgumentException("--days must be 1..3650, not " + days);
        }
        List<String> san = new ArrayList<>();
        for (String h : hosts) {
            if (BrokerSecurity.literal(h) != null) {
                san.add("ip:" + BrokerSecurity.literal(h).getHostAddress());
            } else if (h.matches("[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")) {
                san.add("dns:" + h);
            } else {
                throw new IllegalArgumentException("--host " + h + " is neither an IP address nor a DNS name");
            }
        }
        Path d = dir.toAbsolutePath().normalize();
        try {
            Files.createDirectories(d);
            Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwx------"));
            if (Files.exists(d.resolve(BROKER_KEYSTORE))) {
                throw new IllegalArgumentException(d.resolve(BROKER_KEYSTORE) + " exists: remove it (and "
                        + BROKER_PASSWORD + ") to make a new broker certificate; the CA in " + d + " is used again");
            }
            boolean newCa = !Files.exists(d.resolve(CA_KEYSTORE));
            if (newCa) {
                password(d.resolve(CA_PASSWORD));
                keytool(d, "-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp256r1",
                        "-dname", "CN=zaro lab CA " + Instant.now().getEpochSecond(), "-validity", "3650",
                        "-ext", "bc:c=ca:true,pathlen:0", "-ext", "ku:c=keyCertSign,cRLSign",
                        "-keystore", CA_KEYSTORE, "-storetype", "PKCS12", "-storepass:file", CA_PASSWORD);
            }
            keytool(d, "-exportcert", "-rfc", "-alias", "ca", "-keystore", CA_KEYSTORE, "-storepass:file", CA_PASSWORD,
                    "-file", CA_PEM);
            password(d.resolve(BROKER_PASSWORD));
            keytool(d, "-genkeypair", "-alias", "broker", "-keyalg", "EC", "-groupname", "secp256r1",
                    "-dname", "CN=" + hosts.get(0), "-validity", Integer.toString(days),
                    "-keystore", BROKER_KEYSTORE, "-storetype", "PKCS12", "-storepass:file", BROKER_PASSWORD);
            keytool(d, "-certreq", "-alias", "broker", "-keystore", BROKER_KEYSTORE, "-storepass:file", BROKER_PASSWORD,
                    "-file", "broker.csr");
            keytool(d, "-gencert", "-rfc", "-alias", "ca", "-keystore", CA_KEYSTORE, "-storepass:file", CA_PASSWORD,
                    "-infile", "broker.csr", "-outfile", "broker.crt", "-validity", Integer.toString(days),
                    "-ext", "san=" + String.join(",", san), "-ext", "ku:c=digitalSignature",
                    "-ext", "eku=serverAuth,clientAuth");
            // The CA's certificate first (trusted), then the signed certificate as the key's chain.
            keytool(d, "-importcert", "-noprompt", "-alias", "ca", "-file", CA_PEM, "-keystore", BROKER_KEYSTORE,
                    "-storepass:file", BROKER_PASSWORD);
            keytool(d, "-importcert", "-alias", "broker", "-file", "broker.crt", "-keystore", BROKER_KEYSTORE,
                    "-storepass:file", BROKER_PASSWORD);
            Files.delete(d.resolve("broker.csr"));
            Files.delete(d.resolve("broker.crt"));
            Files.setPosixFilePermissions(d.resolve(BROKER_KEYSTORE), OWNER_ONLY);
            Files.setPosixFilePermissions(d.resolve(CA_KEYSTORE), OWNER_ONLY);
            Files.setPosixFilePermissions(d.resolve(CA_PEM), PosixFilePermissions.fromString("rw-r--r--"));
            return new Made(d, newCa, notAfter(d));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the TLS material in " + d, e);
        }
    }

    private static Instant notAfter(Path d) throws IOException {
        try (InputStream in = Files.newInputStream(d.resolve(BROKER_KEYSTORE))) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, Files.readAllLines(d.resolve(BROKER_PASSWORD)).get(0).toCharArray());
            return ((X509Certificate) ks.getCertificate("broker")).getNotAfter().toInstant();
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("cannot read back " + d.resolve(BROKER_KEYSTORE) + ": " + e.getMessage(), e);
        }
    }

    /** A random password (24 bytes, base64url: safe in properties and JAAS lines), in a file of mode 0600. */
    private static void password(Path file) throws IOException {
        byte[] random = new byte[24];
        new SecureRandom().nextBytes(random);
        Files.deleteIfExists(file);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
        Files.writeString(file, Base64.getUrlEncoder().withoutPadding().encodeToString(random) + "\n",
                StandardCharsets.UTF_8);
    }

    /** Runs this JVM's keytool in {@code dir}. */
    private static void keytool(Path dir, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        try {
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IllegalStateException("keytool " + args[0] + " failed: " + out.replace('\n', ' '));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running keytool " + args[0], e);
        }
    }
}

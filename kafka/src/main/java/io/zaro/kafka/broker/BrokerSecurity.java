package io.zaro.kafka.broker;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.UnrecoverableKeyException;
import java.security.cert.Certificate;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;

/**
 * How the broker's client listener is secured: TLS with the broker's own keystore, SASL with
 * SCRAM-SHA-512 users, both ({@code SASL_SSL}), or neither ({@code PLAINTEXT}, the default).
 * The controller listener stays {@code PLAINTEXT} and moves to 127.0.0.1 when the client
 * listener is secured, so that nothing unauthenticated listens beyond the broker's own host.
 *
 * <p>With SASL the broker authenticates to itself (its inter-broker client: transaction markers,
 * and replication, were there other brokers) as {@value #BROKER_USER}, a SCRAM user whose
 * password {@link EmbeddedBroker} generates once per data directory; with TLS that client
 * trusts the broker's keystore (its CA's certificate, or else the broker's own).
 *
 * @param tls the broker's keystore, or null for no TLS
 * @param users the SCRAM users clients log in as; empty for no SASL
 */
public record BrokerSecurity(Tls tls, List<ScramUser> users) {
    /** The one SASL mechanism the broker offers. */
    public static final String MECHANISM = "SCRAM-SHA-512";
    /** The broker's own SCRAM user. */
    public static final String BROKER_USER = "zaro-broker";
    /** SCRAM iterations of the credentials the broker stores (RFC 7677 recommends at least 4096). */
    static final int ITERATIONS = 8192;
    private static final String USER_NAME = "[A-Za-z0-9._-]{1,64}";

    /** No TLS, no SASL: the broker as it has always been. */
    public static final BrokerSecurity PLAINTEXT = new BrokerSecurity(null, List.of());

    public BrokerSecurity {
        users = List.copyOf(users);
        Set<String> names = new HashSet<>();
        for (ScramUser u : users) {
            if (!names.add(u.name())) {
                throw new IllegalArgumentException("SCRAM user " + u.name() + " is named twice: give each --scram-user once");
            }
        }
    }

    /**
     * The broker's keystore: a PKCS12 (or JKS) file holding its private key and certificate
     * chain, whose certificate names the address the broker listens on.
     */
    public record Tls(Path keystore, String password) {
        public Tls {
            keystore = keystore.toAbsolutePath().normalize();
        }

        @Override
        public String toString() {
            return "Tls[" + keystore + "]";
        }
    }

    /** A SCRAM-SHA-512 user; the name is 1-64 letters, digits, '.', '_' or '-'. */
    public record ScramUser(String name, String password) {
        public ScramUser {
            if (!name.matches(USER_NAME)) {
                throw new IllegalArgumentException("SCRAM user '" + name + "' must be 1-64 letters, digits, '.', '_' or '-'");
            }
            if (name.equals(BROKER_USER)) {
                throw new IllegalArgumentException("SCRAM user " + BROKER_USER + " is the broker's own: choose another name");
            }
            if (password.isEmpty()) {
                throw new IllegalArgumentException("the password of SCRAM user " + name + " is empty");
            }
        }

        @Override
        public String toString() {
            return "ScramUser[" + name + "]";
        }
    }

    public boolean hasTls() {
        return tls != null;
    }

    public boolean hasSasl() {
        return !users.isEmpty();
    }

    /** The client listener's security protocol, as clients name it in {@code security.protocol}. */
    public String protocol() {
        if (hasSasl()) {
            return hasTls() ? "SASL_SSL" : "SASL_PLAINTEXT";
        }
        return hasTls() ? "SSL" : "PLAINTEXT";
    }

    /** Whether the controller listener must stay on the broker's own host (127.0.0.1). */
    boolean controllerOnLoopback() {
        return hasTls() || hasSasl();
    }

    /**
     * Reads a password from the first line of {@code file}, refusing a file that other users may
     * read or write; each refusal is one sentence naming the option and the fix.
     */
    public static String readPasswordFile(Path file, String option) {
        try {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS);
            for (PosixFilePermission p : perms) {
                if (p.name().startsWith("GROUP_") || p.name().startsWith("OTHERS_")) {
                    throw new IllegalArgumentException(option + " " + file + " is open to other users: chmod 600 " + file);
                }
            }
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            String password = lines.isEmpty() ? "" : lines.get(0);
            if (password.isBlank()) {
                throw new IllegalArgumentException(option + " " + file + " is empty: its first line is the password");
            }
            if (password.chars().anyMatch(Character::isISOControl)) {
                throw new IllegalArgumentException(option + " " + file + ": the password has control characters");
            }
            return password;
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(option + " " + file + " does not exist");
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + option + " " + file + ": " + e.getMessage());
        } catch (UnsupportedOperationException e) {
            throw new IllegalArgumentException(option + " " + file + " is on a file system without Unix permissions");
        }
    }

    /**
     * Opens the keystore and checks what a client will check: a private key with a certificate
     * that is valid now and names {@code host} (an IP address in its subject alternative names
     * for an address, a DNS name for a name).
     *
     * @return the certificate's end of validity, for the operator
     * @throws IllegalArgumentException one sentence naming what is wrong and the fix
     */
    X509Certificate checkKeystore(String host) {
        KeyStore ks = load();
        X509Certificate cert = null;
        try {
            for (String alias : Collections.list(ks.aliases())) {
                if (ks.isKeyEntry(alias)) {
                    Certificate[] chain = ks.getCertificateChain(alias);
                    if (chain != null && chain.length > 0 && chain[0] instanceof X509Certificate x) {
                        if (cert != null) {
                            throw new IllegalArgumentException("--tls-keystore " + tls.keystore()
                                    + " holds more than one private key: keep only the broker's");
                        }
                        cert = x;
                    }
                }
            }
        } catch (java.security.KeyStoreException e) {
            throw new IllegalArgumentException("cannot read --tls-keystore " + tls.keystore() + ": " + e.getMessage());
        }
        if (cert == null) {
            throw new IllegalArgumentException("--tls-keystore " + tls.keystore()
                    + " holds no private key with a certificate: it must hold the broker's key and certificate "
                    + "(`zaro kafka tls` makes one)");
        }
        try {
            cert.checkValidity();
        } catch (CertificateExpiredException e) {
            throw new IllegalArgumentException("the broker's certificate in " + tls.keystore() + " expired on "
                    + cert.getNotAfter().toInstant() + ": make a new one (`zaro kafka tls`)");
        } catch (CertificateNotYetValidException e) {
            throw new IllegalArgumentException("the broker's certificate in " + tls.keystore() + " is not valid before "
                    + cert.getNotBefore().toInstant() + ": check this host's clock");
        }
        List<String> names = subjectAltNames(cert);
        if (!names(cert, host)) {
            throw new IllegalArgumentException("the broker's certificate in " + tls.keystore() + " does not name " + host
                    + " (it names " + (names.isEmpty() ? "no address" : String.join(", ", names))
                    + "), so clients would refuse it: make one for " + host + " (`zaro kafka tls --host " + host + "`)");
        }
        return cert;
    }

    private KeyStore load() {
        try (InputStream in = Files.newInputStream(tls.keystore())) {
            KeyStore ks = KeyStore.getInstance("PKCS12"); // reads JKS files too (keystore.type.compat)
            ks.load(in, tls.password().toCharArray());
            return ks;
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("--tls-keystore " + tls.keystore() + " does not exist");
        } catch (IOException e) {
            if (e.getCause() instanceof UnrecoverableKeyException || String.valueOf(e.getMessage()).contains("password")) {
                throw new IllegalArgumentException("the password in --tls-password-file does not open --tls-keystore "
                        + tls.keystore());
            }
            throw new IllegalArgumentException("--tls-keystore " + tls.keystore() + " is not a PKCS12 or JKS keystore: "
                    + e.getMessage());
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot read --tls-keystore " + tls.keystore() + ": " + e.getMessage());
        }
    }

    /** Whether the certificate names {@code host} as a client checks it (RFC 6125, no wildcards for addresses). */
    static boolean names(X509Certificate cert, String host) {
        InetAddress address = literal(host);
        try {
            Collection<List<?>> sans = cert.getSubjectAlternativeNames();
            if (sans == null) {
                return false;
            }
            for (List<?> san : sans) {
                int type = (Integer) san.get(0);
                String value = (String) san.get(1);
                if (address != null && type == 7 && address.equals(literal(value))) {
                    return true;
                }
                if (address == null && type == 2 && dnsMatches(value, host)) {
                    return true;
                }
            }
            return false;
        } catch (CertificateParsingException e) {
            return false;
        }
    }

    static boolean dnsMatches(String pattern, String host) {
        String p = pattern.toLowerCase(Locale.ROOT);
        String h = host.toLowerCase(Locale.ROOT);
        if (p.startsWith("*.")) {
            int dot = h.indexOf('.');
            return dot > 0 && h.substring(dot).equals(p.substring(1));
        }
        return p.equals(h);
    }

    private static List<String> subjectAltNames(X509Certificate cert) {
        List<String> out = new ArrayList<>();
        try {
            Collection<List<?>> sans = cert.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    int type = (Integer) san.get(0);
                    if (type == 2 || type == 7) {
                        out.add(String.valueOf(san.get(1)));
                    }
                }
            }
        } catch (CertificateParsingException ignored) {
            // reported as naming nothing
        }
        return out;
    }

    /** An IP address literal as an address, without any name lookup; null for a name. */
    static InetAddress literal(String host) {
        String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        if (!h.matches("[0-9.]+") && !h.contains(":")) {
            return null;
        }
        try {
            return InetAddress.getByName(h);
        } catch (UnknownHostException e) {
            return null;
        }
    }

    /**
     * The broker's settings for its client listener {@code listener} (named as its protocol):
     * keystore, SASL mechanism, and the broker's own login for its inter-broker client.
     */
    List<String> serverProperties(String listener, String brokerPassword) {
        List<String> lines = new ArrayList<>();
        String prefix = "listener.name." + listener.toLowerCase(Locale.ROOT) + ".";
        if (hasTls()) {
            lines.add("ssl.keystore.type=PKCS12");
            lines.add("ssl.keystore.location=" + escape(tls.keystore().toString()));
            lines.add("ssl.keystore.password=" + escape(tls.password()));
            lines.add("ssl.key.password=" + escape(tls.password()));
            // The inter-broker client (the broker connecting to itself) trusts what the keystore
            // holds: the CA's certificate if it is there, the broker's own certificate anyway.
            lines.add("ssl.truststore.type=PKCS12");
            lines.add("ssl.truststore.location=" + escape(tls.keystore().toString()));
            lines.add("ssl.truststore.password=" + escape(tls.password()));
            lines.add("ssl.client.auth=none");
        }
        if (hasSasl()) {
            lines.add("sasl.enabled.mechanisms=" + MECHANISM);
            lines.add("sasl.mechanism.inter.broker.protocol=" + MECHANISM);
            lines.add(prefix + MECHANISM.toLowerCase(Locale.ROOT) + ".sasl.jaas.config="
                    + escape(jaas(BROKER_USER, brokerPassword)));
        }
        return lines;
    }

    /** Client settings to reach the listener as the broker's own user (or without SASL). */
    Properties client(String brokerPassword) {
        Properties p = new Properties();
        p.put("security.protocol", protocol());
        if (hasTls()) {
            p.put("ssl.truststore.type", "PKCS12");
            p.put("ssl.truststore.location", tls.keystore().toString());
            p.put("ssl.truststore.password", tls.password());
        }
        if (hasSasl()) {
            p.put("sasl.mechanism", MECHANISM);
            p.put("sasl.jaas.config", jaas(BROKER_USER, brokerPassword));
        }
        return p;
    }

    /** A {@code sasl.jaas.config} value logging in as {@code user}. */
    public static String jaas(String user, String password) {
        return "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"" + quote(user)
                + "\" password=\"" + quote(password) + "\";";
    }

    private static String quote(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    /** A value for a properties file, as {@link Properties#load} reads it back: backslashes and leading blanks escaped. */
    private static String escape(String s) {
        String e = s.replace("\\", "\\\\");
        return e.startsWith(" ") || e.startsWith("\t") ? "\\" + e : e;
    }
}

package io.zaro.tests;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * conntrack-tools prints labels only by the names in /etc/xtables/connlabel.conf. Tests that read
 * labels put a map of {@code bitN} names there when the machine has none, and remove it after.
 */
final class ConnlabelConf implements AutoCloseable {
    static final Path PATH = Path.of("/etc/xtables/connlabel.conf");
    private final boolean created;

    ConnlabelConf() throws IOException {
        if (Files.exists(PATH)) {
            created = false;
            return;
        }
        Files.createDirectories(PATH.getParent());
        Files.writeString(PATH, "# written by zaro's kernel tests, removed when they end\n"
                + IntStream.range(0, 128).mapToObj(i -> i + " bit" + i).collect(Collectors.joining("\n")) + "\n");
        created = true;
    }

    /** Whether the names are the bitN ones the tests parse. */
    boolean usable() throws IOException {
        return created || Files.readString(PATH).contains("127 bit127");
    }

    @Override
    public void close() throws IOException {
        if (created) {
            Files.deleteIfExists(PATH);
        }
    }
}

package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Only native-bindings may touch JNA. The build already refuses it elsewhere (JNA is managed
 * runtime-only, so other modules cannot compile against it); this names the offending files.
 */
class JnaFenceTest {
    @Test
    void noModuleButNativeBindingsMentionsJna() throws IOException {
        Path root = Path.of("..").toAbsolutePath().normalize();
        List<Path> offenders;
        try (Stream<Path> files = Files.walk(root)) {
            offenders = files
                    .filter(p -> p.toString().endsWith(".java"))
                    .filter(p -> !p.startsWith(root.resolve("native-bindings")))
                    .filter(p -> !p.toString().contains("/target/"))
                    .filter(p -> !p.equals(root.resolve("tests/src/test/java/io/zaro/tests/JnaFenceTest.java")))
                    .filter(JnaFenceTest::mentionsJna)
                    .toList();
        }
        assertEquals(List.of(), offenders, "JNA outside native-bindings");
    }

    private static boolean mentionsJna(Path p) {
        try {
            return Files.readString(p).contains("com.sun." + "jna");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}

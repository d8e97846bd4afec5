package io.zaro.tests.netns;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** The built {@code zaro} command (agent/target/zaro.jar), as tests run it in namespaces. */
public final class ZaroCli {
    /**
     * The shaded jar, found from the project root or from a module directory (where Maven runs
     * the tests). The tests module is built after the agent, so it exists during {@code mvn verify}.
     */
    public static final Path JAR = (Files.isRegularFile(Path.of("agent/target/zaro.jar"))
            ? Path.of("agent/target/zaro.jar") : Path.of("../agent/target/zaro.jar")).toAbsolutePath().normalize();

    /** config/jvm.options, which the launchers ({@code ./zaro}, the package's {@code /usr/bin/zaro}) read too. */
    static final Path JVM_OPTIONS = JAR.getParent().getParent().getParent().resolve("config/jvm.options");

    private ZaroCli() {
    }

    /** The agent's JVM options, as the launchers read them from config/jvm.options. */
    public static List<String> jvmOptions() {
        try {
            return Files.readAllLines(JVM_OPTIONS).stream().map(String::strip)
                    .filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + JVM_OPTIONS, e);
        }
    }

    /**
     * {@code java OPTIONS -jar zaro.jar ARGS} with the JVM that runs the tests and the options the
     * launchers give it ({@link #jvmOptions()}).
     */
    public static List<String> command(String... args) {
        if (!Files.isRegularFile(JAR)) {
            throw new IllegalStateException(JAR + " is missing: build it first with `mvn -pl agent -am package -DskipTests`");
        }
        List<String> c = new ArrayList<>();
        c.add(java());
        c.addAll(jvmOptions());
        c.addAll(List.of("-jar", JAR.toString()));
        c.addAll(Arrays.asList(args));
        return c;
    }

    /** The JVM that runs the tests. */
    public static String java() {
        return ProcessHandle.current().info().command().orElse("java");
    }
}

package io.zaro.tests.netns;

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

    private ZaroCli() {
    }

    /**
     * {@code java -XX:+UseSerialGC -jar zaro.jar ARGS} with the JVM that runs the tests: the
     * collector the launchers ({@code ./zaro}, the package's {@code /usr/bin/zaro}) choose.
     */
    public static List<String> command(String... args) {
        if (!Files.isRegularFile(JAR)) {
            throw new IllegalStateException(JAR + " is missing: build it first with `mvn -pl agent -am package -DskipTests`");
        }
        List<String> c = new ArrayList<>(List.of(java(), "-XX:+UseSerialGC", "-jar", JAR.toString()));
        c.addAll(Arrays.asList(args));
        return c;
    }

    /** The JVM that runs the tests. */
    public static String java() {
        return ProcessHandle.current().info().command().orElse("java");
    }
}

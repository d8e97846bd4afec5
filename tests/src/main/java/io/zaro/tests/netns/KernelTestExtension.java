package io.zaro.tests.netns;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/** Checks what kernel tests need; skips with the reason, or fails under CI=true. */
public final class KernelTestExtension implements BeforeAllCallback {
    private static final List<String> TOOLS = List.of("ip", "nft", "conntrack", "ping");

    @Override
    public void beforeAll(ExtensionContext context) {
        List<String> missing = missingRequirements();
        if (missing.isEmpty()) {
            return;
        }
        String reason = "kernel test cannot run: " + String.join("; ", missing)
                + " (run `sudo scripts/setup.sh` and the tests as root)";
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            throw new IllegalStateException(reason + " -- under CI=true this is a failure, not a skip");
        }
        Assumptions.abort(reason);
    }

    /** What is missing for kernel tests, in words; empty when they can run. */
    public static List<String> missingRequirements() {
        List<String> missing = new ArrayList<>();
        if (!isRoot()) {
            missing.add("not running as root");
        }
        for (String tool : TOOLS) {
            if (!Cmd.onPath(tool)) {
                missing.add("`" + tool + "` is not installed");
            }
        }
        if (Files.notExists(Path.of("/usr/lib/x86_64-linux-gnu/libnetfilter_conntrack.so.3"))
                && Files.notExists(Path.of("/usr/lib/aarch64-linux-gnu/libnetfilter_conntrack.so.3"))
                && Files.notExists(Path.of("/usr/lib/libnetfilter_conntrack.so.3"))) {
            missing.add("libnetfilter_conntrack.so.3 is not installed");
        }
        return missing;
    }

    private static boolean isRoot() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:"))
                    .anyMatch(l -> l.split("\\s+")[2].equals("0"));
        } catch (java.io.IOException e) {
            return false;
        }
    }
}

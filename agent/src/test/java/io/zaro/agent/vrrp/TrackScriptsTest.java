package io.zaro.agent.vrrp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Track scripts run as real processes: {@code test}, {@code sleep} and a missing program. */
class TrackScriptsTest {
    private static final Duration INTERVAL = Duration.ofMillis(20);

    @TempDir
    Path dir;

    private static TrackScripts.Settings settings(Duration timeout, int fall, int rise, TrackScripts.Script... scripts) {
        return new TrackScripts.Settings(List.of(scripts), INTERVAL, timeout, fall, rise);
    }

    /** Polls until {@code value} gives {@code expected}, for at most 10 s; returns the last value. */
    private static String await(String expected, Supplier<String> value) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        String v = value.get();
        while (!java.util.Objects.equals(v, expected) && System.nanoTime() < deadline) {
            Thread.sleep(10);
            v = value.get();
        }
        return v;
    }

    @Test
    void aScriptFailsAfterFallFailuresAndRecoversAfterRiseSuccesses() throws Exception {
        Path flag = dir.resolve("broken");
        TrackScripts.Script check = new TrackScripts.Script("uplink", List.of("test", "!", "-e", flag.toString()));
        try (TrackScripts scripts = new TrackScripts(settings(Duration.ofSeconds(5), 3, 2, check))) {
            scripts.start();
            assertNull(scripts.firstFailing(), "healthy until it has failed");
            Thread.sleep(200);
            assertNull(scripts.firstFailing(), "a passing script stays healthy");
            Files.createFile(flag);
            assertEquals("uplink", await("uplink", scripts::firstFailing));
            Files.delete(flag);
            assertNull(await(null, scripts::firstFailing));
        }
    }

    @Test
    void aScriptThatDoesNotAnswerInTimeOrCannotRunHasFailed() throws Exception {
        TrackScripts.Script slow = new TrackScripts.Script("slow", List.of("sleep", "30"));
        TrackScripts.Script missing = new TrackScripts.Script("missing", List.of(dir.resolve("no-such-check").toString()));
        TrackScripts.Script fine = new TrackScripts.Script("fine", List.of("true"));
        try (TrackScripts scripts = new TrackScripts(settings(Duration.ofMillis(100), 1, 1, fine, missing))) {
            scripts.start();
            assertEquals("missing", await("missing", scripts::firstFailing));
        }
        long started = System.nanoTime();
        try (TrackScripts scripts = new TrackScripts(settings(Duration.ofMillis(100), 1, 1, fine, slow))) {
            scripts.start();
            assertEquals("slow", await("slow", scripts::firstFailing));
        }
        assertEquals(true, System.nanoTime() - started < Duration.ofSeconds(25).toNanos(),
                "the sleep was killed at its timeout, not waited for");
    }
}

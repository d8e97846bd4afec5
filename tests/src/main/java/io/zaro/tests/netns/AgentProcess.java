package io.zaro.tests.netns;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code zaro agent} process inside a lab namespace, with its config file and its log. Stopped
 * with SIGTERM (as systemd stops it) by {@link #stop()}, killed with the lab otherwise.
 */
public final class AgentProcess implements AutoCloseable {
    private static final Pattern COUNTER = Pattern.compile("(\\w+)=(\\d+)");

    private final Path log;
    private final Process process;

    private AgentProcess(Path log, Process process) {
        this.log = log;
        this.process = process;
    }

    /**
     * Writes {@code config} to a file and starts the agent on it in {@code host}, logging to a
     * file. Without a {@code control.socket} the agent gets one of its own beside its config: the
     * default path is one per machine, not per namespace.
     */
    public static AgentProcess start(Host host, String config) {
        return start(host, config, null, List.of());
    }

    /**
     * As {@link #start(Host, String)}, but the agent runs as {@code user} through {@code launcher}: a
     * command that becomes that user and runs the rest of its arguments (such as {@code setpriv
     * --reuid=USER ...}). The agent's directory (config, log, control socket) is given to the user,
     * with a copy of the jar, which the user may not be allowed to read in the build tree; JNA
     * unpacks its native stub into that directory ({@code jna.tmpdir}), as the packaged unit has it
     * unpack into its cache directory.
     */
    public static AgentProcess startAs(String user, List<String> launcher, Host host, String config) {
        return start(host, config, user, launcher);
    }

    private static AgentProcess start(Host host, String config, String user, List<String> launcher) {
        try {
            Path dir = Files.createTempDirectory("zaro-agent");
            Path file = dir.resolve("zaro.properties");
            Files.writeString(file, config.contains("control.socket=") ? config
                    : config.stripTrailing() + "\ncontrol.socket=" + dir.resolve("control.sock") + "\n");
            Path log = Files.createFile(dir.resolve("agent.log"));
            List<String> agent = List.of("agent", "--config", file.toString(), "--status-interval", "1");
            List<String> command = new ArrayList<>(launcher);
            if (user == null) {
                List<String> zaro = ZaroCli.command(agent.toArray(String[]::new));
                int jar = zaro.indexOf("-jar");
                command.addAll(zaro.subList(0, jar));
                // -Dzaro.agent.javaOptions="-XX:StartFlightRecording=..." profiles the agents of a benchmark;
                // after the launchers' options, so that one of them can be changed too.
                String options = System.getProperty("zaro.agent.javaOptions", "").strip();
                if (!options.isEmpty()) {
                    command.addAll(List.of(options.replace("{dir}", dir.toString()).split("\\s+")));
                }
                command.addAll(zaro.subList(jar, zaro.size()));
            } else {
                Path jar = Files.copy(ZaroCli.JAR, dir.resolve("zaro.jar"));
                Cmd.run(List.of("chown", "-R", user + ":", dir.toString())).ok();
                command.add(ZaroCli.java());
                command.addAll(ZaroCli.jvmOptions());
                command.addAll(List.of("-Djna.tmpdir=" + dir, "-jar", jar.toString()));
                command.addAll(agent);
            }
            // The shell (root) opens the log; the agent inherits it.
            return new AgentProcess(log, host.spawn("sh", "-c", "exec " + String.join(" ", command) + " >> " + log + " 2>&1"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The agent's process id (the JVM's: every command before it replaces itself with the next). */
    public long pid() {
        return process.pid();
    }

    public String log() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** The counters of the agent's latest status line (all zero before the first). */
    public Map<String, Long> counters() {
        String last = null;
        for (String line : log().split("\n")) {
            if (line.contains("=") && COUNTER.matcher(line).find() && !line.contains("Exception")) {
                last = line;
            }
        }
        Map<String, Long> out = new TreeMap<>();
        if (last != null) {
            Matcher m = COUNTER.matcher(last);
            while (m.find()) {
                out.put(m.group(1), Long.parseLong(m.group(2)));
            }
        }
        return out;
    }

    public long counter(String name) {
        return counters().getOrDefault(name, 0L);
    }

    /** Waits until the log contains {@code text}; fails with the log when it does not within the time. */
    public void awaitLog(String text, Duration timeout) {
        awaitLog(text, 1, timeout);
    }

    /** How many times the log holds {@code text} so far. */
    public int occurrences(String text) {
        return log().split(java.util.regex.Pattern.quote(text), -1).length - 1;
    }

    /** Waits until the log holds {@code text} at least {@code count} times. */
    public void awaitLog(String text, int count, Duration timeout) {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end) {
            if (occurrences(text) >= count) {
                return;
            }
            if (!process.isAlive()) {
                throw new AssertionError("agent exited (" + process.exitValue() + ") before logging '" + text + "':\n" + log());
            }
            sleep(100);
        }
        throw new AssertionError("agent did not log '" + text + "' within " + timeout.toSeconds() + " s:\n" + log());
    }

    /** SIGTERM, then waits for the exit; returns the exit code. */
    public int stop() {
        process.destroy();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return process.exitValue();
    }

    /** SIGKILL, as a crash. */
    public void kill() {
        process.destroyForcibly();
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            stop();
        }
    }

    /**
     * Stops the agent, if it runs, and deletes its directory (config, log, socket): for runs
     * that leave nothing behind, such as the demo's. The log cannot be read afterwards, unless
     * {@code -Dzaro.agent.keepFiles=true} keeps it (a benchmark's agents, for a look at their logs).
     */
    public void closeAndDelete() {
        close();
        if (Boolean.getBoolean("zaro.agent.keepFiles")) {
            System.err.println("agent files kept in " + log.getParent());
        } else {
            deleteFiles();
        }
    }

    /** Deletes the agent's directory (config, log, socket), whether or not it still runs. */
    public void deleteFiles() {
        try (java.util.stream.Stream<Path> files = Files.walk(log.getParent())) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException ignored) {
            // a leftover temp directory is harmless
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}

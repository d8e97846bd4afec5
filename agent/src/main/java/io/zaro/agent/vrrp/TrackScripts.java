package io.zaro.agent.vrrp;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Health checks that put a virtual router in FAULT, as keepalived's {@code vrrp_script} and
 * {@code track_script} do: each command runs every {@code interval} on a thread of its own
 * (the next run starts {@code interval} after the previous one ended); exit status 0 is a
 * success, anything else (a timeout included) a failure. A script fails after {@code fall}
 * failures in a row and recovers after {@code rise} successes in a row. A script is healthy
 * until it has failed, so that a node does not start in FAULT while its checks start.
 */
public final class TrackScripts implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TrackScripts.class);

    /**
     * A named command, run without a shell: its words are the program and its arguments (for
     * pipes or redirections, write a script).
     */
    public record Script(String name, List<String> command) {
        public Script {
            command = List.copyOf(command);
            if (command.isEmpty()) {
                throw new IllegalArgumentException("track script " + name + " has no command");
            }
        }
    }

    /** The scripts and how they are run. */
    public record Settings(List<Script> scripts, Duration interval, Duration timeout, int fall, int rise) {
        public static final Settings NONE = new Settings(List.of(), Duration.ofSeconds(1), Duration.ofSeconds(2), 2, 2);

        public Settings {
            scripts = List.copyOf(scripts);
            if (fall < 1 || rise < 1) {
                throw new IllegalArgumentException("fall and rise must be at least 1");
            }
        }
    }

    private final Settings settings;
    private final List<Check> checks = new ArrayList<>();
    private volatile boolean running;

    public TrackScripts(Settings settings) {
        this.settings = settings;
        for (Script s : settings.scripts()) {
            checks.add(new Check(s));
        }
    }

    public void start() {
        running = true;
        for (Check c : checks) {
            c.thread.start();
        }
    }

    /** The name of the first script that is failing now, or null when all are healthy. */
    public String firstFailing() {
        for (Check c : checks) {
            if (c.failing) {
                return c.script.name();
            }
        }
        return null;
    }

    @Override
    public void close() {
        running = false;
        for (Check c : checks) {
            c.thread.interrupt();
        }
        for (Check c : checks) {
            try {
                c.thread.join(settings.timeout().toMillis() + 1_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** One script's runs and its state. */
    private final class Check {
        final Script script;
        final Thread thread;
        volatile boolean failing;
        int failures;
        int successes;

        Check(Script script) {
            this.script = script;
            this.thread = new Thread(this::loop, "zaro-track-" + script.name());
            this.thread.setDaemon(true);
        }

        private void loop() {
            while (running) {
                String problem = runOnce();
                if (!running) {
                    return;
                }
                if (problem == null) {
                    failures = 0;
                    successes++;
                    if (failing && successes >= settings.rise()) {
                        failing = false;
                        log.info("track script {}: healthy again", script.name());
                    }
                } else {
                    successes = 0;
                    failures++;
                    if (!failing && failures >= settings.fall()) {
                        failing = true;
                        log.warn("track script {}: {} ({} failure{} in a row)", script.name(), problem, failures,
                                failures == 1 ? "" : "s");
                    }
                }
                try {
                    Thread.sleep(settings.interval().toMillis());
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        /** Runs the command; null on success, else why it failed. */
        private String runOnce() {
            Process p;
            try {
                p = new ProcessBuilder(script.command()).redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            } catch (IOException e) {
                return "cannot run " + script.command().get(0) + ": " + e.getMessage();
            }
            try {
                if (!p.waitFor(settings.timeout().toMillis(), TimeUnit.MILLISECONDS)) {
                    p.descendants().forEach(ProcessHandle::destroyForcibly);
                    p.destroyForcibly();
                    return "no answer within " + settings.timeout().toMillis() + " ms";
                }
                return p.exitValue() == 0 ? null : "exit status " + p.exitValue();
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                return "interrupted";
            }
        }
    }
}

package io.zaro.agent.failover;

import io.zaro.agent.vrrp.VirtualRouter;
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * keepalived mode: the node's role follows what keepalived writes to its notify FIFO
 * ({@code notify_fifo} in keepalived.conf), one line per transition, such as
 * {@code INSTANCE "VI_1" MASTER 150}. MASTER makes the node active; BACKUP, FAULT and STOP make
 * it a standby. keepalived holds and announces the VIPs itself.
 */
public final class KeepalivedFifo implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(KeepalivedFifo.class);
    private static final Pattern LINE = Pattern.compile("(INSTANCE|GROUP) \"([^\"]+)\" (\\w+)(?: \\d+)?");

    private final Path fifo;
    private final String instance;
    private final Consumer<VirtualRouter.State> onTransition;
    private final Thread thread;
    private volatile boolean running;

    /**
     * @param instance the vrrp_instance (or vrrp_sync_group) whose state the node follows
     */
    public KeepalivedFifo(Path fifo, String instance, Consumer<VirtualRouter.State> onTransition) {
        this.fifo = fifo;
        this.instance = instance;
        this.onTransition = onTransition;
        this.thread = new Thread(this::run, "zaro-keepalived-fifo");
        this.thread.setDaemon(true);
    }

    /** Creates the FIFO when it is missing (as keepalived would), and starts reading it. */
    public void start() {
        if (!Files.exists(fifo)) {
            try {
                Files.createDirectories(fifo.toAbsolutePath().getParent());
                Process p = new ProcessBuilder("mkfifo", "-m", "0600", fifo.toString()).redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes()).trim();
                if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
                    throw new IllegalStateException("cannot create the FIFO " + fifo + ": " + out);
                }
            } catch (IOException e) {
                throw new IllegalStateException("cannot create the FIFO " + fifo + ": " + e.getMessage(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }
        running = true;
        thread.start();
    }

    /**
     * The state a FIFO line (or a notify script's arguments, joined the same way) reports for
     * {@code instance}; empty for another instance or an unknown line.
     */
    public static Optional<VirtualRouter.State> parse(String line, String instance) {
        Matcher m = LINE.matcher(line.trim());
        if (!m.matches() || !m.group(2).equals(instance)) {
            return Optional.empty();
        }
        return switch (m.group(3)) {
            case "MASTER" -> Optional.of(VirtualRouter.State.MASTER);
            case "BACKUP", "FAULT", "STOP", "DELETED" -> Optional.of(VirtualRouter.State.BACKUP);
            default -> Optional.empty();
        };
    }

    private void run() {
        while (running) {
            // Opening blocks until keepalived opens the FIFO for writing; EOF when it closes it.
            try (BufferedReader in = new BufferedReader(new InputStreamReader(new FileInputStream(fifo.toFile()),
                    StandardCharsets.UTF_8))) {
                String line;
                while (running && (line = in.readLine()) != null) {
                    Optional<VirtualRouter.State> state = parse(line, instance);
                    if (state.isPresent()) {
                        log.info("keepalived: {}", line.trim());
                        onTransition.accept(state.get());
                    }
                }
            } catch (IOException e) {
                if (running) {
                    log.warn("reading keepalived's FIFO {}: {}", fifo, e.getMessage());
                    sleep();
                }
            }
        }
    }

    private static void sleep() {
        try {
            Thread.sleep(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        running = false;
        // Unblock a reader waiting in open(): open the FIFO for writing ourselves, and close it.
        Thread unblock = new Thread(() -> {
            try (FileOutputStream ignored = new FileOutputStream(fifo.toFile())) {
                // nothing to write
            } catch (IOException ignored) {
                // the reader is gone already
            }
        }, "zaro-keepalived-fifo-close");
        unblock.setDaemon(true);
        unblock.start();
        try {
            thread.join(3_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

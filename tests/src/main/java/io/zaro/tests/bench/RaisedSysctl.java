package io.zaro.tests.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A sysctl of the machine's own namespace, raised for the run when it is below what the run
 * needs, and put back on {@link #close()}, or by a shutdown hook when the run is interrupted.
 */
final class RaisedSysctl implements AutoCloseable {
    private final Path path;
    private final String previous;
    private final String current;
    private final Thread restoreOnExit;

    private RaisedSysctl(Path path, String previous, String current) {
        this.path = path;
        this.previous = previous;
        this.current = current;
        this.restoreOnExit = new Thread(this::restore, "zaro-bench-sysctl-restore");
        if (isRaised()) {
            Runtime.getRuntime().addShutdownHook(restoreOnExit);
        }
    }

    /** Raises {@code path} to {@code target} when it is below {@code needed}; fails when it cannot. */
    static RaisedSysctl atLeast(Path path, long needed, long target) throws IOException {
        String previous = read(path);
        if (Long.parseLong(previous) >= needed) {
            return new RaisedSysctl(path, previous, previous);
        }
        Files.writeString(path, Long.toString(target));
        return new RaisedSysctl(path, previous, read(path));
    }

    /** Like {@link #atLeast}, but leaves the value as it is, with a warning, when it cannot be written. */
    static RaisedSysctl atLeastIfPossible(Path path, long needed, long target) throws IOException {
        try {
            return atLeast(path, needed, target);
        } catch (IOException | UncheckedIOException e) {
            System.err.println("warning: cannot raise " + path + ": " + e);
            String value = read(path);
            return new RaisedSysctl(path, value, value);
        }
    }

    /**
     * The value of a /proc/sys file. Not {@code Files.readString}: procfs reports size 0 and
     * that method then returns only the first byte.
     */
    static String read(Path path) throws IOException {
        return Files.readAllLines(path).get(0).strip();
    }

    private boolean isRaised() {
        return !previous.equals(current);
    }

    private void restore() {
        try {
            Files.writeString(path, previous);
        } catch (IOException e) {
            System.err.println("warning: cannot restore " + path + " to " + previous + ": " + e);
        }
    }

    @Override
    public void close() {
        if (isRaised()) {
            restore();
            Runtime.getRuntime().removeShutdownHook(restoreOnExit);
        }
    }

    @Override
    public String toString() {
        return isRaised() ? current + " (raised from " + previous + " for the run)" : current;
    }
}

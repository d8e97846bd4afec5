package io.zaro.tests.netns;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A test topology of network namespaces, veth links and bridges, removed again by
 * {@link #close()}, by a JVM shutdown hook when the run is interrupted, and, for runs that were
 * killed outright, by the next lab that starts (it sweeps namespaces whose owning process is gone).
 *
 * <p>Every namespace is named {@code zaro-<pid>-<n>-<role>}. All links live inside the lab's
 * namespaces: the machine's own namespace is never changed, and traffic stays inside.
 */
public final class Lab implements AutoCloseable {
    public static final String PREFIX = "zaro-";
    private static final AtomicInteger COUNTER = new AtomicInteger();
    private static final Set<Lab> OPEN = ConcurrentHashMap.newKeySet();
    private static final long PID = ProcessHandle.current().pid();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> OPEN.forEach(Lab::close), "zaro-lab-cleanup"));
    }

    private final List<Host> hosts = new ArrayList<>();
    private final List<Process> processes = new ArrayList<>();
    private boolean closed;

    public Lab() {
        sweepStale();
        OPEN.add(this);
    }

    /** Creates a namespace with its loopback up. {@code role} is a short tag for humans (fw1, client). */
    public synchronized Host host(String role) {
        if (!role.matches("[a-z0-9]{1,12}")) {
            throw new IllegalArgumentException("role must be 1..12 lower-case letters or digits: " + role);
        }
        String name = PREFIX + PID + "-" + COUNTER.incrementAndGet() + "-" + role;
        Cmd.run(List.of("ip", "netns", "add", name)).ok();
        Host h = new Host(this, name);
        hosts.add(h);
        h.up("lo");
        return h;
    }

    /** Connects two namespaces with a veth pair, {@code aIf} in {@code a} and {@code bIf} in {@code b}, both up. */
    public synchronized void link(Host a, String aIf, Host b, String bIf) {
        // Create the pair inside a, then move one end: nothing touches the machine's namespace.
        String tmp = "zv" + COUNTER.incrementAndGet();
        a.execOk("ip", "link", "add", aIf, "type", "veth", "peer", "name", tmp);
        a.execOk("ip", "link", "set", tmp, "netns", b.name());
        b.execOk("ip", "link", "set", tmp, "name", bIf);
        a.up(aIf);
        b.up(bIf);
    }

    /** Makes a switch: a namespace with a bridge {@code br0}, and a port to each host, named {@code hostIf} on the host. */
    public synchronized Host bridge(String role, String hostIf, Host... members) {
        Host sw = host(role);
        sw.execOk("ip", "link", "add", "br0", "type", "bridge");
        sw.up("br0");
        int port = 0;
        for (Host m : members) {
            String swIf = "p" + port++;
            link(sw, swIf, m, hostIf);
            sw.execOk("ip", "link", "set", swIf, "master", "br0");
        }
        return sw;
    }

    synchronized Process spawn(List<String> command) {
        if (closed) {
            throw new IllegalStateException("lab is closed");
        }
        try {
            Process p = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            processes.add(p);
            return p;
        } catch (IOException e) {
            throw new IllegalStateException("cannot start " + String.join(" ", command), e);
        }
    }

    public synchronized List<Host> hosts() {
        return List.copyOf(hosts);
    }

    /** Kills the lab's processes and removes its namespaces (with their links). Safe to call twice. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        OPEN.remove(this);
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        for (Process p : processes) {
            try {
                p.waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        for (Host h : hosts) {
            killAndDelete(h.name());
        }
    }

    /** Kills what runs inside the namespace and removes it, retrying while the kernel still holds it. */
    private static void killAndDelete(String name) {
        Path file = Path.of("/run/netns", name);
        for (int attempt = 0; attempt < 6 && Files.exists(file); attempt++) {
            Cmd.Result pids = Cmd.run(List.of("ip", "netns", "pids", name), null, 30);
            for (String pid : pids.stdout().split("\\s+")) {
                if (!pid.isBlank()) {
                    ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
                }
            }
            if (Cmd.run(List.of("ip", "netns", "del", name), null, 30).exitCode() == 0) {
                return;
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        if (Files.exists(file)) {
            System.err.println("zaro lab: could not remove network namespace " + name + ": remove it with `ip netns del " + name + "`");
        }
    }

    /** Removes namespaces left by lab runs whose process no longer exists. */
    static void sweepStale() {
        Path dir = Path.of("/run/netns");
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (Stream<Path> entries = Files.list(dir)) {
            entries.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith(PREFIX))
                    .filter(n -> {
                        String[] parts = n.split("-");
                        if (parts.length < 3 || !parts[1].matches("\\d+")) {
                            return false;
                        }
                        long owner = Long.parseLong(parts[1]);
                        return owner != PID && ProcessHandle.of(owner).map(h -> !h.isAlive()).orElse(true);
                    })
                    .forEach(Lab::killAndDelete);
        } catch (IOException e) {
            // nothing to sweep
        }
    }

    /** Names of all lab namespaces on the machine (any owner). */
    public static List<String> existingNamespaces() {
        Path dir = Path.of("/run/netns");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(PREFIX)).toList();
        } catch (IOException e) {
            return List.of();
        }
    }
}

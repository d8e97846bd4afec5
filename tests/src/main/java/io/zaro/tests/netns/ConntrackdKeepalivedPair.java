package io.zaro.tests.netns;

import io.zaro.tests.netns.FailoverLab.Switch;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * conntrackd and keepalived on both firewalls of a {@link FailoverLab} run, as conntrack-tools'
 * manual sets them up for an active-backup pair: keepalived (VRRP version 3 on eth0, multicast,
 * fw1 priority 150, fw2 100, advertisements every {@code intervalCentis} hundredths of a second,
 * both VIPs in one instance) runs a notify script at each transition that does what the manual's
 * {@code doc/sync/primary-backup.sh} does; conntrackd ({@link ConntrackdConf}: FTFW over UDP on
 * sync0, external cache) mirrors the table. Only {@link Switch#KILL} is supported.
 *
 * <p>The notify script appends one line per step to {@code fwN-notify.log}: the step, the exit
 * code of the {@code conntrackd} call before it, and the time ({@code date +%s%N}, the realtime
 * clock, which this class compares with {@link Instant#now()} at the switch). Every file (configs,
 * script, logs, sockets, lock and pid files) is in the run's directory, which the lab deletes.
 *
 * <p>keepalived adds the VIPs before it runs the notify script, so fw2 holds them for a while
 * with none of fw1's connections in its kernel: the few to 300 ms until {@code conntrackd -c}
 * returns. A TCP connection whose server retransmits to the SNAT VIP in that window dies: the
 * segment matches no entry, the lab's rulesets filter only forwarded traffic, and fw2's own
 * stack answers with a reset, which closes the server's end (seen with tcpdump when the commit
 * took 0.2 to 0.3 s). zaro's standby has the connections in its kernel before it takes the VIPs.
 *
 * <p>Each daemon runs in the foreground as a child of this JVM ({@code keepalived --dont-fork},
 * {@code conntrackd} without {@code -d}); {@link #close()} kills them, keepalived's VRRP child and
 * any notify script still running with them, with SIGKILL.
 */
final class ConntrackdKeepalivedPair implements FirewallPair {
    /** The milestone when fw2's notify script's {@code conntrackd -c} returned. */
    static final String COMMITTED = "committed";
    /** The notify script's steps on becoming master, in its order, as milestone names. */
    private static final List<String> PRIMARY_STEPS = List.of("notified", COMMITTED, "flushed", "resynced", "bulk sent");
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

    private final Node fw1;
    private final Node fw2;
    private final int intervalCentis;
    /** The realtime clock at the switch, nanoseconds since the epoch; written and read by the run thread. */
    private long switchEpochNanos;

    /** One firewall's files and, once started, its daemons (the run thread starts them, {@link #close} may run from another). */
    private static final class Node {
        final Host host;
        final String name;
        final int priority;
        final Path conntrackdConf;
        final Path keepalivedConf;
        final Path script;
        final Path notifyLog;
        final Path notifyOut;
        final Path keepalivedLog;
        final Path keepalivedPid;
        final Path vrrpPid;
        volatile Process conntrackd;
        volatile Process keepalived;

        Node(Host host, String name, int priority, Path dir) {
            this.host = host;
            this.name = name;
            this.priority = priority;
            conntrackdConf = dir.resolve(name + "-conntrackd.conf");
            keepalivedConf = dir.resolve(name + "-keepalived.conf");
            script = dir.resolve(name + "-notify.sh");
            notifyLog = dir.resolve(name + "-notify.log");
            notifyOut = dir.resolve(name + "-notify.out");
            keepalivedLog = dir.resolve(name + "-keepalived.log");
            keepalivedPid = dir.resolve(name + "-keepalived.pid");
            vrrpPid = dir.resolve(name + "-vrrp.pid");
        }

        Path file(String suffix) {
            return conntrackdConf.resolveSibling(name + "-" + suffix);
        }
    }

    ConntrackdKeepalivedPair(Host fw1, Host fw2, int intervalCentis, Path dir) {
        this.fw1 = new Node(fw1, "fw1", 150, dir);
        this.fw2 = new Node(fw2, "fw2", 100, dir);
        this.intervalCentis = intervalCentis;
    }

    @Override
    public void start() throws IOException, InterruptedException {
        // A run before may have left a killed daemon's VIPs behind.
        FailoverLab.removeVips(fw1.host);
        FailoverLab.removeVips(fw2.host);
        List<String> ignored = new ArrayList<>();
        for (Node n : List.of(fw1, fw2)) {
            ignored.addAll(ipv4Addresses(n.host));
        }
        ignored.addAll(List.of(FailoverLab.GATEWAY_VIP, FailoverLab.SNAT_VIP));
        for (Node n : List.of(fw1, fw2)) {
            Node peer = n == fw1 ? fw2 : fw1;
            Files.writeString(n.conntrackdConf, new ConntrackdConf(n.name, "sync0", syncAddress(n.host),
                    syncAddress(peer.host), n.file("conntrackd.log"), n.file("conntrackd.lock"),
                    n.file("conntrackd.ctl"), ignored).text());
            Files.writeString(n.keepalivedConf, keepalivedConf(n));
            Files.writeString(n.script, notifyScript(n));
            Files.setPosixFilePermissions(n.script, PosixFilePermissions.fromString("rwx------"));
        }
        for (Node n : List.of(fw1, fw2)) {
            n.conntrackd = n.host.spawn("sh", "-c", "exec conntrackd -C " + n.conntrackdConf + " >> "
                    + n.file("conntrackd.out") + " 2>&1");
        }
        for (Node n : List.of(fw1, fw2)) {
            awaitConntrackd(n);
        }
        // fw1 first, so that fw2 never holds the VIPs: it starts as BACKUP and hears fw1 at once.
        startKeepalived(fw1);
        awaitStep(fw1, "bulk sent", "fw1's keepalived became MASTER and its notify script ran the primary steps");
        // keepalived runs notify scripts without waiting for the one before: had fw1's backup steps
        // (-t) run after its primary ones (-f), the flush they schedule would empty fw1's table 60 s
        // later, in the middle of the run.
        String log = read(fw1.file("conntrackd.log"));
        FailoverLab.check(log.lastIndexOf("flushing conntrack table in") < log.lastIndexOf("flushing caches"),
                "fw1's notify script ran the primary steps after the backup ones:\n" + log);
        startKeepalived(fw2);
        awaitStep(fw2, "backup", "fw2's keepalived became BACKUP and its notify script ran the backup steps");
        FailoverLab.awaitFw1Alone(fw1.host, fw2.host);
    }

    @Override
    public void awaitMirrored(int port, int connections) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (externalEstablished(port) < connections && System.nanoTime() < end) {
            Thread.sleep(100);
        }
        long held = externalEstablished(port);
        FailoverLab.check(held >= connections, "fw2's conntrackd holds every connection in its external cache before the "
                + "switch (" + held + " of " + connections + " after 60 s)");
    }

    @Override
    public String diagnosis() {
        return "fw1's notify steps: " + steps(fw1).keySet() + ", fw2's: " + steps(fw2).keySet();
    }

    @Override
    public String describe(Switch how) {
        return "killing fw1 (kill -9 of its keepalived and conntrackd, links down)";
    }

    @Override
    public long switchOver(Switch how) throws InterruptedException {
        if (how != Switch.KILL) {
            throw new IllegalArgumentException("conntrackd and keepalived are only run with KILL, not " + how);
        }
        long vrrp = pid(fw1.vrrpPid).orElseThrow(() -> new AssertionError("fw1's keepalived wrote no VRRP pid file"));
        Instant now = Instant.now();
        switchEpochNanos = now.getEpochSecond() * 1_000_000_000L + now.getNano();
        long switchAt = System.nanoTime();
        // The VRRP child first: killed after its parent, it could be told to stop and send priority 0.
        ProcessHandle.of(vrrp).ifPresent(ProcessHandle::destroyForcibly);
        fw1.keepalived.destroyForcibly();
        fw1.conntrackd.destroyForcibly();
        FailoverLab.linksDown(fw1.host);
        long end = switchAt + Duration.ofSeconds(30).toNanos();
        while (!holdsVips(fw2.host)) {
            if (System.nanoTime() > end) {
                throw new AssertionError("fw2's keepalived does not hold the VIPs 30 s after fw1 was killed:\n"
                        + tail(fw2.keepalivedLog));
            }
            Thread.sleep(100);
        }
        return switchAt;
    }

    @Override
    public Map<String, Long> milestones() {
        Map<String, Long> out = new LinkedHashMap<>();
        steps(fw2).forEach((step, epochNanos) -> {
            if (epochNanos >= switchEpochNanos) {
                out.put(step, epochNanos - switchEpochNanos);
            }
        });
        return out;
    }

    @Override
    public void close() {
        for (Node n : List.of(fw1, fw2)) {
            kill(n);
        }
        for (Node n : List.of(fw1, fw2)) {
            FailoverLab.removeVips(n.host);
        }
    }

    private String keepalivedConf(Node n) {
        String notify = n.script.toString();
        return """
                # keepalived for %1$s: one VRRP instance moves both VIPs; the notify script does what
                # conntrack-tools' primary-backup.sh does (written by the zaro tests)
                global_defs {
                  router_id %1$s
                  vrrp_version 3
                  script_user root
                  # Gratuitous ARP on becoming master, for each VIP on its own link: 5 at once, 5 more a
                  # second later (a LAN host ignores an update within a second of the last one).
                  vrrp_garp_master_repeat 5
                  vrrp_garp_master_delay 1
                }
                vrrp_instance VI_1 {
                  state BACKUP
                  interface eth0
                  virtual_router_id 50
                  priority %2$d
                  advert_int %3$s
                  virtual_ipaddress {
                    %4$s/24 dev eth0
                    %5$s/24 dev eth1
                  }
                  notify_master "%6$s primary"
                  notify_backup "%6$s backup"
                  notify_fault "%6$s fault"
                }
                """.formatted(n.name, n.priority, String.format(Locale.ROOT, "%.2f", intervalCentis / 100.0),
                FailoverLab.GATEWAY_VIP, FailoverLab.SNAT_VIP, notify);
    }

    /**
     * primary-backup.sh's steps, with this firewall's config and a line in the notify log after
     * each: on becoming master, commit the external cache into the kernel ({@code -c}), flush both
     * caches ({@code -f}), resynchronise the internal cache with the kernel ({@code -R}) and send it
     * to the backup ({@code -B}); on becoming backup, check that the daemon answers ({@code -s}:
     * the lab starts it, so the script does not), schedule the flush of the kernel's stale entries
     * ({@code -t}) and ask the master for its table ({@code -n}); on a fault, {@code -t}.
     */
    private static String notifyScript(Node n) {
        return """
                #!/bin/sh
                # keepalived's notify script for %1$s: the steps of conntrack-tools' doc/sync/primary-backup.sh, each
                # logged to %2$s as "STEP EXIT-CODE REALTIME-NANOSECONDS" (written by the zaro tests)
                PATH=/usr/sbin:/usr/bin:/sbin:/bin
                CONF=%3$s
                LOG=%2$s
                OUT=%4$s
                step() {
                    echo "$1 $2 $(date +%%s%%N)" >> "$LOG"
                }
                ctd() {
                    conntrackd -C "$CONF" "$@" >> "$OUT" 2>&1
                }
                case "$1" in
                  primary)
                    step notified 0
                    ctd -c; step committed $?   # commit the external cache into the kernel table
                    ctd -f; step flushed $?     # flush the internal and the external caches
                    ctd -R; step resynced $?    # resynchronise the internal cache with the kernel table
                    ctd -B; step "bulk sent" $? # send a bulk update to the backup
                    ;;
                  backup)
                    ctd -s; step running $?     # is conntrackd running? (the lab starts it, not this script)
                    ctd -t; step purge $?       # shorten the kernel's timers to remove zombie entries
                    ctd -n; step backup $?      # request a resynchronisation with the master
                    ;;
                  fault)
                    ctd -t; step fault $?
                    ;;
                  *)
                    echo "usage: $0 primary|backup|fault" >&2
                    exit 1
                    ;;
                esac
                exit 0
                """.formatted(n.name, n.notifyLog, n.conntrackdConf, n.notifyOut);
    }

    private void startKeepalived(Node n) {
        n.keepalived = n.host.spawn("sh", "-c", "exec keepalived --dont-fork --vrrp --log-console --log-detail"
                + " --use-file=" + n.keepalivedConf + " --pid=" + n.keepalivedPid + " --vrrp_pid=" + n.vrrpPid
                + " >> " + n.keepalivedLog + " 2>&1");
    }

    /** Waits until {@code n}'s conntrackd answers on its UNIX socket. */
    private static void awaitConntrackd(Node n) throws InterruptedException {
        long end = System.nanoTime() + START_TIMEOUT.toNanos();
        while (true) {
            if (!n.conntrackd.isAlive()) {
                throw new AssertionError(n.name + "'s conntrackd exited (" + n.conntrackd.exitValue() + "):\n"
                        + tail(n.file("conntrackd.log")) + tail(n.file("conntrackd.out")));
            }
            Cmd.Result r = n.host.exec(null, 10, "conntrackd", "-C", n.conntrackdConf.toString(), "-s");
            if (r.exitCode() == 0 && r.stdout().contains("cache")) {
                return;
            }
            if (System.nanoTime() > end) {
                throw new AssertionError(n.name + "'s conntrackd does not answer after " + START_TIMEOUT.toSeconds()
                        + " s:\n" + tail(n.file("conntrackd.log")));
            }
            Thread.sleep(50);
        }
    }

    /** Waits until {@code n}'s notify script logged {@code step} with exit code 0. */
    private static void awaitStep(Node n, String step, String what) throws InterruptedException {
        long end = System.nanoTime() + START_TIMEOUT.toNanos();
        while (!steps(n).containsKey(step)) {
            if (System.nanoTime() > end || !n.keepalived.isAlive()) {
                throw new AssertionError("expected: " + what + "; notify log:\n" + read(n.notifyLog) + "\nconntrackd:\n"
                        + read(n.notifyOut) + "\nkeepalived:\n" + tail(n.keepalivedLog));
            }
            Thread.sleep(50);
        }
    }

    /**
     * The steps {@code n}'s notify script logged, each with its realtime, the last time of each;
     * a step whose {@code conntrackd} call failed is named with its exit code.
     */
    private static Map<String, Long> steps(Node n) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String line : read(n.notifyLog).lines().toList()) {
            // "bulk sent 0 1765000000000000000": the step may have a space; the exit code and the time do not.
            String[] f = line.split(" ");
            if (f.length < 3) {
                continue;
            }
            String step = String.join(" ", List.of(f).subList(0, f.length - 2));
            String exit = f[f.length - 2];
            out.remove(step);
            out.put(exit.equals("0") ? step : step + " (exit " + exit + ")", Long.parseLong(f[f.length - 1]));
        }
        return out;
    }

    /** The established TCP connections to {@code port} in fw2's external cache ({@code conntrackd -e}). */
    private long externalEstablished(int port) {
        Cmd.Result r = fw2.host.exec(null, 60, "conntrackd", "-C", fw2.conntrackdConf.toString(), "-e", "ct");
        String to = " dport=" + port + " ";
        return r.stdout().lines().filter(l -> l.contains(" ESTABLISHED ") && l.contains(to)).count();
    }

    /** Whether {@code host} holds both VIPs, from one {@code ip -o address}. */
    private static boolean holdsVips(Host host) {
        String out = host.exec("ip", "-o", "-4", "address").stdout();
        return out.contains(" " + FailoverLab.GATEWAY_VIP + "/24 ") && out.contains(" " + FailoverLab.SNAT_VIP + "/24 ");
    }

    /** SIGKILL to keepalived, its VRRP child and their notify scripts, and to conntrackd; waits for them. */
    private static void kill(Node n) {
        List<ProcessHandle> all = new ArrayList<>();
        Process k = n.keepalived;
        if (k != null) {
            k.descendants().forEach(all::add);
            all.add(k.toHandle());
        }
        pid(n.vrrpPid).flatMap(ProcessHandle::of).ifPresent(all::add);
        Process c = n.conntrackd;
        if (c != null) {
            all.add(c.toHandle());
        }
        all.forEach(ProcessHandle::destroyForcibly);
        for (ProcessHandle p : all) {
            try {
                p.onExit().get(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (Exception e) {
                System.err.println("warning: " + p.pid() + " in " + n.host.name() + " did not exit after SIGKILL");
            }
        }
    }

    private static Optional<Long> pid(Path file) {
        String text = read(file).strip();
        return text.matches("\\d+") ? Optional.of(Long.parseLong(text)) : Optional.empty();
    }

    /** The IPv4 addresses on {@code host}'s interfaces but loopback. */
    private static List<String> ipv4Addresses(Host host) {
        List<String> out = new ArrayList<>();
        for (String line : host.execOk("ip", "-o", "-4", "address").stdout().lines().toList()) {
            String[] f = line.trim().split("\\s+");
            if (f.length > 3 && !f[1].equals("lo")) {
                out.add(f[3].split("/")[0]);
            }
        }
        return out;
    }

    private static String syncAddress(Host host) {
        String out = host.execOk("ip", "-o", "-4", "address", "show", "dev", "sync0").stdout().trim();
        String[] f = out.split("\\s+");
        if (f.length < 4) {
            throw new IllegalStateException(host.name() + " has no IPv4 address on sync0");
        }
        return f[3].split("/")[0];
    }

    private static String tail(Path file) {
        String s = read(file);
        return s.length() > 3000 ? "..." + s.substring(s.length() - 3000) : s;
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

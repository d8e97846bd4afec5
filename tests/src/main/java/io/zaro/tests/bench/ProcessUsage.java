package io.zaro.tests.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What a process has used so far, from {@code /proc}: its resident memory now and the CPU time
 * it has consumed (user and system) since it started.
 *
 * @param rssKiB {@code VmRSS} of {@code /proc/PID/status}
 * @param cpuMillis {@code utime + stime} of {@code /proc/PID/stat}
 */
record ProcessUsage(long rssKiB, long cpuMillis) {
    /** The kernel's clock ticks per second in {@code /proc/PID/stat} (USER_HZ), as {@code getconf CLK_TCK} says. */
    private static final long TICKS_PER_SECOND = ticksPerSecond();

    static final ProcessUsage NONE = new ProcessUsage(0, 0);

    /** The usage of {@code pid}; NONE when it is gone. */
    static ProcessUsage of(long pid) {
        try {
            long rss = 0;
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    rss = Long.parseLong(line.replaceAll("\\D", ""));
                }
            }
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // Fields after the command name, which is in parentheses and may hold spaces: state is the first.
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
            return new ProcessUsage(rss, ticks * 1000 / TICKS_PER_SECOND);
        } catch (IOException | RuntimeException e) {
            return NONE;
        }
    }

    /** The sum over several processes: their memory together and their CPU time together. */
    static ProcessUsage sum(List<Long> pids) {
        long rss = 0;
        long cpu = 0;
        for (long pid : pids) {
            ProcessUsage u = of(pid);
            rss += u.rssKiB();
            cpu += u.cpuMillis();
        }
        return new ProcessUsage(rss, cpu);
    }

    private static long ticksPerSecond() {
        try {
            return Long.parseLong(io.zaro.tests.netns.Cmd.run(List.of("getconf", "CLK_TCK")).ok().stdout().trim());
        } catch (RuntimeException e) {
            return 100;
        }
    }

    double rssMiB() {
        return rssKiB / 1024.0;
    }

    /** The CPU used since {@code before}, as a share of one core over {@code wallNanos}. */
    double cpuPercentSince(ProcessUsage before, long wallNanos) {
        return (cpuMillis - before.cpuMillis) * 1e6 * 100 / wallNanos;
    }
}

package io.zaro.tests.netns;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The {@code conntrackd.conf} of one firewall of an active-backup pair, as conntrack-tools' manual
 * and its {@code doc/sync/ftfw/conntrackd.conf} set it up: mode FTFW (acknowledged, resent on
 * loss) with the external cache (the peer's flows wait in user space until {@code conntrackd -c}
 * commits them at a takeover), over unicast UDP on the dedicated sync link, with the example's
 * hash table, netlink and socket buffer sizes, and a kernel-space filter that passes TCP and UDP
 * and ignores the firewalls' own addresses and the VIPs (the firewall's own traffic, such as
 * VRRP). {@code TCPWindowTracking} stays off, conntrackd's default: the window is not replicated,
 * and conntrackd creates the committed TCP entries with the kernel's be-liberal flag instead.
 * conntrackd's default scheduler stays (SCHED_RR, priority 99).
 *
 * <p>Every path (log, lock file, UNIX socket) is the caller's, so that several daemons, each in its
 * own namespace, can run on one machine.
 *
 * @param node a name for the comment at the top (fw1)
 * @param syncInterface the dedicated link (sync0)
 * @param address this firewall's IPv4 address on it
 * @param peerAddress the other firewall's
 * @param ignored addresses whose flows are not replicated: the firewalls' own, and the VIPs
 */
record ConntrackdConf(String node, String syncInterface, String address, String peerAddress, Path logFile,
                      Path lockFile, Path socket, List<String> ignored) {
    /** The UDP port of the sync link, conntrackd's customary one. */
    static final int PORT = 3780;

    ConntrackdConf {
        ignored = List.copyOf(ignored);
    }

    /** The file's text. */
    String text() {
        String ignoredLines = ignored.stream().map(a -> "\t\t\tIPv4_address " + a)
                .collect(Collectors.joining("\n"));
        return """
                # conntrackd for %1$s: active-backup, FTFW over unicast UDP on %2$s, external cache (written by the zaro tests)
                Sync {
                \tMode FTFW {
                \t\tDisableExternalCache no
                \t}
                \tUDP {
                \t\tIPv4_address %3$s
                \t\tIPv4_Destination_Address %4$s
                \t\tPort %5$d
                \t\tInterface %2$s
                \t\tSndSocketBuffer 1249280
                \t\tRcvSocketBuffer 1249280
                \t\tChecksum on
                \t}
                }
                General {
                \tSystemd no
                \tHashSize 32768
                \tHashLimit 131072
                \tLogFile %6$s
                \tSyslog no
                \tLockFile %7$s
                \tUNIX {
                \t\tPath %8$s
                \t}
                \tNetlinkBufferSize 2097152
                \tNetlinkBufferSizeMaxGrowth 8388608
                \tFilter From Kernelspace {
                \t\tProtocol Accept {
                \t\t\tTCP
                \t\t\tUDP
                \t\t}
                \t\tAddress Ignore {
                \t\t\tIPv4_address 127.0.0.1
                \t\t\tIPv6_address ::1
                %9$s
                \t\t}
                \t}
                }
                """.formatted(node, syncInterface, address, peerAddress, PORT, logFile, lockFile, socket, ignoredLines);
    }
}

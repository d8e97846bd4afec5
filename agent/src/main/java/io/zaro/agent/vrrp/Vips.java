package io.zaro.agent.vrrp;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The floating addresses of a virtual router on one interface, added and removed with
 * {@code ip address} (IPv6 ones without duplicate address detection, which would hold them back
 * for a second) and announced: IPv4 ones with gratuitous ARP ({@code arping -U}, iputils-arping),
 * IPv6 ones with unsolicited neighbour advertisements ({@link NeighbourAdvertisement}), twice a
 * second apart, and again a while later (as keepalived's {@code garp_master_delay}): a LAN host
 * ignores an update that comes within a second ({@code locktime}) of the last one, as the first
 * ones may after a master that held the addresses for a moment announced them too.
 */
public final class Vips {
    private static final Logger log = LoggerFactory.getLogger(Vips.class);

    private final String interfaceName;
    private final List<String> cidrs;
    private final Duration repeatAfter;
    /** arping processes under way, destroyed when announcing stops. */
    private final List<Process> arpings = Collections.synchronizedList(new ArrayList<>());
    /** Announces, then announces again after {@link #repeatAfter}; guarded by {@code this}. */
    private Thread announcer;

    /** @param cidrs addresses with their prefix length, such as 192.0.2.100/24 */
    public Vips(String interfaceName, List<String> cidrs) {
        this(interfaceName, cidrs, Duration.ofSeconds(5));
    }

    /** @param repeatAfter how long after the first announcements the addresses are announced again; zero for never */
    public Vips(String interfaceName, List<String> cidrs, Duration repeatAfter) {
        this.interfaceName = interfaceName;
        this.cidrs = List.copyOf(cidrs);
        this.repeatAfter = repeatAfter;
    }

    /**
     * Adds every VIP (one already present is fine) and starts announcing each; returns without
     * waiting for the announcements, which {@link #remove} cuts short.
     */
    public synchronized void add() {
        for (String cidr : cidrs) {
            if (cidr.contains(":")) {
                run(false, "ip", "address", "replace", cidr, "dev", interfaceName, "nodad");
            } else {
                run(false, "ip", "address", "replace", cidr, "dev", interfaceName);
            }
        }
        stopAnnouncing();
        announcer = new Thread(this::announce, "zaro-announce-" + interfaceName);
        announcer.setDaemon(true);
        announcer.start();
    }

    /**
     * Stops announcing, then removes every VIP (one already gone is fine). A node that lost
     * mastership within the seconds its announcements take must not send one more: it would
     * point the LAN's caches back at a node that no longer holds the address.
     */
    public synchronized void remove() {
        stopAnnouncing();
        for (String cidr : cidrs) {
            run(true, "ip", "address", "del", cidr, "dev", interfaceName);
        }
    }

    private void announce() {
        try {
            announceOnce();
            if (!repeatAfter.isZero()) {
                Thread.sleep(repeatAfter.toMillis());
                announceOnce();
            }
        } catch (InterruptedException e) {
            // announcing stopped
        }
    }

    /** Starts arping for each IPv4 address, then sends the neighbour advertisements (about a second). */
    private void announceOnce() throws InterruptedException {
        for (String cidr : cidrs) {
            String address = address(cidr);
            if (address.contains(":")) {
                continue;
            }
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
            try {
                arpings.add(new ProcessBuilder("arping", "-q", "-U", "-c", "2", "-w", "2", "-I", interfaceName,
                        "-s", address, address).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                        .start());
            } catch (IOException e) {
                log.warn("cannot announce {} with arping (install iputils-arping): {}", address, e.getMessage());
            }
        }
        List<String> ipv6 = cidrs.stream().filter(c -> c.contains(":")).map(Vips::address).toList();
        if (!ipv6.isEmpty()) {
            NeighbourAdvertisement.announce(interfaceName, ipv6);
        }
        if (Thread.currentThread().isInterrupted()) {
            throw new InterruptedException();
        }
    }

    private void stopAnnouncing() {
        if (announcer != null) {
            announcer.interrupt();
            try {
                announcer.join(2_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            announcer = null;
        }
        synchronized (arpings) {
            arpings.forEach(Process::destroy);
            arpings.clear();
        }
    }

    private static String address(String cidr) {
        return cidr.substring(0, cidr.indexOf('/') < 0 ? cidr.length() : cidr.indexOf('/'));
    }

    private static void run(boolean quiet, String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
            if (p.exitValue() != 0 && !quiet) {
                log.warn("{} failed: {}", String.join(" ", command), out);
            }
        } catch (IOException e) {
            log.warn("cannot run {}: {}", command[0], e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public List<String> cidrs() {
        return new ArrayList<>(cidrs);
    }
}

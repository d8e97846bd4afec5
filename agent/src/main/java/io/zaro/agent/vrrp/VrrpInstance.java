package io.zaro.agent.vrrp;

import io.zaro.rawip.IpDatagram;
import io.zaro.rawip.RawIpSocket;
import io.zaro.rawip.RawSocketException;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One virtual router on one interface, IPv4 or IPv6: the state machine ({@link VirtualRouter})
 * driven by a raw socket of IP protocol 112 on a thread of its own. Advertisements are multicast
 * to 224.0.0.18 or ff02::12 (RFC 5798 section 5.1), or, with unicast peers (as keepalived's
 * {@code unicast_peer}), sent to each peer, and then only the peers' are accepted. Received
 * advertisements are checked as section 7.1 asks (TTL / hop limit 255, checksum, version, VRID)
 * before the state machine sees them. Tracked interfaces and scripts put the router in FAULT.
 */
public final class VrrpInstance implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VrrpInstance.class);
    /** Section 5.1.1.2: the IPv4 multicast address of VRRP. */
    public static final InetAddress GROUP_IPV4 = literal("224.0.0.18");
    /** Section 5.1.2.2: the IPv6 multicast address of VRRP. */
    public static final InetAddress GROUP_IPV6 = literal("ff02::12");
    /** Where the checksum sits in a VRRP message (section 5.2): the kernel fills it in for IPv6. */
    private static final int CHECKSUM_OFFSET = 6;

    /**
     * What one virtual router needs.
     *
     * @param advertised the VIPs the advertisements carry, all of the primary address's family
     * @param unicastPeers the peers' addresses; empty for multicast
     * @param trackedInterfaces interfaces that must be up besides {@code interfaceName}
     */
    public record Setup(String interfaceName, VirtualRouter.Settings router, List<InetAddress> advertised,
                        List<InetAddress> unicastPeers, List<String> trackedInterfaces, TrackScripts.Settings scripts) {
        public Setup {
            advertised = List.copyOf(advertised);
            unicastPeers = List.copyOf(unicastPeers);
            trackedInterfaces = List.copyOf(trackedInterfaces);
            boolean v6 = router.primaryAddress() instanceof Inet6Address;
            for (InetAddress a : concat(advertised, unicastPeers)) {
                if (a instanceof Inet6Address != v6) {
                    throw new IllegalArgumentException(a.getHostAddress() + " is not of the family of the primary address "
                            + router.primaryAddress().getHostAddress() + ": a virtual router speaks IPv4 or IPv6");
                }
            }
        }

        public boolean ipv6() {
            return router.primaryAddress() instanceof Inet6Address;
        }
    }

    private final Setup setup;
    private final VirtualRouter.Settings settings;
    private final String interfaceName;
    private final InetAddress group;
    private final RawIpSocket socket;
    private final VirtualRouter router;
    private final Thread thread;
    private final List<String> tracked;
    private final TrackScripts scripts;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean running;
    private volatile Peer lastHeard;
    private long discarded;
    private long sendFailures;
    /** A handover asked for by another thread, answered by the VRRP thread (which owns the router). */
    private final AtomicReference<CompletableFuture<Boolean>> handover = new AtomicReference<>();

    /**
     * @param onTransition called on the instance's thread after each change of state, with the new state
     */
    public VrrpInstance(Setup setup, Consumer<VirtualRouter.State> onTransition) {
        this.setup = setup;
        this.settings = setup.router();
        this.interfaceName = setup.interfaceName();
        LinkedHashSet<String> all = new LinkedHashSet<>();
        all.add(interfaceName);
        all.addAll(setup.trackedInterfaces());
        this.tracked = List.copyOf(all);
        this.group = setup.unicastPeers().isEmpty() ? (setup.ipv6() ? GROUP_IPV6 : GROUP_IPV4) : null;
        InetAddress primary = settings.primaryAddress();
        this.socket = RawIpSocket.open(interfaceName, Advertisement.IP_PROTOCOL, primary, group,
                setup.ipv6() ? CHECKSUM_OFFSET : -1);
        this.scripts = new TrackScripts(setup.scripts());
        this.router = new VirtualRouter(settings, new VirtualRouter.Actions() {
            @Override
            public void sendAdvertisement(int priority) {
                Advertisement adv = new Advertisement(settings.virtualRouterId(), priority, settings.advertIntervalCentis(),
                        setup.advertised());
                for (InetAddress to : group != null ? List.of(group) : setup.unicastPeers()) {
                    try {
                        socket.send(to, adv.encode(primary, to));
                    } catch (RawSocketException e) {
                        // As a packet lost on the wire: the peers' timers cope, and the next one may pass.
                        if (sendFailures++ % 100 == 0) {
                            log.warn("VRRP {} on {}: cannot send an advertisement to {}: {} ({} so far)",
                                    settings.virtualRouterId(), interfaceName, to.getHostAddress(), e.getMessage(),
                                    sendFailures);
                        }
                    }
                }
            }

            @Override
            public void becameMaster() {
                log.info("VRRP {} on {}: MASTER", settings.virtualRouterId(), interfaceName);
                onTransition.accept(VirtualRouter.State.MASTER);
            }

            @Override
            public void becameBackup() {
                log.info("VRRP {} on {}: BACKUP", settings.virtualRouterId(), interfaceName);
                onTransition.accept(VirtualRouter.State.BACKUP);
            }
        });
        this.thread = new Thread(this::run, "zaro-vrrp-" + settings.virtualRouterId());
        this.thread.setDaemon(true);
    }

    /** How long a node that handed over leaves the new master alone, whatever the priorities. */
    public static final Duration HANDOVER_HOLDOFF = Duration.ofMinutes(10);

    /**
     * Asks the router to hand over (see {@link VirtualRouter#resign}); completes with whether it
     * was master.
     */
    public CompletableFuture<Boolean> handover() {
        CompletableFuture<Boolean> f = new CompletableFuture<>();
        handover.set(f);
        return f;
    }

    public void start() {
        running = true;
        scripts.start();
        thread.start();
    }

    public VirtualRouter.State state() {
        return router.state();
    }

    /** A peer's last valid advertisement for this virtual router: who, its priority, when (epoch ms). */
    public record Peer(InetAddress address, int priority, long heardMillis) {
    }

    /** The last peer heard, or null when none has been. */
    public Peer lastHeard() {
        return lastHeard;
    }

    public Setup setup() {
        return setup;
    }

    public Throwable failure() {
        return failure.get();
    }

    private void run() {
        try {
            String down = firstDown();
            router.startup(System.nanoTime());
            if (down != null) {
                log.warn("VRRP {}: {}: FAULT", settings.virtualRouterId(), down);
                router.fault(System.nanoTime());
            }
            while (running) {
                CompletableFuture<Boolean> asked = handover.getAndSet(null);
                if (asked != null) {
                    asked.complete(router.resign(System.nanoTime(), HANDOVER_HOLDOFF.toNanos()));
                }
                track();
                long now = System.nanoTime();
                // Wake at least every 100 ms to watch the tracked interfaces.
                long wait = Math.max(1_000_000L, Math.min(router.nextDeadline() - now, 100_000_000L));
                Optional<IpDatagram> d = socket.receive(Duration.ofNanos(wait));
                now = System.nanoTime();
                if (d.isPresent() && running) {
                    accept(d.get(), now);
                }
                router.tick(System.nanoTime());
            }
        } catch (Throwable e) {
            if (running) {
                failure.compareAndSet(null, e);
                log.error("VRRP {} on {} stopped", settings.virtualRouterId(), interfaceName, e);
            }
        }
    }

    /**
     * Not in RFC 5798, but as keepalived's track_interface and track_script: FAULT while a
     * tracked interface is down or a tracked script fails.
     */
    private void track() {
        String down = firstDown();
        if (down != null && router.state() != VirtualRouter.State.FAULT) {
            log.warn("VRRP {}: {}: FAULT", settings.virtualRouterId(), down);
            router.fault(System.nanoTime());
        } else if (down == null && router.state() == VirtualRouter.State.FAULT) {
            log.info("VRRP {}: tracked interfaces and scripts healthy again", settings.virtualRouterId());
            router.recover(System.nanoTime());
        }
    }

    /**
     * What is wrong: the first tracked interface that is not up ({@code /sys/class/net/IF/operstate}),
     * or the first failing script; null when nothing is.
     */
    private String firstDown() {
        for (String ifname : tracked) {
            try {
                String state = Files.readAllLines(Path.of("/sys/class/net", ifname, "operstate")).get(0).strip();
                if (!state.equals("up") && !state.equals("unknown")) {
                    return ifname + " is " + state;
                }
            } catch (IOException | IndexOutOfBoundsException e) {
                return ifname + " is missing";
            }
        }
        String script = scripts.firstFailing();
        return script == null ? null : "track script " + script + " fails";
    }

    private void accept(IpDatagram d, long now) {
        if (d.hopLimit() != 255) {
            discard((setup.ipv6() ? "hop limit " : "TTL ") + d.hopLimit() + " is not 255");
            return;
        }
        if (group == null && !setup.unicastPeers().contains(d.source())) {
            discard("from " + d.source().getHostAddress() + ", not a configured unicast peer");
            return;
        }
        Advertisement adv;
        try {
            adv = Advertisement.decode(d.payload(), d.source(), d.destination());
        } catch (MalformedAdvertisementException e) {
            discard(e.getMessage());
            return;
        }
        if (adv.virtualRouterId() != settings.virtualRouterId()) {
            return;
        }
        lastHeard = new Peer(d.source(), adv.priority(), System.currentTimeMillis());
        router.receive(adv, d.source(), now);
    }

    private void discard(String why) {
        if (discarded++ % 100 == 0) {
            log.warn("VRRP {} on {}: discarded an advertisement: {} ({} so far)", settings.virtualRouterId(), interfaceName,
                    why, discarded);
        }
    }

    /** Stops: a master sends its priority-0 advertisement first (section 6.4.3). */
    @Override
    public void close() {
        running = false;
        try {
            thread.join(3_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        router.shutdown(System.nanoTime());
        socket.close();
        scripts.close();
    }

    private static InetAddress literal(String s) {
        try {
            return InetAddress.getByName(s);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The address advertisements go out from: the interface's first IPv4 address that is not a
     * VIP; for IPv6 its link-local address (section 5.1.2.1), or, when the first unicast peer is
     * not link-local, its first other IPv6 address that is not a VIP.
     */
    public static InetAddress primaryAddress(String interfaceName, boolean ipv6, List<InetAddress> vips,
                                             List<InetAddress> unicastPeers) {
        NetworkInterface nif;
        try {
            nif = NetworkInterface.getByName(interfaceName);
        } catch (SocketException e) {
            throw new IllegalStateException("cannot read the addresses of " + interfaceName + ": " + e.getMessage(), e);
        }
        if (nif == null) {
            throw new IllegalArgumentException("there is no interface " + interfaceName + ": name one that `ip link` shows");
        }
        boolean linkLocal = unicastPeers.isEmpty() || unicastPeers.get(0).isLinkLocalAddress();
        for (InetAddress a : Collections.list(nif.getInetAddresses())) {
            boolean family = ipv6 ? a instanceof Inet6Address && a.isLinkLocalAddress() == linkLocal : a instanceof Inet4Address;
            if (family && vips.stream().noneMatch(v -> Arrays.equals(v.getAddress(), a.getAddress()))) {
                try {
                    // Without the scope: the address as it goes on the wire and as peers compare it.
                    return InetAddress.getByAddress(a.getAddress());
                } catch (UnknownHostException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        throw new IllegalArgumentException("interface " + interfaceName + " has no " + (ipv6 ? linkLocal
                ? "IPv6 link-local" : "global IPv6" : "IPv4") + " address of its own to send advertisements from: add one");
    }

    private static List<InetAddress> concat(List<InetAddress> a, List<InetAddress> b) {
        List<InetAddress> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }
}

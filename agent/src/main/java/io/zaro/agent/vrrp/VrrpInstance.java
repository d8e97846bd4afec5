package io.zaro.agent.vrrp;

import io.zaro.rawip.Ipv4Datagram;
import io.zaro.rawip.RawIpv4Socket;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One IPv4 virtual router on one interface: the state machine ({@link VirtualRouter}) driven by
 * a raw socket of IP protocol 112, multicast to 224.0.0.18 (RFC 5798 section 5.1.1.2), on a
 * thread of its own. Received advertisements are checked as section 7.1 asks (TTL 255,
 * checksum, version, VRID) before the state machine sees them.
 */
public final class VrrpInstance implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VrrpInstance.class);
    /** Section 5.1.1.2: the IPv4 multicast address of VRRP. */
    public static final Inet4Address GROUP = (Inet4Address) literal("224.0.0.18");

    private final VirtualRouter.Settings settings;
    private final List<InetAddress> vips;
    private final String interfaceName;
    private final Consumer<VirtualRouter.State> onTransition;
    private final RawIpv4Socket socket;
    private final VirtualRouter router;
    private final Thread thread;
    private final List<String> tracked;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean running;
    private long discarded;
    /** A handover asked for by another thread, answered by the VRRP thread (which owns the router). */
    private final java.util.concurrent.atomic.AtomicReference<java.util.concurrent.CompletableFuture<Boolean>> handover =
            new java.util.concurrent.atomic.AtomicReference<>();

    /**
     * @param onTransition called on the instance's thread after each change of state, with the new state
     */
    public VrrpInstance(String interfaceName, VirtualRouter.Settings settings, List<InetAddress> vips,
                        Consumer<VirtualRouter.State> onTransition) {
        this(interfaceName, settings, vips, List.of(), onTransition);
    }

    /**
     * @param tracked interfaces that must be up (besides {@code interfaceName}); while one is
     *     down the router is in FAULT
     */
    public VrrpInstance(String interfaceName, VirtualRouter.Settings settings, List<InetAddress> vips, List<String> tracked,
                        Consumer<VirtualRouter.State> onTransition) {
        java.util.LinkedHashSet<String> all = new java.util.LinkedHashSet<>();
        all.add(interfaceName);
        all.addAll(tracked);
        this.tracked = List.copyOf(all);
        if (!(settings.primaryAddress() instanceof Inet4Address primary)) {
            throw new IllegalArgumentException("this VRRP instance speaks IPv4; the primary address must be IPv4");
        }
        this.interfaceName = interfaceName;
        this.settings = settings;
        this.vips = List.copyOf(vips);
        this.onTransition = onTransition;
        this.socket = RawIpv4Socket.open(interfaceName, primary, Advertisement.IP_PROTOCOL, GROUP);
        this.router = new VirtualRouter(settings, new VirtualRouter.Actions() {
            @Override
            public void sendAdvertisement(int priority) {
                Advertisement adv = new Advertisement(settings.virtualRouterId(), priority, settings.advertIntervalCentis(),
                        VrrpInstance.this.vips);
                socket.send(GROUP, adv.encode(primary, GROUP));
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
    public java.util.concurrent.CompletableFuture<Boolean> handover() {
        java.util.concurrent.CompletableFuture<Boolean> f = new java.util.concurrent.CompletableFuture<>();
        handover.set(f);
        return f;
    }

    public void start() {
        running = true;
        thread.start();
    }

    public VirtualRouter.State state() {
        return router.state();
    }

    public Throwable failure() {
        return failure.get();
    }

    private void run() {
        try {
            String down = firstDown();
            if (down == null) {
                router.startup(System.nanoTime());
            } else {
                log.warn("VRRP {}: {} is down: FAULT", settings.virtualRouterId(), down);
                router.startup(System.nanoTime());
                router.fault(System.nanoTime());
            }
            while (running) {
                java.util.concurrent.CompletableFuture<Boolean> asked = handover.getAndSet(null);
                if (asked != null) {
                    asked.complete(router.resign(System.nanoTime(), HANDOVER_HOLDOFF.toNanos()));
                }
                track();
                long now = System.nanoTime();
                // Wake at least every 100 ms to watch the tracked interfaces.
                long wait = Math.max(1_000_000L, Math.min(router.nextDeadline() - now, 100_000_000L));
                Optional<Ipv4Datagram> d = socket.receive(Duration.ofNanos(wait));
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

    /** Not in RFC 5798, but as keepalived's track_interface: FAULT while a tracked interface is down. */
    private void track() {
        String down = firstDown();
        if (down != null && router.state() != VirtualRouter.State.FAULT) {
            log.warn("VRRP {}: {} is down: FAULT", settings.virtualRouterId(), down);
            router.fault(System.nanoTime());
        } else if (down == null && router.state() == VirtualRouter.State.FAULT) {
            log.info("VRRP {}: tracked interfaces up again", settings.virtualRouterId());
            router.recover(System.nanoTime());
        }
    }

    /** The first tracked interface that is not up ({@code /sys/class/net/IF/operstate}), or null. */
    private String firstDown() {
        for (String ifname : tracked) {
            try {
                String state = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/sys/class/net", ifname, "operstate"))
                        .get(0).strip();
                if (!state.equals("up") && !state.equals("unknown")) {
                    return ifname;
                }
            } catch (java.io.IOException | IndexOutOfBoundsException e) {
                return ifname;
            }
        }
        return null;
    }

    private void accept(Ipv4Datagram d, long now) {
        if (d.ttl() != 255) {
            discard("TTL " + d.ttl() + " is not 255");
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
    }

    private static InetAddress literal(String s) {
        try {
            return InetAddress.getByName(s);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The interface's first IPv4 address that is not a VIP: the source of advertisements. */
    public static Inet4Address primaryAddress(String interfaceName, List<InetAddress> vips) {
        java.net.NetworkInterface nif;
        try {
            nif = java.net.NetworkInterface.getByName(interfaceName);
        } catch (java.net.SocketException e) {
            throw new IllegalStateException("cannot read the addresses of " + interfaceName + ": " + e.getMessage(), e);
        }
        if (nif == null) {
            throw new IllegalArgumentException("there is no interface " + interfaceName + ": name one that `ip link` shows");
        }
        for (InetAddress a : java.util.Collections.list(nif.getInetAddresses())) {
            if (a instanceof Inet4Address v4 && !vips.contains(a)) {
                return v4;
            }
        }
        throw new IllegalArgumentException("interface " + interfaceName + " has no IPv4 address of its own to send "
                + "advertisements from: add one");
    }
}

package io.zaro.agent.cli;

import io.zaro.agent.vrrp.VirtualRouter;
import io.zaro.agent.vrrp.Vips;
import io.zaro.agent.vrrp.VrrpInstance;
import io.zaro.conntrack.filter.Cidr;
import io.zaro.agent.vrrp.TrackScripts;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code zaro vrrp}: one VRRPv3 virtual router, alone, until stopped: the agent's failover
 * without the mirroring (the agent runs the same with {@code role=vrrp}).
 */
@Command(name = "vrrp", mixinStandardHelpOptions = true,
        description = {"Run one VRRPv3 virtual router (RFC 5798), IPv4 or IPv6, on an interface until stopped: as MASTER "
                + "it holds the VIPs and announces them (gratuitous ARP, unsolicited neighbour advertisements), as BACKUP "
                + "it releases them.",
                "Interoperates with keepalived (vrrp_version 3). Needs CAP_NET_RAW and CAP_NET_ADMIN."})
public final class VrrpCommand implements Callable<Integer> {
    @Option(names = "--interface", required = true, paramLabel = "IF", description = "Interface to speak VRRP on.")
    String interfaceName;

    @Option(names = "--vrid", required = true, paramLabel = "1-255", description = "Virtual router id.")
    int vrid;

    @Option(names = "--priority", defaultValue = "100", paramLabel = "1-255",
            description = "Priority; 255 owns the addresses (default: ${DEFAULT-VALUE}).")
    int priority;

    @Option(names = "--interval", defaultValue = "100", paramLabel = "CENTISECONDS",
            description = "Advertisement interval in centiseconds, 1-4095 (default: ${DEFAULT-VALUE}, 1 s).")
    int intervalCentis;

    @Option(names = "--no-preempt", description = "Do not take over from a lower-priority master.")
    boolean noPreempt;

    @Option(names = "--track", paramLabel = "IF",
            description = "An interface that must be up (besides --interface); while one is down the router is in FAULT.")
    List<String> track = new ArrayList<>();

    @Option(names = "--track-script", paramLabel = "COMMAND",
            description = "A command run every second (words split on spaces, no shell); two failures in a row put the "
                    + "router in FAULT, two successes end it. Repeat for more.")
    List<String> trackScripts = new ArrayList<>();

    @Option(names = "--unicast-peer", paramLabel = "ADDRESS",
            description = "Advertise to this peer instead of multicast, and accept only the peers' advertisements; "
                    + "repeat for more.")
    List<String> unicastPeers = new ArrayList<>();

    @Option(names = "--vip", required = true, paramLabel = "ADDRESS/LEN",
            description = "A virtual address with its prefix length; repeat for more. VRRP speaks the family of the "
                    + "first (or of the unicast peers): the advertisements carry that family's VIPs, and the others move "
                    + "with them.")
    List<String> vips;

    @Override
    public Integer call() throws Exception {
        List<InetAddress> addresses = new ArrayList<>();
        for (String v : vips) {
            addresses.add(Cidr.literalAddress(v.contains("/") ? v.substring(0, v.indexOf('/')) : v));
        }
        List<InetAddress> peers = new ArrayList<>();
        for (String p : unicastPeers) {
            peers.add(Cidr.literalAddress(p));
        }
        boolean ipv6 = (peers.isEmpty() ? addresses.get(0) : peers.get(0)) instanceof Inet6Address;
        List<InetAddress> advertised = addresses.stream().filter(a -> a instanceof Inet6Address == ipv6).toList();
        if (advertised.isEmpty()) {
            throw new IllegalArgumentException("no --vip of the unicast peers' family for the advertisements to carry: add one");
        }
        InetAddress primary = VrrpInstance.primaryAddress(interfaceName, ipv6, addresses, peers);
        VirtualRouter.Settings settings = new VirtualRouter.Settings(vrid, priority, intervalCentis, !noPreempt, primary);
        List<TrackScripts.Script> scripts = new ArrayList<>();
        for (int i = 0; i < trackScripts.size(); i++) {
            scripts.add(new TrackScripts.Script("script-" + (i + 1), List.of(trackScripts.get(i).trim().split("\\s+"))));
        }
        VrrpInstance.Setup setup = new VrrpInstance.Setup(interfaceName, settings, advertised, peers, track,
                new TrackScripts.Settings(scripts, TrackScripts.Settings.NONE.interval(), TrackScripts.Settings.NONE.timeout(),
                        TrackScripts.Settings.NONE.fall(), TrackScripts.Settings.NONE.rise()));
        Vips holder = new Vips(interfaceName, vips.stream().map(v -> v.contains("/") ? v : v + (v.contains(":") ? "/128" : "/32"))
                .toList());
        // VIP changes run off the VRRP thread, so that `ip address` never delays an advertisement.
        ExecutorService changes = Executors.newSingleThreadExecutor();
        CountDownLatch stopping = new CountDownLatch(1);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stopping.countDown();
            try {
                stopped.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        try (VrrpInstance instance = new VrrpInstance(setup, state -> changes.submit(() -> {
            if (state == VirtualRouter.State.MASTER) {
                holder.add();
            } else {
                holder.remove();
            }
        }))) {
            instance.start();
            while (!stopping.await(1, TimeUnit.SECONDS)) {
                if (instance.failure() != null) {
                    throw new IllegalStateException("VRRP stopped: " + instance.failure().getMessage());
                }
            }
        } finally {
            changes.submit(holder::remove);
            changes.shutdown();
            changes.awaitTermination(5, TimeUnit.SECONDS);
            stopped.countDown();
        }
        return 0;
    }
}

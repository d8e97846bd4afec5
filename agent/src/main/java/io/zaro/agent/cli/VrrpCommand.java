package io.zaro.agent.cli;

import io.zaro.agent.vrrp.VirtualRouter;
import io.zaro.agent.vrrp.Vips;
import io.zaro.agent.vrrp.VrrpInstance;
import io.zaro.conntrack.filter.Cidr;
import java.net.Inet4Address;
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
 * {@code zaro vrrp}: one IPv4 VRRPv3 virtual router, alone, until stopped. The first piece of
 * failover (issue 5); the agent will run it and switch its role on its transitions.
 */
@Command(name = "vrrp", mixinStandardHelpOptions = true,
        description = {"Run one IPv4 VRRPv3 virtual router (RFC 5798) on an interface until stopped: as MASTER it "
                + "holds the VIPs and announces them with gratuitous ARP, as BACKUP it releases them.",
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

    @Option(names = "--vip", required = true, paramLabel = "ADDRESS/LEN",
            description = "A virtual IPv4 address with its prefix length; repeat for more.")
    List<String> vips;

    @Override
    public Integer call() throws Exception {
        List<InetAddress> addresses = new ArrayList<>();
        for (String v : vips) {
            String address = v.contains("/") ? v.substring(0, v.indexOf('/')) : v;
            InetAddress a = Cidr.literalAddress(address);
            if (!(a instanceof Inet4Address)) {
                throw new IllegalArgumentException("--vip " + v + " is not IPv4: this command speaks VRRP over IPv4");
            }
            addresses.add(a);
        }
        Inet4Address primary = VrrpInstance.primaryAddress(interfaceName, addresses);
        VirtualRouter.Settings settings = new VirtualRouter.Settings(vrid, priority, intervalCentis, !noPreempt, primary);
        Vips holder = new Vips(interfaceName, vips.stream().map(v -> v.contains("/") ? v : v + "/32").toList());
        // VIP changes run off the VRRP thread, so that arping never delays an advertisement.
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
        try (VrrpInstance instance = new VrrpInstance(interfaceName, settings, addresses, track, state -> changes.submit(() -> {
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

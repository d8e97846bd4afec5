package io.zaro.tests.netns;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** One network namespace of a {@link Lab}: a host, firewall or switch of a test topology. */
public final class Host {
    private final Lab lab;
    private final String name;

    Host(Lab lab, String name) {
        this.lab = lab;
        this.name = name;
    }

    /** The namespace's name as {@code ip netns} shows it. */
    public String name() {
        return name;
    }

    /** Runs a command inside this namespace. */
    public Cmd.Result exec(String... command) {
        return Cmd.run(wrap(command));
    }

    /** Runs a command inside this namespace and fails when it does. */
    public Cmd.Result execOk(String... command) {
        return exec(command).ok();
    }

    /** Runs a command inside this namespace with a time limit and standard input. */
    public Cmd.Result exec(String stdin, long timeoutSeconds, String... command) {
        return Cmd.run(wrap(command), stdin, timeoutSeconds);
    }

    /** Starts a command inside this namespace in the background; the lab kills it when closed. */
    public Process spawn(String... command) {
        return lab.spawn(wrap(command));
    }

    /** The command line that runs {@code command} inside this namespace, for callers that need the raw process. */
    public List<String> wrapCommand(String... command) {
        return wrap(command);
    }

    List<String> wrap(String... command) {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", name));
        full.addAll(Arrays.asList(command));
        return full;
    }

    public Host up(String ifname) {
        execOk("ip", "link", "set", ifname, "up");
        return this;
    }

    /** Adds an address in CIDR form; IPv6 addresses skip duplicate address detection so they work at once. */
    public Host address(String ifname, String cidr) {
        if (cidr.contains(":")) {
            execOk("ip", "-6", "addr", "add", cidr, "dev", ifname, "nodad");
        } else {
            execOk("ip", "addr", "add", cidr, "dev", ifname);
        }
        return this;
    }

    /**
     * Waits (10 s at most) until {@code ifname}'s IPv6 link-local address has passed duplicate
     * address detection: until then the kernel sends nothing from it.
     */
    public Host awaitLinkLocal(String ifname) {
        long end = System.nanoTime() + java.time.Duration.ofSeconds(10).toNanos();
        while (execOk("ip", "-6", "-br", "address", "show", "dev", ifname, "scope", "link", "-tentative").stdout().isBlank()) {
            if (System.nanoTime() > end) {
                throw new AssertionError(ifname + " in " + name + " has no usable IPv6 link-local address after 10 s");
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted", e);
            }
        }
        return this;
    }

    /** Whether {@code address} (without prefix length) is configured on {@code ifname}, as `ip address` shows it. */
    public boolean hasAddress(String ifname, String address) {
        return execOk("ip", "-br", "address", "show", "dev", ifname).stdout().contains(" " + address + "/");
    }

    public Host route(String destination, String via) {
        execOk("ip", destination.contains(":") || via.contains(":") ? "-6" : "-4", "route", "add", destination, "via", via);
        return this;
    }

    public Host sysctl(String key, String value) {
        execOk("sysctl", "-qw", key + "=" + value);
        return this;
    }

    /** Loads an nftables ruleset (the text {@code nft -f} reads). */
    public Host nft(String ruleset) {
        Cmd.run(wrap("nft", "-f", "-"), ruleset, 30).ok();
        return this;
    }

    /**
     * Makes the kernel track connections in this namespace. Conntrack hooks are registered per
     * namespace only once a rule needs them; this ruleset does, and accepts everything.
     */
    public Host enableConntrack() {
        return nft("""
                table inet zaro_track {
                  chain pre { type filter hook prerouting priority 0; ct state new,established,related,invalid accept; }
                  chain out { type filter hook output priority 0; ct state new,established,related,invalid accept; }
                }
                """);
    }

    /**
     * Turns on IPv4 and IPv6 forwarding, as on a router, and waits until each interface with a
     * global IPv6 address has a usable link-local one: the kernel sends the neighbour
     * solicitations for forwarded packets from it, and sends none while it is tentative.
     */
    public Host forwarding() {
        sysctl("net.ipv4.ip_forward", "1");
        sysctl("net.ipv6.conf.all.forwarding", "1");
        for (String line : execOk("ip", "-6", "-br", "address", "show", "scope", "global").stdout().lines().toList()) {
            if (!line.isBlank()) {
                awaitLinkLocal(line.split("\\s+")[0].split("@")[0]);
            }
        }
        return this;
    }

    @Override
    public String toString() {
        return name;
    }
}

package io.zaro.conntrack;

import io.zaro.conntrack.nfct.NfctConntrackTable;
import java.nio.file.Path;

/** Opens the kernel's conntrack table. The only entry point to the native implementation. */
public final class Conntrack {
    /** Where {@code ip netns add NAME} puts its namespaces. */
    public static final Path NETNS_DIR = Path.of("/run/netns");

    private Conntrack() {
    }

    /** The table of the network namespace this process runs in. */
    public static ConntrackTable open() {
        return NfctConntrackTable.open(null);
    }

    /** The table of the named network namespace ({@code ip netns} name), or this one's when the name is null. */
    public static ConntrackTable open(String netnsName) {
        if (netnsName == null) {
            return open();
        }
        if (netnsName.isEmpty() || netnsName.contains("/") || netnsName.equals("..")) {
            throw new IllegalArgumentException("'" + netnsName + "' is not a network namespace name");
        }
        return NfctConntrackTable.open(NETNS_DIR.resolve(netnsName));
    }
}

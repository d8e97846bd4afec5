package io.zaro.agent.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/**
 * {@code zaro demo} as the jar sees it: the demo needs the source tree (its namespaces, echo
 * clients and broker fixture live in the tests module), so the {@code ./zaro} script at the root
 * of a checkout runs {@code scripts/demo.sh} instead of the jar; an installed zaro says where.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Show a firewall pair losing its active member, with zaro's mirroring and without, in network "
                + "namespaces: a table of what the flows' users saw and a PNG timeline.",
                "Runs from a source checkout, as root: ./zaro demo [--connections N] [--udp-flows N] "
                        + "[--advert-interval SECONDS] [--png FILE] (it installs its packages and builds zaro first)."})
public final class DemoCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new IllegalStateException("the demo runs from a source checkout: run ./zaro demo at its root, as root");
    }
}

package io.zaro.conntrack.nfct;

import com.sun.jna.Native;
import io.zaro.conntrack.ConntrackException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * Creates sockets inside another network namespace. setns(2) moves only the calling thread, so
 * the work runs on a short-lived thread that enters the namespace and then ends; a netlink
 * socket stays bound to the namespace it was created in, whichever thread uses it later.
 */
final class NetnsEntry {
    private NetnsEntry() {
    }

    /** Runs {@code action} in the namespace at {@code netns} (e.g. /run/netns/NAME), or here when null. */
    static <T> T call(Path netns, Supplier<T> action) {
        if (netns == null) {
            return action.get();
        }
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<RuntimeException> failure = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                int fd = Libc.open(netns.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
                if (fd < 0) {
                    int errno = Native.getLastError();
                    throw new ConntrackException("setns", errno, "cannot open network namespace " + netns + ": "
                            + Libc.strerror(errno) + " (list them with `ip netns list`)");
                }
                try {
                    if (Libc.setns(fd, Libc.CLONE_NEWNET) != 0) {
                        int errno = Native.getLastError();
                        throw new ConntrackException("setns", errno, "cannot enter network namespace " + netns + ": "
                                + Libc.strerror(errno) + (errno == ConntrackException.EPERM ? " (run as root)" : ""));
                    }
                } finally {
                    Libc.close(fd);
                }
                result.set(action.get());
            } catch (RuntimeException e) {
                failure.set(e);
            }
        }, "zaro-netns-entry");
        t.start();
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ConntrackException("setns", 0, "interrupted while entering network namespace " + netns, e);
        }
        if (failure.get() != null) {
            throw failure.get();
        }
        return result.get();
    }
}

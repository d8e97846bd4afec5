package io.zaro.tests.netns;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** kcat (Debian's Kafka client) reading a whole topic from inside a lab namespace. */
public final class Kcat {
    private Kcat() {
    }

    /** Every record value of {@code topic}, in partition order; null for a tombstone. */
    public static List<byte[]> values(Host host, String bootstrap, String topic) {
        try {
            Process p = new ProcessBuilder(host.wrapCommand("kcat", "-b", bootstrap, "-C", "-t", topic, "-e", "-q",
                    "-f", "%R%s")).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            List<byte[]> out = new ArrayList<>();
            try (DataInputStream in = new DataInputStream(p.getInputStream())) {
                while (true) {
                    int length;
                    try {
                        length = in.readInt();
                    } catch (EOFException e) {
                        break;
                    }
                    if (length < 0) {
                        out.add(null);
                    } else {
                        byte[] value = new byte[length];
                        in.readFully(value);
                        out.add(value);
                    }
                }
            }
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("kcat failed reading " + topic);
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}

package io.zaro.conntrack;

import java.util.Arrays;

/**
 * Outcome of a batched write: for each entry, in input order, the errno the kernel answered
 * (0 when it succeeded; EEXIST when a create found the flow already there).
 */
public record BatchResult(int[] errnos) {
    public BatchResult {
        errnos = errnos.clone();
    }

    public int size() {
        return errnos.length;
    }

    public int errno(int index) {
        return errnos[index];
    }

    public int succeeded() {
        return (int) Arrays.stream(errnos).filter(e -> e == 0).count();
    }

    public int failed() {
        return size() - succeeded();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BatchResult b && Arrays.equals(errnos, b.errnos);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(errnos);
    }

    @Override
    public String toString() {
        return "BatchResult[" + succeeded() + " succeeded, " + failed() + " failed]";
    }
}

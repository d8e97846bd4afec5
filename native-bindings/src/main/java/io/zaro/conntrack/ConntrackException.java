package io.zaro.conntrack;

/**
 * A failed operation on the kernel's conntrack table: carries the operation and the errno.
 * Its message is one sentence a user can act on.
 */
public class ConntrackException extends RuntimeException {
    /** errno values the callers branch on. */
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EEXIST = 17;
    public static final int EINVAL = 22;
    public static final int ENOBUFS = 105;

    private final String operation;
    private final int errno;

    public ConntrackException(String operation, int errno, String message) {
        super(message);
        this.operation = operation;
        this.errno = errno;
    }

    public ConntrackException(String operation, int errno, String message, Throwable cause) {
        super(message, cause);
        this.operation = operation;
        this.errno = errno;
    }

    /** The operation that failed: "dump", "create", "open"... */
    public String operation() {
        return operation;
    }

    /** The errno the library reported, or 0 when the failure was not an OS error. */
    public int errno() {
        return errno;
    }

    /** The process lacks CAP_NET_ADMIN. */
    public boolean isPermissionDenied() {
        return errno == EPERM;
    }
}

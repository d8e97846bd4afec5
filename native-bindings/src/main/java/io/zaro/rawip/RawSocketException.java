package io.zaro.rawip;

/** A raw-socket call failed: the operation and the errno, with the system's text. */
public final class RawSocketException extends RuntimeException {
    public static final int EPERM = 1;
    public static final int ENODEV = 19;

    private final String operation;
    private final int errno;

    public RawSocketException(String operation, int errno, String message) {
        super(message);
        this.operation = operation;
        this.errno = errno;
    }

    public String operation() {
        return operation;
    }

    public int errno() {
        return errno;
    }
}

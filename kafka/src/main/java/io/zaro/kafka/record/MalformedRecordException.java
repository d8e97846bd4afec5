package io.zaro.kafka.record;

/** A record from the network that is not a valid zaro record; it must never be injected. */
public final class MalformedRecordException extends Exception {
    public MalformedRecordException(String message) {
        super(message);
    }

    public MalformedRecordException(String message, Throwable cause) {
        super(message, cause);
    }
}

package io.zaro.agent.vrrp;

/** A packet that is not a valid VRRPv3 advertisement (RFC 5798 section 7.1): it must be discarded. */
public final class MalformedAdvertisementException extends Exception {
    public MalformedAdvertisementException(String message) {
        super(message);
    }
}

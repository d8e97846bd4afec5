package io.zaro.tests;

import java.net.InetAddress;
import java.net.UnknownHostException;

final class Ips {
    private Ips() {
    }

    static InetAddress ip(String text) {
        try {
            return InetAddress.getByName(text);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }
}

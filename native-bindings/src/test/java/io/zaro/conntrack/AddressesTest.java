package io.zaro.conntrack;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetAddress;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AddressesTest {
    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
        "10.0.0.1, 10.0.0.1",
        "fd00:0:0:0:0:0:0:1, fd00::1",
        "0:0:0:0:0:0:0:1, ::1",
        "0:0:0:0:0:0:0:0, ::",
        "2001:db8:0:0:1:0:0:1, 2001:db8::1:0:0:1",
        "2001:db8:0:1:1:1:1:1, 2001:db8:0:1:1:1:1:1",
        "fe80:0:0:0:0:0:0:0, fe80::",
        "2001:DB8:0:0:0:0:0:ABCD, 2001:db8::abcd",
    })
    void formatsLikeNetworkTools(String input, String expected) throws Exception {
        assertEquals(expected, Addresses.text(InetAddress.getByName(input)));
    }
}

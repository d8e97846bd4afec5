package io.zaro.conntrack;

import java.util.ArrayList;
import java.util.List;

/** The kernel's {@code IPS_*} status bits of a conntrack entry (include/uapi/linux/netfilter/nf_conntrack_common.h). */
public enum Status {
    EXPECTED(0), SEEN_REPLY(1), ASSURED(2), CONFIRMED(3), SRC_NAT(4), DST_NAT(5), SEQ_ADJUST(6),
    SRC_NAT_DONE(7), DST_NAT_DONE(8), DYING(9), FIXED_TIMEOUT(10), TEMPLATE(11), NAT_CLASH(12),
    HELPER(13), OFFLOAD(14), HW_OFFLOAD(15);

    private final int bit;

    Status(int bit) {
        this.bit = bit;
    }

    public int mask() {
        return 1 << bit;
    }

    public boolean isSet(int status) {
        return (status & mask()) != 0;
    }

    public static int maskOf(Status... bits) {
        int m = 0;
        for (Status s : bits) {
            m |= s.mask();
        }
        return m;
    }

    /** The names of the bits set in {@code status}, lowest bit first; unknown bits as "BIT<n>". */
    public static List<String> names(int status) {
        List<String> out = new ArrayList<>();
        for (int bit = 0; bit < 32; bit++) {
            if ((status & (1 << bit)) == 0) {
                continue;
            }
            String name = "BIT" + bit;
            for (Status s : values()) {
                if (s.bit == bit) {
                    name = s.name();
                }
            }
            out.add(name);
        }
        return out;
    }
}

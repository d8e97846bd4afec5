package io.zaro.tests;

import static io.zaro.tests.Ips.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackException;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.Family;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.SctpInfo;
import io.zaro.conntrack.SctpState;
import io.zaro.conntrack.Status;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import io.zaro.tests.netns.ConntrackCli;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The table verbs against the kernel, each test in a fresh namespace, with conntrack-tools as the witness. */
@KernelTest
class TableKernelTest {
    private Lab lab;
    private Host host;
    private ConntrackTable table;

    @BeforeEach
    void namespace() {
        lab = new Lab();
        host = lab.host("table");
        // Labels exist only in namespaces where a rule uses them.
        host.nft("table inet zaro_labels {\n chain out { type filter hook output priority 0; ct label set 127; }\n}\n");
        table = Conntrack.open(host.name());
    }

    @AfterEach
    void cleanup() {
        if (table != null) {
            table.close();
        }
        lab.close();
    }

    /** One entry per protocol and feature, every attribute set. */
    static List<ConntrackEntry> everyAttribute() {
        int seenAssured = Status.maskOf(Status.SEEN_REPLY, Status.ASSURED);
        Tuple tcp = Tuple.ofPorts(ip("10.0.0.1"), ip("198.51.100.7"), IpProtocol.TCP, 40000, 21);
        return List.of(
                ConntrackEntry.builder(tcp).status(seenAssured)
                        .tcp(new TcpInfo(TcpState.ESTABLISHED, 7, 9,
                                TcpInfo.FLAG_WINDOW_SCALE | TcpInfo.FLAG_SACK_PERM, TcpInfo.FLAG_WINDOW_SCALE))
                        .timeout(3000).mark(0xfffffffeL).zone(4242).labels(List.of(0, 5, 64, 127))
                        .helper("ftp").build(),
                // source NAT: the reply goes to the translated address and port
                ConntrackEntry.builder(Tuple.ofPorts(ip("10.0.0.2"), ip("198.51.100.7"), IpProtocol.TCP, 40001, 443))
                        .reply(Tuple.ofPorts(ip("198.51.100.7"), ip("192.0.2.10"), IpProtocol.TCP, 443, 61001))
                        .status(seenAssured | Status.maskOf(Status.SRC_NAT, Status.SRC_NAT_DONE))
                        .tcp(TcpInfo.of(TcpState.TIME_WAIT)).timeout(100).mark(1).build(),
                ConntrackEntry.builder(Tuple.ofPorts(ip("fd00::1"), ip("2001:db8::53"), IpProtocol.UDP, 5353, 53))
                        .status(Status.SEEN_REPLY).timeout(180).zone(7).mark(3).labels(List.of(1)).build(),
                ConntrackEntry.builder(Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.UDPLITE, 1000, 2000))
                        .timeout(30).build(),
                ConntrackEntry.builder(Tuple.ofIcmp(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.ICMP, 8, 0, 4242))
                        .timeout(30).mark(9).build(),
                ConntrackEntry.builder(Tuple.ofIcmp(ip("fd00::1"), ip("fd00::2"), IpProtocol.ICMPV6, 128, 0, 77))
                        .status(Status.SEEN_REPLY).timeout(30).build(),
                ConntrackEntry.builder(Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.SCTP, 3868, 3868))
                        .status(seenAssured).sctp(new SctpInfo(SctpState.ESTABLISHED, 0xdeadbeefL, 0x01020304L))
                        .timeout(300).build(),
                ConntrackEntry.builder(Tuple.ofPorts(ip("fd00::1"), ip("fd00::2"), IpProtocol.TCP, 1, 22))
                        .status(seenAssured).tcp(TcpInfo.of(TcpState.ESTABLISHED)).timeout(600).build(),
                // GRE (CONFIG_NF_CT_PROTO_GRE): keys travel in the port fields
                ConntrackEntry.builder(Tuple.ofPorts(ip("10.0.0.1"), ip("10.0.0.2"), IpProtocol.GRE, 0x1234, 0x5678))
                        .status(Status.SEEN_REPLY).timeout(600).mark(47).build());
    }

    @Test
    void entriesZaroCreatesReadBackEqualInConntrackTools() throws Exception {
        List<ConntrackEntry> created = everyAttribute();
        created.forEach(table::create);

        try (ConnlabelConf labels = new ConnlabelConf()) {
            assertTrue(labels.usable(), "/etc/xtables/connlabel.conf exists with other names than bitN");
            Map<String, ConntrackEntry> seen = byKey(ConntrackCli.list(host));
            assertEquals(created.size(), seen.size(), "conntrack -L shows " + seen.values());
            for (ConntrackEntry want : created) {
                ConntrackEntry got = seen.get(key(want));
                assertTrue(got != null, "conntrack -L lacks " + want);
                assertWitnessed(want, got);
            }
        }

        // zaro's own read-back keeps what conntrack-tools cannot print: TCP flags, window scale, SCTP tags, status
        Map<String, ConntrackEntry> dumped = byKey(table.dump(Family.ALL));
        for (ConntrackEntry want : created) {
            ConntrackEntry got = dumped.get(key(want));
            assertEquals(want.original(), got.original());
            assertEquals(want.reply(), got.reply());
            assertEquals(want.tcp(), got.tcp(), "TCP state, flags and window scales of " + want);
            assertEquals(want.sctp(), got.sctp(), "SCTP state and tags of " + want);
            assertEquals(want.status(), got.status() & want.status(), "status bits of " + want);
            assertEquals(want.labels(), got.labels());
            assertEquals(want.helper(), got.helper());
            assertTrue(got.id() != null && got.use() != null, "kernel id and use are reported");
        }
    }

    private static void assertWitnessed(ConntrackEntry want, ConntrackEntry got) {
        String what = want.toString();
        assertEquals(want.original(), got.original(), what);
        assertEquals(want.reply(), got.reply(), what);
        int printed = Status.maskOf(Status.SEEN_REPLY, Status.ASSURED);
        assertEquals(want.status() & printed, got.status(), "ASSURED/UNREPLIED of " + what);
        assertEquals(want.mark(), got.mark(), what);
        assertEquals(want.zone(), got.zone(), what);
        assertEquals(want.labels(), got.labels(), what);
        assertEquals(want.helper(), got.helper(), what);
        assertEquals(want.tcp() == null ? null : want.tcp().state(), got.tcp() == null ? null : got.tcp().state(), what);
        assertEquals(want.sctp() == null ? null : want.sctp().state(), got.sctp() == null ? null : got.sctp().state(), what);
        assertTrue(got.timeout() <= want.timeout() && got.timeout() >= want.timeout() - 5,
                "timeout " + got.timeout() + " vs " + want.timeout() + " of " + what);
    }

    @Test
    void entriesConntrackToolsCreatesReadBackEqualInZaro() {
        host.execOk("conntrack", "-I", "-p", "tcp", "-s", "10.1.1.1", "-d", "10.1.1.2", "--sport", "1000",
                "--dport", "80", "--state", "ESTABLISHED", "-t", "500", "-u", "SEEN_REPLY,ASSURED", "-m", "77", "-w", "12");
        host.execOk("conntrack", "-I", "-p", "udp", "-s", "fd00::1", "-d", "fd00::2", "--sport", "53",
                "--dport", "5353", "-t", "60", "-m", "5");
        host.execOk("conntrack", "-I", "-p", "icmp", "-s", "10.1.1.1", "-d", "10.1.1.2", "--icmp-type", "8",
                "--icmp-code", "0", "--icmp-id", "999", "-t", "30");
        host.execOk("conntrack", "-I", "-p", "tcp", "-s", "10.1.1.3", "-d", "10.1.1.2", "--sport", "1000",
                "--dport", "80", "--state", "SYN_SENT", "-t", "100", "--reply-src", "10.1.1.2",
                "--reply-dst", "192.0.2.1", "--reply-port-src", "80", "--reply-port-dst", "30000");

        List<ConntrackEntry> witness = ConntrackCli.list(host);
        Map<String, ConntrackEntry> zaro = byKey(table.dump(Family.ALL));
        assertEquals(4, witness.size());
        assertEquals(4, zaro.size());
        for (ConntrackEntry want : witness) {
            ConntrackEntry got = zaro.get(key(want));
            assertTrue(got != null, "zaro's dump lacks " + want);
            ConntrackEntry gotComparable = got.toBuilder()
                    .status(got.status() & Status.maskOf(Status.SEEN_REPLY, Status.ASSURED))
                    .tcp(got.tcp() == null ? null : TcpInfo.of(got.tcp().state()))
                    .timeout(want.timeout()).id(null).use(want.use()).build();
            assertEquals(want, gotComparable);
            assertTrue(Math.abs(got.timeout() - want.timeout()) <= 5, "timeouts agree within 5 s");
        }
        ConntrackEntry nat = zaro.get("0/tcp src=10.1.1.3 dst=10.1.1.2 sport=1000 dport=80");
        assertTrue(nat.isSourceNat(), "the reply tuple shows the translation: " + nat);
    }

    @Test
    void getUpdateDeleteFlush() {
        List<ConntrackEntry> entries = everyAttribute();
        entries.forEach(table::create);
        ConntrackEntry first = entries.get(0);

        ConntrackEntry got = table.get(first.original(), first.zone()).orElseThrow();
        assertEquals(first.original(), got.original());
        assertEquals(first.mark(), got.mark());
        assertTrue(table.get(first.original(), first.zone() + 1).isEmpty(), "zone is part of the key");

        ConntrackEntry changed = first.toBuilder().mark(12345).timeout(77)
                .tcp(new TcpInfo(TcpState.FIN_WAIT, 7, 9, first.tcp().flagsOriginal(), first.tcp().flagsReply()))
                .labels(List.of(3)).build();
        table.update(changed);
        ConntrackEntry after = table.get(first.original(), first.zone()).orElseThrow();
        assertEquals(12345, after.mark());
        assertEquals(TcpState.FIN_WAIT, after.tcp().state());
        assertEquals(List.of(3), after.labels());
        assertTrue(after.timeout() <= 77 && after.timeout() >= 70, "timeout updated: " + after.timeout());

        ConntrackException duplicate = assertThrows(ConntrackException.class, () -> table.create(first));
        assertEquals(ConntrackException.EEXIST, duplicate.errno());
        assertEquals("create", duplicate.operation());
        ConntrackEntry absent = ConntrackEntry.builder(
                Tuple.ofPorts(ip("10.9.9.9"), ip("10.9.9.8"), IpProtocol.UDP, 1, 2)).timeout(10).build();
        ConntrackException missing = assertThrows(ConntrackException.class, () -> table.update(absent));
        assertEquals(ConntrackException.ENOENT, missing.errno());
        assertThrows(IllegalArgumentException.class,
                () -> table.create(absent.toBuilder().timeout((Long) null).build()), "a timeout is required");

        assertTrue(table.delete(first.original(), first.zone()));
        assertFalse(table.delete(first.original(), first.zone()), "deleting a missing flow is not an error");
        assertEquals(entries.size() - 1, ConntrackCli.list(host).size());

        table.flush(Family.IPV6);
        assertTrue(table.dump(Family.ALL).stream().allMatch(e -> e.family() == Family.IPV4), "IPv6 flushed only");
        assertEquals(ConntrackCli.list(host, "-f", "ipv4").size(), table.dump(Family.IPV4).size());
        table.flush(Family.ALL);
        assertEquals(List.of(), table.dump(Family.ALL));
        assertEquals(List.of(), ConntrackCli.list(host));
    }

    /** Review findings on the foundation issue (#3): each once broke the table. */
    @Test
    void expectedFlowsMappedAddressesAndReentrantCallsAreHandled() throws Exception {
        // The kernel refuses a request that changes IPS_EXPECTED (EBUSY); zaro never sends it.
        ConntrackEntry expected = ConntrackEntry.builder(Tuple.ofPorts(ip("10.5.0.1"), ip("10.5.0.2"), IpProtocol.TCP, 20, 40000))
                .status(Status.EXPECTED, Status.SEEN_REPLY).tcp(TcpInfo.of(TcpState.ESTABLISHED)).timeout(60).build();
        table.create(expected);
        table.update(expected.toBuilder().mark(5).build());
        assertEquals(5, table.get(expected.original(), 0).orElseThrow().mark());

        // An IPv6 flow with IPv4-mapped addresses stays IPv6 and does not break the dump.
        java.net.InetAddress mappedSrc = java.net.Inet6Address.getByAddress(null,
                new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, 10, 0, 0, 1}, -1);
        java.net.InetAddress mappedDst = java.net.Inet6Address.getByAddress(null,
                new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, 10, 0, 0, 2}, -1);
        ConntrackEntry mapped = ConntrackEntry.builder(Tuple.ofPorts(mappedSrc, mappedDst, IpProtocol.UDP, 1, 2))
                .timeout(60).build();
        table.create(mapped);
        List<ConntrackEntry> all = table.dump(Family.ALL);
        assertEquals(2, all.size());
        ConntrackEntry got = all.stream().filter(e -> e.family() == Family.IPV6).findFirst().orElseThrow();
        assertEquals(mapped.original(), got.original());

        // Calling the table from inside a dump consumer is refused, and the dump stays intact.
        int[] seen = {0};
        IllegalStateException reentrant = assertThrows(IllegalStateException.class, () -> table.dump(Family.ALL, e -> {
            seen[0]++;
            table.delete(e.original(), e.zone());
        }));
        assertTrue(reentrant.getMessage().contains("inside a dump consumer"), reentrant.getMessage());
        assertEquals(2, table.dump(Family.ALL).size(), "nothing deleted, and the next dump is whole");
        assertTrue(table.delete(expected.original(), 0));
        assertFalse(table.delete(expected.original(), 0), "answers are not shifted after the refused call");
    }

    @Test
    void createAllBatchesAndAnswersPerEntry() {
        List<ConntrackEntry> entries = new java.util.ArrayList<>(everyAttribute());
        for (int i = 0; i < 1000; i++) { // several datagrams' worth
            entries.add(ConntrackEntry.builder(Tuple.ofPorts(ip("fd00::1"), ip("fd00::2"), IpProtocol.UDP, 1 + i, 53))
                    .timeout(100).mark(i).build());
        }
        entries.add(everyAttribute().get(2)); // a duplicate of an earlier entry of the same batch

        io.zaro.conntrack.BatchResult result = table.createAll(entries);

        assertEquals(entries.size(), result.size());
        assertEquals(entries.size() - 1, result.succeeded());
        assertEquals(ConntrackException.EEXIST, result.errno(entries.size() - 1), "the duplicate is refused");
        Map<String, ConntrackEntry> dumped = byKey(table.dump(Family.ALL));
        assertEquals(entries.size() - 1, dumped.size());
        for (ConntrackEntry want : entries) {
            ConntrackEntry got = dumped.get(key(want));
            assertEquals(want.reply(), got.reply(), "NAT set up as for create: " + want);
            assertEquals(want.mark(), got.mark());
            assertEquals(want.labels(), got.labels());
            assertEquals(want.tcp(), got.tcp());
            assertEquals(want.status(), got.status() & want.status());
        }
        assertThrows(IllegalArgumentException.class, () -> table.createAll(List.of(
                ConntrackEntry.builder(Tuple.ofPorts(ip("10.8.0.1"), ip("10.8.0.2"), IpProtocol.UDP, 1, 2)).build())),
                "every entry needs a timeout");
    }

    @Test
    void updateAllBatchesAndAnswersPerEntry() {
        List<ConntrackEntry> entries = new java.util.ArrayList<>();
        for (int i = 0; i < 1000; i++) { // several datagrams' worth
            entries.add(ConntrackEntry.builder(Tuple.ofPorts(ip("10.9.0.1"), ip("10.9.0.2"), IpProtocol.TCP, 1 + i, 443))
                    .status(Status.SEEN_REPLY).tcp(TcpInfo.of(TcpState.SYN_RECV)).timeout(100).mark(i).build());
        }
        assertEquals(entries.size(), table.createAll(entries).succeeded());
        List<ConntrackEntry> changed = new java.util.ArrayList<>();
        for (ConntrackEntry e : entries) {
            changed.add(e.toBuilder().status(Status.SEEN_REPLY, Status.ASSURED).tcp(TcpInfo.of(TcpState.ESTABLISHED))
                    .timeout(3000).mark(e.mark() + 7).build());
        }
        ConntrackEntry missing = ConntrackEntry.builder(Tuple.ofPorts(ip("10.9.0.3"), ip("10.9.0.2"), IpProtocol.UDP, 5, 53))
                .timeout(100).build();
        changed.add(missing);

        io.zaro.conntrack.BatchResult result = table.updateAll(changed);

        assertEquals(entries.size(), result.succeeded());
        assertEquals(ConntrackException.ENOENT, result.errno(changed.size() - 1), "a missing flow is not created");
        Map<String, ConntrackEntry> dumped = byKey(table.dump(Family.ALL));
        assertEquals(entries.size(), dumped.size());
        for (ConntrackEntry want : changed.subList(0, entries.size())) {
            ConntrackEntry got = dumped.get(key(want));
            assertEquals(want.mark(), got.mark());
            assertEquals(TcpState.ESTABLISHED, got.tcp().state());
            assertTrue(Status.ASSURED.isSet(got.status()));
            assertTrue(got.timeout() > 100, "timeout updated: " + got);
        }
    }

    @Test
    void deleteAllBatchesByKeyAndAnswersPerFlow() {
        List<ConntrackEntry> entries = new java.util.ArrayList<>();
        for (int i = 0; i < 1000; i++) { // several datagrams' worth, in two zones and both families
            Tuple t = i % 2 == 0 ? Tuple.ofPorts(ip("10.9.1.1"), ip("10.9.1.2"), IpProtocol.TCP, 1 + i, 443)
                    : Tuple.ofPorts(ip("fd09::1"), ip("fd09::2"), IpProtocol.UDP, 1 + i, 53);
            entries.add(ConntrackEntry.builder(t).status(Status.SEEN_REPLY).timeout(100).zone(i % 3 == 0 ? 4 : 0)
                    .tcp(i % 2 == 0 ? TcpInfo.of(TcpState.ESTABLISHED) : null).build());
        }
        assertEquals(entries.size(), table.createAll(entries).succeeded());
        List<ConntrackEntry> doomed = new java.util.ArrayList<>();
        for (int i = 0; i < entries.size(); i += 2) {
            ConntrackEntry e = entries.get(i + (i / 2) % 2); // every other flow, TCP and UDP alike
            doomed.add(ConntrackEntry.builder(e.original()).zone(e.zone()).build()); // the key alone
        }
        ConntrackEntry otherZone = ConntrackEntry.builder(entries.get(0).original()).zone(9).build();
        doomed.add(otherZone);
        doomed.add(doomed.get(0)); // a second delete of a flow deleted earlier in the same batch

        io.zaro.conntrack.BatchResult result = table.deleteAll(doomed);

        assertEquals(doomed.size(), result.size());
        assertEquals(entries.size() / 2, result.succeeded());
        assertEquals(ConntrackException.ENOENT, result.errno(doomed.size() - 2), "the zone is part of the key");
        assertEquals(ConntrackException.ENOENT, result.errno(doomed.size() - 1), "gone already");
        Map<String, ConntrackEntry> left = byKey(table.dump(Family.ALL));
        assertEquals(entries.size() / 2, left.size());
        for (ConntrackEntry d : doomed.subList(0, entries.size() / 2)) {
            assertFalse(left.containsKey(key(d)), "deleted: " + d);
        }
        ConntrackEntry survivor = entries.stream().filter(e -> left.containsKey(key(e))).findFirst().orElseThrow();
        assertTrue(table.delete(survivor.original(), survivor.zone()), "single requests still answered after a batch");
    }

    @Test
    void dumpOf100000EntriesIsComplete() {
        int n = 100_000;
        List<ConntrackEntry> entries = new java.util.ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            entries.add(ConntrackEntry.builder(Tuple.ofPorts(ip("10.0.0.1"),
                            ip("10." + (1 + i / 65536) + "." + (i / 256 % 256) + "." + (i % 256)),
                            IpProtocol.TCP, 10000 + i % 50000, 80))
                    .status(Status.SEEN_REPLY, Status.ASSURED).tcp(TcpInfo.of(TcpState.ESTABLISHED))
                    .timeout(600).build());
        }
        assertEquals(n, table.createAll(entries).succeeded());
        long[] count = {0};
        java.util.Set<String> keys = new java.util.HashSet<>();
        table.dump(Family.ALL, e -> {
            count[0]++;
            keys.add(key(e));
        });
        assertEquals(n, count[0]);
        assertEquals(n, keys.size(), "no entry is reported twice");
        String cli = host.execOk("conntrack", "-C").stdout().trim();
        assertEquals(Integer.toString(n), cli, "conntrack -C agrees");
    }

    static String key(ConntrackEntry e) {
        return e.zone() + "/" + e.protocol() + " " + e.original();
    }

    static Map<String, ConntrackEntry> byKey(List<ConntrackEntry> entries) {
        return entries.stream().sorted(Comparator.comparing(TableKernelTest::key))
                .collect(Collectors.toMap(TableKernelTest::key, Function.identity()));
    }
}

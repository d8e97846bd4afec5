package io.zaro.tests;

import static io.zaro.tests.Ips.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.conntrack.Conntrack;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent;
import io.zaro.conntrack.ConntrackEvent.Type;
import io.zaro.conntrack.ConntrackEventListener;
import io.zaro.conntrack.ConntrackTable;
import io.zaro.conntrack.EventOptions;
import io.zaro.conntrack.EventSubscription;
import io.zaro.conntrack.Family;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import io.zaro.tests.netns.ConntrackCli;
import io.zaro.tests.netns.Host;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import java.net.InetAddress;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Events of real traffic through a firewall namespace: client -- fw -- server, IPv4 source-NATed
 * to fw's server-side address, IPv6 routed. Short conntrack timeouts on fw make flows end quickly.
 */
@KernelTest
class EventsKernelTest {
    private static final String FW_OUTSIDE_V4 = "10.10.2.1";

    private Lab lab;
    private Host client;
    private Host fw;
    private Host server;
    private ConntrackTable table;
    private final ConcurrentLinkedQueue<ConntrackEvent> events = new ConcurrentLinkedQueue<>();

    @BeforeEach
    void topology() {
        lab = new Lab();
        client = lab.host("client");
        fw = lab.host("fw");
        server = lab.host("server");
        lab.link(client, "eth0", fw, "eth0");
        lab.link(fw, "eth1", server, "eth0");
        client.address("eth0", "10.10.1.2/24").address("eth0", "fd10:1::2/64")
                .route("default", "10.10.1.1").route("default", "fd10:1::1");
        fw.address("eth0", "10.10.1.1/24").address("eth0", "fd10:1::1/64")
                .address("eth1", FW_OUTSIDE_V4 + "/24").address("eth1", "fd10:2::1/64").forwarding();
        server.address("eth0", "10.10.2.2/24").address("eth0", "fd10:2::2/64").route("default", "fd10:2::1");
        fw.nft("""
                table inet zaro_fw {
                  chain forward { type filter hook forward priority 0; policy drop;
                    ct state established,related accept
                    iifname "eth0" ct state new accept
                  }
                }
                table ip zaro_nat {
                  chain post { type nat hook postrouting priority 100; oifname "eth1" snat to 10.10.2.1; }
                }
                """);
        for (String key : List.of("icmp_timeout", "icmpv6_timeout", "udp_timeout", "udp_timeout_stream",
                "tcp_timeout_time_wait", "tcp_timeout_close", "tcp_timeout_last_ack", "tcp_timeout_fin_wait",
                "tcp_timeout_close_wait")) {
            fw.sysctl("net.netfilter.nf_conntrack_" + key, "2");
        }
        table = Conntrack.open(fw.name());
    }

    @AfterEach
    void cleanup() {
        if (table != null) {
            table.close();
        }
        lab.close();
    }

    private EventSubscription listen() {
        return table.listen(EventOptions.defaults(), new ConntrackEventListener() {
            @Override
            public void onEvent(ConntrackEvent event) {
                events.add(event);
            }

            @Override
            public void onEventLoss(long lossCount) {
                throw new AssertionError("no events may be lost here");
            }
        });
    }

    @Test
    void pingTcpAndUdpProduceNewUpdateDestroyWithTheirTuplesAndStates() throws Exception {
        try (EventSubscription sub = listen()) {
            for (String serverIp : List.of("10.10.2.2", "fd10:2::2")) {
                client.execOk("ping", "-c", "1", "-W", "2", serverIp);
                tcpExchange(serverIp, 8080);
                udpExchange(serverIp, 9999);
            }
            for (String clientIp : List.of("10.10.1.2", "fd10:1::2")) {
                boolean v4 = !clientIp.contains(":");
                String serverIp = v4 ? "10.10.2.2" : "fd10:2::2";
                IpProtocol icmp = v4 ? IpProtocol.ICMP : IpProtocol.ICMPV6;
                assertLifecycle(flow(clientIp, serverIp, icmp, 0), v4);
                List<ConntrackEvent> tcp = assertLifecycle(flow(clientIp, serverIp, IpProtocol.TCP, 8080), v4);
                assertEquals(TcpState.SYN_SENT, tcp.get(0).entry().tcp().state(), "the SYN makes a SYN_SENT flow");
                assertTrue(tcp.stream().anyMatch(e -> e.entry().tcp() != null
                        && e.entry().tcp().state() == TcpState.ESTABLISHED), "the handshake completes: " + tcp);
                assertTrue(tcp.stream().anyMatch(e -> e.entry().tcp() != null
                        && (e.entry().tcp().state() == TcpState.TIME_WAIT || e.entry().tcp().state() == TcpState.CLOSE
                        || e.entry().tcp().state() == TcpState.LAST_ACK)), "the close is seen: " + tcp);
                assertLifecycle(flow(clientIp, serverIp, IpProtocol.UDP, 9999), v4);
            }
            assertEquals(0, sub.lossCount());
        }
    }

    @Test
    void sourceNatShowsUpAsTheTranslatedReplyTuple() throws Exception {
        server.spawn("socat", "-u", "TCP-LISTEN:8081,reuseaddr", "OPEN:/dev/null");
        waitListening(server, "8081");
        Process longLived = client.spawn("sh", "-c", "sleep 30 | socat -u - TCP:10.10.2.2:8081");
        try {
            ConntrackEntry flow = poll(() -> table.dump(Family.IPV4).stream()
                    .filter(e -> e.protocol().equals(IpProtocol.TCP) && e.original().destinationPort() == 8081
                            && e.tcp() != null && e.tcp().state() == TcpState.ESTABLISHED)
                    .findFirst().orElse(null));
            assertEquals(ip("10.10.1.2"), flow.original().source());
            assertEquals(ip("10.10.2.2"), flow.reply().source());
            assertEquals(ip(FW_OUTSIDE_V4), flow.reply().destination(), "replies go to the SNAT address");
            assertTrue(flow.isSourceNat());
            ConntrackEntry witness = ConntrackCli.list(fw, "-p", "tcp", "--dport", "8081").get(0);
            assertEquals(witness.original(), flow.original());
            assertEquals(witness.reply(), flow.reply(), "conntrack -L shows the same translated reply");
        } finally {
            longLived.destroyForcibly();
        }
    }

    @Test
    void aSmallReceiveBufferProducesTheEventLossSignalAndListeningGoesOn() throws Exception {
        CountDownLatch blocked = new CountDownLatch(1);
        List<Long> losses = new CopyOnWriteArrayList<>();
        ConcurrentLinkedQueue<ConntrackEvent> seen = new ConcurrentLinkedQueue<>();
        EventOptions tiny = EventOptions.defaults().withReceiveBufferBytes(EventOptions.MIN_RECEIVE_BUFFER_BYTES);
        try (EventSubscription sub = table.listen(tiny, new ConntrackEventListener() {
            @Override
            public void onEvent(ConntrackEvent event) {
                seen.add(event);
                if (blocked.getCount() > 0) {
                    blocked.countDown();
                    sleep(500); // a slow consumer: the kernel keeps queueing meanwhile
                }
            }

            @Override
            public void onEventLoss(long lossCount) {
                losses.add(lossCount);
            }
        })) {
            for (int i = 0; i < 3000; i++) {
                table.create(ConntrackEntry.builder(Tuple.ofPorts(ip("10.20.0.1"), ip("10.20." + (i / 250) + "." + (i % 250 + 1)),
                                IpProtocol.TCP, 1000 + i, 80))
                        .tcp(TcpInfo.of(TcpState.ESTABLISHED)).timeout(60).build());
            }
            poll(() -> losses.isEmpty() ? null : losses);
            assertEquals(1L, losses.get(0), "the first overrun is counted as 1");
            assertEquals(losses.size(), sub.lossCount());
            assertTrue(seen.size() < 3000, "events were really lost: " + seen.size());
            assertTrue(seen.stream().allMatch(e -> e.originPortId() == table.portId()),
                    "our own creates carry our port id " + table.portId());

            // The socket still works after an overrun. The buffer may still be full when a probe
            // is created, and its event lost too, so probe with fresh flows until one arrives.
            boolean delivered = false;
            for (int i = 1; i <= 20 && !delivered; i++) {
                Tuple probe = Tuple.ofPorts(ip("10.21.0.1"), ip("10.21.0.2"), IpProtocol.UDP, i, 2);
                table.create(ConntrackEntry.builder(probe).timeout(60).build());
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
                while (!delivered && System.nanoTime() < deadline) {
                    delivered = seen.stream().anyMatch(e -> e.entry().original().equals(probe));
                    Thread.sleep(50);
                }
            }
            assertTrue(delivered, "events arrive again after the overrun");
        }
    }

    @Test
    void eventsCarryThePortIdOfWhoeverCausedThem() throws Exception {
        try (EventSubscription sub = listen()) {
            Tuple ours = Tuple.ofPorts(ip("10.30.0.1"), ip("10.30.0.2"), IpProtocol.UDP, 1, 2);
            table.create(ConntrackEntry.builder(ours).timeout(60).build());
            fw.execOk("conntrack", "-I", "-p", "udp", "-s", "10.30.0.3", "-d", "10.30.0.2", "--sport", "1",
                    "--dport", "2", "-t", "60");
            client.execOk("ping", "-c", "1", "-W", "2", "10.10.2.2");
            ConntrackEvent mine = poll(() -> find(e -> e.entry().original().equals(ours)));
            ConntrackEvent tool = poll(() -> find(e -> e.entry().original().source().equals(ip("10.30.0.3"))));
            ConntrackEvent traffic = poll(() -> find(e -> e.entry().protocol().equals(IpProtocol.ICMP)));
            assertEquals(table.portId(), mine.originPortId());
            assertNotEquals(0, tool.originPortId());
            assertNotEquals(table.portId(), tool.originPortId());
            assertEquals(0, traffic.originPortId(), "traffic is the kernel's own doing");
        }
    }

    // ------------------------------------------------------------------ helpers

    private void tcpExchange(String serverIp, int port) throws Exception {
        server.spawn("socat", "-u", (serverIp.contains(":") ? "TCP6-LISTEN:" : "TCP4-LISTEN:") + port + ",reuseaddr", "OPEN:/dev/null");
        waitListening(server, Integer.toString(port));
        String target = serverIp.contains(":") ? "TCP6:[" + serverIp + "]:" + port : "TCP4:" + serverIp + ":" + port;
        client.execOk("sh", "-c", "echo hello | socat -u - " + target);
    }

    private void udpExchange(String serverIp, int port) throws Exception {
        boolean v6 = serverIp.contains(":");
        server.spawn("socat", "-T", "15", (v6 ? "UDP6-RECVFROM:" : "UDP4-RECVFROM:") + port, "SYSTEM:echo pong");
        waitListening(server, Integer.toString(port));
        String target = v6 ? "UDP6:[" + serverIp + "]:" + port : "UDP4:" + serverIp + ":" + port;
        String answer = client.execOk("sh", "-c", "echo ping | socat -T 10 - " + target).stdout();
        assertEquals("pong", answer.trim());
    }

    private static void waitListening(Host host, String port) throws InterruptedException {
        for (int i = 0; i < 100; i++) {
            if (host.exec("ss", "-Hlntu", "sport = :" + port).stdout().contains(":" + port)) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("nothing listens on port " + port + " in " + host);
    }

    private static Predicate<ConntrackEvent> flow(String src, String dst, IpProtocol protocol, int dport) {
        InetAddress s = ip(src);
        InetAddress d = ip(dst);
        return e -> {
            Tuple o = e.entry().original();
            return o.source().equals(s) && o.destination().equals(d) && o.protocol().equals(protocol)
                    && (dport == 0 || o.destinationPort() == dport);
        };
    }

    /** Waits for the flow's DESTROY (dumping makes the kernel reap expired entries) and checks the event order. */
    private List<ConntrackEvent> assertLifecycle(Predicate<ConntrackEvent> flow, boolean natted) throws Exception {
        poll(() -> {
            table.dump(Family.ALL, e -> { });
            return find(flow.and(e -> e.type() == Type.DESTROY));
        });
        List<ConntrackEvent> mine = events.stream().filter(flow).toList();
        assertEquals(Type.NEW, mine.get(0).type(), "first event: " + mine);
        assertTrue(mine.stream().anyMatch(e -> e.type() == Type.UPDATE), "an UPDATE: " + mine);
        assertEquals(Type.DESTROY, mine.get(mine.size() - 1).type(), "last event: " + mine);
        assertEquals(1, mine.stream().filter(e -> e.type() == Type.NEW).count(), "one NEW: " + mine);
        for (ConntrackEvent e : mine) {
            assertEquals(0, e.originPortId(), "traffic events come from the kernel");
            assertEquals(natted, e.entry().isSourceNat(), "IPv4 is source-NATed, IPv6 is not: " + e);
            if (natted) {
                assertEquals(ip(FW_OUTSIDE_V4), e.entry().reply().destination());
            } else {
                assertEquals(e.entry().original().inverse(), e.entry().reply());
            }
        }
        return mine;
    }

    private ConntrackEvent find(Predicate<ConntrackEvent> p) {
        return events.stream().filter(p).findFirst().orElse(null);
    }

    private static <T> T poll(java.util.concurrent.Callable<T> check) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            T value = check.call();
            if (value != null) {
                return value;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("condition not met within 20 s");
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package io.zaro.tests.traffic;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Long-lived TCP connections and UDP flows for failover tests, in one process: each flow sends a
 * line, its sequence number from 0, every interval to an echo server, and appends the arrival
 * time of each echo (nanoseconds of {@link System#nanoTime()}, the machine's monotonic clock,
 * which every process on it shares), a space and the number it carried to {@code DIR/conn-I}, so
 * a test can see which flows go on and how long each stalled. TCP connections are {@code conn-0}
 * to {@code conn-(CONNECTIONS-1)}; UDP flow {@code j} (to port {@code UDP_PORT + j}) writes
 * {@code conn-(CONNECTIONS+j)}. The send time of line N is line N of {@code sent-I}, so that what
 * never came back can be counted. Runs until killed.
 *
 * <p>Usage: {@code EchoClients HOST PORT CONNECTIONS INTERVAL_MS DIR [UDP_PORT UDP_FLOWS]}
 */
public final class EchoClients {
    private EchoClients() {
    }

    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        int connections = Integer.parseInt(args[2]);
        long intervalMs = Long.parseLong(args[3]);
        Path dir = Path.of(args[4]);
        int udpPort = args.length > 6 ? Integer.parseInt(args[5]) : 0;
        int udpFlows = args.length > 6 ? Integer.parseInt(args[6]) : 0;
        for (int i = 0; i < connections; i++) {
            Socket s = new Socket();
            s.setTcpNoDelay(true);
            s.connect(new InetSocketAddress(host, port), 10_000);
            Path out = dir.resolve("conn-" + i);
            new Thread(() -> read(s, out), "echo-read-" + i).start();
            Path sent = dir.resolve("sent-" + i);
            new Thread(() -> write(s, intervalMs, sent), "echo-write-" + i).start();
        }
        for (int j = 0; j < udpFlows; j++) {
            DatagramSocket s = new DatagramSocket();
            s.connect(new InetSocketAddress(host, udpPort + j));
            Path out = dir.resolve("conn-" + (connections + j));
            new Thread(() -> receive(s, out), "echo-receive-" + j).start();
            Path sent = dir.resolve("sent-" + (connections + j));
            new Thread(() -> send(s, intervalMs, sent), "echo-send-" + j).start();
        }
        Thread.currentThread().join();
    }

    private static void read(Socket s, Path out) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
             PrintWriter times = new PrintWriter(Files.newBufferedWriter(out), false)) {
            String line;
            while ((line = in.readLine()) != null) {
                times.println(System.nanoTime() + " " + line);
                times.flush();
            }
        } catch (IOException e) {
            // the connection ended: its file simply stops growing
        }
    }

    private static void write(Socket s, long intervalMs, Path sent) {
        try (PrintWriter times = new PrintWriter(Files.newBufferedWriter(sent), false)) {
            OutputStream o = s.getOutputStream();
            for (long seq = 0; ; seq++) {
                o.write((seq + "\n").getBytes(StandardCharsets.US_ASCII));
                o.flush();
                times.println(System.nanoTime());
                times.flush();
                Thread.sleep(intervalMs);
            }
        } catch (IOException | InterruptedException e) {
            // the connection ended
        }
    }

    /** Records each datagram that comes back; an ICMP error (port unreachable while a path is down) is skipped. */
    private static void receive(DatagramSocket s, Path out) {
        byte[] buffer = new byte[64];
        try (PrintWriter times = new PrintWriter(Files.newBufferedWriter(out), false)) {
            while (true) {
                DatagramPacket p = new DatagramPacket(buffer, buffer.length);
                try {
                    s.receive(p);
                } catch (PortUnreachableException e) {
                    continue;
                }
                times.println(System.nanoTime() + " "
                        + new String(buffer, 0, p.getLength(), StandardCharsets.US_ASCII).strip());
                times.flush();
            }
        } catch (IOException e) {
            // the socket closed
        }
    }

    private static void send(DatagramSocket s, long intervalMs, Path sent) {
        try (PrintWriter times = new PrintWriter(Files.newBufferedWriter(sent), false)) {
            for (long seq = 0; ; seq++) {
                byte[] line = (seq + "\n").getBytes(StandardCharsets.US_ASCII);
                try {
                    s.send(new DatagramPacket(line, line.length));
                } catch (PortUnreachableException e) {
                    // an earlier datagram was refused: keep sending, as an application would
                }
                times.println(System.nanoTime());
                times.flush();
                Thread.sleep(intervalMs);
            }
        } catch (IOException | InterruptedException e) {
            // the socket closed
        }
    }
}

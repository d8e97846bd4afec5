package io.zaro.tests.traffic;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Long-lived TCP connections for failover tests, in one process: each connection sends a line
 * every interval to an echo server and appends the arrival time (nanoseconds, this process's
 * clock) of each echo to {@code DIR/conn-I}, so a test can see which connections go on and how
 * long each stalled. Runs until killed.
 *
 * <p>Usage: {@code EchoClients HOST PORT CONNECTIONS INTERVAL_MS DIR}
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
        for (int i = 0; i < connections; i++) {
            Socket s = new Socket();
            s.setTcpNoDelay(true);
            s.connect(new InetSocketAddress(host, port), 10_000);
            Path out = dir.resolve("conn-" + i);
            Thread reader = new Thread(() -> read(s, out), "echo-read-" + i);
            Thread writer = new Thread(() -> write(s, intervalMs), "echo-write-" + i);
            reader.start();
            writer.start();
        }
        Thread.currentThread().join();
    }

    private static void read(Socket s, Path out) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
             PrintWriter times = new PrintWriter(Files.newBufferedWriter(out), false)) {
            while (in.readLine() != null) {
                times.println(System.nanoTime());
                times.flush();
            }
        } catch (IOException e) {
            // the connection ended: its file simply stops growing
        }
    }

    private static void write(Socket s, long intervalMs) {
        try {
            OutputStream o = s.getOutputStream();
            while (true) {
                o.write("x\n".getBytes(StandardCharsets.US_ASCII));
                o.flush();
                Thread.sleep(intervalMs);
            }
        } catch (IOException | InterruptedException e) {
            // the connection ended
        }
    }
}

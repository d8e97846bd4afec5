package io.zaro.tests.demo;

import io.zaro.tests.netns.FailoverLab;
import io.zaro.tests.netns.FailoverLab.Flow;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * The demo's PNG: for each run, one row per flow (TCP connections, then UDP flows) and one cell
 * per half second from {@value #FROM_SECONDS} s to {@value #TO_SECONDS} s around the switch, its
 * colour the flow's echoes in that half second, from red (none) to green (as many as it sends).
 * Grey: before the flow's first echo (the half second that holds it included) or after the
 * measurement. A black line marks the kill, a dashed one the moment fw2 took over.
 */
final class Timeline {
    static final int FROM_SECONDS = -5;
    static final int TO_SECONDS = 12;
    private static final double BIN_SECONDS = 0.5;
    private static final int WIDTH = 1100;
    private static final int LEFT = 150;
    private static final int RIGHT = 30;
    private static final int PANEL_TITLE = 34;
    private static final int AXIS = 50;
    private static final int GROUP_GAP = 6;
    private static final Color NOT_STARTED = new Color(225, 225, 225);

    private Timeline() {
    }

    /** Draws {@code runs} one above the other into a PNG at {@code file}; {@code echoesPerSecond} is a flow's rate when nothing happens. */
    static void write(List<DemoRun> runs, double echoesPerSecond, Path file) throws IOException {
        int flows = runs.get(0).failover().flows().size();
        int row = Math.max(2, Math.min(8, 360 / Math.max(1, flows)));
        int panel = PANEL_TITLE + flows * row + GROUP_GAP + AXIS;
        int height = 50 + runs.size() * (panel + 16) + 60;
        BufferedImage image = new BufferedImage(WIDTH, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, height);
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 18));
            g.drawString("zaro demo: each flow's echoes, half second by half second, across the death of fw1", LEFT, 30);
            int top = 50;
            for (DemoRun run : runs) {
                drawPanel(g, run, top, row, echoesPerSecond);
                top += panel + 16;
            }
            drawLegend(g, top + 10);
        } finally {
            g.dispose();
        }
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        if (!ImageIO.write(image, "png", file.toFile())) {
            throw new IOException("this Java has no PNG writer");
        }
    }

    private static void drawPanel(Graphics2D g, DemoRun run, int top, int row, double echoesPerSecond) {
        int plotWidth = WIDTH - LEFT - RIGHT;
        int bins = (int) Math.round((TO_SECONDS - FROM_SECONDS) / BIN_SECONDS);
        double binWidth = (double) plotWidth / bins;
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.drawString(run.name(), LEFT, top + 20);
        int y = top + PANEL_TITLE;
        List<Flow> tcp = run.tcp();
        List<Flow> udp = run.udp();
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawString(tcp.size() + " TCP", 10, y + tcp.size() * row / 2 + 5);
        double end = run.failover().takeoverNanos() / 1e9 + FailoverLab.WINDOW_TO_SECONDS;
        y = drawRows(g, tcp, y, row, bins, binWidth, echoesPerSecond, end);
        y += GROUP_GAP;
        g.setColor(Color.BLACK);
        g.drawString(udp.size() + " UDP", 10, y + Math.max(row * udp.size(), 10) / 2 + 5);
        int bottom = drawRows(g, udp, y, row, bins, binWidth, echoesPerSecond, end);

        int kill = LEFT + (int) Math.round(-FROM_SECONDS / BIN_SECONDS * binWidth);
        int takeover = LEFT + (int) Math.round((run.failover().takeoverNanos() / 1e9 - FROM_SECONDS) / BIN_SECONDS * binWidth);
        g.setColor(Color.BLACK);
        g.setStroke(new BasicStroke(2f));
        g.drawLine(kill, top + PANEL_TITLE - 4, kill, bottom + 4);
        g.setStroke(new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
        g.drawLine(takeover, top + PANEL_TITLE - 4, takeover, bottom + 4);
        g.setStroke(new BasicStroke(1f));
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawString("fw1 killed", kill - g.getFontMetrics().stringWidth("fw1 killed") - 4, bottom + 38);
        g.drawString("fw2 took over", takeover + 4, bottom + 38);
        for (int s = FROM_SECONDS; s <= TO_SECONDS; s++) {
            int x = LEFT + (int) Math.round((s - FROM_SECONDS) / BIN_SECONDS * binWidth);
            g.drawLine(x, bottom + 2, x, bottom + 6);
            String label = s + " s";
            g.drawString(label, x - g.getFontMetrics().stringWidth(label) / 2, bottom + 20);
        }
    }

    /** One row per flow from {@code y}, measured until {@code end} s; returns the y below the last. */
    private static int drawRows(Graphics2D g, List<Flow> flows, int y, int row, int bins, double binWidth,
                                double echoesPerSecond, double end) {
        // A flow sending every 0.2 s has 2 or 3 echoes in half a second: 2 is all of them.
        double expected = Math.max(1, Math.floor(BIN_SECONDS * echoesPerSecond + 1e-9));
        for (Flow f : flows) {
            int[] counts = new int[bins];
            long first = f.echoNanos().isEmpty() ? Long.MAX_VALUE : f.echoNanos().get(0);
            for (long t : f.echoNanos()) {
                int bin = (int) Math.floor((t / 1e9 - FROM_SECONDS) / BIN_SECONDS);
                if (bin >= 0 && bin < bins) {
                    counts[bin]++;
                }
            }
            for (int b = 0; b < bins; b++) {
                double binEnd = FROM_SECONDS + (b + 1) * BIN_SECONDS;
                boolean measured = first / 1e9 < binEnd - BIN_SECONDS && binEnd <= end;
                g.setColor(measured ? rate(counts[b] / expected) : NOT_STARTED);
                int x0 = LEFT + (int) Math.round(b * binWidth);
                int x1 = LEFT + (int) Math.round((b + 1) * binWidth);
                g.fillRect(x0, y, Math.max(1, x1 - x0 - 1), Math.max(1, row - (row > 3 ? 1 : 0)));
            }
            y += row;
        }
        return y;
    }

    /** Red for none of the expected rate, through yellow, to green for all of it (or more). */
    private static Color rate(double share) {
        float s = (float) Math.max(0, Math.min(1, share));
        return Color.getHSBColor(s / 3f, 0.85f, 0.85f);
    }

    private static void drawLegend(Graphics2D g, int y) {
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.setColor(Color.BLACK);
        g.drawString("echoes in half a second, of those sent:", LEFT, y + 12);
        int x = LEFT + 250;
        for (int i = 0; i <= 100; i++) {
            g.setColor(rate(i / 100.0));
            g.fillRect(x + i * 2, y, 2, 16);
        }
        g.setColor(Color.BLACK);
        g.drawString("none", x - 2, y + 30);
        g.drawString("all", x + 196, y + 30);
        g.setColor(NOT_STARTED);
        g.fillRect(x + 260, y, 16, 16);
        g.setColor(Color.BLACK);
        g.drawString("before the flow's first echo, or after the measurement", x + 282, y + 12);
    }
}

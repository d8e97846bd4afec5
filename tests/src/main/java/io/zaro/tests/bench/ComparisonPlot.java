package io.zaro.tests.bench;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * The comparison as a PNG: one pair of bars per measure, zaro's and conntrackd's, each pair on
 * its own scale (the larger value fills the row), with the values written beside the bars and
 * whether less or more is better.
 */
final class ComparisonPlot {
    private static final int WIDTH = 1100;
    private static final int LEFT = 400;
    private static final int RIGHT = 170;
    private static final int ROW = 58;
    private static final int BAR = 20;
    private static final Color ZARO = new Color(0x1f77b4);
    private static final Color CONNTRACKD = new Color(0xff7f0e);

    /**
     * One measure: its label, unit, both values (NaN when not measured) and which way is better.
     */
    record Measure(String label, String unit, double zaro, double conntrackd, boolean lowerIsBetter) {
    }

    private ComparisonPlot() {
    }

    static void write(String title, List<Measure> measures, Path file) throws IOException {
        int height = 80 + measures.size() * ROW + 50;
        BufferedImage image = new BufferedImage(WIDTH, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, height);
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 18));
            g.drawString(title, 20, 32);
            int top = 60;
            for (Measure m : measures) {
                drawMeasure(g, m, top);
                top += ROW;
            }
            legend(g, top + 20);
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

    private static void drawMeasure(Graphics2D g, Measure m, int top) {
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        g.drawString(m.label(), 20, top + BAR);
        g.setColor(Color.GRAY);
        g.setFont(new Font(Font.SANS_SERIF, Font.ITALIC, 11));
        g.drawString(m.lowerIsBetter() ? "lower is better" : "higher is better", 20, top + BAR + 16);
        double max = Math.max(finite(m.zaro()), finite(m.conntrackd()));
        int plot = WIDTH - LEFT - RIGHT;
        bar(g, ZARO, m.zaro(), max, plot, top, m.unit());
        bar(g, CONNTRACKD, m.conntrackd(), max, plot, top + BAR + 4, m.unit());
    }

    private static void bar(Graphics2D g, Color color, double value, double max, int plot, int y, String unit) {
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        if (Double.isNaN(value)) {
            g.setColor(Color.GRAY);
            g.drawString("not measured", LEFT + 4, y + BAR - 5);
            return;
        }
        int w = max <= 0 ? 1 : (int) Math.max(1, Math.round(plot * value / max));
        g.setColor(color);
        g.fillRect(LEFT, y, w, BAR);
        g.setColor(Color.BLACK);
        g.drawString(format(value) + " " + unit, LEFT + w + 6, y + BAR - 5);
    }

    private static void legend(Graphics2D g, int y) {
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        g.setColor(ZARO);
        g.fillRect(LEFT, y - 12, 14, 14);
        g.setColor(Color.BLACK);
        g.drawString("zaro", LEFT + 20, y);
        g.setColor(CONNTRACKD);
        g.fillRect(LEFT + 90, y - 12, 14, 14);
        g.setColor(Color.BLACK);
        g.drawString("conntrackd", LEFT + 110, y);
    }

    private static double finite(double v) {
        return Double.isNaN(v) || Double.isInfinite(v) ? 0 : v;
    }

    static String format(double v) {
        if (v >= 100) {
            return String.format(Locale.ROOT, "%,.0f", v);
        }
        return String.format(Locale.ROOT, v >= 10 ? "%.1f" : "%.2f", v);
    }
}

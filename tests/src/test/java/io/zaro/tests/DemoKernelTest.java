package io.zaro.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zaro.tests.demo.DemoRun;
import io.zaro.tests.demo.FailoverDemo;
import io.zaro.tests.netns.FailoverLab.Flow;
import io.zaro.tests.netns.KernelTest;
import io.zaro.tests.netns.Lab;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The death of the active firewall (issue 5), as {@code zaro demo} shows it (issue 6): in
 * FailoverLab's topology (strict ruleset, {@code nf_conntrack_tcp_loose=0}, SNAT to a VIP), 100
 * long-lived TCP connections and 3 UDP flows send a request every 0.2 s; fw1's agent is killed
 * with -9 and its links taken down; fw2 takes over (advertisements every 0.2 s). With mirroring
 * every flow goes on and no TCP request is lost; without (fw2 follows topics fw1 never writes),
 * every TCP connection dies, as fw2's kernel marks its packets INVALID, and its requests are
 * lost. (UDP needs no mirroring to pass a ruleset that lets the client start flows: the control
 * asserts nothing of it.) The demo's table and PNG say the same.
 */
@KernelTest
class DemoKernelTest {
    @Test
    void withMirroringEveryConnectionSurvivesTheActivesDeathAndWithoutTheTcpConnectionsDie(@TempDir Path dir)
            throws Exception {
        Path png = dir.resolve("timeline.png");
        FailoverDemo.Result r = FailoverDemo.run(100, 3, 20, png, System.err);
        String table = FailoverDemo.table(r);
        System.out.println(table);

        DemoRun mirrored = r.mirrored();
        for (Flow f : mirrored.failover().flows()) {
            assertTrue(f.wentOn(), "flow " + f.index() + " went on through fw2: " + f.echoesAfter() + " echoes after the takeover");
        }
        for (Flow f : mirrored.tcp()) {
            assertEquals(0, f.requestsLost(), "connection " + f.index() + " lost no request");
            assertTrue(f.requestsSent() > 30, "connection " + f.index() + " sent through the failover");
        }
        for (Flow f : r.control().tcp()) {
            assertEquals(0, f.echoesAfter(), "connection " + f.index() + " cannot pass fw2 without its conntrack entry");
            assertTrue(f.requestsLost() > 20, "connection " + f.index() + "'s requests after the kill are lost");
        }

        String[] rows = table.split("\\R");
        assertTrue(rows[2].matches("\\| connections surviving the failover +\\| TCP 100/100, UDP 3/3 +\\| TCP 0/100, UDP \\d/3 +\\|"),
                rows[2]);
        assertTrue(rows[4].contains("| TCP 0 of "), rows[4]);
        assertTrue(rows[5].contains("none resumed") || rows[5].contains("never"), rows[5]);

        BufferedImage image = ImageIO.read(png.toFile());
        assertNotNull(image, "the timeline is a PNG");
        assertEquals(1100, image.getWidth());
        assertTrue(count(image, 0f) > 1000, "the timeline shows dead flows in red");
        assertTrue(count(image, 1f / 3f) > 1000, "the timeline shows live flows in green");
        assertTrue(Lab.existingNamespaces().stream().noneMatch(n -> n.startsWith(Lab.PREFIX + ProcessHandle.current().pid() + "-")),
                "the demo removed its namespaces");
    }

    /** Pixels of the timeline's colour for a hue (0 red, 1/3 green). */
    private static long count(BufferedImage image, float hue) {
        int rgb = java.awt.Color.getHSBColor(hue, 0.85f, 0.85f).getRGB();
        long n = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                if (image.getRGB(x, y) == rgb) {
                    n++;
                }
            }
        }
        return n;
    }
}

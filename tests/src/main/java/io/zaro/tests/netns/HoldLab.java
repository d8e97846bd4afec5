package io.zaro.tests.netns;

/**
 * Builds a small lab, prints its namespace names and waits to be stopped: lets the harness's own
 * test check what happens to the namespaces when a run is terminated or killed.
 */
public final class HoldLab {
    private HoldLab() {
    }

    public static void main(String[] args) throws InterruptedException {
        Lab lab = new Lab();
        Host a = lab.host("holda");
        Host b = lab.host("holdb");
        lab.link(a, "eth0", b, "eth0");
        System.out.println(a.name() + " " + b.name());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}

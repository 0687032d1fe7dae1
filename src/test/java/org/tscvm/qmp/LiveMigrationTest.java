package org.tscvm.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Migration end to end: two tscvm processes (the command line's main class on this build's
 * class path), the destination started with {@code -incoming tcp:127.0.0.1:PORT}, the source
 * told {@code migrate tcp:127.0.0.1:PORT} over QMP while guests/ticker.c ticks. The guest must
 * continue at the destination where it stopped at the source: the next tick number, no new
 * boot line; the source stays in postmigrate; both end with status 0 on quit. On both clocks.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class LiveMigrationTest {
    private static final long WAIT_SECONDS = 40;

    @TempDir
    Path dir;

    private final List<Process> processes = new ArrayList<>();
    /** Each process's console reader, which ends once it has read the last line. */
    private final Map<Process, Thread> readers = new HashMap<>();

    @AfterEach
    void killLeftovers() {
        processes.forEach(Process::destroyForcibly);
    }

    private Process tscvm(List<String> console, String... options) throws IOException {
        return tscvmWith("ticker", console, options);
    }

    private Process tscvmWith(String guest, List<String> console, String... options) throws IOException {
        Path kernel = Path.of(System.getProperty("tscvm.guests", "target/guests"), guest + ".elf");
        assumeTrue(Files.isRegularFile(kernel), "guest kernel " + kernel + " was not built");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "org.tscvm.cli.Main", "run", "--timeout", "120",
                "-kernel", kernel.toString()));
        command.addAll(List.of(options));
        Process p = new ProcessBuilder(command).redirectError(dir.resolve("err-" + processes.size() + ".txt").toFile()).start();
        processes.add(p);
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII))) {
                String line;
                while ((line = r.readLine()) != null) {
                    synchronized (console) {
                        console.add(line.strip());
                    }
                }
            } catch (IOException e) {
                // the process ended
            }
        });
        t.setDaemon(true);
        t.start();
        readers.put(p, t);
        return p;
    }

    /**
     * Quits {@code p} over {@code monitor} and waits until its console has been read to the end:
     * only then does the console list hold every line it printed (its reader thread may lag
     * behind the process, far behind on a loaded machine).
     */
    private void quitAndDrain(QmpClient monitor, Process p) throws Exception {
        monitor.execute("quit", null);
        assertThat(p.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
        Thread reader = readers.get(p);
        reader.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
        assertThat(reader.isAlive()).as("the console reader reached the end").isFalse();
    }

    private static List<String> copy(List<String> console) {
        synchronized (console) {
            return new ArrayList<>(console);
        }
    }

    private static long lastTick(List<String> console) {
        long last = -1;
        for (String l : copy(console)) {
            if (l.startsWith("tick ")) {
                last = Long.parseLong(l.substring(5));
            }
        }
        return last;
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(10);
        }
    }

    @SuppressWarnings("unchecked")
    private static String status(QmpClient c) throws Exception {
        return (String) ((Map<String, Object>) QmpClient.returned(c.execute("query-status", null))).get("status");
    }

    private static Map<String, Object> awaitMigration(QmpClient c, String status) throws Exception {
        return c.awaitMigration(status, WAIT_SECONDS);
    }

    @ParameterizedTest
    @ValueSource(strings = {"real", "deterministic"})
    void theGuestContinuesAtTheDestinationWhereItStoppedAtTheSource(String clock) throws Exception {
        int port = QmpClient.freePort();
        Path srcSocket = dir.resolve("src.sock");
        Path dstSocket = dir.resolve("dst.sock");
        List<String> srcConsole = new ArrayList<>();
        List<String> dstConsole = new ArrayList<>();
        Process dst = tscvm(dstConsole, "--clock", clock, "-qmp", "unix:" + dstSocket + ",server=on,wait=off",
                "-incoming", "tcp:127.0.0.1:" + port);
        Process src = tscvm(srcConsole, "--clock", clock, "-qmp", "unix:" + srcSocket + ",server=on,wait=off");
        await("both monitors", () -> Files.exists(srcSocket) && Files.exists(dstSocket));
        await("the source's ticks", () -> lastTick(srcConsole) >= 5);

        try (QmpClient s = QmpClient.negotiated(srcSocket); QmpClient d = QmpClient.negotiated(dstSocket)) {
            assertThat(status(d)).isEqualTo("inmigrate");
            assertThat(s.execute("migrate", Map.of("uri", "tcp:127.0.0.1:" + port))).containsKey("return");
            Map<String, Object> done = awaitMigration(s, "completed");
            assertThat(done).containsKeys("total-time", "downtime");
            assertThat(status(s)).isEqualTo("postmigrate");
            Thread.sleep(200); // a source that ran on would print more ticks meanwhile
            assertThat(status(s)).isEqualTo("postmigrate");
            // Every tick the source printed, read to the end: what the console list held when
            // the migration completed could lag behind the source's output.
            quitAndDrain(s, src);
            long lastAtSource = lastTick(srcConsole);
            awaitMigration(d, "completed");
            await("ticks at the destination", () -> lastTick(dstConsole) > lastAtSource + 2);
            List<String> dstLines = copy(dstConsole);
            assertThat(dstLines).noneMatch(l -> l.startsWith("ticker: boot"));
            // Also shows the source stayed stopped: one more tick there would equal this one.
            assertThat(dstLines.stream().filter(l -> l.startsWith("tick ")).findFirst())
                    .as("the destination's first tick follows the source's last").hasValue("tick " + (lastAtSource + 1));
            assertThat(status(d)).isEqualTo("running");
            d.execute("quit", null);
        }
        assertThat(src.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
        assertThat(dst.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
        assertThat(src.exitValue()).as(Files.readString(dir.resolve("err-1.txt"))).isZero();
        assertThat(dst.exitValue()).as(Files.readString(dir.resolve("err-0.txt"))).isZero();
    }

    private static long lastRound(List<String> console) {
        long last = 0;
        for (String l : copy(console)) {
            if (l.startsWith("round ")) {
                last = Long.parseLong(l.substring(6, l.indexOf(':')));
            }
        }
        return last;
    }

    /**
     * timekeeper.elf on 4 vCPUs and 256 MiB moves mid-run to a destination whose host clock has
     * another rate and TSC_ADJUST: every vCPU goes on checking its TSC against its own and every
     * other vCPU's readings, TSC_ADJUST and TSC_AUX, its TSC-deadline timer and its memory,
     * and the destination finishes the rounds with nothing gone wrong (issue 10 §4's kernel). The
     * copy is pre-copy with a 5 ms downtime limit, so RAM goes in several rounds while the guest
     * rewrites its region; the guest checks every word of that region each round after it.
     */
    @ParameterizedTest
    @ValueSource(strings = {"real", "deterministic"})
    void timekeeperOnFourVcpusNoticesNothingAcrossAMigrationToAnotherHostClock(String clock) throws Exception {
        int port = QmpClient.freePort();
        Path srcSocket = dir.resolve("src.sock");
        Path dstSocket = dir.resolve("dst.sock");
        List<String> srcConsole = new ArrayList<>();
        List<String> dstConsole = new ArrayList<>();
        String[] machine = {"--clock", clock, "-smp", "4", "-m", "256M", "-append", "rounds=12 mem=16"};
        List<String> dstOptions = new ArrayList<>(List.of(machine));
        dstOptions.addAll(List.of("--host-khz", "3100000", "--host-tsc-adjust", "-123456789",
                "-qmp", "unix:" + dstSocket + ",server=on,wait=off", "-incoming", "tcp:127.0.0.1:" + port));
        List<String> srcOptions = new ArrayList<>(List.of(machine));
        srcOptions.addAll(List.of("-qmp", "unix:" + srcSocket + ",server=on,wait=off"));
        Process dst = tscvmWith("timekeeper", dstConsole, dstOptions.toArray(new String[0]));
        Process src = tscvmWith("timekeeper", srcConsole, srcOptions.toArray(new String[0]));
        await("both monitors", () -> Files.exists(srcSocket) && Files.exists(dstSocket));
        await("the source's rounds", () -> lastRound(srcConsole) >= 3);

        try (QmpClient s = QmpClient.negotiated(srcSocket); QmpClient d = QmpClient.negotiated(dstSocket)) {
            assertThat(s.execute("migrate-set-parameters", Map.of("downtime-limit", 5L))).containsKey("return");
            assertThat(s.execute("migrate", Map.of("uri", "tcp:127.0.0.1:" + port))).containsKey("return");
            Map<String, Object> done = awaitMigration(s, "completed");
            @SuppressWarnings("unchecked")
            Map<String, Object> ram = (Map<String, Object>) done.get("ram");
            assertThat((Long) ram.get("dirty-sync-count")).as(done.toString()).isGreaterThanOrEqualTo(2L);
            assertThat(ram.get("total")).isEqualTo(256L << 20);
            long lastAtSource = lastRound(srcConsole);
            assertThat(lastAtSource).as("migrated mid-run").isLessThan(12);
            awaitMigration(d, "completed");
            assertThat(dst.waitFor(2 * WAIT_SECONDS, TimeUnit.SECONDS)).as("the destination finishes").isTrue();
            s.execute("quit", null);
        }
        assertThat(src.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
        List<String> dstLines = copy(dstConsole);
        assertThat(dstLines).as(String.join("\n", dstLines)).noneMatch(l -> l.startsWith("FAIL"))
                .contains("SUMMARY: 3 tests, 0 failures").anyMatch(l -> l.startsWith("round 12:"));
        assertThat(dstLines).noneMatch(l -> l.startsWith("timekeeper:")); // no second boot
        assertThat(dst.exitValue()).as("isa-debug-exit: every check passed").isEqualTo(1);
        assertThat(copy(srcConsole)).noneMatch(l -> l.startsWith("FAIL"));
    }

    /** One connection from a local port to the destination's, carrying the source's bytes at most {@code bytesPerSecond}: a slow link. */
    private static final class SlowLink implements AutoCloseable {
        private final ServerSocket listener = new ServerSocket(0);
        private final AtomicLong forwarded = new AtomicLong();
        private volatile Socket from;
        private volatile Socket to;

        SlowLink(int destinationPort, long bytesPerSecond) throws IOException {
            Thread t = new Thread(() -> {
                try {
                    from = listener.accept();
                    to = new Socket("127.0.0.1", destinationPort);
                    Thread back = new Thread(() -> pump(to, from, Long.MAX_VALUE, null));
                    back.setDaemon(true);
                    back.start();
                    pump(from, to, bytesPerSecond, forwarded);
                } catch (IOException e) {
                    // the test ended
                }
            });
            t.setDaemon(true);
            t.start();
        }

        /** Copies until either side ends, then closes both: the other side sees the stream end where it ended. */
        private void pump(Socket in, Socket out, long bytesPerSecond, AtomicLong count) {
            byte[] b = new byte[8192];
            long start = System.nanoTime();
            long total = 0;
            try {
                int n;
                while ((n = in.getInputStream().read(b)) > 0) {
                    out.getOutputStream().write(b, 0, n);
                    total += n;
                    if (count != null) {
                        count.set(total);
                    }
                    long due = start + total * 1_000_000_000L / bytesPerSecond;
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                    }
                }
            } catch (IOException | InterruptedException e) {
                // one side went away
            } finally {
                close();
            }
        }

        int port() {
            return listener.getLocalPort();
        }

        long forwarded() {
            return forwarded.get();
        }

        @Override
        public void close() {
            for (java.io.Closeable c : new java.io.Closeable[] {listener, from, to}) {
                try {
                    if (c != null) {
                        c.close();
                    }
                } catch (IOException e) {
                    // closed already
                }
            }
        }
    }

    /**
     * migrate_cancel while a pre-copy over a slow link is in its first round: the source says
     * cancelling, then cancelled (query-migrate and MIGRATION events), its guest never stopped
     * and goes on; the destination, whose stream ends half-way, refuses it with status 44 and
     * the reason on stderr, and never ran the guest (not a line on its console).
     */
    @Test
    void aCancelledMigrationRunsOnAtTheSourceAndTheDestinationRefusesTheIncompleteStream() throws Exception {
        int port = QmpClient.freePort();
        Path srcSocket = dir.resolve("src.sock");
        Path dstSocket = dir.resolve("dst.sock");
        List<String> srcConsole = new ArrayList<>();
        List<String> dstConsole = new ArrayList<>();
        String[] machine = {"-m", "64M", "-append", "rounds=0 mem=16"};
        List<String> dstOptions = new ArrayList<>(List.of(machine));
        dstOptions.addAll(List.of("-qmp", "unix:" + dstSocket + ",server=on,wait=off", "-incoming", "tcp:127.0.0.1:" + port));
        List<String> srcOptions = new ArrayList<>(List.of(machine));
        srcOptions.addAll(List.of("-qmp", "unix:" + srcSocket + ",server=on,wait=off"));
        Process dst = tscvmWith("timekeeper", dstConsole, dstOptions.toArray(new String[0]));
        Process src = tscvmWith("timekeeper", srcConsole, srcOptions.toArray(new String[0]));
        await("both monitors", () -> Files.exists(srcSocket) && Files.exists(dstSocket));
        await("the source's rounds", () -> lastRound(srcConsole) >= 2);

        try (SlowLink link = new SlowLink(port, 2L << 20); QmpClient s = QmpClient.negotiated(srcSocket)) {
            assertThat(QmpClient.returned(s.execute("migrate-set-capabilities",
                    Map.of("capabilities", List.of(Map.of("capability", "events", "state", true)))))).isEqualTo(Map.of());
            assertThat(s.execute("migrate", Map.of("uri", "tcp:127.0.0.1:" + link.port()))).containsKey("return");
            await("the first MiB on the link", () -> link.forwarded() > (1 << 20));
            assertThat(QmpClient.returned(s.execute("migrate_cancel", null))).isEqualTo(Map.of());
            Map<String, Object> info = awaitMigration(s, "cancelled");
            assertThat(info).doesNotContainKey("error-desc");
            List<Object> statuses = new ArrayList<>();
            for (Map<String, Object> e : s.events) {
                assertThat(e.get("event")).as("the guest was never stopped").isNotIn("STOP", "RESUME");
                if ("MIGRATION".equals(e.get("event"))) {
                    statuses.add(((Map<?, ?>) e.get("data")).get("status"));
                }
            }
            assertThat(statuses).containsExactly("setup", "active", "cancelling", "cancelled");
            assertThat(status(s)).isEqualTo("running");
            long at = lastRound(srcConsole);
            await("rounds at the source after the cancel", () -> lastRound(srcConsole) >= at + 2);

            assertThat(dst.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)).as("the destination gives up").isTrue();
            String dstErr = Files.readString(dir.resolve("err-0.txt"));
            assertThat(dst.exitValue()).as(dstErr).isEqualTo(44);
            assertThat(dstErr).contains("tcp:127.0.0.1:" + port).contains("incomplete");
            assertThat(copy(dstConsole)).as("the destination never ran the guest").isEmpty();
            s.execute("quit", null);
        }
        assertThat(src.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
        assertThat(src.exitValue()).as(Files.readString(dir.resolve("err-1.txt"))).isZero();
        assertThat(copy(srcConsole)).noneMatch(l -> l.startsWith("FAIL"));
    }
}

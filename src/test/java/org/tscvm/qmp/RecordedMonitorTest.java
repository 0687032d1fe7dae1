package org.tscvm.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tscvm.cli.Main;

/**
 * {@code --record} with a QMP monitor: a system_reset and a quit sent at wall-clock moments
 * land in the log at a round-robin pass, and {@code --replay} repeats them there. serial_echo
 * polls COM1 for its first line and prints how many polls it took, so the output after the
 * reset depends on exactly which pass the reset took effect at.
 */
class RecordedMonitorTest {
    private static final String KERNEL = Path.of(System.getProperty("tscvm.guests", "target/guests"))
            .resolve("serial_echo.elf").toString();

    @TempDir
    Path dir;

    @Test
    void monitorActionsAreRecordedAtTheirPassAndReplayedThere() throws Exception {
        Path log = dir.resolve("run.log");
        Path socket = dir.resolve("q.sock");
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        PipedOutputStream typist = new PipedOutputStream();
        PipedInputStream stdin = new PipedInputStream(typist);
        CompletableFuture<Integer> recording = launch(stdin, console, "--record", log.toString(),
                "-qmp", "unix:" + socket + ",server=on,wait=off");
        try (QmpClient qmp = QmpClient.negotiated(awaitFile(socket))) {
            awaitCount(console, "ready", 1);
            Thread.sleep(30); // some wall-clock time the replay must not see
            assertThat(qmp.execute("system_reset", null)).containsKey("return");
            awaitCount(console, "ready", 2);
            typist.write("hello\n".getBytes(StandardCharsets.US_ASCII));
            typist.flush();
            awaitCount(console, "line 1", 1);
            assertThat(qmp.execute("quit", null)).containsKey("return");
            assertThat(recording.get(60, TimeUnit.SECONDS)).isZero();
        } finally {
            typist.close();
        }
        List<String> lines = Files.readAllLines(log);
        assertThat(lines.get(0)).isEqualTo("tscvm-replay 2");
        assertThat(lines).noneMatch(l -> l.startsWith("not-recorded"));
        assertThat(lines).filteredOn(l -> l.startsWith("monitor ")).hasSize(2);
        assertThat(lines).filteredOn(l -> l.startsWith("monitor ")).first().asString().endsWith(" system_reset");
        assertThat(lines).filteredOn(l -> l.startsWith("monitor ")).last().asString().endsWith(" quit");
        String recorded = console.toString(StandardCharsets.UTF_8);
        assertThat(recorded).contains("line 1: 5 bytes");

        // The replay, with a monitor too: it refuses a reset of its own; the log's reset and
        // quit happen where they were recorded.
        ByteArrayOutputStream replayed = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Path socket2 = dir.resolve("r.sock");
        CompletableFuture<Integer> replay = launch(InputStream.nullInputStream(), replayed, err, "--replay",
                log.toString(), "-qmp", "unix:" + socket2 + ",server=on,wait=off", "-S");
        try (QmpClient qmp = QmpClient.negotiated(awaitFile(socket2))) {
            Map<String, Object> refused = qmp.execute("system_reset", null);
            assertThat(refused).containsKey("error");
            assertThat(refused.get("error").toString()).contains("replays a recording");
            assertThat(qmp.execute("cont", null)).containsKey("return");
            assertThat(replay.get(60, TimeUnit.SECONDS)).as(err.toString(StandardCharsets.UTF_8)).isZero();
        }
        assertThat(replayed.toString(StandardCharsets.UTF_8)).isEqualTo(recorded);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("the replay repeated the recording: 3 input events");
    }

    @Test
    void aMonitorActionMovedToAnotherPassIsADivergence() throws Exception {
        Path log = dir.resolve("run.log");
        Path socket = dir.resolve("q.sock");
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        CompletableFuture<Integer> recording = launch(InputStream.nullInputStream(), console, "--record",
                log.toString(), "-qmp", "unix:" + socket + ",server=on,wait=off");
        try (QmpClient qmp = QmpClient.negotiated(awaitFile(socket))) {
            awaitCount(console, "ready", 1);
            assertThat(qmp.execute("system_reset", null)).containsKey("return");
            awaitCount(console, "ready", 2);
            assertThat(qmp.execute("quit", null)).containsKey("return");
            assertThat(recording.get(60, TimeUnit.SECONDS)).isZero();
        }
        List<String> lines = new java.util.ArrayList<>(Files.readAllLines(log));
        int reset = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).endsWith(" system_reset")) {
                reset = i;
            }
        }
        String[] w = lines.get(reset).split(" ");
        w[1] = Long.toString(Long.parseLong(w[1]) + 1); // one pass later; the counts no longer match there
        lines.set(reset, String.join(" ", w));
        Files.write(log, lines);

        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = launch(InputStream.nullInputStream(), new ByteArrayOutputStream(), err, "--replay",
                log.toString()).get(60, TimeUnit.SECONDS);
        assertThat(status).isEqualTo(org.tscvm.cli.ExitStatus.REPLAY_DIVERGED);
        assertThat(err.toString(StandardCharsets.UTF_8))
                .contains("the replay diverged at event 1 (monitor system_reset at pass " + w[1] + ")");
    }

    private CompletableFuture<Integer> launch(InputStream in, ByteArrayOutputStream out, String... extra) {
        return launch(in, out, new ByteArrayOutputStream(), extra);
    }

    private CompletableFuture<Integer> launch(InputStream in, ByteArrayOutputStream out, ByteArrayOutputStream err,
                                              String... extra) {
        List<String> args = new java.util.ArrayList<>(List.of("run", "-kernel", KERNEL, "--clock", "deterministic"));
        args.addAll(List.of(extra));
        return CompletableFuture.supplyAsync(() -> Main.execute(args.toArray(String[]::new), in,
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)));
    }

    /** The run is launched in this JVM: its socket appears once the machine is built. */
    private static Path awaitFile(Path socket) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(socket)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no QMP socket " + socket);
            }
            Thread.sleep(2);
        }
        return socket;
    }

    private static void awaitCount(ByteArrayOutputStream console, String text, int count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (occurrences(console.toString(StandardCharsets.UTF_8), text) < count) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no " + count + "x '" + text + "' on the console: " + console);
            }
            Thread.sleep(2);
        }
    }

    private static int occurrences(String s, String text) {
        int n = 0;
        for (int i = s.indexOf(text); i >= 0; i = s.indexOf(text, i + 1)) {
            n++;
        }
        return n;
    }
}

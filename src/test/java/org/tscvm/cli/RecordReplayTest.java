package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code run --record} and {@code --replay} with serial_echo.elf, which answers each input
 * line with how long it waited for it (LSR polls for the first line; for the others, halts
 * woken by COM1's interrupt and TSC cycles): its output depends on exactly when each byte
 * reached COM1, so only an exact replay repeats it. The halted lines also cover the recording
 * waiting for stdin while no vCPU can run.
 */
class RecordReplayTest {
    private static final String KERNEL = Path.of(System.getProperty("tscvm.guests", "target/guests"))
            .resolve("serial_echo.elf").toString();
    private static final List<String> LINES = List.of("hello\n", "tscvm\n", "quit\n");

    @TempDir
    Path dir;

    @Test
    void aReplayRepeatsEachRecordingBitForBitWhateverTheInputTiming() throws Exception {
        // Two recordings whose input arrives at different wall-clock times.
        Path slowFirst = dir.resolve("a.log");
        Path slowLast = dir.resolve("b.log");
        Console a = record(slowFirst, new long[] {60, 0, 5});
        Console b = record(slowLast, new long[] {0, 5, 60});
        for (Console c : List.of(a, b)) {
            assertThat(c.status).as(c.err).isEqualTo(1); // serial_echo's exit(0): (0 << 1) | 1
            assertThat(c.out).contains("line 1: 5 bytes").contains("line 3: 4 bytes");
        }
        for (Path log : List.of(slowFirst, slowLast)) {
            assertThat(Files.readAllLines(log)).filteredOn(l -> l.startsWith("serial-in ")).isNotEmpty();
            assertThat(Files.readAllLines(log).get(0)).isEqualTo("tscvm-replay 2");
        }

        // Each replays exactly, with stdin ignored (garbage offered there changes nothing).
        for (var pair : List.of(List.of(slowFirst, a), List.of(slowLast, b))) {
            Path log = (Path) pair.get(0);
            Console recorded = (Console) pair.get(1);
            Console replayed = run(new java.io.ByteArrayInputStream("garbage\nquit\n".getBytes(StandardCharsets.UTF_8)),
                    "run", "-kernel", KERNEL, "--clock", "deterministic", "--replay", log.toString());
            assertThat(replayed.status).as(replayed.err).isEqualTo(1);
            assertThat(replayed.out).isEqualTo(recorded.out);
            long events = Files.readAllLines(log).stream().filter(l -> l.startsWith("serial-in ")).count();
            assertThat(replayed.err).contains("the replay repeated the recording: " + events + " input events")
                    .contains(endField(log, "state-sha256="));
        }
    }

    @Test
    void aRecordingWithTwoVcpusReplaysExactly() throws Exception {
        Path log = dir.resolve("smp.log");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Console recorded = run(new Typist(out, new long[] {10, 0, 10}), out, "run", "-kernel", KERNEL,
                "--clock", "deterministic", "-smp", "2", "--record", log.toString());
        assertThat(recorded.status).as(recorded.err).isEqualTo(1);
        Console replayed = run(InputStream.nullInputStream(), "run", "-kernel", KERNEL, "--clock", "deterministic",
                "-smp", "2", "--replay", log.toString());
        assertThat(replayed.status).as(replayed.err).isEqualTo(1);
        assertThat(replayed.out).isEqualTo(recorded.out).contains("line 3: 4 bytes");
        assertThat(replayed.err).contains("the replay repeated the recording")
                .contains(endField(log, "state-sha256="));
    }

    @Test
    void aChangedInputByteIsADivergenceAtTheEnd() throws Exception {
        Path log = dir.resolve("r.log");
        record(log, new long[] {0, 0, 0});
        List<String> lines = new ArrayList<>(Files.readAllLines(log));
        int first = indexOf(lines, "serial-in ");
        String line = lines.get(first);
        // 'h' (68) of "hello" becomes 'j' (6a): the guest's checksum, so its output, differs.
        lines.set(first, line.replace(" 68656c6c6f", " 6a656c6c6f"));
        assertThat(lines.get(first)).isNotEqualTo(line);
        Files.write(log, lines);

        Console replayed = replay(log);
        assertThat(replayed.status).isEqualTo(ExitStatus.REPLAY_DIVERGED);
        assertThat(replayed.err).startsWith("tscvm: the replay diverged at the end of the run")
                .contains("the serial output differs");
    }

    @Test
    void aChangedInstructionCountStopsTheReplayAtThatEventNamingBothCounts() throws Exception {
        Path log = dir.resolve("r.log");
        record(log, new long[] {0, 20, 20});
        List<String> lines = new ArrayList<>(Files.readAllLines(log));
        int second = indexOf(lines, "serial-in ") + 1;
        String[] w = lines.get(second).split(" ");
        assertThat(w[0]).isEqualTo("serial-in");
        long recorded = Long.parseLong(w[3]);
        w[3] = Long.toString(recorded + 7);
        lines.set(second, String.join(" ", w));
        Files.write(log, lines);

        Console replayed = replay(log);
        assertThat(replayed.status).isEqualTo(ExitStatus.REPLAY_DIVERGED);
        assertThat(replayed.err.lines()).hasSize(1);
        assertThat(replayed.err).contains("the replay diverged at event 2 (serial-in at pass " + w[1] + ")")
                .contains("expected host clock " + w[2] + ", vCPU 0 retired " + (recorded + 7))
                .contains("found host clock " + w[2] + ", vCPU 0 retired " + recorded + " ");
        // It stopped there: the third line was never delivered.
        assertThat(replayed.out).doesNotContain("line 3");
    }

    @Test
    void aTruncatedOrForeignLogIsRefusedAsCorrupt() throws Exception {
        Path log = dir.resolve("r.log");
        record(log, new long[] {0, 0, 0});
        List<String> lines = Files.readAllLines(log);
        Path truncated = dir.resolve("truncated.log");
        Files.write(truncated, lines.subList(0, lines.size() - 1));
        Path garbage = dir.resolve("garbage.log");
        Files.write(garbage, new byte[] {0x7f, 'E', 'L', 'F', 0, 1, 2});
        Path badHex = dir.resolve("badhex.log");
        List<String> bad = new ArrayList<>(lines);
        int first = indexOf(bad, "serial-in ");
        bad.set(first, bad.get(first) + "zz");
        Files.write(badHex, bad);
        Path cut = dir.resolve("cut.log");
        byte[] whole = Files.readAllBytes(log);
        Files.write(cut, java.util.Arrays.copyOf(whole, whole.length - 10));
        Path empty = dir.resolve("empty.log");
        Files.write(empty, new byte[0]);
        Path newer = dir.resolve("newer.log");
        List<String> future = new ArrayList<>(lines);
        future.set(0, "tscvm-replay 99");
        Files.write(newer, future);

        for (Path p : List.of(truncated, cut, empty, garbage, badHex, newer)) {
            Console c = replay(p);
            assertThat(c.status).as(p + ": " + c.err).isEqualTo(ExitStatus.REPLAY_LOG_CORRUPT);
            CliRun.assertOneLine(new CliRun(c.status, c.out, c.err), "is corrupt at line");
            assertThat(c.out).isEmpty(); // refused before the machine ran
        }
        assertThat(replay(truncated).err).contains("no end line");
        assertThat(replay(cut).err).contains("the log is truncated");
        assertThat(replay(garbage).err).contains("not a tscvm replay log");
        assertThat(replay(newer).err).contains("format 99 is not one this tscvm reads");
        assertThat(replay(dir.resolve("missing.log")).status).isEqualTo(ExitStatus.FILE);
    }

    @Test
    void aLogOfAnotherMachineIsRefusedNamingTheField() throws Exception {
        Path log = dir.resolve("r.log");
        record(log, new long[] {0, 0, 0});
        Console c = run(InputStream.nullInputStream(), "run", "-kernel", KERNEL, "--clock", "deterministic",
                "-smp", "2", "--replay", log.toString());
        assertThat(c.status).isEqualTo(ExitStatus.REPLAY_CONFIG_MISMATCH);
        CliRun.assertOneLine(new CliRun(c.status, c.out, c.err), "smp recorded 1, now 2");
        assertThat(c.out).isEmpty();
    }

    @Test
    void theRealClockIsRefused() {
        for (String option : List.of("--record", "--replay")) {
            Console c = run(InputStream.nullInputStream(), "run", "-kernel", KERNEL, option,
                    dir.resolve("x.log").toString());
            assertThat(c.status).isEqualTo(ExitStatus.USAGE);
            CliRun.assertOneLine(new CliRun(c.status, c.out, c.err), option + " needs --clock deterministic");
        }
        assertThat(dir.resolve("x.log")).doesNotExist();
    }

    @Test
    void hostMistakesAreRefusedWithTheirOwnStatusAndWriteNoLog() {
        Path log = dir.resolve("x.log");
        Console unwritable = run(InputStream.nullInputStream(), "run", "-kernel", KERNEL, "--clock", "deterministic",
                "--record", dir.resolve("no-such-dir").resolve("x.log").toString());
        assertThat(unwritable.status).isEqualTo(ExitStatus.FILE);
        CliRun.assertOneLine(new CliRun(unwritable.status, unwritable.out, unwritable.err), "cannot write");

        Console noKernel = run(InputStream.nullInputStream(), "run", "-kernel", dir.resolve("none.elf").toString(),
                "--clock", "deterministic", "--record", log.toString());
        assertThat(noKernel.status).isEqualTo(ExitStatus.FILE);
        assertThat(log).doesNotExist();

        Console both = run(InputStream.nullInputStream(), "run", "-kernel", KERNEL, "--clock", "deterministic",
                "--record", log.toString(), "--replay", log.toString());
        assertThat(both.status).isEqualTo(ExitStatus.USAGE);
        Console noConsole = run(InputStream.nullInputStream(), "run", "-kernel", KERNEL, "--clock", "deterministic",
                "-serial", "none", "--record", log.toString());
        assertThat(noConsole.status).isEqualTo(ExitStatus.OPTION_VALUE);
        CliRun.assertOneLine(new CliRun(noConsole.status, noConsole.out, noConsole.err), "needs -serial stdio");
        assertThat(log).doesNotExist();
    }

    // ---------------------------------------------------------------- helpers

    private record Console(int status, String out, String err) {
    }

    private static Console record(Path log, long[] delaysMillis) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        InputStream typist = new Typist(out, delaysMillis);
        return run(typist, out, "run", "-kernel", KERNEL, "--clock", "deterministic", "--record", log.toString());
    }

    private static Console replay(Path log) {
        return run(InputStream.nullInputStream(), "run", "-kernel", KERNEL, "--clock", "deterministic",
                "--replay", log.toString());
    }

    private static Console run(InputStream in, String... args) {
        return run(in, new ByteArrayOutputStream(), args);
    }

    private static Console run(InputStream in, ByteArrayOutputStream out, String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.execute(args, in, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Console(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static int indexOf(List<String> lines, String prefix) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith(prefix)) {
                return i;
            }
        }
        throw new AssertionError("no line starting with " + prefix);
    }

    private static String endField(Path log, String key) throws Exception {
        for (String w : Files.readAllLines(log).get(Files.readAllLines(log).size() - 1).split(" ")) {
            if (w.startsWith(key)) {
                return w.substring(key.length());
            }
        }
        throw new AssertionError("no " + key + " in the end line");
    }

    /**
     * Types {@link #LINES} once the guest said it is ready (input before the guest set COM1 up
     * is lost, as on a real UART), each after its own delay: wall-clock jitter a replay must not see.
     */
    private static final class Typist extends InputStream {
        private final ByteArrayOutputStream console;
        private final long[] delays;
        private int line;

        Typist(ByteArrayOutputStream console, long[] delays) {
            this.console = console;
            this.delays = delays;
        }

        @Override
        public int read() {
            throw new UnsupportedOperationException("the pump reads blocks");
        }

        @Override
        public int read(byte[] b, int off, int len) throws java.io.IOException {
            try {
                while (!console.toString(StandardCharsets.UTF_8).contains("ready")) {
                    Thread.sleep(1);
                }
                if (line == LINES.size()) {
                    return -1;
                }
                Thread.sleep(delays[line]);
            } catch (InterruptedException e) {
                throw new java.io.InterruptedIOException();
            }
            byte[] text = LINES.get(line++).getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(text, 0, b, off, text.length);
            return text.length;
        }
    }
}

package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The real gdb (Debian's /usr/bin/gdb, batch mode) against our own guest kernel with symbols
 * (guests/debuggee.c, its NAME.elf64), booted through the command line in this JVM with
 * {@code -gdb tcp::0 -S}: the port is the one tscvm prints. Every gdb run is bounded (its own
 * remote timeout and a process deadline) and killed if it overruns; the tscvm run is bounded
 * by --timeout. Skipped where gdb is not installed.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class RealGdbTest {
    private static final Path GDB = Path.of("/usr/bin/gdb");
    private static final Pattern PORT = Pattern.compile("gdb server listening on tcp:127\\.0\\.0\\.1:(\\d+)");
    private static final long GDB_DEADLINE_SECONDS = 90;

    @TempDir
    Path dir;

    private record Session(String gdb, int status, String serial) {
    }

    private static Path kernel(String name) {
        String folder = System.getProperty("tscvm.guests", "target/guests");
        Path p = Path.of(folder, name);
        assumeTrue(Files.isRegularFile(p), "guest kernel " + p + " was not built");
        return p;
    }

    /** Boots debuggee.elf waiting for gdb, runs gdb with {@code commands} against its ELF64, and collects both ends. */
    private Session debug(List<String> tscvmOptions, String... commands) throws Exception {
        assumeTrue(Files.isExecutable(GDB), "gdb is not installed at " + GDB);
        Path serial = dir.resolve("serial.txt");
        List<String> args = new ArrayList<>(List.of("run", "-kernel", kernel("debuggee.elf").toString(),
                "-serial", "file:" + serial, "--timeout", "100", "-gdb", "tcp::0", "-S"));
        args.addAll(tscvmOptions);
        ByteArrayOutputStream err = new ByteArrayOutputStream(); // synchronized: read while written
        PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8);
        CompletableFuture<Integer> tscvm = CompletableFuture.supplyAsync(
                () -> Main.execute(args.toArray(new String[0]), new PrintStream(java.io.OutputStream.nullOutputStream()), errStream));
        int port = awaitPort(err, tscvm);
        List<String> gdbArgs = new ArrayList<>(List.of(GDB.toString(), "-batch", "-nx",
                "-ex", "set pagination off", "-ex", "set confirm off", "-ex", "set remotetimeout 30",
                "-ex", "target remote 127.0.0.1:" + port));
        for (String c : commands) {
            gdbArgs.add("-ex");
            gdbArgs.add(c);
        }
        gdbArgs.add(kernel("debuggee.elf64").toString());
        Path gdbOut = dir.resolve("gdb.txt");
        Process gdb = new ProcessBuilder(gdbArgs).redirectErrorStream(true).redirectOutput(gdbOut.toFile()).start();
        try {
            if (!gdb.waitFor(GDB_DEADLINE_SECONDS, TimeUnit.SECONDS)) {
                fail("gdb did not finish in " + GDB_DEADLINE_SECONDS + " s:\n" + Files.readString(gdbOut));
            }
        } finally {
            gdb.destroyForcibly();
        }
        int status = tscvm.get(60, TimeUnit.SECONDS);
        return new Session(Files.readString(gdbOut), status, Files.readString(serial));
    }

    private static int awaitPort(ByteArrayOutputStream err, CompletableFuture<Integer> tscvm) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            Matcher m = PORT.matcher(err.toString(StandardCharsets.UTF_8));
            if (m.find()) {
                return Integer.parseInt(m.group(1));
            }
            if (tscvm.isDone()) {
                fail("tscvm ended with status " + tscvm.get() + " before listening: " + err);
            }
            Thread.sleep(20);
        }
        fail("tscvm printed no gdb port: " + err);
        return -1;
    }

    /** The address in gdb's value history entry {@code $n} (a printed $pc). */
    private static String pc(String gdb, int n) {
        Matcher m = Pattern.compile("\\$" + n + " = \\(void \\(\\*\\)\\(\\)\\) (0x[0-9a-f]+)").matcher(gdb);
        assertThat(m.find()).as("$" + n + " in " + gdb).isTrue();
        return m.group(1);
    }

    private static void assertGuestPassedAndGdbSawTheExit(Session s) {
        assertThat(s.gdb()).contains("[Inferior 1 (Remote target) exited with code 01]");
        assertThat(s.status()).as(s.gdb()).isEqualTo(1);
        assertThat(s.serial()).contains("SUMMARY: 3 tests, 0 failures");
    }

    @ParameterizedTest
    @ValueSource(strings = {"real", "deterministic"})
    void breakAtAFunctionReadRegistersAndAGlobalStepAndContinueToTheExit(String clock) throws Exception {
        Session s = debug(List.of("--clock", clock),
                "break add_to_counter", "continue", "info registers", "print counter", "print greeting",
                "stepi", "next", "print counter", "delete", "continue");
        assertThat(s.gdb()).as(s.gdb())
                .contains("Breakpoint 1, add_to_counter (n=n@entry=1) at debuggee.c:16")
                .containsPattern("rip\\s+0x[0-9a-f]+\\s+0x[0-9a-f]+ <add_to_counter>")
                .containsPattern("eflags\\s+0x[0-9a-f]+\\s+\\[ .*\\]")
                .containsPattern("cs\\s+0x8\\s+8")
                .containsPattern("fs_base\\s+0x0\\s+0")
                .containsPattern("cr0\\s+0x8001[0-9a-f]{4}")
                .contains("$1 = 0", "$2 = \"hello from debuggee\"")
                .containsPattern("0x[0-9a-f]+\\s+16\\s+counter \\+= n;")
                .contains("17\t    return counter;")
                .contains("$3 = 1");
        assertGuestPassedAndGdbSawTheExit(s);
    }

    @Test
    void aWatchpointOnAVariableTheKernelWritesStopsWithTheOldAndNewValue() throws Exception {
        Session s = debug(List.of(), "watch counter", "continue", "continue", "delete", "continue");
        assertThat(s.gdb()).as(s.gdb())
                .contains("Hardware watchpoint 1: counter")
                .containsPattern("Old value = 0\\s+New value = 1\\s")
                .containsPattern("Old value = 1\\s+New value = 3\\s")
                .contains("add_to_counter (n=n@entry=2) at debuggee.c:17");
        assertGuestPassedAndGdbSawTheExit(s);
    }

    @ParameterizedTest
    @ValueSource(strings = {"real", "deterministic"})
    void eachVcpuIsAThreadAndGdbSwitchesAndStepsBetweenThem(String clock) throws Exception {
        // scheduler-locking step: stepi and next move the selected vCPU only (vCont;s:N), the other stays stopped.
        Session s = debug(List.of("-smp", "2", "--clock", clock), "info threads", "break second_cpu_work", "continue",
                "info threads", "print cpu", "set scheduler-locking step", "thread 1", "print $pc", "stepi",
                "print $pc", "thread 2", "print $pc", "print cpu", "next", "delete", "continue");
        assertThat(s.gdb()).as(s.gdb())
                .contains("Thread 1 (vCPU 0)", "Thread 2 (vCPU 1)")
                .contains("Thread 2 hit Breakpoint 1, second_cpu_work (cpu=1) at debuggee.c:22")
                .contains("[Switching to thread 1 (Thread 1)]", "[Switching to thread 2 (Thread 2)]")
                .containsPattern("\\$1 = 1\\s")
                .containsPattern("\\$4 = \\(void \\(\\*\\)\\(\\)\\) 0x[0-9a-f]+ <second_cpu_work>")
                .containsPattern("\\$5 = 1\\s")
                .contains("ap_main (cpu=1) at lib/smp.c:48");
        assertThat(pc(s.gdb(), 3)).as("stepi moved thread 1").isNotEqualTo(pc(s.gdb(), 2));
        assertGuestPassedAndGdbSawTheExit(s);
    }

    /** gdb's register lines (name, hex, natural) between {@code from} and {@code to} in its output. */
    private static List<String> registerLines(String gdb, String from, String to) {
        int start = gdb.indexOf(from);
        int end = gdb.indexOf(to, start);
        assertThat(start).as(from + " in " + gdb).isNotNegative();
        assertThat(end).as(to + " after " + from + " in " + gdb).isPositive();
        return gdb.substring(start, end).lines().filter(l -> l.matches("[a-z][a-z0-9_]*\\s+0x.*")).toList();
    }

    /** The default interval: one checkpoint holds the whole run; 1000: going back crosses a score of them. */
    @ParameterizedTest
    @ValueSource(strings = {"", "--reverse-interval 1000"})
    void reverseStepiReverseContinueAndAWatchpointGoBackAndTheRunOnIsTheRunWithoutGoingBack(String interval) throws Exception {
        Session straight = debug(List.of("--clock", "deterministic"), "continue");
        List<String> options = new ArrayList<>(List.of("--clock", "deterministic"));
        if (!interval.isEmpty()) {
            options.addAll(List.of(interval.split(" ")));
        }
        Session s = debug(options,
                "break add_to_counter", "continue", "continue",
                "print $pc", "info registers", "stepi", "print $pc", "reverse-stepi", "print $pc", "info registers",
                "reverse-continue", "print counter",
                // Past the printf of the guest's first line: going back crosses output already written.
                "delete", "break report", "continue",
                "watch counter", "reverse-continue", "print counter", "print $pc",
                "delete", "reverse-finish", "print counter", "reverse-continue", "print $pc",
                "continue");
        String gdb = s.gdb();
        assertThat(pc(gdb, 2)).as("stepi moved").isNotEqualTo(pc(gdb, 1));
        assertThat(pc(gdb, 3)).as("reverse-stepi came back one instruction").isEqualTo(pc(gdb, 1));
        List<String> before = registerLines(gdb, "$1 = ", "$2 = ");
        assertThat(before).as(gdb).hasSizeGreaterThan(20).anyMatch(l -> l.startsWith("rip "));
        assertThat(registerLines(gdb, "$3 = ", "Breakpoint 1, add_to_counter (n=n@entry=1)"))
                .as("every register as before the stepi").isEqualTo(before);
        assertThat(gdb).as(gdb).containsSubsequence(
                "Breakpoint 1, add_to_counter (n=n@entry=2)", "$3 = ",
                "Breakpoint 1, add_to_counter (n=n@entry=1) at debuggee.c:16", "$4 = 0\n",
                "Breakpoint 2, report (", "the counter adds up",
                // Backwards, gdb's old value is the later one: the stop is before the write of 55.
                "Hardware watchpoint 3: counter", "Old value = 55\nNew value = 45\n",
                "add_to_counter (n=n@entry=10) at debuggee.c:16", "$5 = 45\n", "$6 = (void (*)()) 0x",
                // reverse-finish: back out of the call, to the caller's call instruction.
                "in main () at debuggee.c:38", "$7 = 45\n",
                "No more reverse-execution history.", "$8 = (void (*)()) 0x",
                "[Inferior 1 (Remote target) exited with code 01]");
        assertThat(gdb).containsPattern("\\$6 = \\(void \\(\\*\\)\\(\\)\\) 0x[0-9a-f]+ <add_to_counter\\+\\d+>")
                .containsPattern("\\$8 = \\(void \\(\\*\\)\\(\\)\\) 0x[0-9a-f]+ <_start>");
        assertGuestPassedAndGdbSawTheExit(s);
        assertThat(s.serial()).as("the serial output of a run that never went back").isEqualTo(straight.serial());
    }

    @ParameterizedTest
    @ValueSource(strings = {"--clock real", "-smp 2 --clock deterministic"})
    void whereTheMachineCannotGoBackGdbSaysSoAndTheRunGoesOn(String options) throws Exception {
        Session s = debug(List.of(options.split(" ")), "break add_to_counter", "continue", "reverse-stepi",
                "reverse-continue", "print $pc", "delete", "continue");
        assertThat(s.gdb()).as(s.gdb()).containsSubsequence("Breakpoint 1, add_to_counter (n=n@entry=1)",
                "Target remote does not support this command.", "Target remote does not support this command.",
                "<add_to_counter>");
        assertGuestPassedAndGdbSawTheExit(s);
    }
}

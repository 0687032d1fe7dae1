package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Debian's socat as the QMP client, against the tscvm command line in its own JVM (the main
 * class bin/tscvm or bin/tscvm-qemu runs, on this build's class path) with {@code -qmp
 * unix:PATH,server=on,wait=off}: socat carries the JSON both ways, the test writes the
 * commands and reads the replies, and watches the guest's console (guests/ticker.c) to see
 * that stop stops it, cont resumes it and system_reset reboots it; quit must end the process
 * with status 0. Skipped where socat is not installed.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RealSocatQmpTest {
    private static final Path SOCAT = Path.of("/usr/bin/socat");
    private static final long WAIT_SECONDS = 30;

    @TempDir
    Path dir;

    private final List<Process> processes = new ArrayList<>();
    /** The tscvm process's standard output: the guest's console. */
    private final List<String> console = new ArrayList<>();
    private Process tscvm;

    @AfterEach
    void killLeftovers() {
        processes.forEach(Process::destroyForcibly);
    }

    private Process start(List<String> command, Path stderr) throws IOException {
        Process p = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
        processes.add(p);
        return p;
    }

    /** The process's standard output, line by line, into {@code lines}. */
    private static void pump(Process p, List<String> lines) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    synchronized (lines) {
                        lines.add(line.strip());
                    }
                }
            } catch (IOException e) {
                // the process ended
            }
        });
        t.setDaemon(true);
        t.start();
    }

    private static long count(List<String> lines, String prefix) {
        synchronized (lines) {
            return lines.stream().filter(l -> l.startsWith(prefix)).count();
        }
    }

    /**
     * Lines that hold {@code text} anywhere: a reset can land while the guest is half-way
     * through a line, and the new boot's first words then continue that line.
     */
    private static long countContaining(List<String> lines, String text) {
        synchronized (lines) {
            return lines.stream().filter(l -> l.contains(text)).count();
        }
    }

    private static String tail(List<String> lines) {
        synchronized (lines) {
            return String.join(" | ", lines.subList(Math.max(0, lines.size() - 8), lines.size()));
        }
    }

    private void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what + "; the console's last lines: "
                        + tail(console) + "; tscvm " + (tscvm != null && tscvm.isAlive() ? "running" : "ended"));
            }
            Thread.sleep(10);
        }
    }

    /**
     * Waits until the socket accepts a connection: its file appears when tscvm binds it, a
     * moment before it listens. The probe is a client of its own, served and gone before socat.
     */
    private static void awaitListening(Path socket) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (true) {
            try (java.nio.channels.SocketChannel probe = java.nio.channels.SocketChannel.open(
                    java.net.StandardProtocolFamily.UNIX)) {
                probe.connect(java.net.UnixDomainSocketAddress.of(socket));
                return;
            } catch (java.net.ConnectException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(20);
            }
        }
    }

    /** Lines from socat, each one QMP message. */
    private static String next(BlockingQueue<String> replies) throws InterruptedException {
        String line = replies.poll(WAIT_SECONDS, TimeUnit.SECONDS);
        assertThat(line).as("a message from tscvm through socat").isNotNull();
        return line;
    }

    /** The next message that is not an event. */
    private static String reply(BlockingQueue<String> replies, List<String> events) throws InterruptedException {
        while (true) {
            String line = next(replies);
            if (line.contains("\"event\"")) {
                events.add(line);
            } else {
                return line;
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tscvm", "tscvm-qemu", "tscvm-qemu -chardev/-mon"})
    void socatDrivesTheMonitorOfARealTscvmProcess(String frontEnd) throws Exception {
        assumeTrue(Files.isExecutable(SOCAT), "socat is not installed at " + SOCAT);
        Path kernel = Path.of(System.getProperty("tscvm.guests", "target/guests"), "ticker.elf");
        assumeTrue(Files.isRegularFile(kernel), "guest kernel " + kernel + " was not built");
        Path socket = dir.resolve("qmp.sock");
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path")));
        if (frontEnd.equals("tscvm")) {
            command.addAll(List.of(Main.class.getName(), "run", "--timeout", "100"));
        } else {
            command.add(QemuMain.class.getName());
        }
        command.addAll(List.of("-kernel", kernel.toString()));
        if (frontEnd.endsWith("-mon")) {
            command.addAll(List.of("-chardev", "socket,id=qmp0,path=" + socket + ",server=on,wait=off",
                    "-mon", "chardev=qmp0,mode=control"));
        } else {
            command.addAll(List.of("-qmp", "unix:" + socket + ",server=on,wait=off"));
        }
        tscvm = start(command, dir.resolve("tscvm.err"));
        pump(tscvm, console);
        await("tscvm's QMP socket", () -> Files.exists(socket));
        awaitListening(socket);

        Process socat = start(List.of(SOCAT.toString(), "-", "UNIX-CONNECT:" + socket), dir.resolve("socat.err"));
        BlockingQueue<String> replies = new LinkedBlockingQueue<>();
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(socat.getInputStream(), StandardCharsets.US_ASCII))) {
                String line;
                while ((line = r.readLine()) != null) {
                    replies.add(line);
                }
            } catch (IOException e) {
                // socat ended
            }
        });
        t.setDaemon(true);
        t.start();
        OutputStream toSocat = socat.getOutputStream();
        List<String> events = new ArrayList<>();
        IoSend send = text -> {
            toSocat.write((text + "\n").getBytes(StandardCharsets.US_ASCII));
            toSocat.flush();
        };

        String greeting = replies.poll(WAIT_SECONDS, TimeUnit.SECONDS);
        assertThat(greeting).as("the greeting; tscvm %s, stderr: %s; socat %s, stderr: %s",
                tscvm.isAlive() ? "running" : "ended", Files.readString(dir.resolve("tscvm.err")),
                socat.isAlive() ? "running" : "ended", Files.readString(dir.resolve("socat.err")))
                .startsWith("{\"QMP\": {\"version\": {\"qemu\": ");
        send.line("{\"execute\": \"qmp_capabilities\"}");
        assertThat(reply(replies, events)).isEqualTo("{\"return\": {}}");
        await("the guest's ticks", () -> count(console, "tick ") >= 2);

        send.line("{\"execute\": \"stop\", \"id\": 1}");
        assertThat(reply(replies, events)).isEqualTo("{\"return\": {}, \"id\": 1}");
        assertThat(events).anyMatch(e -> e.contains("\"event\": \"STOP\""));
        long stopped = count(console, "tick ");
        Thread.sleep(300);
        assertThat(count(console, "tick ")).as("ticks while stopped").isEqualTo(stopped);
        send.line("{\"execute\": \"query-status\", \"id\": 2}");
        assertThat(reply(replies, events))
                .isEqualTo("{\"return\": {\"status\": \"paused\", \"singlestep\": false, \"running\": false}, \"id\": 2}");
        send.line("{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"info registers\"}, \"id\": 3}");
        assertThat(reply(replies, events)).contains("RIP=").contains("\"id\": 3");

        send.line("{\"execute\": \"cont\", \"id\": 4}");
        assertThat(reply(replies, events)).isEqualTo("{\"return\": {}, \"id\": 4}");
        await("ticks after cont", () -> count(console, "tick ") > stopped + 1);

        send.line("{\"execute\": \"no-such-command\", \"id\": 5}");
        assertThat(reply(replies, events)).contains("\"class\": \"CommandNotFound\"").contains("\"id\": 5");
        send.line("{\"execute\": \"system_reset\", \"id\": 6}");
        assertThat(reply(replies, events)).isEqualTo("{\"return\": {}, \"id\": 6}");
        await("the second boot", () -> countContaining(console, "ticker: boot 2") == 1);

        send.line("{\"execute\": \"quit\", \"id\": 7}");
        assertThat(reply(replies, events)).isEqualTo("{\"return\": {}, \"id\": 7}");
        assertThat(tscvm.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)).as("tscvm ends after quit").isTrue();
        assertThat(tscvm.exitValue()).as(Files.readString(dir.resolve("tscvm.err"))).isZero();
        assertThat(socat.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)).as("socat sees the connection close").isTrue();
        assertThat(events).anyMatch(e -> e.contains("\"event\": \"RESUME\""))
                .anyMatch(e -> e.contains("\"event\": \"RESET\"") && e.contains("host-qmp-system-reset"))
                .anyMatch(e -> e.contains("\"event\": \"SHUTDOWN\"") && e.contains("host-qmp-quit"));
        assertThat(socket).doesNotExist();
    }

    @FunctionalInterface
    private interface IoSend {
        void line(String text) throws IOException;
    }
}

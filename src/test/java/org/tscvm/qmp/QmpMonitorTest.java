package org.tscvm.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.tscvm.qmp.QmpClient.errorClass;
import static org.tscvm.qmp.QmpClient.map;
import static org.tscvm.qmp.QmpClient.returned;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tscvm.machine.Machine;
import org.tscvm.machine.MachineConfig;
import org.tscvm.machine.RunResult;
import org.tscvm.machine.SerialTarget;
import org.tscvm.vm.VmConfig;

/**
 * The QMP monitor against a running machine: guests/ticker.c prints "ticker: boot N" once per
 * boot and "tick K" every 20 ms of guest time, so the guest's own output (and the vCPU's
 * retired-instruction count) shows whether the machine runs, stopped, resumed or rebooted.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class QmpMonitorTest {
    @TempDir
    Path dir;

    private Machine machine;
    private CompletableFuture<RunResult> run;
    private final ByteArrayOutputStream serial = new ByteArrayOutputStream(); // synchronized: read while written
    private Path socket;

    private static Path ticker() {
        Path p = Path.of(System.getProperty("tscvm.guests", "target/guests"), "ticker.elf");
        assumeTrue(Files.isRegularFile(p), "guest kernel " + p + " was not built");
        return p;
    }

    private void boot(int smp, boolean startPaused) {
        boot(smp, startPaused, VmConfig.ClockKind.REAL_TIME);
    }

    private void boot(int smp, boolean startPaused, VmConfig.ClockKind clock) {
        socket = dir.resolve("qmp.sock");
        machine = new Machine(MachineConfig.builder().kernel(ticker()).smp(smp).clock(clock)
                .serial(new SerialTarget.ToStream(serial)).timeout(Duration.ofSeconds(100))
                .qmp(new MachineConfig.Qmp(QmpAddress.parse("unix:" + socket + ",server=on,wait=off"), false, startPaused, null))
                .build());
        run = CompletableFuture.supplyAsync(machine::run);
    }

    @AfterEach
    void endTheRun() throws Exception {
        if (run != null && !run.isDone() && socket != null) {
            try (QmpClient c = QmpClient.negotiated(socket)) {
                c.execute("quit", null);
            }
            run.get(30, TimeUnit.SECONDS);
        }
    }

    private String output() {
        return serial.toString(StandardCharsets.US_ASCII);
    }

    private long ticks() {
        return output().lines().filter(l -> l.startsWith("tick ")).count();
    }

    /** Each boot's line; a reset half-way through a tick line leaves it after that line's start. */
    private List<String> bootLines() {
        return output().lines().map(String::strip).filter(l -> l.contains("ticker: boot"))
                .map(l -> l.substring(l.indexOf("ticker: boot"))).toList();
    }

    private long retired() {
        return machine.vm().vcpus().get(0).instructionsRetired();
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(QmpClient.WAIT_SECONDS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(10);
        }
    }

    private void awaitMoreTicks(long than) throws InterruptedException {
        await("the guest to print more than " + than + " ticks", () -> ticks() > than);
    }


    @Test
    void theGreetingNamesTheVersionAndOnlyQmpCapabilitiesRunsBeforeNegotiation() throws Exception {
        boot(1, false);
        try (QmpClient c = QmpClient.unix(socket)) {
            Map<String, Object> qmp = map(c.greeting.get("QMP"));
            assertThat(map(map(qmp.get("version")).get("qemu"))).containsKeys("major", "minor", "micro");
            assertThat(qmp.get("capabilities")).isEqualTo(List.of());
            assertThat(errorClass(c.execute("query-status", null))).isEqualTo("CommandNotFound");
            assertThat(errorClass(c.execute("qmp_capabilities", Map.of("enable", List.of("oob")))))
                    .isEqualTo("GenericError");
            assertThat(returned(c.execute("qmp_capabilities", null))).isEqualTo(Map.of());
            assertThat(errorClass(c.execute("qmp_capabilities", null))).isEqualTo("CommandNotFound");
            // Any JSON value is an id, echoed as sent.
            c.send("{\"execute\": \"query-status\", \"id\": {\"tag\": [1, \"two\"]}}\n");
            assertThat(c.replyTo(Map.of("tag", List.of(1L, "two")))).containsKey("return");
            c.send("{'execute': 'query-version', 'id': 'single-quoted'}\n");
            assertThat(returned(c.replyTo("single-quoted"))).isEqualTo(QmpCommands.VERSION);
        }
    }

    @ParameterizedTest
    @EnumSource(VmConfig.ClockKind.class)
    void stopHoldsTheGuestUntilContResumesIt(VmConfig.ClockKind clock) throws Exception {
        boot(clock == VmConfig.ClockKind.DETERMINISTIC ? 2 : 1, false, clock);
        try (QmpClient c = QmpClient.negotiated(socket)) {
            awaitMoreTicks(2);
            assertThat(returned(c.execute("query-status", null)))
                    .isEqualTo(Map.of("status", "running", "singlestep", false, "running", true));

            assertThat(returned(c.execute("stop", null))).isEqualTo(Map.of());
            assertThat(c.awaitEvent("STOP")).doesNotContainKey("data").containsKey("timestamp");
            long ticksStopped = ticks();
            long retiredStopped = retired();
            Thread.sleep(300); // 15 tick periods
            assertThat(ticks()).as("ticks while stopped").isEqualTo(ticksStopped);
            assertThat(retired()).as("instructions retired while stopped").isEqualTo(retiredStopped);
            assertThat(returned(c.execute("query-status", null)))
                    .isEqualTo(Map.of("status", "paused", "singlestep", false, "running", false));
            assertThat(returned(c.execute("stop", null))).isEqualTo(Map.of()); // already stopped: no second STOP

            assertThat(returned(c.execute("cont", null))).isEqualTo(Map.of());
            c.awaitEvent("RESUME");
            awaitMoreTicks(ticksStopped + 2);
            assertThat(retired()).isGreaterThan(retiredStopped);
            assertThat(c.events).noneMatch(e -> e.get("event").equals("STOP"));
            assertThat(map(returned(c.execute("query-status", null))).get("status")).isEqualTo("running");
        }
    }

    @Test
    void systemResetRebootsTheGuestAndEmitsReset() throws Exception {
        boot(1, false);
        try (QmpClient c = QmpClient.negotiated(socket)) {
            awaitMoreTicks(1);
            assertThat(bootLines()).containsExactly("ticker: boot 1");
            assertThat(returned(c.execute("system_reset", null))).isEqualTo(Map.of());
            Map<String, Object> reset = c.awaitEvent("RESET");
            assertThat(reset.get("data")).isEqualTo(Map.of("guest", false, "reason", "host-qmp-system-reset"));
            await("the guest to boot again", () -> bootLines().equals(List.of("ticker: boot 1", "ticker: boot 2")));
            assertThat(map(returned(c.execute("query-status", null))).get("status")).isEqualTo("running");
            // The monitor still stops the rebooted machine.
            returned(c.execute("stop", null));
            long retiredStopped = retired();
            Thread.sleep(100);
            assertThat(retired()).isEqualTo(retiredStopped);
            returned(c.execute("cont", null));
        }
    }

    @Test
    void aResetAskedBeforeTheRunStartsWaitsForTheRun() throws Exception {
        // The server listens from the machine's construction; a record or replay journal is
        // only in place once run() starts, so the reset must not act before then.
        socket = dir.resolve("qmp.sock");
        machine = new Machine(MachineConfig.builder().kernel(ticker())
                .serial(new SerialTarget.ToStream(serial)).timeout(Duration.ofSeconds(100))
                .qmp(new MachineConfig.Qmp(QmpAddress.parse("unix:" + socket + ",server=on,wait=off"), false, false, null))
                .build());
        try (QmpClient c = QmpClient.negotiated(socket)) {
            CompletableFuture<Map<String, Object>> reset = CompletableFuture.supplyAsync(() -> {
                try {
                    return c.execute("system_reset", null);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Thread.sleep(300);
            assertThat(reset).as("answered before the run started").isNotDone();
            run = CompletableFuture.supplyAsync(machine::run);
            assertThat(returned(reset.get(30, TimeUnit.SECONDS))).isEqualTo(Map.of());
            awaitMoreTicks(1);
        }
    }

    @Test
    void quitEndsTheRunWithStatusZeroAfterShutdown() throws Exception {
        boot(1, false);
        try (QmpClient c = QmpClient.negotiated(socket)) {
            awaitMoreTicks(1);
            Map<String, Object> reply = c.execute("quit", null);
            assertThat(returned(reply)).isEqualTo(Map.of());
            // QEMU sends SHUTDOWN before quit's reply, so it is already among the events.
            assertThat(c.awaitEvent("SHUTDOWN").get("data")).isEqualTo(Map.of("guest", false, "reason", "host-qmp-quit"));
            RunResult result = run.get(30, TimeUnit.SECONDS);
            assertThat(result.exitStatus()).isEqualTo(0);
            assertThat(c.closedByServer()).isTrue();
        }
        assertThat(socket).doesNotExist();
    }

    @Test
    void badInputGetsQmpErrorsAndTheMachineRunsOn() throws Exception {
        boot(1, false);
        try (QmpClient c = QmpClient.negotiated(socket)) {
            awaitMoreTicks(1);
            c.send("{\"execute\": }\n");
            assertThat(errorClass(c.replyWithoutId())).isEqualTo("GenericError");
            c.send("[1, 2]\n");
            assertThat(errorClass(c.replyWithoutId())).isEqualTo("GenericError");
            c.send("42 \n");
            assertThat(errorClass(c.replyWithoutId())).isEqualTo("GenericError");
            c.send("}\n");
            assertThat(errorClass(c.replyWithoutId())).isEqualTo("GenericError");
            assertThat(errorClass(c.execute("no-such-command", null))).isEqualTo("CommandNotFound");
            assertThat(errorClass(c.execute("human-monitor-command", Map.of("command-line", 5L)))).isEqualTo("GenericError");
            assertThat(errorClass(c.execute("human-monitor-command", Map.of()))).isEqualTo("GenericError");
            assertThat(errorClass(c.execute("stop", Map.of("now", true)))).isEqualTo("GenericError");
            c.send("{\"execute\": \"stop\", \"arguments\": [], \"id\": 7}\n");
            assertThat(errorClass(c.replyTo(7L))).isEqualTo("GenericError");
            c.send("{\"execute\": 3, \"id\": 8}\n");
            assertThat(errorClass(c.replyTo(8L))).isEqualTo("GenericError");
            c.send("{\"execute\": \"stop\", \"what\": 1, \"id\": 9}\n");
            assertThat(errorClass(c.replyTo(9L))).isEqualTo("GenericError");
            // Hostile: too long, too deep, a control character in the middle of a command.
            c.send("{\"execute\": \"" + "x".repeat(QmpReader.MAX_MESSAGE_BYTES + 10) + "\"}\n");
            assertThat(map(c.replyWithoutId().get("error")).get("desc").toString()).contains("longer than");
            c.send("[".repeat(100_000) + "]".repeat(100_000) + "\n");
            assertThat(map(c.replyWithoutId().get("error")).get("desc").toString()).contains("nested");
            c.send("{\"execute\": \"st\u0001\n");
            assertThat(errorClass(c.replyWithoutId())).isEqualTo("GenericError");

            long ticks = ticks();
            assertThat(map(returned(c.execute("query-status", null))).get("status")).isEqualTo("running");
            awaitMoreTicks(ticks + 2);
            assertThat(c.events).isEmpty(); // no STOP, no RESET: nothing happened to the machine
        }
    }

    @Test
    void clientsThatLeaveMidLineOrMidCommandDoNotDisturbTheMachine() throws Exception {
        boot(1, false);
        try (QmpClient c = QmpClient.negotiated(socket)) {
            c.send("{\"execute\": \"sto"); // and gone
        }
        long ticks = ticks();
        try (QmpClient c = QmpClient.negotiated(socket)) {
            assertThat(map(returned(c.execute("query-status", null))).get("status")).isEqualTo("running");
            awaitMoreTicks(ticks + 2);
            c.send("{\"execute\": \"stop\"}\n"); // and gone before the reply
        }
        try (QmpClient c = QmpClient.negotiated(socket)) {
            await("the stop of the client that left", () -> {
                try {
                    return map(returned(c.execute("query-status", null))).get("status").equals("paused");
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            long stopped = ticks();
            Thread.sleep(200);
            assertThat(ticks()).isEqualTo(stopped);
            returned(c.execute("cont", null));
            awaitMoreTicks(stopped + 1);
        }
    }

    @Test
    void queryCpusFastDescribesEveryVcpuWithItsThread() throws Exception {
        boot(2, false);
        try (QmpClient c = QmpClient.negotiated(socket)) {
            awaitMoreTicks(1);
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> cpus = (List<Map<String, Object>>) returned(c.execute("query-cpus-fast", null));
            assertThat(cpus).hasSize(2);
            Set<Object> threads = new HashSet<>();
            for (int i = 0; i < 2; i++) {
                Map<String, Object> cpu = cpus.get(i);
                assertThat(cpu.get("cpu-index")).isEqualTo((long) i);
                assertThat(cpu.get("target")).isEqualTo("x86_64");
                assertThat(cpu.get("qom-path")).isEqualTo("/machine/unattached/device[" + i + "]");
                assertThat(map(cpu.get("props"))).containsEntry("socket-id", 0L).containsEntry("core-id", (long) i);
                assertThat((Long) cpu.get("thread-id")).isPositive();
                threads.add(cpu.get("thread-id"));
            }
            assertThat(threads).as("each vCPU runs on its own thread").hasSize(2);
        }
    }

    @Test
    void infoRegistersShowsTheStoppedVcpusState() throws Exception {
        boot(1, false);
        try (QmpClient c = QmpClient.negotiated(socket)) {
            awaitMoreTicks(1);
            String running = (String) returned(c.execute("human-monitor-command", Map.of("command-line", "info registers")));
            assertThat(running).contains("CPU#0", "RAX=", "CS =0008", "CR0=", "EFER=").contains("\r\n");
            returned(c.execute("stop", null));
            String text = (String) returned(c.execute("human-monitor-command", Map.of("command-line", "info registers")));
            long rip = machine.vm().vcpus().get(0).getRegs().rip();
            long cr3 = machine.vm().vcpus().get(0).getSregs().cr3();
            assertThat(text).contains(String.format("RIP=%016x", rip), String.format("CR3=%016x", cr3));
            assertThat(returned(c.execute("human-monitor-command", Map.of("command-line", "info status"))))
                    .isEqualTo("VM status: paused\r\n");
            assertThat(returned(c.execute("human-monitor-command", Map.of("command-line", "frobnicate"))))
                    .isEqualTo("unknown command: 'frobnicate'\r\n");
            assertThat(errorClass(c.execute("human-monitor-command", Map.of("command-line", "info registers",
                    "cpu-index", 5L)))).isEqualTo("GenericError");
            returned(c.execute("cont", null));
        }
    }

    @Test
    void withStartPausedTheGuestWaitsInPrelaunchForCont() throws Exception {
        boot(1, true);
        try (QmpClient c = QmpClient.negotiated(socket)) {
            assertThat(map(returned(c.execute("query-status", null))).get("status")).isEqualTo("prelaunch");
            Thread.sleep(200);
            assertThat(retired()).isZero();
            assertThat(output()).isEmpty();
            returned(c.execute("cont", null));
            c.awaitEvent("RESUME");
            await("the guest's boot line", () -> output().contains("ticker: boot 1"));
        }
    }

    @Test
    void aTcpMonitorOnAnyFreePort() throws Exception {
        machine = new Machine(MachineConfig.builder().kernel(ticker()).serial(new SerialTarget.ToStream(serial))
                .timeout(Duration.ofSeconds(100))
                .qmp(new MachineConfig.Qmp(QmpAddress.parse("tcp:127.0.0.1:0,server=on,wait=off"), true, false, null)).build());
        run = CompletableFuture.supplyAsync(machine::run);
        int port = machine.qmpServer().port();
        assertThat(port).isPositive();
        try (QmpClient c = QmpClient.tcp(port)) {
            returned(c.execute("qmp_capabilities", null));
            returned(c.execute("quit", null));
        }
        assertThat(run.get(30, TimeUnit.SECONDS).exitStatus()).isZero();
    }
}

package org.tscvm.machine;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VmConfig;

/** The runner's control surface, as a monitor uses it: pause, resume, system reset, quit, state. */
class MachineRunnerTest {
    private static final long LOAD = 0x100000;
    /** inc eax; jmp back: runs forever (32-bit flat entry). */
    private static final byte[] SPIN = {0x40, (byte) 0xeb, (byte) 0xfd};

    private static long retired(Machine m) {
        long n = 0;
        for (Vcpu v : m.vm().vcpus()) {
            n += v.instructionsRetired();
        }
        return n;
    }

    @ParameterizedTest
    @EnumSource(VmConfig.ClockKind.class)
    void pauseStopsEveryVcpuResumeGoesOnResetRebootsAndQuitEndsTheRun(VmConfig.ClockKind clock) throws Exception {
        Machine m = new Machine(MachineConfig.builder().ramBytes(16L << 20).kernel("spin.bin", SPIN).flat(LOAD, LOAD)
                .smp(2).clock(clock).serial(new SerialTarget.ToStream(new ByteArrayOutputStream()))
                .timeout(Duration.ofSeconds(30)).build());
        MachineRunner runner = m.runner();
        assertThat(runner.state()).isEqualTo(MachineRunner.RunState.NOT_STARTED);
        CompletableFuture<RunResult> run = CompletableFuture.supplyAsync(runner::run);
        while (retired(m) < 100_000) {
            Thread.sleep(1);
        }
        assertThat(runner.state()).isEqualTo(MachineRunner.RunState.RUNNING);

        runner.pause();
        assertThat(runner.state()).isEqualTo(MachineRunner.RunState.PAUSED);
        long atPause = retired(m);
        long eax = m.vm().vcpus().get(0).getRegs().rax(); // the host side is usable while paused
        Thread.sleep(100);
        assertThat(retired(m)).isEqualTo(atPause);
        assertThat(m.vm().vcpus().get(0).getRegs().rax()).isEqualTo(eax);

        runner.resume();
        while (retired(m) == atPause) {
            Thread.sleep(1);
        }
        assertThat(runner.state()).isEqualTo(MachineRunner.RunState.RUNNING);

        runner.systemReset();
        while (m.reboots() == 0) {
            Thread.sleep(1);
        }
        runner.requestQuit("the monitor's quit");
        RunResult r = run.get(30, TimeUnit.SECONDS);
        assertThat(r.exitStatus()).isEqualTo(RunResult.STATUS_SHUTDOWN);
        assertThat(r.reason()).isEqualTo("the monitor's quit");
        assertThat(runner.state()).isEqualTo(MachineRunner.RunState.ENDED);
        runner.pause(); // after the end: returns at once
    }
}

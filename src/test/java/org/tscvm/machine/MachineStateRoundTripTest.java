package org.tscvm.machine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tscvm.memory.GuestMemory;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VcpuEvents;
import org.tscvm.vm.VcpuState;
import org.tscvm.vm.VmConfig;

/**
 * The vCPU state is complete: guests/vcpu_state.c (x87 and SSE values live across the run, a
 * periodic APIC timer, long stretches at CPL 3; with 3 CPUs an AP halted until an IPI and
 * another waiting for SIPI) runs on the deterministic clock, is paused midway, and every
 * vCPU's saveState goes with a copy of RAM into a fresh machine. The fresh machine then prints
 * exactly what the original prints from the pause on, and both end in the same state.
 */
class MachineStateRoundTripTest {
    private static final long RAM = 32L << 20;
    /** Host-clock ticks per step towards the stop: 20 us of guest time at 2.5 GHz. */
    private static final long STEP_TICKS = 50_000;

    private static Path kernel() {
        Path p = Path.of(System.getProperty("tscvm.guests", "target/guests"), "vcpu_state.elf");
        assumeTrue(Files.isRegularFile(p), "guest kernel " + p + " was not built");
        return p;
    }

    private static MachineConfig config(int smp, ByteArrayOutputStream serial) {
        return MachineConfig.builder().kernel(kernel()).smp(smp).ramBytes(RAM)
                .clock(VmConfig.ClockKind.DETERMINISTIC).serial(new SerialTarget.ToStream(serial))
                .timeout(Duration.ofSeconds(120)).build();
    }

    private static String text(ByteArrayOutputStream out) {
        synchronized (out) {
            return out.toString(StandardCharsets.ISO_8859_1);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3})
    void aMachineRestoredMidwayIntoAFreshOneFinishesExactlyAsTheOriginal(int smp) throws Exception {
        ByteArrayOutputStream serialA = new ByteArrayOutputStream();
        Machine a = new Machine(config(smp, serialA));

        // Step the deterministic clock until the BSP is midway through its rounds, at CPL 3 with
        // the timer armed (steps, not wall-clock polling: the window is the same on every run).
        List<VcpuState> saved = null;
        int printedAtPause = 0;
        for (long t = STEP_TICKS; saved == null && a.runUntil(t); t += STEP_TICKS) {
            String printed = text(serialA);
            List<VcpuState> states = new ArrayList<>();
            for (Vcpu v : a.vm().vcpus()) {
                states.add(v.saveState());
            }
            VcpuState bsp = states.get(0);
            boolean midway = printed.contains("round 9:") && !printed.contains("round 29:");
            if (midway && (bsp.sregs().cs().selector() & 3) == 3 && bsp.lapic().timerRemainingTsc() >= 0) {
                saved = states;
                printedAtPause = printed.length();
            }
        }
        assertThat(saved).as("a stop midway at CPL 3; serial so far: " + text(serialA)).isNotNull();
        VcpuState bsp = saved.get(0);
        assertThat(bsp.fpu().ftw() & 3 << 2 * ((bsp.fpu().fsw() >>> 11) & 7)).as("ST(0) is live").isNotEqualTo(3 << 2 * ((bsp.fpu().fsw() >>> 11) & 7));
        assertThat(bsp.fpu().xmm(1, 0)).isNotZero();
        assertThat(bsp.fpu().xmm(13, 0)).isNotZero();
        if (smp == 3) {
            assertThat(saved.get(1).events().mpState()).isEqualTo(VcpuEvents.MpState.HALTED);
            assertThat(saved.get(2).events().mpState()).isEqualTo(VcpuEvents.MpState.INIT_RECEIVED);
        }

        ByteArrayOutputStream serialB = new ByteArrayOutputStream();
        Machine b = new Machine(config(smp, serialB));
        GuestMemory from = a.vm().memory();
        byte[] page = new byte[GuestMemory.PAGE_SIZE];
        for (GuestMemory.Range r : from.ranges()) {
            for (long p = r.start(); p < r.end(); p += GuestMemory.PAGE_SIZE) {
                if (from.pageTouched(p)) {
                    from.readPage(p, page, 0);
                    b.vm().memory().writePage(p, page, 0);
                }
            }
        }
        for (int i = 0; i < smp; i++) {
            b.vm().vcpus().get(i).restoreState(saved.get(i));
            assertThat(b.vm().vcpus().get(i).saveState()).isEqualTo(saved.get(i));
        }
        RunResult resultA = a.run();
        RunResult resultB = b.run();

        assertThat(resultA.exitStatus()).as(text(serialA)).isEqualTo(1);
        assertThat(resultB.exitStatus()).as(text(serialB)).isEqualTo(1);
        assertThat(text(serialB)).isEqualTo(text(serialA).substring(printedAtPause));
        assertThat(text(serialB)).contains("round 39:").contains("SUMMARY: ");
        for (int i = 0; i < smp; i++) {
            assertThat(b.vm().vcpus().get(i).saveState()).as("vCPU %d at the end", i)
                    .isEqualTo(a.vm().vcpus().get(i).saveState());
        }
    }
}

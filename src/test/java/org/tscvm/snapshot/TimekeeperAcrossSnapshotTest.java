package org.tscvm.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.tscvm.machine.Machine;
import org.tscvm.machine.MachineConfig;
import org.tscvm.machine.RunResult;
import org.tscvm.vm.VmConfig;

/**
 * timekeeper.elf (guests/timekeeper.c) checks on every vCPU, round after round, that its TSC
 * never goes backwards (its own and the shared one), that TSC_ADJUST and TSC_AUX keep their
 * values, that its re-armed TSC-deadline timer keeps firing and that its memory keeps its
 * pattern. Saved mid-run, it sees nothing go wrong when restored on the deterministic clock, nor
 * when restored on a real-time host clock of another rate and adjust after a wall-clock downtime
 * (a migration to another host).
 */
class TimekeeperAcrossSnapshotTest {
    private static MachineConfig.Builder timekeeper(int smp, ByteArrayOutputStream serial) {
        return Guests.deterministic("timekeeper", smp, serial).ramBytes(128L << 20).append("rounds=4 mem=4");
    }

    private static byte[] savedAfterTheFirstRound(int smp, ByteArrayOutputStream serial) throws Exception {
        Machine m = new Machine(timekeeper(smp, serial).build());
        assertThat(m.runUntil(300_000_000)).isTrue();
        assertThat(serial.toString(StandardCharsets.ISO_8859_1)).contains("round 1:").doesNotContain("round 4:");
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        MachineSnapshot.write(m, file);
        return file.toByteArray();
    }

    private static void assertEveryCheckPassed(RunResult result, String console) {
        assertThat(result.exitStatus()).as(console + result.reason()).isEqualTo(1);
        assertThat(console).contains("round 4:").contains(" 0 failures").doesNotContain("FAIL");
    }

    @Test
    void restoredOnTheDeterministicClockNothingGoesWrong() throws Exception {
        byte[] file = savedAfterTheFirstRound(4, new ByteArrayOutputStream());
        ByteArrayOutputStream serial = new ByteArrayOutputStream();
        Machine restored = new Machine(timekeeper(4, serial).build());
        MachineSnapshot.restore(restored, MachineSnapshot.read(new ByteArrayInputStream(file)), RestoreTime.PAUSED);
        RunResult result = restored.run();
        assertEveryCheckPassed(result, serial.toString(StandardCharsets.ISO_8859_1));
    }

    @Test
    void migratedToARealTimeHostOfAnotherRateAfterADowntimeNothingGoesWrong() throws Exception {
        // Two vCPUs: four real-time vCPU threads on a loaded 2-core host can starve one for two
        // rounds, which timekeeper rightly reports (its own four-vCPU real-clock test can, too).
        byte[] file = savedAfterTheFirstRound(2, new ByteArrayOutputStream());
        MachineState state = MachineSnapshot.read(new ByteArrayInputStream(file));
        Thread.sleep(100);
        ByteArrayOutputStream serial = new ByteArrayOutputStream();
        Machine restored = new Machine(timekeeper(2, serial).clock(VmConfig.ClockKind.REAL_TIME).hostKhz(3_100_000)
                .hostTscAdjust(-7_000_000_000L).timeout(java.time.Duration.ofSeconds(60)).build());
        MachineSnapshot.restore(restored, state, RestoreTime.WALL_CLOCK);
        long restoredTsc = restored.vm().vcpus().get(0).getMsr(org.tscvm.cpu.Msr.IA32_TSC);
        assertThat(restoredTsc - state.time().tsc().vcpus().get(0).guestTsc()).isGreaterThanOrEqualTo(250_000_000L);
        RunResult result = restored.run();
        assertEveryCheckPassed(result, serial.toString(StandardCharsets.ISO_8859_1));
    }
}

package org.tscvm.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tscvm.machine.Machine;
import org.tscvm.machine.MachineConfig;
import org.tscvm.machine.RunResult;

/**
 * A whole machine saved mid-run on the deterministic clock and restored into a new machine
 * continues exactly as the machine that was saved does when it simply goes on: the same console
 * output from the save point on, the same exit, the same instructions retired, the same host
 * clock and guest TSCs at the end. Both print what a run that never stopped prints. (Stopping a
 * single vCPU between two instructions is itself an event: its halt may end at a different
 * host tick than in a run that never stopped, so the clocks are compared with the run that
 * stopped at the same point, not with the one that never stopped.)
 */
class MachineSnapshotRoundTripTest {
    record Run(String console, RunResult result, long endHostTsc, long[] retired, long[] guestTsc) {
    }

    private static Run finish(Machine m, ByteArrayOutputStream serial) {
        RunResult r = m.run();
        int n = m.vm().vcpus().size();
        long[] retired = new long[n];
        long[] tsc = new long[n];
        long end = m.vm().clock().now();
        for (int i = 0; i < n; i++) {
            retired[i] = m.vm().vcpus().get(i).instructionsRetired();
            tsc[i] = m.vm().vcpus().get(i).guestTscAt(end);
        }
        return new Run(serial.toString(StandardCharsets.ISO_8859_1), r, end, retired, tsc);
    }

    @ParameterizedTest(name = "{0} with {1} vCPU(s), saved at {2}/8 of the run")
    @CsvSource({"apic_timer, 1, 3", "apic_timer, 1, 6", "smp, 2, 4", "smp, 2, 7", "pit, 1, 5", "exceptions, 1, 4"})
    void aRestoredMachineContinuesExactlyAsTheUnsavedOne(String guest, int smp, int eighths) throws Exception {
        ByteArrayOutputStream referenceSerial = new ByteArrayOutputStream();
        Run reference = finish(new Machine(Guests.deterministic(guest, smp, referenceSerial).build()), referenceSerial);
        assertThat(reference.result().exitStatus()).as(reference.result().reason()).isIn(0, 1);

        ByteArrayOutputStream savedSerial = new ByteArrayOutputStream();
        MachineConfig config = Guests.deterministic(guest, smp, savedSerial).build();
        Machine original = new Machine(config);
        assertThat(original.runUntil(reference.endHostTsc() / 8 * eighths)).isTrue();
        int consoleAtSave = savedSerial.size();
        long[] retiredAtSave = original.vm().vcpus().stream().mapToLong(v -> v.instructionsRetired()).toArray();
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        MachineSnapshot.write(original, file);
        Run continued = finish(original, savedSerial);

        ByteArrayOutputStream restoredSerial = new ByteArrayOutputStream();
        MachineConfig restoredConfig = Guests.deterministic(guest, smp, restoredSerial).build();
        MachineState state = MachineSnapshot.read(new ByteArrayInputStream(file.toByteArray()));
        Machine restored = new Machine(restoredConfig);
        MachineSnapshot.restore(restored, state, RestoreTime.PAUSED);
        Run resumed = finish(restored, restoredSerial);

        assertThat(consoleAtSave).isPositive().isLessThan(reference.console().length());
        assertThat(continued.console()).isEqualTo(reference.console());
        assertThat(resumed.console()).isEqualTo(reference.console().substring(consoleAtSave));
        assertThat(resumed.result()).isEqualTo(reference.result()).isEqualTo(continued.result());
        for (int i = 0; i < smp; i++) {
            // A vCPU's state does not carry its retired-instruction counter: the restored one counts from 0.
            assertThat(resumed.retired()[i]).isEqualTo(continued.retired()[i] - retiredAtSave[i]);
        }
        assertThat(resumed.endHostTsc()).isEqualTo(continued.endHostTsc());
        assertThat(resumed.guestTsc()).isEqualTo(continued.guestTsc());
    }
}

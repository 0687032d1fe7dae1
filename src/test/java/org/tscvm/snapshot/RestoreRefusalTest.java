package org.tscvm.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tscvm.machine.Machine;
import org.tscvm.snapshot.SnapshotException.Kind;
import org.tscvm.vm.VcpuEvents;
import org.tscvm.vm.VcpuState;

/**
 * A restore that a vCPU refuses part way leaves the machine as it was: the vCPUs restored
 * before the one that refused are put back, and RAM, the devices and the clocks are untouched
 * (they come after the vCPUs).
 */
class RestoreRefusalTest {
    @Test
    void aVcpuThatRefusesItsStatePutsBackTheOnesBeforeItAndNothingElseChanges() throws Exception {
        Machine source = new Machine(SnapshotFiles.smallMachine().build());
        source.runUntil(3_000_000);
        source.vm().memory().write64(0x300000, 0x0123456789abcdefL);
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        MachineSnapshot.write(source, file);
        MachineState good = MachineSnapshot.read(new ByteArrayInputStream(file.toByteArray()));

        // vCPU 1 with a page fault in flight: tscvm delivers exceptions within the instruction, so
        // no vCPU of its can take such a state.
        List<VcpuState> vcpus = new ArrayList<>(good.vcpus());
        VcpuState v1 = vcpus.get(1);
        vcpus.set(1, new VcpuState(v1.regs(), v1.sregs(), v1.fpu(), v1.msrs(), v1.lapic(),
                new VcpuEvents(14, true, 2, -1, 0, false, 0, v1.events().mpState())));
        MachineState bad = new MachineState(good.tscvmVersion(), good.config(), good.time(), good.board(), vcpus,
                good.ram());

        Machine target = new Machine(SnapshotFiles.smallMachine().build());
        target.runUntil(1_000_000);
        ByteArrayOutputStream before = new ByteArrayOutputStream();
        MachineSnapshot.write(target, before);
        long clockBefore = target.vm().clock().now();

        assertThatThrownBy(() -> MachineSnapshot.restore(target, bad, RestoreTime.PAUSED))
                .isInstanceOfSatisfying(SnapshotException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.CORRUPT);
                    assertThat(e.section()).isEqualTo("vCPU 1");
                    assertThat(e.getMessage()).contains("exception 14 is pending");
                });
        assertThat(target.vm().clock().now()).isEqualTo(clockBefore);
        assertThat(target.vm().memory().read64(0x300000)).isZero();
        ByteArrayOutputStream after = new ByteArrayOutputStream();
        MachineSnapshot.write(target, after);
        assertThat(withoutSaveTime(after.toByteArray())).isEqualTo(withoutSaveTime(before.toByteArray()));

        // The same machine then takes the good state.
        MachineSnapshot.restore(target, good, RestoreTime.PAUSED);
        assertThat(target.vm().memory().read64(0x300000)).isEqualTo(0x0123456789abcdefL);
    }

    /** The file with the TIME section's save time (its first 8 payload bytes) and that section's CRC blanked. */
    private static byte[] withoutSaveTime(byte[] file) {
        byte[] copy = file.clone();
        SnapshotFiles.Span time = SnapshotFiles.sections(copy).get(1);
        assertThat(time.tag()).isEqualTo("TIME");
        java.util.Arrays.fill(copy, time.payloadStart(), time.payloadStart() + 8, (byte) 0);
        java.util.Arrays.fill(copy, time.payloadStart() + time.payloadLength(), time.end(), (byte) 0);
        return copy;
    }
}

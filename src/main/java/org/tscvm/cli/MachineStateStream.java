package org.tscvm.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.tscvm.machine.Machine;
import org.tscvm.qmp.MigrationTarget;
import org.tscvm.snapshot.MachineSnapshot;
import org.tscvm.snapshot.MachineState;
import org.tscvm.snapshot.RestoreTime;
import org.tscvm.vm.VmConfig;

/**
 * The machine's state as QMP's migration stream: the whole-machine snapshot format, written
 * by the source and read, checked whole and only then applied by the destination. The guest's
 * time moves on by the wall-clock time between the save and the load, as the TSC of a
 * migrated KVM guest does.
 */
final class MachineStateStream implements MigrationTarget {
    private final Machine machine;

    MachineStateStream(Machine machine) {
        this.machine = machine;
    }

    @Override
    public void save(OutputStream out) throws IOException {
        MachineSnapshot.write(machine, out);
    }

    @Override
    public void load(InputStream in) {
        MachineState state = MachineSnapshot.read(in);
        MachineSnapshot.restore(machine, state,
                RestoreTime.defaultFor(machine.vm().config().clockKind() == VmConfig.ClockKind.DETERMINISTIC));
    }
}

package org.tscvm.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.tscvm.machine.Machine;
import org.tscvm.qmp.MigrationTarget;
import org.tscvm.snapshot.MachineSnapshot;
import org.tscvm.snapshot.MachineState;
import org.tscvm.snapshot.PrecopyReceiver;
import org.tscvm.snapshot.PrecopySender;
import org.tscvm.snapshot.RestoreTime;
import org.tscvm.vm.VmConfig;

/**
 * The machine's state as QMP's migration stream: the whole-machine snapshot format (written
 * with the machine stopped, read and checked whole before it is applied), or the pre-copy
 * stream of docs/migration-stream.md (RAM while the machine runs, then the rest). The guest's
 * time moves on by the wall-clock time between the save and the load, as the TSC of a migrated
 * KVM guest does.
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
    public void saveLive(OutputStream out, InputStream answer, PrecopySender.Control control) throws IOException {
        PrecopySender.send(machine, out, answer, control);
    }

    @Override
    public void load(InputStream in) throws IOException {
        RestoreTime time = RestoreTime.defaultFor(machine.vm().config().clockKind() == VmConfig.ClockKind.DETERMINISTIC);
        if (PrecopyReceiver.isPrecopy(in)) {
            MachineSnapshot.restoreOverRam(machine, PrecopyReceiver.receive(machine, in), time);
        } else {
            MachineState state = MachineSnapshot.read(in);
            MachineSnapshot.restore(machine, state, time);
        }
    }
}

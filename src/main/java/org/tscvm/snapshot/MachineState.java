package org.tscvm.snapshot;

import java.util.List;
import org.tscvm.machine.BoardState;
import org.tscvm.vm.VcpuState;

/**
 * One whole machine, as a snapshot holds it: immutable once read, and checked in full before
 * any of it is applied ({@link MachineSnapshot#read}, {@link MachineSnapshot#restore}).
 *
 * @param tscvmVersion the version of tscvm that wrote it
 * @param config       the configuration it fits
 * @param time         every vCPU's TSC state and the instant of the save
 * @param board        every board device and the device time
 * @param vcpus        every vCPU, by index: registers, FPU, MSRs, local APIC, events
 * @param ram          guest RAM
 */
public record MachineState(String tscvmVersion, ConfigFingerprint config, SavedTime time, BoardState board,
                           List<VcpuState> vcpus, RamImage ram) {
    public MachineState {
        vcpus = List.copyOf(vcpus);
    }
}

package org.tscvm.snapshot;

import org.tscvm.cpu.Cpu;
import org.tscvm.devices.LocalApic;
import org.tscvm.machine.Machine;

/**
 * One vCPU as a snapshot holds it: the CPU's architectural state, its local APIC and its
 * runner's INIT/STARTUP mailbox. Its TSC state travels in the time section
 * ({@link org.tscvm.vm.VmTscState}), read at one instant for all vCPUs.
 */
public record SavedVcpu(Cpu.State cpu, LocalApic.State apic, Machine.RunnerState runner) {
}

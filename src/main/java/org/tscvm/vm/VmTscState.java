package org.tscvm.vm;

import java.util.List;
import org.tscvm.TscvmException;

/**
 * The time state of a VM, as a snapshot carries it (tsc-semantics A7): per vCPU the TSC
 * frequency, the guest TSC, IA32_TSC_ADJUST, IA32_TSC_AUX and the TSC-deadline value, all
 * read at one host instant. It holds guest values only, never a host-clock reading, so it can
 * be restored on another host whose clock runs at another rate or from another origin
 * (migration) — the lesson of Firecracker's token bucket, which saves elapsed time rather than
 * an instant.
 *
 * @param vcpus one entry per vCPU, in vCPU id order
 */
public record VmTscState(List<Vcpu> vcpus) {
    /** One vCPU's time state; {@code guestTsc} is its TSC at the instant of the save. */
    public record Vcpu(long tscKhz, long guestTsc, long tscAdjust, long tscAux, long tscDeadline) {
        public Vcpu {
            if (tscKhz <= 0) {
                throw new TscvmException("a saved vCPU TSC frequency must be positive, not " + tscKhz + " kHz");
            }
        }
    }

    public VmTscState {
        vcpus = List.copyOf(vcpus);
        if (vcpus.isEmpty()) {
            throw new TscvmException("a saved TSC state must hold at least one vCPU");
        }
    }
}

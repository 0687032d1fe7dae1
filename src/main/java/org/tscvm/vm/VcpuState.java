package org.tscvm.vm;

/**
 * Everything a vCPU needs to go on elsewhere: what KVM_GET_REGS, _SREGS, _FPU, _MSRS (over the
 * MSR index list), _LAPIC and _VCPU_EVENTS/_MP_STATE return. Values are guest values; nothing
 * in it is a host clock reading. {@code lapic} is null for a vCPU without a local interrupt
 * controller.
 *
 * <pre>{@code
 * VcpuState s = source.vcpu(0).saveState();   // source paused
 * target.vcpu(0).restoreState(s);              // validated first; nothing changes on a bad state
 * }</pre>
 */
public record VcpuState(VcpuRegs regs, VcpuSregs sregs, VcpuFpu fpu, VcpuMsrs msrs, VcpuLapic lapic,
                        VcpuEvents events) {
    /** @throws IllegalArgumentException if a part other than {@code lapic} is null */
    public VcpuState {
        if (regs == null || sregs == null || fpu == null || msrs == null || events == null) {
            throw new IllegalArgumentException("a vCPU state needs regs, sregs, fpu, msrs and events (only lapic may be null)");
        }
    }
}

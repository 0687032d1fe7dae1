package org.tscvm.vm;

/** The general registers, RIP and RFLAGS of a vCPU, in KVM's {@code struct kvm_regs} order (KVM_GET_REGS). */
public record VcpuRegs(long rax, long rbx, long rcx, long rdx, long rsi, long rdi, long rsp, long rbp,
                       long r8, long r9, long r10, long r11, long r12, long r13, long r14, long r15,
                       long rip, long rflags) {
    /** The same registers with another RIP. */
    public VcpuRegs withRip(long newRip) {
        return new VcpuRegs(rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, newRip, rflags);
    }

    /** The same registers with another RFLAGS. */
    public VcpuRegs withRflags(long newRflags) {
        return new VcpuRegs(rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, newRflags);
    }
}

package org.tscvm.vm;

/** The general registers, RIP and RFLAGS of a vCPU, in KVM's {@code struct kvm_regs} order (KVM_GET_REGS). */
public record VcpuRegs(long rax, long rbx, long rcx, long rdx, long rsi, long rdi, long rsp, long rbp,
                       long r8, long r9, long r10, long r11, long r12, long r13, long r14, long r15,
                       long rip, long rflags) {
}

package org.tscvm.vm;

import java.util.List;
import org.tscvm.boot.EntryPoint;

/** Test guests set up through the vCPU's KVM-shaped API alone, as a VMM would. */
final class LongModeGuest {
    private static final List<String> NAMES = List.of("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
            "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags");

    private LongModeGuest() {
    }

    /** A flat 64-bit entry at {@code rip} with page tables at {@code cr3} (the loaders' own state). */
    static void enter(Vcpu v, long rip, long cr3) {
        enter(v, rip, cr3, 0, 0xffff, 0);
    }

    /** As {@link #enter(Vcpu, long, long)} with GDTR as given and {@code cr4Bits} set besides PAE. */
    static void enter(Vcpu v, long rip, long cr3, long gdtBase, int gdtLimit, long cr4Bits) {
        EntryPoint entry = new EntryPoint(EntryPoint.Mode.LONG_64, rip, 0x08, 0x10, gdtBase, gdtLimit, cr3, 0, 0, 0, 0);
        VcpuSregs s = entry.sregs(v.getSregs());
        v.setSregs(new VcpuSregs(s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt(), s.gdt(), s.idt(),
                s.cr0(), s.cr2(), s.cr3(), s.cr4() | cr4Bits, s.cr8(), s.efer()));
        v.setRegs(entry.regs(v.getRegs()));
    }

    /** Sets the general register {@code name} ("rax" ... "r15", "rip", "rflags"). */
    static void set(Vcpu v, String name, long value) {
        VcpuRegs r = v.getRegs();
        long[] a = {r.rax(), r.rbx(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), r.rsp(), r.rbp(), r.r8(), r.r9(), r.r10(),
            r.r11(), r.r12(), r.r13(), r.r14(), r.r15(), r.rip(), r.rflags()};
        a[NAMES.indexOf(name)] = value;
        v.setRegs(new VcpuRegs(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12],
                a[13], a[14], a[15], a[16], a[17]));
    }
}

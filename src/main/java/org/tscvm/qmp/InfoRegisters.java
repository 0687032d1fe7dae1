package org.tscvm.qmp;

import org.tscvm.vm.VcpuRegs;
import org.tscvm.vm.VcpuSregs;

/**
 * HMP's {@code info registers} text for one vCPU, laid out as QEMU's x86 {@code cpu_dump_state}
 * prints it (64-bit names while long mode is active, 32-bit ones otherwise), so that people and
 * scripts used to QEMU's output read it the same way. Lines end in CRLF, as HMP's do over QMP.
 */
public final class InfoRegisters {
    private InfoRegisters() {
    }

    private static final long EFER_LMA = 1L << 10;
    private static final int AR_TYPE_CODE = 0x8, AR_S = 1 << 4, AR_P = 1 << 7, AR_L = 1 << 13, AR_DB = 1 << 14;

    /** The text for vCPU {@code index}: registers, segments, descriptor tables, control registers, EFER. */
    public static String format(int index, VcpuRegs r, VcpuSregs s, boolean halted) {
        StringBuilder sb = new StringBuilder();
        line(sb, "CPU#" + index);
        boolean longMode = (s.efer() & EFER_LMA) != 0;
        if (longMode) {
            line(sb, String.format("RAX=%016x RBX=%016x RCX=%016x RDX=%016x", r.rax(), r.rbx(), r.rcx(), r.rdx()));
            line(sb, String.format("RSI=%016x RDI=%016x RBP=%016x RSP=%016x", r.rsi(), r.rdi(), r.rbp(), r.rsp()));
            line(sb, String.format("R8 =%016x R9 =%016x R10=%016x R11=%016x", r.r8(), r.r9(), r.r10(), r.r11()));
            line(sb, String.format("R12=%016x R13=%016x R14=%016x R15=%016x", r.r12(), r.r13(), r.r14(), r.r15()));
            line(sb, String.format("RIP=%016x RFL=%08x [%s] CPL=%d II=0 A20=1 SMM=0 HLT=%d", r.rip(), r.rflags(),
                    flags(r.rflags()), s.cs().selector() & 3, halted ? 1 : 0));
        } else {
            line(sb, String.format("EAX=%08x EBX=%08x ECX=%08x EDX=%08x", (int) r.rax(), (int) r.rbx(), (int) r.rcx(),
                    (int) r.rdx()));
            line(sb, String.format("ESI=%08x EDI=%08x EBP=%08x ESP=%08x", (int) r.rsi(), (int) r.rdi(), (int) r.rbp(),
                    (int) r.rsp()));
            line(sb, String.format("EIP=%08x EFL=%08x [%s] CPL=%d II=0 A20=1 SMM=0 HLT=%d", (int) r.rip(),
                    (int) r.rflags(), flags(r.rflags()), s.cs().selector() & 3, halted ? 1 : 0));
        }
        segment(sb, "ES =", s.es(), longMode);
        segment(sb, "CS =", s.cs(), longMode);
        segment(sb, "SS =", s.ss(), longMode);
        segment(sb, "DS =", s.ds(), longMode);
        segment(sb, "FS =", s.fs(), longMode);
        segment(sb, "GS =", s.gs(), longMode);
        segment(sb, "LDT=", s.ldt(), longMode);
        segment(sb, "TR =", s.tr(), longMode);
        line(sb, String.format(longMode ? "GDT=     %016x %08x" : "GDT=     %08x %08x", s.gdt().base(), s.gdt().limit()));
        line(sb, String.format(longMode ? "IDT=     %016x %08x" : "IDT=     %08x %08x", s.idt().base(), s.idt().limit()));
        line(sb, String.format(longMode ? "CR0=%08x CR2=%016x CR3=%016x CR4=%08x" : "CR0=%08x CR2=%08x CR3=%08x CR4=%08x",
                s.cr0(), s.cr2(), s.cr3(), s.cr4()));
        line(sb, String.format("EFER=%016x", s.efer()));
        return sb.toString();
    }

    private static void line(StringBuilder sb, String text) {
        sb.append(text).append("\r\n");
    }

    /** QEMU's flag letters: D O S Z A P C, '-' for a clear flag. */
    private static String flags(long rflags) {
        char[] c = new char[7];
        int[] bits = {10, 11, 7, 6, 4, 2, 0};
        String letters = "DOSZAPC";
        for (int i = 0; i < 7; i++) {
            c[i] = (rflags >>> bits[i] & 1) != 0 ? letters.charAt(i) : '-';
        }
        return new String(c);
    }

    /** Selector, base, limit, the descriptor's flag word (QEMU's layout: access byte at 8-15, G/DB/L/AVL at 20-23) and kind. */
    private static void segment(StringBuilder sb, String name, VcpuSregs.Segment seg, boolean longMode) {
        int ar = seg.attributes();
        long flagWord = ((long) (ar & 0xff) << 8) | ((long) (ar & 0xf000) << 8);
        String base = String.format(longMode ? "%016x" : "%08x", seg.base());
        StringBuilder text = new StringBuilder(String.format("%s%04x %s %08x %08x", name, seg.selector(), base,
                seg.limit() & 0xffffffffL, flagWord));
        if ((ar & AR_P) != 0) {
            text.append(" DPL=").append(ar >> 5 & 3);
            if ((ar & AR_S) == 0) {
                text.append(" SYS");
            } else if ((ar & AR_TYPE_CODE) != 0) {
                text.append((ar & AR_L) != 0 ? " CS64" : (ar & AR_DB) != 0 ? " CS32" : " CS16");
            } else {
                text.append((ar & AR_DB) != 0 ? " DS  " : " DS16");
            }
        }
        line(sb, text.toString());
    }
}

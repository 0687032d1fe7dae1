package org.tscvm.cpu;

import static org.tscvm.cpu.CpuExec.*;

/**
 * Software interrupts and the fast system calls (group 2 of {@link Op}): INT n, INT3, INTO,
 * INT1 (ICEBP), IRET, SYSCALL/SYSRET and SYSENTER/SYSEXIT. One static handler per form; RIP
 * already points past the instruction (the return address the handler pushes or saves).
 * Delivery through the IDT and IRET's checks are {@link InterruptDelivery}'s.
 */
final class SystemCalls {
    private SystemCalls() {
    }

    /**
     * INT n. In virtual-8086 mode it is IOPL-sensitive (SDM 20.2.7): with IOPL 3 it goes through
     * the IDT to ring 0, below 3 it is #GP(0) for the monitor (no VME). INT3 and INTO are not.
     */
    static void intN(CpuExec c, Insn d) {
        if ((c.flags & VM) != 0 && (c.flags & IOPL) != IOPL) {
            throw c.gp(0);
        }
        softwareInterrupt(c, (int) d.imm);
    }

    static void int3(CpuExec c, Insn d) {
        softwareInterrupt(c, CpuFault.BP);
    }

    static void into(CpuExec c, Insn d) {
        if ((c.rflags() & OF) != 0) {
            softwareInterrupt(c, CpuFault.OF);
        }
    }

    static void iret(CpuExec c, Insn d) {
        c.interrupts.iret(d.opSize);
    }

    /**
     * INT1 (ICEBP, F1): a trap-like #DB that is not a software interrupt (no gate DPL check).
     * DR6.B0-B3 report the data breakpoints pending from a MOV SS just before, delivered with it
     * as one #DB; no single-step trap follows.
     */
    static void int1(CpuExec c, Insn d) {
        c.dr[6] = (c.dr[6] & ~DR6_B0_B3) | c.dbPending;
        c.dbPending = 0;
        c.stepSuppressed = true;
        c.interrupts.deliver(CpuFault.DB, -1, false, false, c.rip);
    }

    private static void softwareInterrupt(CpuExec c, int vector) {
        c.stepSuppressed = true; // the handler starts with TF clear: no single-step trap after INT n
        c.lastVector = vector;
        c.lastErrorCode = -1;
        c.interrupts.deliver(vector, -1, true, false, c.rip);
    }

    /**
     * SYSCALL (SDM Vol. 2B; AMD APM Vol. 3). #UD without EFER.SCE. Intel allows it in 64-bit
     * mode only; AMD also in compatibility mode (to CSTAR, with RCX and R11 as in 64-bit mode)
     * and in legacy mode (CS from STAR[47:32], EIP from STAR[31:0], ECX the return EIP, VM, IF
     * and RF cleared). The vendor is CPUID leaf 0's, asked only off the 64-bit path.
     */
    static void syscall(CpuExec c, Insn d) {
        if ((c.efer & EFER_SCE) == 0) {
            throw c.ud();
        }
        if (!c.mode64 && !c.amdVendor()) {
            throw c.ud(); // Intel: SYSCALL only in 64-bit mode
        }
        int sel = (int) (c.star >>> 32) & 0xfffc;
        if (c.cetActive) {
            c.ssp = Cet.systemCall(c);
        }
        if (c.longMode()) {
            c.regs[RCX] = c.rip;
            c.regs[R11] = c.rflags() & ~RF;
            c.setSeg(CS, sel, 0, 0xffffffffL, FLAT_CODE64);
            c.setSeg(SS, sel + 8, 0, 0xffffffffL, FLAT_DATA);
            c.loadFlags(c.rflags() & ~c.fmask & ~RF);
            c.rip = c.mode64 ? c.lstar : c.cstar;
            c.stepSuppressed = (c.flags & TF) == 0; // FMASK cleared TF: no single-step trap (kvm-unit-tests syscall)
        } else {
            c.regs[RCX] = c.rip & 0xffffffffL;
            c.setSeg(CS, sel, 0, 0xffffffffL, FLAT_CODE32);
            c.setSeg(SS, sel + 8, 0, 0xffffffffL, FLAT_DATA);
            c.loadFlags(c.rflags() & ~(VM | IF | RF));
            c.rip = c.star & 0xffffffffL;
        }
        c.updateMode();
        if (c.cetActive) {
            Cet.armTracker(c);
        }
    }

    /**
     * SYSRET: #UD without EFER.SCE; Intel #UD outside 64-bit mode, AMD also runs it in
     * compatibility and legacy mode (#GP outside protected mode). #GP at CPL above 0. In legacy
     * mode (AMD) CS = STAR[63:48], SS = STAR[63:48] + 8, EIP = ECX and IF is set. A SYSRET that
     * leaves RFLAGS.TF set traps (#DB) before the next instruction, as kvm-unit-tests' syscall
     * test checks on hardware.
     */
    static void sysret(CpuExec c, Insn d) {
        int size = d.opSize;
        if ((c.efer & EFER_SCE) == 0) {
            throw c.ud();
        }
        if (!c.mode64 && !c.amdVendor()) {
            throw c.ud();
        }
        if (c.realMode() || c.cpl != 0) {
            throw c.gp(0);
        }
        int base = (int) (c.star >>> 48) & 0xffff;
        if (c.longMode() && size == 8 && !canonical(c.regs[RCX])) {
            throw c.gp(0);
        }
        if (c.cetActive) {
            c.ssp = Cet.returnToUser(c, c.longMode() && size == 8, false); // its #GP(0) before anything changes
        }
        if (!c.longMode()) {
            c.setSeg(CS, base | 3, 0, 0xffffffffL, FLAT_CODE32 | (3 << 5));
            c.setSeg(SS, (base + 8) | 3, 0, 0xffffffffL, FLAT_DATA | (3 << 5));
            c.rip = c.regs[RCX] & 0xffffffffL;
            c.loadFlags(c.rflags() | IF);
            c.updateMode();
            trapIfStepping(c);
            return;
        }
        if (size == 8) {
            c.setSeg(CS, (base + 16) | 3, 0, 0xffffffffL, FLAT_CODE64 | (3 << 5));
            c.rip = c.regs[RCX];
        } else {
            c.setSeg(CS, base | 3, 0, 0xffffffffL, FLAT_CODE32 | (3 << 5));
            c.rip = c.regs[RCX] & 0xffffffffL;
        }
        // SS keeps the selector but its cache becomes a flat DPL-3 data segment (SDM SYSRET).
        c.setSeg(SS, (base + 8) | 3, 0, 0xffffffffL, FLAT_DATA | (3 << 5));
        c.loadFlags((c.regs[R11] & 0x3c7fd7L) | 2);
        c.updateMode();
        trapIfStepping(c);
    }

    /** Asks the run loop for the single-step #DB after this instruction when it left TF set. */
    private static void trapIfStepping(CpuExec c) {
        if ((c.flags & TF) != 0) {
            c.stepTrapAfterLoad = true;
        }
    }

    /** SYSENTER: #GP in real mode or with a null SYSENTER_CS; AMD: #UD in long mode (APM Vol. 3). */
    static void sysenter(CpuExec c, Insn d) {
        if (c.longMode() && c.amdVendor()) {
            throw c.ud();
        }
        if (c.realMode() || (c.sysenterCs & 0xfffc) == 0) {
            throw c.gp(0);
        }
        int sel = (int) c.sysenterCs & 0xfffc;
        if (c.cetActive) {
            c.ssp = Cet.systemCall(c);
        }
        c.loadFlags(c.rflags() & ~(VM | IF | RF));
        boolean lm = c.longMode();
        c.setSeg(CS, sel, 0, 0xffffffffL, lm ? FLAT_CODE64 : FLAT_CODE32);
        c.setSeg(SS, sel + 8, 0, 0xffffffffL, FLAT_DATA);
        c.regs[RSP] = lm ? c.sysenterEsp : c.sysenterEsp & 0xffffffffL;
        c.rip = lm ? c.sysenterEip : c.sysenterEip & 0xffffffffL;
        c.updateMode();
        if (c.cetActive) {
            Cet.armTracker(c);
        }
    }

    /** SYSEXIT: #GP in real mode, at CPL above 0 or with a null SYSENTER_CS; AMD: #UD in long mode. */
    static void sysexit(CpuExec c, Insn d) {
        int size = d.opSize;
        if (c.longMode() && c.amdVendor()) {
            throw c.ud();
        }
        if (c.realMode() || c.cpl != 0 || (c.sysenterCs & 0xfffc) == 0) {
            throw c.gp(0);
        }
        int sel = (int) c.sysenterCs & 0xfffc;
        if (size == 8) {
            if (!canonical(c.regs[RCX]) || !canonical(c.regs[RDX])) {
                throw c.gp(0); // SDM SYSEXIT: checked in ring 0, before the switch
            }
        }
        if (c.cetActive) {
            c.ssp = Cet.returnToUser(c, size == 8, false);
        }
        if (size == 8) {
            c.setSeg(CS, (sel + 32) | 3, 0, 0xffffffffL, FLAT_CODE64 | (3 << 5));
            c.setSeg(SS, (sel + 40) | 3, 0, 0xffffffffL, FLAT_DATA | (3 << 5));
            c.rip = c.regs[RDX];
            c.regs[RSP] = c.regs[RCX];
        } else {
            c.setSeg(CS, (sel + 16) | 3, 0, 0xffffffffL, FLAT_CODE32 | (3 << 5));
            c.setSeg(SS, (sel + 24) | 3, 0, 0xffffffffL, FLAT_DATA | (3 << 5));
            c.rip = c.regs[RDX] & 0xffffffffL;
            c.regs[RSP] = c.regs[RCX] & 0xffffffffL;
        }
        c.updateMode();
    }
}

package org.tscvm.cpu;

import static org.tscvm.cpu.CpuState.*;
import static org.tscvm.cpu.CpuExec.*;
import static org.tscvm.cpu.Segmentation.*;

/**
 * Hardware task switches (SDM vol. 3A 7.3) in legacy protected mode: an interrupt or exception
 * through a task gate, a far JMP or CALL to a TSS descriptor or a task gate, and IRET with
 * EFLAGS.NT set. IA-32e mode has none (its callers raise #GP there, as the SDM says).
 *
 * <p>The checks that fault in the old task's context come first and change nothing. Then the
 * old task's state is written to its TSS, busy bits and the back link are set, and TR, CR3,
 * EFLAGS, EIP, the general registers and the selectors are loaded from the new TSS; from there
 * on a fault belongs to the new task, and its segment descriptors are checked as they load
 * (SDM table 7-1: #TS with the selector, #NP or #SS when not present). Such a fault is a new
 * exception of the new task, not a fault during the delivery that switched
 * ({@link InterruptDelivery#deliverException} does not escalate it to #DF).
 *
 * <p>Either TSS may be a 32-bit or a 16-bit one (SDM 7.6, figure 7-10): a 16-bit TSS holds IP,
 * FLAGS, the low words of the general registers and ES, CS, SS, DS; switching to it leaves
 * CR3 as it is, loads null FS and GS, and, as the SDM leaves the upper words of the registers
 * "modified and not maintained", sets them as Bochs (after hardware) does: all ones for the
 * general registers, zero for EIP and EFLAGS. A new 32-bit TSS with the debug trap flag T
 * set raises a trap-like #DB (DR6.BT) before the new task's first instruction (SDM 7.2.1).
 *
 * <p>A new task whose EFLAGS has VM set starts in virtual-8086 mode, its selectors loaded as
 * that mode loads them (base = selector * 16, limit 0xFFFF, CPL 3).
 */
final class TaskSwitch {
    /** What started the switch: it decides the busy bits, the back link and NT (SDM table 7-2). */
    enum Source { JMP, CALL, IRET, INTERRUPT }

    /** The smallest limit of a 32-bit TSS: every field up to the I/O map base. */
    static final int MIN_LIMIT = 0x67;
    /** The smallest limit of a 16-bit TSS: every field up to the LDT selector. */
    static final int MIN_LIMIT16 = 0x2b;
    private static final int BACK_LINK = 0, CR3 = 0x1c, EIP = 0x20, EFLAGS = 0x24, GPRS = 0x28, SELECTORS = 0x48,
            LDT = 0x60, TRAP = 0x64;
    private static final int IP16 = 0x0e, FLAGS16 = 0x10, GPRS16 = 0x12, SELECTORS16 = 0x22, LDT16 = 0x2a;
    /** The selectors in a TSS's order: ES, CS, SS, DS, FS, GS (the CPU's segment numbering); a 16-bit TSS has the first four. */
    private static final int[] SEGMENT_ORDER = {ES, CS, SS, DS, FS, GS};

    /** Where a 32- or 16-bit TSS keeps what a task switch saves of the old task, each field {@code width} bytes. */
    private record SavedState(int width, int ip, int flags, int gprs, int selectors, int selectorCount) {
    }

    private static final SavedState SAVED32 = new SavedState(4, EIP, EFLAGS, GPRS, SELECTORS, 6),
            SAVED16 = new SavedState(2, IP16, FLAGS16, GPRS16, SELECTORS16, 4);

    /** Writes the old task's IP, FLAGS, general registers and selectors into its TSS at {@code base}. */
    private static void saveState(CpuExec c, SavedState t, long base, long ip, long flags) {
        c.writeSys(base + t.ip(), t.width(), ip);
        c.writeSys(base + t.flags(), t.width(), flags);
        for (int r = 0; r < 8; r++) {
            c.writeSys(base + t.gprs() + (long) t.width() * r, t.width(), c.regs[r]);
        }
        for (int i = 0; i < t.selectorCount(); i++) {
            c.writeSys(base + t.selectors() + (long) t.width() * i, t.width(), c.segSel[SEGMENT_ORDER[i]]);
        }
    }

    private TaskSwitch() {
    }

    /** A TSS descriptor type of either width, available. */
    private static boolean isAvailableTss(int type) {
        return type == T_TSS_AVAIL || type == T_TSS16_AVAIL;
    }

    /** A TSS descriptor type of either width, busy. */
    private static boolean isBusyTss(int type) {
        return type == T_TSS_BUSY || type == T_TSS16_BUSY;
    }

    /**
     * A far JMP or CALL whose selector names {@code d}, a TSS descriptor or a task gate (the
     * caller has read it; not in IA-32e mode). {@code returnEip} is the next instruction's.
     */
    static void farTransfer(CpuExec c, int sel, long d, boolean call) {
        int attr = descAttr(d);
        int type = attr & A_TYPE;
        if (dpl(attr) < c.cpl || dpl(attr) < (sel & 3)) {
            throw c.gp(sel & 0xfffc);
        }
        if ((attr & A_P) == 0) {
            throw c.fault(CpuFault.NP, sel & 0xfffc);
        }
        int tssSel = sel;
        long tss = d;
        if (type == T_TASK) {
            tssSel = (int) (d >>> 16) & 0xffff;
            tss = availableTss(c, tssSel, false);
        } else if (!isAvailableTss(type)) {
            throw c.gp(sel & 0xfffc); // busy
        }
        switchTo(c, tssSel, tss, call ? Source.CALL : Source.JMP, c.rip, -1, false);
    }

    /** An interrupt or exception through the task gate {@code gate} of the IDT (present, DPL checked). */
    static void interrupt(CpuExec c, long gate, int errorCode, boolean external, long returnEip) {
        int tssSel = (int) (gate >>> 16) & 0xffff;
        long tss = availableTss(c, tssSel, external);
        switchTo(c, tssSel, tss, Source.INTERRUPT, returnEip, errorCode, external);
    }

    /** IRET with NT set: back to the task in the current TSS's back link, which must be busy. */
    static void iret(CpuExec c) {
        int back = (int) c.readSys(c.trBase + BACK_LINK, 2);
        if ((back & 4) != 0 || (back & 0xfff8) + 7 > c.gdtrLimit || (back & 0xfffc) == 0) {
            throw c.fault(CpuFault.TS, back & 0xfffc);
        }
        long d = c.readSys(c.gdtrBase + (back & 0xfff8), 8);
        int attr = descAttr(d);
        if ((attr & A_S) != 0 || !isBusyTss(attr & A_TYPE)) {
            throw c.fault(CpuFault.TS, back & 0xfffc);
        }
        if ((attr & A_P) == 0) {
            throw c.fault(CpuFault.NP, back & 0xfffc);
        }
        switchTo(c, back, d, Source.IRET, c.rip, -1, false);
    }

    /** The TSS descriptor a task gate names: in the GDT, a TSS not busy, present. */
    private static long availableTss(CpuExec c, int tssSel, boolean external) {
        int err = (tssSel & 0xfffc) | (external ? 1 : 0);
        if ((tssSel & 4) != 0 || (tssSel & 0xfff8) + 7 > c.gdtrLimit) {
            throw c.gp(err);
        }
        long d = c.readSys(c.gdtrBase + (tssSel & 0xfff8), 8);
        int attr = descAttr(d);
        if ((attr & A_S) != 0 || !isAvailableTss(attr & A_TYPE)) {
            throw c.gp(err); // busy, or not a TSS
        }
        if ((attr & A_P) == 0) {
            throw c.fault(CpuFault.NP, err);
        }
        return d;
    }

    /** A 32-bit TSS (type 9 or 11), else a 16-bit one. */
    private static boolean wide(int attr) {
        return (attr & 8) != 0;
    }

    private static void switchTo(CpuExec c, int newSel, long newDesc, Source source, long returnEip, int errorCode,
                                 boolean external) {
        int ext = external ? 1 : 0;
        long newBase = descBase(newDesc);
        long newLimit = descLimit(newDesc);
        boolean new32 = wide(descAttr(newDesc));
        if (newLimit < (new32 ? MIN_LIMIT : MIN_LIMIT16)) {
            throw c.fault(CpuFault.TS, (newSel & 0xfffc) | ext);
        }
        boolean old32 = wide(c.trAttr);
        if (!isBusyTss(c.trAttr & A_TYPE) || c.trLimit < (old32 ? MIN_LIMIT : MIN_LIMIT16)) {
            throw c.gp((newSel & 0xfffc) | ext); // the running task has no usable TSS
        }
        // Read the whole new state first: a page fault here is in the old task's context.
        long newFlags;
        long newCr3 = 0;
        long newEip;
        long[] gprs = new long[8];
        int[] selectors = new int[6];
        int ldt;
        boolean trap = false;
        if (new32) {
            newFlags = c.readSys(newBase + EFLAGS, 4);
            newCr3 = c.readSys(newBase + CR3, 4);
            newEip = c.readSys(newBase + EIP, 4);
            for (int r = 0; r < 8; r++) {
                gprs[r] = c.readSys(newBase + GPRS + 4L * r, 4);
            }
            for (int i = 0; i < 6; i++) {
                selectors[i] = (int) c.readSys(newBase + SELECTORS + 4L * i, 2);
            }
            ldt = (int) c.readSys(newBase + LDT, 2);
            trap = (c.readSys(newBase + TRAP, 2) & 1) != 0;
        } else {
            newFlags = c.readSys(newBase + FLAGS16, 2);
            newEip = c.readSys(newBase + IP16, 2);
            for (int r = 0; r < 8; r++) {
                gprs[r] = 0xffff0000L | c.readSys(newBase + GPRS16 + 2L * r, 2);
            }
            for (int i = 0; i < 4; i++) {
                selectors[i] = (int) c.readSys(newBase + SELECTORS16 + 2L * i, 2);
            }
            ldt = (int) c.readSys(newBase + LDT16, 2);
        }

        // The old task's state goes to its TSS (IRET saves its flags with NT clear).
        long oldFlags = c.rflags();
        if (source == Source.IRET) {
            oldFlags &= ~NT;
        }
        saveState(c, old32 ? SAVED32 : SAVED16, c.trBase, returnEip, oldFlags);
        int oldSel = c.trSel;
        if (source == Source.JMP || source == Source.IRET) {
            setBusy(c, oldSel, false);
        }
        if (source == Source.CALL || source == Source.INTERRUPT) {
            c.writeSys(newBase + BACK_LINK, 2, oldSel);
            newFlags |= NT;
        }
        if (source != Source.IRET) {
            setBusy(c, newSel, true);
        }

        // From here on the new task runs: what faults, faults in its context.
        c.taskSwitches++;
        c.trSel = newSel;
        c.trBase = newBase;
        c.trLimit = newLimit;
        c.trAttr = descAttr(newDesc) | 2;
        c.sysregs.writeCr0(c.cr0 | CR0_TS);
        if (new32 && (c.cr0 & CR0_PG) != 0) {
            c.sysregs.writeCr3(newCr3);
        }
        c.loadFlags(newFlags | 2);
        c.rip = newEip;
        c.prevRip = newEip;
        for (int r = 0; r < 8; r++) {
            c.regs[r] = gprs[r];
        }
        // Selectors first, without their descriptors, so a fault shows the new task's values;
        // until CS loads, such a fault is taken as from CPL 3, on the new TSS's ring-0 stack
        // rather than on a stack whose descriptor is not loaded (as Bochs does).
        for (int i = 0; i < 6; i++) {
            c.segSel[SEGMENT_ORDER[i]] = selectors[i];
        }
        c.setCpl(3);
        c.userBit = 1;
        c.ldtrSel = ldt;
        loadLdt(c, ldt, ext);
        if ((newFlags & VM) != 0) {
            for (int seg : SEGMENT_ORDER) {
                c.segments.setVm86Segment(seg, c.segSel[seg]);
            }
            c.updateMode(); // CPL 3, 16-bit
        } else {
            int newCpl = selectors[1] & 3;
            loadCode(c, selectors[1], newCpl, ext);
            loadStack(c, selectors[2], newCpl, ext);
            for (int s : DATA_SEGMENTS) {
                loadData(c, s, c.segSel[s], newCpl, ext);
            }
            c.updateMode();
        }
        // The error code of an exception goes on the new task's stack, as wide as its TSS.
        if (errorCode >= 0) {
            c.push(errorCode, new32 ? 4 : 2);
        }
        if (c.rip > c.segLimit[CS]) {
            throw c.gp(ext);
        }
        if (trap) {
            c.taskSwitchTrap();
        }
    }

    /** Sets or clears the busy bit of the TSS descriptor {@code sel} names in the GDT (LTR and task switches). */
    static void setBusy(CpuExec c, int sel, boolean busy) {
        long at = c.gdtrBase + (sel & 0xfff8) + 5;
        long access = c.readSys(at, 1);
        c.writeSys(at, 1, busy ? access | 2 : access & ~2);
    }

    /** The descriptor of {@code sel} in the new task's tables, or #TS(sel) past their limit. */
    private static long descriptor(CpuExec c, int sel, int ext) {
        int idx = sel & 0xfff8;
        if ((sel & 4) != 0) {
            if ((c.ldtrAttr & A_UNUSABLE) != 0 || idx + 7 > c.ldtrLimit) {
                throw c.fault(CpuFault.TS, (sel & 0xfffc) | ext);
            }
            return c.readSys(c.ldtrBase + idx, 8);
        }
        if (idx + 7 > c.gdtrLimit) {
            throw c.fault(CpuFault.TS, (sel & 0xfffc) | ext);
        }
        return c.readSys(c.gdtrBase + idx, 8);
    }

    private static void loadLdt(CpuExec c, int sel, int ext) {
        if ((sel & 0xfffc) == 0) {
            c.ldtrBase = 0;
            c.ldtrLimit = 0;
            c.ldtrAttr = A_UNUSABLE;
            return;
        }
        if ((sel & 4) != 0 || (sel & 0xfff8) + 7 > c.gdtrLimit) {
            throw c.fault(CpuFault.TS, (sel & 0xfffc) | ext);
        }
        long d = c.readSys(c.gdtrBase + (sel & 0xfff8), 8);
        int attr = descAttr(d);
        if ((attr & A_S) != 0 || (attr & A_TYPE) != T_LDT || (attr & A_P) == 0) {
            throw c.fault(CpuFault.TS, (sel & 0xfffc) | ext);
        }
        c.ldtrBase = descBase(d);
        c.ldtrLimit = descLimit(d);
        c.ldtrAttr = attr;
    }

    private static void loadCode(CpuExec c, int sel, int cpl, int ext) {
        int err = (sel & 0xfffc) | ext;
        if ((sel & 0xfffc) == 0) {
            throw c.fault(CpuFault.TS, err);
        }
        long d = descriptor(c, sel, ext);
        int attr = descAttr(d);
        boolean code = (attr & A_S) != 0 && (attr & 8) != 0;
        boolean conforming = (attr & 4) != 0;
        if (!code || (conforming ? dpl(attr) > cpl : dpl(attr) != cpl)) {
            throw c.fault(CpuFault.TS, err);
        }
        if ((attr & A_P) == 0) {
            throw c.fault(CpuFault.NP, err);
        }
        c.segments.loadCs(sel, d, cpl);
    }

    private static void loadStack(CpuExec c, int sel, int cpl, int ext) {
        int err = (sel & 0xfffc) | ext;
        if ((sel & 0xfffc) == 0) {
            throw c.fault(CpuFault.TS, err);
        }
        long d = descriptor(c, sel, ext);
        int attr = descAttr(d);
        if (!Segmentation.stackLoadable(attr, sel & 3, cpl)) {
            throw c.fault(CpuFault.TS, err);
        }
        if ((attr & A_P) == 0) {
            throw c.fault(CpuFault.SS, err);
        }
        c.segments.loadChecked(SS, sel, d);
    }

    private static void loadData(CpuExec c, int seg, int sel, int cpl, int ext) {
        if ((sel & 0xfffc) == 0) {
            c.setSeg(seg, sel, 0, 0, A_UNUSABLE);
            return;
        }
        int err = (sel & 0xfffc) | ext;
        long d = descriptor(c, sel, ext);
        int attr = descAttr(d);
        if (!Segmentation.dataLoadable(attr, sel & 3, cpl)) {
            throw c.fault(CpuFault.TS, err);
        }
        if ((attr & A_P) == 0) {
            throw c.fault(CpuFault.NP, err);
        }
        c.segments.loadChecked(seg, sel, d);
    }
}

package org.tscvm.cpu;

import static org.tscvm.cpu.CpuState.*;
import static org.tscvm.cpu.CpuExec.*;

/**
 * The segmentation of one logical processor (SDM Vol. 3A chapters 3 and 5): descriptors read
 * from the GDT and LDT, the loads of the segment registers with their protection checks (MOV
 * and POP to a segment register, CS for far transfers and interrupts, SS for a return to an
 * outer level, virtual-8086 mode's forms), the accessed bit they set, and the inner-level SS:ESP
 * the TSS holds for a stack switch.
 *
 * <p>It works on the {@link CpuExec} it is built with: the segment caches, GDTR, LDTR and TR
 * stay that CPU's fields, which the linear-address fast paths read directly, and a load writes
 * them through its {@link CpuExec#setSeg} and {@link CpuExec#updateMode}. Its only state is
 * the SS:ESP of the last {@link #innerStackSegment}.
 */
final class Segmentation {
    /** ES, DS, FS, GS: a task switch loads them alike; leaving a level or virtual-8086 mode may null them. */
    static final int[] DATA_SEGMENTS = {ES, DS, FS, GS};

    private final CpuExec c;

    Segmentation(CpuExec cpu) {
        this.c = cpu;
    }

    // ---- descriptors ----

    static long descBase(long d) {
        return ((d >>> 16) & 0xffffff) | (((d >>> 56) & 0xff) << 24);
    }

    static long descLimit(long d) {
        long raw = (d & 0xffff) | (((d >>> 48) & 0xf) << 16);
        return (d & (1L << 55)) != 0 ? (raw << 12) | 0xfff : raw;
    }

    static int descAttr(long d) {
        return (int) ((d >>> 40) & 0xf0ff);
    }

    static int dpl(int attr) {
        return (attr >>> 5) & 3;
    }

    /** The linear address of the descriptor {@code sel} names, or #GP(sel) past the table limit. */
    long descAddr(int sel) {
        int idx = sel & 0xfff8;
        if ((sel & 4) != 0) {
            if ((c.ldtrAttr & A_UNUSABLE) != 0 || c.ldtrSel == 0 || idx + 7 > c.ldtrLimit) {
                throw c.gp(sel & 0xfffc);
            }
            return c.ldtrBase + idx;
        }
        if (idx + 7 > c.gdtrLimit) {
            throw c.gp(sel & 0xfffc);
        }
        return c.gdtrBase + idx;
    }

    long readDesc(int sel) {
        return c.readSys(descAddr(sel), 8);
    }

    /**
     * The upper 8 bytes of a 16-byte IA-32e system descriptor in the GDT (LDT, TSS): #GP(sel)
     * when they lie past the GDT limit.
     */
    long readDescHigh(int sel) {
        if ((sel & 0xfff8) + 15 > c.gdtrLimit) {
            throw c.gp(sel & 0xfffc);
        }
        return c.readSys(c.gdtrBase + (sel & 0xfff8) + 8, 8);
    }

    /** Sets the accessed bit of a code/data descriptor in memory, as the processor does on a load. */
    void markAccessed(int sel, long d) {
        if ((d & (1L << 40)) == 0) {
            c.writeSys(descAddr(sel) + 5, 1, (d >>> 40) | 1);
        }
    }

    // ---- segment loads ----

    /**
     * Whether a descriptor with attributes {@code attr} may be loaded into SS by a selector of
     * RPL {@code rpl} at CPL {@code cpl}: a writable data segment, RPL = DPL = CPL. Presence is
     * checked apart (its fault differs).
     */
    static boolean stackLoadable(int attr, int rpl, int cpl) {
        return rpl == cpl && (attr & A_S) != 0 && (attr & 0xa) == 2 && dpl(attr) == cpl;
    }

    /**
     * Whether a descriptor with attributes {@code attr} may be loaded into DS, ES, FS or GS by a
     * selector of RPL {@code rpl} at CPL {@code cpl}: data or readable code, with a DPL at
     * least the RPL and the CPL unless the code is conforming.
     */
    static boolean dataLoadable(int attr, int rpl, int cpl) {
        boolean data = (attr & 8) == 0;
        boolean readableCode = !data && (attr & 2) != 0;
        boolean conformingCode = !data && (attr & 4) != 0;
        return (attr & A_S) != 0 && (data || readableCode)
                && (conformingCode || rpl <= dpl(attr) && cpl <= dpl(attr));
    }

    /** Loads {@code seg} from descriptor {@code d} of {@code sel}, its checks passed: marked accessed in memory. */
    void loadChecked(int seg, int sel, long d) {
        markAccessed(sel, d);
        c.setSeg(seg, sel, descBase(d), descLimit(d), descAttr(d) | 1);
    }

    /**
     * MOV/POP/LDS to DS, ES, FS, GS or SS, with the protected-mode checks of SDM MOV; in real
     * mode also CS (far transfers, interrupts), where only the selector and base change.
     */
    void loadSegment(int seg, int sel) {
        sel &= 0xffff;
        if (c.realMode() || (c.flags & VM) != 0) {
            c.segSel[seg] = sel;
            c.segBase[seg] = (long) sel << 4;
            if (seg == CS) {
                c.segAttr[seg] = (c.segAttr[seg] & ~A_UNUSABLE) | A_P | A_S | 0xb;
            } else {
                c.segAttr[seg] = (c.segAttr[seg] & ~A_UNUSABLE) | A_P | A_S;
            }
            c.updateSegChecked(seg);
            if (seg == SS) {
                c.updateMode();
            }
            return;
        }
        if ((sel & 0xfffc) == 0) {
            if (seg == SS && !(c.mode64 && c.cpl < 3 && (sel & 3) == c.cpl)) {
                throw c.gp(0);
            }
            // Intel zeroes the base on a null load (AMD keeps it: Linux X86_BUG_NULL_SEG).
            c.setSeg(seg, sel, 0, 0, A_UNUSABLE | (seg == SS ? (A_DB | (c.cpl << 5)) : 0));
            if (seg == SS) {
                c.updateMode();
            }
            return;
        }
        long d = readDesc(sel);
        int attr = descAttr(d);
        int rpl = sel & 3;
        if (seg == SS ? !stackLoadable(attr, rpl, c.cpl) : !dataLoadable(attr, rpl, c.cpl)) {
            throw c.gp(sel & 0xfffc);
        }
        if ((attr & A_P) == 0) {
            throw c.fault(seg == SS ? CpuFault.SS : CpuFault.NP, sel & 0xfffc);
        }
        loadChecked(seg, sel, d);
        if (seg == SS) {
            c.updateMode();
        }
    }

    /**
     * After a return to an outer level: data segments the new CPL may not use get a null
     * selector and become unusable (SDM RET, IRET). Only the selector changes: the base
     * stays, and 64-bit mode still adds the FS and GS bases (as Intel and KVM do).
     */
    void nullifyInaccessibleSegments() {
        for (int s : DATA_SEGMENTS) {
            int attr = c.segAttr[s];
            boolean conformingCode = (attr & 0xc) == 0xc;
            if ((attr & A_UNUSABLE) == 0 && !conformingCode && dpl(attr) < c.cpl) {
                c.setSeg(s, 0, c.segBase[s], c.segLimit[s], A_UNUSABLE);
            }
        }
    }

    /**
     * Loads CS from the descriptor {@code d} of {@code sel}, which the caller has checked, with
     * RPL and CPL {@code newCpl}; the accessed-bit write comes first, so a fault changes nothing.
     */
    void loadCs(int sel, long d, int newCpl) {
        markAccessed(sel, d);
        int attr = descAttr(d) | 1;
        c.setSeg(CS, (sel & 0xfffc) | newCpl, descBase(d), descLimit(d), attr);
        c.setCpl(newCpl);
        c.updateMode();
    }

    /**
     * A segment register as entry into virtual-8086 mode loads it (a task switch, IRET): base
     * selector * 16, limit 0xFFFF, present, DPL 3, 16-bit, accessed (SDM 20.2.1).
     */
    void setVm86Segment(int seg, int sel) {
        c.setSeg(seg, sel, (long) (sel & 0xffff) << 4, 0xffff, A_P | A_S | (3 << 5) | (seg == CS ? 0xb : 3));
    }

    /**
     * The checks of SS for a RETF or IRET to the outer level {@code rpl} (SDM RET and IRET),
     * and its accessed bit: returns the descriptor, or 0 for a null selector, which only a
     * 64-bit target below ring 3 may take. Whatever faults here faults before CS changes.
     */
    long outerStackSegment(int newSs, int rpl, boolean target64) {
        if ((newSs & 0xfffc) == 0) {
            if (!(target64 && rpl < 3)) {
                throw c.gp(0);
            }
            return 0;
        }
        if ((newSs & 3) != rpl) {
            throw c.gp(newSs & 0xfffc);
        }
        long sd = readDesc(newSs);
        int sattr = descAttr(sd);
        if (!stackLoadable(sattr, newSs & 3, rpl)) {
            throw c.gp(newSs & 0xfffc);
        }
        if ((sattr & A_P) == 0) {
            throw c.fault(CpuFault.SS, newSs & 0xfffc);
        }
        markAccessed(newSs, sd);
        return sd;
    }

    /** Loads SS checked by {@link #outerStackSegment}. */
    void loadOuterStackSegment(int newSs, long sd, int rpl) {
        if ((newSs & 0xfffc) == 0) {
            c.setSeg(SS, newSs, 0, 0, A_UNUSABLE | A_DB | (rpl << 5));
        } else {
            c.setSeg(SS, newSs, descBase(sd), descLimit(sd), descAttr(sd) | 1);
        }
        c.updateMode();
    }

    // ---- the stack of an inner level, from the TSS ----

    /**
     * A stack field of the current TSS (RSPn, ISTn, ESPn/SSn) for an interrupt's stack switch: a
     * field beyond TR's limit is #TS with TR's selector (SDM 6.12.1.1, 6.14.5).
     */
    long readTssStack(long offset, int size, boolean external) {
        if (offset + size - 1 > c.trLimit) {
            throw c.fault(CpuFault.TS, (c.trSel & 0xfffc) | (external ? 1 : 0));
        }
        return c.readSys(c.trBase + offset, size);
    }

    /** The SS selector and ESP {@link #innerStackSegment} read from the TSS. */
    int innerSs;
    long innerEsp;

    /**
     * The switch to the stack of the more privileged level {@code newCpl} outside IA-32e mode,
     * for a CALL through a call gate and for an interrupt or exception through an interrupt or
     * trap gate (the SDM's CALL and 6.12.1 give the same steps): SSn:ESPn from the 32- or
     * 16-bit TSS, left in {@link #innerSs} and {@link #innerEsp}, and the checks of that SS, a
     * null selector or one of another RPL, DPL or type being #TS and a not-present one #SS,
     * with EXT set in the error code when {@code external}. Returns the SS descriptor; nothing
     * is loaded yet.
     */
    long innerStackSegment(int newCpl, boolean external) {
        boolean tss32 = (c.trAttr & A_TYPE) == T_TSS_BUSY || (c.trAttr & A_TYPE) == T_TSS_AVAIL;
        long espOff = tss32 ? 4 + newCpl * 8L : 2 + newCpl * 4L;
        long esp = readTssStack(espOff, tss32 ? 4 : 2, external);
        int ss = (int) readTssStack(espOff + (tss32 ? 4 : 2), 2, external);
        int error = (ss & 0xfffc) | (external ? 1 : 0);
        if ((ss & 0xfffc) == 0 || (ss & 3) != newCpl) {
            throw c.fault(CpuFault.TS, error);
        }
        long sd = readDesc(ss);
        int sattr = descAttr(sd);
        if (!stackLoadable(sattr, ss & 3, newCpl)) {
            throw c.fault(CpuFault.TS, error);
        }
        if ((sattr & A_P) == 0) {
            throw c.fault(CpuFault.SS, error);
        }
        innerSs = ss;
        innerEsp = esp;
        return sd;
    }
}

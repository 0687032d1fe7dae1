package org.tscvm.cpu;

import org.tscvm.memory.GuestMemory;

/**
 * Descriptors, segment loads and the stack in real, protected and long mode (SDM vol. 3
 * chapters 3, 5); exception and interrupt delivery and IRET are its part {@link #interrupts},
 * far JMP, CALL and RETF its part {@link #far}, the control registers, EFER and the MSRs that
 * are CPU state its part {@link #sysregs}.
 */
abstract class CpuSystem extends CpuMemory {
    static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;

    /** Descriptor types (S=0). */
    static final int T_TSS16_AVAIL = 1, T_LDT = 2, T_TSS16_BUSY = 3, T_CALL16 = 4, T_TASK = 5, T_INT16 = 6,
            T_TRAP16 = 7, T_TSS_AVAIL = 9, T_TSS_BUSY = 11, T_CALL = 12, T_INT = 14, T_TRAP = 15;

    static final int[] DATA_SEGMENTS = {ES, DS, FS, GS};

    /** Set by a fault during #DF delivery; the run loop reports TRIPLE_FAULT. */
    boolean shutdown;
    /**
     * Counts hardware task switches past their commit point: a fault after it belongs to the
     * new task, so a far transfer or an interrupt must not put the old task's RSP back.
     */
    int taskSwitches;

    /** Exception and interrupt delivery (#DF, shutdown) and IRET. */
    final InterruptDelivery interrupts = new InterruptDelivery(this);

    /** Far JMP and CALL (call gates, the stack switch from the TSS) and RETF. */
    final FarTransfers far = new FarTransfers(this);

    /** Writes of CR0, CR3, CR4 and DR7; EFER and the other MSRs that are CPU state. */
    final SystemRegisters sysregs = new SystemRegisters(this);

    CpuSystem(GuestMemory memory, CpuBus bus) {
        super(memory, bus);
    }

    final boolean realMode() {
        return (cr0 & CR0_PE) == 0;
    }

    final boolean longMode() {
        return (efer & EFER_LMA) != 0;
    }

    /**
     * CPL changes here (and in a task switch): while a performance counter filters on it, the
     * platform first counts what retired at the old level.
     */
    final void setCpl(int newCpl) {
        if (watchPrivilege && newCpl != cpl) {
            bus.privilegeLevelChanging();
        }
        cpl = newCpl;
    }

    /** The decode mode and CPL the links of the current {@link Mmu#epoch} were made in. */
    private int chainMode = -1;

    /** Recomputes the mode fields after CS, SS, CR0 or EFER changed. */
    final void updateMode() {
        mode64 = longMode() && (segAttr[CS] & A_L) != 0;
        codeSize = mode64 ? 8 : (segAttr[CS] & A_DB) != 0 ? 4 : 2;
        stackSize = mode64 ? 8 : (segAttr[SS] & A_DB) != 0 ? 4 : 2;
        setCpl(realMode() || csFromRealMode ? 0 : (flags & VM) != 0 ? 3 : segSel[CS] & 3);
        userBit = cpl == 3 ? 1 : 0;
        // Links hold for one decode mode and one privilege (a fetch's rights); an interrupt
        // or IRET that keeps both (most of a kernel's) keeps them.
        int linkMode = codeSize | (mode64 ? 16 : 0) | (realMode() ? 32 : 0) | cpl << 6;
        if (linkMode != chainMode) {
            chainMode = linkMode;
            mmu.epoch++;
        }
        for (int s = 0; s < 6; s++) {
            updateSegChecked(s);
        }
    }

    /**
     * True from MOV CR0 setting PE until the first CS load: CS still holds a real-mode value,
     * whose low bits are no RPL, and the CPL stays real mode's 0 (SDM 9.9.1).
     */
    boolean csFromRealMode;

    final void setSeg(int seg, int sel, long base, long limit, int attr) {
        if (seg == CS) {
            csFromRealMode = false;
        }
        segSel[seg] = sel & 0xffff;
        segBase[seg] = base;
        segLimit[seg] = limit;
        segAttr[seg] = attr;
        updateSegChecked(seg);
    }

    /**
     * A task switch to a TSS with the T flag: the run loop raises #DB with DR6.BT before the
     * new task's first instruction (SDM 7.2.1), ahead of NMIs and interrupts.
     */
    abstract void taskSwitchTrap();

    /** {@link #cetActive} changed: compiled blocks must stop chaining (or may again). */
    abstract void cetChanged();

    /**
     * A segment register as entry into virtual-8086 mode loads it (a task switch, IRET): base
     * selector * 16, limit 0xFFFF, present, DPL 3, 16-bit, accessed (SDM 20.2.1).
     */
    final void setVm86Segment(int seg, int sel) {
        setSeg(seg, sel, (long) (sel & 0xffff) << 4, 0xffff, A_P | A_S | (3 << 5) | (seg == CS ? 0xb : 3));
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
    final long descAddr(int sel) {
        int idx = sel & 0xfff8;
        if ((sel & 4) != 0) {
            if ((ldtrAttr & A_UNUSABLE) != 0 || ldtrSel == 0 || idx + 7 > ldtrLimit) {
                throw gp(sel & 0xfffc);
            }
            return ldtrBase + idx;
        }
        if (idx + 7 > gdtrLimit) {
            throw gp(sel & 0xfffc);
        }
        return gdtrBase + idx;
    }

    final long readDesc(int sel) {
        return readSys(descAddr(sel), 8);
    }

    /**
     * The upper 8 bytes of a 16-byte IA-32e system descriptor in the GDT (LDT, TSS): #GP(sel)
     * when they lie past the GDT limit.
     */
    final long readDescHigh(int sel) {
        if ((sel & 0xfff8) + 15 > gdtrLimit) {
            throw gp(sel & 0xfffc);
        }
        return readSys(gdtrBase + (sel & 0xfff8) + 8, 8);
    }

    /** Sets the accessed bit of a code/data descriptor in memory, as the processor does on a load. */
    final void markAccessed(int sel, long d) {
        if ((d & (1L << 40)) == 0) {
            writeSys(descAddr(sel) + 5, 1, (d >>> 40) | 1);
        }
    }

    /**
     * MOV/POP/LDS to DS, ES, FS, GS or SS, with the protected-mode checks of SDM MOV; in real
     * mode also CS (far transfers, interrupts), where only the selector and base change.
     */
    final void loadSegment(int seg, int sel) {
        sel &= 0xffff;
        if (realMode() || (flags & VM) != 0) {
            segSel[seg] = sel;
            segBase[seg] = (long) sel << 4;
            if (seg == CS) {
                segAttr[seg] = (segAttr[seg] & ~A_UNUSABLE) | A_P | A_S | 0xb;
            } else {
                segAttr[seg] = (segAttr[seg] & ~A_UNUSABLE) | A_P | A_S;
            }
            updateSegChecked(seg);
            if (seg == SS) {
                updateMode();
            }
            return;
        }
        if ((sel & 0xfffc) == 0) {
            if (seg == SS && !(mode64 && cpl < 3 && (sel & 3) == cpl)) {
                throw gp(0);
            }
            // Intel zeroes the base on a null load (AMD keeps it: Linux X86_BUG_NULL_SEG).
            setSeg(seg, sel, 0, 0, A_UNUSABLE | (seg == SS ? (A_DB | (cpl << 5)) : 0));
            if (seg == SS) {
                updateMode();
            }
            return;
        }
        long d = readDesc(sel);
        int attr = descAttr(d);
        int type = attr & A_TYPE;
        int rpl = sel & 3;
        if (seg == SS) {
            if (rpl != cpl || (attr & A_S) == 0 || (type & 0xa) != 2 || dpl(attr) != cpl) {
                throw gp(sel & 0xfffc);
            }
            if ((attr & A_P) == 0) {
                throw fault(CpuFault.SS, sel & 0xfffc);
            }
        } else {
            boolean data = (type & 8) == 0;
            boolean readableCode = !data && (type & 2) != 0;
            if ((attr & A_S) == 0 || !(data || readableCode)) {
                throw gp(sel & 0xfffc);
            }
            boolean conformingCode = !data && (type & 4) != 0;
            if (!conformingCode && (rpl > dpl(attr) || cpl > dpl(attr))) {
                throw gp(sel & 0xfffc);
            }
            if ((attr & A_P) == 0) {
                throw fault(CpuFault.NP, sel & 0xfffc);
            }
        }
        markAccessed(sel, d);
        setSeg(seg, sel, descBase(d), descLimit(d), attr | 1);
        if (seg == SS) {
            updateMode();
        }
    }

    /**
     * After a return to an outer level: data segments the new CPL may not use get a null
     * selector and become unusable (SDM RET, IRET). Only the selector changes: the base
     * stays, and 64-bit mode still adds the FS and GS bases (as Intel and KVM do).
     */
    final void nullifyInaccessibleSegments() {
        for (int s : DATA_SEGMENTS) {
            int attr = segAttr[s];
            boolean conformingCode = (attr & 0xc) == 0xc;
            if ((attr & A_UNUSABLE) == 0 && !conformingCode && dpl(attr) < cpl) {
                setSeg(s, 0, segBase[s], segLimit[s], A_UNUSABLE);
            }
        }
    }

    /**
     * Loads CS from the descriptor {@code d} of {@code sel}, which the caller has checked, with
     * RPL and CPL {@code newCpl}; the accessed-bit write comes first, so a fault changes nothing.
     */
    final void loadCs(int sel, long d, int newCpl) {
        markAccessed(sel, d);
        int attr = descAttr(d) | 1;
        setSeg(CS, (sel & 0xfffc) | newCpl, descBase(d), descLimit(d), attr);
        setCpl(newCpl);
        updateMode();
    }

    final void checkRipInCs(long target) {
        if (!mode64 && target > segLimit[CS]) {
            throw gp(0);
        }
        if (mode64 && (target << 16 >> 16) != target) {
            throw gp(0);
        }
    }

    /** The linear address of {@code ip} in the current CS (what the shadow stack keeps of a return address). */
    final long returnLip(long ip) {
        return mode64 ? ip : (segBase[CS] + ip) & 0xffffffffL;
    }

    /**
     * The checks of SS for a RETF or IRET to the outer level {@code rpl} (SDM RET and IRET),
     * and its accessed bit: returns the descriptor, or 0 for a null selector, which only a
     * 64-bit target below ring 3 may take. Whatever faults here faults before CS changes.
     */
    final long outerStackSegment(int newSs, int rpl, boolean target64) {
        if ((newSs & 0xfffc) == 0) {
            if (!(target64 && rpl < 3)) {
                throw gp(0);
            }
            return 0;
        }
        if ((newSs & 3) != rpl) {
            throw gp(newSs & 0xfffc);
        }
        long sd = readDesc(newSs);
        int sattr = descAttr(sd);
        if ((sattr & A_S) == 0 || (sattr & 0xa) != 2 || dpl(sattr) != rpl) {
            throw gp(newSs & 0xfffc);
        }
        if ((sattr & A_P) == 0) {
            throw fault(CpuFault.SS, newSs & 0xfffc);
        }
        markAccessed(newSs, sd);
        return sd;
    }

    /** Loads SS checked by {@link #outerStackSegment}. */
    final void loadOuterStackSegment(int newSs, long sd, int rpl) {
        if ((newSs & 0xfffc) == 0) {
            setSeg(SS, newSs, 0, 0, A_UNUSABLE | A_DB | (rpl << 5));
        } else {
            setSeg(SS, newSs, descBase(sd), descLimit(sd), descAttr(sd) | 1);
        }
        updateMode();
    }

    // ---- the stack ----

    final long stackMask() {
        return stackSize == 8 ? -1L : stackSize == 4 ? 0xffffffffL : 0xffff;
    }

    final void setSp(long v) {
        long m = stackMask();
        regs[RSP] = (regs[RSP] & ~m) | (v & m);
    }

    final void adjustSp(long delta) {
        setSp(regs[RSP] + delta);
    }

    final void push(long v, int size) {
        long sp = (regs[RSP] - size) & stackMask();
        writeLin(linear(SS, sp, size, true), size, v);
        setSp(sp);
    }

    final long pop(int size) {
        long sp = regs[RSP] & stackMask();
        long v = readLin(linear(SS, sp, size, false), size);
        setSp(sp + size);
        return v;
    }

    /** Reads the stack at SP + {@code offset} without moving SP. */
    final long readStack(long offset, int size) {
        long sp = (regs[RSP] + offset) & stackMask();
        return readLin(linear(SS, sp, size, false), size);
    }

    /**
     * A stack field of the current TSS (RSPn, ISTn, ESPn/SSn) for an interrupt's stack switch: a
     * field beyond TR's limit is #TS with TR's selector (SDM 6.12.1.1, 6.14.5).
     */
    final long readTssStack(long offset, int size, boolean external) {
        if (offset + size - 1 > trLimit) {
            throw fault(CpuFault.TS, (trSel & 0xfffc) | (external ? 1 : 0));
        }
        return readSys(trBase + offset, size);
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
    final long innerStackSegment(int newCpl, boolean external) {
        boolean tss32 = (trAttr & A_TYPE) == T_TSS_BUSY || (trAttr & A_TYPE) == T_TSS_AVAIL;
        long espOff = tss32 ? 4 + newCpl * 8L : 2 + newCpl * 4L;
        long esp = readTssStack(espOff, tss32 ? 4 : 2, external);
        int ss = (int) readTssStack(espOff + (tss32 ? 4 : 2), 2, external);
        int error = (ss & 0xfffc) | (external ? 1 : 0);
        if ((ss & 0xfffc) == 0 || (ss & 3) != newCpl) {
            throw fault(CpuFault.TS, error);
        }
        long sd = readDesc(ss);
        int sattr = descAttr(sd);
        if ((sattr & A_S) == 0 || (sattr & 0xa) != 2 || dpl(sattr) != newCpl) {
            throw fault(CpuFault.TS, error);
        }
        if ((sattr & A_P) == 0) {
            throw fault(CpuFault.SS, error);
        }
        innerSs = ss;
        innerEsp = esp;
        return sd;
    }

    // ---- RFLAGS writes by POPF/IRET ----

    /**
     * Writes RFLAGS from a POPF or IRET image with the privilege rules of SDM POPF/IRET: IOPL
     * only at CPL 0, IF only when CPL <= IOPL; VM, VIF, VIP kept (POPF); only the low 16 bits
     * with a 16-bit operand.
     */
    final void writeFlagsChecked(long v, int opSize, int atCpl, boolean iret) {
        long cur = rflags();
        long changeable = ARITH | TF | DF | NT | AC | ID;
        if (realMode() || atCpl == 0) {
            changeable |= IOPL | IF;
        } else if (atCpl <= ((cur & IOPL) >>> 12)) {
            changeable |= IF;
        }
        if (iret) {
            changeable |= RF;
            if (atCpl == 0 && !realMode()) {
                changeable |= VIF | VIP;
            }
        }
        if (opSize == 2) {
            changeable &= 0xffff;
        }
        loadFlags((cur & ~changeable) | (v & changeable));
    }

    // ---- checks the parts and the handlers share ----

    /** "Auth", "enti", "cAMD": CPUID leaf 0's EBX, EDX, ECX on an AMD processor. */
    private static final int AMD_EBX = 0x68747541, AMD_EDX = 0x69746e65, AMD_ECX = 0x444d4163;
    /** Scratch for CPUID leaf 0: no allocation per vendor check. */
    private final int[] vendorLeaf = new int[4];

    /**
     * True when the guest's CPUID names AuthenticAMD: the rules that differ by vendor
     * (SYSCALL/SYSRET outside 64-bit mode, SYSENTER/SYSEXIT in long mode) then follow the APM.
     */
    final boolean amdVendor() {
        int[] out = vendorLeaf;
        bus.cpuid(0, 0, out);
        return out[1] == AMD_EBX && out[3] == AMD_EDX && out[2] == AMD_ECX;
    }

    static boolean canonical(long v) {
        return (v << 16 >> 16) == v;
    }
}

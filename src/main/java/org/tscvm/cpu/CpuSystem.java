package org.tscvm.cpu;

import java.util.Arrays;
import org.tscvm.memory.GuestMemory;

/**
 * Descriptors, segment loads, the stack, control registers and MSRs in real, protected and
 * long mode (SDM vol. 3 chapters 3, 5); exception and interrupt delivery and IRET are its part
 * {@link #interrupts}, far JMP, CALL and RETF its part {@link #far}.
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

    // ---- control registers ----

    final void writeCr0(long v) {
        if ((v >>> 32) != 0 || ((v & CR0_PG) != 0 && (v & CR0_PE) == 0) || ((v & CR0_NW) != 0 && (v & CR0_CD) == 0)) {
            throw gp(0);
        }
        v |= CR0_ET;
        long old = cr0;
        if ((v & CR0_WP) == 0 && (cr4 & CR4_CET) != 0) {
            throw gp(0); // SDM MOV CR: WP cannot be cleared while CR4.CET is set
        }
        if ((v & CR0_PG) != 0 && (old & CR0_PG) == 0 && (efer & EFER_LME) != 0) {
            if ((cr4 & CR4_PAE) == 0 || (segAttr[CS] & A_L) != 0) {
                throw gp(0);
            }
            efer |= EFER_LMA;
        }
        if ((v & CR0_PG) == 0 && (old & CR0_PG) != 0 && longMode()) {
            if (mode64) {
                throw gp(0);
            }
            efer &= ~EFER_LMA;
        }
        if ((v & CR0_PE) != 0 && (old & CR0_PE) == 0) {
            csFromRealMode = true;
        }
        if ((v & CR0_PG) != 0 && (cr4 & CR4_PAE) != 0 && (efer & EFER_LMA) == 0
                && ((old ^ v) & (CR0_PG | CR0_CD | CR0_NW)) != 0) {
            mmu.loadPdptes(cr3); // PAE paging turned on (or its caching changed): SDM 4.4.1
        }
        cr0 = v;
        if (((old ^ v) & (CR0_PG | CR0_WP | CR0_PE)) != 0) {
            mmu.flushTlb(false);
        }
        updateMode();
    }

    /** PAE paging: CR0.PG and CR4.PAE set outside long mode. */
    private boolean paePaging(long cr0v, long cr4v) {
        return (cr0v & CR0_PG) != 0 && (cr4v & CR4_PAE) != 0 && (efer & EFER_LMA) == 0;
    }

    final void writeCr3(long v) {
        if (longMode() && (v >>> 52) != 0) {
            throw gp(0);
        }
        if (paePaging(cr0, cr4)) {
            mmu.loadPdptes(v); // #GP leaves CR3 as it was
        }
        cr3 = longMode() ? v : v & 0xffffffffL;
        mmu.flushTlb((cr4 & CR4_PGE) != 0);
    }

    final void writeCr4(long v) {
        if ((v & ~CR4_SUPPORTED) != 0 || (longMode() && (v & CR4_PAE) == 0)
                || ((v & CR4_BY_CPUID) != 0 && (v & CR4_BY_CPUID & ~cr4BitsCpuidReports()) != 0)
                || ((v & CR4_CET) != 0 && (cr0 & CR0_WP) == 0)) {
            throw gp(0);
        }
        long old = cr4;
        if (paePaging(cr0, v) && ((old ^ v) & (CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP)) != 0) {
            mmu.loadPdptes(cr3); // SDM 4.4.1
        }
        cr4 = v;
        Cet.update(this);
        if (((old ^ v) & (CR4_PGE | CR4_PAE | CR4_PSE | CR4_SMEP | CR4_SMAP | CR4_PKE | CR4_PKS)) != 0) {
            mmu.flushTlb(false);
        }
    }

    /**
     * CR4 bits that exist only when CPUID leaf 7 (leaf 1 for OSXSAVE, VME and PVI) reports their feature; setting
     * one otherwise is #GP (SDM MOV CR4: reserved bits; KVM __cr4_reserved_bits does the same). No CPUID model
     * reports VME, which is not implemented.
     */
    static final long CR4_BY_CPUID = CR4_VME | CR4_PVI | CR4_FSGSBASE | CR4_SMEP | CR4_SMAP | CR4_UMIP | CR4_PKE
            | CR4_PKS | CR4_OSXSAVE | CR4_CET;
    private final int[] cpuidLeaf = new int[4];

    final long cr4BitsCpuidReports() {
        int[] out = cpuidLeaf;
        bus.cpuid(1, 0, out);
        long leaf1 = ((out[2] & (1 << 26)) != 0 ? CR4_OSXSAVE : 0) // CPUID.1:ECX.XSAVE
                | ((out[3] & 2) != 0 ? CR4_VME | CR4_PVI : 0); // CPUID.1:EDX.VME covers both
        bus.cpuid(0, 0, out);
        if (out[0] < 7) {
            return leaf1;
        }
        bus.cpuid(7, 0, out);
        return leaf1 | ((out[1] & 1) != 0 ? CR4_FSGSBASE : 0) | ((out[1] & (1 << 7)) != 0 ? CR4_SMEP : 0)
                | ((out[1] & (1 << 20)) != 0 ? CR4_SMAP : 0) | ((out[2] & (1 << 2)) != 0 ? CR4_UMIP : 0)
                | ((out[2] & (1 << 3)) != 0 ? CR4_PKE : 0) | ((out[2] & (1 << 31)) != 0 ? CR4_PKS : 0)
                | ((out[2] & CPUID7_ECX_CET_SS) != 0 || (out[3] & CPUID7_EDX_CET_IBT) != 0 ? CR4_CET : 0);
    }

    /** CPUID.(7,0):ECX[7] CET_SS and EDX[20] CET_IBT. */
    static final int CPUID7_ECX_CET_SS = 1 << 7, CPUID7_EDX_CET_IBT = 1 << 20;

    /** Whether the CPUID model reports CET shadow stacks (true) or indirect-branch tracking (false). */
    final boolean cpuidReportsCet(boolean shadowStacks) {
        int[] out = cpuidLeaf;
        bus.cpuid(0, 0, out);
        if (out[0] < 7) {
            return false;
        }
        bus.cpuid(7, 0, out);
        return shadowStacks ? (out[2] & CPUID7_ECX_CET_SS) != 0 : (out[3] & CPUID7_EDX_CET_IBT) != 0;
    }

    /** CPUID.(0xD,1):EAX[3], XSAVES/XRSTORS and IA32_XSS. */
    final boolean cpuidReportsXsaves() {
        int[] out = cpuidLeaf;
        bus.cpuid(0xd, 1, out);
        return (out[0] & (1 << 3)) != 0;
    }

    /**
     * Recomputes {@link #guestDebugArmed} and {@link #guestWatch} after DR0-DR3 or DR7 changed;
     * while data breakpoints are enabled the TLB is flushed so their pages take the slow path.
     */
    final void updateGuestDebug() {
        long dr7 = dr[7];
        guestDebugArmed = (dr7 & 0xff) != 0;
        boolean watch = false;
        for (int n = 0; n < 4; n++) {
            watch |= isDataBreakpoint(dr7, n);
        }
        if (watch || guestWatch) {
            mmu.flushTlb(false);
        }
        guestWatch = watch;
    }

    /** "Auth", "enti", "cAMD": CPUID leaf 0's EBX, EDX, ECX on an AMD processor. */
    private static final int AMD_EBX = 0x68747541, AMD_EDX = 0x69746e65, AMD_ECX = 0x444d4163;

    /**
     * True when the guest's CPUID names AuthenticAMD: the rules that differ by vendor
     * (SYSCALL/SYSRET outside 64-bit mode, SYSENTER/SYSEXIT in long mode) then follow the APM.
     */
    final boolean amdVendor() {
        int[] out = cpuidLeaf;
        bus.cpuid(0, 0, out);
        return out[1] == AMD_EBX && out[3] == AMD_EDX && out[2] == AMD_ECX;
    }

    final void writeEfer(long v) {
        if ((v & ~EFER_SUPPORTED) != 0) {
            throw gp(0);
        }
        if (paging() && ((v ^ efer) & EFER_LME) != 0) {
            throw gp(0);
        }
        long old = efer;
        efer = (v & ~EFER_LMA) | (efer & EFER_LMA);
        if (((old ^ efer) & EFER_NXE) != 0) {
            mmu.flushTlb(false);
        }
        updateMode();
    }

    static boolean canonical(long v) {
        return (v << 16 >> 16) == v;
    }

    /** WRMSR of an MSR that is CPU state, with the SDM's #GP conditions. */
    final boolean writeOwnedMsr(int index, long v) {
        switch (index) {
            case Msr.IA32_EFER: writeEfer(v); return true;
            case Msr.IA32_STAR: star = v; return true;
            case Msr.IA32_LSTAR: lstar = requireCanonical(v); return true;
            case Msr.IA32_CSTAR: cstar = requireCanonical(v); return true;
            case Msr.IA32_FMASK: fmask = v & 0xffffffffL; return true;
            case Msr.IA32_FS_BASE: segBase[FS] = requireCanonical(v); return true;
            case Msr.IA32_GS_BASE: segBase[GS] = requireCanonical(v); return true;
            case Msr.IA32_KERNEL_GS_BASE: kernelGsBase = requireCanonical(v); return true;
            case Msr.IA32_SYSENTER_CS: sysenterCs = v & 0xffff; return true;
            case Msr.IA32_SYSENTER_ESP: sysenterEsp = requireCanonical(v); return true;
            case Msr.IA32_SYSENTER_EIP: sysenterEip = requireCanonical(v); return true;
            case Msr.IA32_PAT:
                for (int i = 0; i < 8; i++) {
                    int t = (int) (v >>> (i * 8)) & 0xff;
                    if (t == 2 || t == 3 || t > 7) {
                        throw gp(0);
                    }
                }
                pat = v;
                return true;
            case Msr.IA32_PKRS:
                // SDM: #GP without CPUID PKS, or with any of bits 63:32 set.
                if ((cr4BitsCpuidReports() & CR4_PKS) == 0 || (v >>> 32) != 0) {
                    throw gp(0);
                }
                mmu.setProtectionKeyRights(true, (int) v);
                return true;
            case Msr.IA32_U_CET: case Msr.IA32_S_CET: case Msr.IA32_PL0_SSP: case Msr.IA32_PL1_SSP:
            case Msr.IA32_PL2_SSP: case Msr.IA32_PL3_SSP: case Msr.IA32_INTERRUPT_SSP_TABLE_ADDR:
                Cet.writeMsr(this, index, v);
                return true;
            case Msr.IA32_XSS:
                // SDM: #GP without CPUID XSAVES, or with a bit of a component the CPU lacks.
                if (!cpuidReportsXsaves() || v != 0) {
                    throw gp(0);
                }
                return true;
            default: return false;
        }
    }

    private long requireCanonical(long v) {
        if (!canonical(v)) {
            throw gp(0);
        }
        return v;
    }

    final long readOwnedMsr(int index) {
        switch (index) {
            case Msr.IA32_EFER: return efer;
            case Msr.IA32_STAR: return star;
            case Msr.IA32_LSTAR: return lstar;
            case Msr.IA32_CSTAR: return cstar;
            case Msr.IA32_FMASK: return fmask;
            case Msr.IA32_FS_BASE: return segBase[FS];
            case Msr.IA32_GS_BASE: return segBase[GS];
            case Msr.IA32_KERNEL_GS_BASE: return kernelGsBase;
            case Msr.IA32_SYSENTER_CS: return sysenterCs;
            case Msr.IA32_SYSENTER_ESP: return sysenterEsp;
            case Msr.IA32_SYSENTER_EIP: return sysenterEip;
            case Msr.IA32_PAT: return pat;
            case Msr.IA32_PKRS:
                if ((cr4BitsCpuidReports() & CR4_PKS) == 0) {
                    throw gp(0);
                }
                return pkrs & 0xffffffffL;
            case Msr.IA32_U_CET: case Msr.IA32_S_CET: case Msr.IA32_PL0_SSP: case Msr.IA32_PL1_SSP:
            case Msr.IA32_PL2_SSP: case Msr.IA32_PL3_SSP: case Msr.IA32_INTERRUPT_SSP_TABLE_ADDR:
                return Cet.readMsr(this, index);
            case Msr.IA32_XSS:
                if (!cpuidReportsXsaves()) {
                    throw gp(0);
                }
                return 0;
            default: throw gp(0);
        }
    }

    static boolean isOwnedMsr(int index) {
        return Arrays.binarySearch(OWNED_MSRS, index) >= 0;
    }

    /**
     * The MSRs that are CPU state, ascending: the CPU serves the guest's RDMSR/WRMSR of them
     * itself, and the vCPU's MSR table names the CPU as their owner for the host's accesses.
     */
    static final int[] OWNED_MSRS = sorted(Msr.IA32_SYSENTER_CS, Msr.IA32_SYSENTER_ESP, Msr.IA32_SYSENTER_EIP,
            Msr.IA32_PAT, Msr.IA32_XSS, Msr.IA32_PKRS, Msr.IA32_EFER, Msr.IA32_STAR, Msr.IA32_LSTAR, Msr.IA32_CSTAR,
            Msr.IA32_FMASK, Msr.IA32_FS_BASE, Msr.IA32_GS_BASE, Msr.IA32_KERNEL_GS_BASE, Msr.IA32_U_CET, Msr.IA32_S_CET,
            Msr.IA32_PL0_SSP, Msr.IA32_PL1_SSP, Msr.IA32_PL2_SSP, Msr.IA32_PL3_SSP, Msr.IA32_INTERRUPT_SSP_TABLE_ADDR);

    private static int[] sorted(int... indexes) {
        Arrays.sort(indexes); // MSR indexes are below 2^31: signed order is numeric order
        return indexes;
    }
}

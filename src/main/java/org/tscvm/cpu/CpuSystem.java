package org.tscvm.cpu;

import org.tscvm.memory.GuestMemory;

/**
 * The mode, the segment caches' writes and the stack in real, protected and long mode (SDM
 * vol. 3 chapters 3, 5); descriptors and segment loads are its part {@link #segments},
 * exception and interrupt delivery and IRET its part {@link #interrupts}, far JMP, CALL and
 * RETF its part {@link #far}, the control registers, EFER and the MSRs that are CPU state its
 * part {@link #sysregs}.
 */
abstract class CpuSystem extends CpuMemory {
    static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;

    /** Descriptor types (S=0). */
    static final int T_TSS16_AVAIL = 1, T_LDT = 2, T_TSS16_BUSY = 3, T_CALL16 = 4, T_TASK = 5, T_INT16 = 6,
            T_TRAP16 = 7, T_TSS_AVAIL = 9, T_TSS_BUSY = 11, T_CALL = 12, T_INT = 14, T_TRAP = 15;

    /** Set by a fault during #DF delivery; the run loop reports TRIPLE_FAULT. */
    boolean shutdown;
    /**
     * Counts hardware task switches past their commit point: a fault after it belongs to the
     * new task, so a far transfer or an interrupt must not put the old task's RSP back.
     */
    int taskSwitches;

    /** Descriptor reads, segment loads and the inner-level stack segment from the TSS. */
    final Segmentation segments = new Segmentation(this);

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

    /** A near branch's target: #GP(0) past CS's limit, or non-canonical in 64-bit mode. */
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

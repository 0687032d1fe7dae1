package org.tscvm.cpu;

import static org.tscvm.cpu.CpuExec.*;

/**
 * Control-flow enforcement technology (SDM Vol. 1 ch. 17, Vol. 3A ch. 17, and the pages of
 * the instructions it changes): the CET MSRs, the shadow stack that near and far CALL/RET,
 * interrupts, IRET, SYSCALL/SYSRET and SYSENTER/SYSEXIT keep beside the data stack, the
 * shadow-stack instructions (RDSSP ... CLRSSBSY, one handler per {@link Op} row), and
 * indirect-branch tracking (ENDBR32/ENDBR64).
 *
 * <p>Every rule here runs only while {@link CpuState#cetActive} is set (CR4.CET with shadow
 * stacks or IBT enabled at some privilege); the branch handlers test that one field first, so
 * a CPU without CET pays a field read per CALL, RET and indirect branch. While it is set no
 * compiled block runs ({@link Cpu}): the compiled CALL/RET/JMP forms know nothing of CET.
 *
 * <p>The IBT tracker of each privilege lives where the SDM keeps it, in bits 11:10
 * (SUPPRESS, WAIT_FOR_ENDBRANCH) of IA32_U_CET or IA32_S_CET, so it survives events and is
 * what RDMSR shows a handler. An indirect JMP/CALL, a far transfer or an event sets the
 * target privilege's WAIT_FOR_ENDBRANCH; the run loop checks the first instruction of the
 * next block ({@link #checkEndbranch}); branches end blocks, so that instruction is the target.
 */
final class Cet {
    private Cet() {
    }

    // IA32_U_CET / IA32_S_CET bits.
    static final long SH_STK_EN = 1, WR_SHSTK_EN = 2, ENDBR_EN = 4, LEG_IW_EN = 8, NO_TRACK_EN = 16,
            SUPPRESS_DIS = 32, SUPPRESS = 1 << 10, TRACKER = 1 << 11;
    /** Bits 9:6 are reserved; 63:12 are EB_LEG_BITMAP_BASE. */
    private static final long RESERVED = 0x3c0;
    private static final long SHSTK_BITS = SH_STK_EN | WR_SHSTK_EN;
    private static final long IBT_BITS = ~(SHSTK_BITS | RESERVED);

    /** #CP error codes (SDM Vol. 3A, "Control Protection Exception"): NEAR-RET, FAR-RET/IRET, ENDBRANCH, RSTORSSP, SETSSBSY. */
    static final int CP_NEAR_RET = 1, CP_FAR_RET = 2, CP_ENDBRANCH = 3, CP_RSTORSSP = 4, CP_SETSSBSY = 5;

    // ---- state ----

    /** Recomputes {@link CpuState#cetActive} after CR4 or a CET control MSR changed. */
    static void update(CpuExec c) {
        boolean on = (c.cr4 & CR4_CET) != 0 && ((c.uCet | c.sCet) & (SH_STK_EN | ENDBR_EN)) != 0;
        if (on != c.cetActive) {
            c.cetActive = on;
            c.cetChanged();
        }
    }

    /** The SDM's ShadowStackEnabled(cpl): CR4.CET, protected mode outside virtual-8086 mode, SH_STK_EN. */
    static boolean shadowStackOn(CpuExec c, int cpl) {
        return c.cetActive && ((cpl == 3 ? c.uCet : c.sCet) & SH_STK_EN) != 0 && !c.realMode() && (c.flags & VM) == 0;
    }

    /** The SDM's EndbranchEnabled(cpl). */
    static boolean endbranchOn(CpuExec c, int cpl) {
        return c.cetActive && ((cpl == 3 ? c.uCet : c.sCet) & ENDBR_EN) != 0 && !c.realMode() && (c.flags & VM) == 0;
    }

    // ---- MSRs ----

    static long readMsr(CpuExec c, int index) {
        boolean ss = c.sysregs.cpuidReportsCet(true);
        switch (index) {
            case Msr.IA32_U_CET: case Msr.IA32_S_CET:
                if (!ss && !c.sysregs.cpuidReportsCet(false)) {
                    throw c.gp(0);
                }
                return index == Msr.IA32_U_CET ? c.uCet : c.sCet;
            default:
                if (!ss) {
                    throw c.gp(0);
                }
                return index == Msr.IA32_INTERRUPT_SSP_TABLE_ADDR ? c.ssptAddr : c.plSsp[index - Msr.IA32_PL0_SSP];
        }
    }

    /**
     * WRMSR of a CET MSR with the SDM's #GP(0) conditions: the MSR or a bit of a feature CPUID
     * does not report, reserved bits 9:6, SUPPRESS with WAIT_FOR_ENDBRANCH, a non-canonical
     * legacy-bitmap base; an SSP that is not canonical or not 4-byte aligned; a non-canonical
     * interrupt SSP table.
     */
    static void writeMsr(CpuExec c, int index, long v) {
        boolean ss = c.sysregs.cpuidReportsCet(true);
        switch (index) {
            case Msr.IA32_U_CET: case Msr.IA32_S_CET: {
                boolean ibt = c.sysregs.cpuidReportsCet(false);
                if ((!ss && !ibt) || (v & RESERVED) != 0 || (!ss && (v & SHSTK_BITS) != 0)
                        || (!ibt && (v & IBT_BITS) != 0) || (v & (SUPPRESS | TRACKER)) == (SUPPRESS | TRACKER)
                        || !canonical(v & ~0xfffL)) {
                    throw c.gp(0);
                }
                if (index == Msr.IA32_U_CET) {
                    c.uCet = v;
                } else {
                    c.sCet = v;
                }
                update(c);
                return;
            }
            case Msr.IA32_INTERRUPT_SSP_TABLE_ADDR:
                if (!ss || !canonical(v)) {
                    throw c.gp(0);
                }
                c.ssptAddr = v;
                return;
            default:
                if (!ss || !canonical(v) || (v & 3) != 0) {
                    throw c.gp(0);
                }
                c.plSsp[index - Msr.IA32_PL0_SSP] = v;
        }
    }

    /** RESET and INIT: CET off, every CET register zero. */
    static void reset(CpuExec c) {
        c.uCet = 0;
        c.sCet = 0;
        c.ssptAddr = 0;
        c.ssp = 0;
        java.util.Arrays.fill(c.plSsp, 0);
        update(c);
    }

    /** SSP as the mode holds it: 32 bits outside 64-bit mode. */
    private static long sspIn(CpuExec c, long v) {
        return c.mode64 ? v : v & 0xffffffffL;
    }

    // ---- near CALL and RET ----

    /**
     * Near CALL after the return address went on the data stack: it goes on the shadow stack
     * too (8 bytes in 64-bit mode, else 4). A fault there puts RSP back.
     */
    static void nearCall(CpuExec c, long ret, long oldRsp) {
        if (!shadowStackOn(c, c.cpl)) {
            return;
        }
        int size = c.mode64 ? 8 : 4;
        long ssp = sspIn(c, c.ssp - size);
        try {
            c.mmu.shadowStackWrite(ssp, size, ret, c.cpl == 3);
        } catch (CpuFault f) {
            c.regs[RSP] = oldRsp;
            throw f;
        }
        c.ssp = ssp;
    }

    /** Near RET to {@code target}: the shadow stack's return address must match (#CP NEAR-RET). */
    static void nearReturn(CpuExec c, long target) {
        if (!shadowStackOn(c, c.cpl)) {
            return;
        }
        int size = c.mode64 ? 8 : 4;
        long saved = c.mmu.shadowStackRead(c.ssp, size, c.cpl == 3);
        if (saved != (size == 8 ? target : target & 0xffffffffL)) {
            throw c.fault(CpuFault.CP, CP_NEAR_RET);
        }
        c.ssp = sspIn(c, c.ssp + size);
    }

    // ---- far transfers, events and returns ----

    /**
     * Pushes CS, the return's linear address and SSP onto the shadow stack at {@code ssp}, 8-byte
     * aligned (far CALL at the same privilege, an event that stays at its privilege or leaves a
     * supervisor one), with privilege {@code user}; returns the new SSP. Nothing is committed.
     */
    static long pushFrame(CpuExec c, long ssp, boolean user, long cs, long lip, long oldSsp) {
        c.mmu.shadowStackWrite(ssp - 4, 4, 0, user);
        long s = ssp & ~7L;
        c.mmu.shadowStackWrite(s - 8, 8, cs, user);
        c.mmu.shadowStackWrite(s - 16, 8, lip, user);
        c.mmu.shadowStackWrite(s - 24, 8, oldSsp, user);
        return s - 24;
    }

    /**
     * Pops and checks the frame {@link #pushFrame} made (far RET and IRET at the same privilege,
     * IRET to a supervisor level): the saved CS must equal {@code cs}, the saved linear address
     * {@code lip}, and the saved SSP be 4-byte aligned (and below 4 GiB for a target outside
     * 64-bit mode), else #CP(FAR-RET/IRET). Returns the saved SSP.
     */
    static long popFrame(CpuExec c, long ssp, boolean user, long cs, long lip, boolean target64) {
        if ((ssp & 7) != 0) {
            throw c.fault(CpuFault.CP, CP_FAR_RET);
        }
        long savedCs = c.mmu.shadowStackRead(ssp + 16, 8, user);
        long savedLip = c.mmu.shadowStackRead(ssp + 8, 8, user);
        long prev = c.mmu.shadowStackRead(ssp, 8, user);
        if (savedCs != cs || savedLip != lip || (prev & 3) != 0 || (!target64 && (prev >>> 32) != 0)) {
            throw c.fault(CpuFault.CP, CP_FAR_RET);
        }
        return prev;
    }

    /** Far CALL at the same privilege, before CS changes: returns the SSP after the frame. */
    static long farCall(CpuExec c, int oldCs, long returnLip) {
        if (!shadowStackOn(c, c.cpl)) {
            return c.ssp;
        }
        return pushFrame(c, c.ssp, c.cpl == 3, oldCs, returnLip, c.ssp);
    }

    /**
     * A return from a supervisor level to CPL 3: the SSP to load is IA32_PL3_SSP where user
     * shadow stacks are on (#GP(0) above 4 GiB for a target outside 64-bit mode), else SSP as
     * it is. An IRET or far RET ({@code releaseToken}) also releases the busy supervisor token
     * at SSP, if there is one; SYSRET and SYSEXIT leave that to the kernel (CLRSSBSY).
     */
    static long returnToUser(CpuExec c, boolean target64, boolean releaseToken) {
        long ssp = c.ssp;
        long next = ssp;
        if (shadowStackOn(c, 3)) {
            next = c.plSsp[3];
            if (!target64 && (next >>> 32) != 0) {
                throw c.gp(0);
            }
        }
        if (releaseToken && c.cpl < 3 && shadowStackOn(c, c.cpl)) {
            releaseToken(c, ssp);
        }
        return next;
    }

    /** Clears the busy bit of a supervisor shadow-stack token at {@code ssp} that names itself; else nothing. */
    private static void releaseToken(CpuExec c, long ssp) {
        if ((ssp & 7) != 0) {
            return;
        }
        long token = c.mmu.shadowStackRead(ssp, 8, false);
        if (token == (ssp | 1)) {
            c.mmu.shadowStackWrite(ssp, 8, ssp, false);
        }
    }

    /**
     * Takes the supervisor shadow-stack token at {@code ssp} (SDM: verify and mark busy): it
     * must be 8-byte aligned and hold its own address with the busy bit clear, else #GP(0).
     */
    private static void takeToken(CpuExec c, long ssp, boolean target64) {
        if ((ssp & 7) != 0 || (!target64 && (ssp >>> 32) != 0)) {
            throw c.gp(0);
        }
        long token = c.mmu.shadowStackRead(ssp, 8, false);
        if (token != ssp) {
            throw c.gp(0);
        }
        c.mmu.shadowStackWrite(ssp, 8, ssp | 1, false);
    }

    /**
     * An interrupt or exception through an interrupt or trap gate, after the data-stack frame
     * was written and before CS changes (SDM 6.15, "shadow stack"): leaving CPL 3 saves SSP in
     * IA32_PL3_SSP; entering a supervisor level with supervisor shadow stacks takes the new
     * stack's token (IA32_PLn_SSP, or the interrupt SSP table's entry {@code ist}) and pushes
     * CS, LIP and SSP when coming from a supervisor level; staying at the level pushes them on
     * the current stack. Returns the handler's SSP; the caller stores it once CS is loaded.
     */
    static long enterHandler(CpuExec c, int newCpl, int ist, int oldCs, long returnLip, boolean target64) {
        int oldCpl = c.cpl;
        long ssp = c.ssp;
        if (oldCpl == 3 && newCpl < 3 && shadowStackOn(c, 3)) {
            c.plSsp[3] = ssp;
        }
        if (!shadowStackOn(c, newCpl)) {
            return ssp;
        }
        if (newCpl < oldCpl || (ist != 0 && newCpl < 3)) {
            long next = ist != 0 ? c.readSys(c.ssptAddr + ist * 8L, 8) : c.plSsp[newCpl];
            takeToken(c, next, target64);
            if (oldCpl != 3) {
                next = pushFrame(c, next, false, oldCs, returnLip, ssp);
            }
            return next;
        }
        return pushFrame(c, ssp, newCpl == 3, oldCs, returnLip, ssp);
    }

    /** After CS changed for an event, a far transfer or a system call: the new privilege waits for ENDBR. */
    static void armTracker(CpuExec c) {
        if (endbranchOn(c, c.cpl)) {
            setTracker(c, c.cpl, TRACKER);
        }
    }

    private static void setTracker(CpuExec c, int cpl, long state) {
        if (cpl == 3) {
            c.uCet = (c.uCet & ~(TRACKER | SUPPRESS)) | state;
        } else {
            c.sCet = (c.sCet & ~(TRACKER | SUPPRESS)) | state;
        }
    }

    /**
     * IRET or far RET to privilege {@code rpl} at {@code cs}:{@code lip}, before CS changes:
     * returns the SSP to load. Within a level, or to an outer supervisor level, the frame a far
     * CALL or an event pushed is popped and checked, and a supervisor stack left for another
     * (an IST handler's) has its token released; to CPL 3, {@link #returnToUser}.
     */
    static long farReturn(CpuExec c, int rpl, int cs, long lip, boolean target64) {
        if (rpl == 3 && c.cpl < 3) {
            return returnToUser(c, target64, true);
        }
        if (!shadowStackOn(c, c.cpl)) {
            return c.ssp;
        }
        boolean user = c.cpl == 3;
        long prev = popFrame(c, c.ssp, user, cs, lip, target64);
        if (!user && prev != c.ssp + 24) {
            releaseToken(c, c.ssp + 24);
        }
        return prev;
    }

    /**
     * SYSCALL and SYSENTER, before CPL becomes 0: IA32_PL3_SSP takes SSP (canonical form) where
     * shadow stacks are on at the old level. Returns the SSP of CPL 0: 0 with supervisor shadow
     * stacks (the kernel's SETSSBSY takes its stack), else SSP unchanged.
     */
    static long systemCall(CpuExec c) {
        if (shadowStackOn(c, c.cpl)) {
            c.plSsp[3] = c.ssp << 16 >> 16;
        }
        return shadowStackOn(c, 0) ? 0 : c.ssp;
    }

    // ---- indirect-branch tracking ----

    /** Indirect near JMP/CALL: arms the tracker unless a notrack prefix is honoured or it is suppressed. */
    static void indirectBranch(CpuExec c, Insn d) {
        int cpl = c.cpl;
        if (!endbranchOn(c, cpl)) {
            return;
        }
        long cet = cpl == 3 ? c.uCet : c.sCet;
        if ((cet & SUPPRESS) != 0 || (d.notrack && (cet & NO_TRACK_EN) != 0)) {
            return;
        }
        setTracker(c, cpl, TRACKER);
    }

    /**
     * Before the first instruction of a block while CET is active: with the tracker of the
     * current privilege waiting, that instruction must be ENDBR64 in 64-bit mode or ENDBR32
     * elsewhere (#CP(ENDBRANCH), the tracker left waiting); an ENDBR returns it to idle.
     */
    static void checkEndbranch(CpuExec c, Insn first) {
        int cpl = c.cpl;
        long cet = cpl == 3 ? c.uCet : c.sCet;
        if ((cet & TRACKER) == 0 || !endbranchOn(c, cpl)) {
            return;
        }
        if (first.op != Op.ENDBR || (first.sub == 64) != c.mode64) {
            throw c.fault(CpuFault.CP, CP_ENDBRANCH);
        }
        setTracker(c, cpl, 0);
    }

    // ---- instruction handlers ----

    /** ENDBR32/ENDBR64: a NOP; the tracker check before it is {@link #checkEndbranch}. */
    static void endbr(CpuExec c, Insn d) {
    }

    /** #UD unless shadow stacks are on at the current privilege (the shadow-stack instructions but RDSSP). */
    private static boolean requireShadowStack(CpuExec c) {
        if (!shadowStackOn(c, c.cpl)) {
            throw c.ud();
        }
        return c.cpl == 3;
    }

    /** RDSSPD/RDSSPQ: a NOP without shadow stacks at the current privilege. */
    static void rdssp(CpuExec c, Insn d) {
        if (shadowStackOn(c, c.cpl)) {
            c.setReg(d.opSize, d.rm, c.ssp);
        }
    }

    /** INCSSPD/INCSSPQ r: pops R[7:0] entries, loading the first and the last popped to check them. */
    static void incssp(CpuExec c, Insn d) {
        boolean user = requireShadowStack(c);
        int size = d.opSize;
        long n = c.regs[d.rm] & 0xff;
        long checked = n == 0 ? 1 : n;
        c.mmu.shadowStackRead(c.ssp, size, user);
        c.mmu.shadowStackRead(sspIn(c, c.ssp + (checked - 1) * size), size, user);
        c.ssp = sspIn(c, c.ssp + n * size);
    }

    /**
     * RSTORSSP m64: switches to the shadow stack whose restore token is at m64 (the token's
     * mode bit must match, its address name the slot above it) and leaves a previous-ssp token
     * there; CF tells whether the restored SSP left an alignment hole. #CP(RSTORSSP) on a bad token.
     */
    static void rstorssp(CpuExec c, Insn d) {
        boolean user = requireShadowStack(c);
        long la = c.linear(d.seg, c.ea(d), 8, true);
        if ((la & 7) != 0) {
            throw c.gp(0);
        }
        long l = c.mode64 ? 1 : 0;
        long previous = c.ssp | l | 2;
        long token = c.mmu.shadowStackRead(la, 8, user);
        long restored = token & ~3L;
        if ((token & 3) != l || (l == 0 && (token >>> 32) != 0) || ((restored - 8) & ~7L) != la) {
            throw c.fault(CpuFault.CP, CP_RSTORSSP);
        }
        c.mmu.shadowStackWrite(la, 8, previous, user);
        c.ssp = la;
        c.setArith((restored & 4) != 0 ? CF : 0);
    }

    /**
     * SAVEPREVSSP: pops the previous-ssp token RSTORSSP left (and an alignment hole where CF
     * says so) and pushes a restore token for it on the previous shadow stack.
     */
    static void saveprevssp(CpuExec c, Insn d) {
        boolean user = requireShadowStack(c);
        if ((c.ssp & 7) != 0) {
            throw c.gp(0);
        }
        long token = c.mmu.shadowStackRead(c.ssp, 8, user);
        long ssp = c.ssp + 8;
        boolean hole = (c.rflags() & CF) != 0;
        if (hole && c.mode64) {
            throw c.gp(0);
        }
        if (hole) {
            if (c.mmu.shadowStackRead(ssp, 4, user) != 0) {
                throw c.gp(0);
            }
            ssp += 4;
        }
        if ((token & 2) == 0 || (!c.mode64 && (token >>> 32) != 0) || (token & 1) != (c.mode64 ? 1 : 0)) {
            throw c.gp(0);
        }
        long old = token & ~3L;
        c.mmu.shadowStackWrite(old - 4, 4, 0, user);
        long aligned = old & ~7L;
        c.mmu.shadowStackWrite(aligned - 8, 8, old | (c.mode64 ? 1 : 0), user);
        c.ssp = sspIn(c, ssp);
    }

    /** WRSSD/WRSSQ m, r: a shadow-stack store at the current privilege, with WR_SHSTK_EN. */
    static void wrss(CpuExec c, Insn d) {
        boolean user = requireShadowStack(c);
        if (((user ? c.uCet : c.sCet) & WR_SHSTK_EN) == 0) {
            throw c.ud();
        }
        shadowStore(c, d, user);
    }

    /** WRUSSD/WRUSSQ m, r: a user shadow-stack store from CPL 0. */
    static void wruss(CpuExec c, Insn d) {
        if ((c.cr4 & CR4_CET) == 0) {
            throw c.ud();
        }
        if (c.cpl != 0) {
            throw c.gp(0);
        }
        shadowStore(c, d, true);
    }

    private static void shadowStore(CpuExec c, Insn d, boolean user) {
        int size = d.opSize;
        long la = c.linear(d.seg, c.ea(d), size, true);
        if ((la & (size - 1)) != 0) {
            throw c.gp(0);
        }
        c.mmu.shadowStackWrite(la, size, c.getReg(size, d.reg), user);
    }

    /** SETSSBSY: takes the supervisor token at IA32_PL0_SSP (#CP(SETSSBSY) if busy or wrong) and loads SSP with it. */
    static void setssbsy(CpuExec c, Insn d) {
        if (!shadowStackOn(c, 0) || c.cpl == 3) {
            throw c.ud();
        }
        if (c.cpl != 0) {
            throw c.gp(0);
        }
        long la = c.plSsp[0];
        if ((la & 7) != 0) {
            throw c.gp(0);
        }
        long token = c.mmu.shadowStackRead(la, 8, false);
        if (token != la) {
            throw c.fault(CpuFault.CP, CP_SETSSBSY);
        }
        c.mmu.shadowStackWrite(la, 8, la | 1, false);
        c.ssp = la;
    }

    /** CLRSSBSY m64: releases the busy supervisor token at m64 (CF=1 if it was not one) and zeroes SSP. */
    static void clrssbsy(CpuExec c, Insn d) {
        if (!shadowStackOn(c, 0) || c.cpl == 3) {
            throw c.ud();
        }
        if (c.cpl != 0) {
            throw c.gp(0);
        }
        long la = c.linear(d.seg, c.ea(d), 8, true);
        if ((la & 7) != 0) {
            throw c.gp(0);
        }
        long token = c.mmu.shadowStackRead(la, 8, false);
        boolean valid = token == (la | 1) && (c.mode64 || (token >>> 32) == 0);
        if (valid) {
            c.mmu.shadowStackWrite(la, 8, la, false);
        }
        c.setArith(valid ? 0 : CF);
        c.ssp = 0;
    }
}

package org.tscvm.cpu;

import org.tscvm.memory.GuestMemory;

/**
 * The architectural state of one logical processor and the small helpers every layer uses:
 * register access by operand size, lazy arithmetic flags, the preallocated fault. The layers
 * above add memory access ({@link CpuMemory}, which holds the {@link Mmu}: the MMU is a part
 * that reads this state, not a layer), the mode, the segment caches' writes and the stack
 * ({@link CpuMemory}), the instruction handlers and the system parts they share ({@link CpuExec}) and the run loop ({@link Cpu}); one object, so
 * handlers reach state as plain fields.
 */
abstract class CpuState {
    static final int ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;
    static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;

    /** Descriptor types (S=0). */
    static final int T_TSS16_AVAIL = 1, T_LDT = 2, T_TSS16_BUSY = 3, T_CALL16 = 4, T_TASK = 5, T_INT16 = 6,
            T_TRAP16 = 7, T_TSS_AVAIL = 9, T_TSS_BUSY = 11, T_CALL = 12, T_INT = 14, T_TRAP = 15;


    // RFLAGS bits.
    static final long CF = 1, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, TF = 1 << 8, IF = 1 << 9,
            DF = 1 << 10, OF = 1 << 11, IOPL = 3 << 12, NT = 1 << 14, RF = 1 << 16, VM = 1 << 17, AC = 1 << 18,
            VIF = 1 << 19, VIP = 1 << 20, ID = 1 << 21;
    static final long ARITH = CF | PF | AF | ZF | SF | OF;
    /** Bits software can ever change; bit 1 always reads 1. */
    static final long FLAGS_WRITABLE = ARITH | TF | IF | DF | IOPL | NT | RF | VM | AC | VIF | VIP | ID;

    // Control register bits.
    static final long CR0_PE = 1, CR0_MP = 2, CR0_EM = 4, CR0_TS = 8, CR0_ET = 16, CR0_NE = 32, CR0_WP = 1L << 16,
            CR0_AM = 1L << 18, CR0_NW = 1L << 29, CR0_CD = 1L << 30, CR0_PG = 1L << 31;
    static final long CR4_VME = 1, CR4_PVI = 2, CR4_TSD = 4, CR4_DE = 8, CR4_PSE = 16, CR4_PAE = 32, CR4_MCE = 64,
            CR4_PGE = 128, CR4_PCE = 256, CR4_OSFXSR = 512, CR4_OSXMMEXCPT = 1024, CR4_UMIP = 1 << 11,
            CR4_FSGSBASE = 1 << 16, CR4_PCIDE = 1 << 17, CR4_OSXSAVE = 1 << 18, CR4_SMEP = 1 << 20, CR4_SMAP = 1 << 21,
            CR4_PKE = 1 << 22, CR4_CET = 1 << 23, CR4_PKS = 1 << 24;
    /** CR4 bits tscvm implements; setting another raises #GP. */
    static final long CR4_SUPPORTED = CR4_VME | CR4_PVI | CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE
            | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_UMIP | CR4_FSGSBASE | CR4_OSXSAVE | CR4_SMEP | CR4_SMAP | CR4_PKE
            | CR4_PKS | CR4_CET;
    static final long EFER_SCE = 1, EFER_LME = 1 << 8, EFER_LMA = 1 << 10, EFER_NXE = 1 << 11;
    static final long EFER_SUPPORTED = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;

    // Segment attribute layout (as VMX access rights): type 0-3, S 4, DPL 5-6, P 7, AVL 12, L 13, D/B 14, G 15.
    static final int A_TYPE = 0xf, A_S = 1 << 4, A_P = 1 << 7, A_L = 1 << 13, A_DB = 1 << 14, A_G = 1 << 15;
    /** Attribute marking an unusable (null-loaded) data segment register. */
    static final int A_UNUSABLE = 1 << 16;

    final GuestMemory memory;
    final CpuBus bus;

    final long[] regs = new long[16];
    long rip;
    /** The start of the executing instruction: faults report it, and restart from it. */
    long prevRip;

    // Segment registers with their hidden descriptor caches.
    final int[] segSel = new int[6];
    final long[] segBase = new long[6];
    final long[] segLimit = new long[6];
    final int[] segAttr = new int[6];
    /** True when accesses through the segment need a limit/type check (non-64-bit, not flat). */
    final boolean[] segChecked = new boolean[6];
    int ldtrSel, trSel;
    long ldtrBase, trBase, ldtrLimit, trLimit;
    int ldtrAttr, trAttr;
    long gdtrBase, idtrBase;
    int gdtrLimit, idtrLimit;

    long cr0 = CR0_ET, cr2, cr3, cr4, cr8, efer;
    /** Set from NMI delivery until the next IRET (SDM 6.7.1). */
    boolean nmiBlocked;
    final long[] dr = new long[8];
    long kernelGsBase, star, lstar, cstar, fmask, sysenterCs, sysenterEsp, sysenterEip;
    long pat = 0x0007040600070406L;
    /**
     * Protection-key rights, two bits per key (bit 2i access-disable, 2i+1 write-disable):
     * PKRU for user-mode addresses (RDPKRU/WRPKRU), IA32_PKRS for supervisor-mode ones. The TLB
     * caches rights derived from them: an instruction changes them only through
     * {@link Mmu#setProtectionKeyRights}, a reset or state load flushes the whole TLB.
     */
    int pkru, pkrs;
    /**
     * Control-flow enforcement (SDM Vol. 1 ch. 17; handlers and rules in {@link Cet}):
     * IA32_U_CET (CPL 3) and IA32_S_CET (CPL 0-2), each with its privilege's IBT tracker in
     * bits 11:10; IA32_PL0_SSP..IA32_PL3_SSP; IA32_INTERRUPT_SSP_TABLE_ADDR; the shadow-stack
     * pointer.
     */
    long uCet, sCet, ssptAddr, ssp;
    final long[] plSsp = new long[4];
    /**
     * CR4.CET with shadow stacks or IBT enabled at some privilege ({@link Cet#update}): the
     * run loop checks the tracker, and no compiled block runs, while it is set.
     */
    boolean cetActive;
    /** XCR0, the XSAVE feature mask XSETBV writes: bit 0 (x87) always set. */
    long xcr0 = 1;

    // x87 and SSE state (these survive save/restore). fpuStatus holds TOP in bits 13:11;
    // of fpuTag only "11 = empty" is kept exactly: FNSTENV/FNSAVE compute the full tag (X87).
    int fpuControl = 0x37f, fpuStatus, fpuTag = 0xffff, mxcsr = 0x1f80;
    /** x87 data registers R0-R7 by physical number: significand (integer bit 63) and sign/exponent. */
    final long[] fpuSig = new long[8];
    final int[] fpuSe = new int[8];
    /** The last non-control x87 instruction: FIP/FCS, its operand's FDP/FDS, and FOP (11 bits). */
    long fpuIp, fpuDp;
    int fpuCs, fpuDs, fpuOpcode;
    /** The 80-bit arithmetic unit (result registers, no allocation per instruction). */
    final X87Float fpu = new X87Float();
    /** 128-bit scratch registers of the x87 transcendentals. */
    final X87Wide wide = new X87Wide();
    /**
     * The 512-byte FXSAVE image beyond the control words, kept verbatim: the reserved areas. The
     * x87 registers live in {@link #fpuSig}/{@link #fpuSe}, the XMM registers in {@link #xmm};
     * snapshots carry both in this image (X87Control.saveImage, Cpu.save).
     */
    final byte[] fxRegisters = new byte[512];
    /** XMM0-15: xmm[2 * i] holds bits 63:0 of XMMi, xmm[2 * i + 1] bits 127:64. */
    final long[] xmm = new long[32];
    /** The 128-bit source operand the executing SSE instruction read ({@code Sse.loadE128}); scratch. */
    long sseLo, sseHi;
    /** MXCSR exception flags (bits 5:0) the executing SSE instruction raised; scratch. */
    int sseFlags;

    /**
     * Set by an instruction after which a single-step #DB is due because it left TF set even
     * though TF was clear when it began (SYSRET); the run loop takes the trap and clears it.
     */
    boolean stepTrapAfterLoad;

    // ---- the guest's own debug registers (SDM Vol. 3B 17.2); the gdb stub's traps are DebugTraps ----
    /** DR6.BT (bit 15): a task switch to a TSS with the T flag. */
    static final long DR6_B0_B3 = 0xf, DR6_BD = 1L << 13, DR6_BS = 1L << 14, DR6_BT = 1L << 15;
    static final long DR7_GD = 1L << 13;
    /** Some DR7 L0-L3/G0-G3 bit is set: the run loop checks breakpoints one instruction at a time. */
    boolean guestDebugArmed;
    /** Some enabled DR0-DR3 is a data breakpoint: pages it touches stay out of the TLB. */
    boolean guestWatch;
    /** DR6.B0-B3 of data breakpoints the current instruction hit (held over a MOV SS shadow). */
    long dbPending;
    /**
     * The executing instruction delivered an event of its own (INT n, INT3, INTO, INT1) or
     * cleared TF as SYSCALL does: no single-step trap after it.
     */
    boolean stepSuppressed;
    /** MOV SS and POP SS hold single-step and data-breakpoint #DBs back until this retired count. */
    long movSsShadowUntil;

    /** The RTM transaction in progress, if any ({@link Transaction#depth} > 0). */
    final Transaction transaction = new Transaction();

    /** Current privilege level, mirrored from CS.RPL (0 in real mode). */
    int cpl;
    /** Whether {@link CpuBus#privilegeLevelChanging()} is due at CPL changes (a PMU counter filters on CPL). */
    boolean watchPrivilege;
    /** 2, 4 or 8: the default operand/address size the current CS gives. */
    int codeSize = 2;
    /** 64-bit mode (EFER.LMA and CS.L). */
    boolean mode64;
    /** 2, 4 or 8: the stack pointer width (SS.B, or 64-bit mode). */
    int stackSize = 2;

    // ---- lazy flags ----
    static final int LF_NONE = 0, LF_ADD = 1, LF_ADC = 2, LF_SUB = 3, LF_SBB = 4, LF_LOGIC = 5, LF_INC = 6, LF_DEC = 7;
    /** SHL, SHR and SAR by a count that is not zero: DST the operand, SRC the count, RES the result. */
    static final int LF_SHL = 8, LF_SHR = 9, LF_SAR = 10;
    /** RFLAGS; its arithmetic bits are valid only while {@link #lfOp} is LF_NONE. */
    long flags = 2;
    int lfOp;
    int lfSize;
    long lfDst, lfSrc, lfRes;
    /** CF before an INC/DEC (which keep it). */
    boolean lfSavedCf;

    static final byte[] PARITY = new byte[256];

    static {
        for (int i = 0; i < 256; i++) {
            PARITY[i] = (byte) ((Integer.bitCount(i) & 1) == 0 ? PF : 0);
        }
    }

    /**
     * Set when a store hit a page holding decoded code, or an access went to MMIO (a device may
     * have asked the CPU to stop): the run loop leaves the block after this instruction.
     */
    boolean endBlock;

    /** The one fault this processor raises, re-armed for each (a guest fault is control flow). */
    final CpuFault fault = new CpuFault(0, 0);

    CpuState(GuestMemory memory, CpuBus bus) {
        this.memory = memory;
        this.bus = bus;
    }

    final CpuFault fault(int vector, int errorCode) {
        return fault.set(vector, errorCode);
    }

    final CpuFault gp(int errorCode) {
        return fault.set(CpuFault.GP, errorCode);
    }

    final CpuFault ud() {
        return fault.set(CpuFault.UD, CpuFault.NO_ERROR_CODE);
    }

    final boolean paging() {
        return (cr0 & CR0_PG) != 0;
    }

    final boolean realMode() {
        return (cr0 & CR0_PE) == 0;
    }

    final boolean longMode() {
        return (efer & EFER_LMA) != 0;
    }

    /** True when bits 63:47 of {@code v} are all equal (a canonical 48-bit address). */
    static boolean canonical(long v) {
        return (v << 16 >> 16) == v;
    }

    /** DR7 LENn (bits 18+4n) to bytes: 00 = 1, 01 = 2, 10 = 8, 11 = 4 (SDM 17.2.5). */
    static int breakpointLength(long dr7, int n) {
        switch ((int) (dr7 >>> (18 + 4 * n)) & 3) {
            case 0: return 1;
            case 1: return 2;
            case 2: return 8;
            default: return 4;
        }
    }

    /** True when DR{@code n} is enabled (Ln or Gn) as a data breakpoint: R/Wn 01 (writes) or 11 (reads and writes). */
    static boolean isDataBreakpoint(long dr7, int n) {
        return ((dr7 >>> (2 * n)) & 3) != 0 && (((dr7 >>> (16 + 4 * n)) & 1) != 0);
    }

    static long mask(int size) {
        return size == 8 ? -1L : (1L << (size << 3)) - 1;
    }

    static long signBit(int size) {
        return 1L << ((size << 3) - 1);
    }

    /** Sign-extends the low {@code size} bytes. */
    static long sext(long v, int size) {
        switch (size) {
            case 1: return (byte) v;
            case 2: return (short) v;
            case 4: return (int) v;
            default: return v;
        }
    }

    // ---- registers by size ----

    /** Reads a register zero-extended; for size 1 the index is the byte form (16..19 = AH..BH). */
    final long getReg(int size, int idx) {
        switch (size) {
            case 1: return idx >= 16 ? (regs[idx - 16] >>> 8) & 0xff : regs[idx] & 0xff;
            case 2: return regs[idx] & 0xffff;
            case 4: return regs[idx] & 0xffffffffL;
            default: return regs[idx];
        }
    }

    /** Writes a register; 32-bit writes zero the upper half as in 64-bit mode. */
    final void setReg(int size, int idx, long v) {
        switch (size) {
            case 1:
                if (idx >= 16) {
                    regs[idx - 16] = (regs[idx - 16] & ~0xff00L) | ((v & 0xff) << 8);
                } else {
                    regs[idx] = (regs[idx] & ~0xffL) | (v & 0xff);
                }
                break;
            case 2: regs[idx] = (regs[idx] & ~0xffffL) | (v & 0xffff); break;
            case 4: regs[idx] = v & 0xffffffffL; break;
            default: regs[idx] = v;
        }
    }

    // ---- flags ----

    final void setLazy(int op, int size, long dst, long src, long res) {
        lfOp = op;
        lfSize = size;
        lfDst = dst;
        lfSrc = src;
        lfRes = res;
    }

    /** The six arithmetic flags the lazy record describes. */
    final long lazyArith() {
        int size = lfSize;
        long m = mask(size), sb = signBit(size);
        long res = lfRes & m, dst = lfDst & m, src = lfSrc & m;
        long f = PARITY[(int) res & 0xff];
        if (res == 0) {
            f |= ZF;
        }
        if ((res & sb) != 0) {
            f |= SF;
        }
        switch (lfOp) {
            case LF_ADD:
            case LF_ADC:
                if (lfOp == LF_ADC ? Long.compareUnsigned(res, dst) <= 0 : Long.compareUnsigned(res, dst) < 0) {
                    f |= CF;
                }
                if (((dst ^ res) & (src ^ res) & sb) != 0) {
                    f |= OF;
                }
                f |= (dst ^ src ^ res) & AF;
                break;
            case LF_SUB:
            case LF_SBB:
                if (lfOp == LF_SBB ? Long.compareUnsigned(dst, src) <= 0 : Long.compareUnsigned(dst, src) < 0) {
                    f |= CF;
                }
                if (((dst ^ src) & (dst ^ res) & sb) != 0) {
                    f |= OF;
                }
                f |= (dst ^ src ^ res) & AF;
                break;
            case LF_INC:
                if (lfSavedCf) {
                    f |= CF;
                }
                if (res == sb) {
                    f |= OF;
                }
                f |= (dst ^ 1 ^ res) & AF;
                break;
            case LF_DEC:
                if (lfSavedCf) {
                    f |= CF;
                }
                if (dst == sb) {
                    f |= OF;
                }
                f |= (dst ^ 1 ^ res) & AF;
                break;
            case LF_SHL: {
                // CF is the last bit shifted out; OF (defined for a count of 1) is SF xor CF.
                int count = (int) src;
                boolean carry = count <= size * 8 && ((dst >>> (size * 8 - count)) & 1) != 0;
                if (carry) {
                    f |= CF;
                }
                if (((res & sb) != 0) != carry) {
                    f |= OF;
                }
                break;
            }
            case LF_SHR: {
                int count = (int) src;
                if (count <= size * 8 && ((dst >>> (count - 1)) & 1) != 0) {
                    f |= CF;
                }
                if ((dst & sb) != 0) {
                    f |= OF; // the operand's sign, as a count of 1 defines it
                }
                break;
            }
            case LF_SAR:
                if (((sext(dst, size) >> ((int) src - 1)) & 1) != 0) {
                    f |= CF;
                }
                break;
            default:
                // LF_LOGIC: CF = OF = 0; AF is undefined and Intel and AMD hosts give 0 (after
                // the shifts too).
                break;
        }
        return f;
    }

    final long rflags() {
        return lfOp == LF_NONE ? flags : (flags & ~ARITH) | lazyArith();
    }

    /** Replaces RFLAGS wholesale (bit 1 forced to 1). */
    final void loadFlags(long v) {
        flags = (v & FLAGS_WRITABLE) | 2;
        lfOp = LF_NONE;
    }

    /** Sets the arithmetic flags eagerly, keeping the others. */
    final void setArith(long arith) {
        flags = (flags & ~ARITH) | (arith & ARITH) | 2;
        lfOp = LF_NONE;
    }

    final void materializeFlags() {
        if (lfOp != LF_NONE) {
            flags = (flags & ~ARITH) | lazyArith();
            lfOp = LF_NONE;
        }
    }

    final boolean cf() {
        long m;
        switch (lfOp) {
            case LF_NONE: return (flags & CF) != 0;
            case LF_LOGIC: return false;
            case LF_INC:
            case LF_DEC: return lfSavedCf;
            case LF_ADD: m = mask(lfSize); return Long.compareUnsigned(lfRes & m, lfDst & m) < 0;
            case LF_ADC: m = mask(lfSize); return Long.compareUnsigned(lfRes & m, lfDst & m) <= 0;
            case LF_SUB: m = mask(lfSize); return Long.compareUnsigned(lfDst & m, lfSrc & m) < 0;
            case LF_SBB: m = mask(lfSize); return Long.compareUnsigned(lfDst & m, lfSrc & m) <= 0;
            default: return (lazyArith() & CF) != 0;
        }
    }

    final boolean zf() {
        if (lfOp == LF_NONE) {
            return (flags & ZF) != 0;
        }
        return (lfRes & mask(lfSize)) == 0;
    }

    final boolean sf() {
        if (lfOp == LF_NONE) {
            return (flags & SF) != 0;
        }
        return (lfRes & signBit(lfSize)) != 0;
    }

    /** Evaluates condition code {@code cc} (the low nibble of Jcc/SETcc/CMOVcc). */
    final boolean cond(int cc) {
        boolean r;
        if (lfOp == LF_SUB) {
            // After CMP/SUB the conditions compare the operands directly (no flag assembly).
            int size = lfSize;
            long m = mask(size);
            switch (cc >> 1) {
                case 1: r = Long.compareUnsigned(lfDst & m, lfSrc & m) < 0; break;
                case 2: r = ((lfDst ^ lfSrc) & m) == 0; break;
                case 3: r = Long.compareUnsigned(lfDst & m, lfSrc & m) <= 0; break;
                case 4: r = (lfRes & signBit(size)) != 0; break;
                case 6: r = sext(lfDst, size) < sext(lfSrc, size); break;
                case 7: r = sext(lfDst, size) <= sext(lfSrc, size); break;
                default: return condSlow(cc);
            }
            return r ^ ((cc & 1) != 0);
        }
        if (lfOp == LF_LOGIC) {
            long res = lfRes & mask(lfSize);
            boolean sign = (res & signBit(lfSize)) != 0;
            switch (cc >> 1) {
                case 0: case 1: r = false; break;
                case 2: case 3: r = res == 0; break;
                case 4: case 6: r = sign; break;
                case 7: r = res == 0 || sign; break;
                default: return condSlow(cc);
            }
            return r ^ ((cc & 1) != 0);
        }
        return condSlow(cc);
    }

    private boolean condSlow(int cc) {
        boolean r;
        switch (cc >> 1) {
            case 0: r = (rflags() & OF) != 0; break;
            case 1: r = cf(); break;
            case 2: r = zf(); break;
            case 3: r = cf() || zf(); break;
            case 4: r = sf(); break;
            case 5: r = (rflags() & PF) != 0; break;
            case 6: r = sf() != ((rflags() & OF) != 0); break;
            default: r = zf() || sf() != ((rflags() & OF) != 0); break;
        }
        return r ^ ((cc & 1) != 0);
    }
}

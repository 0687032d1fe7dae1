package org.tscvm.cpu;

/**
 * Restricted transactional memory (SDM Vol. 1, ch. 16): XBEGIN, XEND, XABORT, XTEST. The
 * transaction's state and its undo are {@link Transaction}; the run loop interprets a
 * transaction one instruction at a time and aborts it before an instruction whose effects
 * cannot be undone ({@link #abortsTransaction}), at a fault (not delivered), an interrupt or
 * NMI (delivered at the fallback address), and when the host takes the CPU back.
 */
final class Rtm {
    private Rtm() {
    }

    /**
     * XBEGIN rel16/rel32: opens a transaction, or a nested one; the fallback address is the
     * next instruction's plus the displacement.
     */
    static void xbegin(CpuExec c, Insn d) {
        int rtm = c.bus.rtm();
        if (rtm == CpuBus.RTM_ABSENT) {
            throw c.ud();
        }
        long fallback = c.rip + d.imm;
        if (d.opSize == 2) {
            fallback &= 0xffff;
        } else if (!c.mode64) {
            fallback &= 0xffffffffL;
        }
        if (!c.mode64 && fallback > c.segLimit[CpuState.CS]) {
            throw c.gp(0);
        }
        Transaction t = c.transaction;
        if (rtm == CpuBus.RTM_ABORTS) {
            if (t.depth != 0) {
                c.abortTransaction(0);
            } else {
                c.regs[Cpu.RAX] = 0; // an abort at once: EAX = 0, RIP = the fallback, nothing else
                c.rip = fallback;
            }
            return;
        }
        if (t.depth == 0) {
            c.openTransaction(fallback);
        } else if (t.depth == Transaction.MAX_NESTING) {
            c.abortTransaction(0);
        } else {
            t.depth++;
        }
    }

    /** XEND: closes the innermost transaction; the outermost commits. #GP(0) outside one. */
    static void xend(CpuExec c, Insn d) {
        requireRtm(c);
        Transaction t = c.transaction;
        if (t.depth == 0) {
            throw c.gp(0);
        }
        if (--t.depth == 0) {
            c.commitTransaction();
        }
    }

    /** XABORT imm8: aborts with the immediate in EAX[31:24]; a no-op outside a transaction. */
    static void xabort(CpuExec c, Insn d) {
        requireRtm(c);
        if (c.transaction.depth != 0) {
            c.abortTransaction(Transaction.ABORT_XABORT | (int) (d.imm & 0xff) << 24);
        }
    }

    /** XTEST: ZF = 0 inside a transaction, 1 outside; CF, OF, SF, PF and AF cleared. */
    static void xtest(CpuExec c, Insn d) {
        requireRtm(c);
        c.setArith(c.transaction.depth == 0 ? CpuState.ZF : 0);
    }

    private static void requireRtm(CpuExec c) {
        if (c.bus.rtm() == CpuBus.RTM_ABSENT) {
            throw c.ud();
        }
    }

    /**
     * The forms a transaction cannot undo, which abort it before they run: port I/O, the
     * system instructions that change CPU state or read the platform, interrupts and far
     * transfers, segment loads and FS/GS base writes, HLT, and restores of the FPU/XSAVE state.
     */
    static boolean abortsTransaction(Op op) {
        return ABORTS[op.ordinal()];
    }

    private static final boolean[] ABORTS = new boolean[Op.VALUES.length];

    static {
        for (Op op : new Op[] {Op.IN_I, Op.IN_DX, Op.OUT_I, Op.OUT_DX, Op.INS, Op.OUTS, Op.CLI, Op.STI, Op.LGDT,
                Op.LIDT, Op.LLDT, Op.LTR, Op.LMSW, Op.INVLPG, Op.MOV_CR_R, Op.MOV_DR_R, Op.CLTS, Op.WBINVD,
                Op.SWAPGS, Op.RDMSR, Op.WRMSR, Op.CPUID, Op.VMCALL, Op.WRPKRU, Op.XSETBV, Op.XRSTOR, Op.XRSTORS,
                Op.FXRSTOR, Op.HLT, Op.INT_N, Op.INT3, Op.INTO, Op.INT1, Op.IRET, Op.SYSCALL, Op.SYSRET,
                Op.SYSENTER, Op.SYSEXIT, Op.RET_FAR, Op.JMP_FAR_PTR, Op.CALL_FAR_PTR, Op.JMP_FAR_M, Op.CALL_FAR_M,
                Op.MOV_SEG_E, Op.POP_SEG, Op.LOAD_FAR, Op.RDFSBASE}) {
            ABORTS[op.ordinal()] = true;
        }
    }
}

package org.tscvm.cpu;

import static org.tscvm.cpu.CpuExec.*;

/**
 * Branches (group 2 of {@link Op}): Jcc, JMP and CALL (relative, indirect and far), RET and RETF,
 * LOOP/LOOPE/LOOPNE and JCXZ/JECXZ/JRCXZ; the far forms' checks and gates are {@link FarTransfers}'s. One static handler per form; RIP already points past
 * the instruction, and a target outside CS's limit (or not canonical) faults at the branch.
 */
final class Branch {
    private Branch() {
    }

    static void jcc(CpuExec c, Insn d) {
        if (c.cond(d.sub)) {
            c.rip = c.branchTarget(c.rip + d.imm, d.opSize);
        }
    }

    static void jmpRel(CpuExec c, Insn d) {
        c.rip = c.branchTarget(c.rip + d.imm, d.opSize);
    }

    static void callRel(CpuExec c, Insn d) {
        int size = d.opSize;
        long target = c.branchTarget(c.rip + d.imm, size);
        long rsp = c.regs[RSP];
        c.push(c.rip, size);
        if (c.cetActive) {
            Cet.nearCall(c, c.rip, rsp);
        }
        c.rip = target;
    }

    static void jmpE(CpuExec c, Insn d) {
        c.rip = c.branchTarget(c.readE(d, d.opSize), d.opSize);
        if (c.cetActive) {
            Cet.indirectBranch(c, d);
        }
    }

    static void callE(CpuExec c, Insn d) {
        int size = d.opSize;
        long target = c.branchTarget(c.readE(d, size), size);
        long rsp = c.regs[RSP];
        c.push(c.rip, size);
        if (c.cetActive) {
            Cet.nearCall(c, c.rip, rsp);
            Cet.indirectBranch(c, d);
        }
        c.rip = target;
    }

    static void ret(CpuExec c, Insn d) {
        int size = d.opSize;
        long target = c.branchTarget(c.readStack(0, size), size);
        if (c.cetActive) {
            Cet.nearReturn(c, target);
        }
        c.adjustSp(size + d.imm);
        c.rip = target;
    }

    static void loop(CpuExec c, Insn d) {
        long m = c.addrMask(d);
        long[] regs = c.regs;
        long count = (regs[RCX] - 1) & m;
        regs[RCX] = d.addrSize == 4 ? count : (regs[RCX] & ~m) | count;
        boolean take = count != 0 && (d.sub == 2 || (d.sub == 1) == c.zf());
        if (take) {
            c.rip = c.branchTarget(c.rip + d.imm, d.opSize);
        }
    }

    static void jrcxz(CpuExec c, Insn d) {
        if ((c.regs[RCX] & c.addrMask(d)) == 0) {
            c.rip = c.branchTarget(c.rip + d.imm, d.opSize);
        }
    }

    static void retFar(CpuExec c, Insn d) {
        c.far.ret(d.opSize, (int) d.imm);
    }

    static void jmpFarPtr(CpuExec c, Insn d) {
        c.far.jumpOrCall((int) d.imm2, d.imm, d.opSize, false);
        if (c.cetActive) {
            Cet.armTracker(c);
        }
    }

    static void callFarPtr(CpuExec c, Insn d) {
        c.far.jumpOrCall((int) d.imm2, d.imm, d.opSize, true);
        if (c.cetActive) {
            Cet.armTracker(c);
        }
    }

    static void jmpFarM(CpuExec c, Insn d) {
        farIndirect(c, d, false);
    }

    static void callFarM(CpuExec c, Insn d) {
        farIndirect(c, d, true);
    }

    /** JMP or CALL through a far pointer in memory: the offset, then the selector. */
    private static void farIndirect(CpuExec c, Insn d, boolean call) {
        int size = d.opSize;
        long e = c.ea(d);
        long off = c.readLin(c.linear(d.seg, e, size, false), size);
        int sel = (int) c.readLin(c.linear(d.seg, (e + size) & c.addrMask(d), 2, false), 2);
        c.far.jumpOrCall(sel, off, size, call);
        if (c.cetActive) {
            Cet.armTracker(c);
        }
    }
}

package org.tscvm.cpu;

import static org.tscvm.cpu.CpuExec.*;

/**
 * Near control transfers (group 2 of {@link Op}): Jcc, JMP and CALL (relative and indirect), RET,
 * LOOP/LOOPE/LOOPNE and JCXZ/JECXZ/JRCXZ. One static handler per form; RIP already points past
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
        c.push(c.rip, size);
        c.rip = target;
    }

    static void jmpE(CpuExec c, Insn d) {
        c.rip = c.branchTarget(c.readE(d, d.opSize), d.opSize);
    }

    static void callE(CpuExec c, Insn d) {
        int size = d.opSize;
        long target = c.branchTarget(c.readE(d, size), size);
        c.push(c.rip, size);
        c.rip = target;
    }

    static void ret(CpuExec c, Insn d) {
        int size = d.opSize;
        long target = c.branchTarget(c.readStack(0, size), size);
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
}

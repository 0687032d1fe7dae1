package org.tscvm.cpu;

import static org.tscvm.cpu.CpuExec.*;

/**
 * String forms (group 3 of {@link Op}): MOVS, CMPS, STOS, LODS, SCAS, INS and OUTS, with or
 * without REP/REPE/REPNE, one handler each. With REP a handler does at most
 * {@link CpuExec#REP_CHUNK} iterations and then restarts the instruction (RIP back at it), so
 * interrupts and the run loop's budget come between chunks; RCX, RSI and RDI are updated after
 * every element, so a fault part-way leaves a restartable state. CMPS and SCAS stop on the
 * REPE/REPNE condition; INS and OUTS also stop at a pending event.
 */
final class StringOps {
    private StringOps() {
    }

    static void movs(CpuExec c, Insn d) {
        int size = d.opSize;
        long am = c.addrMask(d);
        long count = initialCount(c, d, am);
        long delta = delta(c, size);
        for (int n = 0; count != 0 && n < REP_CHUNK; n++) {
            long v = c.readLin(c.linear(d.seg, c.regs[RSI] & am, size, false), size);
            c.writeLin(c.linear(ES, c.regs[RDI] & am, size, true), size, v);
            advance(c, RSI, delta, am);
            advance(c, RDI, delta, am);
            if (d.rep == 0) {
                return;
            }
            count = decrementCount(c, d, count, am);
        }
        restartIfLeft(c, count);
    }

    static void stos(CpuExec c, Insn d) {
        int size = d.opSize;
        long am = c.addrMask(d);
        long count = initialCount(c, d, am);
        long delta = delta(c, size);
        for (int n = 0; count != 0 && n < REP_CHUNK; n++) {
            c.writeLin(c.linear(ES, c.regs[RDI] & am, size, true), size, c.getReg(size, RAX));
            advance(c, RDI, delta, am);
            if (d.rep == 0) {
                return;
            }
            count = decrementCount(c, d, count, am);
        }
        restartIfLeft(c, count);
    }

    static void lods(CpuExec c, Insn d) {
        int size = d.opSize;
        long am = c.addrMask(d);
        long count = initialCount(c, d, am);
        long delta = delta(c, size);
        for (int n = 0; count != 0 && n < REP_CHUNK; n++) {
            c.setReg(size, RAX, c.readLin(c.linear(d.seg, c.regs[RSI] & am, size, false), size));
            advance(c, RSI, delta, am);
            if (d.rep == 0) {
                return;
            }
            count = decrementCount(c, d, count, am);
        }
        restartIfLeft(c, count);
    }

    static void cmps(CpuExec c, Insn d) {
        int size = d.opSize;
        long am = c.addrMask(d);
        long count = initialCount(c, d, am);
        long delta = delta(c, size);
        for (int n = 0; count != 0 && n < REP_CHUNK; n++) {
            long a = c.readLin(c.linear(d.seg, c.regs[RSI] & am, size, false), size);
            long b = c.readLin(c.linear(ES, c.regs[RDI] & am, size, false), size);
            c.alu(7, size, a, b, false);
            advance(c, RSI, delta, am);
            advance(c, RDI, delta, am);
            if (d.rep == 0) {
                return;
            }
            count = decrementCount(c, d, count, am);
            if (repeatConditionFails(c, d)) {
                return;
            }
        }
        restartIfLeft(c, count);
    }

    static void scas(CpuExec c, Insn d) {
        int size = d.opSize;
        long am = c.addrMask(d);
        long count = initialCount(c, d, am);
        long delta = delta(c, size);
        for (int n = 0; count != 0 && n < REP_CHUNK; n++) {
            long b = c.readLin(c.linear(ES, c.regs[RDI] & am, size, false), size);
            c.alu(7, size, c.getReg(size, RAX), b, false);
            advance(c, RDI, delta, am);
            if (d.rep == 0) {
                return;
            }
            count = decrementCount(c, d, count, am);
            if (repeatConditionFails(c, d)) {
                return;
            }
        }
        restartIfLeft(c, count);
    }

    static void ins(CpuExec c, Insn d) {
        int size = d.opSize;
        long am = c.addrMask(d);
        long count = initialCount(c, d, am);
        if (count == 0) {
            return;
        }
        int port = (int) c.regs[RDX] & 0xffff;
        c.checkIoPermission(port, size);
        long delta = delta(c, size);
        for (int n = 0; count != 0 && n < REP_CHUNK; n++) {
            long lin = c.linear(ES, c.regs[RDI] & am, size, true);
            c.probeWrite(lin, size); // both pages, before the port read consumes a datum
            c.writeLin(lin, size, c.bus.ioIn(port, size) & mask(size));
            advance(c, RDI, delta, am);
            if (d.rep == 0) {
                return;
            }
            count = decrementCount(c, d, count, am);
            if (c.eventsPending()) {
                break;
            }
        }
        restartIfLeft(c, count);
    }

    static void outs(CpuExec c, Insn d) {
        int size = d.opSize;
        long am = c.addrMask(d);
        long count = initialCount(c, d, am);
        if (count == 0) {
            return;
        }
        int port = (int) c.regs[RDX] & 0xffff;
        c.checkIoPermission(port, size);
        long delta = delta(c, size);
        for (int n = 0; count != 0 && n < REP_CHUNK; n++) {
            long v = c.readLin(c.linear(d.seg, c.regs[RSI] & am, size, false), size);
            c.bus.ioOut(port, size, (int) v);
            advance(c, RSI, delta, am);
            if (d.rep == 0) {
                return;
            }
            count = decrementCount(c, d, count, am);
            if (c.eventsPending()) {
                break;
            }
        }
        restartIfLeft(c, count);
    }

    // ---- the REP loop's parts ----

    /** Elements to do: RCX under the address size with REP, else one. */
    private static long initialCount(CpuExec c, Insn d, long am) {
        return d.rep != 0 ? c.regs[RCX] & am : 1;
    }

    /** The step of RSI/RDI: the element size, backwards with DF. */
    private static long delta(CpuExec c, int size) {
        return (c.flags & DF) != 0 ? -size : size;
    }

    /** RCX less one under the address size (a 32-bit address size zero-extends RCX); the new count. */
    private static long decrementCount(CpuExec c, Insn d, long count, long am) {
        count = (count - 1) & am;
        c.regs[RCX] = d.addrSize == 4 ? count : (c.regs[RCX] & ~am) | count;
        return count;
    }

    /** REPE stops when ZF is clear, REPNE when it is set. */
    private static boolean repeatConditionFails(CpuExec c, Insn d) {
        return d.rep == Insn.REP ? !c.zf() : c.zf();
    }

    /**
     * More to do after a chunk: the instruction runs again (interrupts may come between). RF is
     * set, as after any iteration but the last (SDM 17.3.1.1): an event taken now pushes it, and
     * the restart does not fault on an instruction breakpoint at the string instruction again.
     */
    private static void restartIfLeft(CpuExec c, long count) {
        if (count != 0) {
            c.rip = c.prevRip;
            c.flags |= RF;
        }
    }

    private static void advance(CpuExec c, int reg, long delta, long am) {
        long v = (c.regs[reg] + delta) & am;
        c.regs[reg] = am == 0xffffffffL ? v : (c.regs[reg] & ~am) | v;
    }
}

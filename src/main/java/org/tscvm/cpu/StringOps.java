package org.tscvm.cpu;

import static org.tscvm.cpu.CpuExec.*;

/**
 * String forms (group 3 of {@link Op}): MOVS, CMPS, STOS, LODS, SCAS, INS and OUTS, with or
 * without REP/REPE/REPNE, one handler each. With REP a handler does at most
 * {@link CpuExec#REP_CHUNK} iterations and then restarts the instruction (RIP back at it), so
 * interrupts and the run loop's budget come between chunks; RCX, RSI and RDI are updated after
 * every element, so a fault part-way leaves a restartable state. CMPS and SCAS stop on the
 * REPE/REPNE condition; INS and OUTS also stop at a pending event. REP MOVS and STOS forwards
 * move a run of elements at once where it lies in one page that the TLB holds, which leaves
 * memory, registers and the chunks exactly as one element at a time would.
 */
final class StringOps {
    private StringOps() {
    }

    static void movs(CpuExec c, Insn d) {
        int size = d.opSize;
        long am = c.addrMask(d);
        long count = initialCount(c, d, am);
        long delta = delta(c, size);
        int n = 0;
        while (count != 0 && n < REP_CHUNK) {
            int run = d.rep != 0 && delta > 0 ? moveRun(c, d, am, size, Math.min(count, REP_CHUNK - n)) : 0;
            if (run == 0) {
                long v = c.readLin(c.linear(d.seg, c.regs[RSI] & am, size, false), size);
                c.writeLin(c.linear(ES, c.regs[RDI] & am, size, true), size, v);
                run = 1;
            }
            advance(c, RSI, delta * run, am);
            advance(c, RDI, delta * run, am);
            if (d.rep == 0) {
                return;
            }
            count = decrementCount(c, d, count, am, run);
            n += run;
        }
        restartIfLeft(c, count);
    }

    static void stos(CpuExec c, Insn d) {
        int size = d.opSize;
        long am = c.addrMask(d);
        long count = initialCount(c, d, am);
        long delta = delta(c, size);
        int n = 0;
        while (count != 0 && n < REP_CHUNK) {
            int run = d.rep != 0 && delta > 0 ? storeRun(c, am, size, Math.min(count, REP_CHUNK - n)) : 0;
            if (run == 0) {
                c.writeLin(c.linear(ES, c.regs[RDI] & am, size, true), size, c.getReg(size, RAX));
                run = 1;
            }
            advance(c, RDI, delta * run, am);
            if (d.rep == 0) {
                return;
            }
            count = decrementCount(c, d, count, am, run);
            n += run;
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
        return decrementCount(c, d, count, am, 1);
    }

    /** RCX less {@code n} elements done, as {@link #decrementCount(CpuExec, Insn, long, long)}. */
    private static long decrementCount(CpuExec c, Insn d, long count, long am, int n) {
        count = (count - n) & am;
        c.regs[RCX] = d.addrSize == 4 ? count : (c.regs[RCX] & ~am) | count;
        return count;
    }

    // ---- runs: REP MOVS and STOS forwards, a page's worth at once where nothing can tell ----

    /** Not a linear address in any mode (it is not canonical): {@link #flatLinear} found checks to make. */
    private static final long NOT_FLAT = Long.MIN_VALUE;

    /**
     * The linear address of {@code ea} in {@code seg} where a run of elements needs no segment
     * check: in 64-bit mode (canonical), or in a flat writable data segment; and 32- or 64-bit
     * addressing, since a 16-bit offset can wrap inside a page. Else {@link #NOT_FLAT}.
     */
    private static long flatLinear(CpuExec c, int seg, long ea, long am) {
        if (am == 0xffffL) {
            return NOT_FLAT;
        }
        if (c.mode64) {
            long lin = seg >= FS ? c.segBase[seg] + ea : ea;
            return (lin << 16 >> 16) == lin ? lin : NOT_FLAT;
        }
        return c.segChecked[seg] ? NOT_FLAT : (c.segBase[seg] + ea) & 0xffffffffL;
    }

    /** How many elements of {@code size} from {@code lin} (offset {@code ea}) stay in its page and under the address size. */
    private static long runRoom(long lin, long ea, long am, int size) {
        long inPage = (4096 - (lin & 0xfff)) / size;
        return am == -1L ? inPage : Math.min(inPage, (am - ea) / size + 1);
    }

    /** STOS elements stored at once from ES:RDI, up to {@code max}: 0 where they must go one by one. */
    private static int storeRun(CpuExec c, long am, int size, long max) {
        long ea = c.regs[RDI] & am;
        long lin = flatLinear(c, ES, ea, am);
        if (lin == NOT_FLAT) {
            return 0;
        }
        int k = (int) Math.min(max, runRoom(lin, ea, am, size));
        return k > 1 && c.storeRun(lin, size, k, c.getReg(size, RAX)) ? k : 0;
    }

    /** MOVS elements copied at once from seg:RSI to ES:RDI, up to {@code max}: 0 where they must go one by one. */
    private static int moveRun(CpuExec c, Insn d, long am, int size, long max) {
        long fromEa = c.regs[RSI] & am;
        long toEa = c.regs[RDI] & am;
        long from = flatLinear(c, d.seg, fromEa, am);
        long to = flatLinear(c, ES, toEa, am);
        if (from == NOT_FLAT || to == NOT_FLAT) {
            return 0;
        }
        int k = (int) Math.min(max, Math.min(runRoom(from, fromEa, am, size), runRoom(to, toEa, am, size)));
        return k > 1 && c.copyRun(from, to, size, k) ? k : 0;
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

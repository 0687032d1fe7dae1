package org.tscvm.cpu;

import static org.tscvm.cpu.CpuExec.*;

/**
 * String forms (group 3 of {@link Op}): MOVS, CMPS, STOS, LODS, SCAS, INS and OUTS, with or
 * without REP/REPE/REPNE. Each form's handler runs the shared REP loop, which does at most
 * {@link CpuExec#REP_CHUNK} iterations and then restarts the instruction (RIP back at it), so
 * interrupts and the run loop's budget come between chunks; INS/OUTS also stop at a pending event.
 */
final class StringOps {
    private StringOps() {
    }

    static void movs(CpuExec c, Insn d) {
        repeat(c, d);
    }

    static void cmps(CpuExec c, Insn d) {
        repeat(c, d);
    }

    static void stos(CpuExec c, Insn d) {
        repeat(c, d);
    }

    static void lods(CpuExec c, Insn d) {
        repeat(c, d);
    }

    static void scas(CpuExec c, Insn d) {
        repeat(c, d);
    }

    static void ins(CpuExec c, Insn d) {
        repeat(c, d);
    }

    static void outs(CpuExec c, Insn d) {
        repeat(c, d);
    }

    private static void repeat(CpuExec c, Insn d) {
        int size = d.opSize;
        long am = c.addrMask(d);
        boolean rep = d.rep != 0;
        long count = rep ? c.regs[RCX] & am : 1;
        if (count == 0) {
            return;
        }
        long delta = (c.flags & DF) != 0 ? -size : size;
        int n = 0;
        boolean io = d.op == Op.INS || d.op == Op.OUTS;
        int port = (int) c.regs[RDX] & 0xffff;
        if (io) {
            c.checkIoPermission(port, size);
        }
        while (count != 0 && n < REP_CHUNK) {
            boolean stop = false;
            switch (d.op) {
                case MOVS: {
                    long v = c.readLin(c.linear(d.seg, c.regs[RSI] & am, size, false), size);
                    c.writeLin(c.linear(ES, c.regs[RDI] & am, size, true), size, v);
                    advance(c, RSI, delta, am);
                    advance(c, RDI, delta, am);
                    break;
                }
                case STOS:
                    c.writeLin(c.linear(ES, c.regs[RDI] & am, size, true), size, c.getReg(size, RAX));
                    advance(c, RDI, delta, am);
                    break;
                case LODS:
                    c.setReg(size, RAX, c.readLin(c.linear(d.seg, c.regs[RSI] & am, size, false), size));
                    advance(c, RSI, delta, am);
                    break;
                case CMPS: {
                    long a = c.readLin(c.linear(d.seg, c.regs[RSI] & am, size, false), size);
                    long b = c.readLin(c.linear(ES, c.regs[RDI] & am, size, false), size);
                    c.alu(7, size, a, b, false);
                    advance(c, RSI, delta, am);
                    advance(c, RDI, delta, am);
                    stop = true;
                    break;
                }
                case SCAS: {
                    long b = c.readLin(c.linear(ES, c.regs[RDI] & am, size, false), size);
                    c.alu(7, size, c.getReg(size, RAX), b, false);
                    advance(c, RDI, delta, am);
                    stop = true;
                    break;
                }
                case INS: {
                    long lin = c.linear(ES, c.regs[RDI] & am, size, true);
                    c.probeWrite(lin, size); // both pages, before the port read consumes a datum
                    c.writeLin(lin, size, c.bus.ioIn(port, size) & mask(size));
                    advance(c, RDI, delta, am);
                    break;
                }
                default: { // OUTS
                    long v = c.readLin(c.linear(d.seg, c.regs[RSI] & am, size, false), size);
                    c.bus.ioOut(port, size, (int) v);
                    advance(c, RSI, delta, am);
                    break;
                }
            }
            n++;
            if (rep) {
                count = (count - 1) & am;
                c.regs[RCX] = d.addrSize == 4 ? count : (c.regs[RCX] & ~am) | count;
                if (stop && (d.rep == Insn.REP ? !c.zf() : c.zf())) {
                    return;
                }
            } else {
                return;
            }
            if (io && c.eventsPending()) {
                break;
            }
        }
        if (count != 0) {
            c.rip = c.prevRip; // more to do: the instruction runs again (interrupts may come between)
        }
    }

    private static void advance(CpuExec c, int reg, long delta, long am) {
        long v = (c.regs[reg] + delta) & am;
        c.regs[reg] = am == 0xffffffffL ? v : (c.regs[reg] & ~am) | v;
    }
}

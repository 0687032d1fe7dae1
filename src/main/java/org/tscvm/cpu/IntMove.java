package org.tscvm.cpu;

import static org.tscvm.cpu.CpuExec.*;

/**
 * Data movement forms (group 1 of {@link Op}): MOV in its forms, MOVZX/MOVSX/MOVSXD, LEA, XCHG,
 * CMPXCHG, XADD, BSWAP, MOVBE, CMPXCHG8B/16B, the stack (PUSH, POP, PUSHF, POPF, PUSHA, POPA,
 * ENTER, LEAVE), XLAT, segment register moves, LDS and its kin, NOP, PAUSE and the fences. One
 * static handler per form; RIP already points past the instruction.
 *
 * <p>{@code MOV_R_R}, {@code MOV_R_I}, {@code MOV_R_M}, {@code MOV_M_R} and {@code MOV_M_I} are
 * the 32- and 64-bit MOVs with their operands resolved at decode time.
 */
final class IntMove {
    private IntMove() {
    }

    // ---- the decode-time-resolved 32/64-bit forms ----

    static void movRR(CpuExec c, Insn d) {
        c.regs[d.fa] = c.regs[d.fb] & d.fmask;
    }

    static void movRI(CpuExec c, Insn d) {
        c.regs[d.fa] = d.fimm;
    }

    static void movRM(CpuExec c, Insn d) {
        int size = d.opSize;
        c.regs[d.fa] = c.readLin(c.flatAddr(d, size, false), size);
    }

    static void movMR(CpuExec c, Insn d) {
        int size = d.opSize;
        c.writeLin(c.flatAddr(d, size, true), size, c.regs[d.fb]);
    }

    static void movMI(CpuExec c, Insn d) {
        int size = d.opSize;
        c.writeLin(c.flatAddr(d, size, true), size, d.imm);
    }

    // ---- the family forms ----

    static void movEg(CpuExec c, Insn d) {
        c.writeE(d, d.opSize, c.readG(d, d.opSize));
    }

    static void movGe(CpuExec c, Insn d) {
        c.writeG(d, d.opSize, c.readE(d, d.opSize));
    }

    static void movEi(CpuExec c, Insn d) {
        c.writeE(d, d.opSize, d.imm);
    }

    static void movAlMoffs(CpuExec c, Insn d) {
        int size = d.opSize;
        c.setReg(size, RAX, c.readLin(c.linear(d.seg, d.disp & c.addrMask(d), size, false), size));
    }

    static void movMoffsAl(CpuExec c, Insn d) {
        int size = d.opSize;
        c.writeLin(c.linear(d.seg, d.disp & c.addrMask(d), size, true), size, c.getReg(size, RAX));
    }

    static void movzxB(CpuExec c, Insn d) {
        c.writeG(d, d.opSize, c.readE(d, 1));
    }

    static void movzxW(CpuExec c, Insn d) {
        c.writeG(d, d.opSize, c.readE(d, 2));
    }

    static void movsxB(CpuExec c, Insn d) {
        c.writeG(d, d.opSize, (byte) c.readE(d, 1));
    }

    static void movsxW(CpuExec c, Insn d) {
        c.writeG(d, d.opSize, (short) c.readE(d, 2));
    }

    static void movsxd(CpuExec c, Insn d) {
        c.writeG(d, d.opSize, (int) c.readE(d, 4));
    }

    static void lea(CpuExec c, Insn d) {
        c.writeG(d, d.opSize, c.ea(d));
    }

    static void xchg(CpuExec c, Insn d) {
        int size = d.opSize;
        if (d.mem) {
            // XCHG with memory is locked whether or not LOCK is present.
            c.writeG(d, size, c.rmwAt(c.addr(d, size, true), size, K_XCHG, c.readG(d, size), true));
        } else {
            long g = c.readG(d, size);
            long e = c.getReg(size, size == 1 ? d.rmB : d.rm);
            c.setReg(size, size == 1 ? d.rmB : d.rm, g);
            c.writeG(d, size, e);
        }
    }

    static void xadd(CpuExec c, Insn d) {
        int size = d.opSize;
        long src = c.readG(d, size);
        long old;
        if (d.mem) {
            old = c.rmwAt(c.addr(d, size, true), size, K_XADD, src, d.lock);
            c.writeG(d, size, old);
        } else {
            old = c.getReg(size, size == 1 ? d.rmB : d.rm);
            long sum = c.compute(K_XADD, size, old, src, false, 0);
            c.writeG(d, size, old);
            c.writeE(d, size, sum);
        }
    }

    static void bswap(CpuExec c, Insn d) {
        long[] regs = c.regs;
        int size = d.opSize;
        if (size == 8) {
            regs[d.rm] = Long.reverseBytes(regs[d.rm]);
        } else if (size == 4) {
            c.setReg(4, d.rm, Integer.reverseBytes((int) regs[d.rm]) & 0xffffffffL);
        } else {
            c.setReg(2, d.rm, 0); // BSWAP r16 is undefined; Intel and AMD hosts give 0
        }
    }

    static void movbeGm(CpuExec c, Insn d) {
        c.writeG(d, d.opSize, byteSwap(c.readE(d, d.opSize), d.opSize));
    }

    static void movbeMg(CpuExec c, Insn d) {
        c.writeE(d, d.opSize, byteSwap(c.readG(d, d.opSize), d.opSize));
    }

    static void pushE(CpuExec c, Insn d) {
        long v = c.readE(d, d.opSize);
        c.push(v, d.opSize);
    }

    static void popE(CpuExec c, Insn d) {
        int size = d.opSize;
        // The stack pointer is incremented before the destination address is computed.
        long v = c.readStack(0, size);
        long oldSp = c.regs[RSP];
        c.adjustSp(size);
        try {
            c.writeE(d, size, v);
        } catch (CpuFault f) {
            c.regs[RSP] = oldSp;
            throw f;
        }
    }

    static void pushI(CpuExec c, Insn d) {
        c.push(d.imm, d.opSize);
    }

    static void pushSeg(CpuExec c, Insn d) {
        c.push(c.segSel[d.sub], d.opSize);
    }

    static void popSeg(CpuExec c, Insn d) {
        int size = d.opSize;
        long v = c.readStack(0, size);
        c.segments.loadSegment(d.sub, (int) v & 0xffff);
        c.adjustSp(size);
        if (d.sub == SS) {
            c.interruptShadowUntil = c.retiredNow() + 2;
            c.movSsShadowUntil = c.interruptShadowUntil;
        }
    }

    static void pushf(CpuExec c, Insn d) {
        if ((c.flags & VM) != 0 && (c.flags & IOPL) != IOPL) {
            throw c.gp(0);
        }
        c.push(c.rflags() & ~(VM | RF), d.opSize);
    }

    static void popf(CpuExec c, Insn d) {
        if ((c.flags & VM) != 0 && (c.flags & IOPL) != IOPL) {
            throw c.gp(0);
        }
        long v = c.readStack(0, d.opSize);
        c.adjustSp(d.opSize);
        c.writeFlagsChecked(v, d.opSize, c.cpl, false);
    }

    static void pusha(CpuExec c, Insn d) {
        long sp = c.regs[RSP];
        try {
            for (int r = 0; r < 8; r++) {
                c.push(r == RSP ? sp : c.regs[r], d.opSize);
            }
        } catch (CpuFault f) {
            c.regs[RSP] = sp; // a fault part-way leaves ESP as before (SDM 6.5: restartable)
            throw f;
        }
    }

    static void popa(CpuExec c, Insn d) {
        int size = d.opSize;
        // All eight reads first: a fault part-way must not have changed a register.
        long[] v = c.popaValues;
        for (int i = 0; i < 8; i++) {
            v[i] = c.readStack((long) i * size, size);
        }
        for (int i = 0; i < 8; i++) {
            if (7 - i != RSP) {
                c.setReg(size, 7 - i, v[i]);
            }
        }
        c.adjustSp(8L * size);
    }

    static void leave(CpuExec c, Insn d) {
        int size = d.opSize;
        long m = c.stackMask();
        long bp = c.regs[RBP] & m;
        long v = c.readLin(c.linear(SS, bp, size, false), size);
        c.regs[RSP] = (c.regs[RSP] & ~m) | ((bp + size) & m);
        c.setReg(size, RBP, v);
    }

    static void xlat(CpuExec c, Insn d) {
        long e = (c.regs[RBX] + (c.regs[RAX] & 0xff)) & c.addrMask(d);
        c.setReg(1, RAX, c.readLin(c.linear(d.seg, e, 1, false), 1));
    }

    static void movSegE(CpuExec c, Insn d) {
        c.segments.loadSegment(d.sub, (int) c.readE(d, 2));
        if (d.sub == SS) {
            c.interruptShadowUntil = c.retiredNow() + 2;
            c.movSsShadowUntil = c.interruptShadowUntil;
        }
    }

    static void movESeg(CpuExec c, Insn d) {
        c.writeE(d, d.mem ? 2 : d.opSize, c.segSel[d.sub]);
    }

    static void loadFar(CpuExec c, Insn d) {
        int size = d.opSize;
        long e = c.ea(d);
        long off = c.readLin(c.linear(d.seg, e, size, false), size);
        int sel = (int) c.readLin(c.linear(d.seg, (e + size) & c.addrMask(d), 2, false), 2);
        c.segments.loadSegment(d.sub, sel);
        c.writeG(d, size, off);
    }

    static void nop(CpuExec c, Insn d) {
    }

    static void pause(CpuExec c, Insn d) {
        c.spinWait();
    }

    static void fence(CpuExec c, Insn d) {
        java.lang.invoke.VarHandle.fullFence();
    }

    // ---- the cores these handlers share ----

    static long byteSwap(long v, int size) {
        switch (size) {
            case 2: return Short.reverseBytes((short) v) & 0xffff;
            case 4: return Integer.reverseBytes((int) v) & 0xffffffffL;
            default: return Long.reverseBytes(v);
        }
    }

    static void enter(CpuExec c, Insn d) {
        long sp = c.regs[RSP];
        try {
            enterFrame(c, d);
        } catch (CpuFault f) {
            c.regs[RSP] = sp; // a fault part-way leaves RSP as before (SDM 6.5: restartable)
            throw f;
        }
    }

    private static void enterFrame(CpuExec c, Insn d) {
        int size = d.opSize;
        int level = (int) d.imm2 & 31;
        c.push(c.regs[RBP], size);
        long frame = c.regs[RSP] & c.stackMask();
        if (level > 0) {
            long bp = c.regs[RBP];
            for (int i = 1; i < level; i++) {
                bp = (bp - size) & c.stackMask();
                c.push(c.readLin(c.linear(SS, bp, size, false), size), size);
            }
            c.push(frame, size);
        }
        c.adjustSp(-d.imm);
        // Probe the new stack top so a fault happens here, as on hardware.
        c.readLin(c.linear(SS, c.regs[RSP] & c.stackMask(), 1, true), 1);
        c.setReg(size, RBP, frame);
    }

    static void cmpxchg(CpuExec c, Insn d) {
        int size = d.opSize;
        long acc = c.getReg(size, RAX);
        long src = c.readG(d, size);
        if (!d.mem) {
            int idx = size == 1 ? d.rmB : d.rm;
            long dst = c.getReg(size, idx);
            c.alu(7, size, acc, dst, false);
            // On failure the register destination is not written (Intel hosts keep its upper half).
            if (dst == acc) {
                c.setReg(size, idx, src);
            } else {
                c.setReg(size, RAX, dst);
            }
            return;
        }
        long lin = c.addr(d, size, true);
        long dst;
        if (d.lock) {
            int p = c.atomicOffset(lin, size);
            if (p >= 0) {
                while (true) {
                    dst = c.atomicRead(p, size);
                    if (dst != acc) {
                        break;
                    }
                    if (c.atomicCas(p, size, dst, src)) {
                        c.atomicStored(p);
                        break;
                    }
                }
            } else {
                synchronized (c.SPLIT_LOCK) {
                    dst = c.readLin(lin, size);
                    c.writeLin(lin, size, dst == acc ? src : dst);
                }
            }
        } else {
            dst = c.readLin(lin, size);
            c.writeLin(lin, size, dst == acc ? src : dst);
        }
        c.alu(7, size, acc, dst, false);
        if (dst != acc) {
            c.setReg(size, RAX, dst);
        }
    }

    static void cmpxchg8b(CpuExec c, Insn d) {
        boolean wide = d.opSize == 8;
        long lin = c.addr(d, wide ? 16 : 8, true);
        long fl = c.rflags();
        if (wide) {
            if ((lin & 15) != 0) {
                throw c.gp(0);
            }
            synchronized (c.SPLIT_LOCK) {
                long lo = c.readLin(lin, 8);
                long hi = c.readLin(lin + 8, 8);
                if (lo == c.regs[RAX] && hi == c.regs[RDX]) {
                    c.writeLin(lin, 8, c.regs[RBX]);
                    c.writeLin(lin + 8, 8, c.regs[RCX]);
                    c.setArith(fl | ZF);
                } else {
                    c.writeLin(lin, 8, lo);
                    c.writeLin(lin + 8, 8, hi);
                    c.regs[RAX] = lo;
                    c.regs[RDX] = hi;
                    c.setArith(fl & ~ZF);
                }
            }
            return;
        }
        long expected = (c.regs[RDX] << 32) | (c.regs[RAX] & 0xffffffffL);
        long value = (c.regs[RCX] << 32) | (c.regs[RBX] & 0xffffffffL);
        long old;
        int p = d.lock ? c.atomicOffset(lin, 8) : -1;
        if (p >= 0) {
            while (true) {
                old = c.atomicRead(p, 8);
                if (old != expected || c.atomicCas(p, 8, old, value)) {
                    if (old == expected) {
                        c.atomicStored(p);
                    }
                    break;
                }
            }
        } else if (d.lock) {
            synchronized (c.SPLIT_LOCK) {
                old = c.readLin(lin, 8);
                c.writeLin(lin, 8, old == expected ? value : old);
            }
        } else {
            old = c.readLin(lin, 8);
            c.writeLin(lin, 8, old == expected ? value : old);
        }
        if (old == expected) {
            c.setArith(fl | ZF);
        } else {
            c.regs[RAX] = old & 0xffffffffL;
            c.regs[RDX] = old >>> 32;
            c.setArith(fl & ~ZF);
        }
    }
}

package org.tscvm.cpu;

import static org.tscvm.cpu.CpuExec.*;

/**
 * Integer ALU forms (group 0 of {@link Op}): ADD OR ADC SBB AND SUB XOR CMP and TEST, INC DEC
 * NOT NEG, the multiplies and divides, shifts and rotates, SHLD/SHRD, the bit tests and scans,
 * CBW/CWD, SETcc and CMOVcc, the flag instructions and the BCD adjustments. One static handler
 * per form; RIP already points past the instruction and faults report {@code prevRip}.
 *
 * <p>The {@code _R_R}, {@code _R_I}, {@code _R_M}, {@code CMP_M_*} handlers are the 32- and
 * 64-bit forms with their operands resolved at decode time ({@link Insn#fa}, {@link Insn#fb},
 * {@link Insn#fimm}, {@link Insn#fmask}): no operand-size, register-or-memory or ALU-kind
 * branch is left in them (Bochs' split of register and memory forms). They must leave exactly
 * what their family's handler leaves (CpuDifferentialTest runs both against the host).
 */
final class IntAlu {
    private IntAlu() {
    }

    // ---- the decode-time-resolved 32/64-bit forms ----

    static void addRR(CpuExec c, Insn d) {
        long m = d.fmask, dst = c.regs[d.fa] & m, src = c.regs[d.fb] & m;
        c.regs[d.fa] = (dst + src) & m;
        c.setLazy(LF_ADD, d.opSize, dst, src, dst + src);
    }

    static void orRR(CpuExec c, Insn d) {
        long m = d.fmask, dst = c.regs[d.fa] & m, src = c.regs[d.fb] & m;
        c.regs[d.fa] = dst | src;
        c.setLazy(LF_LOGIC, d.opSize, dst, src, dst | src);
    }

    static void andRR(CpuExec c, Insn d) {
        long m = d.fmask, dst = c.regs[d.fa] & m, src = c.regs[d.fb] & m;
        c.regs[d.fa] = dst & src;
        c.setLazy(LF_LOGIC, d.opSize, dst, src, dst & src);
    }

    static void subRR(CpuExec c, Insn d) {
        long m = d.fmask, dst = c.regs[d.fa] & m, src = c.regs[d.fb] & m;
        c.regs[d.fa] = (dst - src) & m;
        c.setLazy(LF_SUB, d.opSize, dst, src, dst - src);
    }

    static void xorRR(CpuExec c, Insn d) {
        long m = d.fmask, dst = c.regs[d.fa] & m, src = c.regs[d.fb] & m;
        c.regs[d.fa] = dst ^ src;
        c.setLazy(LF_LOGIC, d.opSize, dst, src, dst ^ src);
    }

    static void cmpRR(CpuExec c, Insn d) {
        long m = d.fmask, dst = c.regs[d.fa] & m, src = c.regs[d.fb] & m;
        c.setLazy(LF_SUB, d.opSize, dst, src, dst - src);
    }

    static void testRR(CpuExec c, Insn d) {
        long m = d.fmask, dst = c.regs[d.fa] & m, src = c.regs[d.fb] & m;
        c.setLazy(LF_LOGIC, d.opSize, dst, src, dst & src);
    }

    static void addRI(CpuExec c, Insn d) {
        long m = d.fmask, dst = c.regs[d.fa] & m, src = d.fimm;
        c.regs[d.fa] = (dst + src) & m;
        c.setLazy(LF_ADD, d.opSize, dst, src, dst + src);
    }

    static void orRI(CpuExec c, Insn d) {
        long m = d.fmask, dst = c.regs[d.fa] & m, src = d.fimm;
        c.regs[d.fa] = dst | src;
        c.setLazy(LF_LOGIC, d.opSize, dst, src, dst | src);
    }

    static void andRI(CpuExec c, Insn d) {
        long m = d.fmask, dst = c.regs[d.fa] & m, src = d.fimm;
        c.regs[d.fa] = dst & src;
        c.setLazy(LF_LOGIC, d.opSize, dst, src, dst & src);
    }

    static void subRI(CpuExec c, Insn d) {
        long m = d.fmask, dst = c.regs[d.fa] & m, src = d.fimm;
        c.regs[d.fa] = (dst - src) & m;
        c.setLazy(LF_SUB, d.opSize, dst, src, dst - src);
    }

    static void xorRI(CpuExec c, Insn d) {
        long m = d.fmask, dst = c.regs[d.fa] & m, src = d.fimm;
        c.regs[d.fa] = dst ^ src;
        c.setLazy(LF_LOGIC, d.opSize, dst, src, dst ^ src);
    }

    static void cmpRI(CpuExec c, Insn d) {
        long m = d.fmask, dst = c.regs[d.fa] & m, src = d.fimm;
        c.setLazy(LF_SUB, d.opSize, dst, src, dst - src);
    }

    static void testRI(CpuExec c, Insn d) {
        long m = d.fmask, dst = c.regs[d.fa] & m, src = d.fimm;
        c.setLazy(LF_LOGIC, d.opSize, dst, src, dst & src);
    }

    static void addRM(CpuExec c, Insn d) {
        int size = d.opSize;
        long src = c.readLin(c.flatAddr(d, size, false), size), m = d.fmask, dst = c.regs[d.fa] & m;
        c.regs[d.fa] = (dst + src) & m;
        c.setLazy(LF_ADD, size, dst, src, dst + src);
    }

    static void orRM(CpuExec c, Insn d) {
        int size = d.opSize;
        long src = c.readLin(c.flatAddr(d, size, false), size), dst = c.regs[d.fa] & d.fmask;
        c.regs[d.fa] = dst | src;
        c.setLazy(LF_LOGIC, size, dst, src, dst | src);
    }

    static void andRM(CpuExec c, Insn d) {
        int size = d.opSize;
        long src = c.readLin(c.flatAddr(d, size, false), size), dst = c.regs[d.fa] & d.fmask;
        c.regs[d.fa] = dst & src;
        c.setLazy(LF_LOGIC, size, dst, src, dst & src);
    }

    static void subRM(CpuExec c, Insn d) {
        int size = d.opSize;
        long src = c.readLin(c.flatAddr(d, size, false), size), m = d.fmask, dst = c.regs[d.fa] & m;
        c.regs[d.fa] = (dst - src) & m;
        c.setLazy(LF_SUB, size, dst, src, dst - src);
    }

    static void xorRM(CpuExec c, Insn d) {
        int size = d.opSize;
        long src = c.readLin(c.flatAddr(d, size, false), size), dst = c.regs[d.fa] & d.fmask;
        c.regs[d.fa] = dst ^ src;
        c.setLazy(LF_LOGIC, size, dst, src, dst ^ src);
    }

    static void cmpRM(CpuExec c, Insn d) {
        int size = d.opSize;
        long src = c.readLin(c.flatAddr(d, size, false), size), dst = c.regs[d.fa] & d.fmask;
        c.setLazy(LF_SUB, size, dst, src, dst - src);
    }

    static void cmpMI(CpuExec c, Insn d) {
        int size = d.opSize;
        long dst = c.readLin(c.flatAddr(d, size, false), size), src = d.fimm;
        c.setLazy(LF_SUB, size, dst, src, dst - src);
    }

    static void cmpMR(CpuExec c, Insn d) {
        int size = d.opSize;
        long dst = c.readLin(c.flatAddr(d, size, false), size), src = c.regs[d.fb] & d.fmask;
        c.setLazy(LF_SUB, size, dst, src, dst - src);
    }

    // ---- the family forms: any operand size, register or memory, LOCK ----

    static void aluEg(CpuExec c, Insn d) {
        int size = d.opSize;
        if (d.sub == 7) {
            c.alu(7, size, c.readE(d, size), c.readG(d, size), false);
        } else {
            c.rmw(d, d.sub, c.readG(d, size));
        }
    }

    static void aluGe(CpuExec c, Insn d) {
        int size = d.opSize;
        long src = c.readE(d, size);
        long r = c.alu(d.sub, size, c.readG(d, size), src, c.cf());
        if (d.sub != 7) {
            c.writeG(d, size, r);
        }
    }

    static void aluEi(CpuExec c, Insn d) {
        int size = d.opSize;
        if (d.sub == 7) {
            c.alu(7, size, c.readE(d, size), d.imm & mask(size), false);
        } else {
            c.rmw(d, d.sub, d.imm & mask(size));
        }
    }

    static void testEg(CpuExec c, Insn d) {
        int size = d.opSize;
        c.alu(4, size, c.readE(d, size), c.readG(d, size), false);
    }

    static void testEi(CpuExec c, Insn d) {
        int size = d.opSize;
        c.alu(4, size, c.readE(d, size), d.imm & mask(size), false);
    }

    static void inc(CpuExec c, Insn d) {
        c.rmw(d, CpuExec.K_INC, 0);
    }

    static void dec(CpuExec c, Insn d) {
        c.rmw(d, CpuExec.K_DEC, 0);
    }

    static void not(CpuExec c, Insn d) {
        c.rmw(d, CpuExec.K_NOT, 0);
    }

    static void neg(CpuExec c, Insn d) {
        c.rmw(d, CpuExec.K_NEG, 0);
    }

    static void mul(CpuExec c, Insn d) {
        mul(c, d, false);
    }

    static void imul1(CpuExec c, Insn d) {
        mul(c, d, true);
    }

    static void div(CpuExec c, Insn d) {
        div(c, d, false);
    }

    static void idiv(CpuExec c, Insn d) {
        div(c, d, true);
    }

    static void imulGei(CpuExec c, Insn d) {
        int size = d.opSize;
        c.writeG(d, size, imul2(c, size, c.readE(d, size), d.imm));
    }

    static void imulGe(CpuExec c, Insn d) {
        int size = d.opSize;
        c.writeG(d, size, imul2(c, size, c.readG(d, size), c.readE(d, size)));
    }

    static void shiftI(CpuExec c, Insn d) {
        shift(c, d, (int) d.imm);
    }

    static void shiftCl(CpuExec c, Insn d) {
        shift(c, d, (int) c.regs[RCX] & 0xff);
    }

    static void shldI(CpuExec c, Insn d) {
        shiftDouble(c, d, (int) d.imm, true);
    }

    static void shldCl(CpuExec c, Insn d) {
        shiftDouble(c, d, (int) c.regs[RCX] & 0xff, true);
    }

    static void shrdI(CpuExec c, Insn d) {
        shiftDouble(c, d, (int) d.imm, false);
    }

    static void shrdCl(CpuExec c, Insn d) {
        shiftDouble(c, d, (int) c.regs[RCX] & 0xff, false);
    }

    static void btEg(CpuExec c, Insn d) {
        bitTest(c, d, c.readG(d, d.opSize), true);
    }

    static void btEi(CpuExec c, Insn d) {
        bitTest(c, d, d.imm, false);
    }






    // BSF/BSR (source 0: ZF=1, destination unchanged as Intel and AMD do), TZCNT/LZCNT (CF, ZF),
    // POPCNT (flags cleared but ZF). Flags the SDM leaves undefined keep their values.

    static void bsf(CpuExec c, Insn d) {
        long v = c.readE(d, d.opSize);
        if (v == 0) {
            c.setArith(c.rflags() | ZF);
        } else {
            long fl = c.rflags();
            c.writeG(d, d.opSize, Long.numberOfTrailingZeros(v));
            c.setArith(fl & ~ZF);
        }
    }

    static void bsr(CpuExec c, Insn d) {
        long v = c.readE(d, d.opSize);
        if (v == 0) {
            c.setArith(c.rflags() | ZF);
        } else {
            long fl = c.rflags();
            c.writeG(d, d.opSize, 63 - Long.numberOfLeadingZeros(v));
            c.setArith(fl & ~ZF);
        }
    }

    static void tzcnt(CpuExec c, Insn d) {
        int bits = d.opSize * 8;
        long v = c.readE(d, d.opSize);
        long fl = c.rflags();
        int n = v == 0 ? bits : Long.numberOfTrailingZeros(v);
        c.writeG(d, d.opSize, n);
        c.setArith((fl & ~(CF | ZF)) | (v == 0 ? CF : 0) | (n == 0 ? ZF : 0));
    }

    static void lzcnt(CpuExec c, Insn d) {
        int bits = d.opSize * 8;
        long v = c.readE(d, d.opSize);
        long fl = c.rflags();
        int n = Long.numberOfLeadingZeros(v) - (64 - bits);
        c.writeG(d, d.opSize, n);
        c.setArith((fl & ~(CF | ZF)) | (v == 0 ? CF : 0) | (n == 0 ? ZF : 0));
    }

    static void popcnt(CpuExec c, Insn d) {
        long v = c.readE(d, d.opSize);
        c.writeG(d, d.opSize, Long.bitCount(v));
        c.setArith(v == 0 ? ZF : 0);
    }

    static void cbw(CpuExec c, Insn d) {
        long[] regs = c.regs;
        switch (d.opSize) {
            case 2: c.setReg(2, RAX, (byte) regs[RAX]); break;
            case 4: c.setReg(4, RAX, (short) regs[RAX]); break;
            default: regs[RAX] = (int) regs[RAX];
        }
    }

    static void cwd(CpuExec c, Insn d) {
        int size = d.opSize;
        c.setReg(size, RDX, sext(c.regs[RAX], size) < 0 ? -1 : 0);
    }

    static void setcc(CpuExec c, Insn d) {
        c.writeE(d, 1, c.cond(d.sub) ? 1 : 0);
    }

    static void cmovcc(CpuExec c, Insn d) {
        int size = d.opSize;
        long v = c.readE(d, size);
        if (c.cond(d.sub)) {
            c.writeG(d, size, v);
        } else if (size == 4) {
            c.writeG(d, 4, c.readG(d, 4)); // a 32-bit CMOV zero-extends even when false
        }
    }

    static void clc(CpuExec c, Insn d) {
        c.setArith(c.rflags() & ~CF);
    }

    static void stc(CpuExec c, Insn d) {
        c.setArith(c.rflags() | CF);
    }

    static void cmc(CpuExec c, Insn d) {
        c.setArith(c.rflags() ^ CF);
    }

    static void cld(CpuExec c, Insn d) {
        c.flags &= ~DF;
    }

    static void std(CpuExec c, Insn d) {
        c.flags |= DF;
    }

    static void lahf(CpuExec c, Insn d) {
        c.setReg(1, 16 + RAX, (c.rflags() & 0xd5) | 2);
    }

    static void sahf(CpuExec c, Insn d) {
        c.setArith((c.rflags() & ~0xd5L) | ((c.regs[RAX] >>> 8) & 0xd5));
    }

    static void bcd(CpuExec c, Insn d) {
        decimalAdjust(c, d.sub, (int) d.imm & 0xff);
    }

    // ---- the cores these handlers share ----

    /** Unsigned high 64 bits of a 64x64 product (JDK 17 lacks Math.unsignedMultiplyHigh). */
    static long unsignedMultiplyHigh(long a, long b) {
        return Math.multiplyHigh(a, b) + ((a >> 63) & b) + ((b >> 63) & a);
    }

    /** MUL/IMUL r/m: CF=OF as the SDM says; SF, ZF, PF follow the low half, AF=0 (undefined). */
    static void mul(CpuExec c, Insn d, boolean signed) {
        int size = d.opSize;
        long src = c.readE(d, size);
        long lo, hi;
        boolean overflow;
        if (size == 8) {
            long a = c.regs[RAX];
            lo = a * src;
            hi = signed ? Math.multiplyHigh(a, src) : unsignedMultiplyHigh(a, src);
            overflow = signed ? hi != (lo >> 63) : hi != 0;
            c.regs[RAX] = lo;
            c.regs[RDX] = hi;
        } else {
            int bits = size * 8;
            long a = c.getReg(size, RAX);
            long p = signed ? sext(a, size) * sext(src, size) : a * src;
            lo = p & mask(size);
            hi = (p >> bits) & mask(size);
            overflow = signed ? p != sext(p, size) : hi != 0;
            if (size == 1) {
                c.setReg(2, RAX, p);
            } else {
                c.setReg(size, RAX, lo);
                c.setReg(size, RDX, hi);
            }
        }
        long f = (overflow ? CF | OF : 0) | PARITY[(int) lo & 0xff] | ((lo & mask(size)) == 0 ? ZF : 0)
                | ((lo & signBit(size)) != 0 ? SF : 0);
        c.setArith(f);
    }

    static long imul2(CpuExec c, int size, long a, long b) {
        long p, lo;
        boolean overflow;
        if (size == 8) {
            lo = a * b;
            overflow = Math.multiplyHigh(a, b) != (lo >> 63);
        } else {
            p = sext(a, size) * sext(b, size);
            lo = p & mask(size);
            overflow = p != sext(p, size);
        }
        c.setArith((overflow ? CF | OF : 0) | PARITY[(int) lo & 0xff] | ((lo & mask(size)) == 0 ? ZF : 0)
                | ((lo & signBit(size)) != 0 ? SF : 0));
        return lo;
    }

    /**
     * The BCD adjustments and SALC, following the SDM pseudocode of each instruction. Where the
     * SDM leaves SF/ZF/PF undefined (AAA, AAS) they follow AL, and an undefined OF is 0.
     */
    static void decimalAdjust(CpuExec c, int opcode, int imm) {
        long fl = c.rflags();
        boolean cf = (fl & CF) != 0;
        boolean af = (fl & AF) != 0;
        int al = (int) c.regs[RAX] & 0xff;
        int ah = (int) (c.regs[RAX] >>> 8) & 0xff;
        switch (opcode) {
            case 0x27: case 0x2f: { // DAA, DAS
                boolean sub = opcode == 0x2f;
                int oldAl = al;
                boolean newCf = false;
                if ((al & 0xf) > 9 || af) {
                    int t = sub ? al - 6 : al + 6;
                    newCf = cf || t < 0 || t > 0xff;
                    al = t & 0xff;
                    af = true;
                } else {
                    af = false;
                }
                if (oldAl > 0x99 || cf) {
                    al = (sub ? al - 0x60 : al + 0x60) & 0xff;
                    newCf = true;
                } else if (!sub) {
                    newCf = false; // DAA clears CF here; DAS keeps the borrow of the first step
                }
                cf = newCf;
                setAl(c, al);
                break;
            }
            case 0x37: case 0x3f: { // AAA, AAS
                int ax = (int) c.regs[RAX] & 0xffff;
                if ((al & 0xf) > 9 || af) {
                    // current SDM: AAA adds 0x106 to AX; AAS subtracts 6 from AX, then 1 from AH
                    ax = opcode == 0x37 ? ax + 0x106 : (ax - 6 - 0x100) & 0xffff;
                    af = true;
                    cf = true;
                } else {
                    af = false;
                    cf = false;
                }
                ax = (ax & 0xff00) | (ax & 0xf);
                c.regs[RAX] = (c.regs[RAX] & ~0xffffL) | (ax & 0xffff);
                al = ax & 0xff;
                break;
            }
            case 0xd4: // AAM
                if (imm == 0) {
                    throw divideError(c);
                }
                ah = al / imm;
                al = al % imm;
                c.regs[RAX] = (c.regs[RAX] & ~0xffffL) | ((long) ah << 8) | al;
                cf = false;
                af = false;
                break;
            case 0xd5: // AAD
                al = (al + ah * imm) & 0xff;
                c.regs[RAX] = (c.regs[RAX] & ~0xffffL) | al;
                cf = false;
                af = false;
                break;
            default: // 0xd6 SALC: flags unchanged
                setAl(c, cf ? 0xff : 0);
                return;
        }
        c.setArith((cf ? CF : 0) | (af ? AF : 0) | PARITY[al] | (al == 0 ? ZF : 0) | ((al & 0x80) != 0 ? SF : 0));
    }

    static void setAl(CpuExec c, int al) {
        c.regs[RAX] = (c.regs[RAX] & ~0xffL) | (al & 0xff);
    }

    static CpuFault divideError(CpuExec c) {
        return c.fault(CpuFault.DE, CpuFault.NO_ERROR_CODE);
    }

    /** DIV/IDIV; #DE on a zero divisor or a quotient that does not fit. Flags are left unchanged (undefined). */
    static void div(CpuExec c, Insn d, boolean signed) {
        int size = d.opSize;
        long divisor = c.readE(d, size);
        if (divisor == 0) {
            throw divideError(c);
        }
        if (size == 8) {
            div128(c, c.regs[RDX], c.regs[RAX], divisor, signed);
            return;
        }
        int bits = size * 8;
        long dividend = size == 1 ? c.regs[RAX] & 0xffff
                : (c.getReg(size, RDX) << bits) | c.getReg(size, RAX);
        long q, r;
        if (signed) {
            long n = size == 1 ? (short) dividend : size == 2 ? (int) dividend : dividend;
            long dv = sext(divisor, size);
            q = n / dv;
            r = n % dv;
            if (q != sext(q, size)) {
                throw divideError(c);
            }
        } else {
            q = Long.divideUnsigned(dividend, divisor);
            r = Long.remainderUnsigned(dividend, divisor);
            if ((q & ~mask(size)) != 0) {
                throw divideError(c);
            }
        }
        if (size == 1) {
            c.setReg(2, RAX, (q & 0xff) | ((r & 0xff) << 8));
        } else {
            c.setReg(size, RAX, q);
            c.setReg(size, RDX, r);
        }
    }

    static void div128(CpuExec c, long hi, long lo, long divisor, boolean signed) {
        // Fast path: a dividend that fits in 64 bits (RDX zero, or RAX's sign for IDIV) is the
        // common case in compiled code; the host divides it in one instruction.
        if (!signed && hi == 0) {
            c.regs[RAX] = Long.divideUnsigned(lo, divisor);
            c.regs[RDX] = Long.remainderUnsigned(lo, divisor);
            return;
        }
        if (signed && hi == lo >> 63) {
            if (lo == Long.MIN_VALUE && divisor == -1) {
                throw divideError(c);
            }
            c.regs[RAX] = lo / divisor;
            c.regs[RDX] = lo % divisor;
            return;
        }
        boolean negQ = false, negR = false;
        if (signed) {
            negR = hi < 0;
            negQ = negR != (divisor < 0);
            if (hi < 0) {
                lo = -lo;
                hi = ~hi + (lo == 0 ? 1 : 0);
            }
            if (divisor < 0) {
                divisor = -divisor;
            }
        }
        if (Long.compareUnsigned(hi, divisor) >= 0) {
            throw divideError(c);
        }
        long q = 0, r = hi;
        for (int i = 63; i >= 0; i--) {
            boolean carry = r < 0;
            r = (r << 1) | ((lo >>> i) & 1);
            q <<= 1;
            if (carry || Long.compareUnsigned(r, divisor) >= 0) {
                r -= divisor;
                q |= 1;
            }
        }
        if (signed) {
            if (negQ ? Long.compareUnsigned(q, Long.MIN_VALUE) > 0 : q < 0) {
                throw divideError(c);
            }
            q = negQ ? -q : q;
            r = negR ? -r : r;
        }
        c.regs[RAX] = q;
        c.regs[RDX] = r;
    }

    /**
     * ROL ROR RCL RCR SHL SHR SAL SAR. The count is masked to 5 bits (6 with 64-bit operands);
     * a zero count changes nothing. For counts above 1, OF (undefined) follows the 1-bit rule on
     * the final values and AF (undefined) is 0, as on Intel hosts.
     */
    static void shift(CpuExec c, Insn d, int count) {
        int size = d.opSize;
        int bits = size * 8;
        count &= size == 8 ? 63 : 31;
        if (count == 0) {
            // Flags stay; a 32-bit register destination is still written (zero-extended).
            c.writeE(d, size, c.readE(d, size));
            return;
        }
        long m = mask(size), sb = signBit(size);
        long lin = 0;
        long v;
        if (d.mem) {
            lin = c.addr(d, size, true);
            v = c.readLin(lin, size);
        } else {
            v = c.readE(d, size);
        }
        if (d.sub >= 4 || d.sub <= 1) {
            if (d.mem) {
                c.probeWrite(lin, size); // shiftValue sets the flags: the store must not fault after it
            }
            long r = shiftValue(c, v, d.sub, count, size);
            if (d.mem) {
                c.writeLin(lin, size, r);
            } else {
                c.writeE(d, size, r);
            }
            return;
        }
        long fl = c.rflags();
        long r;
        boolean carry;
        boolean o;
        switch (d.sub) {
            case 2: { // RCL
                int n = size < 4 ? count % (bits + 1) : count;
                carry = (fl & CF) != 0;
                r = v;
                for (int i = 0; i < n; i++) {
                    boolean out = (r & sb) != 0;
                    r = ((r << 1) | (carry ? 1 : 0)) & m;
                    carry = out;
                }
                o = ((r & sb) != 0) != carry;
                fl = (fl & ~(CF | OF)) | (carry ? CF : 0) | (o ? OF : 0);
                break;
            }
            default: { // RCR
                int n = size < 4 ? count % (bits + 1) : count;
                carry = (fl & CF) != 0;
                r = v;
                for (int i = 0; i < n; i++) {
                    boolean out = (r & 1) != 0;
                    r = (r >>> 1) | (carry ? sb : 0);
                    carry = out;
                }
                o = ((r & sb) != 0) != ((r & (sb >>> 1)) != 0);
                fl = (fl & ~(CF | OF)) | (carry ? CF : 0) | (o ? OF : 0);
                break;
            }
        }
        if (d.mem) {
            c.writeLin(lin, size, r);
        } else {
            c.writeE(d, size, r);
        }
        c.loadFlags(fl);
    }

    /**
     * ROL (kind 0), ROR (1), SHL/SAL (4, 6), SHR (5) or SAR (7) of {@code v} (under the
     * operand mask) by a count already masked to 5 bits (6 with 64-bit operands), setting the
     * flags. Shifts: SF, ZF, PF from the result, CF the last bit out (0 once the count passes a
     * byte or word operand's width), OF the 1-bit rule, AF 0. Rotates: CF the bit rotated into
     * the end, OF the 1-bit rule, the other flags kept. A zero count returns {@code v} and
     * keeps the flags. The interpreter ({@link #shift}) and compiled blocks both shift here.
     */
    static long shiftValue(CpuExec c, long v, int kind, int count, int size) {
        if (count == 0) {
            return v;
        }
        long m = mask(size);
        long r;
        if (kind <= 1) {
            int bits = size * 8;
            long sb = signBit(size);
            boolean carry;
            boolean o;
            int n = count % bits;
            if (kind == 0) {
                r = n == 0 ? v : ((v << n) | (v >>> (bits - n))) & m;
                carry = (r & 1) != 0;
                o = ((r & sb) != 0) != carry;
            } else {
                r = n == 0 ? v : ((v >>> n) | (v << (bits - n))) & m;
                carry = (r & sb) != 0;
                o = carry != ((r & (sb >>> 1)) != 0);
            }
            c.loadFlags((c.rflags() & ~(CF | OF)) | (carry ? CF : 0) | (o ? OF : 0));
            return r;
        }
        // The flags stay lazy: CpuState.lazyArith works out CF and OF from the operand and count.
        v &= m;
        if (kind == 5) {
            r = v >>> count;
            c.setLazy(LF_SHR, size, v, count, r);
        } else if (kind == 7) {
            r = (sext(v, size) >> count) & m;
            c.setLazy(LF_SAR, size, v, count, r);
        } else {
            r = (v << count) & m;
            c.setLazy(LF_SHL, size, v, count, r);
        }
        return r;
    }

    /** SF, ZF, PF from a result; CF, OF, AF cleared for the caller to set. */
    static long resultFlags(long fl, long r, int size) {
        return (fl & ~ARITH) | PARITY[(int) r & 0xff] | ((r & mask(size)) == 0 ? ZF : 0)
                | ((r & signBit(size)) != 0 ? SF : 0);
    }

    /** SHLD/SHRD; counts above the operand width (16-bit) give undefined results: we shift as 32-bit. */
    static void shiftDouble(CpuExec c, Insn d, int count, boolean left) {
        int size = d.opSize;
        int bits = size * 8;
        count &= size == 8 ? 63 : 31;
        if (count == 0) {
            c.writeE(d, size, c.readE(d, size));
            return;
        }
        long m = mask(size), sb = signBit(size);
        long lin = 0;
        long v = d.mem ? c.readLin(lin = c.addr(d, size, true), size) : c.readE(d, size);
        long src = c.readG(d, size);
        long r;
        boolean carry;
        if (count > bits) { // only 16-bit operands get here
            count -= bits;
            long t = v;
            v = src;
            src = t;
        }
        if (left) {
            r = count == bits ? src : ((v << count) | (src >>> (bits - count))) & m;
            carry = ((v >>> (bits - count)) & 1) != 0;
        } else {
            r = count == bits ? src : ((v >>> count) | (src << (bits - count))) & m;
            carry = ((v >>> (count - 1)) & 1) != 0;
        }
        boolean o = ((r ^ v) & sb) != 0;
        long fl = resultFlags(c.rflags(), r, size) | (carry ? CF : 0) | (o ? OF : 0);
        if (d.mem) {
            c.writeLin(lin, size, r);
        } else {
            c.writeE(d, size, r);
        }
        c.loadFlags(fl);
    }

    /** BT/BTS/BTR/BTC; a register bit offset into memory moves the address (bit-string form). */
    static void bitTest(CpuExec c, Insn d, long offset, boolean fromRegister) {
        int size = d.opSize;
        int bits = size * 8;
        int kind = d.sub;
        if (!d.mem) {
            long bit = 1L << (offset & (bits - 1));
            if (kind == 0) {
                c.setArith((c.rflags() & ~CF) | ((c.getReg(size, d.rm) & bit) != 0 ? CF : 0));
            } else {
                c.rmw(d, K_BTS + kind - 1, bit);
            }
            return;
        }
        long e = c.ea(d);
        if (fromRegister) {
            long off = sext(offset, size);
            e = (e + (off >> (size == 8 ? 6 : size == 4 ? 5 : 4)) * size) & c.addrMask(d);
        }
        long bit = 1L << (offset & (bits - 1));
        if (kind == 0) {
            long v = c.readLin(c.linear(d.seg, e, size, false), size);
            c.setArith((c.rflags() & ~CF) | ((v & bit) != 0 ? CF : 0));
        } else {
            c.rmwAt(c.linear(d.seg, e, size, true), size, K_BTS + kind - 1, bit, d.lock);
        }
    }

}

package org.tscvm.cpu;

import static org.tscvm.cpu.X87Float.BIAS;
import static org.tscvm.cpu.X87Float.C0;
import static org.tscvm.cpu.X87Float.C1;
import static org.tscvm.cpu.X87Float.C2;
import static org.tscvm.cpu.X87Float.C3;
import static org.tscvm.cpu.X87Float.DE;
import static org.tscvm.cpu.X87Float.DENORMAL;
import static org.tscvm.cpu.X87Float.EMAX_X;
import static org.tscvm.cpu.X87Float.EMIN_X;
import static org.tscvm.cpu.X87Float.IE;
import static org.tscvm.cpu.X87Float.INDEF_SE;
import static org.tscvm.cpu.X87Float.INDEF_SIG;
import static org.tscvm.cpu.X87Float.INF;
import static org.tscvm.cpu.X87Float.INT_BIT;
import static org.tscvm.cpu.X87Float.P64;
import static org.tscvm.cpu.X87Float.SIGN;
import static org.tscvm.cpu.X87Float.UNSUPPORTED;
import static org.tscvm.cpu.X87Float.ZE;
import static org.tscvm.cpu.X87Float.ZERO;

/**
 * x87 arithmetic and compares: FADD/FMUL/FSUB(R)/FDIV(R) in every operand form, FCOM/FUCOM/
 * FICOM/FCOMI/FTST/FXAM, FCHS/FABS/FSQRT/FSCALE/FXTRACT/FPREM/FPREM1/FRNDINT. One static
 * handler per form; the computing is {@link X87Float}'s.
 */
final class X87Arith {
    private X87Arith() {
    }

    /** Arithmetic kinds in {@link Insn#sub}: 0 add, 1 mul, 4 sub (dst - src), 5 subr, 6 div (dst / src), 7 divr. */
    private static void compute(CpuExec c, int kind, long aSig, int aSe, long bSig, int bSe) {
        X87Float f = c.fpu;
        f.cw = c.fpuControl;
        int prec = X87Float.precision(f.cw);
        switch (kind) {
            case 0: f.add(aSig, aSe, bSig, bSe, false, prec); break;
            case 1: f.mul(aSig, aSe, bSig, bSe, prec); break;
            case 4: f.add(aSig, aSe, bSig, bSe, true, prec); break;
            case 5: f.add(bSig, bSe, aSig, aSe, true, prec); break;
            case 6: f.div(aSig, aSe, bSig, bSe, prec); break;
            default: f.div(bSig, bSe, aSig, aSe, prec); break;
        }
    }

    /** ST(dst) = ST(dst) op source (the source converted into c.fpu, a denormal source flagged). */
    private static void withMemorySource(CpuExec c, Insn d, boolean denormalSource) {
        X87Float f = c.fpu;
        long bSig = f.sig;
        int bSe = f.se;
        if (X87.empty(c, 0)) {
            if (X87.underflow(c)) {
                X87.write(c, 0, INDEF_SIG, INDEF_SE);
            }
            return;
        }
        long aSig = X87.sig(c, 0);
        int aSe = X87.se(c, 0);
        compute(c, d.sub, aSig, aSe, bSig, bSe);
        // The conversion normalized a denormal source: its DE, unless a NaN operand decided the result.
        if (denormalSource && (f.flags & (IE | ZE)) == 0 && !X87Float.isNan(X87Float.classify(aSig, aSe))) {
            f.flags |= DE;
        }
        if (X87.report(c, f.flags)) {
            X87.write(c, 0, f.sig, f.se);
        }
    }

    static void farithM32(CpuExec c, Insn d) {
        X87.begin(c, d);
        boolean den = X87.fromSingle(c.fpu, (int) c.readLin(c.addr(d, 4, false), 4));
        withMemorySource(c, d, den);
    }

    static void farithM64(CpuExec c, Insn d) {
        X87.begin(c, d);
        boolean den = X87.fromDouble(c.fpu, c.readLin(c.addr(d, 8, false), 8));
        withMemorySource(c, d, den);
    }

    static void fiarithM16(CpuExec c, Insn d) {
        X87.begin(c, d);
        c.fpu.fromLong((short) c.readLin(c.addr(d, 2, false), 2));
        withMemorySource(c, d, false);
    }

    static void fiarithM32(CpuExec c, Insn d) {
        X87.begin(c, d);
        c.fpu.fromLong((int) c.readLin(c.addr(d, 4, false), 4));
        withMemorySource(c, d, false);
    }

    /** ST(dst) = ST(dst) op ST(src), popping once when {@code pop}. */
    private static void registers(CpuExec c, int kind, int dst, int src, boolean pop) {
        if (X87.empty(c, dst) || X87.empty(c, src)) {
            if (X87.underflow(c)) {
                X87.write(c, dst, INDEF_SIG, INDEF_SE);
                if (pop) {
                    X87.pop(c);
                }
            }
            return;
        }
        compute(c, kind, X87.sig(c, dst), X87.se(c, dst), X87.sig(c, src), X87.se(c, src));
        X87Float f = c.fpu;
        if (X87.report(c, f.flags)) {
            X87.write(c, dst, f.sig, f.se);
            if (pop) {
                X87.pop(c);
            }
        }
    }

    static void farithSt0Sti(CpuExec c, Insn d) {
        X87.begin(c, d);
        registers(c, d.sub, 0, d.rm & 7, false);
    }

    static void farithStiSt0(CpuExec c, Insn d) {
        X87.begin(c, d);
        registers(c, d.sub, d.rm & 7, 0, false);
    }

    static void farithp(CpuExec c, Insn d) {
        X87.begin(c, d);
        registers(c, d.sub, d.rm & 7, 0, true);
    }

    // ---- compares ----

    /** C3 C2 C0 for greater, less, equal, unordered (SDM FCOM table). */
    private static final int[] CC = {0, C0, C3, C3 | C2 | C0};

    /** Compares ST(0) with b; sets C3 C2 C0 (C1 = 0) and pops {@code pops} times unless an unmasked IE stops it. */
    private static void compareSt0(CpuExec c, long bSig, int bSe, boolean bEmpty, boolean unordered, int extra, int pops) {
        int result;
        int flags;
        if (X87.empty(c, 0) || bEmpty) {
            result = 3;
            flags = IE | X87Float.SF;
        } else {
            X87Float f = c.fpu;
            result = f.compare(X87.sig(c, 0), X87.se(c, 0), bSig, bSe, !unordered);
            flags = f.flags;
            if ((flags & IE) == 0) {
                flags |= extra;
            }
        }
        // The condition codes are set even when an unmasked exception stops the pop (as the AMD host does).
        boolean delivered = X87.report(c, flags);
        c.fpuStatus = (c.fpuStatus & ~(C3 | C2 | C0)) | CC[result];
        if (!delivered) {
            return;
        }
        for (int i = 0; i < pops; i++) {
            X87.pop(c);
        }
    }

    static void fcomM32(CpuExec c, Insn d) {
        X87.begin(c, d);
        boolean den = X87.fromSingle(c.fpu, (int) c.readLin(c.addr(d, 4, false), 4));
        compareSt0(c, c.fpu.sig, c.fpu.se, false, false, den ? DE : 0, d.sub);
    }

    static void fcomM64(CpuExec c, Insn d) {
        X87.begin(c, d);
        boolean den = X87.fromDouble(c.fpu, c.readLin(c.addr(d, 8, false), 8));
        compareSt0(c, c.fpu.sig, c.fpu.se, false, false, den ? DE : 0, d.sub);
    }

    static void ficomM16(CpuExec c, Insn d) {
        X87.begin(c, d);
        c.fpu.fromLong((short) c.readLin(c.addr(d, 2, false), 2));
        compareSt0(c, c.fpu.sig, c.fpu.se, false, false, 0, d.sub);
    }

    static void ficomM32(CpuExec c, Insn d) {
        X87.begin(c, d);
        c.fpu.fromLong((int) c.readLin(c.addr(d, 4, false), 4));
        compareSt0(c, c.fpu.sig, c.fpu.se, false, false, 0, d.sub);
    }

    /** FCOM/FCOMP/FUCOM/FUCOMP ST(i): sub bit 0 pops, bit 1 is unordered. */
    static void fcomSti(CpuExec c, Insn d) {
        X87.begin(c, d);
        int i = d.rm & 7;
        compareSt0(c, X87.sig(c, i), X87.se(c, i), X87.empty(c, i), (d.sub & 2) != 0, 0, d.sub & 1);
    }

    /** FCOMPP (DE D9) and FUCOMPP (DA E9, sub 2). */
    static void fcompp(CpuExec c, Insn d) {
        X87.begin(c, d);
        compareSt0(c, X87.sig(c, 1), X87.se(c, 1), X87.empty(c, 1), (d.sub & 2) != 0, 0, 2);
    }

    /** FCOMI/FCOMIP/FUCOMI/FUCOMIP: ZF PF CF as C3 C2 C0, OF SF AF cleared; sub bit 0 pops, bit 1 unordered. */
    static void fcomi(CpuExec c, Insn d) {
        X87.begin(c, d);
        int i = d.rm & 7;
        int result;
        int flags;
        if (X87.empty(c, 0) || X87.empty(c, i)) {
            result = 3;
            flags = IE | X87Float.SF;
        } else {
            X87Float f = c.fpu;
            result = f.compare(X87.sig(c, 0), X87.se(c, 0), X87.sig(c, i), X87.se(c, i), (d.sub & 2) == 0);
            flags = f.flags;
        }
        boolean delivered = X87.report(c, flags);
        long arith;
        switch (result) {
            case 0: arith = 0; break;
            case 1: arith = CpuState.CF; break;
            case 2: arith = CpuState.ZF; break;
            default: arith = CpuState.ZF | CpuState.PF | CpuState.CF;
        }
        c.setArith(arith);
        if (delivered && (d.sub & 1) != 0) {
            X87.pop(c);
        }
    }

    static void ftst(CpuExec c, Insn d) {
        X87.begin(c, d);
        compareSt0(c, 0, 0, false, false, 0, 0);
    }

    /** FXAM: C3 C2 C0 give the class of ST(0) (empty included), C1 its sign; no exception. */
    static void fxam(CpuExec c, Insn d) {
        X87.begin(c, d);
        int p = X87.phys(c, 0);
        int se = c.fpuSe[p];
        int cc;
        if (X87.emptyPhys(c, p)) {
            cc = C3 | C0;
        } else {
            switch (X87Float.classify(c.fpuSig[p], se)) {
                case UNSUPPORTED: cc = 0; break;
                case X87Float.QNAN: case X87Float.SNAN: cc = C0; break;
                case X87Float.NORMAL: cc = C2; break;
                case INF: cc = C2 | C0; break;
                case ZERO: cc = C3; break;
                default: cc = C3 | C2; break;
            }
        }
        if ((se & SIGN) != 0) {
            cc |= C1;
        }
        c.fpuStatus = (c.fpuStatus & ~(C3 | C2 | C1 | C0)) | cc;
    }

    // ---- one-operand operations ----

    /** Runs a one-operand operation's result into ST(0); an empty ST(0) is a stack underflow. */
    private static boolean st0Present(CpuExec c) {
        if (X87.empty(c, 0)) {
            if (X87.underflow(c)) {
                X87.write(c, 0, INDEF_SIG, INDEF_SE);
            }
            return false;
        }
        return true;
    }

    static void fchs(CpuExec c, Insn d) {
        X87.begin(c, d);
        if (st0Present(c)) {
            X87.report(c, 0);
            X87.write(c, 0, X87.sig(c, 0), X87.se(c, 0) ^ SIGN);
        }
    }

    static void fabs(CpuExec c, Insn d) {
        X87.begin(c, d);
        if (st0Present(c)) {
            X87.report(c, 0);
            X87.write(c, 0, X87.sig(c, 0), X87.se(c, 0) & ~SIGN);
        }
    }

    static void fsqrt(CpuExec c, Insn d) {
        X87.begin(c, d);
        if (st0Present(c)) {
            X87Float f = c.fpu;
            f.cw = c.fpuControl;
            f.sqrt(X87.sig(c, 0), X87.se(c, 0), X87Float.precision(f.cw));
            if (X87.report(c, f.flags)) {
                X87.write(c, 0, f.sig, f.se);
            }
        }
    }

    static void frndint(CpuExec c, Insn d) {
        X87.begin(c, d);
        if (st0Present(c)) {
            X87Float f = c.fpu;
            f.cw = c.fpuControl;
            f.roundInt(X87.sig(c, 0), X87.se(c, 0), (f.cw >>> 10) & 3);
            if (X87.report(c, f.flags)) {
                X87.write(c, 0, f.sig, f.se);
            }
        }
    }

    /** Two register operands ST(0), ST(1) present, else the masked underflow result in ST(0). */
    private static boolean st01Present(CpuExec c) {
        if (X87.empty(c, 0) || X87.empty(c, 1)) {
            if (X87.underflow(c)) {
                X87.write(c, 0, INDEF_SIG, INDEF_SE);
            }
            return false;
        }
        return true;
    }

    static void fscale(CpuExec c, Insn d) {
        X87.begin(c, d);
        if (st01Present(c)) {
            X87Float f = c.fpu;
            f.cw = c.fpuControl;
            f.scale(X87.sig(c, 0), X87.se(c, 0), X87.sig(c, 1), X87.se(c, 1));
            if (X87.report(c, f.flags)) {
                X87.write(c, 0, f.sig, f.se);
            }
        }
    }

    /** FXTRACT: ST(0) becomes its exponent (a value), then its significand (exponent 0) is pushed. */
    static void fxtract(CpuExec c, Insn d) {
        X87.begin(c, d);
        if (X87.empty(c, 0)) {
            if (X87.underflow(c)) {
                X87.write(c, 0, INDEF_SIG, INDEF_SE);
                X87.push(c, INDEF_SIG, INDEF_SE);
            }
            return;
        }
        if (!X87.empty(c, 7)) {
            if (X87.overflow(c)) {
                X87.write(c, 0, INDEF_SIG, INDEF_SE);
                X87.push(c, INDEF_SIG, INDEF_SE);
            }
            return;
        }
        long s = X87.sig(c, 0);
        int se = X87.se(c, 0);
        X87Float f = c.fpu;
        int cls = X87Float.classify(s, se);
        long expSig, sigSig;
        int expSe, sigSe;
        int flags = 0;
        switch (cls) {
            case UNSUPPORTED:
                flags = IE;
                expSig = sigSig = INDEF_SIG;
                expSe = sigSe = INDEF_SE;
                break;
            case X87Float.QNAN: case X87Float.SNAN:
                flags = cls == X87Float.SNAN ? IE : 0;
                expSig = sigSig = s | X87Float.QUIET;
                expSe = sigSe = se;
                break;
            case INF:
                expSig = INT_BIT;
                expSe = 0x7fff;
                sigSig = s;
                sigSe = se;
                break;
            case ZERO:
                flags = ZE;
                expSig = INT_BIT;
                expSe = SIGN | 0x7fff;
                sigSig = 0;
                sigSe = se;
                break;
            default: {
                if (cls == DENORMAL) {
                    flags = DE;
                }
                int z = Long.numberOfLeadingZeros(s);
                int e = Math.max(se & 0x7fff, 1) - z;
                f.fromLong(e - BIAS);
                expSig = f.sig;
                expSe = f.se;
                sigSig = s << z;
                sigSe = (se & SIGN) | BIAS;
            }
        }
        if (X87.report(c, flags)) {
            X87.write(c, 0, expSig, expSe);
            X87.push(c, sigSig, sigSe);
        }
    }

    static void fprem(CpuExec c, Insn d) {
        X87.begin(c, d);
        remainder(c, false);
    }

    static void fprem1(CpuExec c, Insn d) {
        X87.begin(c, d);
        remainder(c, true);
    }

    /**
     * The partial remainder reduces the exponent difference by at least 32 per step: with a
     * difference D of 64 or more, the quotient is taken at 2^(D - N) with N = 32 + (D - 32) mod 32... see PARTIAL_N.
     */
    static int partialN(int dExp) {
        return 32 + ((dExp - 32) & 31);
    }

    /**
     * FPREM (truncating quotient) and FPREM1 (nearest): exact remainders. A complete remainder
     * (exponent difference below 64) clears C2 and puts the quotient's low bits in C0 C3 C1;
     * otherwise C2 = 1 and ST(0) is only partially reduced (SDM FPREM, FPREM1).
     */
    private static void remainder(CpuExec c, boolean nearest) {
        c.fpuStatus &= ~C2; // cleared whatever happens next, unmasked exceptions included (AMD host)
        if (!st01Present(c)) {
            return;
        }
        long aSig = X87.sig(c, 0), bSig = X87.sig(c, 1);
        int aSe = X87.se(c, 0), bSe = X87.se(c, 1);
        X87Float f = c.fpu;
        f.cw = c.fpuControl;
        f.flags = 0;
        int ca = X87Float.classify(aSig, aSe), cb = X87Float.classify(bSig, bSe);
        if (ca == UNSUPPORTED || cb == UNSUPPORTED || X87Float.isNan(ca) || X87Float.isNan(cb)) {
            f.add(aSig, aSe, bSig, bSe, false, P64); // the NaN rules of two operands
            if (X87.report(c, f.flags)) {
                X87.write(c, 0, f.sig, f.se);
                c.fpuStatus &= ~C2;
            }
            return;
        }
        if (ca == INF || cb == ZERO) {
            if (X87.report(c, IE)) {
                X87.write(c, 0, INDEF_SIG, INDEF_SE);
                c.fpuStatus &= ~C2;
            }
            return;
        }
        int flags = (ca == DENORMAL || cb == DENORMAL) ? DE : 0;
        if (ca == ZERO || cb == INF) {
            if (ca == DENORMAL) {
                // Unchanged, but as a result: a pseudo-denormal is normalized, and a denormal
                // under an unmasked UE is wrapped (as the AMD host does).
                int z = Long.numberOfLeadingZeros(aSig);
                f.roundPack((aSe & SIGN) != 0, 1 - z, aSig << z, 0, P64, EMIN_X, EMAX_X);
                flags |= f.flags & ~C1;
                aSig = f.sig;
                aSe = f.se;
            }
            if (X87.report(c, flags)) {
                c.fpuStatus &= ~(C0 | C1 | C2 | C3);
                X87.write(c, 0, aSig, aSe);
            }
            return;
        }
        int za = Long.numberOfLeadingZeros(aSig), zb = Long.numberOfLeadingZeros(bSig);
        long ma = aSig << za, mb = bSig << zb;
        int ea = Math.max(aSe & 0x7fff, 1) - za, eb = Math.max(bSe & 0x7fff, 1) - zb;
        int dExp = ea - eb;
        boolean neg = (aSe & SIGN) != 0;
        long r;
        int re;
        long q = 0;
        boolean partial = dExp >= 64;
        if (dExp < 0) {
            r = ma;
            re = ea;
            if (nearest && dExp == -1 && Long.compareUnsigned(ma, mb) > 0) {
                r = (mb << 1) - ma;
                re = ea;
                neg = !neg;
                q = 1;
            }
        } else {
            int steps = partial ? partialN(dExp) : dExp;
            r = ma;
            boolean carry = false;
            for (int i = 0; i <= steps; i++) {
                if (i > 0) {
                    carry = r < 0;
                    r <<= 1;
                }
                q <<= 1;
                if (carry || Long.compareUnsigned(r, mb) >= 0) {
                    r -= mb;
                    q |= 1;
                }
            }
            re = partial ? ea - steps : eb;
            if (nearest && !partial) {
                long half = mb - r; // 2r > mb  <=>  r > mb - r
                int cmp = Long.compareUnsigned(r, half);
                if (cmp > 0 || (cmp == 0 && (q & 1) != 0)) {
                    r = half;
                    neg = !neg;
                    q++;
                }
            }
        }
        int cc;
        if (partial) {
            cc = C2;
        } else {
            cc = ((q & 4) != 0 ? C0 : 0) | ((q & 2) != 0 ? C3 : 0) | ((q & 1) != 0 ? C1 : 0);
        }
        long rs;
        int rse;
        if (r == 0) {
            rs = 0;
            rse = aSe & SIGN;
        } else {
            int z = Long.numberOfLeadingZeros(r);
            f.flags = 0;
            f.roundPack(neg, re - z, r << z, 0, P64, EMIN_X, EMAX_X);
            flags |= f.flags & ~C1;
            rs = f.sig;
            rse = f.se;
        }
        if (X87.report(c, flags)) {
            c.fpuStatus = (c.fpuStatus & ~(C0 | C1 | C2 | C3)) | cc;
            X87.write(c, 0, rs, rse);
        }
    }
}

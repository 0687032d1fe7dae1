package org.tscvm.cpu;

import static org.tscvm.cpu.X87Float.C1;
import static org.tscvm.cpu.X87Float.DE;
import static org.tscvm.cpu.X87Float.EMAX_D;
import static org.tscvm.cpu.X87Float.EMAX_S;
import static org.tscvm.cpu.X87Float.EMIN_D;
import static org.tscvm.cpu.X87Float.EMIN_S;
import static org.tscvm.cpu.X87Float.IE;
import static org.tscvm.cpu.X87Float.INDEF_SE;
import static org.tscvm.cpu.X87Float.INDEF_SIG;
import static org.tscvm.cpu.X87Float.OE;
import static org.tscvm.cpu.X87Float.P24;
import static org.tscvm.cpu.X87Float.P53;
import static org.tscvm.cpu.X87Float.SNAN;
import static org.tscvm.cpu.X87Float.UE;

/**
 * x87 data movement: FLD/FILD/FBLD, FST(P)/FIST(P)/FISTTP/FBSTP, FXCH, FCMOVcc, FFREE(P),
 * FINCSTP/FDECSTP and the constants. One static handler per form.
 */
final class X87Move {
    private X87Move() {
    }

    // ---- loads ----

    /** Pushes a loaded value unless the push overflows (masked: the indefinite) or {@code flags} hold an unmasked IE/DE. */
    private static void pushLoaded(CpuExec c, long sig, int se, int flags) {
        if (!X87.empty(c, 7)) {
            if (X87.overflow(c)) {
                X87.push(c, INDEF_SIG, INDEF_SE);
            }
            return;
        }
        if (X87.report(c, flags)) {
            X87.push(c, sig, se);
        }
    }

    /** FLD m32fp/m64fp: a denormal source is DE, an SNaN is IE and loads quieted. */
    private static void pushConverted(CpuExec c, boolean denormal) {
        X87Float f = c.fpu;
        long s = f.sig;
        int e = f.se;
        int flags = denormal ? DE : 0;
        if (X87Float.classify(s, e) == SNAN) {
            flags |= IE;
            s |= X87Float.QUIET;
        }
        if (!X87.empty(c, 7)) {
            pushLoaded(c, s, e, 0);
            return;
        }
        // An unmasked DE does not stop the load (the AMD host loads the normalized value).
        X87.report(c, flags);
        if ((flags & ~c.fpuControl & IE) == 0) {
            X87.push(c, s, e);
        }
    }

    static void fldM32(CpuExec c, Insn d) {
        X87.begin(c, d);
        int bits = (int) c.readLin(c.addr(d, 4, false), 4);
        pushConverted(c, X87.fromSingle(c.fpu, bits));
    }

    static void fldM64(CpuExec c, Insn d) {
        X87.begin(c, d);
        long bits = c.readLin(c.addr(d, 8, false), 8);
        pushConverted(c, X87.fromDouble(c.fpu, bits));
    }

    static void fldM80(CpuExec c, Insn d) {
        X87.begin(c, d);
        long lin = c.addr(d, 10, false);
        long sig = c.readLin(lin, 8);
        int se = (int) c.readLin(lin + 8, 2);
        pushLoaded(c, sig, se, 0);
    }

    static void fldSti(CpuExec c, Insn d) {
        X87.begin(c, d);
        int i = d.rm & 7;
        long s;
        int e;
        if (X87.empty(c, i)) { // the underflow wins over an overflow (C1 = 0), as on the AMD host
            if (X87.underflow(c)) {
                X87.push(c, INDEF_SIG, INDEF_SE);
            }
            return;
        }
        s = X87.sig(c, i);
        e = X87.se(c, i);
        pushLoaded(c, s, e, 0);
    }

    private static void pushInteger(CpuExec c, long v) {
        c.fpu.fromLong(v);
        pushLoaded(c, c.fpu.sig, c.fpu.se, 0);
    }

    static void fildM16(CpuExec c, Insn d) {
        X87.begin(c, d);
        pushInteger(c, (short) c.readLin(c.addr(d, 2, false), 2));
    }

    static void fildM32(CpuExec c, Insn d) {
        X87.begin(c, d);
        pushInteger(c, (int) c.readLin(c.addr(d, 4, false), 4));
    }

    static void fildM64(CpuExec c, Insn d) {
        X87.begin(c, d);
        pushInteger(c, c.readLin(c.addr(d, 8, false), 8));
    }

    /** FBLD: 18 packed BCD digits and a sign byte; invalid digits give an undefined value (as weighed here). */
    static void fbld(CpuExec c, Insn d) {
        X87.begin(c, d);
        long lin = c.addr(d, 10, false);
        long low = c.readLin(lin, 8);
        int high = (int) c.readLin(lin + 8, 2);
        long v = 0;
        for (int i = 8; i >= 0; i--) {
            int b = i == 8 ? high & 0xff : (int) (low >>> (8 * i)) & 0xff;
            v = v * 100 + (b >>> 4) * 10 + (b & 0xf);
        }
        c.fpu.fromLong(v);
        int se = c.fpu.se | ((high & 0x8000) != 0 ? X87Float.SIGN : 0);
        pushLoaded(c, c.fpu.sig, se, 0);
    }

    // ---- stores ----

    /** FST(P) m32fp: rounded to single precision with the rounding control; nothing stored on an unmasked IE, OE or UE. */
    static void fstM32(CpuExec c, Insn d) {
        X87.begin(c, d);
        long lin = c.addr(d, 4, true);
        c.probeWrite(lin, 4);
        if (X87.empty(c, 0)) {
            if (X87.underflow(c)) {
                c.writeLin(lin, 4, 0xffc00000L);
                popIf(c, d.sub);
            }
            return;
        }
        X87Float f = c.fpu;
        f.cw = c.fpuControl;
        f.flags = 0;
        f.roundTo(X87.sig(c, 0), X87.se(c, 0), P24, EMIN_S, EMAX_S);
        if (storeAllowed(c, f.flags)) {
            c.writeLin(lin, 4, X87.toSingle(f.sig, f.se) & 0xffffffffL);
            popIf(c, d.sub);
        }
    }

    static void fstM64(CpuExec c, Insn d) {
        X87.begin(c, d);
        long lin = c.addr(d, 8, true);
        c.probeWrite(lin, 8);
        if (X87.empty(c, 0)) {
            if (X87.underflow(c)) {
                c.writeLin(lin, 8, 0xfff8000000000000L);
                popIf(c, d.sub);
            }
            return;
        }
        X87Float f = c.fpu;
        f.cw = c.fpuControl;
        f.flags = 0;
        f.roundTo(X87.sig(c, 0), X87.se(c, 0), P53, EMIN_D, EMAX_D);
        if (storeAllowed(c, f.flags)) {
            c.writeLin(lin, 8, X87.toDouble(f.sig, f.se));
            popIf(c, d.sub);
        }
    }

    /** A memory store happens unless IE, DE, OE or UE is unmasked (SDM 4.9.1.4-5: no result to memory). */
    private static boolean storeAllowed(CpuExec c, int flags) {
        if ((flags & ~c.fpuControl & (OE | UE)) != 0) {
            flags &= ~(X87Float.PE | C1); // no result: no inexact one either
        }
        boolean ok = X87.report(c, flags);
        return ok && (flags & ~c.fpuControl & (OE | UE)) == 0;
    }

    private static void popIf(CpuExec c, int pop) {
        if (pop != 0) {
            X87.pop(c);
        }
    }

    static void fstpM80(CpuExec c, Insn d) {
        X87.begin(c, d);
        long lin = c.addr(d, 10, true);
        c.probeWrite(lin, 10);
        long s;
        int e;
        if (X87.empty(c, 0)) {
            if (!X87.underflow(c)) {
                return;
            }
            s = INDEF_SIG;
            e = INDEF_SE;
        } else {
            X87.report(c, 0);
            s = X87.sig(c, 0);
            e = X87.se(c, 0);
        }
        c.writeLin(lin, 8, s);
        c.writeLin(lin + 8, 2, e);
        X87.pop(c);
    }

    static void fstSti(CpuExec c, Insn d) {
        X87.begin(c, d);
        int i = d.rm & 7;
        if (X87.empty(c, 0) && (d.sub & 2) == 0) {
            if (X87.underflow(c)) {
                X87.write(c, i, INDEF_SIG, INDEF_SE);
                popIf(c, d.sub);
            }
            return;
        }
        X87.report(c, 0);
        if (!X87.empty(c, 0)) { // FSTP1 (D9 D8+i) of an empty ST0 stores nothing and only pops (AMD host)
            X87.write(c, i, X87.sig(c, 0), X87.se(c, 0));
        }
        popIf(c, d.sub & 1);
    }

    /** FIST(P)/FISTTP: {@code rc} -1 uses the control word's rounding, else that rounding. */
    private static void storeInteger(CpuExec c, Insn d, int size, int rc, boolean pop) {
        X87.begin(c, d);
        long lin = c.addr(d, size, true);
        c.probeWrite(lin, size);
        long indefinite = 1L << (8 * size - 1);
        if (X87.empty(c, 0)) {
            if (X87.underflow(c)) {
                c.writeLin(lin, size, indefinite);
                if (pop) {
                    X87.pop(c);
                }
            }
            return;
        }
        X87Float f = c.fpu;
        long v = f.toInteger(X87.sig(c, 0), X87.se(c, 0), 8 * size, rc < 0 ? (c.fpuControl >>> 10) & 3 : rc);
        if (X87.report(c, f.flags)) {
            c.writeLin(lin, size, v);
            if (pop) {
                X87.pop(c);
            }
        }
    }

    static void fistM16(CpuExec c, Insn d) {
        storeInteger(c, d, 2, -1, d.sub != 0);
    }

    static void fistM32(CpuExec c, Insn d) {
        storeInteger(c, d, 4, -1, d.sub != 0);
    }

    static void fistpM64(CpuExec c, Insn d) {
        storeInteger(c, d, 8, -1, true);
    }

    static void fisttpM16(CpuExec c, Insn d) {
        storeInteger(c, d, 2, 3, true);
    }

    static void fisttpM32(CpuExec c, Insn d) {
        storeInteger(c, d, 4, 3, true);
    }

    static void fisttpM64(CpuExec c, Insn d) {
        storeInteger(c, d, 8, 3, true);
    }

    private static final long BCD_LIMIT = 999_999_999_999_999_999L;

    /** FBSTP: rounded with the rounding control; beyond 18 digits (or a NaN/infinity) the BCD indefinite. */
    static void fbstp(CpuExec c, Insn d) {
        X87.begin(c, d);
        long lin = c.addr(d, 10, true);
        c.probeWrite(lin, 10);
        long low;
        int high;
        if (X87.empty(c, 0)) {
            if (!X87.underflow(c)) {
                return;
            }
            low = 0xc000000000000000L;
            high = 0xffff;
        } else {
            X87Float f = c.fpu;
            int se = X87.se(c, 0);
            long v = f.toInteger(X87.sig(c, 0), se, 64, (c.fpuControl >>> 10) & 3);
            int flags = f.flags;
            if ((flags & IE) == 0 && (v > BCD_LIMIT || v < -BCD_LIMIT)) {
                flags = (flags & ~(X87Float.PE | C1)) | IE;
            }
            if (!X87.report(c, flags)) {
                return;
            }
            if ((flags & IE) != 0) {
                low = 0xc000000000000000L;
                high = 0xffff;
            } else {
                long m = Math.abs(v);
                low = 0;
                for (int i = 0; i < 16; i++) {
                    low |= (m % 10) << (4 * i);
                    m /= 10;
                }
                high = (int) (m % 10) | (int) ((m / 10) % 10) << 4;
                if ((se & X87Float.SIGN) != 0) {
                    high |= 0x8000;
                }
            }
        }
        c.writeLin(lin, 8, low);
        c.writeLin(lin + 8, 2, high);
        X87.pop(c);
    }

    // ---- register moves and stack control ----

    static void fxch(CpuExec c, Insn d) {
        X87.begin(c, d);
        int i = d.rm & 7;
        if (X87.empty(c, 0) || X87.empty(c, i)) {
            if (!X87.underflow(c)) {
                return;
            }
            if (X87.empty(c, 0)) {
                X87.write(c, 0, INDEF_SIG, INDEF_SE);
            }
            if (X87.empty(c, i)) {
                X87.write(c, i, INDEF_SIG, INDEF_SE);
            }
        } else {
            X87.report(c, 0);
        }
        long s = X87.sig(c, 0);
        int e = X87.se(c, 0);
        X87.write(c, 0, X87.sig(c, i), X87.se(c, i));
        X87.write(c, i, s, e);
    }

    /** FCMOVcc: sub 0-7 is B, E, BE, U, NB, NE, NBE, NU. */
    static void fcmov(CpuExec c, Insn d) {
        X87.begin(c, d);
        int i = d.rm & 7;
        boolean cond;
        switch (d.sub & 3) {
            case 0: cond = c.cf(); break;
            case 1: cond = c.zf(); break;
            case 2: cond = c.cf() || c.zf(); break;
            default: cond = (c.rflags() & CpuState.PF) != 0;
        }
        if (d.sub >= 4) {
            cond = !cond;
        }
        if (X87.empty(c, 0) || X87.empty(c, i)) {
            if (X87.underflow(c)) {
                X87.write(c, 0, INDEF_SIG, INDEF_SE);
            }
            return;
        }
        // C1 stays as it was: the SDM defines it only for a stack underflow (an AMD host agrees).
        if (cond) {
            X87.write(c, 0, X87.sig(c, i), X87.se(c, i));
        }
    }

    /** FFREE ST(i), and FFREEP (sub 1, DF C0+i) which also pops. */
    static void ffree(CpuExec c, Insn d) {
        X87.begin(c, d);
        X87.free(c, d.rm & 7);
        if (d.sub != 0) {
            X87.pop(c);
        }
    }

    static void fincstp(CpuExec c, Insn d) {
        X87.begin(c, d);
        c.fpuStatus &= ~C1;
        X87.setTop(c, X87.top(c) + 1);
    }

    static void fdecstp(CpuExec c, Insn d) {
        X87.begin(c, d);
        c.fpuStatus &= ~C1;
        X87.setTop(c, X87.top(c) - 1);
    }

    /**
     * The constants 1, log2(10), log2(e), pi, log10(2), ln(2), 0: the 64-bit significand
     * truncated, and whether the exact value lies above it by half an ulp or more (rounding
     * to nearest goes up) or at all (rounding up goes up). From the SDM's FLDxx description:
     * the constants are rounded by RC, and raise no inexact exception.
     */
    private static final long[] CONST_SIG = {0x8000000000000000L, 0xd49a784bcd1b8afeL, 0xb8aa3b295c17f0bbL,
        0xc90fdaa22168c234L, 0x9a209a84fbcff798L, 0xb17217f7d1cf79abL, 0};
    private static final int[] CONST_SE = {0x3fff, 0x4000, 0x3fff, 0x4000, 0x3ffd, 0x3ffe, 0};
    /** 0: exact; 1: below half an ulp; 2: half an ulp or more (the next bits after the 64: 49.., be.., c4.., 8f.., c9..). */
    private static final int[] CONST_REST = {0, 1, 2, 2, 2, 2, 0};

    static void fldconst(CpuExec c, Insn d) {
        X87.begin(c, d);
        int k = d.sub;
        long s = CONST_SIG[k];
        int rc = (c.fpuControl >>> 10) & 3;
        int rest = CONST_REST[k];
        if ((rest == 2 && rc == 0) || (rest != 0 && rc == 2)) {
            s++;
        }
        pushLoaded(c, s, CONST_SE[k], 0);
    }
}

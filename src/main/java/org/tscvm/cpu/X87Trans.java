package org.tscvm.cpu;

import static org.tscvm.cpu.X87Float.C2;
import static org.tscvm.cpu.X87Float.DE;
import static org.tscvm.cpu.X87Float.DENORMAL;
import static org.tscvm.cpu.X87Float.IE;
import static org.tscvm.cpu.X87Float.INDEF_SE;
import static org.tscvm.cpu.X87Float.INDEF_SIG;
import static org.tscvm.cpu.X87Float.INF;
import static org.tscvm.cpu.X87Float.INT_BIT;
import static org.tscvm.cpu.X87Float.QNAN;
import static org.tscvm.cpu.X87Float.SIGN;
import static org.tscvm.cpu.X87Float.SNAN;
import static org.tscvm.cpu.X87Float.UNSUPPORTED;
import static org.tscvm.cpu.X87Float.ZE;
import static org.tscvm.cpu.X87Float.ZERO;

/**
 * x87 transcendentals: F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS, FSINCOS.
 *
 * <p>Accuracy: each result is computed in {@link X87Wide} (128-bit significands, power series
 * after argument reduction: sin/cos/tan by Taylor series on |r| <= pi/4 after a reduction by a
 * 192-bit pi/2 in three exact steps, atan by one argument halving and its series, logarithms
 * by the atanh series on [sqrt(1/2), sqrt(2)), 2^x - 1 by the exponential series) and rounded
 * once with the rounding control, so it lies within one ulp of the exact value (tested
 * against a BigDecimal reference in X87TransTest). Hardware results are not correctly
 * rounded either; tscvm matches the host to within an ulp, not bit for bit. For |x| beyond
 * about 2^32 the reduction of FSIN/FCOS/FSINCOS/FPTAN loses bits near multiples of pi/2
 * (as the hardware's 66-bit pi does, differently). Special operands follow the SDM tables.
 */
final class X87Trans {
    static final boolean IMPLEMENTED = true;

    private X87Trans() {
    }

    // Constants: the top 128 bits (integer bit first) and the exponent of the leading bit.
    private static final long PIO2_1 = 0xc90fdaa22168c234L, PIO2_2 = 0xc4c6628b80dc1cd1L, PIO2_3 = 0x29024e088a67cc74L;
    private static final long TWO_OVER_PI_H = 0xa2f9836e4e441529L, TWO_OVER_PI_L = 0xfc2757d1f534ddc0L;
    private static final long LOG2E_H = 0xb8aa3b295c17f0bbL, LOG2E_L = 0xbe87fed0691d3e88L;
    private static final long LN2_H = 0xb17217f7d1cf79abL, LN2_L = 0xc9e3b39803f2f6afL;

    // Wide registers.
    private static final int X = 0, Y = 1, R = 2, K = 3, P = 4, T = 5, U = 6, S = 7, R2 = 8, A = 9, B = 10,
            Q = 11, SCR = 12;

    // ---- series on wide registers ----

    /**
     * d = sin(r), or cos(r) when {@code cosine} (|r| <= pi/4), by the Taylor series: each term
     * is the one before times -r^2 / (k (k + 1)), k = 2n for sin and 2n - 1 for cos.
     */
    private static void sinOrCos(X87Wide w, int d, int r, boolean cosine) {
        w.mul(R2, r, r);
        if (cosine) {
            w.fromLong(T, 1);
            w.fromLong(S, 1);
        } else {
            w.copy(T, r);
            w.copy(S, r);
        }
        for (int n = 1; n < 40; n++) {
            int k = cosine ? 2 * n - 1 : 2 * n;
            w.mul(T, T, R2);
            w.divInt(T, T, k * (k + 1), SCR);
            w.negate(T);
            if (w.zero(T) || w.ex[T] < w.ex[S] - 140) {
                break;
            }
            w.add(S, S, T, false);
        }
        w.copy(d, S);
    }

    /** d = 2 atanh(u) = u + u^3/3 + ... times 2 (|u| < 0.2): ln((1+u)/(1-u)). */
    private static void twoAtanh(X87Wide w, int d, int u) {
        twiceOddSeries(w, d, u, false, 80);
    }

    /**
     * d = 2 (u + u^3/3 + u^5/5 + ...), the signs alternating when {@code alternating} (then
     * 2 atan(u), else 2 atanh(u)), summed until a term falls 140 bits below the sum or after
     * {@code maxTerms} terms.
     */
    private static void twiceOddSeries(X87Wide w, int d, int u, boolean alternating, int maxTerms) {
        w.mul(R2, u, u);
        w.copy(T, u);
        w.copy(S, u);
        for (int n = 1; n < maxTerms; n++) {
            w.mul(T, T, R2);
            if (alternating) {
                w.negate(T);
            }
            w.divInt(U, T, 2 * n + 1, SCR);
            if (w.zero(U) || w.ex[U] < w.ex[S] - 140) {
                break;
            }
            w.add(S, S, U, false);
        }
        w.copy(d, S);
        w.ex[d]++;
    }

    /** d = atan(t) for 0 <= t <= 1: one halving u = t / (1 + sqrt(1 + t^2)), then the series. */
    private static void atan(X87Float f, X87Wide w, int d, int t) {
        w.mul(A, t, t);
        w.fromLong(B, 1);
        w.add(A, A, B, false);
        sqrt(f, w, A, A);
        w.add(A, A, B, false);
        w.div(A, t, A);          // u
        twiceOddSeries(w, d, A, true, 200); // atan(t) = 2 atan(u)
    }

    /** d = sqrt(a) (a > 0): the 80-bit square root, then one Newton step in 128 bits. */
    private static void sqrt(X87Float f, X87Wide w, int d, int a) {
        int cw = f.cw;
        f.cw = 0x37f;
        f.flags = 0;
        w.toExt(f, a);
        f.sqrt(f.sig, f.se, X87Float.P64);
        f.cw = cw;
        w.fromExt(Q, f.sig, f.se);
        w.div(U, a, Q);
        w.add(U, U, Q, false);
        w.ex[U]--;
        w.copy(d, U);
    }

    /** d = ln(x) for x > 0 in register x, as e*ln2 + 2 atanh((m-1)/(m+1)) with m in [sqrt(1/2), sqrt(2)). */
    private static void ln(X87Wide w, int d, int x) {
        int e = w.ex[x];
        w.copy(A, x);
        w.ex[A] = 0; // m in [1, 2)
        if (Long.compareUnsigned(w.hi[A], 0xb504f333f9de6484L) > 0) { // m > sqrt(2)
            w.ex[A] = -1;
            e++;
        }
        w.fromLong(B, 1);
        w.add(U, A, B, true);
        w.add(B, A, B, false);
        w.div(U, U, B);
        twoAtanh(w, S, U);
        w.copy(B, S);
        w.fromLong(K, e);
        w.constant(P, LN2_H, LN2_L, -1);
        w.mul(K, K, P);
        w.add(d, K, B, false);
    }

    // ---- the register-stack and special-operand frame ----

    /** The CPU's x87 arithmetic unit, with the guest's control word and no flags yet. */
    private static X87Float clearedFpu(CpuExec c) {
        X87Float f = c.fpu;
        f.cw = c.fpuControl;
        f.flags = 0;
        return f;
    }

    /** A NaN or unsupported operand decides the result into f; returns true then. */
    private static boolean nanOperand(X87Float f, long s, int se, int cls) {
        if (cls == UNSUPPORTED) {
            f.set(INDEF_SIG, INDEF_SE);
            f.flags |= IE;
            return true;
        }
        if (cls == QNAN || cls == SNAN) {
            if (cls == SNAN) {
                f.flags |= IE;
            }
            f.set(s | X87Float.QUIET, se);
            return true;
        }
        return false;
    }

    // ---- FSIN, FCOS, FSINCOS, FPTAN ----

    private static final int FSIN = 0, FCOS = 1, FSINCOS = 2, FPTAN = 3;

    /** FSIN, FCOS, FSINCOS (ST0 = cos, ST1 = sin) and FPTAN (ST1 = tan, ST0 = 1). */
    static void trig(CpuExec c, Insn d) {
        int kind = d.op == Op.FSIN ? FSIN : d.op == Op.FCOS ? FCOS : d.op == Op.FSINCOS ? FSINCOS : FPTAN;
        X87.begin(c, d);
        boolean pushes = kind >= FSINCOS;
        c.fpuStatus &= ~C2; // cleared on every outcome but "out of range" (the AMD host)
        if (X87.empty(c, 0)) {
            if (X87.underflow(c)) {
                X87.write(c, 0, INDEF_SIG, INDEF_SE);
                if (pushes) {
                    X87.push(c, INDEF_SIG, INDEF_SE);
                }
            }
            return;
        }
        if (pushes && !X87.empty(c, 7)) {
            if (X87.overflow(c)) {
                X87.write(c, 0, INDEF_SIG, INDEF_SE);
                X87.push(c, INDEF_SIG, INDEF_SE);
            }
            return;
        }
        c.fpuStatus &= ~C2;
        long s = X87.sig(c, 0);
        int se = X87.se(c, 0);
        int cls = X87Float.classify(s, se);
        X87Float f = clearedFpu(c);
        if (nanOperand(f, s, se, cls) || cls == INF) {
            if (cls == INF) {
                f.set(INDEF_SIG, INDEF_SE);
                f.flags |= IE;
            }
            if (X87.report(c, f.flags)) {
                X87.write(c, 0, f.sig, f.se);
                if (pushes) {
                    X87.push(c, f.sig, f.se);
                }
            }
            return;
        }
        if (cls != ZERO && (se & 0x7fff) >= X87Float.BIAS + 63) {
            c.fpuStatus |= C2; // out of range: ST0 unchanged
            return;
        }
        int flags = cls == DENORMAL ? DE : 0;
        long r1s, r2s = 0;
        int r1e, r2e = 0;
        if (cls == ZERO) {
            // sin(+-0) = +-0, cos(0) = 1, tan(+-0) = +-0: exact.
            long one = INT_BIT;
            int oneSe = X87Float.BIAS;
            switch (kind) {
                case FSIN: r1s = s; r1e = se; break;
                case FCOS: r1s = one; r1e = oneSe; break;
                case FSINCOS: r1s = s; r1e = se; r2s = one; r2e = oneSe; break; // ST1 = sin, ST0 = cos
                default: r1s = s; r1e = se; r2s = one; r2e = oneSe; break;
            }
        } else {
            X87Wide w = c.wide;
            w.fromExt(X, s, se);
            w.constant(P, TWO_OVER_PI_H, TWO_OVER_PI_L, -1);
            w.mul(T, X, P);
            long k = w.nearestInteger(T);
            w.fromLong(K, k);
            w.constant(P, PIO2_1, 0, 0);
            w.mul(T, K, P);
            w.add(R, X, T, true);
            w.constant(P, PIO2_2, 0, -64);
            w.mul(T, K, P);
            w.add(R, R, T, true);
            w.constant(P, PIO2_3, 0, -128);
            w.mul(T, K, P);
            w.add(R, R, T, true);
            int q = (int) (k & 3);
            sinOrCos(w, A, R, false);
            sinOrCos(w, B, R, true);
            // sin x = {s, c, -s, -c}[q], cos x = {c, -s, -c, s}[q] with s, c of the reduced r.
            w.copy(Y, (q & 1) == 0 ? A : B);
            if (q >= 2) {
                w.negate(Y);
            }
            w.copy(U, (q & 1) == 0 ? B : A);
            if (q == 1 || q == 2) {
                w.negate(U);
            }
            switch (kind) {
                case FSIN:
                    w.toExt(f, Y, true);
                    r1s = f.sig;
                    r1e = f.se;
                    break;
                case FCOS:
                    w.toExt(f, U, true);
                    r1s = f.sig;
                    r1e = f.se;
                    break;
                case FSINCOS:
                    w.toExt(f, Y, true); // ST1 = sin
                    r1s = f.sig;
                    r1e = f.se;
                    w.toExt(f, U, true); // ST0 = cos
                    r2s = f.sig;
                    r2e = f.se;
                    break;
                default:
                    w.div(K, Y, U);
                    w.toExt(f, K, true);
                    r1s = f.sig;
                    r1e = f.se;
                    r2s = INT_BIT;
                    r2e = X87Float.BIAS;
            }
            flags |= f.flags;
        }
        if (X87.report(c, flags)) {
            X87.write(c, 0, r1s, r1e);
            if (pushes) {
                X87.push(c, r2s, r2e);
            }
        }
    }

    // ---- F2XM1 ----

    static void f2xm1(CpuExec c, Insn d) {
        X87.begin(c, d);
        if (X87.empty(c, 0)) {
            if (X87.underflow(c)) {
                X87.write(c, 0, INDEF_SIG, INDEF_SE);
            }
            return;
        }
        long s = X87.sig(c, 0);
        int se = X87.se(c, 0);
        int cls = X87Float.classify(s, se);
        X87Float f = clearedFpu(c);
        if (nanOperand(f, s, se, cls)) {
            // decided
        } else if (cls == ZERO) {
            f.set(s, se);
        } else if (cls == INF) {
            f.set((se & SIGN) != 0 ? INT_BIT : s, (se & SIGN) != 0 ? SIGN | X87Float.BIAS : se); // -inf -> -1
        } else if (s == INT_BIT && (se & 0x7fff) == X87Float.BIAS) {
            // 2^1 - 1 = 1 and 2^-1 - 1 = -1/2: exact.
            f.set(INT_BIT, (se & SIGN) != 0 ? SIGN | (X87Float.BIAS - 1) : X87Float.BIAS);
        } else {
            int flags = cls == DENORMAL ? DE : 0;
            X87Wide w = c.wide;
            w.fromExt(X, s, se);
            w.constant(P, LN2_H, LN2_L, -1);
            w.mul(R, X, P);         // t = x ln 2
            w.copy(T, R);
            w.copy(S, R);
            for (int n = 2; n < 300; n++) {
                w.mul(T, T, R);
                w.divInt(T, T, n, SCR);
                if (w.zero(T) || w.ex[T] < w.ex[S] - 140) {
                    break;
                }
                w.add(S, S, T, false);
            }
            w.toExt(f, S, true);
            f.flags |= flags;
        }
        if (X87.report(c, f.flags)) {
            X87.write(c, 0, f.sig, f.se);
        }
    }

    // ---- FYL2X, FYL2XP1, FPATAN: ST(1) = f(ST(1), ST(0)), then pop ----

    private static boolean twoOperands(CpuExec c) {
        if (X87.empty(c, 0) || X87.empty(c, 1)) {
            if (X87.underflow(c)) {
                X87.write(c, 1, INDEF_SIG, INDEF_SE);
                X87.pop(c);
            }
            return false;
        }
        return true;
    }

    private static void deliverPop(CpuExec c, X87Float f) {
        if (X87.report(c, f.flags)) {
            X87.write(c, 1, f.sig, f.se);
            X87.pop(c);
        }
    }

    /** Two-operand NaN rules (the QNaN over an SNaN, else the larger significand), through FADD's. */
    private static boolean nans(X87Float f, long xs, int xse, int xc, long ys, int yse, int yc) {
        if (xc == UNSUPPORTED || yc == UNSUPPORTED || X87Float.isNan(xc) || X87Float.isNan(yc)) {
            f.add(xs, xse, ys, yse, false, X87Float.P64);
            return true;
        }
        return false;
    }

    private static final int FYL2X = 0, FYL2XP1 = 1, FPATAN = 2;

    /**
     * The frame of FYL2X, FYL2XP1 and FPATAN (x = ST0, y = ST1): stack underflow and NaN or
     * unsupported operands (FPATAN's y taking precedence) decide the result before the
     * function's own cases, which are given DE for denormal operands in {@code flags}.
     */
    static void twoOperandOp(CpuExec c, Insn d) {
        int kind = d.op == Op.FYL2X ? FYL2X : d.op == Op.FYL2XP1 ? FYL2XP1 : FPATAN;
        X87.begin(c, d);
        if (!twoOperands(c)) {
            return;
        }
        long xs = X87.sig(c, 0), ys = X87.sig(c, 1);
        int xse = X87.se(c, 0), yse = X87.se(c, 1);
        int xc = X87Float.classify(xs, xse), yc = X87Float.classify(ys, yse);
        X87Float f = clearedFpu(c);
        boolean decided = kind == FPATAN ? nans(f, ys, yse, yc, xs, xse, xc) : nans(f, xs, xse, xc, ys, yse, yc);
        if (!decided) {
            int flags = xc == DENORMAL || yc == DENORMAL ? DE : 0;
            switch (kind) {
                case FYL2X: fyl2xBody(c, f, flags, xs, xse, xc, ys, yse, yc); break;
                case FYL2XP1: fyl2xp1Body(c, f, flags, xs, xse, xc, ys, yse, yc); break;
                default: fpatanBody(c, f, flags, xs, xse, xc, ys, yse, yc);
            }
        }
        deliverPop(c, f);
    }

    /** The invalid-operation result: the real indefinite with IE. */
    private static void invalid(X87Float f) {
        f.set(INDEF_SIG, INDEF_SE);
        f.flags = IE;
    }

    /** An infinity of sign {@code neg} with {@code flags}. */
    private static void infinity(X87Float f, boolean neg, int flags) {
        f.set(INT_BIT, (neg ? SIGN : 0) | 0x7fff);
        f.flags = flags;
    }

    /** A zero of sign {@code neg} with {@code flags}. */
    private static void zero(X87Float f, boolean neg, int flags) {
        f.set(0, neg ? SIGN : 0);
        f.flags = flags;
    }

    /** FYL2X: y * log2(x). */
    private static void fyl2xBody(CpuExec c, X87Float f, int flags, long xs, int xse, int xc, long ys, int yse, int yc) {
        boolean xNeg = (xse & SIGN) != 0, yNeg = (yse & SIGN) != 0;
        boolean xOne = xc == X87Float.NORMAL && xs == INT_BIT && (xse & 0x7fff) == X87Float.BIAS && !xNeg;
        boolean xAboveOne = !xNeg && (xc == INF || (xc != ZERO && (xse & 0x7fff) >= X87Float.BIAS && !xOne));
        if (xNeg && xc != ZERO) {
            invalid(f);
        } else if (xc == ZERO) {
            if (yc == ZERO) {
                invalid(f);
            } else {
                infinity(f, !yNeg, yc == INF ? flags : ZE); // y * -inf
            }
        } else if (xc == INF) {
            if (yc == ZERO) {
                invalid(f);
            } else {
                infinity(f, yNeg, flags);
            }
        } else if (yc == INF) {
            if (xOne) {
                invalid(f);
            } else {
                infinity(f, yNeg ^ !xAboveOne, flags);
            }
        } else if (yc == ZERO || xOne) {
            // y * log2(x) with an exact zero factor: a zero signed as the product.
            boolean logNeg = !xAboveOne && !xOne;
            zero(f, yNeg ^ logNeg, flags);
        } else {
            X87Wide w = c.wide;
            w.fromExt(X, xs, xse);
            boolean powerOfTwo = xs << Long.numberOfLeadingZeros(xs) == INT_BIT;
            if (powerOfTwo) {
                w.fromLong(R, w.ex[X]); // log2(2^k) = k, exactly
            } else {
                ln(w, R, X);
                w.constant(P, LOG2E_H, LOG2E_L, 0);
                w.mul(R, R, P);
            }
            w.fromExt(Y, ys, yse);
            w.mul(R, R, Y);
            w.toExt(f, R, true); // the AMD host reports PE even for an exact y * k
            f.flags |= flags;
        }
    }

    /** FYL2XP1: y * log2(1 + x). */
    private static void fyl2xp1Body(CpuExec c, X87Float f, int flags, long xs, int xse, int xc, long ys, int yse, int yc) {
        boolean xNeg = (xse & SIGN) != 0, yNeg = (yse & SIGN) != 0;
        if (xc == ZERO) {
            if (yc == INF) {
                invalid(f);
            } else {
                zero(f, xNeg ^ yNeg, flags);
            }
        } else if (xc == INF && !xNeg) {
            // Outside the domain; the AMD host gives y * +inf.
            if (yc == ZERO) {
                invalid(f);
            } else {
                infinity(f, yNeg, flags);
            }
        } else if (xc == INF || (xNeg && (xse & 0x7fff) >= X87Float.BIAS)) {
            // x + 1 <= 0 or infinite: outside the domain (the SDM leaves it undefined): invalid.
            invalid(f);
        } else if (yc == INF) {
            infinity(f, yNeg ^ xNeg, flags);
        } else if (yc == ZERO) {
            zero(f, xNeg ^ yNeg, flags);
        } else {
            X87Wide w = c.wide;
            w.fromExt(X, xs, xse);
            if ((xse & 0x7fff) < X87Float.BIAS - 2) { // |x| < 1/4: ln(1+x) = 2 atanh(x / (2 + x))
                w.fromLong(B, 2);
                w.add(B, B, X, false);
                w.div(U, X, B);
                twoAtanh(w, R, U);
            } else { // beyond the SDM's domain: ln of 1 + x
                w.fromLong(B, 1);
                w.add(B, B, X, false);
                ln(w, R, B);
            }
            w.constant(P, LOG2E_H, LOG2E_L, 0);
            w.mul(R, R, P);
            w.fromExt(Y, ys, yse);
            w.mul(R, R, Y);
            w.toExt(f, R, true);
            f.flags |= flags;
        }
    }

    /** FPATAN: atan2(y, x) in [-pi, pi]. */
    private static void fpatanBody(CpuExec c, X87Float f, int flags, long xs, int xse, int xc, long ys, int yse, int yc) {
        boolean xNeg = (xse & SIGN) != 0, yNeg = (yse & SIGN) != 0;
        X87Wide w = c.wide;
        // The angle as a multiple of pi/4 (exact cases) or computed.
        int eighths = -1; // result = eighths * pi/4 when >= 0
        if (yc == ZERO) {
            eighths = xNeg ? 4 : 0;
        } else if (xc == ZERO) {
            eighths = 2;
        } else if (yc == INF) {
            eighths = xc == INF ? (xNeg ? 3 : 1) : 2;
        } else if (xc == INF) {
            eighths = xNeg ? 4 : 0;
        }
        if (eighths == 0) {
            zero(f, yNeg, flags);
            return;
        }
        if (eighths > 0) {
            w.constant(P, PIO2_1, PIO2_2, 0);
            w.fromLong(K, eighths);
            w.mul(R, P, K);
            w.ex[R]--; // * pi/4
        } else {
            w.fromExt(X, xs, xse);
            w.fromExt(Y, ys, yse);
            w.neg[X] = false;
            w.neg[Y] = false;
            boolean swap = w.ex[Y] > w.ex[X] || (w.ex[Y] == w.ex[X] && Long.compareUnsigned(w.hi[Y], w.hi[X]) > 0);
            if (swap) {
                w.div(K, X, Y);
            } else {
                w.div(K, Y, X);
            }
            atan(f, w, R, K);
            if (swap) { // pi/2 - atan(x/y)
                w.constant(P, PIO2_1, PIO2_2, 0);
                w.add(R, P, R, true);
            }
            if (xNeg) { // pi - a
                w.constant(P, PIO2_1, PIO2_2, 1);
                w.add(R, P, R, true);
            }
        }
        w.neg[R] = yNeg;
        w.toExt(f, R, true);
        f.flags |= flags;
    }
}

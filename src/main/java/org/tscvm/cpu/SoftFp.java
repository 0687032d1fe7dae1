package org.tscvm.cpu;

import static org.tscvm.cpu.Sse.DE;
import static org.tscvm.cpu.Sse.IE;
import static org.tscvm.cpu.Sse.OE;
import static org.tscvm.cpu.Sse.PE;
import static org.tscvm.cpu.Sse.UE;
import static org.tscvm.cpu.Sse.ZE;

/**
 * IEEE 754 single and double arithmetic as SSE does it, on raw bits: MXCSR rounding control,
 * DAZ and FZ, the six exception flags (ORed into {@link CpuState#sseFlags}), SSE's NaN rules
 * (the first source's NaN wins, an SNaN is quieted, invalid operations give the default NaN
 * 0xFFC00000 / 0xFFF8000000000000) and tininess detected after rounding (SDM 4.9.1.5, 4.8.3.5).
 * Allocation-free: every result is one double operation plus an exact error term.
 *
 * <p>How results are rounded exactly without wider arithmetic: Java's double operation gives
 * s, the exact result rounded to nearest at 53 bits, and an exact residual tells on which side
 * of s the exact result lies (TwoSum for addition; {@link Math#fma} for products, quotients and
 * square roots, computed on operands scaled into [1, 4) so the residual cannot underflow).
 * {@link #round} then re-rounds s with that sign as a sticky bit: to 24 bits for singles (a
 * single operation's operands are exact in double), in the MXCSR mode, with overflow,
 * tininess (after rounding, unbounded exponent) and denormal results from the same data. The
 * re-rounding is exact because every rounding boundary of a coarser grid is an integer
 * multiple of s's ulp, and the exact result is strictly within one ulp of s.
 */
final class SoftFp {
    private SoftFp() {
    }

    static final int ADD = 0, SUB = 1, MUL = 2, DIV = 3, MIN = 4, MAX = 5, SQRT = 6;

    static final int F_SIGN = 0x80000000, F_QUIET = 0x00400000, F_INF = 0x7f800000, F_MAX = 0x7f7fffff;
    static final int F_DEFAULT_NAN = 0xffc00000;
    static final long D_SIGN = Long.MIN_VALUE, D_QUIET = 1L << 51, D_INF = 0x7ff0000000000000L;
    static final long D_MAX = 0x7fefffffffffffffL, D_DEFAULT_NAN = 0xfff8000000000000L;
    private static final long FRAC52 = (1L << 52) - 1, HIDDEN52 = 1L << 52, MASK32 = 0xffffffffL;

    // ---- classification ----

    static boolean isNaN(int a) {
        return (a & ~F_SIGN) > F_INF;
    }

    static boolean isSNaN(int a) {
        return isNaN(a) && (a & F_QUIET) == 0;
    }

    static boolean isDenormal(int a) {
        return (a & F_INF) == 0 && (a & 0x7fffff) != 0;
    }

    static boolean isNaN(long a) {
        return (a & ~D_SIGN) > D_INF;
    }

    static boolean isSNaN(long a) {
        return isNaN(a) && (a & D_QUIET) == 0;
    }

    static boolean isDenormal(long a) {
        return (a & D_INF) == 0 && (a & FRAC52) != 0;
    }

    /** DAZ: a denormal operand reads as a zero of its sign. */
    static int daz(CpuExec c, int a) {
        return (c.mxcsr & Sse.MXCSR_DAZ) != 0 && isDenormal(a) ? a & F_SIGN : a;
    }

    static long daz(CpuExec c, long a) {
        return (c.mxcsr & Sse.MXCSR_DAZ) != 0 && isDenormal(a) ? a & D_SIGN : a;
    }

    private static int mode(CpuExec c) {
        return (c.mxcsr >>> 13) & 3;
    }

    // ---- single and double precision ----

    /**
     * One lane of ADDPS/SUBPS/MULPS/DIVPS/MINPS/MAXPS/SQRTPS and their ss forms; a is the
     * destination's lane. DE is reported only when the lane raises neither IE nor ZE (the
     * SDM's priority: invalid and divide-by-zero before denormal operand, 4.9.2).
     */
    static int single(CpuExec c, int op, int a, int b) {
        int outer = c.sseFlags;
        c.sseFlags = 0;
        int r = (int) lane(c, op, a & MASK32, b & MASK32, false);
        c.sseFlags = outer | suppressDenormal(c.sseFlags);
        return r;
    }

    /** One lane of ADDPD/.../SQRTPD and the sd forms; a is the destination's lane. DE as in {@link #single}. */
    static long dbl(CpuExec c, int op, long a, long b) {
        int outer = c.sseFlags;
        c.sseFlags = 0;
        long r = lane(c, op, a, b, true);
        c.sseFlags = outer | suppressDenormal(c.sseFlags);
        return r;
    }

    private static int suppressDenormal(int flags) {
        return (flags & (IE | ZE)) != 0 ? flags & ~DE : flags;
    }

    // Format-generic views of a lane's bits ({@code dbl} false: a single, zero-extended).

    static boolean isNaN(long bits, boolean dbl) {
        return dbl ? isNaN(bits) : isNaN((int) bits);
    }

    static boolean isSNaN(long bits, boolean dbl) {
        return dbl ? isSNaN(bits) : isSNaN((int) bits);
    }

    static boolean isDenormal(long bits, boolean dbl) {
        return dbl ? isDenormal(bits) : isDenormal((int) bits);
    }

    static long daz(CpuExec c, long bits, boolean dbl) {
        return dbl ? daz(c, bits) : daz(c, (int) bits) & MASK32;
    }

    static double value(long bits, boolean dbl) {
        return dbl ? Double.longBitsToDouble(bits) : Float.intBitsToFloat((int) bits);
    }

    /** The bits of v, which must be exact in the format. */
    static long bits(double v, boolean dbl) {
        return dbl ? Double.doubleToRawLongBits(v) : Float.floatToRawIntBits((float) v) & MASK32;
    }

    /** x rounded to an integral value in an MXCSR rounding mode (RC_NEAREST is to even). */
    static double roundIntegral(double x, int mode) {
        switch (mode) {
            case Sse.RC_NEAREST: return Math.rint(x);
            case Sse.RC_DOWN: return Math.floor(x);
            case Sse.RC_UP: return Math.ceil(x);
            default: return x < 0 ? Math.ceil(x) : Math.floor(x);
        }
    }

    /**
     * The lane of {@link #single} ({@code dbl} false: a and b zero-extended singles, the result
     * in the low 32 bits) or {@link #dbl}. Singles are exact in double, so only the final
     * products, quotients and roots of doubles need their operands scaled.
     */
    private static long lane(CpuExec c, int op, long a, long b, boolean dbl) {
        long sign = dbl ? D_SIGN : F_SIGN & MASK32, quiet = dbl ? D_QUIET : F_QUIET;
        long inf = dbl ? D_INF : F_INF, defaultNaN = dbl ? D_DEFAULT_NAN : F_DEFAULT_NAN & MASK32;
        a = daz(c, a, dbl);
        b = daz(c, b, dbl);
        if (op == MIN || op == MAX) {
            if (isNaN(a, dbl) || isNaN(b, dbl)) {
                c.sseFlags |= IE;
                return b;
            }
            if (isDenormal(a, dbl) || isDenormal(b, dbl)) {
                c.sseFlags |= DE;
            }
            double x = value(a, dbl), y = value(b, dbl);
            return (op == MIN ? x < y : x > y) ? a : b;
        }
        if (op == SQRT) {
            if (isNaN(b, dbl)) {
                c.sseFlags |= isSNaN(b, dbl) ? IE : 0;
                return b | quiet;
            }
        } else if (isNaN(a, dbl) || isNaN(b, dbl)) {
            if (isSNaN(a, dbl) || isSNaN(b, dbl)) {
                c.sseFlags |= IE;
            }
            return isNaN(a, dbl) ? a | quiet : b | quiet;
        }
        if ((op != SQRT && isDenormal(a, dbl)) || isDenormal(b, dbl)) {
            c.sseFlags |= DE;
        }
        double x = value(a, dbl), y = value(b, dbl);
        boolean neg = ((a ^ b) & sign) != 0; // of a product or quotient
        switch (op) {
            case ADD: case SUB: {
                if (op == SUB) {
                    y = -y;
                }
                if (Double.isInfinite(x) || Double.isInfinite(y)) {
                    if (Double.isInfinite(x) && Double.isInfinite(y) && x != y) {
                        c.sseFlags |= IE;
                        return defaultNaN;
                    }
                    return Double.isInfinite(x) ? a : (op == SUB ? b ^ sign : b);
                }
                double s = x + y;
                if (s == 0) {
                    return zeroSum(c, x, y) ? sign : 0;
                }
                int k = 0;
                if (Double.isInfinite(s)) { // only doubles: two singles' sum is finite in double
                    // Both operands are at least 2^970 here, so halving them is exact.
                    x *= 0.5;
                    y *= 0.5;
                    s = x + y;
                    k = 1;
                }
                double e = twoSumError(x, y, s);
                boolean sumNeg = s < 0;
                return round(c, sumNeg, Math.abs(s), signOf(sumNeg ? -e : e), k, dbl);
            }
            case MUL: {
                if (Double.isInfinite(x) || Double.isInfinite(y)) {
                    if (x == 0 || y == 0) {
                        c.sseFlags |= IE;
                        return defaultNaN;
                    }
                    return neg ? sign | inf : inf;
                }
                if (x == 0 || y == 0) {
                    return neg ? sign : 0;
                }
                double p = Math.abs(x), q = Math.abs(y);
                if (!dbl) { // 24 by 24 bits: exact in double
                    return round(c, neg, p * q, 0, 0, false);
                }
                int ep = exponent(p), eq = exponent(q);
                p = Math.scalb(p, -ep);
                q = Math.scalb(q, -eq);
                double r = p * q;
                return round(c, neg, r, signOf(Math.fma(p, q, -r)), ep + eq, true);
            }
            case DIV: {
                if (Double.isInfinite(x)) {
                    if (Double.isInfinite(y)) {
                        c.sseFlags |= IE;
                        return defaultNaN;
                    }
                    return neg ? sign | inf : inf;
                }
                if (y == 0) {
                    if (x == 0) {
                        c.sseFlags |= IE;
                        return defaultNaN;
                    }
                    c.sseFlags |= ZE;
                    return neg ? sign | inf : inf;
                }
                if (x == 0 || Double.isInfinite(y)) {
                    return neg ? sign : 0;
                }
                double p = Math.abs(x), q = Math.abs(y);
                int ep = 0, eq = 0;
                if (dbl) { // a single's quotient and residual are far from double's limits
                    ep = exponent(p);
                    eq = exponent(q);
                    p = Math.scalb(p, -ep);
                    q = Math.scalb(q, -eq);
                }
                double r = p / q;
                return round(c, neg, r, signOf(Math.fma(-r, q, p)), ep - eq, dbl);
            }
            default: { // SQRT
                if (y == 0 || (y > 0 && Double.isInfinite(y))) {
                    return b;
                }
                if (y < 0) {
                    c.sseFlags |= IE;
                    return defaultNaN;
                }
                if (!dbl) {
                    double r = Math.sqrt(y);
                    return round(c, false, r, signOf(Math.fma(-r, r, y)), 0, false);
                }
                int e = exponent(y);
                int half = Math.floorDiv(e, 2);
                double p = Math.scalb(y, -2 * half);
                double r = Math.sqrt(p);
                return round(c, false, r, signOf(Math.fma(-r, r, p)), half, true);
            }
        }
    }

    /** The sign of an exact zero sum x + y: both zeros of one sign keep it; otherwise -0 only rounding down. */
    private static boolean zeroSum(CpuExec c, double x, double y) {
        boolean nx = Double.doubleToRawLongBits(x) < 0, ny = Double.doubleToRawLongBits(y) < 0;
        if (x == 0 && y == 0 && nx == ny) {
            return nx;
        }
        return mode(c) == Sse.RC_DOWN;
    }

    /**
     * The exact error of a finite s = fl(x + y): x + y = s + e (Dekker's Fast2Sum on the operands
     * ordered by magnitude: s - big is exact, so no intermediate can overflow, unlike Knuth's
     * TwoSum, whose s - x rounds to infinity next to DBL_MAX).
     */
    static double twoSumError(double x, double y, double s) {
        double big = x, small = y;
        if (Math.abs(x) < Math.abs(y)) {
            big = y;
            small = x;
        }
        return small - (s - big);
    }

    static int signOf(double v) {
        return v > 0 ? 1 : v < 0 ? -1 : 0;
    }

    /** The unbiased binary exponent of a positive finite double, subnormals included. */
    static int exponent(double v) {
        int e = Math.getExponent(v);
        if (e == Double.MIN_EXPONENT - 1) {
            e = Math.getExponent(v * 0x1p54) - 54;
        }
        return e;
    }

    // ---- rounding ----

    /**
     * Rounds the exact value (s + t) * 2^k to single ({@code dbl} false) or double in the MXCSR
     * mode, where s > 0 is the exact value rounded to nearest at 53 bits (k scales it out of
     * the subnormal and overflow ranges) and t, of sign {@code errSign}, is smaller than half an
     * ulp of s. Sets PE, OE, UE as SSE does; FZ flushes tiny results when UE is masked.
     * Returns the raw bits (a single in the low 32 bits).
     */
    static long round(CpuExec c, boolean neg, double s, int errSign, int k, boolean dbl) {
        if (s < Double.MIN_NORMAL) { // only exact results (errSign 0) come here subnormal
            s *= 0x1p54;
            k -= 54;
        }
        long bits = Double.doubleToRawLongBits(s);
        int e0 = (int) (bits >>> 52) - 1023 + k;
        long m0 = (bits & FRAC52) | HIDDEN52;
        int mode = mode(c);
        boolean away = mode == Sse.RC_UP ? !neg : mode == Sse.RC_DOWN && neg;
        int prec = dbl ? 53 : 24, emin = dbl ? -1022 : -126, emax = dbl ? 1023 : 127;
        long sign = neg ? (dbl ? D_SIGN : F_SIGN & 0xffffffffL) : 0;
        // The integer paths take the value just below a power of two in the lower binade's ulps.
        long m = m0;
        int es = errSign, e = e0;
        if (m == HIDDEN52 && es < 0) {
            m = (1L << 53) - 1;
            es = 1;
            e--;
        }
        // 1. Rounded with an unbounded exponent: decides overflow and tininess.
        long k1;
        boolean inexact1;
        int e1;
        if (dbl) {
            k1 = m0;
            inexact1 = errSign != 0;
            if (inexact1 && mode != Sse.RC_NEAREST) {
                if (away && errSign > 0) {
                    k1++;
                } else if (!away && errSign < 0) {
                    k1--;
                }
            }
            e1 = e0 + (64 - Long.numberOfLeadingZeros(k1)) - 53;
        } else {
            long r = roundBits(m, es, 29, mode, away);
            k1 = r >>> 1;
            inexact1 = (r & 1) != 0;
            e1 = e + (64 - Long.numberOfLeadingZeros(k1)) - 24;
        }
        int masks = (c.mxcsr >>> 7) & 0x3f;
        if (e1 > emax) {
            // Unmasked, the #XM handler would get the result with its exponent scaled into
            // range (SDM 4.9.2.4): PE then tells whether that scaled result is inexact.
            c.sseFlags |= (masks & OE) != 0 ? OE | PE : OE | (inexact1 ? PE : 0);
            boolean toInfinity = mode == Sse.RC_NEAREST || away;
            return sign | (dbl ? (toInfinity ? D_INF : D_MAX) : (toInfinity ? F_INF : F_MAX));
        }
        if (e1 >= emin) {
            if (inexact1) {
                c.sseFlags |= PE;
            }
            if (dbl) {
                double r = s;
                if (inexact1 && mode != Sse.RC_NEAREST) {
                    if (away && errSign > 0) {
                        r = Math.nextUp(r);
                    } else if (!away && errSign < 0) {
                        r = Math.nextDown(r);
                    }
                }
                return sign | Double.doubleToRawLongBits(Math.scalb(r, k));
            }
            if (k1 >>> 24 != 0) {
                k1 >>>= 1;
            }
            return sign | ((long) (e1 + 127) << 23) | (k1 & 0x7fffff);
        }
        // 2. Tiny. Unmasked, UE whether exact or not, and PE as for the scaled result (as OE
        // above, SDM 4.9.2.5); masked, UE and PE when the denormal result is inexact, and FZ
        // flushes to a signed zero.
        if ((masks & UE) == 0) {
            c.sseFlags |= UE | (inexact1 ? PE : 0);
            return sign;
        }
        if ((c.mxcsr & Sse.MXCSR_FZ) != 0) {
            c.sseFlags |= UE | PE;
            return sign;
        }
        long r = roundBits(m, es, emin - e + 53 - prec, mode, away);
        if ((r & 1) != 0) {
            c.sseFlags |= UE | PE;
        }
        return sign | (r >>> 1);
    }

    /**
     * Rounds m (53 bits) plus a sticky of sign {@code errSign} right by {@code sh} >= 1 bits;
     * returns the kept bits shifted left once, with bit 0 set when the result is inexact.
     */
    private static long roundBits(long m, int errSign, int sh, int mode, boolean away) {
        long v = (m << 1) + errSign;
        int drop = Math.min(sh + 1, 56);
        long kept = v >>> drop;
        long rem = v & ((1L << drop) - 1);
        long half = 1L << (drop - 1);
        if (rem != 0) {
            if (mode == Sse.RC_NEAREST) {
                if (rem > half || (rem == half && (kept & 1) != 0)) {
                    kept++;
                }
            } else if (away) {
                kept++;
            }
        }
        return kept << 1 | (rem != 0 ? 1 : 0);
    }
}

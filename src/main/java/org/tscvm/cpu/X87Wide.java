package org.tscvm.cpu;

/**
 * A small register file of 128-bit-significand binary floating-point numbers for the x87
 * transcendentals ({@link X87Trans}): value = (-1)^neg * (hi:lo / 2^127) * 2^ex, normalized
 * (hi bit 63 set) unless zero. Operations truncate below 128 bits, so a chain of a few dozen
 * operations keeps well over 64 correct bits, and rounding the result once to the 80-bit
 * format is within an ulp. Integer arithmetic only; registers are indexes, nothing is
 * allocated per instruction.
 */
final class X87Wide {
    static final int REGS = 16;
    final long[] hi = new long[REGS];
    final long[] lo = new long[REGS];
    final int[] ex = new int[REGS];
    final boolean[] neg = new boolean[REGS];

    boolean zero(int a) {
        return (hi[a] | lo[a]) == 0;
    }

    /** Sets register d to (-1)^n * (h:l / 2^127) * 2^e and normalizes it. */
    void set(int d, long h, long l, int e, boolean n) {
        if ((h | l) == 0) {
            hi[d] = 0;
            lo[d] = 0;
            ex[d] = 0;
            neg[d] = n;
            return;
        }
        int z = h != 0 ? Long.numberOfLeadingZeros(h) : 64 + Long.numberOfLeadingZeros(l);
        if (z >= 64) {
            h = l << (z - 64);
            l = 0;
        } else if (z > 0) {
            h = (h << z) | (l >>> (64 - z));
            l <<= z;
        }
        hi[d] = h;
        lo[d] = l;
        ex[d] = e - z;
        neg[d] = n;
    }

    void copy(int d, int a) {
        hi[d] = hi[a];
        lo[d] = lo[a];
        ex[d] = ex[a];
        neg[d] = neg[a];
    }

    void negate(int d) {
        neg[d] = !neg[d];
    }

    /** A constant given as its top 128 bits (integer bit first) and exponent. */
    void constant(int d, long h, long l, int e) {
        set(d, h, l, e, false);
    }

    /** An 80-bit value (finite: zero, normal, denormal or pseudo-denormal). */
    void fromExt(int d, long sig, int se) {
        set(d, sig, 0, Math.max(se & 0x7fff, 1) - X87Float.BIAS, (se & X87Float.SIGN) != 0);
    }

    void fromLong(int d, long v) {
        boolean n = v < 0;
        set(d, n ? -v : v, 0, 63, n);
    }

    /** Rounds register a into f (80-bit, 64-bit precision, the rounding control in f.cw). */
    void toExt(X87Float f, int a) {
        toExt(f, a, false);
    }

    /**
     * The same for a value known to be irrational (a transcendental of a non-zero rational):
     * inexact even where its 128 bits happen to end in zeros, or where a tiny argument left
     * the series at its first term.
     */
    void toExt(X87Float f, int a, boolean irrational) {
        if (zero(a)) {
            f.set(0, neg[a] ? X87Float.SIGN : 0);
            return;
        }
        f.roundPack(neg[a], ex[a] + X87Float.BIAS, hi[a], lo[a] | (irrational ? 1 : 0), X87Float.P64,
                X87Float.EMIN_X, X87Float.EMAX_X);
    }

    /** d = a + b, or a - b when {@code sub}. */
    void add(int d, int a, int b, boolean sub) {
        boolean nb = neg[b] ^ sub;
        if (zero(b)) {
            copy(d, a);
            return;
        }
        if (zero(a)) {
            copy(d, b);
            neg[d] = nb;
            return;
        }
        long xh, xl, yh, yl;
        int xe, ye;
        boolean xn, yn;
        boolean aBigger = ex[a] > ex[b] || (ex[a] == ex[b] && (Long.compareUnsigned(hi[a], hi[b]) > 0
                || (hi[a] == hi[b] && Long.compareUnsigned(lo[a], lo[b]) >= 0)));
        if (aBigger) {
            xh = hi[a]; xl = lo[a]; xe = ex[a]; xn = neg[a];
            yh = hi[b]; yl = lo[b]; ye = ex[b]; yn = nb;
        } else {
            xh = hi[b]; xl = lo[b]; xe = ex[b]; xn = nb;
            yh = hi[a]; yl = lo[a]; ye = ex[a]; yn = neg[a];
        }
        int sh = xe - ye;
        if (sh >= 128) {
            yh = 0;
            yl = 0;
        } else if (sh >= 64) {
            yl = yh >>> (sh - 64);
            yh = 0;
        } else if (sh > 0) {
            yl = (yl >>> sh) | (yh << (64 - sh));
            yh >>>= sh;
        }
        long rh, rl;
        if (xn == yn) {
            rl = xl + yl;
            long carry = Long.compareUnsigned(rl, xl) < 0 ? 1 : 0;
            rh = xh + yh + carry;
            boolean out = Long.compareUnsigned(rh, xh) < 0 || (carry == 1 && rh == xh);
            if (out) {
                rl = (rl >>> 1) | (rh << 63);
                rh = (rh >>> 1) | Long.MIN_VALUE;
                xe++;
            }
            set(d, rh, rl, xe, xn);
        } else {
            rl = xl - yl;
            rh = xh - yh - (Long.compareUnsigned(xl, yl) < 0 ? 1 : 0);
            set(d, rh, rl, xe, xn);
        }
    }

    private static long mulHigh(long a, long b) {
        return X87Float.mulHigh(a, b);
    }

    /** d = a * b (the low half of the 256-bit product dropped). */
    void mul(int d, int a, int b) {
        if (zero(a) || zero(b)) {
            set(d, 0, 0, 0, neg[a] ^ neg[b]);
            return;
        }
        long ah = hi[a], al = lo[a], bh = hi[b], bl = lo[b];
        long p1h = mulHigh(ah, bh), p1l = ah * bh;
        long p2h = mulHigh(ah, bl), p2l = ah * bl;
        long p3h = mulHigh(al, bh), p3l = al * bh;
        long p4h = mulHigh(al, bl);
        long w1 = p2l + p3l;
        int k1 = Long.compareUnsigned(w1, p2l) < 0 ? 1 : 0;
        long w1b = w1 + p4h;
        k1 += Long.compareUnsigned(w1b, w1) < 0 ? 1 : 0;
        long w2 = p1l + p2h;
        int k2 = Long.compareUnsigned(w2, p1l) < 0 ? 1 : 0;
        long w2b = w2 + p3h;
        k2 += Long.compareUnsigned(w2b, w2) < 0 ? 1 : 0;
        long w2c = w2b + k1;
        k2 += Long.compareUnsigned(w2c, w2b) < 0 ? 1 : 0;
        long w3 = p1h + k2;
        int e = ex[a] + ex[b];
        boolean n = neg[a] ^ neg[b];
        if (w3 < 0) {
            set(d, w3, w2c, e + 1, n);
        } else {
            set(d, (w3 << 1) | (w2c >>> 63), (w2c << 1) | (w1b >>> 63), e, n);
        }
    }

    /** d = a / b (b non-zero), 128 quotient bits truncated. */
    void div(int d, int a, int b) {
        if (zero(a)) {
            set(d, 0, 0, 0, neg[a] ^ neg[b]);
            return;
        }
        long bh = hi[b], bl = lo[b];
        long rh = hi[a], rl = lo[a];
        int e = ex[a] - ex[b];
        boolean n = neg[a] ^ neg[b];
        boolean carry = false;
        if (Long.compareUnsigned(rh, bh) < 0 || (rh == bh && Long.compareUnsigned(rl, bl) < 0)) {
            carry = rh < 0;
            rh = (rh << 1) | (rl >>> 63);
            rl <<= 1;
            e--;
        }
        long qh = 0, ql = 0;
        for (int i = 0; i < 128; i++) {
            boolean ge = carry || Long.compareUnsigned(rh, bh) > 0 || (rh == bh && Long.compareUnsigned(rl, bl) >= 0);
            if (ge) {
                long nl = rl - bl;
                rh = rh - bh - (Long.compareUnsigned(rl, bl) < 0 ? 1 : 0);
                rl = nl;
            }
            qh = (qh << 1) | (ql >>> 63);
            ql = (ql << 1) | (ge ? 1 : 0);
            carry = rh < 0;
            rh = (rh << 1) | (rl >>> 63);
            rl <<= 1;
            if (!carry && (rh | rl) == 0) {
                int left = 127 - i;
                if (left >= 64) {
                    qh = ql << (left - 64);
                    ql = 0;
                } else if (left > 0) {
                    qh = (qh << left) | (ql >>> (64 - left));
                    ql <<= left;
                }
                break;
            }
        }
        set(d, qh, ql, e, n);
    }

    /** d = a / m for a small positive integer m. */
    void divInt(int d, int a, int m, int scratch) {
        fromLong(scratch, m);
        div(d, a, scratch);
    }

    /** The integer nearest to register a (|a| < 2^62). */
    long nearestInteger(int a) {
        if (zero(a) || ex[a] < -1) {
            return 0;
        }
        int sh = 63 - ex[a]; // integer part = hi >>> sh
        long ip = sh >= 64 ? 0 : hi[a] >>> sh;
        boolean half = sh >= 64 ? (sh == 64 && hi[a] < 0) : sh > 0 && ((hi[a] >>> (sh - 1)) & 1) != 0;
        if (half) {
            ip++;
        }
        return neg[a] ? -ip : ip;
    }
}

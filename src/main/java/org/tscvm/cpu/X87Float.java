package org.tscvm.cpu;

/**
 * 80-bit extended-precision arithmetic in software, written from the Intel SDM (Vol. 1 ch. 4
 * and 8) and the AMD APM: a value is a 64-bit significand with an explicit integer bit (bit 63)
 * and a 16-bit sign/exponent word (sign in bit 15, exponent biased by 16383). No Java
 * floating point is used: every result is computed exactly (128 bits plus a sticky bit) and
 * rounded once to the precision control (24, 53 or 64 bits) and the rounding control.
 *
 * <p>One instance per CPU; an operation leaves its result in {@link #sig}/{@link #se} and the
 * exceptions it raised in {@link #flags} (FSW bit positions IE..PE, plus {@link #C1} when the
 * result was rounded up), so nothing is allocated per instruction. The caller decides from
 * the masks in {@link #cw} whether the result is delivered (SDM 8.5: an unmasked IE, DE or ZE
 * leaves the destination unchanged; an unmasked OE or UE delivers the result with its
 * exponent adjusted by 24576 to a register, and nothing to memory).
 *
 * <p>Operands the SDM calls unsupported (pseudo-NaN, pseudo-infinity, unnormals) are invalid
 * (IE, result the real indefinite); pseudo-denormals are accepted as denormals (DE).
 * Tininess is detected before rounding, as on the x87.
 */
final class X87Float {
    static final int IE = 1, DE = 2, ZE = 4, OE = 8, UE = 16, PE = 32, SF = 64, ES = 128;
    static final int C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000, B = 0x8000;
    static final int BIAS = 16383, EMAX = 0x7fff, SIGN = 0x8000;
    /** The exponent adjustment of a register result under an unmasked overflow or underflow. */
    static final int WRAP = 24576;
    static final long INT_BIT = 1L << 63, QUIET = 1L << 62;
    /** The real indefinite: the QNaN every masked invalid operation without a NaN operand returns. */
    static final long INDEF_SIG = 0xc000000000000000L;
    static final int INDEF_SE = 0xffff;

    /** Operand classes. */
    static final int ZERO = 0, NORMAL = 1, DENORMAL = 2, INF = 3, QNAN = 4, SNAN = 5, UNSUPPORTED = 6;

    /** Rounding precisions in bits, and the target exponent ranges (biased like the 80-bit format). */
    static final int P24 = 24, P53 = 53, P64 = 64;
    static final int EMIN_X = 1, EMAX_X = 0x7ffe;
    static final int EMIN_D = BIAS - 1022, EMAX_D = BIAS + 1023;
    static final int EMIN_S = BIAS - 126, EMAX_S = BIAS + 127;

    long sig;
    int se;
    int flags;
    /** The FPU control word in force for the operation (masks, PC, RC). */
    int cw;

    // Unpacked operands: normalized significand (bit 63 set) and unbiased-able exponent (may go below 1).
    private long ma, mb;
    private int ea, eb;
    // 128-bit scratch.
    private long tHi, tLo;

    static int classify(long sig, int se) {
        int e = se & EMAX;
        if (e == EMAX) {
            if (sig >= 0) {
                return UNSUPPORTED; // pseudo-infinity or pseudo-NaN: the integer bit is clear
            }
            if ((sig << 1) == 0) {
                return INF;
            }
            return (sig & QUIET) != 0 ? QNAN : SNAN;
        }
        if (e == 0) {
            return sig == 0 ? ZERO : DENORMAL; // a pseudo-denormal (integer bit set) is a denormal operand
        }
        return sig < 0 ? NORMAL : UNSUPPORTED; // an unnormal: integer bit clear
    }

    static boolean isNan(int cls) {
        return cls == QNAN || cls == SNAN;
    }

    static boolean negative(int se) {
        return (se & SIGN) != 0;
    }

    /** The precision control of a control word in bits (PC = 01 is reserved; it rounds as 64). */
    static int precision(int cw) {
        switch ((cw >>> 8) & 3) {
            case 0: return P24;
            case 2: return P53;
            default: return P64;
        }
    }

    void set(long s, int e) {
        sig = s;
        se = e;
    }

    void indefinite() {
        flags |= IE;
        sig = INDEF_SIG;
        se = INDEF_SE;
    }

    /** An operand's significand normalized into {@link #ma}/{@link #ea} (finite, non-zero). */
    private void unpackA(long s, int sexp) {
        int e = sexp & EMAX;
        if (e == 0) {
            e = 1;
        }
        int z = Long.numberOfLeadingZeros(s);
        ma = s << z;
        ea = e - z;
    }

    private void unpackB(long s, int sexp) {
        int e = sexp & EMAX;
        if (e == 0) {
            e = 1;
        }
        int z = Long.numberOfLeadingZeros(s);
        mb = s << z;
        eb = e - z;
    }

    /**
     * NaN and unsupported-operand handling for two operands (SDM table 4-7): returns true when
     * the result is decided. An SNaN or unsupported operand raises IE; a NaN result is the
     * quieted NaN operand (of two NaNs: the QNaN over an SNaN, else the larger significand).
     */
    private boolean nan2(long aSig, int aSe, int ca, long bSig, int bSe, int cb) {
        if (ca == UNSUPPORTED || cb == UNSUPPORTED) {
            indefinite();
            return true;
        }
        boolean an = isNan(ca), bn = isNan(cb);
        if (!an && !bn) {
            return false;
        }
        if (ca == SNAN || cb == SNAN) {
            flags |= IE;
        }
        if (an && bn) {
            if (ca != cb) {
                if (ca == QNAN) {
                    set(aSig, aSe);
                } else {
                    set(bSig, bSe);
                }
            } else {
                int c = Long.compareUnsigned(aSig << 1, bSig << 1);
                if (c > 0 || (c == 0 && !negative(aSe))) {
                    set(aSig, aSe);
                } else {
                    set(bSig, bSe);
                }
            }
        } else if (an) {
            set(aSig, aSe);
        } else {
            set(bSig, bSe);
        }
        sig |= QUIET;
        return true;
    }

    /** One-operand NaN/unsupported handling: true when the result is decided. */
    private boolean nan1(long aSig, int aSe, int ca) {
        if (ca == UNSUPPORTED) {
            indefinite();
            return true;
        }
        if (isNan(ca)) {
            if (ca == SNAN) {
                flags |= IE;
            }
            set(aSig | QUIET, aSe);
            return true;
        }
        return false;
    }

    // ---- rounding ----

    /** Shifts tHi:tLo right by n, OR-ing the lost bits into the lowest bit. */
    private void shiftRightJam(long hi, long lo, int n) {
        if (n == 0) {
            tHi = hi;
            tLo = lo;
        } else if (n < 64) {
            boolean lost = (lo << (64 - n)) != 0;
            tLo = (lo >>> n) | (hi << (64 - n)) | (lost ? 1 : 0);
            tHi = hi >>> n;
        } else if (n < 128) {
            boolean lost = lo != 0 || (n > 64 && (hi << (128 - n)) != 0);
            tLo = (n == 64 ? hi : hi >>> (n - 64)) | (lost ? 1 : 0);
            tHi = 0;
        } else {
            tLo = (hi | lo) != 0 ? 1 : 0;
            tHi = 0;
        }
    }

    /**
     * Rounds the exact value (-1)^neg * hi:lo * 2^(e - BIAS - 63) (hi bit 63 set) to
     * {@code prec} bits in the exponent range [eMin, eMax] with the rounding control of
     * {@link #cw}, and packs it as an 80-bit value. Sets PE, C1 (rounded up), UE (tiny: before
     * rounding, and inexact unless UE is unmasked), OE. For the 80-bit range an unmasked OE or
     * UE wraps the exponent by 24576; for narrower ranges the caller stores nothing then.
     */
    void roundPack(boolean neg, int e, long hi, long lo, int prec, int eMin, int eMax) {
        int rc = (cw >>> 10) & 3;
        boolean extended = eMin == EMIN_X;
        boolean tiny = e < eMin;
        boolean wrapUnder = false;
        if (tiny && (cw & UE) == 0) {
            flags |= UE;
            if (extended && e + WRAP < eMin) {
                // Out of range even wrapped (FSCALE): a signed zero whatever the rounding (AMD host).
                flags |= PE;
                sig = 0;
                se = neg ? SIGN : 0;
                return;
            }
            // The register gets the result with its exponent wrapped (SDM 4.9.1.5).
            if (extended) {
                e += WRAP;
                wrapUnder = true;
                tiny = false;
            }
        }
        if (tiny) {
            shiftRightJam(hi, lo, (int) Math.min(200L, (long) eMin - e));
            hi = tHi;
            lo = tLo;
            e = eMin;
        }
        int drop = 64 - prec;
        long keep;
        boolean roundBit, sticky;
        if (drop == 0) {
            keep = hi;
            roundBit = lo < 0;
            sticky = (lo << 1) != 0;
        } else {
            long m = (1L << drop) - 1;
            long rest = hi & m;
            keep = hi & ~m;
            roundBit = ((rest >>> (drop - 1)) & 1) != 0;
            sticky = (rest & (m >>> 1)) != 0 || lo != 0;
        }
        boolean inexact = roundBit || sticky;
        boolean up;
        switch (rc) {
            case 0: up = roundBit && (sticky || ((keep >>> drop) & 1) != 0); break;
            case 1: up = inexact && neg; break;
            case 2: up = inexact && !neg; break;
            default: up = false;
        }
        if (up) {
            long nk = keep + (1L << drop);
            if (Long.compareUnsigned(nk, keep) < 0) {
                nk = INT_BIT;
                e++;
            }
            keep = nk;
        }
        if (inexact) {
            flags |= PE;
            if (up) {
                flags |= C1;
            }
            if (tiny) {
                flags |= UE;
            }
        }
        if (e > eMax && !wrapUnder && (cw & OE) == 0 && extended && e - WRAP > eMax) {
            // Out of range even wrapped (FSCALE): a signed infinity whatever the rounding (AMD host).
            flags |= OE | PE | C1;
            sig = INT_BIT;
            se = (neg ? SIGN : 0) | EMAX;
            return;
        }
        if (e > eMax && !wrapUnder) {
            if ((cw & OE) == 0) {
                flags |= OE;
                if (extended) {
                    e -= WRAP;
                } else {
                    sig = keep;
                    se = (neg ? SIGN : 0) | EMAX;
                    return;
                }
            } else {
                flags |= OE | PE;
                boolean toInf = rc == 0 || (rc == 1 && neg) || (rc == 2 && !neg);
                if (toInf) {
                    flags |= C1;
                    sig = INT_BIT;
                    se = (neg ? SIGN : 0) | EMAX;
                } else {
                    flags &= ~C1;
                    sig = -1L << drop;
                    se = (neg ? SIGN : 0) | eMax;
                }
                return;
            }
        }
        if (keep == 0) {
            sig = 0;
            se = neg ? SIGN : 0;
            return;
        }
        if (keep > 0) { // bit 63 clear: a denormal of the target range
            if (extended) {
                e = 0;
            } else {
                int z = Long.numberOfLeadingZeros(keep);
                keep <<= z;
                e -= z;
            }
        }
        sig = keep;
        se = (neg ? SIGN : 0) | e;
    }

    /** Rounds an 80-bit value (any class) to a narrower format's precision and range (FST m32/m64). */
    void roundTo(long s, int sexp, int prec, int eMin, int eMax) {
        flags = 0;
        int c = classify(s, sexp);
        switch (c) {
            case ZERO: case INF: set(s, sexp); return;
            case QNAN: set(s, sexp); return;
            case SNAN: flags |= IE; set(s | QUIET, sexp); return;
            case UNSUPPORTED: indefinite(); return;
            default: break; // a denormal source raises no DE on a store (as the AMD host)
        }
        unpackA(s, sexp);
        roundPack(negative(sexp), ea, ma, 0, prec, eMin, eMax);
    }

    // ---- arithmetic ----

    /** a + b, or a - b when {@code subtract}, rounded to {@code prec} bits. */
    void add(long aSig, int aSe, long bSig, int bSe, boolean subtract, int prec) {
        flags = 0;
        int ca = classify(aSig, aSe), cb = classify(bSig, bSe);
        if (nan2(aSig, aSe, ca, bSig, bSe, cb)) {
            return; // a NaN keeps its sign: subtraction does not negate it
        }
        if (subtract) {
            bSe ^= SIGN;
        }
        if (ca == INF || cb == INF) {
            if (ca == INF && cb == INF) {
                if (((aSe ^ bSe) & SIGN) != 0) {
                    indefinite();
                } else {
                    set(aSig, aSe);
                }
                return;
            }
            if (ca == DENORMAL || cb == DENORMAL) {
                flags |= DE;
            }
            if (ca == INF) {
                set(aSig, aSe);
            } else {
                set(bSig, bSe);
            }
            return;
        }
        if (ca == DENORMAL || cb == DENORMAL) {
            flags |= DE;
        }
        int rc = (cw >>> 10) & 3;
        if (ca == ZERO || cb == ZERO) {
            if (ca == ZERO && cb == ZERO) {
                boolean neg = ((aSe & bSe) & SIGN) != 0 || (((aSe ^ bSe) & SIGN) != 0 && rc == 1);
                set(0, neg ? SIGN : 0);
                return;
            }
            // x + 0: x rounded to the precision (a denormal is normalized where it can be).
            if (ca == ZERO) {
                unpackA(bSig, bSe);
                roundPack(negative(bSe), ea, ma, 0, prec, EMIN_X, EMAX_X);
            } else {
                unpackA(aSig, aSe);
                roundPack(negative(aSe), ea, ma, 0, prec, EMIN_X, EMAX_X);
            }
            return;
        }
        unpackA(aSig, aSe);
        unpackB(bSig, bSe);
        boolean negA = negative(aSe), negB = negative(bSe);
        // Order by magnitude: x is the larger exponent.
        long xm, ym;
        int xe, ye;
        boolean xneg;
        if (ea > eb || (ea == eb && Long.compareUnsigned(ma, mb) >= 0)) {
            xm = ma; xe = ea; ym = mb; ye = eb; xneg = negA;
        } else {
            xm = mb; xe = eb; ym = ma; ye = ea; xneg = negB;
        }
        shiftRightJam(ym, 0, (int) Math.min(200L, (long) xe - ye));
        long yh = tHi, yl = tLo;
        long hi, lo;
        int e = xe;
        if (negA == negB) {
            lo = yl;
            hi = xm + yh;
            if (Long.compareUnsigned(hi, xm) < 0) { // carry out: shift right by one
                boolean lost = (lo & 1) != 0;
                lo = (lo >>> 1) | (hi << 63) | (lost ? 1 : 0);
                hi = (hi >>> 1) | INT_BIT;
                e++;
            }
        } else {
            lo = -yl;
            hi = xm - yh - (yl != 0 ? 1 : 0);
            if (hi == 0 && lo == 0) {
                set(0, rc == 1 ? SIGN : 0);
                return;
            }
            int z = hi != 0 ? Long.numberOfLeadingZeros(hi) : 64 + Long.numberOfLeadingZeros(lo);
            if (z >= 64) {
                hi = lo << (z - 64);
                lo = 0;
            } else if (z > 0) {
                hi = (hi << z) | (lo >>> (64 - z));
                lo <<= z;
            }
            e -= z;
        }
        roundPack(xneg, e, hi, lo, prec, EMIN_X, EMAX_X);
    }

    /** The high 64 bits of the unsigned 128-bit product (JDK 17 has no unsignedMultiplyHigh). */
    static long mulHigh(long a, long b) {
        return Math.multiplyHigh(a, b) + ((a >> 63) & b) + ((b >> 63) & a);
    }

    void mul(long aSig, int aSe, long bSig, int bSe, int prec) {
        flags = 0;
        int ca = classify(aSig, aSe), cb = classify(bSig, bSe);
        if (nan2(aSig, aSe, ca, bSig, bSe, cb)) {
            return;
        }
        int sign = (aSe ^ bSe) & SIGN;
        if (ca == INF || cb == INF) {
            if (ca == ZERO || cb == ZERO) {
                indefinite();
                return;
            }
            if (ca == DENORMAL || cb == DENORMAL) {
                flags |= DE;
            }
            set(INT_BIT, sign | EMAX);
            return;
        }
        if (ca == DENORMAL || cb == DENORMAL) {
            flags |= DE;
        }
        if (ca == ZERO || cb == ZERO) {
            set(0, sign);
            return;
        }
        unpackA(aSig, aSe);
        unpackB(bSig, bSe);
        long hi = mulHigh(ma, mb), lo = ma * mb;
        int e = ea + eb - BIAS + 1;
        if (hi >= 0) { // product in [1, 2): normalize by one
            hi = (hi << 1) | (lo >>> 63);
            lo <<= 1;
            e--;
        }
        roundPack(sign != 0, e, hi, lo, prec, EMIN_X, EMAX_X);
    }

    void div(long aSig, int aSe, long bSig, int bSe, int prec) {
        flags = 0;
        int ca = classify(aSig, aSe), cb = classify(bSig, bSe);
        if (nan2(aSig, aSe, ca, bSig, bSe, cb)) {
            return;
        }
        int sign = (aSe ^ bSe) & SIGN;
        if (ca == INF) {
            if (cb == INF) {
                indefinite();
                return;
            }
            if (cb == DENORMAL) {
                flags |= DE;
            }
            set(INT_BIT, sign | EMAX);
            return;
        }
        if (cb == INF) {
            if (ca == DENORMAL) {
                flags |= DE;
            }
            set(0, sign);
            return;
        }
        if (cb == ZERO) {
            if (ca == ZERO) {
                indefinite();
                return;
            }
            flags |= ZE;
            set(INT_BIT, sign | EMAX);
            return;
        }
        if (ca == DENORMAL || cb == DENORMAL) {
            flags |= DE;
        }
        if (ca == ZERO) {
            set(0, sign);
            return;
        }
        unpackA(aSig, aSe);
        unpackB(bSig, bSe);
        int e = ea - eb + BIAS;
        // Restoring division: 65 quotient bits (the first is 1 when ma >= mb) and a sticky bit.
        long rem = ma;
        boolean carry = false;
        long q = 0;
        if (Long.compareUnsigned(ma, mb) < 0) {
            e--;
            carry = rem < 0;
            rem <<= 1;
        }
        long qlo = 0;
        for (int i = 0; i < 128; i++) {
            boolean ge = carry || Long.compareUnsigned(rem, mb) >= 0;
            if (ge) {
                rem -= mb;
            }
            if (i < 64) {
                q = (q << 1) | (ge ? 1 : 0);
            } else {
                qlo = (qlo << 1) | (ge ? 1 : 0);
            }
            carry = rem < 0;
            rem <<= 1;
            if (i >= 66 && rem == 0 && !carry) {
                qlo <<= (127 - i);
                break;
            }
        }
        if (rem != 0 || carry) {
            qlo |= 1;
        }
        roundPack(sign != 0, e, q, qlo, prec, EMIN_X, EMAX_X);
    }

    void sqrt(long aSig, int aSe, int prec) {
        flags = 0;
        int ca = classify(aSig, aSe);
        if (nan1(aSig, aSe, ca)) {
            return;
        }
        boolean neg = negative(aSe);
        if (ca == ZERO) {
            set(aSig, aSe);
            return;
        }
        if (neg) {
            indefinite();
            return;
        }
        if (ca == INF) {
            set(aSig, aSe);
            return;
        }
        if (ca == DENORMAL) {
            flags |= DE;
        }
        unpackA(aSig, aSe);
        int ue = ea - BIAS; // value = (ma / 2^63) * 2^ue
        // sqrt(value) = sqrt(N) * 2^(re - 65) with N = ma * 2^(odd + 67) (131 or 132 bits) and
        // ue = 2 re + odd; the root r = floor(sqrt(N)) has exactly 66 bits (top bit 65).
        int odd = ue & 1;
        int re = (ue - odd) >> 1;
        int shift = odd + 67;
        long remHi = 0, remLo = 0;
        long rootHi = 0, rootLo = 0;
        for (int i = 130; i >= 0; i -= 2) {
            int b1 = radBit(ma, i + 1 - shift), b0 = radBit(ma, i - shift);
            remHi = (remHi << 2) | (remLo >>> 62);
            remLo = (remLo << 2) | (b1 << 1) | b0;
            long trialHi = (rootHi << 2) | (rootLo >>> 62);
            long trialLo = (rootLo << 2) | 1;
            boolean ge = Long.compareUnsigned(remHi, trialHi) > 0
                    || (remHi == trialHi && Long.compareUnsigned(remLo, trialLo) >= 0);
            rootHi = (rootHi << 1) | (rootLo >>> 63);
            rootLo <<= 1;
            if (ge) {
                long nLo = remLo - trialLo;
                remHi = remHi - trialHi - (Long.compareUnsigned(remLo, trialLo) < 0 ? 1 : 0);
                remLo = nLo;
                rootLo |= 1;
            }
        }
        long hi = (rootHi << 62) | (rootLo >>> 2);
        long lo = (rootLo << 62) | ((remHi | remLo) != 0 ? 1 : 0);
        roundPack(false, BIAS + re, hi, lo, prec, EMIN_X, EMAX_X);
    }

    private static int radBit(long m, int pos) {
        if (pos < 0 || pos > 63) {
            return 0;
        }
        return (int) ((m >>> pos) & 1);
    }

    // ---- compares ----

    /** Compare results: 0 greater, 1 less, 2 equal, 3 unordered. Sets IE for SNaN/unsupported, or any NaN when {@code signalQuiet}. */
    int compare(long aSig, int aSe, long bSig, int bSe, boolean signalQuiet) {
        flags = 0;
        int ca = classify(aSig, aSe), cb = classify(bSig, bSe);
        if (ca == UNSUPPORTED || cb == UNSUPPORTED || isNan(ca) || isNan(cb)) {
            if (ca == UNSUPPORTED || cb == UNSUPPORTED || ca == SNAN || cb == SNAN || signalQuiet) {
                flags |= IE;
            }
            return 3;
        }
        if (ca == DENORMAL || cb == DENORMAL) {
            flags |= DE;
        }
        if (ca == ZERO && cb == ZERO) {
            return 2;
        }
        boolean na = negative(aSe), nb = negative(bSe);
        if (ca == ZERO) {
            return nb ? 0 : 1;
        }
        if (cb == ZERO) {
            return na ? 1 : 0;
        }
        if (na != nb) {
            return na ? 1 : 0;
        }
        int mag;
        if (ca == INF || cb == INF) {
            mag = ca == cb ? 0 : ca == INF ? 1 : -1;
        } else {
            unpackA(aSig, aSe);
            unpackB(bSig, bSe);
            mag = ea != eb ? Integer.compare(ea, eb) : Long.compareUnsigned(ma, mb);
        }
        if (mag == 0) {
            return 2;
        }
        return (mag > 0) != na ? 0 : 1;
    }

    // ---- integers ----

    /** Loads a signed integer exactly. */
    void fromLong(long v) {
        flags = 0;
        if (v == 0) {
            set(0, 0);
            return;
        }
        int sign = v < 0 ? SIGN : 0;
        long m = v < 0 ? -v : v; // Long.MIN_VALUE stays 2^63 as unsigned
        int z = Long.numberOfLeadingZeros(m);
        set(m << z, sign | (BIAS + 63 - z));
    }

    /**
     * Rounds to an integer of {@code bits} bits (16, 32, 64) with rounding control {@code rc};
     * returns the integer, or the integer indefinite (most negative) with IE set when it does
     * not fit or the operand is a NaN, infinity or unsupported. Sets PE and C1 (rounded up).
     */
    long toInteger(long s, int sexp, int bits, int rc) {
        flags = 0;
        long indef = 1L << (bits - 1);
        int c = classify(s, sexp);
        if (c == INF || c == UNSUPPORTED || isNan(c)) {
            flags |= IE;
            return -indef;
        }
        if (c == ZERO) {
            return 0;
        }
        boolean neg = negative(sexp); // a denormal raises no DE on FIST/FBSTP (as the AMD host)
        unpackA(s, sexp);
        int ue = ea - BIAS;
        if (ue >= 64) {
            flags |= IE;
            return -indef;
        }
        long ip = integerPart(ue, neg, rc); // magnitude
        if ((integerRounding & C1) != 0 && ip == 0) { // rounded up to 2^64
            flags |= IE;
            return -indef;
        }
        // Range: [-2^(bits-1), 2^(bits-1) - 1]
        if (neg ? Long.compareUnsigned(ip, indef) > 0 : Long.compareUnsigned(ip, indef - 1) > 0 || (bits == 64 && ip < 0)) {
            flags |= IE;
            return -indef;
        }
        flags |= integerRounding;
        return neg ? -ip : ip;
    }

    /** What {@link #integerPart} did: PE when inexact, with C1 when it rounded the magnitude up. */
    private int integerRounding;

    /**
     * The magnitude of the unpacked operand (ma, unbiased exponent ue < 64) rounded to an
     * integer in rounding control rc for a value of sign neg; sets {@link #integerRounding}.
     * Rounding 2^64 - 1 up wraps to 0. The flags are left to the caller, since FIST's
     * invalid result reports no PE.
     */
    private long integerPart(int ue, boolean neg, int rc) {
        long ip;
        boolean roundBit, sticky;
        if (ue < 0) {
            ip = 0;
            roundBit = ue == -1;
            sticky = ue == -1 ? (ma << 1) != 0 : true;
        } else {
            int sh = 63 - ue;
            ip = sh == 0 ? ma : ma >>> sh;
            long frac = sh == 0 ? 0 : ma << (64 - sh);
            roundBit = frac < 0;
            sticky = (frac << 1) != 0;
        }
        boolean inexact = roundBit || sticky;
        boolean up;
        switch (rc) {
            case 0: up = roundBit && (sticky || (ip & 1) != 0); break;
            case 1: up = inexact && neg; break;
            case 2: up = inexact && !neg; break;
            default: up = false;
        }
        integerRounding = inexact ? PE | (up ? C1 : 0) : 0;
        return up ? ip + 1 : ip;
    }

    /** FRNDINT: rounds to an integral value with rounding control {@code rc}. */
    void roundInt(long s, int sexp, int rc) {
        flags = 0;
        int c = classify(s, sexp);
        if (nan1(s, sexp, c)) {
            return;
        }
        if (c == ZERO || c == INF) {
            set(s, sexp);
            return;
        }
        if (c == DENORMAL) {
            flags |= DE;
        }
        boolean neg = negative(sexp);
        unpackA(s, sexp);
        int ue = ea - BIAS;
        if (ue >= 63) {
            set(ma, (sexp & SIGN) | ea);
            return;
        }
        long ip = integerPart(ue, neg, rc);
        flags |= integerRounding;
        if (ip == 0) {
            set(0, sexp & SIGN);
            return;
        }
        int z = Long.numberOfLeadingZeros(ip);
        set(ip << z, (sexp & SIGN) | (BIAS + 63 - z));
    }

    // ---- scaling and decomposition ----

    /** FSCALE: a * 2^trunc(b). */
    void scale(long aSig, int aSe, long bSig, int bSe) {
        flags = 0;
        int ca = classify(aSig, aSe), cb = classify(bSig, bSe);
        if (nan2(aSig, aSe, ca, bSig, bSe, cb)) {
            return;
        }
        if (ca == DENORMAL || cb == DENORMAL) {
            flags |= DE;
        }
        if (cb == INF) {
            boolean bneg = negative(bSe);
            if (ca == ZERO) {
                if (!bneg) {
                    indefinite();
                    flags &= ~DE;
                    return;
                }
                set(aSig, aSe);
                return;
            }
            if (ca == INF) {
                if (bneg) {
                    indefinite();
                    flags &= ~DE;
                    return;
                }
                set(aSig, aSe);
                return;
            }
            set(bneg ? 0 : INT_BIT, (aSe & SIGN) | (bneg ? 0 : EMAX));
            return;
        }
        if (ca == ZERO || ca == INF) {
            set(aSig, aSe);
            return;
        }
        // trunc(b) as an int, saturated well beyond the exponent range.
        int n;
        if (cb == ZERO) {
            n = 0;
        } else {
            unpackB(bSig, bSe);
            int ue = eb - BIAS;
            if (ue < 0) {
                n = 0;
            } else if (ue >= 30) {
                n = 1 << 30;
            } else {
                n = (int) (mb >>> (63 - ue));
            }
            if (negative(bSe)) {
                n = -n;
            }
        }
        unpackA(aSig, aSe);
        long e = (long) ea + n;
        int ei = (int) Math.max(-(1 << 30), Math.min(1 << 30, e));
        roundPack(negative(aSe), ei, ma, 0, P64, EMIN_X, EMAX_X);
    }
}

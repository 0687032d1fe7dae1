package org.tscvm.cpu;

import static org.tscvm.cpu.Sse.DE;
import static org.tscvm.cpu.Sse.IE;

/**
 * SSE/SSE2 floating point: the packed and scalar arithmetic forms (lanes through
 * {@link SoftFp}), CMPPS/CMPPD/CMPSS/CMPSD with their eight predicates, COMISS/UCOMISS/
 * COMISD/UCOMISD, and the approximations RCPPS/RSQRTPS. Every form gathers its lanes' flags,
 * lets {@link Sse#commitFlags} fault on an unmasked exception, and only then writes.
 */
final class SseFloat {
    private SseFloat() {
    }

    private static int kind(Op op) {
        switch (op) {
            case ADDPS: case ADDSS: case ADDPD: case ADDSD: return SoftFp.ADD;
            case SUBPS: case SUBSS: case SUBPD: case SUBSD: return SoftFp.SUB;
            case MULPS: case MULSS: case MULPD: case MULSD: return SoftFp.MUL;
            case DIVPS: case DIVSS: case DIVPD: case DIVSD: return SoftFp.DIV;
            case MINPS: case MINSS: case MINPD: case MINSD: return SoftFp.MIN;
            case MAXPS: case MAXSS: case MAXPD: case MAXSD: return SoftFp.MAX;
            default: return SoftFp.SQRT;
        }
    }

    private static boolean scalar(Op op) {
        switch (op) {
            case ADDSS: case SUBSS: case MULSS: case DIVSS: case MINSS: case MAXSS: case SQRTSS:
            case ADDSD: case SUBSD: case MULSD: case DIVSD: case MINSD: case MAXSD: case SQRTSD:
            case CMPSS: case CMPSD: case RCPSS: case RSQRTSS:
                return true;
            default:
                return false;
        }
    }

    /** ADD/SUB/MUL/DIV/MIN/MAX/SQRT PS and SS. */
    static void single(CpuExec c, Insn d) {
        int op = kind(d.op);
        int r = 2 * d.reg;
        if (scalar(d.op)) {
            int b = Sse.loadE32(c, d);
            long res = SoftFp.single(c, op, (int) c.xmm[r], b) & 0xffffffffL;
            Sse.commitFlags(c);
            c.xmm[r] = (c.xmm[r] & 0xffffffff00000000L) | res;
            return;
        }
        Sse.loadE128(c, d);
        long lo = lanesSingle(c, op, c.xmm[r], c.sseLo);
        long hi = lanesSingle(c, op, c.xmm[r + 1], c.sseHi);
        Sse.commitFlags(c);
        Sse.set(c, d.reg, lo, hi);
    }

    private static long lanesSingle(CpuExec c, int op, long a, long b) {
        return pairSingle(c, op, (int) a, (int) b, op, (int) (a >>> 32), (int) (b >>> 32));
    }

    /** ADD/SUB/MUL/DIV/MIN/MAX/SQRT PD and SD. */
    static void dbl(CpuExec c, Insn d) {
        int op = kind(d.op);
        int r = 2 * d.reg;
        if (scalar(d.op)) {
            long b = Sse.loadE64(c, d);
            long res = SoftFp.dbl(c, op, c.xmm[r], b);
            Sse.commitFlags(c);
            c.xmm[r] = res;
            return;
        }
        Sse.loadE128(c, d);
        long lo = SoftFp.dbl(c, op, c.xmm[r], c.sseLo);
        long hi = SoftFp.dbl(c, op, c.xmm[r + 1], c.sseHi);
        Sse.commitFlags(c);
        Sse.set(c, d.reg, lo, hi);
    }

    // ---- compares ----

    private static final int LESS = 0, EQUAL = 1, GREATER = 2, UNORDERED = 3;

    /** A predicate 0-7 (EQ LT LE UNORD NEQ NLT NLE ORD) on a relation of {@link #compareLanes}. */
    private static boolean predicate(int p, int relation) {
        switch (p & 7) {
            case 0: return relation == EQUAL;
            case 1: return relation == LESS;
            case 2: return relation == LESS || relation == EQUAL;
            case 3: return relation == UNORDERED;
            case 4: return relation != EQUAL;
            case 5: return relation != LESS;
            case 6: return relation != LESS && relation != EQUAL;
            default: return relation != UNORDERED;
        }
    }

    /** LT, LE, NLT and NLE signal invalid on a QNaN too. */
    private static boolean signaling(int p) {
        p &= 3;
        return p == 1 || p == 2;
    }

    /**
     * The relation of two lanes (singles zero-extended when {@code dbl} is false) after DAZ, for
     * CMP and (U)COMI: IE for an SNaN, or for any NaN when {@code signalQuiet}; DE for a
     * denormal operand of an ordered compare.
     */
    private static int compareLanes(CpuExec c, long a, long b, boolean dbl, boolean signalQuiet) {
        a = SoftFp.daz(c, a, dbl);
        b = SoftFp.daz(c, b, dbl);
        boolean unordered = SoftFp.isNaN(a, dbl) || SoftFp.isNaN(b, dbl);
        if (SoftFp.isSNaN(a, dbl) || SoftFp.isSNaN(b, dbl) || (unordered && signalQuiet)) {
            c.sseFlags |= IE;
        }
        if (unordered) {
            return UNORDERED;
        }
        if (SoftFp.isDenormal(a, dbl) || SoftFp.isDenormal(b, dbl)) {
            c.sseFlags |= DE;
        }
        double x = SoftFp.value(a, dbl), y = SoftFp.value(b, dbl);
        return x < y ? LESS : x > y ? GREATER : EQUAL;
    }

    private static boolean cmpSingleLane(CpuExec c, int p, int a, int b) {
        return predicate(p, compareLanes(c, a & 0xffffffffL, b & 0xffffffffL, false, signaling(p)));
    }

    private static boolean cmpDoubleLane(CpuExec c, int p, long a, long b) {
        return predicate(p, compareLanes(c, a, b, true, signaling(p)));
    }

    /** CMPPS/CMPSS xmm1, xmm2/m, imm8: all ones or zeros per lane. */
    static void cmpSingle(CpuExec c, Insn d) {
        int p = (int) d.imm;
        int r = 2 * d.reg;
        if (scalar(d.op)) {
            int b = Sse.loadE32(c, d);
            long res = cmpSingleLane(c, p, (int) c.xmm[r], b) ? 0xffffffffL : 0;
            Sse.commitFlags(c);
            c.xmm[r] = (c.xmm[r] & 0xffffffff00000000L) | res;
            return;
        }
        Sse.loadE128(c, d);
        long lo = 0, hi = 0;
        for (int i = 0; i < 2; i++) {
            if (cmpSingleLane(c, p, (int) (c.xmm[r] >>> (32 * i)), (int) (c.sseLo >>> (32 * i)))) {
                lo |= 0xffffffffL << (32 * i);
            }
        }
        for (int i = 0; i < 2; i++) {
            if (cmpSingleLane(c, p, (int) (c.xmm[r + 1] >>> (32 * i)), (int) (c.sseHi >>> (32 * i)))) {
                hi |= 0xffffffffL << (32 * i);
            }
        }
        Sse.commitFlags(c);
        Sse.set(c, d.reg, lo, hi);
    }

    /** CMPPD/CMPSD xmm1, xmm2/m, imm8. */
    static void cmpDouble(CpuExec c, Insn d) {
        int p = (int) d.imm;
        int r = 2 * d.reg;
        if (scalar(d.op)) {
            long b = Sse.loadE64(c, d);
            long res = cmpDoubleLane(c, p, c.xmm[r], b) ? -1L : 0;
            Sse.commitFlags(c);
            c.xmm[r] = res;
            return;
        }
        Sse.loadE128(c, d);
        long lo = cmpDoubleLane(c, p, c.xmm[r], c.sseLo) ? -1L : 0;
        long hi = cmpDoubleLane(c, p, c.xmm[r + 1], c.sseHi) ? -1L : 0;
        Sse.commitFlags(c);
        Sse.set(c, d.reg, lo, hi);
    }

    /** COMISS/UCOMISS: ZF PF CF = 111 unordered, 000 greater, 001 less, 100 equal; OF SF AF cleared. */
    static void comiss(CpuExec c, Insn d) {
        long a = c.xmm[2 * d.reg] & 0xffffffffL;
        long b = Sse.loadE32(c, d) & 0xffffffffL;
        int relation = compareLanes(c, a, b, false, d.op == Op.COMISS);
        Sse.commitFlags(c);
        setCompareFlags(c, relation);
    }

    /** COMISD/UCOMISD. */
    static void comisd(CpuExec c, Insn d) {
        long a = c.xmm[2 * d.reg];
        long b = Sse.loadE64(c, d);
        int relation = compareLanes(c, a, b, true, d.op == Op.COMISD);
        Sse.commitFlags(c);
        setCompareFlags(c, relation);
    }

    private static void setCompareFlags(CpuExec c, int relation) {
        long f;
        switch (relation) {
            case UNORDERED: f = CpuState.ZF | CpuState.PF | CpuState.CF; break;
            case GREATER: f = 0; break;
            case LESS: f = CpuState.CF; break;
            default: f = CpuState.ZF;
        }
        c.setArith(f);
    }

    // ---- approximations ----

    /**
     * RCPPS/RCPSS/RSQRTPS/RSQRTSS: the SDM promises a relative error of at most 1.5 * 2^-12 and
     * leaves the bits to the implementation (Intel and AMD differ). tscvm returns the exact
     * reciprocal (square root reciprocal) rounded to 12 significant bits, which meets the bound.
     * Denormal inputs count as zeros and tiny results flush to zero, whatever MXCSR says; no
     * flags are set (SDM RCPPS, "SIMD Floating-Point Exceptions: None").
     */
    static void approximate(CpuExec c, Insn d) {
        boolean sqrt = d.op == Op.RSQRTPS || d.op == Op.RSQRTSS;
        int r = 2 * d.reg;
        if (scalar(d.op)) {
            long res = approx(Sse.loadE32(c, d), sqrt) & 0xffffffffL;
            c.xmm[r] = (c.xmm[r] & 0xffffffff00000000L) | res;
            return;
        }
        Sse.loadE128(c, d);
        long lo = (approx((int) c.sseLo, sqrt) & 0xffffffffL) | (long) approx((int) (c.sseLo >>> 32), sqrt) << 32;
        long hi = (approx((int) c.sseHi, sqrt) & 0xffffffffL) | (long) approx((int) (c.sseHi >>> 32), sqrt) << 32;
        Sse.set(c, d.reg, lo, hi);
    }

    static int approx(int a, boolean sqrt) {
        if (SoftFp.isNaN(a)) {
            return a | SoftFp.F_QUIET;
        }
        int sign = a & SoftFp.F_SIGN;
        if ((a & SoftFp.F_INF) == 0) { // zero or denormal
            return sign | SoftFp.F_INF;
        }
        if ((a & ~SoftFp.F_SIGN) == SoftFp.F_INF) {
            return sqrt && sign != 0 ? SoftFp.F_DEFAULT_NAN : sign;
        }
        if (sqrt && sign != 0) {
            return SoftFp.F_DEFAULT_NAN;
        }
        double x = Math.abs((double) Float.intBitsToFloat(a));
        double v = sqrt ? 1 / Math.sqrt(x) : 1 / x;
        if (v <= 0x1p-126) { // AMD hosts flush 1/2^126 too (its approximation falls below 2^-126)
            return sign;
        }
        long bits = Double.doubleToRawLongBits(v);
        bits = (bits + (1L << 40)) & ~((1L << 41) - 1); // 12 significant bits, to nearest
        return sign | Float.floatToRawIntBits((float) Double.longBitsToDouble(bits));
    }

    /**
     * HADDPS/HSUBPS/ADDSUBPS (SSE3). HADD: d0+d1, d2+d3, s0+s1, s2+s3 (the lower element is
     * the first operand of each, for the NaN rules); HSUB subtracts the higher; ADDSUB: d0-s0,
     * d1+s1, d2-s2, d3+s3.
     */
    static void horizontalSingle(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        int r = 2 * d.reg;
        long a = c.xmm[r], b = c.xmm[r + 1];
        long lo, hi;
        if (d.op == Op.ADDSUBPS) {
            lo = pairSingle(c, SoftFp.SUB, (int) a, (int) c.sseLo, SoftFp.ADD, (int) (a >>> 32), (int) (c.sseLo >>> 32));
            hi = pairSingle(c, SoftFp.SUB, (int) b, (int) c.sseHi, SoftFp.ADD, (int) (b >>> 32), (int) (c.sseHi >>> 32));
        } else {
            int op = d.op == Op.HADDPS ? SoftFp.ADD : SoftFp.SUB;
            lo = pairSingle(c, op, (int) a, (int) (a >>> 32), op, (int) b, (int) (b >>> 32));
            hi = pairSingle(c, op, (int) c.sseLo, (int) (c.sseLo >>> 32), op, (int) c.sseHi, (int) (c.sseHi >>> 32));
        }
        Sse.commitFlags(c);
        Sse.set(c, d.reg, lo, hi);
    }

    private static long pairSingle(CpuExec c, int op0, int x0, int y0, int op1, int x1, int y1) {
        long l0 = SoftFp.single(c, op0, x0, y0) & 0xffffffffL;
        long l1 = SoftFp.single(c, op1, x1, y1) & 0xffffffffL;
        return l0 | l1 << 32;
    }

    /** HADDPD/HSUBPD/ADDSUBPD (SSE3): d0+d1, s0+s1 (HSUB: minus); ADDSUB: d0-s0, d1+s1. */
    static void horizontalDouble(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        int r = 2 * d.reg;
        long a = c.xmm[r], b = c.xmm[r + 1];
        long lo, hi;
        if (d.op == Op.ADDSUBPD) {
            lo = SoftFp.dbl(c, SoftFp.SUB, a, c.sseLo);
            hi = SoftFp.dbl(c, SoftFp.ADD, b, c.sseHi);
        } else {
            int op = d.op == Op.HADDPD ? SoftFp.ADD : SoftFp.SUB;
            lo = SoftFp.dbl(c, op, a, b);
            hi = SoftFp.dbl(c, op, c.sseLo, c.sseHi);
        }
        Sse.commitFlags(c);
        Sse.set(c, d.reg, lo, hi);
    }

    // ---- SSE4.1 ----

    /** The ROUND* rounding: imm8[2] set takes MXCSR.RC, else imm8[1:0]; imm8[3] suppresses PE. */
    private static double roundIntegral(CpuExec c, double x, int imm) {
        int mode = (imm & 4) != 0 ? (c.mxcsr >>> 13) & 3 : imm & 3;
        double r = SoftFp.roundIntegral(x, mode);
        if (r != x && (imm & 8) == 0) {
            c.sseFlags |= Sse.PE;
        }
        return r;
    }

    /**
     * One ROUNDPS/ROUNDSS ({@code dbl} false, a zero-extended) or ROUNDPD/ROUNDSD lane: an SNaN
     * is quieted with IE, a QNaN passes; no DE (SDM ROUNDPS).
     */
    private static long roundLane(CpuExec c, long a, int imm, boolean dbl) {
        a = SoftFp.daz(c, a, dbl);
        if (SoftFp.isNaN(a, dbl)) {
            if (SoftFp.isSNaN(a, dbl)) {
                c.sseFlags |= IE;
            }
            return a | (dbl ? SoftFp.D_QUIET : SoftFp.F_QUIET);
        }
        return SoftFp.bits(roundIntegral(c, SoftFp.value(a, dbl), imm), dbl);
    }

    private static long roundSingleLane(CpuExec c, int a, int imm) {
        return roundLane(c, a & 0xffffffffL, imm, false);
    }

    /** ROUNDPS/ROUNDSS (SSE4.1): singles to integral values. */
    static void roundSingle(CpuExec c, Insn d) {
        int imm = (int) d.imm;
        int r = 2 * d.reg;
        if (d.op == Op.ROUNDSS) {
            long res = roundSingleLane(c, Sse.loadE32(c, d), imm);
            Sse.commitFlags(c);
            c.xmm[r] = (c.xmm[r] & 0xffffffff00000000L) | res;
            return;
        }
        Sse.loadE128(c, d);
        long lo = roundSingleLane(c, (int) c.sseLo, imm) | roundSingleLane(c, (int) (c.sseLo >>> 32), imm) << 32;
        long hi = roundSingleLane(c, (int) c.sseHi, imm) | roundSingleLane(c, (int) (c.sseHi >>> 32), imm) << 32;
        Sse.commitFlags(c);
        Sse.set(c, d.reg, lo, hi);
    }

    /** ROUNDPD/ROUNDSD (SSE4.1): doubles to integral values. */
    static void roundDouble(CpuExec c, Insn d) {
        int imm = (int) d.imm;
        int r = 2 * d.reg;
        if (d.op == Op.ROUNDSD) {
            long res = roundLane(c, Sse.loadE64(c, d), imm, true);
            Sse.commitFlags(c);
            c.xmm[r] = res;
            return;
        }
        Sse.loadE128(c, d);
        long lo = roundLane(c, c.sseLo, imm, true);
        long hi = roundLane(c, c.sseHi, imm, true);
        Sse.commitFlags(c);
        Sse.set(c, d.reg, lo, hi);
    }

    /**
     * DPPS (SSE4.1): the products of the elements selected by imm8[7:4] (+0 for the others),
     * summed as (p0 + p1) + (p2 + p3) with each step rounded, into the elements imm8[3:0]
     * selects (+0 elsewhere). Each stage's flags reach MXCSR before the next stage runs.
     */
    static void dpps(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        int imm = (int) d.imm;
        long a = c.xmm[2 * d.reg], b = c.xmm[2 * d.reg + 1];
        int p0 = dpProduct(c, imm, 0, (int) a, (int) c.sseLo);
        int p1 = dpProduct(c, imm, 1, (int) (a >>> 32), (int) (c.sseLo >>> 32));
        int p2 = dpProduct(c, imm, 2, (int) b, (int) c.sseHi);
        int p3 = dpProduct(c, imm, 3, (int) (b >>> 32), (int) (c.sseHi >>> 32));
        // Exceptions are taken stage by stage, in the order of execution (SDM DPPS): an
        // unmasked one in the products faults before the additions run.
        Sse.commitFlags(c);
        int s01 = SoftFp.single(c, SoftFp.ADD, p0, p1);
        int s23 = SoftFp.single(c, SoftFp.ADD, p2, p3);
        Sse.commitFlags(c);
        long sum = SoftFp.single(c, SoftFp.ADD, s01, s23) & 0xffffffffL;
        Sse.commitFlags(c);
        long lo = ((imm & 1) != 0 ? sum : 0) | ((imm & 2) != 0 ? sum << 32 : 0);
        long hi = ((imm & 4) != 0 ? sum : 0) | ((imm & 8) != 0 ? sum << 32 : 0);
        Sse.set(c, d.reg, lo, hi);
    }

    private static int dpProduct(CpuExec c, int imm, int i, int x, int y) {
        return (imm >>> (4 + i) & 1) != 0 ? SoftFp.single(c, SoftFp.MUL, x, y) : 0;
    }

    /** DPPD (SSE4.1): p0 + p1 of the products imm8[5:4] selects, into the elements imm8[1:0] selects. */
    static void dppd(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        int imm = (int) d.imm;
        int r = 2 * d.reg;
        long p0 = (imm & 0x10) != 0 ? SoftFp.dbl(c, SoftFp.MUL, c.xmm[r], c.sseLo) : 0;
        long p1 = (imm & 0x20) != 0 ? SoftFp.dbl(c, SoftFp.MUL, c.xmm[r + 1], c.sseHi) : 0;
        Sse.commitFlags(c); // stage by stage, as DPPS
        long sum = SoftFp.dbl(c, SoftFp.ADD, p0, p1);
        Sse.commitFlags(c);
        Sse.set(c, d.reg, (imm & 1) != 0 ? sum : 0, (imm & 2) != 0 ? sum : 0);
    }
}

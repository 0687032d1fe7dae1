package org.tscvm.cpu;

import static org.tscvm.cpu.Sse.DE;
import static org.tscvm.cpu.Sse.IE;
import static org.tscvm.cpu.Sse.PE;

/**
 * SSE/SSE2 conversions between integers, singles and doubles. Integer results of NaNs and of
 * values out of range are the integer indefinite (0x80000000 or 0x8000000000000000) with IE;
 * the T forms truncate, the others round by MXCSR.RC; an inexact result sets PE.
 */
final class SseConvert {
    private SseConvert() {
    }

    /** CVTSI2SS xmm, r/m32 or r/m64 (REX.W). */
    static void cvtsi2ss(CpuExec c, Insn d) {
        long v = d.opSize == 8 ? c.readE(d, 8) : (int) c.readE(d, 4);
        long res = intToSingle(c, v) & 0xffffffffL;
        Sse.commitFlags(c);
        int r = 2 * d.reg;
        c.xmm[r] = (c.xmm[r] & 0xffffffff00000000L) | res;
    }

    /** CVTSI2SD xmm, r/m32 or r/m64 (REX.W). */
    static void cvtsi2sd(CpuExec c, Insn d) {
        long v = d.opSize == 8 ? c.readE(d, 8) : (int) c.readE(d, 4);
        long res = intToDouble(c, v);
        Sse.commitFlags(c);
        c.xmm[2 * d.reg] = res;
    }

    /** The exact error sign of (double) v as a magnitude: Java rounds long to double to nearest. */
    private static int conversionError(long v, double x) {
        if (Math.abs(x) >= 0x1p63) {
            return v == Long.MIN_VALUE ? 0 : -1; // x is +2^63 and v below it
        }
        long back = (long) x;
        int s = Long.signum(v - back);
        return x < 0 ? -s : s;
    }

    static int intToSingle(CpuExec c, long v) {
        if (v == 0) {
            return 0;
        }
        double x = (double) v;
        return (int) SoftFp.round(c, x < 0, Math.abs(x), conversionError(v, x), 0, false);
    }

    static long intToDouble(CpuExec c, long v) {
        if (v == 0) {
            return 0;
        }
        double x = (double) v;
        return SoftFp.round(c, x < 0, Math.abs(x), conversionError(v, x), 0, true);
    }

    /**
     * A double (a single widened exactly) to a signed integer of {@code bits} 32 or 64, rounded
     * by MXCSR.RC or truncated; IE and the indefinite integer for NaN and out of range.
     */
    static long toInt(CpuExec c, double x, int bits, boolean truncate) {
        long indefinite = bits == 64 ? Long.MIN_VALUE : 0x80000000L;
        if (Double.isNaN(x)) {
            c.sseFlags |= IE;
            return indefinite;
        }
        int mode = truncate ? Sse.RC_ZERO : (c.mxcsr >>> 13) & 3;
        double r = SoftFp.roundIntegral(x, mode);
        double limit = bits == 64 ? 0x1p63 : 0x1p31;
        if (!(r >= -limit && r < limit)) {
            c.sseFlags |= IE;
            return indefinite;
        }
        if (r != x) {
            c.sseFlags |= PE;
        }
        long v = (long) r;
        return bits == 64 ? v : v & 0xffffffffL;
    }

    /** CVTSS2SI/CVTTSS2SI r32/r64, xmm/m32. */
    static void cvtss2si(CpuExec c, Insn d) {
        int a = SoftFp.daz(c, Sse.loadE32(c, d));
        int bits = d.opSize == 8 ? 64 : 32;
        long v = toInt(c, Float.intBitsToFloat(a), bits, d.op == Op.CVTTSS2SI);
        Sse.commitFlags(c);
        c.setReg(bits / 8, d.reg, v);
    }

    /** CVTSD2SI/CVTTSD2SI r32/r64, xmm/m64. */
    static void cvtsd2si(CpuExec c, Insn d) {
        long a = SoftFp.daz(c, Sse.loadE64(c, d));
        int bits = d.opSize == 8 ? 64 : 32;
        long v = toInt(c, Double.longBitsToDouble(a), bits, d.op == Op.CVTTSD2SI);
        Sse.commitFlags(c);
        c.setReg(bits / 8, d.reg, v);
    }

    /** A single to a double: exact; an SNaN is quieted with IE, a denormal sets DE. */
    static long singleToDouble(CpuExec c, int a) {
        a = SoftFp.daz(c, a);
        if (SoftFp.isNaN(a)) {
            if (SoftFp.isSNaN(a)) {
                c.sseFlags |= IE;
            }
            return (long) (a & SoftFp.F_SIGN) << 32 | SoftFp.D_INF | SoftFp.D_QUIET | (long) (a & 0x3fffff) << 29;
        }
        if (SoftFp.isDenormal(a)) {
            c.sseFlags |= DE;
        }
        return Double.doubleToRawLongBits(Float.intBitsToFloat(a));
    }

    /** A double to a single, rounded by MXCSR with OE/UE/PE; NaN payloads keep their top bits. */
    static int doubleToSingle(CpuExec c, long a) {
        a = SoftFp.daz(c, a);
        int sign = (int) (a >>> 32) & SoftFp.F_SIGN;
        if (SoftFp.isNaN(a)) {
            if (SoftFp.isSNaN(a)) {
                c.sseFlags |= IE;
            }
            return sign | SoftFp.F_INF | SoftFp.F_QUIET | (int) ((a >>> 29) & 0x3fffff);
        }
        if (SoftFp.isDenormal(a)) {
            c.sseFlags |= DE;
        }
        double x = Double.longBitsToDouble(a);
        if (x == 0) {
            return sign;
        }
        if (Double.isInfinite(x)) {
            return sign | SoftFp.F_INF;
        }
        return (int) SoftFp.round(c, x < 0, Math.abs(x), 0, 0, false);
    }

    /** CVTSS2SD xmm, xmm/m32. */
    static void cvtss2sd(CpuExec c, Insn d) {
        int a = Sse.loadE32(c, d);
        long res = singleToDouble(c, a);
        Sse.commitFlags(c);
        c.xmm[2 * d.reg] = res;
    }

    /** CVTSD2SS xmm, xmm/m64. */
    static void cvtsd2ss(CpuExec c, Insn d) {
        long a = Sse.loadE64(c, d);
        long res = doubleToSingle(c, a) & 0xffffffffL;
        Sse.commitFlags(c);
        int r = 2 * d.reg;
        c.xmm[r] = (c.xmm[r] & 0xffffffff00000000L) | res;
    }

    /** CVTPS2PD xmm, xmm/m64: the two low singles. */
    static void cvtps2pd(CpuExec c, Insn d) {
        long a = Sse.loadE64(c, d);
        long lo = singleToDouble(c, (int) a);
        long hi = singleToDouble(c, (int) (a >>> 32));
        Sse.commitFlags(c);
        Sse.set(c, d.reg, lo, hi);
    }

    /** CVTPD2PS xmm, xmm/m128: two singles in the low quadword, the high one zeroed. */
    static void cvtpd2ps(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        long lo = (doubleToSingle(c, c.sseLo) & 0xffffffffL) | (long) doubleToSingle(c, c.sseHi) << 32;
        Sse.commitFlags(c);
        Sse.set(c, d.reg, lo, 0);
    }

    /** CVTDQ2PS xmm, xmm/m128. */
    static void cvtdq2ps(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        long lo = (intToSingle(c, (int) c.sseLo) & 0xffffffffL) | (long) intToSingle(c, (int) (c.sseLo >>> 32)) << 32;
        long hi = (intToSingle(c, (int) c.sseHi) & 0xffffffffL) | (long) intToSingle(c, (int) (c.sseHi >>> 32)) << 32;
        Sse.commitFlags(c);
        Sse.set(c, d.reg, lo, hi);
    }

    static long singleToInt(CpuExec c, int a, boolean truncate) {
        return toInt(c, Float.intBitsToFloat(SoftFp.daz(c, a)), 32, truncate);
    }

    /** CVTPS2DQ/CVTTPS2DQ xmm, xmm/m128. */
    static void cvtps2dq(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        boolean t = d.op == Op.CVTTPS2DQ;
        long lo = singleToInt(c, (int) c.sseLo, t) | singleToInt(c, (int) (c.sseLo >>> 32), t) << 32;
        long hi = singleToInt(c, (int) c.sseHi, t) | singleToInt(c, (int) (c.sseHi >>> 32), t) << 32;
        Sse.commitFlags(c);
        Sse.set(c, d.reg, lo, hi);
    }

    /** CVTDQ2PD xmm, xmm/m64: exact. */
    static void cvtdq2pd(CpuExec c, Insn d) {
        long a = Sse.loadE64(c, d);
        Sse.set(c, d.reg, Double.doubleToRawLongBits((int) a), Double.doubleToRawLongBits((int) (a >>> 32)));
    }

    /** CVTPD2DQ/CVTTPD2DQ xmm, xmm/m128: two integers in the low quadword, the high one zeroed. */
    static void cvtpd2dq(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        boolean t = d.op == Op.CVTTPD2DQ;
        long lo = toInt(c, Double.longBitsToDouble(SoftFp.daz(c, c.sseLo)), 32, t)
                | toInt(c, Double.longBitsToDouble(SoftFp.daz(c, c.sseHi)), 32, t) << 32;
        Sse.commitFlags(c);
        Sse.set(c, d.reg, lo, 0);
    }
}

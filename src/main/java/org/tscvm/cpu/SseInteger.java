package org.tscvm.cpu;

/**
 * SSE2 integer lanes (and the bitwise ps/pd forms, which are the same operations): each form's
 * computation is one static function over a 64-bit half, applied to both halves by
 * {@link #lanes}; shifts by a count in a register or an immediate; and the forms whose lanes
 * widen (PMADDWD, PSADBW, PMULUDQ).
 */
final class SseInteger {
    private SseInteger() {
    }

    static final long H8 = 0x8080808080808080L, H16 = 0x8000800080008000L, H32 = 0x8000000080000000L;

    /** xmm = op(xmm, xmm/m128) for the forms whose 64-bit halves are independent. */
    static void lanes(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        int r = 2 * d.reg;
        Op op = d.op;
        c.xmm[r] = half(op, c.xmm[r], c.sseLo);
        c.xmm[r + 1] = half(op, c.xmm[r + 1], c.sseHi);
    }

    static long half(Op op, long a, long b) {
        switch (op) {
            case PAND: case ANDPS: case ANDPD: return a & b;
            case PANDN: case ANDNPS: case ANDNPD: return ~a & b;
            case POR: case ORPS: case ORPD: return a | b;
            case PXOR: case XORPS: case XORPD: return a ^ b;
            case PADDB: return add(a, b, H8);
            case PADDW: return add(a, b, H16);
            case PADDD: return add(a, b, H32);
            case PADDQ: return a + b;
            case PSUBB: return sub(a, b, H8);
            case PSUBW: return sub(a, b, H16);
            case PSUBD: return sub(a, b, H32);
            case PSUBQ: return a - b;
            case PCMPEQQ: return a == b ? -1L : 0;
            case PCMPGTQ: return a > b ? -1L : 0;
            default: return perLane(op, a, b);
        }
    }

    /** Lane-wise a + b of the lanes whose top bits {@code h} marks (compiled code calls it too). */
    static long add(long a, long b, long h) {
        return ((a & ~h) + (b & ~h)) ^ ((a ^ b) & h);
    }

    /** Lane-wise a - b of the lanes whose top bits {@code h} marks (compiled code calls it too). */
    static long sub(long a, long b, long h) {
        return ((a | h) - (b & ~h)) ^ ((a ^ ~b) & h);
    }

    private static long perLane(Op op, long a, long b) {
        int bits = laneBits(op);
        long m = (1L << bits) - 1;
        long r = 0;
        for (int i = 0; i < 64; i += bits) {
            long x = (a >>> i) & m, y = (b >>> i) & m;
            long sx = (x << (64 - bits)) >> (64 - bits), sy = (y << (64 - bits)) >> (64 - bits);
            long z;
            switch (op) {
                case PCMPEQB: case PCMPEQW: case PCMPEQD: z = x == y ? m : 0; break;
                case PCMPGTB: case PCMPGTW: case PCMPGTD: z = sx > sy ? m : 0; break;
                case PADDSB: z = sat(sx + sy, -128, 127); break;
                case PADDSW: z = sat(sx + sy, -32768, 32767); break;
                case PSUBSB: z = sat(sx - sy, -128, 127); break;
                case PSUBSW: z = sat(sx - sy, -32768, 32767); break;
                case PADDUSB: case PADDUSW: z = Math.min(x + y, m); break;
                case PSUBUSB: case PSUBUSW: z = Math.max(x - y, 0); break;
                case PMULLW: z = sx * sy; break;
                case PMULHW: z = (sx * sy) >> 16; break;
                case PMULHUW: z = (x * y) >>> 16; break;
                case PMINUB: z = Math.min(x, y); break;
                case PMAXUB: z = Math.max(x, y); break;
                case PMINSW: z = Math.min(sx, sy); break;
                case PMAXSW: z = Math.max(sx, sy); break;
                case PAVGB: case PAVGW: z = (x + y + 1) >>> 1; break;
                case PABSB: case PABSW: case PABSD: z = Math.abs(sy); break;
                case PSIGNB: case PSIGNW: case PSIGND: z = sy < 0 ? -sx : sy == 0 ? 0 : sx; break;
                case PMULHRSW: z = (((sx * sy) >> 14) + 1) >> 1; break;
                case PMINSB: case PMINSD: z = Math.min(sx, sy); break;
                case PMAXSB: case PMAXSD: z = Math.max(sx, sy); break;
                case PMINUW: case PMINUD: z = Math.min(x, y); break;
                case PMAXUW: case PMAXUD: z = Math.max(x, y); break;
                case PMULLD: z = sx * sy; break;
                default: throw new IllegalStateException("not a lane form: " + op);
            }
            r |= (z & m) << i;
        }
        return r;
    }

    private static long sat(long v, long min, long max) {
        return Math.max(min, Math.min(max, v));
    }

    private static int laneBits(Op op) {
        switch (op) {
            case PCMPEQB: case PCMPGTB: case PADDSB: case PSUBSB: case PADDUSB: case PSUBUSB: case PMINUB:
            case PMAXUB: case PAVGB: case PABSB: case PSIGNB: case PMINSB: case PMAXSB:
                return 8;
            case PCMPEQD: case PCMPGTD: case PABSD: case PSIGND: case PMINSD: case PMAXSD: case PMINUD: case PMAXUD:
            case PMULLD:
                return 32;
            default:
                return 16;
        }
    }

    /** PSRLW/D/Q, PSRAW/D, PSLLW/D/Q xmm, xmm/m128: the count is the whole low quadword. */
    static void shiftByXmm(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        shift(c, d.reg, d.op, c.sseLo);
    }

    /** The immediate forms (66 0F 71/72/73 /2 /4 /6): the count is imm8, the operand ModRM.rm. */
    static void shiftByImm(CpuExec c, Insn d) {
        shift(c, d.rm, d.op, d.imm & 0xff);
    }

    private static void shift(CpuExec c, int reg, Op op, long count) {
        int r = 2 * reg;
        c.xmm[r] = shiftQuad(op, c.xmm[r], count);
        c.xmm[r + 1] = shiftQuad(op, c.xmm[r + 1], count);
    }

    /** The lanes of one quadword shifted as the shift form {@code op} (register or immediate count) shifts them. */
    static long shiftQuad(Op op, long v, long count) {
        switch (op) {
            case PSRLW: case PSRLW_I: return shiftHalf(v, 16, 0, count);
            case PSRLD: case PSRLD_I: return shiftHalf(v, 32, 0, count);
            case PSRLQ: case PSRLQ_I: return shiftHalf(v, 64, 0, count);
            case PSRAW: case PSRAW_I: return shiftHalf(v, 16, 1, count);
            case PSRAD: case PSRAD_I: return shiftHalf(v, 32, 1, count);
            case PSLLW: case PSLLW_I: return shiftHalf(v, 16, 2, count);
            case PSLLD: case PSLLD_I: return shiftHalf(v, 32, 2, count);
            default: return shiftHalf(v, 64, 2, count);
        }
    }

    private static long shiftHalf(long v, int bits, int kind, long count) {
        if (Long.compareUnsigned(count, bits - 1) > 0) {
            if (kind != 1) {
                return 0;
            }
            count = bits - 1; // arithmetic shifts fill with the sign
        }
        int n = (int) count;
        if (bits == 64) {
            return kind == 0 ? v >>> n : kind == 1 ? v >> n : v << n;
        }
        long m = (1L << bits) - 1;
        long r = 0;
        for (int i = 0; i < 64; i += bits) {
            long x = (v >>> i) & m;
            long z;
            if (kind == 0) {
                z = x >>> n;
            } else if (kind == 1) {
                z = ((x << (64 - bits)) >> (64 - bits)) >> n;
            } else {
                z = x << n;
            }
            r |= (z & m) << i;
        }
        return r;
    }

    /** PMADDWD: signed word products, adjacent pairs summed into doublewords (0x80008000 twice wraps). */
    static void pmaddwd(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        int r = 2 * d.reg;
        c.xmm[r] = maddHalf(c.xmm[r], c.sseLo);
        c.xmm[r + 1] = maddHalf(c.xmm[r + 1], c.sseHi);
    }

    static long maddHalf(long a, long b) {
        long r = 0;
        for (int i = 0; i < 2; i++) {
            int s = 0;
            for (int k = 0; k < 2; k++) {
                int sh = 32 * i + 16 * k;
                s += (short) (a >>> sh) * (short) (b >>> sh);
            }
            r |= (s & 0xffffffffL) << (32 * i);
        }
        return r;
    }

    /** PSADBW: per half, the sum of absolute byte differences in the low word, the rest zero. */
    static void psadbw(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        int r = 2 * d.reg;
        c.xmm[r] = sadHalf(c.xmm[r], c.sseLo);
        c.xmm[r + 1] = sadHalf(c.xmm[r + 1], c.sseHi);
    }

    static long sadHalf(long a, long b) {
        long s = 0;
        for (int i = 0; i < 64; i += 8) {
            s += Math.abs(((a >>> i) & 0xff) - ((b >>> i) & 0xff));
        }
        return s;
    }

    /** PMULUDQ: the unsigned product of the low doublewords of each half, as a quadword. */
    static void pmuludq(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        int r = 2 * d.reg;
        c.xmm[r] = (c.xmm[r] & 0xffffffffL) * (c.sseLo & 0xffffffffL);
        c.xmm[r + 1] = (c.xmm[r + 1] & 0xffffffffL) * (c.sseHi & 0xffffffffL);
    }

    /**
     * PHADDW/PHADDD/PHADDSW/PHSUBW/PHSUBD/PHSUBSW (SSSE3): adjacent pairs of the destination,
     * then of the source, added or subtracted (even minus odd), wrapping or word-saturating.
     */
    static void horizontal(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        int r = 2 * d.reg;
        Op op = d.op;
        int bits = op == Op.PHADDD || op == Op.PHSUBD ? 32 : 16;
        boolean sub = op == Op.PHSUBW || op == Op.PHSUBD || op == Op.PHSUBSW;
        boolean saturate = op == Op.PHADDSW || op == Op.PHSUBSW;
        long lo = pairs(c.xmm[r], c.xmm[r + 1], bits, sub, saturate);
        long hi = pairs(c.sseLo, c.sseHi, bits, sub, saturate);
        Sse.set(c, d.reg, lo, hi);
    }

    /** The pairwise sums (differences) of the lanes of hi:lo, packed into 64 bits. */
    static long pairs(long lo, long hi, int bits, boolean sub, boolean saturate) {
        long m = (1L << bits) - 1;
        long r = 0;
        int lanes = 128 / bits;
        for (int i = 0; i < lanes; i += 2) {
            long a = lane(lo, hi, i, bits), b = lane(lo, hi, i + 1, bits);
            long z = sub ? a - b : a + b;
            if (saturate) {
                z = sat(z, -32768, 32767);
            }
            r |= (z & m) << (bits * (i / 2));
        }
        return r;
    }

    /** Signed lane i of width bits of the 128-bit value hi:lo. */
    private static long lane(long lo, long hi, int i, int bits) {
        int pos = i * bits;
        long q = pos < 64 ? lo : hi;
        return (q << (64 - bits - (pos & 63))) >> (64 - bits);
    }

    /** PMADDUBSW (SSSE3): unsigned destination bytes times signed source bytes, pairs summed with word saturation. */
    static void pmaddubsw(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        int r = 2 * d.reg;
        c.xmm[r] = maddubsHalf(c.xmm[r], c.sseLo);
        c.xmm[r + 1] = maddubsHalf(c.xmm[r + 1], c.sseHi);
    }

    static long maddubsHalf(long a, long b) {
        long r = 0;
        for (int i = 0; i < 4; i++) {
            long s = 0;
            for (int k = 0; k < 2; k++) {
                int sh = 16 * i + 8 * k;
                s += ((a >>> sh) & 0xff) * (long) (byte) (b >>> sh);
            }
            r |= (sat(s, -32768, 32767) & 0xffff) << (16 * i);
        }
        return r;
    }

    /** PTEST (SSE4.1): ZF = (destination AND source) is zero, CF = (NOT destination AND source) is zero; AF OF PF SF cleared. */
    static void ptest(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        long a = c.xmm[2 * d.reg], b = c.xmm[2 * d.reg + 1];
        long f = ((a & c.sseLo) | (b & c.sseHi)) == 0 ? CpuState.ZF : 0;
        if (((~a & c.sseLo) | (~b & c.sseHi)) == 0) {
            f |= CpuState.CF;
        }
        c.setArith(f);
    }

    /** PMULDQ (SSE4.1): the signed product of the low doublewords of each half. */
    static void pmuldq(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        int r = 2 * d.reg;
        c.xmm[r] = (long) (int) c.xmm[r] * (int) c.sseLo;
        c.xmm[r + 1] = (long) (int) c.xmm[r + 1] * (int) c.sseHi;
    }

    /** PHMINPOSUW (SSE4.1): the smallest unsigned word of the source and its index (the first on ties). */
    static void phminposuw(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        long min = 0x10000;
        int index = 0;
        for (int i = 0; i < 8; i++) {
            long w = ((i < 4 ? c.sseLo : c.sseHi) >>> (16 * (i & 3))) & 0xffff;
            if (w < min) {
                min = w;
                index = i;
            }
        }
        Sse.set(c, d.reg, min | (long) index << 16, 0);
    }

    /**
     * MPSADBW (SSE4.1): eight sums of absolute differences between four source bytes (block
     * imm8[1:0]) and eight overlapping four-byte windows of the destination from byte 4 * imm8[2].
     */
    static void mpsadbw(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        int imm = (int) d.imm;
        int dOff = ((imm >>> 2) & 1) * 4, sOff = (imm & 3) * 4;
        long a = c.xmm[2 * d.reg], b = c.xmm[2 * d.reg + 1];
        long lo = 0, hi = 0;
        for (int i = 0; i < 8; i++) {
            long sum = 0;
            for (int k = 0; k < 4; k++) {
                sum += Math.abs(byteAt(a, b, dOff + i + k) - byteAt(c.sseLo, c.sseHi, sOff + k));
            }
            if (i < 4) {
                lo |= sum << (16 * i);
            } else {
                hi |= sum << (16 * (i - 4));
            }
        }
        Sse.set(c, d.reg, lo, hi);
    }

    /** Unsigned byte i (0-15) of the 128-bit value hi:lo. */
    static int byteAt(long lo, long hi, int i) {
        return (int) ((i < 8 ? lo : hi) >>> (8 * (i & 7))) & 0xff;
    }
}

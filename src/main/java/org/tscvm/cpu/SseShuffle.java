package org.tscvm.cpu;

/**
 * SSE/SSE2 rearrangements: unpacks (interleaves), packs with saturation, the immediate
 * shuffles and the whole-register byte shifts. Each handler reads its source operand, builds
 * the result from the destination's old value and the source, and writes the destination.
 */
final class SseShuffle {
    private SseShuffle() {
    }

    private static long dword(long lo, long hi, int i) {
        return ((i < 2 ? lo : hi) >>> (32 * (i & 1))) & 0xffffffffL;
    }

    /** UNPCKLPS / PUNPCKLDQ: d0 s0 d1 s1. */
    static void unpcklps(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        long a = c.xmm[2 * d.reg];
        long b = c.sseLo;
        Sse.set(c, d.reg, (a & 0xffffffffL) | b << 32, (a >>> 32) | (b & 0xffffffff00000000L));
    }

    /** UNPCKHPS / PUNPCKHDQ: d2 s2 d3 s3. */
    static void unpckhps(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        long a = c.xmm[2 * d.reg + 1];
        long b = c.sseHi;
        Sse.set(c, d.reg, (a & 0xffffffffL) | b << 32, (a >>> 32) | (b & 0xffffffff00000000L));
    }

    static void punpckldq(CpuExec c, Insn d) {
        unpcklps(c, d);
    }

    static void punpckhdq(CpuExec c, Insn d) {
        unpckhps(c, d);
    }

    /** UNPCKLPD / PUNPCKLQDQ: d.lo, s.lo. */
    static void unpcklqdq(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        c.xmm[2 * d.reg + 1] = c.sseLo;
    }

    /** UNPCKHPD / PUNPCKHQDQ: d.hi, s.hi. */
    static void unpckhqdq(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        c.xmm[2 * d.reg] = c.xmm[2 * d.reg + 1];
        c.xmm[2 * d.reg + 1] = c.sseHi;
    }

    /** Interleaves the lanes of width {@code bits} of two quadwords: a0 b0 a1 b1 ... (128 bits out). */
    private static void interleave(CpuExec c, int reg, long a, long b, int bits) {
        Sse.set(c, reg, interleaveLow(a, b, bits), interleaveLow(a >>> 32, b >>> 32, bits));
    }

    /** The low 32 bits of two quadwords interleaved in lanes of width {@code bits}: a0 b0 a1 b1 ... (64 bits out). */
    static long interleaveLow(long a, long b, int bits) {
        long r = 0;
        long m = (1L << bits) - 1;
        for (int i = 0; i < 32 / bits; i++) {
            r |= ((a >>> (bits * i)) & m) << (2 * i * bits) | ((b >>> (bits * i)) & m) << ((2 * i + 1) * bits);
        }
        return r;
    }

    static void punpcklbw(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        interleave(c, d.reg, c.xmm[2 * d.reg], c.sseLo, 8);
    }

    static void punpckhbw(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        interleave(c, d.reg, c.xmm[2 * d.reg + 1], c.sseHi, 8);
    }

    static void punpcklwd(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        interleave(c, d.reg, c.xmm[2 * d.reg], c.sseLo, 16);
    }

    static void punpckhwd(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        interleave(c, d.reg, c.xmm[2 * d.reg + 1], c.sseHi, 16);
    }

    /** Packs the four signed words of {@code q} into four bytes, saturating (signed or unsigned). */
    static long packWords(long q, boolean unsigned) {
        long r = 0;
        for (int i = 0; i < 4; i++) {
            int w = (short) (q >>> (16 * i));
            int v = unsigned ? Math.max(0, Math.min(255, w)) : Math.max(-128, Math.min(127, w));
            r |= (long) (v & 0xff) << (8 * i);
        }
        return r;
    }

    /** PACKSSWB: the destination's words then the source's, to signed-saturated bytes. */
    static void packsswb(CpuExec c, Insn d) {
        pack8(c, d, false);
    }

    /** PACKUSWB: signed words to unsigned-saturated bytes. */
    static void packuswb(CpuExec c, Insn d) {
        pack8(c, d, true);
    }

    private static void pack8(CpuExec c, Insn d, boolean unsigned) {
        Sse.loadE128(c, d);
        long a = c.xmm[2 * d.reg], b = c.xmm[2 * d.reg + 1];
        long lo = packWords(a, unsigned) | packWords(b, unsigned) << 32;
        long hi = packWords(c.sseLo, unsigned) | packWords(c.sseHi, unsigned) << 32;
        Sse.set(c, d.reg, lo, hi);
    }

    static long packDwords(long q) {
        long r = 0;
        for (int i = 0; i < 2; i++) {
            int v = (int) Math.max(-32768, Math.min(32767, (int) (q >>> (32 * i))));
            r |= (long) (v & 0xffff) << (16 * i);
        }
        return r;
    }

    /** PACKSSDW: signed doublewords to signed-saturated words. */
    static void packssdw(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        long a = c.xmm[2 * d.reg], b = c.xmm[2 * d.reg + 1];
        long lo = packDwords(a) | packDwords(b) << 32;
        long hi = packDwords(c.sseLo) | packDwords(c.sseHi) << 32;
        Sse.set(c, d.reg, lo, hi);
    }

    /** SHUFPS xmm1, xmm2/m128, imm8: two destination singles then two source singles, by imm8. */
    static void shufps(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        int s = (int) d.imm;
        long a = c.xmm[2 * d.reg], b = c.xmm[2 * d.reg + 1];
        long lo = dword(a, b, s & 3) | dword(a, b, (s >>> 2) & 3) << 32;
        long hi = dword(c.sseLo, c.sseHi, (s >>> 4) & 3) | dword(c.sseLo, c.sseHi, (s >>> 6) & 3) << 32;
        Sse.set(c, d.reg, lo, hi);
    }

    /** SHUFPD xmm1, xmm2/m128, imm8: a destination double (imm8[0]) then a source double (imm8[1]). */
    static void shufpd(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        int s = (int) d.imm;
        long lo = (s & 1) == 0 ? c.xmm[2 * d.reg] : c.xmm[2 * d.reg + 1];
        long hi = (s & 2) == 0 ? c.sseLo : c.sseHi;
        Sse.set(c, d.reg, lo, hi);
    }

    /** PSHUFD xmm1, xmm2/m128, imm8. */
    static void pshufd(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        int s = (int) d.imm;
        long a = c.sseLo, b = c.sseHi;
        long lo = dword(a, b, s & 3) | dword(a, b, (s >>> 2) & 3) << 32;
        long hi = dword(a, b, (s >>> 4) & 3) | dword(a, b, (s >>> 6) & 3) << 32;
        Sse.set(c, d.reg, lo, hi);
    }

    static long shuffleWords(long q, int s) {
        long r = 0;
        for (int i = 0; i < 4; i++) {
            r |= ((q >>> (16 * ((s >>> (2 * i)) & 3))) & 0xffff) << (16 * i);
        }
        return r;
    }

    /** PSHUFHW: the high four words shuffled by imm8, the low quadword copied. */
    static void pshufhw(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        Sse.set(c, d.reg, c.sseLo, shuffleWords(c.sseHi, (int) d.imm));
    }

    /** PSHUFLW: the low four words shuffled by imm8, the high quadword copied. */
    static void pshuflw(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        Sse.set(c, d.reg, shuffleWords(c.sseLo, (int) d.imm), c.sseHi);
    }

    /** PSRLDQ xmm, imm8: the whole register right by imm8 bytes (16 or more: zero). */
    static void psrldq(CpuExec c, Insn d) {
        int n = (int) d.imm & 0xff;
        long lo = c.xmm[2 * d.rm], hi = c.xmm[2 * d.rm + 1];
        if (n >= 16) {
            Sse.set(c, d.rm, 0, 0);
        } else if (n >= 8) {
            Sse.set(c, d.rm, n == 8 ? hi : hi >>> (8 * (n - 8)), 0);
        } else if (n == 0) {
            return;
        } else {
            Sse.set(c, d.rm, lo >>> (8 * n) | hi << (64 - 8 * n), hi >>> (8 * n));
        }
    }

    /** PSLLDQ xmm, imm8: the whole register left by imm8 bytes. */
    static void pslldq(CpuExec c, Insn d) {
        int n = (int) d.imm & 0xff;
        long lo = c.xmm[2 * d.rm], hi = c.xmm[2 * d.rm + 1];
        if (n >= 16) {
            Sse.set(c, d.rm, 0, 0);
        } else if (n >= 8) {
            Sse.set(c, d.rm, 0, n == 8 ? lo : lo << (8 * (n - 8)));
        } else if (n == 0) {
            return;
        } else {
            Sse.set(c, d.rm, lo << (8 * n), hi << (8 * n) | lo >>> (64 - 8 * n));
        }
    }

    /** PSHUFB (SSSE3): destination byte i = 0 if source byte i has bit 7, else destination byte (source & 15). */
    static void pshufb(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        long a = c.xmm[2 * d.reg], b = c.xmm[2 * d.reg + 1];
        long lo = 0, hi = 0;
        for (int i = 0; i < 16; i++) {
            int sel = (int) ((i < 8 ? c.sseLo : c.sseHi) >>> (8 * (i & 7))) & 0xff;
            long v = (sel & 0x80) != 0 ? 0 : (((sel & 8) == 0 ? a : b) >>> (8 * (sel & 7))) & 0xff;
            if (i < 8) {
                lo |= v << (8 * i);
            } else {
                hi |= v << (8 * (i - 8));
            }
        }
        Sse.set(c, d.reg, lo, hi);
    }

    /** PALIGNR (SSSE3): the 32 bytes destination:source shifted right by imm8 bytes, the low 16 kept. */
    static void palignr(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        int n = (int) d.imm & 0xff;
        long a = c.xmm[2 * d.reg], b = c.xmm[2 * d.reg + 1];
        Sse.set(c, d.reg, bytesAt(c.sseLo, c.sseHi, a, b, n), bytesAt(c.sseLo, c.sseHi, a, b, n + 8));
    }

    /** The eight bytes at byte offset n of the 32-byte value q3:q2:q1:q0 (zero beyond it). */
    static long bytesAt(long q0, long q1, long q2, long q3, int n) {
        long r = 0;
        for (int i = 0; i < 8; i++) {
            int k = n + i;
            if (k < 32) {
                long q = k < 8 ? q0 : k < 16 ? q1 : k < 24 ? q2 : q3;
                r |= ((q >>> (8 * (k & 7))) & 0xff) << (8 * i);
            }
        }
        return r;
    }

    /**
     * PBLENDVB/BLENDVPS/BLENDVPD (lanes whose XMM0 element has its sign set) and
     * BLENDPS/BLENDPD/PBLENDW (lanes whose imm8 bit is set) take the source's lane (SSE4.1).
     */
    static void blend(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        long x0 = c.xmm[0], x1 = c.xmm[1];
        long mLo, mHi;
        int imm = (int) d.imm;
        switch (d.op) {
            case PBLENDVB:
                mLo = ((x0 & 0x8080808080808080L) >>> 7) * 0xff;
                mHi = ((x1 & 0x8080808080808080L) >>> 7) * 0xff;
                break;
            case BLENDVPS:
                mLo = ((x0 & 0x8000000080000000L) >>> 31) * 0xffffffffL;
                mHi = ((x1 & 0x8000000080000000L) >>> 31) * 0xffffffffL;
                break;
            case BLENDVPD:
                mLo = x0 >> 63;
                mHi = x1 >> 63;
                break;
            case BLENDPS:
                mLo = spread(imm, 32, 0);
                mHi = spread(imm, 32, 2);
                break;
            case BLENDPD:
                mLo = (imm & 1) != 0 ? -1L : 0;
                mHi = (imm & 2) != 0 ? -1L : 0;
                break;
            default: // PBLENDW
                mLo = spread(imm, 16, 0);
                mHi = spread(imm, 16, 4);
                break;
        }
        int r = 2 * d.reg;
        Sse.set(c, d.reg, (c.xmm[r] & ~mLo) | (c.sseLo & mLo), (c.xmm[r + 1] & ~mHi) | (c.sseHi & mHi));
    }

    /** A 64-bit mask with lane i (of {@code bits}) all ones when imm bit first + i is set. */
    private static long spread(int imm, int bits, int first) {
        long m = 0;
        long lane = bits == 64 ? -1L : (1L << bits) - 1;
        for (int i = 0; i < 64 / bits; i++) {
            if ((imm >>> (first + i) & 1) != 0) {
                m |= lane << (bits * i);
            }
        }
        return m;
    }

    /** PMOVSX and PMOVZX (SSE4.1): the low source elements sign- or zero-extended to a whole register. */
    static void pmovx(CpuExec c, Insn d) {
        int from, to;
        boolean signed;
        switch (d.op) {
            case PMOVSXBW: from = 8; to = 16; signed = true; break;
            case PMOVSXBD: from = 8; to = 32; signed = true; break;
            case PMOVSXBQ: from = 8; to = 64; signed = true; break;
            case PMOVSXWD: from = 16; to = 32; signed = true; break;
            case PMOVSXWQ: from = 16; to = 64; signed = true; break;
            case PMOVSXDQ: from = 32; to = 64; signed = true; break;
            case PMOVZXBW: from = 8; to = 16; signed = false; break;
            case PMOVZXBD: from = 8; to = 32; signed = false; break;
            case PMOVZXBQ: from = 8; to = 64; signed = false; break;
            case PMOVZXWD: from = 16; to = 32; signed = false; break;
            case PMOVZXWQ: from = 16; to = 64; signed = false; break;
            default: from = 32; to = 64; signed = false; break;
        }
        int count = 128 / to;
        int bytes = count * from / 8;
        long src = d.mem ? c.readLin(c.addr(d, bytes, false), bytes) : c.xmm[2 * d.rm];
        long lo = 0, hi = 0;
        long outMask = to == 64 ? -1L : (1L << to) - 1;
        for (int i = 0; i < count; i++) {
            long v = src >>> (from * i);
            v = signed ? (v << (64 - from)) >> (64 - from) : v & ((1L << from) - 1);
            int pos = to * i;
            if (pos < 64) {
                lo |= (v & outMask) << pos;
            } else {
                hi |= (v & outMask) << (pos - 64);
            }
        }
        Sse.set(c, d.reg, lo, hi);
    }

    private static long packUnsignedDwords(long q) {
        long r = 0;
        for (int i = 0; i < 2; i++) {
            int v = (int) (q >>> (32 * i));
            r |= (long) Math.max(0, Math.min(65535, v)) << (16 * i);
        }
        return r;
    }

    /** PACKUSDW (SSE4.1): signed doublewords to unsigned-saturated words, destination first. */
    static void packusdw(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        long a = c.xmm[2 * d.reg], b = c.xmm[2 * d.reg + 1];
        Sse.set(c, d.reg, packUnsignedDwords(a) | packUnsignedDwords(b) << 32,
                packUnsignedDwords(c.sseLo) | packUnsignedDwords(c.sseHi) << 32);
    }

    /**
     * INSERTPS (SSE4.1): a single (register source: element imm8[7:6]; memory: the m32) into
     * element imm8[5:4], then the elements set in imm8[3:0] zeroed.
     */
    static void insertps(CpuExec c, Insn d) {
        int imm = (int) d.imm;
        long v = d.mem ? c.readLin(c.addr(d, 4, false), 4) : dword(c.xmm[2 * d.rm], c.xmm[2 * d.rm + 1], imm >>> 6);
        int r = 2 * d.reg;
        int dst = (imm >>> 4) & 3;
        int q = r + (dst >>> 1);
        int shift = 32 * (dst & 1);
        c.xmm[q] = (c.xmm[q] & ~(0xffffffffL << shift)) | (v << shift);
        c.xmm[r] &= ~spread(imm & 0xf, 32, 0);
        c.xmm[r + 1] &= ~spread(imm & 0xf, 32, 2);
    }
}

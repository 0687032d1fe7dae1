package org.tscvm.cpu;

/**
 * SSE4.2: the packed string compares PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM (SDM Vol. 1
 * 4.1 "Imm8 Control Byte Operation for PCMPESTRI / PCMPESTRM / PCMPISTRI / PCMPISTRM") and
 * CRC32, which works on general registers and needs no SSE state.
 */
final class SseString {
    private SseString() {
    }

    /** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one byte at a time. */
    private static final int[] CRC32C = new int[256];

    static {
        for (int i = 0; i < 256; i++) {
            int c = i;
            for (int k = 0; k < 8; k++) {
                c = (c >>> 1) ^ (0x82f63b78 & -(c & 1));
            }
            CRC32C[i] = c;
        }
    }

    /**
     * CRC32 r32/r64, r/m8 (F2 0F 38 F0) or r/m16/32/64 (F2 0F 38 F1): the destination's low 32
     * bits updated with the source's bytes, least significant first, zero-extended into the
     * whole register. No initial or final inversion: that is the caller's.
     */
    static void crc32(CpuExec c, Insn d) {
        int size = d.op == Op.CRC32_B ? 1 : d.opSize;
        long v = c.readE(d, size);
        int crc = (int) c.regs[d.reg];
        for (int i = 0; i < size; i++) {
            crc = (crc >>> 8) ^ CRC32C[(crc ^ (int) (v >>> (8 * i))) & 0xff];
        }
        c.regs[d.reg] = crc & 0xffffffffL;
    }

    /** Element i of hi:lo: bytes or words, signed or not. */
    private static int element(long lo, long hi, int i, boolean words, boolean signed) {
        int bits = words ? 16 : 8;
        int pos = i * bits;
        long q = (pos < 64 ? lo : hi) >>> (pos & 63);
        if (signed) {
            return words ? (short) q : (byte) q;
        }
        return (int) q & (words ? 0xffff : 0xff);
    }

    /** An explicit length: |RAX| or |RDX| (EAX/EDX without REX.W), saturated to the element count. */
    private static int explicitLength(long reg, boolean wide, int count) {
        long v = wide ? reg : (int) reg;
        if (v < 0) {
            v = -v;
        }
        return v < 0 || v > count ? count : (int) v;
    }

    /** An implicit length: the index of the first zero element, or the element count. */
    private static int implicitLength(long lo, long hi, boolean words, int count) {
        for (int i = 0; i < count; i++) {
            if (element(lo, hi, i, words, false) == 0) {
                return i;
            }
        }
        return count;
    }

    /**
     * PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM xmm1, xmm2/m128, imm8. imm8[1:0] element format,
     * [3:2] aggregation (equal any, ranges, equal each, equal ordered), [5:4] polarity, [6]
     * the index's end (I forms) or a mask of whole elements (M forms). ECX gets the index (the
     * element count when nothing matched), XMM0 the mask; CF = any match, ZF = the second
     * operand ends within the register, SF = the first does, OF = bit 0 of the result, AF and
     * PF cleared. No memory alignment is required.
     */
    static void pcmpstr(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        int imm = (int) d.imm;
        boolean words = (imm & 1) != 0, signed = (imm & 2) != 0;
        int count = words ? 8 : 16;
        long aLo = c.xmm[2 * d.reg], aHi = c.xmm[2 * d.reg + 1];
        long bLo = c.sseLo, bHi = c.sseHi;
        boolean explicit = d.op == Op.PCMPESTRI || d.op == Op.PCMPESTRM;
        int la, lb;
        if (explicit) {
            la = explicitLength(c.regs[Cpu.RAX], d.opSize == 8, count);
            lb = explicitLength(c.regs[Cpu.RDX], d.opSize == 8, count);
        } else {
            la = implicitLength(aLo, aHi, words, count);
            lb = implicitLength(bLo, bHi, words, count);
        }
        int aggregation = (imm >>> 2) & 3;
        int res1 = 0;
        for (int j = 0; j < count; j++) { // j: element of the second operand
            boolean r;
            switch (aggregation) {
                case 0: { // equal any
                    r = false;
                    if (j < lb) {
                        int b = element(bLo, bHi, j, words, signed);
                        for (int i = 0; i < la && !r; i++) {
                            r = element(aLo, aHi, i, words, signed) == b;
                        }
                    }
                    break;
                }
                case 1: { // ranges: pairs (low, high) of the first operand
                    r = false;
                    if (j < lb) {
                        int b = element(bLo, bHi, j, words, signed);
                        for (int i = 0; i + 1 < la && !r; i += 2) {
                            r = b >= element(aLo, aHi, i, words, signed) && b <= element(aLo, aHi, i + 1, words, signed);
                        }
                    }
                    break;
                }
                case 2: // equal each: both invalid compare true, one invalid false
                    r = j >= la && j >= lb
                            || j < la && j < lb && element(aLo, aHi, j, words, signed) == element(bLo, bHi, j, words, signed);
                    break;
                default: { // equal ordered: the first operand found at element j of the second
                    r = true;
                    for (int i = 0; i < count - j && r; i++) {
                        int k = j + i;
                        if (i >= la) {
                            break; // the first operand ended: a match so far is a match
                        }
                        r = k < lb && element(aLo, aHi, i, words, signed) == element(bLo, bHi, k, words, signed);
                    }
                    break;
                }
            }
            if (r) {
                res1 |= 1 << j;
            }
        }
        int all = (1 << count) - 1;
        int res2;
        switch ((imm >>> 4) & 3) {
            case 1: res2 = ~res1 & all; break;
            case 3: res2 = res1 ^ ((1 << lb) - 1); break;
            default: res2 = res1; break;
        }
        long f = 0;
        if (res2 != 0) {
            f |= CpuState.CF;
        }
        if (lb < count) {
            f |= CpuState.ZF;
        }
        if (la < count) {
            f |= CpuState.SF;
        }
        if ((res2 & 1) != 0) {
            f |= CpuState.OF;
        }
        if (d.op == Op.PCMPESTRI || d.op == Op.PCMPISTRI) {
            int index;
            if (res2 == 0) {
                index = count;
            } else if ((imm & 0x40) != 0) {
                index = 31 - Integer.numberOfLeadingZeros(res2);
            } else {
                index = Integer.numberOfTrailingZeros(res2);
            }
            c.regs[Cpu.RCX] = index;
        } else if ((imm & 0x40) == 0) {
            Sse.set(c, 0, res2, 0);
        } else {
            long lo = 0, hi = 0;
            int bits = words ? 16 : 8;
            long lane = (1L << bits) - 1;
            for (int j = 0; j < count; j++) {
                if ((res2 >>> j & 1) != 0) {
                    int pos = j * bits;
                    if (pos < 64) {
                        lo |= lane << pos;
                    } else {
                        hi |= lane << (pos - 64);
                    }
                }
            }
            Sse.set(c, 0, lo, hi);
        }
        c.setArith(f);
    }
}

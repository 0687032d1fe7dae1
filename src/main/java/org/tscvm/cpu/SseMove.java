package org.tscvm.cpu;

/**
 * SSE/SSE2 data movement: whole-register loads and stores (aligned or not, non-temporal hints
 * ignored), scalar and half-register moves, MOVD/MOVQ between XMM and general registers, the
 * sign-mask extractions and the word insert/extract. None of them touches MXCSR.
 */
final class SseMove {
    private SseMove() {
    }

    /** MOVUPS/MOVUPD/MOVAPS/MOVAPD/MOVDQA/MOVDQU xmm, xmm/m128. */
    static void load128(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        Sse.set(c, d.reg, c.sseLo, c.sseHi);
    }

    /** MOVUPS/.../MOVDQU xmm/m128, xmm and MOVNTPS/MOVNTPD/MOVNTDQ m128, xmm. */
    static void store128(CpuExec c, Insn d) {
        Sse.storeE128(c, d, c.xmm[2 * d.reg], c.xmm[2 * d.reg + 1]);
    }

    /** MOVSS xmm, xmm/m32: a register source replaces the low doubleword; m32 zeroes the rest. */
    static void movssLoad(CpuExec c, Insn d) {
        int r = 2 * d.reg;
        if (d.mem) {
            long v = c.readLin(c.addr(d, 4, false), 4);
            c.xmm[r] = v;
            c.xmm[r + 1] = 0;
        } else {
            c.xmm[r] = (c.xmm[r] & 0xffffffff00000000L) | (c.xmm[2 * d.rm] & 0xffffffffL);
        }
    }

    /** MOVSS xmm/m32, xmm. */
    static void movssStore(CpuExec c, Insn d) {
        long v = c.xmm[2 * d.reg] & 0xffffffffL;
        if (d.mem) {
            c.writeLin(c.addr(d, 4, true), 4, v);
        } else {
            c.xmm[2 * d.rm] = (c.xmm[2 * d.rm] & 0xffffffff00000000L) | v;
        }
    }

    /** MOVSD xmm, xmm/m64: a register source replaces the low quadword; m64 zeroes the high one. */
    static void movsdLoad(CpuExec c, Insn d) {
        int r = 2 * d.reg;
        if (d.mem) {
            c.xmm[r] = c.readLin(c.addr(d, 8, false), 8);
            c.xmm[r + 1] = 0;
        } else {
            c.xmm[r] = c.xmm[2 * d.rm];
        }
    }

    /** MOVSD xmm/m64, xmm. */
    static void movsdStore(CpuExec c, Insn d) {
        long v = c.xmm[2 * d.reg];
        if (d.mem) {
            c.writeLin(c.addr(d, 8, true), 8, v);
        } else {
            c.xmm[2 * d.rm] = v;
        }
    }

    /** MOVHLPS xmm1, xmm2: xmm1[63:0] = xmm2[127:64]. */
    static void movhlps(CpuExec c, Insn d) {
        c.xmm[2 * d.reg] = c.xmm[2 * d.rm + 1];
    }

    /** MOVLHPS xmm1, xmm2: xmm1[127:64] = xmm2[63:0]. */
    static void movlhps(CpuExec c, Insn d) {
        c.xmm[2 * d.reg + 1] = c.xmm[2 * d.rm];
    }

    /** MOVLPS/MOVLPD xmm, m64. */
    static void movlpLoad(CpuExec c, Insn d) {
        c.xmm[2 * d.reg] = c.readLin(c.addr(d, 8, false), 8);
    }

    /** MOVLPS/MOVLPD m64, xmm. */
    static void movlpStore(CpuExec c, Insn d) {
        c.writeLin(c.addr(d, 8, true), 8, c.xmm[2 * d.reg]);
    }

    /** MOVHPS/MOVHPD xmm, m64. */
    static void movhpLoad(CpuExec c, Insn d) {
        c.xmm[2 * d.reg + 1] = c.readLin(c.addr(d, 8, false), 8);
    }

    /** MOVHPS/MOVHPD m64, xmm. */
    static void movhpStore(CpuExec c, Insn d) {
        c.writeLin(c.addr(d, 8, true), 8, c.xmm[2 * d.reg + 1]);
    }

    /** MOVMSKPS reg, xmm: the four single sign bits, zero-extended into the whole register. */
    static void movmskps(CpuExec c, Insn d) {
        long lo = c.xmm[2 * d.rm], hi = c.xmm[2 * d.rm + 1];
        c.regs[d.reg] = ((lo >>> 31) & 1) | ((lo >>> 62) & 2) | ((hi >>> 29) & 4) | ((hi >>> 60) & 8);
    }

    /** MOVMSKPD reg, xmm: the two double sign bits. */
    static void movmskpd(CpuExec c, Insn d) {
        c.regs[d.reg] = (c.xmm[2 * d.rm] >>> 63) | ((c.xmm[2 * d.rm + 1] >>> 62) & 2);
    }

    /** PMOVMSKB reg, xmm: the sixteen byte sign bits. */
    static void pmovmskb(CpuExec c, Insn d) {
        c.regs[d.reg] = byteSigns(c.xmm[2 * d.rm]) | byteSigns(c.xmm[2 * d.rm + 1]) << 8;
    }

    /** Bit i = the sign of byte i (a multiply gathers the eight bits into the top byte). */
    static long byteSigns(long v) {
        return (((v & 0x8080808080808080L) >>> 7) * 0x0102040810204080L) >>> 56;
    }

    /** MOVD xmm, r/m32 and MOVQ xmm, r/m64 (REX.W): zero-extended to 128 bits. */
    static void movdLoad(CpuExec c, Insn d) {
        int size = d.opSize == 8 ? 8 : 4;
        Sse.set(c, d.reg, c.readE(d, size), 0);
    }

    /** MOVD r/m32, xmm and MOVQ r/m64, xmm (REX.W). */
    static void movdStore(CpuExec c, Insn d) {
        int size = d.opSize == 8 ? 8 : 4;
        c.writeE(d, size, c.xmm[2 * d.reg] & CpuState.mask(size));
    }

    /** MOVQ xmm, xmm/m64 (F3 0F 7E): the low quadword, the high one zeroed. */
    static void movqLoad(CpuExec c, Insn d) {
        Sse.set(c, d.reg, Sse.loadE64(c, d), 0);
    }

    /** MOVQ xmm/m64, xmm (66 0F D6): a register destination gets its high quadword zeroed. */
    static void movqStore(CpuExec c, Insn d) {
        long v = c.xmm[2 * d.reg];
        if (d.mem) {
            c.writeLin(c.addr(d, 8, true), 8, v);
        } else {
            Sse.set(c, d.rm, v, 0);
        }
    }

    /**
     * MASKMOVDQU xmm1, xmm2: the bytes of xmm1 whose xmm2 byte has its sign set are stored at
     * DS:rDI (segment overridable), in byte order; the other bytes of memory are not touched.
     */
    static void maskmovdqu(CpuExec c, Insn d) {
        long mask = SseMove.byteSigns(c.xmm[2 * d.rm]) | SseMove.byteSigns(c.xmm[2 * d.rm + 1]) << 8;
        if (mask == 0) {
            return;
        }
        long ea = c.regs[Cpu.RDI] & (d.addrSize == 8 ? -1L : d.addrSize == 4 ? 0xffffffffL : 0xffff);
        int seg = d.seg;
        for (int i = 0; i < 16; i++) {
            if ((mask >>> i & 1) != 0) {
                c.probeWrite(c.linear(seg, ea + i, 1, true), 1);
            }
        }
        for (int i = 0; i < 16; i++) {
            if ((mask >>> i & 1) != 0) {
                long v = c.xmm[2 * d.reg + (i >>> 3)] >>> (8 * (i & 7));
                c.writeLin(c.linear(seg, ea + i, 1, true), 1, v & 0xff);
            }
        }
    }

    /** PINSRW xmm, r32/m16, imm8: word imm8[2:0] of xmm from the low word of the source. */
    static void pinsrw(CpuExec c, Insn d) {
        long w = d.mem ? c.readLin(c.addr(d, 2, false), 2) : c.regs[d.rm] & 0xffff;
        int sel = (int) d.imm & 7;
        int q = 2 * d.reg + (sel >>> 2);
        int shift = 16 * (sel & 3);
        c.xmm[q] = (c.xmm[q] & ~(0xffffL << shift)) | (w << shift);
    }

    /** PEXTRW reg, xmm, imm8: word imm8[2:0], zero-extended into the whole register. */
    static void pextrw(CpuExec c, Insn d) {
        int sel = (int) d.imm & 7;
        c.regs[d.reg] = (c.xmm[2 * d.rm + (sel >>> 2)] >>> (16 * (sel & 3))) & 0xffff;
    }

    /** MOVSLDUP (SSE3): singles 0 0 2 2 of the source. */
    static void movsldup(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        long lo = c.sseLo & 0xffffffffL, hi = c.sseHi & 0xffffffffL;
        Sse.set(c, d.reg, lo | lo << 32, hi | hi << 32);
    }

    /** MOVSHDUP (SSE3): singles 1 1 3 3 of the source. */
    static void movshdup(CpuExec c, Insn d) {
        Sse.loadE128(c, d);
        long lo = c.sseLo >>> 32, hi = c.sseHi >>> 32;
        Sse.set(c, d.reg, lo | lo << 32, hi | hi << 32);
    }

    /** MOVDDUP (SSE3): the source's low double in both halves. */
    static void movddup(CpuExec c, Insn d) {
        long v = Sse.loadE64(c, d);
        Sse.set(c, d.reg, v, v);
    }

    /**
     * PEXTRB/PEXTRW/PEXTRD/PEXTRQ/EXTRACTPS (SSE4.1) r/m, xmm, imm8: an element of the XMM
     * register (ModRM.reg) to memory, or zero-extended into the whole general register.
     */
    static void extract(CpuExec c, Insn d) {
        int imm = (int) d.imm;
        int size;
        switch (d.op) {
            case PEXTRB: size = 1; imm &= 15; break;
            case PEXTRW_E: size = 2; imm &= 7; break;
            case PEXTRD: size = d.opSize == 8 ? 8 : 4; imm &= size == 8 ? 1 : 3; break;
            default: size = 4; imm &= 3; break; // EXTRACTPS
        }
        int bit = imm * size * 8;
        long v = c.xmm[2 * d.reg + (bit >>> 6)] >>> (bit & 63);
        v &= CpuState.mask(size);
        if (d.mem) {
            c.writeLin(c.addr(d, size, true), size, v);
        } else {
            c.regs[d.rm] = v;
        }
    }

    /** PINSRB/PINSRD/PINSRQ (SSE4.1) xmm, r/m, imm8: an element from a general register or memory. */
    static void insert(CpuExec c, Insn d) {
        int size = d.op == Op.PINSRB ? 1 : d.opSize == 8 ? 8 : 4;
        long v = d.mem ? c.readLin(c.addr(d, size, false), size) : c.regs[d.rm] & CpuState.mask(size);
        int imm = (int) d.imm & (16 / size - 1);
        int bit = imm * size * 8;
        int q = 2 * d.reg + (bit >>> 6);
        long m = CpuState.mask(size) << (bit & 63);
        c.xmm[q] = (c.xmm[q] & ~m) | (v << (bit & 63));
    }
}

package org.tscvm.cpu;

import static org.tscvm.cpu.CpuState.CR0_EM;
import static org.tscvm.cpu.CpuState.CR0_TS;
import static org.tscvm.cpu.CpuState.CR4_OSFXSR;

/**
 * MMX (the {@link Op#SSE} group rows flagged {@link Op#MM}): the one dispatch point
 * {@link Sse#execute} hands them to, the x87/MMX state effects, and the forms' handlers. The
 * lane arithmetic is the SSE forms' (each MMX form computes one 64-bit half as its
 * {@link Op#twin} does, in {@link SseInteger} and {@link SseShuffle}); only the operand access
 * differs.
 *
 * <p>State (SDM Vol. 1 9.5, 9.6): MMn is the significand of the x87 physical register Rn. Every
 * MMX instruction sets TOP to 0 (SDM Vol. 1 table 9-2, EMMS included) and, but EMMS, all tags to
 * valid; a write to MMn also sets Rn's sign and exponent (bits 79:64) to all ones; EMMS marks all
 * registers empty. An MMX register
 * operand is MMn whatever REX.R and REX.B say.
 *
 * <p>Faults, in order: CR0.EM: #UD; a form with XMM state (the conversions, MOVQ2DQ, MOVDQ2Q)
 * with CR4.OSFXSR clear: #UD; CR0.TS: #NM; a pending unmasked x87 exception (FSW.ES): #MF when
 * CR0.NE = 1 (as a waiting x87 instruction); then memory faults and, for the conversions, #XM.
 * CVTPI2PS and CVTPI2PD with a memory source touch no MMX register: no #MF, no transition.
 */
final class Mmx {
    private Mmx() {
    }

    static void execute(CpuExec c, Insn d) {
        Op op = d.op;
        if ((c.cr0 & CR0_EM) != 0 || (op.xmmState && (c.cr4 & CR4_OSFXSR) == 0)) {
            throw c.ud();
        }
        if ((c.cr0 & CR0_TS) != 0) {
            throw c.fault(CpuFault.NM, CpuFault.NO_ERROR_CODE);
        }
        boolean register = !((op == Op.CVTPI2PS || op == Op.CVTPI2PD) && d.mem);
        if (register) {
            X87.waiting(c);
            X87.setTop(c, 0);
            if (op == Op.EMMS) {
                c.fpuTag = 0xffff;
                return;
            }
            c.fpuTag = 0;
        }
        if (op.simdFp) {
            c.sseFlags = 0;
        }
        int p = d.reg & 7;
        switch (op) {
            // ---- moves ----
            case MOVD_PE: set(c, p, c.readE(d, d.opSize == 8 ? 8 : 4)); return;
            case MOVD_EP: {
                int size = d.opSize == 8 ? 8 : 4;
                c.writeE(d, size, c.fpuSig[p] & CpuState.mask(size));
                return;
            }
            case MOVQ_PQ: set(c, p, loadQ(c, d)); return;
            case MOVQ_QP: case MOVNTQ: storeQ(c, d, c.fpuSig[p]); return;
            case MASKMOVQ: maskmovq(c, d); return;
            case PMOVMSKB_MM: c.regs[d.reg] = SseMove.byteSigns(c.fpuSig[d.rm & 7]); return;
            case PEXTRW_MM: c.regs[d.reg] = (c.fpuSig[d.rm & 7] >>> (16 * (d.imm & 3))) & 0xffff; return;
            case PINSRW_MM: {
                long w = d.mem ? c.readLin(c.addr(d, 2, false), 2) : c.regs[d.rm] & 0xffff;
                int shift = 16 * (int) (d.imm & 3);
                set(c, p, (c.fpuSig[p] & ~(0xffffL << shift)) | w << shift);
                return;
            }
            case PSHUFW: set(c, p, SseShuffle.shuffleWords(loadQ(c, d), (int) d.imm)); return;
            case MOVQ2DQ: Sse.set(c, d.reg, c.fpuSig[d.rm & 7], 0); return;
            case MOVDQ2Q: set(c, p, c.xmm[2 * d.rm]); return;
            // ---- unpacks and packs ----
            case PUNPCKLBW_MM: set(c, p, SseShuffle.interleaveLow(c.fpuSig[p], loadD(c, d), 8)); return;
            case PUNPCKLWD_MM: set(c, p, SseShuffle.interleaveLow(c.fpuSig[p], loadD(c, d), 16)); return;
            case PUNPCKLDQ_MM: set(c, p, SseShuffle.interleaveLow(c.fpuSig[p], loadD(c, d), 32)); return;
            case PUNPCKHBW_MM: set(c, p, SseShuffle.interleaveLow(c.fpuSig[p] >>> 32, loadQ(c, d) >>> 32, 8)); return;
            case PUNPCKHWD_MM: set(c, p, SseShuffle.interleaveLow(c.fpuSig[p] >>> 32, loadQ(c, d) >>> 32, 16)); return;
            case PUNPCKHDQ_MM: set(c, p, SseShuffle.interleaveLow(c.fpuSig[p] >>> 32, loadQ(c, d) >>> 32, 32)); return;
            case PACKSSWB_MM: case PACKUSWB_MM: {
                boolean unsigned = op == Op.PACKUSWB_MM;
                long s = loadQ(c, d);
                set(c, p, SseShuffle.packWords(c.fpuSig[p], unsigned) | SseShuffle.packWords(s, unsigned) << 32);
                return;
            }
            case PACKSSDW_MM: {
                long s = loadQ(c, d);
                set(c, p, SseShuffle.packDwords(c.fpuSig[p]) | SseShuffle.packDwords(s) << 32);
                return;
            }
            // ---- integer lanes ----
            case PCMPGTB_MM: case PCMPGTW_MM: case PCMPGTD_MM: case PCMPEQB_MM: case PCMPEQW_MM: case PCMPEQD_MM:
            case PADDB_MM: case PADDW_MM: case PADDD_MM: case PADDQ_MM: case PSUBB_MM: case PSUBW_MM: case PSUBD_MM:
            case PSUBQ_MM: case PADDSB_MM: case PADDSW_MM: case PADDUSB_MM: case PADDUSW_MM: case PSUBSB_MM:
            case PSUBSW_MM: case PSUBUSB_MM: case PSUBUSW_MM: case PMULLW_MM: case PMULHW_MM: case PMULHUW_MM:
            case PMINUB_MM: case PMAXUB_MM: case PMINSW_MM: case PMAXSW_MM: case PAVGB_MM: case PAVGW_MM:
            case PAND_MM: case PANDN_MM: case POR_MM: case PXOR_MM:
            case PSIGNB_MM: case PSIGNW_MM: case PSIGND_MM: case PMULHRSW_MM: case PABSB_MM: case PABSW_MM:
            case PABSD_MM:
                set(c, p, SseInteger.half(op.twin, c.fpuSig[p], loadQ(c, d)));
                return;
            case PSRLW_MM: case PSRLD_MM: case PSRLQ_MM: case PSRAW_MM: case PSRAD_MM: case PSLLW_MM: case PSLLD_MM:
            case PSLLQ_MM:
                set(c, p, SseInteger.shiftQuad(op.twin, c.fpuSig[p], loadQ(c, d)));
                return;
            case PSRLW_MM_I: case PSRLD_MM_I: case PSRLQ_MM_I: case PSRAW_MM_I: case PSRAD_MM_I: case PSLLW_MM_I:
            case PSLLD_MM_I: case PSLLQ_MM_I: {
                int r = d.rm & 7;
                set(c, r, SseInteger.shiftQuad(op.twin, c.fpuSig[r], d.imm & 0xff));
                return;
            }
            case PMADDWD_MM: set(c, p, SseInteger.maddHalf(c.fpuSig[p], loadQ(c, d))); return;
            case PSADBW_MM: set(c, p, SseInteger.sadHalf(c.fpuSig[p], loadQ(c, d))); return;
            case PMULUDQ_MM: set(c, p, (c.fpuSig[p] & 0xffffffffL) * (loadQ(c, d) & 0xffffffffL)); return;
            case PMADDUBSW_MM: set(c, p, SseInteger.maddubsHalf(c.fpuSig[p], loadQ(c, d))); return;
            case PHADDW_MM: case PHADDD_MM: case PHADDSW_MM: case PHSUBW_MM: case PHSUBD_MM: case PHSUBSW_MM: {
                boolean dwords = op == Op.PHADDD_MM || op == Op.PHSUBD_MM;
                boolean sub = op == Op.PHSUBW_MM || op == Op.PHSUBD_MM || op == Op.PHSUBSW_MM;
                boolean saturate = op == Op.PHADDSW_MM || op == Op.PHSUBSW_MM;
                set(c, p, SseInteger.pairs(c.fpuSig[p], loadQ(c, d), dwords ? 32 : 16, sub, saturate));
                return;
            }
            case PSHUFB_MM: set(c, p, pshufb(c.fpuSig[p], loadQ(c, d))); return;
            case PALIGNR_MM: {
                long s = loadQ(c, d);
                set(c, p, SseShuffle.bytesAt(s, c.fpuSig[p], 0, 0, (int) d.imm & 0xff));
                return;
            }
            // ---- conversions ----
            case CVTPI2PS: {
                long a = d.mem ? c.readLin(c.addr(d, 8, false), 8) : c.fpuSig[d.rm & 7];
                long v = (SseConvert.intToSingle(c, (int) a) & 0xffffffffL)
                        | (long) SseConvert.intToSingle(c, (int) (a >>> 32)) << 32;
                Sse.commitFlags(c);
                c.xmm[2 * d.reg] = v;
                return;
            }
            case CVTPI2PD: {
                long a = d.mem ? c.readLin(c.addr(d, 8, false), 8) : c.fpuSig[d.rm & 7];
                Sse.set(c, d.reg, Double.doubleToRawLongBits((int) a), Double.doubleToRawLongBits((int) (a >>> 32)));
                return;
            }
            case CVTPS2PI: case CVTTPS2PI: {
                boolean t = op == Op.CVTTPS2PI;
                long a = Sse.loadE64(c, d);
                long v = SseConvert.singleToInt(c, (int) a, t) | SseConvert.singleToInt(c, (int) (a >>> 32), t) << 32;
                Sse.commitFlags(c);
                set(c, p, v);
                return;
            }
            case CVTPD2PI: case CVTTPD2PI: {
                boolean t = op == Op.CVTTPD2PI;
                Sse.loadE128(c, d);
                long v = SseConvert.toInt(c, Double.longBitsToDouble(SoftFp.daz(c, c.sseLo)), 32, t)
                        | SseConvert.toInt(c, Double.longBitsToDouble(SoftFp.daz(c, c.sseHi)), 32, t) << 32;
                Sse.commitFlags(c);
                set(c, p, v);
                return;
            }
            default: throw new IllegalStateException("no MMX handler for " + op.text);
        }
    }

    /** Writes MMn: the significand of Rn, its sign and exponent all ones (SDM 9.5.1). */
    static void set(CpuState c, int n, long v) {
        c.fpuSig[n] = v;
        c.fpuSe[n] = 0xffff;
    }

    /** The mm/m64 operand. */
    private static long loadQ(CpuExec c, Insn d) {
        if (!d.mem) {
            return c.fpuSig[d.rm & 7];
        }
        return c.readLin(c.addr(d, 8, false), 8);
    }

    /** The mm/m32 operand of the low unpacks: a register's low doubleword, or m32. */
    private static long loadD(CpuExec c, Insn d) {
        if (!d.mem) {
            return c.fpuSig[d.rm & 7] & 0xffffffffL;
        }
        return c.readLin(c.addr(d, 4, false), 4);
    }

    private static void storeQ(CpuExec c, Insn d, long v) {
        if (d.mem) {
            c.writeLin(c.addr(d, 8, true), 8, v);
        } else {
            set(c, d.rm & 7, v);
        }
    }

    /** PSHUFB mm: byte i = 0 if source byte i has bit 7, else destination byte (source & 7). */
    private static long pshufb(long a, long s) {
        long r = 0;
        for (int i = 0; i < 8; i++) {
            int sel = (int) (s >>> (8 * i)) & 0xff;
            if ((sel & 0x80) == 0) {
                r |= ((a >>> (8 * (sel & 7))) & 0xff) << (8 * i);
            }
        }
        return r;
    }

    /**
     * MASKMOVQ mm1, mm2: the bytes of mm1 whose mm2 byte has its sign set are stored at DS:rDI
     * (segment overridable); the other bytes of memory are not touched.
     */
    private static void maskmovq(CpuExec c, Insn d) {
        long mask = SseMove.byteSigns(c.fpuSig[d.rm & 7]);
        long v = c.fpuSig[d.reg & 7];
        if (mask == 0) {
            return;
        }
        long ea = c.regs[Cpu.RDI] & (d.addrSize == 8 ? -1L : d.addrSize == 4 ? 0xffffffffL : 0xffff);
        for (int i = 0; i < 8; i++) {
            if ((mask >>> i & 1) != 0) {
                c.probeWrite(c.linear(d.seg, ea + i, 1, true), 1);
            }
        }
        for (int i = 0; i < 8; i++) {
            if ((mask >>> i & 1) != 0) {
                c.writeLin(c.linear(d.seg, ea + i, 1, true), 1, (v >>> (8 * i)) & 0xff);
            }
        }
    }
}

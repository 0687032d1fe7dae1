package org.tscvm.cpu;

import static org.tscvm.cpu.CpuState.CR0_EM;
import static org.tscvm.cpu.CpuState.CR0_TS;
import static org.tscvm.cpu.CpuState.CR4_OSFXSR;
import static org.tscvm.cpu.CpuState.CR4_OSXMMEXCPT;

/**
 * SSE, SSE2, SSE3, SSSE3, SSE4.1 and SSE4.2 (the {@link Op#SSE} group): the decode table built from the {@link Op} rows'
 * keys, the one dispatch point the interpreter (and, by INVOKESTATIC from the row, compiled
 * blocks) calls, the checks every form makes first, and the operand helpers the handlers share.
 * The handlers are static methods grouped by family: {@link SseMove} (data movement),
 * {@link SseShuffle} (unpacks, packs, shuffles, byte shifts), {@link SseInteger} (integer
 * lanes), {@link SseFloat} (floating point arithmetic and compares), {@link SseConvert}
 * (conversions) and {@link SseString} (SSE4.2 string compares, CRC32), with the IEEE core in
 * {@link SoftFp}. The MMX rows (flag {@link Op#MM}) decode from the same table and go to
 * {@link Mmx#execute}, which makes MMX's own checks.
 *
 * <p>Faults, in the SDM's order (Vol. 2 "Exceptions" of each form, and 13.1): CR0.EM or
 * CR4.OSFXSR clear: #UD; CR0.TS: #NM; a 128-bit memory operand of an aligned form off a
 * 16-byte boundary: #GP(0); page faults; unmasked SIMD floating-point exceptions: #XM, or #UD
 * when CR4.OSXMMEXCPT is clear. A faulting instruction leaves its destination unchanged.
 */
final class Sse {
    private Sse() {
    }

    /** Opcodes of map m (0: 0F, 1: 0F 38, 2: 0F 3A) with an SSE form under some prefix, at [m * 256 + opcode]. */
    static final boolean[] OPCODES = new boolean[3 * 256];
    /** Index: (((map * 4 + prefix) * 256 + opcode) * 8 + digit) * 2 + (memory ? 1 : 0). */
    private static final Op[] TABLE = new Op[3 * 4 * 256 * 8 * 2];

    static {
        for (Op op : Op.VALUES) {
            if (op.group != Op.SSE) {
                continue;
            }
            int map = mapOf(op.sseOpcode);
            int opcode = op.sseOpcode & 0xff;
            OPCODES[map * 256 + opcode] = true;
            for (int digit = 0; digit < 8; digit++) {
                if (op.sseDigit >= 0 && op.sseDigit != digit) {
                    continue;
                }
                for (int mem = 0; mem < 2; mem++) {
                    if ((mem == 1 && op.regOnly) || (mem == 0 && op.memOnly)) {
                        continue;
                    }
                    int i = index(map, op.ssePrefix, opcode, digit, mem == 1);
                    if (TABLE[i] != null) {
                        throw new ExceptionInInitializerError("two SSE forms decode alike: " + TABLE[i] + ", " + op);
                    }
                    TABLE[i] = op;
                }
            }
        }
    }

    static final int MAP_0F = 0, MAP_0F38 = 1, MAP_0F3A = 2;

    private static int mapOf(int opcode) {
        return opcode < 0x100 ? MAP_0F : (opcode >>> 8) == 0x38 ? MAP_0F38 : MAP_0F3A;
    }

    private static int index(int map, int prefix, int opcode, int digit, boolean memory) {
        return (((map * 4 + prefix) * 256 + opcode) * 8 + digit) * 2 + (memory ? 1 : 0);
    }

    /** Whether opcode {@code opcode} of map {@code map} has an SSE form under some prefix. */
    static boolean hasForm(int map, int opcode) {
        return OPCODES[map * 256 + opcode];
    }

    /** The form for a map, mandatory prefix (0 none, 1 66, 2 F3, 3 F2), opcode, ModRM.reg and mod; null: #UD. */
    static Op lookup(int map, int prefix, int opcode, int digit, boolean memory) {
        return TABLE[index(map, prefix, opcode, digit, memory)];
    }

    /** The dispatch point: availability checks, then the form's handler. */
    static void execute(CpuExec c, Insn d) {
        if (d.op.general) {
            SseString.crc32(c, d);
            return;
        }
        if (d.op.mmx) {
            Mmx.execute(c, d);
            return;
        }
        if ((c.cr0 & CR0_EM) != 0 || (c.cr4 & CR4_OSFXSR) == 0) {
            throw c.ud();
        }
        if ((c.cr0 & CR0_TS) != 0) {
            throw c.fault(CpuFault.NM, CpuFault.NO_ERROR_CODE);
        }
        if (d.op.simdFp) {
            c.sseFlags = 0; // the lanes OR their flags in; commitFlags reports them
        }
        switch (d.op) {
            // ---- data movement ----
            case MOVUPS_VW: case MOVUPD_VW: case MOVAPS_VW: case MOVAPD_VW: case MOVDQA_VW: case MOVDQU_VW:
                SseMove.load128(c, d); return;
            case MOVUPS_WV: case MOVUPD_WV: case MOVAPS_WV: case MOVAPD_WV: case MOVDQA_WV: case MOVDQU_WV:
            case MOVNTPS: case MOVNTPD: case MOVNTDQ:
                SseMove.store128(c, d); return;
            case MOVSS_VW: SseMove.movssLoad(c, d); return;
            case MOVSS_WV: SseMove.movssStore(c, d); return;
            case MOVSD_VW: SseMove.movsdLoad(c, d); return;
            case MOVSD_WV: SseMove.movsdStore(c, d); return;
            case MOVHLPS: SseMove.movhlps(c, d); return;
            case MOVLHPS: SseMove.movlhps(c, d); return;
            case MOVLPS_VM: case MOVLPD_VM: SseMove.movlpLoad(c, d); return;
            case MOVLPS_MV: case MOVLPD_MV: SseMove.movlpStore(c, d); return;
            case MOVHPS_VM: case MOVHPD_VM: SseMove.movhpLoad(c, d); return;
            case MOVHPS_MV: case MOVHPD_MV: SseMove.movhpStore(c, d); return;
            case MOVMSKPS: SseMove.movmskps(c, d); return;
            case MOVMSKPD: SseMove.movmskpd(c, d); return;
            case PMOVMSKB: SseMove.pmovmskb(c, d); return;
            case MOVD_VE: SseMove.movdLoad(c, d); return;
            case MOVD_EV: SseMove.movdStore(c, d); return;
            case MOVQ_VW: SseMove.movqLoad(c, d); return;
            case MOVQ_WV: SseMove.movqStore(c, d); return;
            case MASKMOVDQU: SseMove.maskmovdqu(c, d); return;
            case PINSRW: SseMove.pinsrw(c, d); return;
            case PEXTRW: SseMove.pextrw(c, d); return;
            // ---- shuffles, unpacks, packs, byte shifts ----
            case UNPCKLPS: SseShuffle.unpcklps(c, d); return;
            case UNPCKHPS: SseShuffle.unpckhps(c, d); return;
            case UNPCKLPD: case PUNPCKLQDQ: SseShuffle.unpcklqdq(c, d); return;
            case UNPCKHPD: case PUNPCKHQDQ: SseShuffle.unpckhqdq(c, d); return;
            case SHUFPS: SseShuffle.shufps(c, d); return;
            case SHUFPD: SseShuffle.shufpd(c, d); return;
            case PSHUFD: SseShuffle.pshufd(c, d); return;
            case PSHUFHW: SseShuffle.pshufhw(c, d); return;
            case PSHUFLW: SseShuffle.pshuflw(c, d); return;
            case PUNPCKLBW: SseShuffle.punpcklbw(c, d); return;
            case PUNPCKHBW: SseShuffle.punpckhbw(c, d); return;
            case PUNPCKLWD: SseShuffle.punpcklwd(c, d); return;
            case PUNPCKHWD: SseShuffle.punpckhwd(c, d); return;
            case PUNPCKLDQ: SseShuffle.punpckldq(c, d); return;
            case PUNPCKHDQ: SseShuffle.punpckhdq(c, d); return;
            case PACKSSWB: SseShuffle.packsswb(c, d); return;
            case PACKUSWB: SseShuffle.packuswb(c, d); return;
            case PACKSSDW: SseShuffle.packssdw(c, d); return;
            case PSRLDQ: SseShuffle.psrldq(c, d); return;
            case PSLLDQ: SseShuffle.pslldq(c, d); return;
            // ---- integer lanes ----
            case PSRLW: case PSRLD: case PSRLQ: case PSRAW: case PSRAD: case PSLLW: case PSLLD: case PSLLQ:
                SseInteger.shiftByXmm(c, d); return;
            case PSRLW_I: case PSRLD_I: case PSRLQ_I: case PSRAW_I: case PSRAD_I: case PSLLW_I: case PSLLD_I:
            case PSLLQ_I:
                SseInteger.shiftByImm(c, d); return;
            case PMADDWD: SseInteger.pmaddwd(c, d); return;
            case PSADBW: SseInteger.psadbw(c, d); return;
            case PMULUDQ: SseInteger.pmuludq(c, d); return;
            case PCMPGTB: case PCMPGTW: case PCMPGTD: case PCMPEQB: case PCMPEQW: case PCMPEQD:
            case PADDB: case PADDW: case PADDD: case PADDQ: case PSUBB: case PSUBW: case PSUBD: case PSUBQ:
            case PADDSB: case PADDSW: case PADDUSB: case PADDUSW: case PSUBSB: case PSUBSW: case PSUBUSB:
            case PSUBUSW: case PMULLW: case PMULHW: case PMULHUW: case PMINUB: case PMAXUB: case PMINSW:
            case PMAXSW: case PAVGB: case PAVGW: case PAND: case PANDN: case POR: case PXOR:
            case ANDPS: case ANDPD: case ANDNPS: case ANDNPD: case ORPS: case ORPD: case XORPS: case XORPD:
                SseInteger.lanes(c, d); return;
            // ---- floating point ----
            case ADDPS: case SUBPS: case MULPS: case DIVPS: case MINPS: case MAXPS: case SQRTPS:
            case ADDSS: case SUBSS: case MULSS: case DIVSS: case MINSS: case MAXSS: case SQRTSS:
                SseFloat.single(c, d); return;
            case ADDPD: case SUBPD: case MULPD: case DIVPD: case MINPD: case MAXPD: case SQRTPD:
            case ADDSD: case SUBSD: case MULSD: case DIVSD: case MINSD: case MAXSD: case SQRTSD:
                SseFloat.dbl(c, d); return;
            case RCPPS: case RCPSS: case RSQRTPS: case RSQRTSS: SseFloat.approximate(c, d); return;
            case CMPPS: case CMPSS: SseFloat.cmpSingle(c, d); return;
            case CMPPD: case CMPSD: SseFloat.cmpDouble(c, d); return;
            case COMISS: case UCOMISS: SseFloat.comiss(c, d); return;
            case COMISD: case UCOMISD: SseFloat.comisd(c, d); return;
            // ---- conversions ----
            case CVTSI2SS: SseConvert.cvtsi2ss(c, d); return;
            case CVTSI2SD: SseConvert.cvtsi2sd(c, d); return;
            case CVTSS2SI: case CVTTSS2SI: SseConvert.cvtss2si(c, d); return;
            case CVTSD2SI: case CVTTSD2SI: SseConvert.cvtsd2si(c, d); return;
            case CVTSS2SD: SseConvert.cvtss2sd(c, d); return;
            case CVTSD2SS: SseConvert.cvtsd2ss(c, d); return;
            case CVTPS2PD: SseConvert.cvtps2pd(c, d); return;
            case CVTPD2PS: SseConvert.cvtpd2ps(c, d); return;
            case CVTDQ2PS: SseConvert.cvtdq2ps(c, d); return;
            case CVTPS2DQ: case CVTTPS2DQ: SseConvert.cvtps2dq(c, d); return;
            case CVTDQ2PD: SseConvert.cvtdq2pd(c, d); return;
            case CVTPD2DQ: case CVTTPD2DQ: SseConvert.cvtpd2dq(c, d); return;
            // ---- SSE3 ----
            case MOVSLDUP: SseMove.movsldup(c, d); return;
            case MOVSHDUP: SseMove.movshdup(c, d); return;
            case MOVDDUP: SseMove.movddup(c, d); return;
            case LDDQU: SseMove.load128(c, d); return;
            case HADDPS: case HSUBPS: case ADDSUBPS: SseFloat.horizontalSingle(c, d); return;
            case HADDPD: case HSUBPD: case ADDSUBPD: SseFloat.horizontalDouble(c, d); return;
            // ---- SSSE3 ----
            case PSHUFB: SseShuffle.pshufb(c, d); return;
            case PALIGNR: SseShuffle.palignr(c, d); return;
            case PHADDW: case PHADDD: case PHADDSW: case PHSUBW: case PHSUBD: case PHSUBSW:
                SseInteger.horizontal(c, d); return;
            case PMADDUBSW: SseInteger.pmaddubsw(c, d); return;
            case PSIGNB: case PSIGNW: case PSIGND: case PMULHRSW: case PABSB: case PABSW: case PABSD:
                SseInteger.lanes(c, d); return;
            // ---- SSE4.1 ----
            case PBLENDVB: case BLENDVPS: case BLENDVPD: case BLENDPS: case BLENDPD: case PBLENDW:
                SseShuffle.blend(c, d); return;
            case PMOVSXBW: case PMOVSXBD: case PMOVSXBQ: case PMOVSXWD: case PMOVSXWQ: case PMOVSXDQ:
            case PMOVZXBW: case PMOVZXBD: case PMOVZXBQ: case PMOVZXWD: case PMOVZXWQ: case PMOVZXDQ:
                SseShuffle.pmovx(c, d); return;
            case PACKUSDW: SseShuffle.packusdw(c, d); return;
            case INSERTPS: SseShuffle.insertps(c, d); return;
            case MOVNTDQA: SseMove.load128(c, d); return;
            case PEXTRB: case PEXTRW_E: case PEXTRD: case EXTRACTPS: SseMove.extract(c, d); return;
            case PINSRB: case PINSRD: SseMove.insert(c, d); return;
            case PTEST: SseInteger.ptest(c, d); return;
            case PMULDQ: SseInteger.pmuldq(c, d); return;
            case PHMINPOSUW: SseInteger.phminposuw(c, d); return;
            case MPSADBW: SseInteger.mpsadbw(c, d); return;
            case PCMPEQQ: case PMINSB: case PMINSD: case PMINUW: case PMINUD: case PMAXSB: case PMAXSD: case PMAXUW:
            case PMAXUD: case PMULLD:
                SseInteger.lanes(c, d); return;
            case ROUNDPS: case ROUNDSS: SseFloat.roundSingle(c, d); return;
            case ROUNDPD: case ROUNDSD: SseFloat.roundDouble(c, d); return;
            case DPPS: SseFloat.dpps(c, d); return;
            case DPPD: SseFloat.dppd(c, d); return;
            // ---- SSE4.2 ----
            case PCMPGTQ: SseInteger.lanes(c, d); return;
            case PCMPESTRI: case PCMPESTRM: case PCMPISTRI: case PCMPISTRM: SseString.pcmpstr(c, d); return;
            default: throw new IllegalStateException("no SSE handler for " + d.op.text);
        }
    }

    // ---- operands ----

    /** The linear address of the memory operand, checked for 16-byte alignment if the form is aligned. */
    static long address(CpuExec c, Insn d, int size, boolean write) {
        long lin = c.addr(d, size, write);
        if (d.op.aligned && size == 16 && (lin & 15) != 0) {
            throw c.gp(0);
        }
        return lin;
    }

    /** Reads the 128-bit r/m operand into {@link CpuState#sseLo}/{@link CpuState#sseHi}. */
    static void loadE128(CpuExec c, Insn d) {
        if (!d.mem) {
            c.sseLo = c.xmm[2 * d.rm];
            c.sseHi = c.xmm[2 * d.rm + 1];
            return;
        }
        long lin = address(c, d, 16, false);
        c.sseLo = c.readLin(lin, 8);
        c.sseHi = c.readLin(lin + 8, 8);
    }

    /** The low 64 bits of the r/m operand (a register's low quadword, or m64). */
    static long loadE64(CpuExec c, Insn d) {
        if (!d.mem) {
            return c.xmm[2 * d.rm];
        }
        return c.readLin(c.addr(d, 8, false), 8);
    }

    /** The low 32 bits of the r/m operand (a register's low doubleword, or m32). */
    static int loadE32(CpuExec c, Insn d) {
        if (!d.mem) {
            return (int) c.xmm[2 * d.rm];
        }
        return (int) c.readLin(c.addr(d, 4, false), 4);
    }

    /** Writes a 128-bit r/m operand; a memory store is checked whole before any byte is written. */
    static void storeE128(CpuExec c, Insn d, long lo, long hi) {
        if (!d.mem) {
            c.xmm[2 * d.rm] = lo;
            c.xmm[2 * d.rm + 1] = hi;
            return;
        }
        long lin = address(c, d, 16, true);
        c.probeWrite(lin, 16);
        c.writeLin(lin, 8, lo);
        c.writeLin(lin + 8, 8, hi);
    }

    /** Sets XMM{@code reg} to the 128-bit value hi:lo. */
    static void set(CpuExec c, int reg, long lo, long hi) {
        c.xmm[2 * reg] = lo;
        c.xmm[2 * reg + 1] = hi;
    }

    // ---- MXCSR ----

    static final int IE = 1, DE = 2, ZE = 4, OE = 8, UE = 16, PE = 32;
    static final int MXCSR_DAZ = 1 << 6, MXCSR_FZ = 1 << 15;
    /** MXCSR.RC: 0 nearest, 1 down, 2 up, 3 toward zero. */
    static final int RC_NEAREST = 0, RC_DOWN = 1, RC_UP = 2, RC_ZERO = 3;

    /**
     * Ends an SSE floating-point instruction's exception handling (SDM 11.5.1): with the flags
     * its lanes raised in {@link CpuState#sseFlags}, an unmasked precomputation exception (IE,
     * DE, ZE) sets those flags only and raises #XM (#UD without CR4.OSXMMEXCPT); an unmasked
     * postcomputation one (OE, UE, PE) sets all flags and raises; either way before the
     * destination is written. Otherwise the flags are ORed into MXCSR and the caller writes.
     */
    static void commitFlags(CpuExec c) {
        int masks = (c.mxcsr >>> 7) & 0x3f;
        int flags = c.sseFlags;
        int pre = flags & (IE | DE | ZE);
        if ((pre & ~masks) != 0) {
            c.mxcsr |= pre;
            throw simdFault(c);
        }
        if ((flags & ~masks) != 0) {
            c.mxcsr |= flags;
            throw simdFault(c);
        }
        c.mxcsr |= flags;
    }

    static CpuFault simdFault(CpuExec c) {
        if ((c.cr4 & CR4_OSXMMEXCPT) == 0) {
            return c.ud();
        }
        return c.fault(CpuFault.XM, CpuFault.NO_ERROR_CODE);
    }
}

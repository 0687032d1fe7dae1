package org.tscvm.cpu.diff;

import static org.tscvm.cpu.diff.DiffCase.BUF_ADDR;
import static org.tscvm.cpu.diff.DiffCase.BUF_SIZE;

import java.util.List;
import java.util.Random;
import org.tscvm.cpu.diff.InstructionForms.Form;
import org.tscvm.cpu.diff.InstructionForms.G;

/**
 * The SSE/SSE2 forms of the differential test. Every case fills all sixteen XMM registers and
 * the memory operand with lanes of the form's kind: integers biased to lane edges, or singles
 * and doubles drawn from the special values (signed zeros, denormals, infinities, QNaNs and
 * SNaNs with payloads, values near overflow, near the smallest normal and near rounding
 * boundaries, halves for conversions, integers near 2^31 and 2^63), with the source lanes
 * sometimes a near copy of the destination's (cancellation, ties). MXCSR gets a random
 * rounding mode, FZ and DAZ on or off and random sticky flags; in one case of five some
 * exceptions are unmasked, and a case that raises #XM is compared at the fault (MXCSR flags,
 * XMM registers unchanged) as the host's signal frame shows it.
 */
final class SseForms {
    private SseForms() {
    }

    /** Lane kinds for registers and memory. */
    enum V { INT, F32, F64 }

    /** Operand shapes. */
    private static final int XX = 0, GPR_RM = 1, GPR_REG = 2, DIGIT = 3, MASKMOV = 4;
    private static final int NONE = -1, P66 = 0x66, PF3 = 0xf3, PF2 = 0xf2;
    /** 0F 60 + i: the unpacks, packs and compares; MMX has the first 12, SSE2's 66 form all 14. */
    static final String[] OPS_60 = {"punpcklbw", "punpcklwd", "punpckldq", "packsswb", "pcmpgtb", "pcmpgtw", "pcmpgtd",
        "packuswb", "punpckhbw", "punpckhwd", "punpckhdq", "packssdw", "punpcklqdq", "punpckhqdq"};
    /** The integer lane operations and shifts by a register, alike for mm and (66) xmm. */
    static final int[] INT_LANE_OPCODES = {0x74, 0x75, 0x76, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd8, 0xd9, 0xda, 0xdb, 0xdc,
        0xdd, 0xde, 0xdf, 0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
        0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe};
    static final String[] INT_LANE_NAMES = {"pcmpeqb", "pcmpeqw", "pcmpeqd", "psrlw", "psrld", "psrlq", "paddq", "pmullw",
        "psubusb", "psubusw", "pminub", "pand", "paddusb", "paddusw", "pmaxub", "pandn",
        "pavgb", "psraw", "psrad", "pavgw", "pmulhuw", "pmulhw", "psubsb", "psubsw", "pminsw", "por", "paddsb",
        "paddsw", "pmaxsw", "pxor",
        "psllw", "pslld", "psllq", "pmuludq", "pmaddwd", "psadbw", "psubb", "psubw", "psubd", "psubq", "paddb",
        "paddw", "paddd"};

    static void add(List<Form> forms) {
        // ---- moves ----
        xx(forms, "movups", NONE, 0x10, 128, false, V.F32, true);
        xx(forms, "movups", NONE, 0x11, 128, false, V.F32, true);
        xx(forms, "movupd", P66, 0x10, 128, false, V.F64, true);
        xx(forms, "movupd", P66, 0x11, 128, false, V.F64, true);
        xx(forms, "movaps", NONE, 0x28, 128, true, V.F32, true);
        xx(forms, "movaps", NONE, 0x29, 128, true, V.F32, true);
        xx(forms, "movapd", P66, 0x28, 128, true, V.F64, true);
        xx(forms, "movapd", P66, 0x29, 128, true, V.F64, true);
        xx(forms, "movdqa", P66, 0x6f, 128, true, V.INT, true);
        xx(forms, "movdqa", P66, 0x7f, 128, true, V.INT, true);
        xx(forms, "movdqu", PF3, 0x6f, 128, false, V.INT, true);
        xx(forms, "movdqu", PF3, 0x7f, 128, false, V.INT, true);
        xx(forms, "movss", PF3, 0x10, 32, false, V.F32, true);
        xx(forms, "movss", PF3, 0x11, 32, false, V.F32, true);
        xx(forms, "movsd", PF2, 0x10, 64, false, V.F64, true);
        xx(forms, "movsd", PF2, 0x11, 64, false, V.F64, true);
        xx(forms, "movhlps", NONE, 0x12, 0, false, V.F32, true);
        xx(forms, "movlhps", NONE, 0x16, 0, false, V.F32, true);
        xx(forms, "movlps", NONE, 0x12, 64, false, V.F32, false);
        xx(forms, "movlps", NONE, 0x13, 64, false, V.F32, false);
        xx(forms, "movlpd", P66, 0x12, 64, false, V.F64, false);
        xx(forms, "movlpd", P66, 0x13, 64, false, V.F64, false);
        xx(forms, "movhps", NONE, 0x16, 64, false, V.F32, false);
        xx(forms, "movhps", NONE, 0x17, 64, false, V.F32, false);
        xx(forms, "movhpd", P66, 0x16, 64, false, V.F64, false);
        xx(forms, "movhpd", P66, 0x17, 64, false, V.F64, false);
        xx(forms, "movntps", NONE, 0x2b, 128, true, V.F32, false);
        xx(forms, "movntpd", P66, 0x2b, 128, true, V.F64, false);
        xx(forms, "movntdq", P66, 0xe7, 128, true, V.INT, false);
        xx(forms, "movq", PF3, 0x7e, 64, false, V.INT, true);
        xx(forms, "movq", P66, 0xd6, 64, false, V.INT, true);
        gpr(forms, "movd", P66, 0x6e, GPR_RM, 32, V.INT, false);
        gpr(forms, "movq", P66, 0x6e, GPR_RM, 64, V.INT, false);
        gpr(forms, "movd", P66, 0x7e, GPR_RM, 32, V.INT, false);
        gpr(forms, "movq", P66, 0x7e, GPR_RM, 64, V.INT, false);
        gpr(forms, "movmskps", NONE, 0x50, GPR_REG, 0, V.F32, false);
        gpr(forms, "movmskpd", P66, 0x50, GPR_REG, 0, V.F64, false);
        gpr(forms, "pmovmskb", P66, 0xd7, GPR_REG, 0, V.INT, false);
        gpr(forms, "pinsrw", P66, 0xc4, GPR_RM, 16, V.INT, true);
        gpr(forms, "pextrw", P66, 0xc5, GPR_REG, 0, V.INT, true);
        forms.add(new Form("maskmovdqu xmm, xmm", rnd -> maskmovdqu(rnd)));
        // ---- shuffles, unpacks, packs ----
        xx(forms, "unpcklps", NONE, 0x14, 128, true, V.F32, true);
        xx(forms, "unpckhps", NONE, 0x15, 128, true, V.F32, true);
        xx(forms, "unpcklpd", P66, 0x14, 128, true, V.F64, true);
        xx(forms, "unpckhpd", P66, 0x15, 128, true, V.F64, true);
        xxImm(forms, "shufps", NONE, 0xc6, V.F32);
        xxImm(forms, "shufpd", P66, 0xc6, V.F64);
        xxImm(forms, "pshufd", P66, 0x70, V.INT);
        xxImm(forms, "pshufhw", PF3, 0x70, V.INT);
        xxImm(forms, "pshuflw", PF2, 0x70, V.INT);
        for (int i = 0; i < OPS_60.length; i++) {
            xx(forms, OPS_60[i], P66, 0x60 + i, 128, true, V.INT, true);
        }
        // ---- integer lanes ----
        for (int i = 0; i < INT_LANE_OPCODES.length; i++) {
            xx(forms, INT_LANE_NAMES[i], P66, INT_LANE_OPCODES[i], 128, true, V.INT, true);
        }
        String[][] shifts = {{"psrlw", "71", "2"}, {"psraw", "71", "4"}, {"psllw", "71", "6"}, {"psrld", "72", "2"},
            {"psrad", "72", "4"}, {"pslld", "72", "6"}, {"psrlq", "73", "2"}, {"psrldq", "73", "3"}, {"psllq", "73", "6"},
            {"pslldq", "73", "7"}};
        for (String[] s : shifts) {
            int opc = Integer.parseInt(s[1], 16);
            int digit = Integer.parseInt(s[2]);
            forms.add(new Form(s[0] + " xmm, imm8", rnd -> digitCase(rnd, s[0] + " xmm, imm8", opc, digit)));
        }
        // ---- floating point ----
        String[] arith = {"sqrt", "add", "mul", "sub", "min", "div", "max"};
        int[] arithOps = {0x51, 0x58, 0x59, 0x5c, 0x5d, 0x5e, 0x5f};
        for (int i = 0; i < arith.length; i++) {
            xx(forms, arith[i] + "ps", NONE, arithOps[i], 128, true, V.F32, true);
            xx(forms, arith[i] + "pd", P66, arithOps[i], 128, true, V.F64, true);
            xx(forms, arith[i] + "ss", PF3, arithOps[i], 32, false, V.F32, true);
            xx(forms, arith[i] + "sd", PF2, arithOps[i], 64, false, V.F64, true);
        }
        String[] logic = {"and", "andn", "or", "xor"};
        for (int i = 0; i < logic.length; i++) {
            xx(forms, logic[i] + "ps", NONE, 0x54 + i, 128, true, V.F32, true);
            xx(forms, logic[i] + "pd", P66, 0x54 + i, 128, true, V.F64, true);
        }
        xxImm(forms, "cmpps", NONE, 0xc2, V.F32);
        xxImm(forms, "cmppd", P66, 0xc2, V.F64);
        xxScalarImm(forms, "cmpss", PF3, 32, V.F32);
        xxScalarImm(forms, "cmpsd", PF2, 64, V.F64);
        xx(forms, "ucomiss", NONE, 0x2e, 32, false, V.F32, true);
        xx(forms, "comiss", NONE, 0x2f, 32, false, V.F32, true);
        xx(forms, "ucomisd", P66, 0x2e, 64, false, V.F64, true);
        xx(forms, "comisd", P66, 0x2f, 64, false, V.F64, true);
        approx(forms, "rcpps", NONE, 0x53, 128);
        approx(forms, "rcpss", PF3, 0x53, 32);
        approx(forms, "rsqrtps", NONE, 0x52, 128);
        approx(forms, "rsqrtss", PF3, 0x52, 32);
        // ---- conversions ----
        gpr(forms, "cvtsi2ss", PF3, 0x2a, GPR_RM, 32, V.F32, false);
        gpr(forms, "cvtsi2ss", PF3, 0x2a, GPR_RM, 64, V.F32, false);
        gpr(forms, "cvtsi2sd", PF2, 0x2a, GPR_RM, 32, V.F64, false);
        gpr(forms, "cvtsi2sd", PF2, 0x2a, GPR_RM, 64, V.F64, false);
        for (String n : new String[] {"cvttss2si", "cvtss2si"}) {
            int opc = n.startsWith("cvtt") ? 0x2c : 0x2d;
            gpr(forms, n, PF3, opc, GPR_REG, 32, V.F32, false);
            gpr(forms, n, PF3, opc, GPR_REG, 64, V.F32, false);
        }
        for (String n : new String[] {"cvttsd2si", "cvtsd2si"}) {
            int opc = n.startsWith("cvtt") ? 0x2c : 0x2d;
            gpr(forms, n, PF2, opc, GPR_REG, 32, V.F64, false);
            gpr(forms, n, PF2, opc, GPR_REG, 64, V.F64, false);
        }
        xx(forms, "cvtps2pd", NONE, 0x5a, 64, false, V.F32, true);
        xx(forms, "cvtpd2ps", P66, 0x5a, 128, true, V.F64, true);
        xx(forms, "cvtss2sd", PF3, 0x5a, 32, false, V.F32, true);
        xx(forms, "cvtsd2ss", PF2, 0x5a, 64, false, V.F64, true);
        xx(forms, "cvtdq2ps", NONE, 0x5b, 128, true, V.INT, true);
        xx(forms, "cvtps2dq", P66, 0x5b, 128, true, V.F32, true);
        xx(forms, "cvttps2dq", PF3, 0x5b, 128, true, V.F32, true);
        xx(forms, "cvttpd2dq", P66, 0xe6, 128, true, V.F64, true);
        xx(forms, "cvtdq2pd", PF3, 0xe6, 64, false, V.INT, true);
        xx(forms, "cvtpd2dq", PF2, 0xe6, 128, true, V.F64, true);
        // ---- SSE3 ----
        xx(forms, "movsldup", PF3, 0x12, 128, true, V.F32, true);
        xx(forms, "movshdup", PF3, 0x16, 128, true, V.F32, true);
        xx(forms, "movddup", PF2, 0x12, 64, false, V.F64, true);
        xx(forms, "lddqu", PF2, 0xf0, 128, false, V.INT, false);
        xx(forms, "haddps", PF2, 0x7c, 128, true, V.F32, true);
        xx(forms, "hsubps", PF2, 0x7d, 128, true, V.F32, true);
        xx(forms, "addsubps", PF2, 0xd0, 128, true, V.F32, true);
        xx(forms, "haddpd", P66, 0x7c, 128, true, V.F64, true);
        xx(forms, "hsubpd", P66, 0x7d, 128, true, V.F64, true);
        xx(forms, "addsubpd", P66, 0xd0, 128, true, V.F64, true);
        // ---- SSSE3 ----
        String[] ssse3 = {"pshufb", "phaddw", "phaddd", "phaddsw", "pmaddubsw", "phsubw", "phsubd", "phsubsw",
            "psignb", "psignw", "psignd", "pmulhrsw"};
        for (int i = 0; i < ssse3.length; i++) {
            xx(forms, ssse3[i], P66, 0x3800 | i, 128, true, V.INT, true);
        }
        xx(forms, "pabsb", P66, 0x381c, 128, true, V.INT, true);
        xx(forms, "pabsw", P66, 0x381d, 128, true, V.INT, true);
        xx(forms, "pabsd", P66, 0x381e, 128, true, V.INT, true);
        xxImm(forms, "palignr", P66, 0x3a0f, V.INT);
        // ---- SSE4.1 ----
        String[] sse41 = {"pblendvb", "", "", "", "blendvps", "blendvpd", "", "ptest"};
        for (int i = 0; i < sse41.length; i++) {
            if (!sse41[i].isEmpty()) {
                xx(forms, sse41[i], P66, 0x3810 + i, 128, true, i == 4 ? V.F32 : i == 5 ? V.F64 : V.INT, true);
            }
        }
        String[] ext = {"bw", "bd", "bq", "wd", "wq", "dq"};
        int[] extBits = {64, 32, 16, 64, 32, 64};
        for (int i = 0; i < ext.length; i++) {
            xx(forms, "pmovsx" + ext[i], P66, 0x3820 + i, extBits[i], false, V.INT, true);
            xx(forms, "pmovzx" + ext[i], P66, 0x3830 + i, extBits[i], false, V.INT, true);
        }
        xx(forms, "pmuldq", P66, 0x3828, 128, true, V.INT, true);
        xx(forms, "pcmpeqq", P66, 0x3829, 128, true, V.INT, true);
        xx(forms, "movntdqa", P66, 0x382a, 128, true, V.INT, false);
        xx(forms, "packusdw", P66, 0x382b, 128, true, V.INT, true);
        String[] minmax = {"pminsb", "pminsd", "pminuw", "pminud", "pmaxsb", "pmaxsd", "pmaxuw", "pmaxud", "pmulld",
            "phminposuw"};
        for (int i = 0; i < minmax.length; i++) {
            xx(forms, minmax[i], P66, 0x3838 + i, 128, true, V.INT, true);
        }
        xxImm(forms, "roundps", P66, 0x3a08, V.F32);
        xxImm(forms, "roundpd", P66, 0x3a09, V.F64);
        xxScalarImm(forms, "roundss", P66, 0x3a0a, 32, V.F32, 256);
        xxScalarImm(forms, "roundsd", P66, 0x3a0b, 64, V.F64, 256);
        xxImm(forms, "blendps", P66, 0x3a0c, V.F32);
        xxImm(forms, "blendpd", P66, 0x3a0d, V.F64);
        xxImm(forms, "pblendw", P66, 0x3a0e, V.INT);
        xxImm(forms, "dpps", P66, 0x3a40, V.F32);
        xxImm(forms, "dppd", P66, 0x3a41, V.F64);
        xxImm(forms, "mpsadbw", P66, 0x3a42, V.INT);
        xxScalarImm(forms, "insertps", P66, 0x3a21, 32, V.F32, 256);
        gpr(forms, "pextrb", P66, 0x3a14, GPR_RM, 8, V.INT, true);
        gpr(forms, "pextrw", P66, 0x3a15, GPR_RM, 16, V.INT, true);
        gpr(forms, "pextrd", P66, 0x3a16, GPR_RM, 32, V.INT, true);
        gpr(forms, "pextrq", P66, 0x3a16, GPR_RM, 64, V.INT, true);
        gpr(forms, "extractps", P66, 0x3a17, GPR_RM, 32, V.F32, true);
        gpr(forms, "pinsrb", P66, 0x3a20, GPR_RM, 8, V.INT, true);
        gpr(forms, "pinsrd", P66, 0x3a22, GPR_RM, 32, V.INT, true);
        gpr(forms, "pinsrq", P66, 0x3a22, GPR_RM, 64, V.INT, true);
        // ---- SSE4.2 ----
        xx(forms, "pcmpgtq", P66, 0x3837, 128, true, V.INT, true);
        String[] str = {"pcmpestrm", "pcmpestri", "pcmpistrm", "pcmpistri"};
        for (int i = 0; i < str.length; i++) {
            int opc = 0x3a60 + i;
            for (boolean memory : new boolean[] {false, true}) {
                for (boolean wide : new boolean[] {false, true}) {
                    // objdump names the REX.W explicit-length forms pcmpestriq/pcmpestrmq (RAX, RDX as lengths)
                    String mn = str[i] + (wide && str[i].startsWith("pcmpe") ? "q" : "");
                    String name = mn + " xmm, " + (memory ? "m128" : "xmm") + ", imm8" + (wide ? " (rex.w)" : "");
                    forms.add(new Form(name, rnd -> stringCase(rnd, name, opc, memory, wide)));
                }
            }
        }
        for (int size : new int[] {8, 16, 32, 64}) {
            for (boolean memory : new boolean[] {false, true}) {
                String name = "crc32 r" + (size == 64 ? 64 : 32) + ", " + (memory ? "m" : "r") + size;
                forms.add(new Form(name, rnd -> crc32Case(rnd, name, size, memory)));
            }
        }
        forms.add(new Form("crc32 r64, r8", rnd -> crc32Case(rnd, "crc32 r64, r8", -8, false)));
    }

    /**
     * PCMPxSTRx with strings worth comparing: elements from a four-letter alphabet, zeros
     * (implicit ends) here and there, lengths in RAX/RDX between -20 and 20, and the first
     * operand sometimes a piece of the second.
     */
    private static DiffCase stringCase(Random rnd, String name, int opc, boolean memory, boolean wide) {
        G g = start(rnd, V.INT);
        if (wide) {
            g.e.size(64);
        }
        prefixAndOpcode(g, P66, opc);
        int reg = rnd.nextInt(16);
        long[] a = alphabetString(rnd);
        long[] b = alphabetString(rnd);
        if (rnd.nextBoolean()) { // a piece of B, shifted, as A
            int shift = 8 * rnd.nextInt(8);
            a[0] = shift == 0 ? b[0] : (b[0] >>> shift) | (b[1] << (64 - shift));
            a[1] = b[1] >>> shift;
        }
        g.xmm[2 * reg] = a[0];
        g.xmm[2 * reg + 1] = a[1];
        if (memory) {
            int off = 64 + rnd.nextInt(112);
            for (int k = 0; k < 16; k++) {
                g.mem[off + k] = (byte) (b[k >>> 3] >>> (8 * (k & 7)));
            }
            g.modrm(reg, new InstructionForms.Rm(true, -1, off), (1 << InstructionForms.RAX) | (1 << InstructionForms.RDX));
        } else {
            int rm = rnd.nextInt(16);
            g.xmm[2 * rm] = b[0];
            g.xmm[2 * rm + 1] = b[1];
            if (rm == reg) {
                g.xmm[2 * reg] = b[0];
                g.xmm[2 * reg + 1] = b[1];
            }
            g.e.modrmReg(reg, rm);
        }
        g.gpr[InstructionForms.RAX] = rnd.nextInt(41) - 20 + (rnd.nextInt(8) == 0 ? rnd.nextLong() : 0);
        g.gpr[InstructionForms.RDX] = rnd.nextInt(41) - 20 + (rnd.nextInt(8) == 0 ? rnd.nextLong() : 0);
        g.e.imm(rnd.nextInt(256), 1);
        return g.build(name);
    }

    private static long[] alphabetString(Random rnd) {
        long[] q = new long[2];
        boolean words = rnd.nextBoolean();
        for (int i = 0; i < 16; i++) {
            int v = rnd.nextInt(12) == 0 ? 0 : 'a' + rnd.nextInt(4);
            if (rnd.nextInt(10) == 0) {
                v = rnd.nextInt(256);
            }
            if (words && (i & 1) == 1) {
                v = rnd.nextInt(4) == 0 ? rnd.nextInt(256) : 0;
            }
            q[i >>> 3] |= (long) v << (8 * (i & 7));
        }
        return q;
    }

    /** CRC32 r32/r64 with a byte (F0) or 16/32/64-bit (F1) source; size -8: r64 with an 8-bit source. */
    private static DiffCase crc32Case(Random rnd, String name, int size, boolean memory) {
        G g = new G(rnd);
        g.e.prefix(0xf2);
        int bits = Math.abs(size);
        if (size == 16) {
            g.e.prefix(0x66);
        }
        if (size == 64 || size == -8) {
            g.e.size(64);
        }
        if (bits == 8) {
            g.e.rex();
            g.rex8 = true;
        }
        g.e.op(0x0f, 0x38, bits == 8 ? 0xf0 : 0xf1);
        int dst = g.wideReg(0);
        InstructionForms.Rm src = g.rm(memory, bits, 0, false);
        g.modrm(dst, src, 1 << dst);
        return g.build(name);
    }

    // ---- form builders ----

    private static String memName(int bits) {
        return "m" + bits;
    }

    /** xmm, xmm/m forms: a register form (unless {@code registerForm} is false) and a memory form (memBits > 0). */
    private static void xx(List<Form> forms, String mn, int prefix, int opc, int memBits, boolean aligned, V v,
            boolean registerForm) {
        if (registerForm) {
            forms.add(new Form(mn + " xmm, xmm", rnd -> xxCase(rnd, mn + " xmm, xmm", prefix, opc, false, 0, false, v, -1)));
        }
        if (memBits > 0) {
            String name = mn + " xmm, " + memName(memBits) + " (" + Integer.toHexString(opc) + ")";
            forms.add(new Form(name, rnd -> xxCase(rnd, name, prefix, opc, true, memBits, aligned, v, -1)));
        }
    }

    private static void xxImm(List<Form> forms, String mn, int prefix, int opc, V v) {
        forms.add(new Form(mn + " xmm, xmm, imm8", rnd -> xxCase(rnd, mn + " xmm, xmm, imm8", prefix, opc, false, 0, false,
                v, rnd.nextInt(256))));
        forms.add(new Form(mn + " xmm, m128, imm8", rnd -> xxCase(rnd, mn + " xmm, m128, imm8", prefix, opc, true, 128,
                true, v, rnd.nextInt(256))));
    }

    private static void xxScalarImm(List<Form> forms, String mn, int prefix, int bits, V v) {
        xxScalarImm(forms, mn, prefix, 0xc2, bits, v, 8);
    }

    /** An xmm, xmm/m{bits}, imm8 form without alignment, imm8 below {@code immBound}. */
    private static void xxScalarImm(List<Form> forms, String mn, int prefix, int opc, int bits, V v, int immBound) {
        forms.add(new Form(mn + " xmm, xmm, imm8", rnd -> xxCase(rnd, mn + " xmm, xmm, imm8", prefix, opc, false, 0, false,
                v, rnd.nextInt(immBound))));
        forms.add(new Form(mn + " xmm, m" + bits + ", imm8", rnd -> xxCase(rnd, mn + " xmm, m" + bits + ", imm8", prefix,
                opc, true, bits, false, v, rnd.nextInt(immBound))));
    }

    private static void approx(List<Form> forms, String mn, int prefix, int opc, int bits) {
        forms.add(new Form(mn + " xmm, xmm", rnd -> {
            DiffCase c = xxCase(rnd, mn + " xmm, xmm", prefix, opc, false, 0, false, V.F32, -1);
            return withApprox(c);
        }));
        forms.add(new Form(mn + " xmm, m" + bits, rnd -> {
            DiffCase c = xxCase(rnd, mn + " xmm, m" + bits, prefix, opc, true, bits, bits == 128, V.F32, -1);
            return withApprox(c);
        }));
    }

    /** The destination (ModRM.reg) of an approximation is compared within the SDM's error bound. */
    private static DiffCase withApprox(DiffCase c) {
        byte[] code = c.code();
        int i = 0;
        while ((code[i] & 0xff) != 0x0f) {
            i++;
        }
        int rex = i > 0 && (code[i - 1] & 0xf0) == 0x40 ? code[i - 1] : 0;
        int reg = ((code[i + 2] >>> 3) & 7) | ((rex & 4) << 1);
        return new DiffCase(c.form(), c.code(), c.gpr(), c.rflags(), c.mem(), c.definedFlags(), c.undefinedRegs(),
                c.xmm(), c.mxcsr(), 1 << reg, c.misaligned());
    }

    /** Forms with a general register: GPR_RM (ModRM.rm is a GPR or memory) or GPR_REG (ModRM.reg is a GPR). */
    private static void gpr(List<Form> forms, String mn, int prefix, int opc, int shape, int bits, V v, boolean imm) {
        String suffix = imm ? ", imm8" : "";
        if (shape == GPR_RM) {
            String gprName = bits == 64 ? "r64" : "r32";
            String reg = mn + " xmm, " + gprName + suffix + " (" + Integer.toHexString(opc) + ")";
            // (pextr* and extractps name the XMM source first in Intel order; the encoding is the same shape.)
            String mem = mn + " xmm, m" + bits + suffix + " (" + Integer.toHexString(opc) + ")";
            forms.add(new Form(reg, rnd -> gprCase(rnd, reg, prefix, opc, shape, bits, false, v, imm)));
            forms.add(new Form(mem, rnd -> gprCase(rnd, mem, prefix, opc, shape, bits, true, v, imm)));
        } else {
            String gprName = bits == 64 ? "r64" : "r32";
            String reg = mn + " " + gprName + ", xmm" + suffix;
            forms.add(new Form(reg, rnd -> gprCase(rnd, reg, prefix, opc, shape, bits, false, v, imm)));
            boolean hasMem = mn.startsWith("cvt");
            if (hasMem) {
                int memBits = v == V.F32 ? 32 : 64;
                String mem = mn + " " + gprName + ", m" + memBits;
                forms.add(new Form(mem, rnd -> gprCase(rnd, mem, prefix, opc, shape, bits, true, v, imm)));
            }
        }
    }

    // ---- case builders ----

    static G start(Random rnd, V v) {
        G g = new G(rnd);
        for (int i = 0; i < 32; i++) {
            g.xmm[i] = quad(rnd, v);
        }
        for (int off = 0; off + 8 <= BUF_SIZE; off += 8) {
            if (rnd.nextInt(4) != 0) {
                long q = quad(rnd, v);
                for (int k = 0; k < 8; k++) {
                    g.mem[off + k] = (byte) (q >>> (8 * k));
                }
            }
        }
        g.mxcsr = 0x1f80 | rnd.nextInt(4) << 13 | (rnd.nextBoolean() ? 0x8000 : 0) | (rnd.nextBoolean() ? 0x40 : 0)
                | (rnd.nextInt(4) == 0 ? rnd.nextInt(64) : 0);
        if (rnd.nextInt(5) == 0) {
            g.mxcsr &= ~(rnd.nextInt(64) << 7); // some exceptions unmasked: #XM, compared at the fault
        }
        return g;
    }

    /** The prefix and 0F opcode; opcodes 0x38xx and 0x3axx are in the three-byte maps. */
    static void prefixAndOpcode(G g, int prefix, int opc) {
        if (prefix != NONE) {
            g.e.prefix(prefix);
        }
        if (opc > 0xff) {
            g.e.op(0x0f, opc >>> 8, opc & 0xff);
        } else {
            g.e.op(0x0f, opc);
        }
    }

    private static DiffCase xxCase(Random rnd, String name, int prefix, int opc, boolean memory, int memBits,
            boolean aligned, V v, int imm) {
        G g = start(rnd, v);
        prefixAndOpcode(g, prefix, opc);
        int reg = rnd.nextInt(16);
        if (memory) {
            int bytes = memBits / 8;
            int off = 64 + rnd.nextInt(112);
            if (aligned) {
                off &= -16;
            }
            if (memBits == 128 && rnd.nextInt(8) == 0) {
                // Off a 16-byte boundary whatever the form: the host shows which forms #GP.
                off = (off & -16) + 1 + rnd.nextInt(15);
                g.misaligned = true;
            }
            int pick = rnd.nextInt(6);
            if (pick < 2) {
                nearCopy(rnd, g, v, g.xmm, 2 * reg, off, bytes);
            } else if (pick == 2 && v != V.INT) {
                for (int h = 0; h < Math.max(1, bytes / 8); h++) {
                    long x = boundary(rnd, v, g.xmm[2 * reg + h]);
                    for (int k = 0; k < Math.min(8, bytes); k++) {
                        g.mem[off + 8 * h + k] = (byte) (x >>> (8 * k));
                    }
                }
            }
            g.modrm(reg, new InstructionForms.Rm(true, -1, off), 0);
        } else {
            int rm = rnd.nextInt(16);
            int pick = rnd.nextInt(6);
            if (pick < 2 && rm != reg) {
                for (int h = 0; h < 2; h++) {
                    g.xmm[2 * rm + h] = near(rnd, v, g.xmm[2 * reg + h]);
                }
            } else if (pick == 2 && rm != reg && v != V.INT) {
                for (int h = 0; h < 2; h++) {
                    g.xmm[2 * rm + h] = boundary(rnd, v, g.xmm[2 * reg + h]);
                }
            }
            g.e.modrmReg(reg, rm);
        }
        if (imm >= 0) {
            g.e.imm(imm, 1);
        }
        return g.build(name);
    }

    /** Makes the memory operand at {@code off} a near copy of the destination register's lanes. */
    private static void nearCopy(Random rnd, G g, V v, long[] xmm, int q, int off, int bytes) {
        for (int h = 0; h < Math.max(1, bytes / 8); h++) {
            long x = near(rnd, v, xmm[q + h]);
            for (int k = 0; k < Math.min(8, bytes); k++) {
                g.mem[off + 8 * h + k] = (byte) (x >>> (8 * k));
            }
        }
    }

    private static DiffCase gprCase(Random rnd, String name, int prefix, int opc, int shape, int bits, boolean memory,
            V v, boolean imm) {
        G g = start(rnd, v);
        if (bits == 64) {
            g.e.size(64);
        }
        if (rnd.nextInt(3) == 0) {
            for (int r = 0; r < 16; r++) {
                if (r != InstructionForms.RSP) {
                    g.gpr[r] = intNear(rnd);
                }
            }
        }
        prefixAndOpcode(g, prefix, opc);
        int xmmReg = rnd.nextInt(16);
        if (shape == GPR_RM) {
            if (memory) {
                int off = 64 + rnd.nextInt(112);
                g.modrm(xmmReg, new InstructionForms.Rm(true, -1, off), 0);
            } else {
                g.e.modrmReg(xmmReg, g.wideReg(0));
            }
        } else {
            int gp = g.wideReg(0);
            if (memory) {
                int off = 64 + rnd.nextInt(112);
                g.modrm(gp, new InstructionForms.Rm(true, -1, off), 1 << gp);
            } else {
                g.e.modrmReg(gp, xmmReg);
            }
        }
        if (imm) {
            g.e.imm(rnd.nextInt(256), 1);
        }
        return g.build(name);
    }

    private static DiffCase digitCase(Random rnd, String name, int opc, int digit) {
        G g = start(rnd, V.INT);
        prefixAndOpcode(g, P66, opc);
        g.e.modrmReg(digit, rnd.nextInt(16));
        int n = rnd.nextInt(4) == 0 ? rnd.nextInt(256) : rnd.nextInt(70);
        g.e.imm(n, 1);
        return g.build(name);
    }

    private static DiffCase maskmovdqu(Random rnd) {
        G g = start(rnd, V.INT);
        prefixAndOpcode(g, P66, 0xf7);
        g.e.modrmReg(rnd.nextInt(16), rnd.nextInt(16));
        g.gpr[InstructionForms.RDI] = BUF_ADDR + 64 + rnd.nextInt(112);
        return g.build("maskmovdqu xmm, xmm");
    }

    // ---- values ----

    static long quad(Random rnd, V v) {
        switch (v) {
            case F32: return (f32(rnd) & 0xffffffffL) | (long) f32(rnd) << 32;
            case F64: return f64(rnd);
            default: {
                long q = 0;
                for (int i = 0; i < 4; i++) {
                    int w;
                    switch (rnd.nextInt(6)) {
                        case 0: w = new int[] {0, 0xffff, 0x8000, 0x7fff, 0x00ff, 0xff00, 0x0080, 0x7f80, 0x807f,
                            0x0001}[rnd.nextInt(10)]; break;
                        default: w = rnd.nextInt(0x10000);
                    }
                    q |= (long) w << (16 * i);
                }
                return q;
            }
        }
    }

    /** A lane like {@code q}'s: equal, a few ulps off, the exponent moved a little, or the sign flipped. */
    private static long near(Random rnd, V v, long q) {
        switch (v) {
            case F32: {
                int lo = nearF32(rnd, (int) q), hi = nearF32(rnd, (int) (q >>> 32));
                return (lo & 0xffffffffL) | (long) hi << 32;
            }
            case F64: {
                switch (rnd.nextInt(5)) {
                    case 0: return q;
                    case 1: return q ^ Long.MIN_VALUE;
                    case 2: return q + rnd.nextInt(7) - 3;
                    case 3: return q + ((long) (rnd.nextInt(9) - 4) << 52);
                    default: return (q ^ Long.MIN_VALUE) + rnd.nextInt(3) - 1;
                }
            }
            default: return rnd.nextBoolean() ? q : q ^ (1L << rnd.nextInt(64));
        }
    }

    /**
     * A lane that puts a product or quotient with {@code q}'s lane next to a boundary: T / x
     * (for MUL) or x / T (for DIV), a few ulps off, with T the smallest normal (tininess after
     * rounding: SDM 4.9.1.5), the largest finite value (overflow), a denormal or 1.
     */
    private static long boundary(Random rnd, V v, long q) {
        if (v == V.F32) {
            int lo = boundaryF32(rnd, (int) q), hi = boundaryF32(rnd, (int) (q >>> 32));
            return (lo & 0xffffffffL) | (long) hi << 32;
        }
        double x = Double.longBitsToDouble(q);
        double t = new double[] {Double.MIN_NORMAL, Double.MAX_VALUE, Double.MIN_VALUE * (1 + rnd.nextInt(1000)), 1.0,
            Double.MIN_NORMAL * (1 + rnd.nextInt(4))}[rnd.nextInt(5)];
        double y = rnd.nextBoolean() ? t / x : x / t;
        long bits = Double.doubleToRawLongBits(y);
        if (!Double.isFinite(y) || y == 0) {
            return q;
        }
        return (bits + rnd.nextInt(7) - 3) ^ (rnd.nextInt(4) == 0 ? Long.MIN_VALUE : 0);
    }

    private static int boundaryF32(Random rnd, int q) {
        float x = Float.intBitsToFloat(q);
        float t = new float[] {Float.MIN_NORMAL, Float.MAX_VALUE, Float.MIN_VALUE * (1 + rnd.nextInt(1000)), 1f,
            Float.MIN_NORMAL * (1 + rnd.nextInt(4))}[rnd.nextInt(5)];
        float y = rnd.nextBoolean() ? t / x : x / t;
        if (!Float.isFinite(y) || y == 0) {
            return q;
        }
        return (Float.floatToRawIntBits(y) + rnd.nextInt(7) - 3) ^ (rnd.nextInt(4) == 0 ? 0x80000000 : 0);
    }

    private static int nearF32(Random rnd, int x) {
        switch (rnd.nextInt(5)) {
            case 0: return x;
            case 1: return x ^ 0x80000000;
            case 2: return x + rnd.nextInt(7) - 3;
            case 3: return x + ((rnd.nextInt(9) - 4) << 23);
            default: return (x ^ 0x80000000) + rnd.nextInt(3) - 1;
        }
    }

    static int f32(Random rnd) {
        int sign = rnd.nextBoolean() ? 0x80000000 : 0;
        switch (rnd.nextInt(24)) {
            case 0: return sign;
            case 1: return sign | (1 + rnd.nextInt(0x7fffff));                        // denormal
            case 2: return sign | (rnd.nextBoolean() ? 1 + rnd.nextInt(15) : 0x7fffff - rnd.nextInt(15));
            case 3: return sign | 0x7f800000;                                         // infinity
            case 4: return sign | 0x7fc00000 | rnd.nextInt(0x400000);                 // QNaN
            case 5: return sign | 0x7f800000 | (1 + rnd.nextInt(0x3fffff));           // SNaN
            case 6: return sign | (0x7f000000 + rnd.nextInt(0x800000));               // near overflow
            case 7: return sign | 0x7f7fffff - rnd.nextInt(4);
            case 8: return sign | ((1 + rnd.nextInt(3)) << 23) + rnd.nextInt(0x800000); // smallest normals
            case 9: return sign | ((rnd.nextInt(24) + 1) << 23) | rnd.nextInt(0x800000); // products become tiny
            case 10: return Float.floatToRawIntBits((float) (rnd.nextInt(201) - 100));
            case 11: return Float.floatToRawIntBits((rnd.nextInt(64) - 32) + new float[] {0.5f, 0.25f, 0.75f}[rnd.nextInt(3)]);
            case 12: return sign | (0x3f800000 + rnd.nextInt(8));                      // 1 + a few ulps
            case 13: return sign | ((127 + 20 + rnd.nextInt(48)) << 23) | rnd.nextInt(0x800000); // near 2^31, 2^63
            case 14: return sign | (0x3f800000 | rnd.nextInt(0x800000)) & ~0xfff | (rnd.nextBoolean() ? 0x800 : 0x7ff);
            case 15: return sign | (rnd.nextInt(255) << 23) | rnd.nextInt(0x800000);
            default: return sign | ((127 - 12 + rnd.nextInt(24)) << 23) | rnd.nextInt(0x800000);
        }
    }

    static long f64(Random rnd) {
        long sign = rnd.nextBoolean() ? Long.MIN_VALUE : 0;
        long frac = rnd.nextLong() & ((1L << 52) - 1);
        switch (rnd.nextInt(24)) {
            case 0: return sign;
            case 1: return sign | Math.max(1, frac >>> rnd.nextInt(52));                 // denormal
            case 2: return sign | 0x7ff0000000000000L;
            case 3: return sign | 0x7ff8000000000000L | (frac >>> 1);                     // QNaN
            case 4: return sign | 0x7ff0000000000000L | Math.max(1, frac >>> 1 >>> rnd.nextInt(50)); // SNaN
            case 5: return sign | (0x7fdL << 52) + (rnd.nextInt(2) << 52) | frac;        // near overflow
            case 6: return sign | 0x7fefffffffffffffL - rnd.nextInt(4);
            case 7: return sign | ((long) (1 + rnd.nextInt(3)) << 52) | frac;            // smallest normals
            case 8: return sign | ((long) (1 + rnd.nextInt(60)) << 52) | frac;           // products become tiny
            case 9: return Double.doubleToRawLongBits(rnd.nextInt(201) - 100);
            case 10: return Double.doubleToRawLongBits((rnd.nextInt(64) - 32) + new double[] {0.5, 0.25, 0.75}[rnd.nextInt(3)]);
            case 11: return sign | (0x3ff0000000000000L + rnd.nextInt(8));
            case 12: return sign | ((long) (1023 + 28 + rnd.nextInt(40)) << 52) | frac; // near 2^31, 2^63
            case 13: return sign | ((0x3ffL << 52) | frac) & ~0x3fffffffL | (rnd.nextBoolean() ? 0x10000000L : 0x0fffffffL);
            case 14: return sign | ((long) rnd.nextInt(2047) << 52) | frac;
            case 15: return Double.doubleToRawLongBits(Float.intBitsToFloat(f32(rnd))); // singles widened
            default: return sign | ((long) (1023 - 30 + rnd.nextInt(60)) << 52) | frac;
        }
    }

    /** Integers near conversion boundaries: powers of two and their neighbours, and random wide values. */
    private static long intNear(Random rnd) {
        switch (rnd.nextInt(4)) {
            case 0: return (1L << rnd.nextInt(64)) + rnd.nextInt(5) - 2;
            case 1: return -(1L << rnd.nextInt(64)) + rnd.nextInt(5) - 2;
            case 2: return rnd.nextLong() >> rnd.nextInt(40);
            default: return ((rnd.nextLong() >>> rnd.nextInt(64)) | (1L << 24)) & ~((1L << rnd.nextInt(40)) - 1);
        }
    }
}

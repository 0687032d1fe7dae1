package org.tscvm.cpu.diff;

import java.util.List;
import java.util.Random;
import org.tscvm.cpu.diff.InstructionForms.Form;
import org.tscvm.cpu.diff.InstructionForms.G;
import org.tscvm.cpu.diff.InstructionForms.Rm;
import org.tscvm.cpu.diff.SseForms.V;
import org.tscvm.cpu.diff.X87Forms.X;

/**
 * The MMX forms of the differential test, and SSE's forms with an MMX operand. MM0-7 are the
 * significands of the x87 registers R0-R7, so every case starts from a random x87 state
 * (random TOP, tags, condition codes, masked flags, and sign/exponent fields) whose eight
 * significands are integer lanes biased to lane edges; the comparison after the instruction
 * covers FSW (TOP 0), the abridged tag (all valid) and all eight registers, exponent bits
 * included (all ones where an MMX register was written). One case in four names its MMX
 * registers with REX.R/REX.B set (which MMX ignores).
 */
final class MmxForms {
    private MmxForms() {
    }

    private static final int NONE = -1, P66 = 0x66, PF3 = 0xf3, PF2 = 0xf2;

    static void add(List<Form> forms) {
        // ---- moves ----
        gpr(forms, "movd mm, r32", 0x6e, false, 32, false);
        gpr(forms, "movq mm, r64", 0x6e, false, 64, false);
        gpr(forms, "movd mm, m32", 0x6e, true, 32, false);
        gpr(forms, "movq mm, m64", 0x6e, true, 64, false);
        gpr(forms, "movd r32, mm", 0x7e, false, 32, false);
        gpr(forms, "movq r64, mm", 0x7e, false, 64, false);
        gpr(forms, "movd m32, mm", 0x7e, true, 32, false);
        gpr(forms, "movq m64, mm", 0x7e, true, 64, false);
        mm(forms, "movq", 0x6f, 64, -1);
        mm(forms, "movq", 0x7f, 64, -1);
        forms.add(new Form("movntq m64, mm", rnd -> mmCase(rnd, "movntq m64, mm", NONE, 0xe7, true, 64, -1)));
        forms.add(new Form("emms", rnd -> {
            Case k = new Case(rnd, V.INT);
            k.g.e.op(0x0f, 0x77);
            return k.build("emms");
        }));
        forms.add(new Form("maskmovq mm, mm", MmxForms::maskmovq));
        gpr(forms, "pmovmskb r32, mm", 0xd7, false, 0, false);
        gpr(forms, "pextrw r32, mm, imm8", 0xc5, false, 0, true);
        gpr(forms, "pinsrw mm, r32, imm8", 0xc4, false, 32, true);
        gpr(forms, "pinsrw mm, m16, imm8", 0xc4, true, 16, true);
        mm(forms, "pshufw", 0x70, 64, 256);
        // ---- unpacks, packs, compares ----
        for (int i = 0; i < 12; i++) { // MMX has no punpck*qdq
            mm(forms, SseForms.OPS_60[i], 0x60 + i, i < 3 ? 32 : 64, -1);
        }
        // ---- integer lanes and shifts by mm/m64 ----
        for (int i = 0; i < SseForms.INT_LANE_OPCODES.length; i++) {
            mm(forms, SseForms.INT_LANE_NAMES[i], SseForms.INT_LANE_OPCODES[i], 64, -1);
        }
        String[][] shifts = {{"psrlw", "71", "2"}, {"psraw", "71", "4"}, {"psllw", "71", "6"}, {"psrld", "72", "2"},
            {"psrad", "72", "4"}, {"pslld", "72", "6"}, {"psrlq", "73", "2"}, {"psllq", "73", "6"}};
        for (String[] s : shifts) {
            int opc = Integer.parseInt(s[1], 16);
            int digit = Integer.parseInt(s[2]);
            String name = s[0] + " mm, imm8";
            forms.add(new Form(name, rnd -> {
                Case k = new Case(rnd, V.INT);
                k.g.e.op(0x0f, opc);
                k.g.e.modrmReg(digit, k.mmIndex());
                k.g.e.imm(rnd.nextInt(4) == 0 ? rnd.nextInt(256) : rnd.nextInt(70), 1);
                return k.build(name);
            }));
        }
        // ---- SSSE3 on mm ----
        String[] ssse3 = {"pshufb", "phaddw", "phaddd", "phaddsw", "pmaddubsw", "phsubw", "phsubd", "phsubsw",
            "psignb", "psignw", "psignd", "pmulhrsw"};
        for (int i = 0; i < ssse3.length; i++) {
            mm(forms, ssse3[i], 0x3800 | i, 64, -1);
        }
        mm(forms, "pabsb", 0x381c, 64, -1);
        mm(forms, "pabsw", 0x381d, 64, -1);
        mm(forms, "pabsd", 0x381e, 64, -1);
        mm(forms, "palignr", 0x3a0f, 64, 32);
        // ---- SSE/SSE2 with an MMX operand ----
        xmmMm(forms, "cvtpi2ps xmm, mm", NONE, 0x2a, false, 0, V.INT, true);
        xmmMm(forms, "cvtpi2ps xmm, m64", NONE, 0x2a, true, 64, V.INT, true);
        xmmMm(forms, "cvtpi2pd xmm, mm", P66, 0x2a, false, 0, V.INT, true);
        xmmMm(forms, "cvtpi2pd xmm, m64", P66, 0x2a, true, 64, V.INT, true);
        xmmMm(forms, "cvtps2pi mm, xmm", NONE, 0x2d, false, 0, V.F32, false);
        xmmMm(forms, "cvtps2pi mm, m64", NONE, 0x2d, true, 64, V.F32, false);
        xmmMm(forms, "cvttps2pi mm, xmm", NONE, 0x2c, false, 0, V.F32, false);
        xmmMm(forms, "cvttps2pi mm, m64", NONE, 0x2c, true, 64, V.F32, false);
        xmmMm(forms, "cvtpd2pi mm, xmm", P66, 0x2d, false, 0, V.F64, false);
        xmmMm(forms, "cvtpd2pi mm, m128", P66, 0x2d, true, 128, V.F64, false);
        xmmMm(forms, "cvttpd2pi mm, xmm", P66, 0x2c, false, 0, V.F64, false);
        xmmMm(forms, "cvttpd2pi mm, m128", P66, 0x2c, true, 128, V.F64, false);
        xmmMm(forms, "movq2dq xmm, mm", PF3, 0xd6, false, 0, V.INT, true);
        xmmMm(forms, "movdq2q mm, xmm", PF2, 0xd6, false, 0, V.INT, false);
    }

    /** One case's state: general registers, XMM and MXCSR from {@link SseForms#start}, and an x87 image. */
    private static final class Case {
        final G g;
        final X x;
        final Random rnd;

        Case(Random rnd, V v) {
            this.rnd = rnd;
            g = SseForms.start(rnd, v);
            x = new X(g);
            for (int p = 0; p < 8; p++) {
                long q = SseForms.quad(rnd, V.INT);
                if (rnd.nextInt(8) == 0) {
                    q = rnd.nextInt(70); // small shift counts, small integers
                }
                setMm(p, q);
            }
        }

        void setMm(int p, long q) {
            int i = (p - x.top() + 8) & 7;
            long[] old = x.st(i);
            x.put(32 + 16 * i, new long[] {q, old[1]});
        }

        long mm(int p) {
            return x.st((p - x.top() + 8) & 7)[0];
        }

        /** An MMX register as encoded: 0-7, or 8-15 (REX.R/REX.B set, ignored) one time in four. */
        int mmIndex() {
            return rnd.nextInt(8) + (rnd.nextInt(4) == 0 ? 8 : 0);
        }

        DiffCase build(String name) {
            return new DiffCase(name, g.e.bytes(), g.gpr.clone(), g.rflags, g.mem.clone(), DiffCase.ARITH_FLAGS,
                    g.undefinedRegs, g.xmm.clone(), g.mxcsr, 0, g.misaligned, x.image(), 0xffff, 0, 0, 0);
        }
    }

    /** mm, mm/m forms: a register form and a memory form of {@code memBits}; imm8 below {@code immBound} if positive. */
    private static void mm(List<Form> forms, String mn, int opc, int memBits, int immBound) {
        String suffix = immBound > 0 ? ", imm8" : "";
        String reg = mn + " mm, mm" + suffix + " (" + Integer.toHexString(opc) + ")";
        String mem = mn + " mm, m" + memBits + suffix + " (" + Integer.toHexString(opc) + ")";
        forms.add(new Form(reg, rnd -> mmCase(rnd, reg, NONE, opc, false, memBits, immBound)));
        forms.add(new Form(mem, rnd -> mmCase(rnd, mem, NONE, opc, true, memBits, immBound)));
    }

    private static DiffCase mmCase(Random rnd, String name, int prefix, int opc, boolean memory, int memBits,
            int immBound) {
        Case k = new Case(rnd, V.INT);
        SseForms.prefixAndOpcode(k.g, prefix, opc);
        int reg = k.mmIndex();
        if (memory) {
            int off = 64 + rnd.nextInt(112);
            if (rnd.nextInt(4) == 0) { // a near copy of the destination, or a small count
                long q = rnd.nextBoolean() ? k.mm(reg & 7) ^ (1L << rnd.nextInt(64)) : rnd.nextInt(70);
                for (int b = 0; b < 8; b++) {
                    k.g.mem[off + b] = (byte) (q >>> (8 * b));
                }
            }
            k.g.modrm(reg, new Rm(true, -1, off), 0);
        } else {
            int rm = k.mmIndex();
            if (rnd.nextInt(4) == 0 && (rm & 7) != (reg & 7)) {
                k.setMm(rm & 7, rnd.nextBoolean() ? k.mm(reg & 7) : k.mm(reg & 7) ^ (1L << rnd.nextInt(64)));
            }
            k.g.e.modrmReg(reg, rm);
        }
        if (immBound > 0) {
            k.g.e.imm(rnd.nextInt(immBound), 1);
        }
        return k.build(name);
    }

    /**
     * Forms with a general register or memory operand: MOVD/MOVQ (0F 6E loads the MMX register
     * ModRM.reg, 0F 7E stores it), PINSRW (r32/m16 source), PMOVMSKB and PEXTRW (ModRM.reg a GPR).
     */
    private static void gpr(List<Form> forms, String name, int opc, boolean memory, int bits, boolean imm) {
        forms.add(new Form(name, rnd -> {
            Case k = new Case(rnd, V.INT);
            if (bits == 64) {
                k.g.e.size(64);
            }
            SseForms.prefixAndOpcode(k.g, NONE, opc);
            boolean gprInReg = opc == 0xd7 || opc == 0xc5;
            if (gprInReg) {
                k.g.e.modrmReg(k.g.wideReg(0), k.mmIndex());
            } else if (memory) {
                k.g.modrm(k.mmIndex(), new Rm(true, -1, 64 + rnd.nextInt(112)), 0);
            } else {
                k.g.e.modrmReg(k.mmIndex(), k.g.wideReg(0));
            }
            if (imm) {
                k.g.e.imm(rnd.nextInt(256), 1);
            }
            return k.build(name);
        }));
    }

    /** An XMM and an MMX operand: {@code toXmm} when ModRM.reg is the XMM register (CVTPI2PS/PD, MOVQ2DQ). */
    private static void xmmMm(List<Form> forms, String name, int prefix, int opc, boolean memory, int memBits, V v,
            boolean toXmm) {
        forms.add(new Form(name, rnd -> {
            Case k = new Case(rnd, v);
            if (v == V.INT && toXmm && rnd.nextBoolean()) { // integers worth converting: near 2^24, small
                for (int p = 0; p < 8; p++) {
                    long lo = rnd.nextBoolean() ? rnd.nextInt(1 << 26) - (1 << 25) : rnd.nextInt();
                    long hi = rnd.nextBoolean() ? rnd.nextInt(1 << 26) - (1 << 25) : rnd.nextInt();
                    k.setMm(p, (lo & 0xffffffffL) | hi << 32);
                }
            }
            SseForms.prefixAndOpcode(k.g, prefix, opc);
            int reg = toXmm ? rnd.nextInt(16) : k.mmIndex();
            if (memory) {
                int off = 64 + rnd.nextInt(112);
                if (memBits == 128) {
                    off &= -16;
                    if (rnd.nextInt(8) == 0) {
                        off += 1 + rnd.nextInt(15);
                        k.g.misaligned = true;
                    }
                }
                if (v != V.INT) {
                    for (int h = 0; h < memBits / 64; h++) {
                        long q = SseForms.quad(rnd, v);
                        for (int b = 0; b < 8; b++) {
                            k.g.mem[off + 8 * h + b] = (byte) (q >>> (8 * b));
                        }
                    }
                }
                k.g.modrm(reg, new Rm(true, -1, off), 0);
            } else {
                int rm = toXmm ? k.mmIndex() : rnd.nextInt(16);
                k.g.e.modrmReg(reg, rm);
            }
            return k.build(name);
        }));
    }

    /** MASKMOVQ mm1, mm2: the bytes of mm1 selected by mm2's byte signs, stored at DS:RDI. */
    private static DiffCase maskmovq(Random rnd) {
        Case k = new Case(rnd, V.INT);
        SseForms.prefixAndOpcode(k.g, NONE, 0xf7);
        k.g.e.modrmReg(k.mmIndex(), k.mmIndex());
        k.g.gpr[InstructionForms.RDI] = DiffCase.BUF_ADDR + 64 + rnd.nextInt(112);
        return k.build("maskmovq mm, mm");
    }
}

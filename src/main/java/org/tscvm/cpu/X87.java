package org.tscvm.cpu;

import static org.tscvm.cpu.X87Float.B;
import static org.tscvm.cpu.X87Float.BIAS;
import static org.tscvm.cpu.X87Float.C1;
import static org.tscvm.cpu.X87Float.DE;
import static org.tscvm.cpu.X87Float.ES;
import static org.tscvm.cpu.X87Float.IE;
import static org.tscvm.cpu.X87Float.INT_BIT;
import static org.tscvm.cpu.X87Float.SF;
import static org.tscvm.cpu.X87Float.SIGN;
import static org.tscvm.cpu.X87Float.ZE;

/**
 * The x87 FPU: the one dispatch point for the x87 group of {@link Op} (called by the
 * interpreter and, by INVOKESTATIC from the row, by compiled blocks), and the state helpers
 * every x87 handler uses: the register stack (TOP in FSW bits 13:11, physical registers
 * R0-R7 in {@link CpuState#fpuSig}/{@link CpuState#fpuSe}, emptiness in the tag word),
 * exception reporting into FSW (ES/B summary, #MF at the next waiting instruction when
 * CR0.NE = 1), the instruction/data pointers and the memory formats.
 *
 * <p>With CR0.NE = 0 a pending unmasked exception does not stop the next waiting instruction:
 * tscvm behaves as a PC whose IGNNE# is asserted (no FERR#/IRQ13 is modelled).
 */
final class X87 {
    private X87() {
    }

    static void execute(CpuExec c, Insn d) {
        switch (d.op) {
            case FLD_M32: X87Move.fldM32(c, d); break;
            case FLD_M64: X87Move.fldM64(c, d); break;
            case FLD_M80: X87Move.fldM80(c, d); break;
            case FLD_STI: X87Move.fldSti(c, d); break;
            case FILD_M16: X87Move.fildM16(c, d); break;
            case FILD_M32: X87Move.fildM32(c, d); break;
            case FILD_M64: X87Move.fildM64(c, d); break;
            case FBLD: X87Move.fbld(c, d); break;
            case FBSTP: X87Move.fbstp(c, d); break;
            case FST_M32: X87Move.fstM32(c, d); break;
            case FST_M64: X87Move.fstM64(c, d); break;
            case FSTP_M80: X87Move.fstpM80(c, d); break;
            case FST_STI: X87Move.fstSti(c, d); break;
            case FIST_M16: X87Move.fistM16(c, d); break;
            case FIST_M32: X87Move.fistM32(c, d); break;
            case FISTP_M64: X87Move.fistpM64(c, d); break;
            case FISTTP_M16: X87Move.fisttpM16(c, d); break;
            case FISTTP_M32: X87Move.fisttpM32(c, d); break;
            case FISTTP_M64: X87Move.fisttpM64(c, d); break;
            case FXCH: X87Move.fxch(c, d); break;
            case FCMOV: X87Move.fcmov(c, d); break;
            case FFREE: X87Move.ffree(c, d); break;
            case FINCSTP: X87Move.fincstp(c, d); break;
            case FDECSTP: X87Move.fdecstp(c, d); break;
            case FLDCONST: X87Move.fldconst(c, d); break;
            case FARITH_M32: X87Arith.farithM32(c, d); break;
            case FARITH_M64: X87Arith.farithM64(c, d); break;
            case FIARITH_M16: X87Arith.fiarithM16(c, d); break;
            case FIARITH_M32: X87Arith.fiarithM32(c, d); break;
            case FARITH_ST0_STI: X87Arith.farithSt0Sti(c, d); break;
            case FARITH_STI_ST0: X87Arith.farithStiSt0(c, d); break;
            case FARITHP: X87Arith.farithp(c, d); break;
            case FCOM_M32: X87Arith.fcomM32(c, d); break;
            case FCOM_M64: X87Arith.fcomM64(c, d); break;
            case FICOM_M16: X87Arith.ficomM16(c, d); break;
            case FICOM_M32: X87Arith.ficomM32(c, d); break;
            case FCOM_STI: X87Arith.fcomSti(c, d); break;
            case FCOMPP: X87Arith.fcompp(c, d); break;
            case FCOMI: X87Arith.fcomi(c, d); break;
            case FTST: X87Arith.ftst(c, d); break;
            case FXAM: X87Arith.fxam(c, d); break;
            case FCHS: X87Arith.fchs(c, d); break;
            case FABS: X87Arith.fabs(c, d); break;
            case FSQRT: X87Arith.fsqrt(c, d); break;
            case FSCALE: X87Arith.fscale(c, d); break;
            case FXTRACT: X87Arith.fxtract(c, d); break;
            case FPREM: X87Arith.fprem(c, d); break;
            case FPREM1: X87Arith.fprem1(c, d); break;
            case FRNDINT: X87Arith.frndint(c, d); break;
            case F2XM1: X87Trans.f2xm1(c, d); break;
            case FYL2X: case FYL2XP1: case FPATAN: X87Trans.twoOperandOp(c, d); break;
            case FPTAN: case FSIN: case FCOS: case FSINCOS: X87Trans.trig(c, d); break;
            case FNOP: X87Control.fnop(c, d); break;
            case FLDENV: X87Control.fldenv(c, d); break;
            case FNSTENV: X87Control.fnstenv(c, d); break;
            case FRSTOR: X87Control.frstor(c, d); break;
            case FNSAVE: X87Control.fnsave(c, d); break;
            case FNINIT: X87Control.fninit(c, d); break;
            case FNCLEX: X87Control.fnclex(c, d); break;
            case FNSTCW: X87Control.fnstcw(c, d); break;
            case FLDCW: X87Control.fldcw(c, d); break;
            case FNSTSW_M: X87Control.fnstswM(c, d); break;
            case FNSTSW_AX: X87Control.fnstswAx(c, d); break;
            case FWAIT: X87Control.fwait(c, d); break;
            default: throw new IllegalStateException("no x87 handler for " + d.op.text);
        }
    }

    // ---- entry checks and pointers ----

    /** CR0.EM or CR0.TS: #NM (SDM 2.5: EM makes x87 instructions fault, TS marks a task switch). */
    static void available(CpuExec c) {
        if ((c.cr0 & (CpuState.CR0_EM | CpuState.CR0_TS)) != 0) {
            throw c.fault(CpuFault.NM, CpuFault.NO_ERROR_CODE);
        }
    }

    /** A waiting instruction: #NM, then a pending unmasked exception (FSW.ES) is #MF when CR0.NE = 1. */
    static void waiting(CpuExec c) {
        available(c);
        if ((c.fpuStatus & ES) != 0 && (c.cr0 & CpuState.CR0_NE) != 0) {
            throw c.fault(CpuFault.MF, CpuFault.NO_ERROR_CODE);
        }
    }

    /**
     * The start of a non-control instruction: the waiting checks, then FIP/FCS and FOP (and
     * for a memory operand FDP/FDS) record this instruction (SDM 8.1.8, 8.1.9).
     */
    static void begin(CpuExec c, Insn d) {
        waiting(c);
        c.fpuIp = c.prevRip;
        c.fpuCs = c.segSel[CpuState.CS];
        c.fpuOpcode = d.opcode & 0x7ff;
        if (d.mem) {
            c.fpuDp = c.ea(d);
            c.fpuDs = c.segSel[d.seg];
        }
    }

    // ---- the register stack ----

    static int top(CpuState c) {
        return (c.fpuStatus >>> 11) & 7;
    }

    static void setTop(CpuState c, int top) {
        c.fpuStatus = (c.fpuStatus & ~0x3800) | ((top & 7) << 11);
    }

    static int phys(CpuState c, int i) {
        return (top(c) + i) & 7;
    }

    static boolean emptyPhys(CpuState c, int p) {
        return ((c.fpuTag >>> (2 * p)) & 3) == 3;
    }

    static boolean empty(CpuState c, int i) {
        return emptyPhys(c, phys(c, i));
    }

    static long sig(CpuState c, int i) {
        return c.fpuSig[phys(c, i)];
    }

    static int se(CpuState c, int i) {
        return c.fpuSe[phys(c, i)];
    }

    /** Writes ST(i) and marks it valid (the full tag is computed when it is stored). */
    static void write(CpuState c, int i, long sig, int se) {
        int p = phys(c, i);
        c.fpuSig[p] = sig;
        c.fpuSe[p] = se & 0xffff;
        c.fpuTag &= ~(3 << (2 * p));
    }

    static void free(CpuState c, int i) {
        c.fpuTag |= 3 << (2 * phys(c, i));
    }

    static void push(CpuState c, long sig, int se) {
        setTop(c, top(c) - 1);
        write(c, 0, sig, se);
    }

    static void pop(CpuState c) {
        free(c, 0);
        setTop(c, top(c) + 1);
    }

    /** The full tag of physical register p: 00 valid, 01 zero, 10 special, 11 empty. */
    static int tagOf(CpuState c, int p) {
        if (emptyPhys(c, p)) {
            return 3;
        }
        switch (X87Float.classify(c.fpuSig[p], c.fpuSe[p])) {
            case X87Float.ZERO: return 1;
            case X87Float.NORMAL: return 0;
            default: return 2;
        }
    }

    static int fullTag(CpuState c) {
        int t = 0;
        for (int p = 0; p < 8; p++) {
            t |= tagOf(c, p) << (2 * p);
        }
        return t;
    }

    /** The FXSAVE abridged tag: bit p set when physical register p is not empty. */
    static int abridgedTag(CpuState c) {
        int t = 0;
        for (int p = 0; p < 8; p++) {
            if (!emptyPhys(c, p)) {
                t |= 1 << p;
            }
        }
        return t;
    }

    // ---- exceptions ----

    /**
     * Records an operation's exceptions (X87Float flag bits, C1 included) in FSW, with the
     * ES/B summary when one is unmasked. Returns true when the result may be delivered: no
     * unmasked IE, DE or ZE (SDM 8.5: those leave the destination and the stack unchanged).
     */
    static boolean report(CpuState c, int flags) {
        int unmasked = flags & ~c.fpuControl & 0x3f;
        if ((unmasked & (IE | DE | ZE)) != 0) {
            // The operation stops before it computes: only the pre-computation exceptions show.
            flags &= (flags & SF) != 0 ? IE | SF | C1 : IE | DE | ZE;
        }
        int fsw = (c.fpuStatus & ~C1) | (flags & (C1 | 0x7f));
        if (unmasked != 0) {
            fsw |= ES | B;
        }
        c.fpuStatus = fsw;
        return (unmasked & (IE | DE | ZE)) == 0;
    }

    /** Stack underflow (an empty operand): IE and SF with C1 = 0; true when masked. */
    static boolean underflow(CpuState c) {
        return report(c, IE | SF);
    }

    /** Stack overflow (a push onto a full register): IE, SF and C1 = 1; true when masked. */
    static boolean overflow(CpuState c) {
        return report(c, IE | SF | C1);
    }

    /** Recomputes ES and B from the exception flags and masks (after FLDCW, FLDENV, FRSTOR, FXRSTOR). */
    static void updateSummary(CpuState c) {
        if ((c.fpuStatus & ~c.fpuControl & 0x3f) != 0) {
            c.fpuStatus |= ES | B;
        } else {
            c.fpuStatus &= ~(ES | B);
        }
    }

    // ---- memory formats ----

    /** Converts an IEEE single to 80 bits in {@code f}; returns true for a denormal source. */
    static boolean fromSingle(X87Float f, int bits) {
        int sign = (bits >>> 16) & SIGN;
        int e = (bits >>> 23) & 0xff;
        long frac = bits & 0x7fffffL;
        if (e == 0) {
            if (frac == 0) {
                f.set(0, sign);
                return false;
            }
            int z = Long.numberOfLeadingZeros(frac);
            f.set(frac << z, sign | (BIAS - 86 - z));
            return true;
        }
        f.set(INT_BIT | frac << 40, sign | (e == 0xff ? 0x7fff : e - 127 + BIAS));
        return false;
    }

    static boolean fromDouble(X87Float f, long bits) {
        int sign = (int) (bits >>> 48) & SIGN;
        int e = (int) (bits >>> 52) & 0x7ff;
        long frac = bits & 0xfffffffffffffL;
        if (e == 0) {
            if (frac == 0) {
                f.set(0, sign);
                return false;
            }
            int z = Long.numberOfLeadingZeros(frac);
            f.set(frac << z, sign | (BIAS - 1011 - z));
            return true;
        }
        f.set(INT_BIT | frac << 11, sign | (e == 0x7ff ? 0x7fff : e - 1023 + BIAS));
        return false;
    }

    /** An 80-bit value already rounded to single precision and range, as IEEE single bits. */
    static int toSingle(long sig, int se) {
        int sign = (se & SIGN) << 16;
        int e = se & 0x7fff;
        if (e == 0x7fff) {
            return sign | 0x7f800000 | (int) ((sig << 1) >>> 41);
        }
        if (sig == 0) {
            return sign;
        }
        int te = e - BIAS + 127;
        if (te >= 1) {
            return sign | te << 23 | (int) ((sig >>> 40) & 0x7fffff);
        }
        return sign | (int) (sig >>> (BIAS - 86 - e));
    }

    static long toDouble(long sig, int se) {
        long sign = (long) (se & SIGN) << 48;
        int e = se & 0x7fff;
        if (e == 0x7fff) {
            return sign | 0x7ff0000000000000L | ((sig << 1) >>> 12);
        }
        if (sig == 0) {
            return sign;
        }
        int te = e - BIAS + 1023;
        if (te >= 1) {
            return sign | (long) te << 52 | ((sig >>> 11) & 0xfffffffffffffL);
        }
        return sign | (sig >>> (BIAS - 1011 - e));
    }
}

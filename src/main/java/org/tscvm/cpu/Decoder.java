package org.tscvm.cpu;

import static org.tscvm.cpu.Op.*;

/**
 * Decodes one instruction at a time into an {@link Insn}: legacy prefixes, REX, ModRM/SIB,
 * displacements and immediates for 16-, 32- and 64-bit code. Opcodes tscvm does not implement
 * decode to {@link Op#UD} with their bytes, so the executor raises #UD and counts them.
 * Fetch faults (#PF, #GP past the CS limit) propagate to the caller.
 */
final class Decoder {
    private static final int MAX_LENGTH = 15;

    private final Cpu cpu;
    private long start;
    private int pos;
    private int rex;
    private boolean m64;

    Decoder(Cpu cpu) {
        this.cpu = cpu;
    }

    private int fetch() {
        if (pos >= MAX_LENGTH) {
            throw TOO_LONG_SIGNAL;
        }
        return cpu.fetchCodeByte(start + pos++);
    }

    private long fetchN(int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            v |= (long) fetch() << (i * 8);
        }
        return v;
    }

    /** Thrown inside the decoder only, past the 15-byte limit; never escapes {@link #decode}. */
    private static final class TooLong extends RuntimeException {
        TooLong() {
            super(null, null, false, false);
        }
    }

    private static final TooLong TOO_LONG_SIGNAL = new TooLong();

    /** Decodes the instruction at offset {@code ip} in CS. */
    void decode(Insn d, long ip) {
        start = ip;
        pos = 0;
        try {
            decodeInner(d);
        } catch (TooLong e) {
            d.op = TOO_LONG;
            d.len = MAX_LENGTH;
            d.famode = Insn.AM_GENERIC;
            return;
        }
        d.len = pos;
        boolean readOnlyForm = ((d.op == ALU_EG || d.op == ALU_EI) && d.sub == 7)
                || ((d.op == BT_EG || d.op == BT_EI) && d.sub == 0);
        if (d.lock && (!(d.op.lockable && d.mem) || readOnlyForm)) {
            ud(d, true);
        }
        resolve(d, m64);
    }

    /** ALU kinds (0 add, 1 or, 4 and, 5 sub, 6 xor, 7 cmp) to their offset in the resolved rows; -1 for ADC, SBB. */
    private static final int[] ALU_INDEX = {0, 1, -1, -1, 2, 3, 4, 5};
    private static final Op[] ALU_R_R = {ADD_R_R, OR_R_R, AND_R_R, SUB_R_R, XOR_R_R, CMP_R_R};
    private static final Op[] ALU_R_I = {ADD_R_I, OR_R_I, AND_R_I, SUB_R_I, XOR_R_I, CMP_R_I};
    private static final Op[] ALU_R_M = {ADD_R_M, OR_R_M, AND_R_M, SUB_R_M, XOR_R_M, CMP_R_M};

    /**
     * Resolves the operands a flat form needs at run time ({@link Insn#famode}, {@link Insn#fa},
     * {@link Insn#fb}, {@link Insn#fmask}, {@link Insn#fimm}), and picks a 32- or 64-bit form's
     * own row ({@link Op.Shape#R_R} and its kin) in place of its family's when neither LOCK nor
     * REP is present.
     */
    private static void resolve(Insn d, boolean mode64) {
        d.famode = Insn.AM_GENERIC;
        d.segBased = d.seg >= CpuState.FS;
        if (d.mem && mode64 && d.addrSize == 8) {
            if (d.base == Insn.RIP_BASE) {
                d.famode = Insn.AM_RIP;
            } else if (d.base >= 0) {
                d.famode = d.index >= 0 ? Insn.AM_BASE_INDEX : Insn.AM_BASE;
            } else {
                d.famode = d.index >= 0 ? Insn.AM_INDEX : Insn.AM_ABS;
            }
        }
        int size = d.opSize;
        d.fmask = CpuState.mask(size);
        d.fimm = d.imm & d.fmask;
        d.fa = 0;
        d.fb = 0;
        if (d.lock || d.rep != 0 || (size != 4 && size != 8)) {
            return;
        }
        int alu = d.sub >= 0 && d.sub < 8 ? ALU_INDEX[d.sub] : -1;
        switch (d.op) {
            case MOV_EG:
                if (d.mem) {
                    form(d, MOV_M_R, 0, d.reg);
                } else {
                    form(d, MOV_R_R, d.rm, d.reg);
                }
                break;
            case MOV_GE:
                if (d.mem) {
                    form(d, MOV_R_M, d.reg, 0);
                } else {
                    form(d, MOV_R_R, d.reg, d.rm);
                }
                break;
            case MOV_EI:
                form(d, d.mem ? MOV_M_I : MOV_R_I, d.rm, 0);
                break;
            case ALU_EG:
                if (d.sub == 7 && d.mem) {
                    form(d, CMP_M_R, 0, d.reg);
                } else if (alu >= 0 && !d.mem) {
                    form(d, ALU_R_R[alu], d.rm, d.reg);
                }
                break;
            case ALU_GE:
                if (alu >= 0) {
                    form(d, d.mem ? ALU_R_M[alu] : ALU_R_R[alu], d.reg, d.rm);
                }
                break;
            case ALU_EI:
                if (d.sub == 7 && d.mem) {
                    form(d, CMP_M_I, 0, 0);
                } else if (alu >= 0 && !d.mem) {
                    form(d, ALU_R_I[alu], d.rm, 0);
                }
                break;
            case TEST_EG:
                if (!d.mem) {
                    form(d, TEST_R_R, d.rm, d.reg);
                }
                break;
            case TEST_EI:
                if (!d.mem) {
                    form(d, TEST_R_I, d.rm, 0);
                }
                break;
            default:
                break;
        }
    }

    private static void form(Insn d, Op form, int a, int b) {
        d.op = form;
        d.fa = a;
        d.fb = b;
    }

    private void ud(Insn d, boolean deliberate) {
        d.op = UD;
        d.sub = deliberate ? 1 : 0;
        d.lock = false;
    }

    private void decodeInner(Insn d) {
        m64 = cpu.mode64;
        int code = cpu.codeSize;
        boolean opsz = false, adsz = false;
        int segOv = -1;
        rex = 0;
        d.rep = 0;
        d.lock = false;
        d.notrack = false;
        d.mem = false;
        d.sub = 0;
        d.imm = 0;
        d.imm2 = 0;
        d.disp = 0;
        d.base = Insn.NONE;
        d.index = Insn.NONE;
        d.scale = 0;
        d.rm = 0;
        d.rmB = 0;
        d.reg = 0;
        d.regB = 0;
        int b;
        while (true) {
            b = fetch();
            switch (b) {
                case 0x66: opsz = true; rex = 0; continue;
                case 0x67: adsz = true; rex = 0; continue;
                case 0xf0: d.lock = true; rex = 0; continue;
                case 0xf2: d.rep = Insn.REPNE; rex = 0; continue;
                case 0xf3: d.rep = Insn.REP; rex = 0; continue;
                case 0x26: segOv = m64 ? segOv : CpuState.ES; rex = 0; continue;
                case 0x2e: segOv = m64 ? segOv : CpuState.CS; rex = 0; continue;
                case 0x36: segOv = m64 ? segOv : CpuState.SS; rex = 0; continue;
                // 3E is DS, and in 64-bit code the CET "notrack" hint on indirect branches.
                case 0x3e: segOv = m64 ? segOv : CpuState.DS; d.notrack = true; rex = 0; continue;
                case 0x64: segOv = CpuState.FS; rex = 0; continue;
                case 0x65: segOv = CpuState.GS; rex = 0; continue;
                default:
                    if (m64 && (b & 0xf0) == 0x40) {
                        rex = b;
                        continue;
                    }
            }
            break;
        }
        boolean w = (rex & 8) != 0;
        int opSize = m64 ? (w ? 8 : opsz ? 2 : 4) : (code == 4) != opsz ? 4 : 2;
        int addrSize = m64 ? (adsz ? 4 : 8) : (code == 4) != adsz ? 4 : 2;
        d.opSize = opSize;
        d.addrSize = addrSize;
        d.seg = segOv;
        d.opcode = b;
        if (b == 0x0f) {
            b = fetch();
            d.opcode = 0x0f00 | b;
            decode0f(d, b, opsz);
        } else {
            decode1(d, b, opsz);
        }
        if (d.seg < 0) {
            d.seg = d.mem && (d.base == CpuState.RSP || d.base == CpuState.RBP) ? CpuState.SS : CpuState.DS;
        }
    }

    private static int byteReg(int idx, int rex) {
        return rex == 0 && idx >= 4 && idx < 8 ? idx + 12 : idx;
    }

    /** Parses ModRM (and SIB, displacement); returns the reg field without REX.R. */
    private int modrm(Insn d) {
        int m = fetch();
        int mod = m >>> 6;
        int regField = (m >>> 3) & 7;
        int rmField = m & 7;
        d.reg = regField | ((rex & 4) << 1);
        d.regB = byteReg(d.reg, rex);
        if (mod == 3) {
            d.mem = false;
            d.rm = rmField | ((rex & 1) << 3);
            d.rmB = byteReg(d.rm, rex);
            return regField;
        }
        d.mem = true;
        if (d.addrSize == 2) {
            switch (rmField) {
                case 0: d.base = 3; d.index = 6; break;
                case 1: d.base = 3; d.index = 7; break;
                case 2: d.base = 5; d.index = 6; break;
                case 3: d.base = 5; d.index = 7; break;
                case 4: d.base = 6; break;
                case 5: d.base = 7; break;
                case 6: d.base = mod == 0 ? Insn.NONE : 5; break;
                default: d.base = 3;
            }
            if (mod == 0 && rmField == 6) {
                d.disp = (short) fetchN(2);
            } else if (mod == 1) {
                d.disp = (byte) fetch();
            } else if (mod == 2) {
                d.disp = (short) fetchN(2);
            }
            return regField;
        }
        if (rmField == 4) {
            int sib = fetch();
            d.scale = sib >>> 6;
            int idx = ((sib >>> 3) & 7) | ((rex & 2) << 2);
            d.index = idx == 4 ? Insn.NONE : idx;
            int base = sib & 7;
            if (base == 5 && mod == 0) {
                d.base = Insn.NONE;
                d.disp = (int) fetchN(4);
            } else {
                d.base = base | ((rex & 1) << 3);
            }
        } else if (rmField == 5 && mod == 0) {
            d.base = m64 ? Insn.RIP_BASE : Insn.NONE;
            d.disp = (int) fetchN(4);
        } else {
            d.base = rmField | ((rex & 1) << 3);
        }
        if (mod == 1) {
            d.disp = (byte) fetch();
        } else if (mod == 2) {
            d.disp = (int) fetchN(4);
        }
        return regField;
    }

    /** Iz: a 16- or 32-bit immediate, sign-extended for 64-bit operands. */
    private long immZ(int opSize) {
        return opSize == 2 ? fetchN(2) : (long) (int) fetchN(4) & CpuState.mask(opSize);
    }

    private long immB(int opSize) {
        return (byte) fetch() & CpuState.mask(opSize);
    }

    private void set(Insn d, Op op) {
        d.op = op;
    }

    /** The accumulator as the E operand (AL/AX/EAX/RAX forms). */
    private static void accumulatorAsE(Insn d) {
        d.mem = false;
        d.rm = 0;
        d.rmB = 0;
    }

    private void regInOpcode(Insn d, int b) {
        d.mem = false;
        d.rm = (b & 7) | ((rex & 1) << 3);
        d.rmB = byteReg(d.rm, rex);
    }

    private void decode1(Insn d, int b, boolean opsz) {
        if (b < 0x40 && (b & 7) < 6) {
            d.sub = b >>> 3;
            if ((b & 1) == 0) {
                d.opSize = 1;
            }
            switch (b & 7) {
                case 0: case 1: modrm(d); set(d, ALU_EG); return;
                case 2: case 3: modrm(d); set(d, ALU_GE); return;
                case 4: accumulatorAsE(d); d.imm = fetch(); set(d, ALU_EI); return;
                default: accumulatorAsE(d); d.imm = immZ(d.opSize); set(d, ALU_EI); return;
            }
        }
        switch (b) {
            case 0x06: case 0x0e: case 0x16: case 0x1e:
                if (m64) { ud(d, true); return; }
                d.sub = b >>> 3; set(d, PUSH_SEG); return;
            case 0x07: case 0x17: case 0x1f:
                if (m64) { ud(d, true); return; }
                d.sub = b >>> 3; set(d, POP_SEG); return;
            case 0x27: case 0x2f: case 0x37: case 0x3f: // DAA DAS AAA AAS
                if (m64) { ud(d, true); return; }
                d.sub = b; set(d, BCD); return;
            default:
                break;
        }
        if (b >= 0x40 && b <= 0x4f) { // inc/dec r (not reached in 64-bit mode: REX)
            regInOpcode(d, b);
            set(d, b < 0x48 ? INC : DEC);
            return;
        }
        if (b >= 0x50 && b <= 0x5f) {
            regInOpcode(d, b);
            if (m64) {
                d.opSize = opsz ? 2 : 8;
            }
            set(d, b < 0x58 ? PUSH_E : POP_E);
            return;
        }
        if (b >= 0x70 && b <= 0x7f) {
            d.sub = b & 0xf;
            d.imm = (byte) fetch();
            branchSize(d);
            set(d, JCC);
            return;
        }
        if (b >= 0x91 && b <= 0x97) {
            regInOpcode(d, b);
            d.reg = 0;
            d.regB = 0;
            set(d, XCHG);
            return;
        }
        if (b >= 0xb0 && b <= 0xbf) {
            regInOpcode(d, b);
            if (b < 0xb8) {
                d.opSize = 1;
                d.imm = fetch();
            } else {
                d.imm = d.opSize == 8 ? fetchN(8) : fetchN(d.opSize);
            }
            set(d, MOV_EI);
            return;
        }
        if (b >= 0xd8 && b <= 0xdf) {
            decodeX87(d, b);
            return;
        }
        switch (b) {
            case 0x60: if (m64) { ud(d, true); return; } set(d, PUSHA); return;
            case 0x61: if (m64) { ud(d, true); return; } set(d, POPA); return;
            case 0x62: ud(d, m64); return; // BOUND (EVEX in 64-bit mode): not implemented
            case 0x63:
                modrm(d);
                if (m64) {
                    set(d, MOVSXD);
                } else if (realMode()) {
                    ud(d, true); // ARPL is not recognised in real mode
                } else {
                    d.opSize = 2;
                    set(d, ARPL);
                }
                return;
            case 0x68: d.imm = sext(immZ(d.opSize), d.opSize); pushSize(d, opsz); set(d, PUSH_I); return;
            case 0x6a: d.imm = (byte) fetch(); pushSize(d, opsz); set(d, PUSH_I); return;
            case 0x69: modrm(d); d.imm = immZ(d.opSize); set(d, IMUL_GEI); return;
            case 0x6b: modrm(d); d.imm = immB(d.opSize); set(d, IMUL_GEI); return;
            case 0x6c: d.opSize = 1; set(d, INS); return;
            case 0x6d: d.opSize = Math.min(d.opSize, 4); set(d, INS); return;
            case 0x6e: d.opSize = 1; set(d, OUTS); return;
            case 0x6f: d.opSize = Math.min(d.opSize, 4); set(d, OUTS); return;
            case 0x80: case 0x82:
                if (b == 0x82 && m64) { ud(d, true); return; }
                d.opSize = 1; d.sub = modrm(d); d.imm = fetch(); set(d, ALU_EI); return;
            case 0x81: d.sub = modrm(d); d.imm = immZ(d.opSize); set(d, ALU_EI); return;
            case 0x83: d.sub = modrm(d); d.imm = immB(d.opSize); set(d, ALU_EI); return;
            case 0x84: d.opSize = 1; modrm(d); set(d, TEST_EG); return;
            case 0x85: modrm(d); set(d, TEST_EG); return;
            case 0x86: d.opSize = 1; modrm(d); set(d, XCHG); return;
            case 0x87: modrm(d); set(d, XCHG); return;
            case 0x88: d.opSize = 1; modrm(d); set(d, MOV_EG); return;
            case 0x89: modrm(d); set(d, MOV_EG); return;
            case 0x8a: d.opSize = 1; modrm(d); set(d, MOV_GE); return;
            case 0x8b: modrm(d); set(d, MOV_GE); return;
            case 0x8c:
                d.sub = modrm(d);
                if (d.mem) {
                    d.opSize = 2;
                }
                if (d.sub > 5) { ud(d, true); return; }
                set(d, MOV_E_SEG);
                return;
            case 0x8d: modrm(d); if (!d.mem) { ud(d, true); return; } set(d, LEA); return;
            case 0x8e:
                d.sub = modrm(d);
                d.opSize = 2;
                if (d.sub > 5 || d.sub == CpuState.CS) { ud(d, true); return; }
                set(d, MOV_SEG_E);
                return;
            case 0x8f:
                if (modrm(d) != 0) { ud(d, false); return; }
                if (m64) {
                    d.opSize = opsz ? 2 : 8;
                }
                set(d, POP_E);
                return;
            case 0x90:
                if ((rex & 1) != 0) {
                    regInOpcode(d, b);
                    d.reg = 0;
                    d.regB = 0;
                    set(d, XCHG);
                } else {
                    set(d, d.rep == Insn.REP ? PAUSE : NOP);
                }
                return;
            case 0x98: set(d, CBW); return;
            case 0x99: set(d, CWD); return;
            case 0x9a:
                if (m64) { ud(d, true); return; }
                d.imm = fetchN(d.opSize); d.imm2 = fetchN(2); set(d, CALL_FAR_PTR); return;
            case 0x9b: set(d, FWAIT); return;
            case 0x9c: pushSize(d, opsz); set(d, PUSHF); return;
            case 0x9d: pushSize(d, opsz); set(d, POPF); return;
            case 0x9e: set(d, SAHF); return;
            case 0x9f: set(d, LAHF); return;
            case 0xa0: case 0xa1: case 0xa2: case 0xa3:
                if ((b & 1) == 0) {
                    d.opSize = 1;
                }
                d.mem = true;
                d.disp = fetchN(d.addrSize);
                set(d, b < 0xa2 ? MOV_AL_MOFFS : MOV_MOFFS_AL);
                return;
            case 0xa4: d.opSize = 1; set(d, MOVS); return;
            case 0xa5: set(d, MOVS); return;
            case 0xa6: d.opSize = 1; set(d, CMPS); return;
            case 0xa7: set(d, CMPS); return;
            case 0xa8: d.opSize = 1; accumulatorAsE(d); d.imm = fetch(); set(d, TEST_EI); return;
            case 0xa9: accumulatorAsE(d); d.imm = immZ(d.opSize); set(d, TEST_EI); return;
            case 0xaa: d.opSize = 1; set(d, STOS); return;
            case 0xab: set(d, STOS); return;
            case 0xac: d.opSize = 1; set(d, LODS); return;
            case 0xad: set(d, LODS); return;
            case 0xae: d.opSize = 1; set(d, SCAS); return;
            case 0xaf: set(d, SCAS); return;
            case 0xc0: d.opSize = 1; d.sub = modrm(d); d.imm = fetch(); set(d, SHIFT_I); return;
            case 0xc1: d.sub = modrm(d); d.imm = fetch(); set(d, SHIFT_I); return;
            case 0xc2: d.imm = fetchN(2); branchSize(d); set(d, RET); return;
            case 0xc3: branchSize(d); set(d, RET); return;
            case 0xc4: case 0xc5:
                if (m64) { ud(d, false); return; } // VEX: no AVX
                modrm(d);
                if (!d.mem) { ud(d, false); return; }
                d.sub = b == 0xc4 ? CpuState.ES : CpuState.DS;
                set(d, LOAD_FAR);
                return;
            case 0xc6:
                if (fetch() == 0xf8) { d.imm = fetch(); set(d, XABORT); return; } // XABORT imm8
                pos--;
                d.opSize = 1; if (modrm(d) != 0) { ud(d, false); return; } d.imm = fetch(); set(d, MOV_EI); return;
            case 0xc7:
                if (fetch() == 0xf8) { // XBEGIN rel16/rel32
                    d.imm = d.opSize == 2 ? (short) fetchN(2) : (int) fetchN(4);
                    set(d, XBEGIN);
                    return;
                }
                pos--;
                if (modrm(d) != 0) { ud(d, false); return; }
                d.imm = immZ(d.opSize);
                set(d, MOV_EI);
                return;
            case 0xc8: d.imm = fetchN(2); d.imm2 = fetch(); pushSize(d, opsz); set(d, ENTER); return;
            case 0xc9: pushSize(d, opsz); set(d, LEAVE); return;
            case 0xca: d.imm = fetchN(2); set(d, RET_FAR); return;
            case 0xcb: set(d, RET_FAR); return;
            case 0xcc: set(d, INT3); return;
            case 0xcd: d.imm = fetch(); set(d, INT_N); return;
            case 0xce: if (m64) { ud(d, true); return; } set(d, INTO); return;
            case 0xcf: set(d, IRET); return;
            case 0xd0: d.opSize = 1; d.sub = modrm(d); d.imm = 1; set(d, SHIFT_I); return;
            case 0xd1: d.sub = modrm(d); d.imm = 1; set(d, SHIFT_I); return;
            case 0xd2: d.opSize = 1; d.sub = modrm(d); set(d, SHIFT_CL); return;
            case 0xd3: d.sub = modrm(d); set(d, SHIFT_CL); return;
            case 0xd4: case 0xd5: // AAM ib, AAD ib
                if (m64) { ud(d, true); return; }
                d.sub = b; d.imm = fetch(); set(d, BCD); return;
            case 0xd6: // SALC
                if (m64) { ud(d, true); return; }
                d.sub = b; set(d, BCD); return;
            case 0xd7: set(d, XLAT); return;
            case 0xe0: case 0xe1: case 0xe2:
                d.sub = b & 3; d.imm = (byte) fetch(); branchSize(d); set(d, LOOP); return;
            case 0xe3: d.imm = (byte) fetch(); branchSize(d); set(d, JRCXZ); return;
            case 0xe4: d.opSize = 1; d.imm = fetch(); set(d, IN_I); return;
            case 0xe5: d.opSize = Math.min(d.opSize, 4); d.imm = fetch(); set(d, IN_I); return;
            case 0xe6: d.opSize = 1; d.imm = fetch(); set(d, OUT_I); return;
            case 0xe7: d.opSize = Math.min(d.opSize, 4); d.imm = fetch(); set(d, OUT_I); return;
            case 0xe8: d.imm = relZ(d); set(d, CALL_REL); return;
            case 0xe9: d.imm = relZ(d); set(d, JMP_REL); return;
            case 0xea:
                if (m64) { ud(d, true); return; }
                d.imm = fetchN(d.opSize); d.imm2 = fetchN(2); set(d, JMP_FAR_PTR); return;
            case 0xeb: d.imm = (byte) fetch(); branchSize(d); set(d, JMP_REL); return;
            case 0xec: d.opSize = 1; set(d, IN_DX); return;
            case 0xed: d.opSize = Math.min(d.opSize, 4); set(d, IN_DX); return;
            case 0xee: d.opSize = 1; set(d, OUT_DX); return;
            case 0xef: d.opSize = Math.min(d.opSize, 4); set(d, OUT_DX); return;
            case 0xf1: set(d, INT1); return;
            case 0xf4: set(d, HLT); return;
            case 0xf5: set(d, CMC); return;
            case 0xf6: case 0xf7: {
                if (b == 0xf6) {
                    d.opSize = 1;
                }
                int r = modrm(d);
                switch (r) {
                    case 0: case 1: d.imm = b == 0xf6 ? fetch() : immZ(d.opSize); set(d, TEST_EI); return;
                    case 2: set(d, NOT); return;
                    case 3: set(d, NEG); return;
                    case 4: set(d, MUL); return;
                    case 5: set(d, IMUL1); return;
                    case 6: set(d, DIV); return;
                    default: set(d, IDIV); return;
                }
            }
            case 0xf8: set(d, CLC); return;
            case 0xf9: set(d, STC); return;
            case 0xfa: set(d, CLI); return;
            case 0xfb: set(d, STI); return;
            case 0xfc: set(d, CLD); return;
            case 0xfd: set(d, STD); return;
            case 0xfe: {
                d.opSize = 1;
                int r = modrm(d);
                if (r > 1) { ud(d, false); return; }
                set(d, r == 0 ? INC : DEC);
                return;
            }
            case 0xff: {
                int r = modrm(d);
                switch (r) {
                    case 0: set(d, INC); return;
                    case 1: set(d, DEC); return;
                    case 2: branchSize(d); set(d, CALL_E); return;
                    case 3: if (!d.mem) { ud(d, true); return; } set(d, CALL_FAR_M); return;
                    case 4: branchSize(d); set(d, JMP_E); return;
                    case 5: if (!d.mem) { ud(d, true); return; } set(d, JMP_FAR_M); return;
                    case 6: pushSize(d, opsz); set(d, PUSH_E); return;
                    default: ud(d, false); return;
                }
            }
            default:
                ud(d, false);
        }
    }

    /** Near branches in 64-bit mode use 64-bit operands (Intel ignores 66 here). */
    private void branchSize(Insn d) {
        if (m64) {
            d.opSize = 8;
        }
    }

    private void pushSize(Insn d, boolean opsz) {
        if (m64) {
            d.opSize = opsz ? 2 : 8;
        }
    }

    private long relZ(Insn d) {
        if (m64) {
            d.opSize = 8;
            return (int) fetchN(4);
        }
        return d.opSize == 2 ? (short) fetchN(2) : (int) fetchN(4);
    }

    private static long sext(long v, int size) {
        return CpuState.sext(v, size == 8 ? 4 : size);
    }

    /** The x87 map, D8-DF (SDM Vol. 2 table ); FOP-style opcode (first byte, ModRM) in d.opcode. */
    private void decodeX87(Insn d, int b) {
        int m = fetch();
        pos--;
        d.opcode = b << 8 | m;
        if (m >= 0xc0) {
            pos++;
            d.mem = false;
            d.rm = m & 7;
            decodeX87Register(d, b, m);
            return;
        }
        int r = modrm(d);
        d.opSize = d.opSize == 2 ? 2 : 4; // FNSTENV/FLDENV/FNSAVE/FRSTOR: 16- or 32-bit format
        switch (b) {
            case 0xd8: d.sub = r; set(d, r == 2 || r == 3 ? FCOM_M32 : FARITH_M32); d.sub = r == 2 || r == 3 ? r & 1 : r; return;
            case 0xdc: set(d, r == 2 || r == 3 ? FCOM_M64 : FARITH_M64); d.sub = r == 2 || r == 3 ? r & 1 : r; return;
            case 0xda: set(d, r == 2 || r == 3 ? FICOM_M32 : FIARITH_M32); d.sub = r == 2 || r == 3 ? r & 1 : r; return;
            case 0xde: set(d, r == 2 || r == 3 ? FICOM_M16 : FIARITH_M16); d.sub = r == 2 || r == 3 ? r & 1 : r; return;
            case 0xd9:
                switch (r) {
                    case 0: set(d, FLD_M32); return;
                    case 2: case 3: d.sub = r & 1; set(d, FST_M32); return;
                    case 4: set(d, FLDENV); return;
                    case 5: d.opSize = 2; set(d, FLDCW); return;
                    case 6: set(d, FNSTENV); return;
                    case 7: d.opSize = 2; set(d, FNSTCW); return;
                    default: break;
                }
                break;
            case 0xdb:
                switch (r) {
                    case 0: set(d, FILD_M32); return;
                    case 1: set(d, FISTTP_M32); return;
                    case 2: case 3: d.sub = r & 1; set(d, FIST_M32); return;
                    case 5: set(d, FLD_M80); return;
                    case 7: set(d, FSTP_M80); return;
                    default: break;
                }
                break;
            case 0xdd:
                switch (r) {
                    case 0: set(d, FLD_M64); return;
                    case 1: set(d, FISTTP_M64); return;
                    case 2: case 3: d.sub = r & 1; set(d, FST_M64); return;
                    case 4: set(d, FRSTOR); return;
                    case 6: set(d, FNSAVE); return;
                    case 7: d.opSize = 2; set(d, FNSTSW_M); return;
                    default: break;
                }
                break;
            default: // 0xdf
                switch (r) {
                    case 0: set(d, FILD_M16); return;
                    case 1: set(d, FISTTP_M16); return;
                    case 2: case 3: d.sub = r & 1; set(d, FIST_M16); return;
                    case 4: set(d, FBLD); return;
                    case 5: set(d, FILD_M64); return;
                    case 6: set(d, FBSTP); return;
                    default: set(d, FISTP_M64); return;
                }
        }
        d.opcode = b << 8 | r << 3;
        ud(d, false);
    }

    /** Arithmetic kinds of the DC/DE register forms: E0 is FSUBR ST(i),ST (kind 5), E8 FSUB (4), F0 FDIVR (7), F8 FDIV (6). */
    private static final int[] REVERSED_KIND = {0, 1, 2, 3, 5, 4, 7, 6};
    /** D9 E0-FF. */
    private static final Op[] D9_E0 = {FCHS, FABS, null, null, FTST, FXAM, null, null,
        FLDCONST, FLDCONST, FLDCONST, FLDCONST, FLDCONST, FLDCONST, FLDCONST, null,
        F2XM1, FYL2X, FPTAN, FPATAN, FXTRACT, FPREM1, FDECSTP, FINCSTP,
        FPREM, FYL2XP1, FSQRT, FSINCOS, FRNDINT, FSCALE, FSIN, FCOS};

    private void decodeX87Register(Insn d, int b, int m) {
        int r = (m >>> 3) & 7;
        switch (b) {
            case 0xd8:
                if (r == 2 || r == 3) { d.sub = r & 1; set(d, FCOM_STI); return; }
                d.sub = r; set(d, FARITH_ST0_STI); return;
            case 0xd9:
                switch (r) {
                    case 0: set(d, FLD_STI); return;
                    case 1: set(d, FXCH); return;
                    case 2: if (m == 0xd0) { set(d, FNOP); return; } break;
                    case 3: d.sub = 3; set(d, FST_STI); return; // FSTP1 alias: no stack underflow (sub bit 1)
                    default: {
                        Op op = D9_E0[m - 0xe0];
                        if (op == null || !x87Transcendental(op)) {
                            break;
                        }
                        d.sub = op == FLDCONST ? m - 0xe8 : 0;
                        set(d, op);
                        return;
                    }
                }
                break;
            case 0xda:
                if (r < 4) { d.sub = r; set(d, FCMOV); return; }
                if (m == 0xe9) { d.sub = 2; set(d, FCOMPP); return; }
                break;
            case 0xdb:
                if (r < 4) { d.sub = 4 + r; set(d, FCMOV); return; }
                if (r == 5 || r == 6) { d.sub = r == 5 ? 2 : 0; set(d, FCOMI); return; }
                switch (m) {
                    case 0xe0: case 0xe1: case 0xe4: d.sub = 1; set(d, FNOP); return; // FENI, FDISI, FSETPM: no-ops since the 387
                    case 0xe2: set(d, FNCLEX); return;
                    case 0xe3: set(d, FNINIT); return;
                    default: break;
                }
                break;
            case 0xdc:
                if (r == 2 || r == 3) { d.sub = r & 1; set(d, FCOM_STI); return; } // FCOM2, FCOMP3 aliases
                d.sub = REVERSED_KIND[r]; set(d, FARITH_STI_ST0); return;
            case 0xdd:
                switch (r) {
                    case 0: set(d, FFREE); return;
                    case 1: set(d, FXCH); return; // FXCH4 alias
                    case 2: case 3: d.sub = r & 1; set(d, FST_STI); return;
                    case 4: case 5: d.sub = 2 | (r & 1); set(d, FCOM_STI); return; // FUCOM, FUCOMP
                    default: break;
                }
                break;
            case 0xde:
                if (r == 2) { d.sub = 1; set(d, FCOM_STI); return; } // FCOMP5 alias
                if (r == 3) {
                    if (m == 0xd9) { d.sub = 0; set(d, FCOMPP); return; }
                    break;
                }
                d.sub = REVERSED_KIND[r]; set(d, FARITHP); return;
            default: // 0xdf
                switch (r) {
                    case 0: d.sub = 1; set(d, FFREE); return; // FFREEP
                    case 1: set(d, FXCH); return; // FXCH7 alias
                    case 2: case 3: d.sub = 1; set(d, FST_STI); return; // FSTP8, FSTP9 aliases
                    case 4: if (m == 0xe0) { set(d, FNSTSW_AX); return; } break;
                    case 5: case 6: d.sub = r == 5 ? 3 : 1; set(d, FCOMI); return; // FUCOMIP, FCOMIP
                    default: break;
                }
                break;
        }
        ud(d, false);
    }

    /** The transcendental forms decode only once implemented (X87Trans.IMPLEMENTED). */
    private static boolean x87Transcendental(Op op) {
        switch (op) {
            case F2XM1: case FYL2X: case FYL2XP1: case FPTAN: case FPATAN: case FSIN: case FCOS: case FSINCOS:
                return X87Trans.IMPLEMENTED;
            default:
                return true;
        }
    }

    private void decode0f(Insn d, int b, boolean opsz) {
        if (Sse.hasForm(Sse.MAP_0F, b)) {
            decodeSse(d, Sse.MAP_0F, b, opsz);
            return;
        }
        if (b >= 0x40 && b <= 0x4f) { d.sub = b & 0xf; modrm(d); set(d, CMOVCC); return; }
        if (b >= 0x80 && b <= 0x8f) { d.sub = b & 0xf; d.imm = relZ(d); set(d, JCC); return; }
        if (b >= 0x90 && b <= 0x9f) { d.sub = b & 0xf; d.opSize = 1; modrm(d); set(d, SETCC); return; }
        if (b >= 0xc8 && b <= 0xcf) { regInOpcode(d, b); set(d, BSWAP); return; }
        if (b == 0x1e && d.rep == Insn.REP) { // F3 0F 1E: ENDBR64/32, RDSSP; the rest stay hint NOPs
            int m = fetch();
            pos--;
            modrm(d);
            if (m == 0xfa || m == 0xfb) {
                d.sub = m == 0xfa ? 64 : 32;
                set(d, ENDBR);
            } else if (!d.mem && (m & 0x38) == 0x08) {
                d.opSize = (rex & 8) != 0 ? 8 : 4;
                set(d, RDSSP);
            } else {
                set(d, NOP);
            }
            return;
        }
        if (b >= 0x18 && b <= 0x1f) { modrm(d); set(d, NOP); return; } // hint NOPs, prefetch
        switch (b) {
            case 0x00: {
                // Operands are 16-bit, but SLDT/STR to a register take the operand size (zero-extended).
                int r = modrm(d);
                if (realMode()) { ud(d, true); return; }
                switch (r) {
                    case 0: set(d, SLDT); return;
                    case 1: set(d, STR); return;
                    case 2: set(d, LLDT); return;
                    case 3: set(d, LTR); return;
                    case 4: set(d, VERR); return;
                    case 5: set(d, VERW); return;
                    default: ud(d, false); return;
                }
            }
            case 0x01: decodeGroup7(d); return;
            case 0x02: case 0x03: // LAR, LSL: not recognised in real mode
                modrm(d);
                if (realMode()) { ud(d, true); return; }
                set(d, b == 0x02 ? LAR : LSL);
                return;
            case 0x05: set(d, SYSCALL); return;
            case 0x06: set(d, CLTS); return;
            case 0x07: set(d, SYSRET); return;
            case 0x08: case 0x09: set(d, WBINVD); return;
            case 0x0b: ud(d, true); return; // ud2
            case 0xb9: case 0xff: modrm(d); ud(d, true); return; // ud1, ud0: defined #UD, with a ModRM
            case 0x0d: modrm(d); set(d, NOP); return; // prefetchw
            case 0x20: case 0x21: case 0x22: case 0x23: {
                d.sub = modrm(d) | ((rex & 4) << 1);
                d.mem = false;
                d.opSize = m64 ? 8 : 4;
                set(d, b == 0x20 ? MOV_R_CR : b == 0x21 ? MOV_R_DR : b == 0x22 ? MOV_CR_R : MOV_DR_R);
                return;
            }
            case 0x30: set(d, WRMSR); return;
            case 0x31: set(d, RDTSC); return;
            case 0x32: set(d, RDMSR); return;
            case 0x33: set(d, RDPMC); return;
            case 0x34: set(d, SYSENTER); return;
            case 0x35: set(d, SYSEXIT); return;
            case 0x38: {
                int b3 = fetch();
                d.opcode = 0x0f3800 | b3;
                if ((b3 == 0xf0 || b3 == 0xf1) && d.rep == 0) {
                    modrm(d);
                    if (!d.mem) { ud(d, true); return; }
                    set(d, b3 == 0xf0 ? MOVBE_GM : MOVBE_MG);
                    return;
                }
                if ((b3 == 0xf6 && !opsz || b3 == 0xf5 && opsz) && d.rep == 0) { // WRSS, 66: WRUSS
                    modrm(d);
                    if (!d.mem) { ud(d, true); return; }
                    d.opSize = (rex & 8) != 0 ? 8 : 4;
                    set(d, b3 == 0xf6 ? WRSS : WRUSS);
                    return;
                }
                if (Sse.hasForm(Sse.MAP_0F38, b3)) { // after MOVBE: F2 0F 38 F0/F1 is CRC32
                    decodeSse(d, Sse.MAP_0F38, b3, opsz);
                    return;
                }
                ud(d, false);
                return;
            }
            case 0x3a: {
                int b3 = fetch();
                d.opcode = 0x0f3a00 | b3;
                if (Sse.hasForm(Sse.MAP_0F3A, b3)) {
                    decodeSse(d, Sse.MAP_0F3A, b3, opsz);
                    return;
                }
                ud(d, false);
                return;
            }
            case 0xa0: d.sub = CpuState.FS; pushSize(d, opsz); set(d, PUSH_SEG); return;
            case 0xa1: d.sub = CpuState.FS; pushSize(d, opsz); set(d, POP_SEG); return;
            case 0xa8: d.sub = CpuState.GS; pushSize(d, opsz); set(d, PUSH_SEG); return;
            case 0xa9: d.sub = CpuState.GS; pushSize(d, opsz); set(d, POP_SEG); return;
            case 0xa2: set(d, CPUID); return;
            case 0xa3: modrm(d); d.sub = 0; set(d, BT_EG); return;
            case 0xab: modrm(d); d.sub = 1; set(d, BT_EG); return;
            case 0xb3: modrm(d); d.sub = 2; set(d, BT_EG); return;
            case 0xbb: modrm(d); d.sub = 3; set(d, BT_EG); return;
            case 0xa4: modrm(d); d.imm = fetch(); set(d, SHLD_I); return;
            case 0xa5: modrm(d); set(d, SHLD_CL); return;
            case 0xac: modrm(d); d.imm = fetch(); set(d, SHRD_I); return;
            case 0xad: modrm(d); set(d, SHRD_CL); return;
            case 0xae: decodeGroup15(d, opsz); return;
            case 0xaf: modrm(d); set(d, IMUL_GE); return;
            case 0xb0: d.opSize = 1; modrm(d); set(d, CMPXCHG); return;
            case 0xb1: modrm(d); set(d, CMPXCHG); return;
            case 0xb2: case 0xb4: case 0xb5:
                modrm(d);
                if (!d.mem) { ud(d, true); return; }
                d.sub = b == 0xb2 ? CpuState.SS : b == 0xb4 ? CpuState.FS : CpuState.GS;
                set(d, LOAD_FAR);
                return;
            case 0xb6: modrm(d); set(d, MOVZX_B); return;
            case 0xb7: modrm(d); set(d, MOVZX_W); return;
            case 0xbe: modrm(d); set(d, MOVSX_B); return;
            case 0xbf: modrm(d); set(d, MOVSX_W); return;
            case 0xb8:
                if (d.rep != Insn.REP) { ud(d, false); return; }
                modrm(d); set(d, POPCNT); return;
            case 0xba: {
                int r = modrm(d);
                if (r < 4) { ud(d, true); return; }
                d.sub = r - 4;
                d.imm = fetch();
                set(d, BT_EI);
                return;
            }
            case 0xbc: modrm(d); set(d, d.rep == Insn.REP ? TZCNT : BSF); return;
            case 0xbd: modrm(d); set(d, d.rep == Insn.REP ? LZCNT : BSR); return;
            case 0xc0: d.opSize = 1; modrm(d); set(d, XADD); return;
            case 0xc1: modrm(d); set(d, XADD); return;
            case 0xc3: modrm(d); if (!d.mem || d.opSize == 2) { ud(d, true); return; } set(d, MOV_EG); return;
            case 0xc7: {
                int r = modrm(d);
                if (r == 1 && d.mem) {
                    set(d, CMPXCHG8B);
                    return;
                }
                if (r == 7 && !d.mem && d.rep == Insn.REP) {
                    d.opSize = m64 ? 8 : 4;
                    set(d, RDPID);
                    return;
                }
                if (d.mem && !opsz && d.rep == 0 && r >= 3 && r <= 5) { // NP 0F C7 /3 /4 /5
                    set(d, r == 3 ? XRSTORS : r == 4 ? XSAVEC : XSAVES);
                    return;
                }
                d.opcode = 0x0fc700 | r << 3;
                ud(d, false);
                return;
            }
            default:
                ud(d, false);
        }
    }

    /**
     * An SSE form of the 0F, 0F 38 or 0F 3A map: the mandatory prefix (F3 or F2 over 66), ModRM, the
     * form from the {@link Op} table's decode keys, and an imm8 where the form has one.
     * Combinations without a form are #UD, reported with their prefix; EMMS (0F 77) has no ModRM.
     */
    private void decodeSse(Insn d, int map, int b, boolean opsz) {
        int prefix = d.rep == Insn.REP ? 2 : d.rep == Insn.REPNE ? 3 : opsz ? 1 : 0;
        Op bare = Sse.lookup(map, prefix, b, 0, false);
        if (bare != null && bare.noModrm) { // EMMS
            set(d, bare);
            return;
        }
        int digit = modrm(d);
        Op op = Sse.lookup(map, prefix, b, digit, d.mem);
        if (op == null) {
            if (map == Sse.MAP_0F) {
                d.opcode = (prefix == 0 ? 0 : prefix == 1 ? 0x66 : prefix == 2 ? 0xf3 : 0xf2) << 16 | 0x0f00 | b;
            }
            ud(d, false);
            return;
        }
        if (op.imm8) {
            d.imm = fetch();
        }
        set(d, op);
    }

    private boolean realMode() {
        return (cpu.cr0 & CpuState.CR0_PE) == 0;
    }

    private void decodeGroup7(Insn d) {
        int m = fetch();
        pos--;
        if (m >= 0xc0) {
            pos++;
            d.opcode = 0x0f0100 | m;
            switch (m) {
                case 0xf8: if (m64) { set(d, SWAPGS); } else { ud(d, true); } return;
                case 0xf9: set(d, RDTSCP); return;
                case 0xc1: set(d, VMCALL); return; // VMMCALL (0xd9) stays #UD: the vendor is Intel

                case 0xd0: set(d, XGETBV); return;
                case 0xd5: set(d, XEND); return;
                case 0xd6: set(d, XTEST); return;
                case 0xd1: set(d, XSETBV); return;
                case 0xca: set(d, CLAC); return;
                case 0xcb: set(d, STAC); return;
                case 0xee: set(d, RDPKRU); return;
                case 0xef: set(d, WRPKRU); return;
                case 0xe8: case 0xea:
                    if (d.rep != Insn.REP) { ud(d, false); return; }
                    set(d, m == 0xe8 ? SETSSBSY : SAVEPREVSSP);
                    return;
                default:
                    if ((m & 0xf8) == 0xe0) { // smsw r
                        pos--;
                        modrm(d);
                        set(d, SMSW);
                        return;
                    }
                    if ((m & 0xf8) == 0xf0) { // lmsw r
                        pos--;
                        modrm(d);
                        d.opSize = 2;
                        set(d, LMSW);
                        return;
                    }
                    ud(d, false);
                    return;
            }
        }
        int r = modrm(d);
        switch (r) {
            case 0: set(d, SGDT); return;
            case 1: set(d, SIDT); return;
            case 2: set(d, LGDT); return;
            case 3: set(d, LIDT); return;
            case 4: d.opSize = 2; set(d, SMSW); return;
            case 5:
                if (d.rep != Insn.REP) { break; }
                d.opSize = 8;
                set(d, RSTORSSP);
                return;
            case 6: d.opSize = 2; set(d, LMSW); return;
            case 7: set(d, INVLPG); return;
            default: break;
        }
        d.opcode = 0x0f0100 | r << 3;
        ud(d, false);
    }

    private void decodeGroup15(Insn d, boolean opsz) {
        int m = fetch();
        pos--;
        if (m >= 0xc0) {
            pos++;
            int r = (m >>> 3) & 7;
            if (r >= 5 && d.rep == 0) {
                set(d, FENCE);
                return;
            }
            if (r == 5 && d.rep == Insn.REP) { // INCSSPD/INCSSPQ r
                pos--;
                modrm(d);
                d.opSize = (rex & 8) != 0 ? 8 : 4;
                set(d, INCSSP);
                return;
            }
            if (r <= 3 && d.rep == Insn.REP && m64) { // rdfsbase rdgsbase wrfsbase wrgsbase
                pos--;
                modrm(d);
                d.sub = r;
                set(d, RDFSBASE);
                return;
            }
            d.opcode = 0x0fae00 | m;
            ud(d, false);
            return;
        }
        int r = modrm(d);
        if (r == 6 && d.rep == Insn.REP) {
            d.opSize = 8;
            set(d, CLRSSBSY);
            return;
        }
        if (d.rep != 0) {
            d.opcode = 0x0fae00 | r << 3;
            ud(d, false);
            return;
        }
        if (opsz && r >= 6) {
            set(d, r == 6 ? CLWB : CLFLUSHOPT);
            return;
        }
        switch (r) {
            case 0: set(d, FXSAVE); return;
            case 1: set(d, FXRSTOR); return;
            case 2: d.opSize = 4; set(d, LDMXCSR); return;
            case 3: d.opSize = 4; set(d, STMXCSR); return;
            case 4: if (opsz) { break; } set(d, XSAVE); return;
            case 5: if (opsz) { break; } set(d, XRSTOR); return;
            case 6: set(d, XSAVEOPT); return; // 66 /6 is CLWB
            case 7: set(d, CLFLUSH); return;
            default: break;
        }
        d.opcode = 0x0fae00 | r << 3;
        ud(d, false);
    }
}

package org.tscvm.cpu;

/**
 * The fast forms: the handful of instruction forms that make up most of compiled integer code,
 * each with its operands resolved at decode time (Bochs' split of register and memory forms,
 * STYLE 6-7). {@link #classify} sets {@link Insn#fast}, {@link Insn#fa}, {@link Insn#fb},
 * {@link Insn#fmask} and {@link Insn#fimm}; {@link CpuExec#step} runs a form in one dense
 * {@code switch} with no operand-size, register-or-memory or ALU-kind branches left. Every
 * other instruction (and every 8- and 16-bit form) has {@link #GENERIC} and runs through the
 * group handlers, so a fast form only has to match its generic handler, never replace it.
 *
 * <p>Measured on bench/workloads intmix before this split: dispatch through the group and
 * enum switches, and the size switches in getReg/setReg, took about a third of the samples.
 */
final class Fast {
    private Fast() {
    }

    static final int GENERIC = 0,
            MOV_RR = 1, MOV_RI = 2, LOAD = 3, STORE = 4, STORE_I = 5,
            ADD_RR = 6, OR_RR = 7, AND_RR = 8, SUB_RR = 9, XOR_RR = 10, CMP_RR = 11, TEST_RR = 12,
            ADD_RI = 13, OR_RI = 14, AND_RI = 15, SUB_RI = 16, XOR_RI = 17, CMP_RI = 18, TEST_RI = 19,
            ADD_RM = 20, OR_RM = 21, AND_RM = 22, SUB_RM = 23, XOR_RM = 24, CMP_RM = 25,
            CMP_MI = 26, CMP_MR = 27, LEA = 28,
            JCC = 29, JMP = 30, CALL = 31, RET = 32, PUSH_R = 33, POP_R = 34,
            MOVZX_B = 35, MOVZX_W = 36, MOVSX_B = 37, MOVSX_W = 38, MOVSXD = 39,
            SHIFT_I = 40, IMUL_GE = 41, IMUL_GEI = 42, CMOV_RR = 43, NOP = 44, INC = 45, DEC = 46,
            RDTSC = 47, RDMSR = 48, WRMSR = 49, OUT_I = 50, OUT_DX = 51, JMP_E = 52, SHIFT_CL = 53,
            RMW_I = 54, RMW_R = 55;

    /**
     * Address forms of a 64-bit-mode memory operand with a 64-bit address in a segment without
     * a base (not FS/GS): the effective address is the linear address. {@link #AM_GENERIC}
     * leaves it to {@code CpuExec.addr}.
     */
    static final int AM_GENERIC = 0, AM_BASE = 1, AM_BASE_INDEX = 2, AM_INDEX = 3, AM_RIP = 4, AM_ABS = 5;

    /** Fast-form offsets by ALU kind (0 add, 1 or, 4 and, 5 sub, 6 xor, 7 cmp); -1: none (adc, sbb). */
    private static final int[] ALU_INDEX = {0, 1, -1, -1, 2, 3, 4, 5};

    /** Picks the fast form and address form of a freshly decoded instruction, or {@link #GENERIC}. */
    static void classify(Insn d, boolean mode64) {
        d.fast = GENERIC;
        d.famode = AM_GENERIC;
        if (d.mem && mode64 && d.addrSize == 8 && d.seg < CpuState.FS) {
            if (d.base == Insn.RIP_BASE) {
                d.famode = AM_RIP;
            } else if (d.base >= 0) {
                d.famode = d.index >= 0 ? AM_BASE_INDEX : AM_BASE;
            } else {
                d.famode = d.index >= 0 ? AM_INDEX : AM_ABS;
            }
        }
        int size = d.opSize;
        boolean wide = size == 4 || size == 8;
        d.fmask = CpuState.mask(size);
        d.fimm = d.imm & d.fmask;
        if (d.lock || d.rep != 0) {
            return;
        }
        // Forms of any operand size: the platform calls the op loops time (bench/workloads).
        switch (d.op) {
            case RDTSC: set(d, RDTSC, 0, 0); return;
            case RDMSR: set(d, RDMSR, 0, 0); return;
            case WRMSR: set(d, WRMSR, 0, 0); return;
            case OUT_I: set(d, OUT_I, 0, 0); return;
            case OUT_DX: set(d, OUT_DX, 0, 0); return;
            case NOP: set(d, NOP, 0, 0); return;
            default: break;
        }
        if (!wide) {
            return;
        }
        int alu = d.sub >= 0 && d.sub < 8 ? ALU_INDEX[d.sub] : -1;
        switch (d.op) {
            case MOV_EG:
                if (d.mem) {
                    set(d, STORE, 0, d.reg);
                } else {
                    set(d, MOV_RR, d.rm, d.reg);
                }
                break;
            case MOV_GE:
                if (d.mem) {
                    set(d, LOAD, d.reg, 0);
                } else {
                    set(d, MOV_RR, d.reg, d.rm);
                }
                break;
            case MOV_EI:
                set(d, d.mem ? STORE_I : MOV_RI, d.rm, 0);
                break;
            case ALU_EG:
                if (d.sub == 7 && d.mem) {
                    set(d, CMP_MR, 0, d.reg);
                } else if (alu >= 0 && !d.mem) {
                    set(d, ADD_RR + alu, d.rm, d.reg);
                } else if (d.sub < 7) {
                    set(d, RMW_R, 0, d.reg);
                }
                break;
            case ALU_GE:
                if (alu >= 0) {
                    set(d, (d.mem ? ADD_RM : ADD_RR) + alu, d.reg, d.rm);
                }
                break;
            case ALU_EI:
                if (d.sub == 7 && d.mem) {
                    set(d, CMP_MI, 0, 0);
                } else if (alu >= 0 && !d.mem) {
                    set(d, ADD_RI + alu, d.rm, 0);
                } else if (d.sub < 7) {
                    set(d, RMW_I, 0, 0);
                }
                break;
            case TEST_EG:
                if (!d.mem) {
                    set(d, TEST_RR, d.rm, d.reg);
                }
                break;
            case TEST_EI:
                if (!d.mem) {
                    set(d, TEST_RI, d.rm, 0);
                }
                break;
            case LEA: set(d, LEA, d.reg, 0); break;
            case JCC: set(d, JCC, 0, 0); break;
            case JMP_REL: set(d, JMP, 0, 0); break;
            case CALL_REL: set(d, CALL, 0, 0); break;
            case RET: set(d, RET, 0, 0); break;
            case PUSH_E:
                if (!d.mem && size == 8) {
                    set(d, PUSH_R, 0, d.rm);
                }
                break;
            case POP_E:
                if (!d.mem && size == 8) {
                    set(d, POP_R, d.rm, 0);
                }
                break;
            case MOVZX_B: set(d, MOVZX_B, d.reg, 0); break;
            case MOVZX_W: set(d, MOVZX_W, d.reg, 0); break;
            case MOVSX_B: set(d, MOVSX_B, d.reg, 0); break;
            case MOVSX_W: set(d, MOVSX_W, d.reg, 0); break;
            case MOVSXD: set(d, MOVSXD, d.reg, 0); break;
            case SHIFT_I: set(d, SHIFT_I, 0, 0); break;
            case IMUL_GE: set(d, IMUL_GE, 0, 0); break;
            case IMUL_GEI: set(d, IMUL_GEI, 0, 0); break;
            case CMOVCC:
                if (!d.mem) {
                    set(d, CMOV_RR, d.reg, d.rm);
                }
                break;
            case SHIFT_CL: set(d, SHIFT_CL, 0, 0); break;
            case JMP_E: set(d, JMP_E, 0, 0); break;
            case INC: set(d, INC, 0, 0); break;
            case DEC: set(d, DEC, 0, 0); break;
            default:
                break;
        }
    }

    private static void set(Insn d, int form, int a, int b) {
        d.fast = form;
        d.fa = a;
        d.fb = b;
    }
}

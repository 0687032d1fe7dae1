package org.tscvm.cpu;

/**
 * One decoded instruction, flat and mutable so that decoded blocks reuse their instances (no
 * allocation once the cache is warm). Field meanings follow Bochs' bxInstruction_c: the form,
 * sizes, register indexes, the memory operand's parts, immediates and the length.
 */
final class Insn {
    /** Marks "no register" in {@link #base} and {@link #index}. */
    static final int NONE = -1;
    /** {@link #base} value for RIP-relative addressing. */
    static final int RIP_BASE = 16;

    Op op;
    /** The variant within a family: ALU kind, condition code, shift kind, segment, CR/DR number. */
    int sub;
    /** Operand size in bytes: 1, 2, 4 or 8. */
    int opSize;
    /** Address size in bytes: 2, 4 or 8. */
    int addrSize;
    /** ModRM.reg with REX.R (0-15), and its byte-register form (AH..BH are 16..19). */
    int reg;
    int regB;
    /** The register ModRM.rm names with REX.B when {@link #mem} is false (and its byte form). */
    int rm;
    int rmB;
    boolean mem;
    int base;
    int index;
    int scale;
    long disp;
    /** The segment of the memory operand (default or override), 0..5 as in {@link Cpu} ES..GS. */
    int seg;
    long imm;
    long imm2;
    int len;
    /** 0, REP (F3) or REPNE (F2). */
    int rep;
    boolean lock;
    /** The opcode bytes for #UD reports, e.g. 0x0f0b; 0x0f38xx/0x0f3axx for three-byte maps. */
    int opcode;

    /** The {@link Fast} form, or {@link Fast#GENERIC}; set by {@link Fast#classify}. */
    int fast;
    /** The fast form's destination and source register indexes (0-15). */
    int fa;
    int fb;
    /** The operand-size mask (0xffffffff or -1 for the fast forms) and the immediate under it. */
    long fmask;
    long fimm;
    /** The {@link Fast} address form (AM_*) of the memory operand. */
    int famode;

    static final int REP = 1, REPNE = 2;
}

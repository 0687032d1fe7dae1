package org.tscvm.cpu;

/**
 * One decoded instruction, flat and mutable so that decoded blocks reuse their instances (no
 * allocation once the cache is warm). Field meanings follow Bochs' bxInstruction_c: the form,
 * sizes, register indexes, the memory operand's parts, immediates and the length.
 */
final class Insn implements Cloneable {
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
    /** A 3E prefix: on an indirect near JMP/CALL the CET "notrack" hint (honoured with NO_TRACK_EN). */
    boolean notrack;
    /** The opcode bytes for #UD reports, e.g. 0x0f0b; 0x0f38xx/0x0f3axx for three-byte maps. */
    int opcode;

    /**
     * Operands resolved at decode time for the forms of shape {@link Op.Shape#R_R} and its kin:
     * the destination and source register indexes (0-15), the operand-size mask and the
     * immediate under it.
     */
    int fa;
    int fb;
    long fmask;
    long fimm;
    /** The address form (AM_*) of the memory operand. */
    int famode;
    /** With a flat address form: the operand is FS- or GS-relative, so that segment's base is added. */
    boolean segBased;

    /**
     * Address forms of a 64-bit-mode memory operand with a 64-bit address: the effective
     * address is the linear address, plus the FS or GS base where {@link #segBased} says so.
     * {@link #AM_GENERIC} leaves it to {@code CpuMemory.linear}.
     */
    static final int AM_GENERIC = 0, AM_BASE = 1, AM_BASE_INDEX = 2, AM_INDEX = 3, AM_RIP = 4, AM_ABS = 5;

    static final int REP = 1, REPNE = 2;

    /** A copy of its own: a compiled region keeps the instructions of blocks that may be decoded anew. */
    Insn copy() {
        try {
            return (Insn) super.clone();
        } catch (CloneNotSupportedException e) {
            throw new AssertionError(e);
        }
    }
}

package org.tscvm.cpu;

/**
 * The decoded operation forms: one table feeding the decoder (which picks the form), the
 * dispatch switch (one group method per {@link #group}) and the disassembly text of #UD counts.
 * Families that share a handler carry their variant in {@link Insn#sub} (the ALU kind, the
 * condition code, the shift kind ...), as Bochs does with its opcode ids.
 */
enum Op {
    // ---- integer ALU (group 0) ----
    ALU_EG(0, "alu Ev,Gv", Op.L), ALU_GE(0, "alu Gv,Ev", 0), ALU_EI(0, "alu Ev,I", Op.L),
    TEST_EG(0, "test Ev,Gv", 0), TEST_EI(0, "test Ev,I", 0),
    INC(0, "inc", Op.L), DEC(0, "dec", Op.L), NOT(0, "not", Op.L), NEG(0, "neg", Op.L),
    MUL(0, "mul", 0), IMUL1(0, "imul Ev", 0), DIV(0, "div", 0), IDIV(0, "idiv", 0),
    IMUL_GEI(0, "imul Gv,Ev,I", 0), IMUL_GE(0, "imul Gv,Ev", 0),
    SHIFT_I(0, "shift Ev,I", 0), SHIFT_CL(0, "shift Ev,CL", 0),
    SHLD_I(0, "shld Ev,Gv,I", 0), SHLD_CL(0, "shld Ev,Gv,CL", 0),
    SHRD_I(0, "shrd Ev,Gv,I", 0), SHRD_CL(0, "shrd Ev,Gv,CL", 0),
    BT_EG(0, "bt* Ev,Gv", Op.L), BT_EI(0, "bt* Ev,I", Op.L),
    BSF(0, "bsf", 0), BSR(0, "bsr", 0), TZCNT(0, "tzcnt", 0), LZCNT(0, "lzcnt", 0), POPCNT(0, "popcnt", 0),
    CBW(0, "cbw/cwde/cdqe", 0), CWD(0, "cwd/cdq/cqo", 0),
    SETCC(0, "setcc", 0), CMOVCC(0, "cmovcc", 0),
    CLC(0, "clc", 0), STC(0, "stc", 0), CMC(0, "cmc", 0), CLD(0, "cld", 0), STD(0, "std", 0),
    LAHF(0, "lahf", 0), SAHF(0, "sahf", 0),
    /** DAA, DAS, AAA, AAS, AAM, AAD and SALC (the opcode byte in sub); invalid in 64-bit mode. */
    BCD(0, "daa/das/aaa/aas/aam/aad/salc", 0),
    // ---- data movement (group 1) ----
    MOV_EG(1, "mov Ev,Gv", 0), MOV_GE(1, "mov Gv,Ev", 0), MOV_EI(1, "mov Ev,I", 0),
    MOV_AL_MOFFS(1, "mov eAX,moffs", 0), MOV_MOFFS_AL(1, "mov moffs,eAX", 0),
    MOVZX_B(1, "movzx Gv,Eb", 0), MOVZX_W(1, "movzx Gv,Ew", 0), MOVSX_B(1, "movsx Gv,Eb", 0),
    MOVSX_W(1, "movsx Gv,Ew", 0), MOVSXD(1, "movsxd Gv,Ed", 0),
    LEA(1, "lea", 0), XCHG(1, "xchg Ev,Gv", Op.L), CMPXCHG(1, "cmpxchg", Op.L), XADD(1, "xadd", Op.L),
    BSWAP(1, "bswap", 0), MOVBE_GM(1, "movbe Gv,M", 0), MOVBE_MG(1, "movbe M,Gv", 0),
    CMPXCHG8B(1, "cmpxchg8b/16b", Op.L),
    PUSH_E(1, "push Ev", 0), POP_E(1, "pop Ev", 0), PUSH_I(1, "push I", 0),
    PUSH_SEG(1, "push Sreg", 0), POP_SEG(1, "pop Sreg", Op.E), PUSHF(1, "pushf", 0), POPF(1, "popf", Op.E),
    PUSHA(1, "pusha", 0), POPA(1, "popa", 0), ENTER(1, "enter", 0), LEAVE(1, "leave", 0),
    XLAT(1, "xlat", 0), MOV_SEG_E(1, "mov Sreg,Ew", Op.E), MOV_E_SEG(1, "mov Ew,Sreg", 0),
    LOAD_FAR(1, "lds/les/lfs/lgs/lss", Op.E), NOP(1, "nop", 0), PAUSE(1, "pause", 0), FENCE(1, "fence", 0),
    // ---- control transfer (group 2) ----
    JCC(2, "jcc", 0), JMP_REL(2, "jmp rel", Op.E), CALL_REL(2, "call rel", Op.E), JMP_E(2, "jmp Ev", Op.E),
    CALL_E(2, "call Ev", Op.E), RET(2, "ret", Op.E), RET_FAR(2, "retf", Op.E), JMP_FAR_PTR(2, "jmp ptr16:v", Op.E),
    CALL_FAR_PTR(2, "call ptr16:v", Op.E), JMP_FAR_M(2, "jmp m16:v", Op.E), CALL_FAR_M(2, "call m16:v", Op.E),
    LOOP(2, "loop/loope/loopne", Op.E), JRCXZ(2, "jcxz/jecxz/jrcxz", Op.E),
    INT_N(2, "int n", Op.E), INT3(2, "int3", Op.E), INTO(2, "into", Op.E), INT1(2, "int1", Op.E), IRET(2, "iret", Op.E),
    SYSCALL(2, "syscall", Op.E), SYSRET(2, "sysret", Op.E), SYSENTER(2, "sysenter", Op.E), SYSEXIT(2, "sysexit", Op.E),
    HLT(2, "hlt", Op.E),
    // ---- strings (group 3) ----
    MOVS(3, "movs", Op.E), CMPS(3, "cmps", Op.E), STOS(3, "stos", Op.E), LODS(3, "lods", Op.E), SCAS(3, "scas", Op.E),
    INS(3, "ins", Op.E), OUTS(3, "outs", Op.E),
    // ---- system (group 4) ----
    IN_I(4, "in eAX,Ib", Op.E), IN_DX(4, "in eAX,DX", Op.E), OUT_I(4, "out Ib,eAX", Op.E), OUT_DX(4, "out DX,eAX", Op.E),
    CLI(4, "cli", Op.E), STI(4, "sti", Op.E), LGDT(4, "lgdt", Op.E), LIDT(4, "lidt", Op.E), SGDT(4, "sgdt", 0),
    SIDT(4, "sidt", 0), LLDT(4, "lldt", Op.E), LTR(4, "ltr", Op.E), SLDT(4, "sldt", 0), STR(4, "str", 0),
    SMSW(4, "smsw", 0), LMSW(4, "lmsw", Op.E), INVLPG(4, "invlpg", Op.E), MOV_CR_R(4, "mov CRn,r", Op.E),
    MOV_R_CR(4, "mov r,CRn", 0), MOV_DR_R(4, "mov DRn,r", Op.E), MOV_R_DR(4, "mov r,DRn", 0), CLTS(4, "clts", Op.E),
    WBINVD(4, "wbinvd/invd", Op.E), CLFLUSH(4, "clflush", 0), SWAPGS(4, "swapgs", Op.E),
    // Reads of the TSC and of MSRs change no state a decoded block depends on, so they do not
    // end a block: the rdtsc loop runs as one block per iteration instead of two.
    RDMSR(4, "rdmsr", 0), WRMSR(4, "wrmsr", 0), RDTSC(4, "rdtsc", 0), RDTSCP(4, "rdtscp", 0), RDPID(4, "rdpid", 0),
    CPUID(4, "cpuid", Op.E), VMCALL(4, "vmcall", Op.E), LAR(4, "lar", 0), LSL(4, "lsl", 0), VERR(4, "verr", 0), VERW(4, "verw", 0),
    ARPL(4, "arpl", 0), RDFSBASE(4, "rd/wr fs/gs base", 0), CLAC(4, "clac", 0), STAC(4, "stac", 0),
    FXSAVE(4, "fxsave", 0), FXRSTOR(4, "fxrstor", 0),
    STMXCSR(4, "stmxcsr", 0), LDMXCSR(4, "ldmxcsr", 0),
    // ---- x87 (group 5): one handler each in X87Move, X87Arith, X87Control (dispatch: X87) ----
    FLD_M32(5, "fld m32fp", 0), FLD_M64(5, "fld m64fp", 0), FLD_M80(5, "fld m80fp", 0), FLD_STI(5, "fld st(i)", 0),
    FILD_M16(5, "fild m16int", 0), FILD_M32(5, "fild m32int", 0), FILD_M64(5, "fild m64int", 0),
    FBLD(5, "fbld m80bcd", 0), FBSTP(5, "fbstp m80bcd", 0),
    /** FST and FSTP (sub 1: pop). */
    FST_M32(5, "fst(p) m32fp", 0), FST_M64(5, "fst(p) m64fp", 0), FSTP_M80(5, "fstp m80fp", 0),
    FST_STI(5, "fst(p) st(i)", 0),
    FIST_M16(5, "fist(p) m16int", 0), FIST_M32(5, "fist(p) m32int", 0), FISTP_M64(5, "fistp m64int", 0),
    FISTTP_M16(5, "fisttp m16int", 0), FISTTP_M32(5, "fisttp m32int", 0), FISTTP_M64(5, "fisttp m64int", 0),
    FXCH(5, "fxch st(i)", 0), FCMOV(5, "fcmovcc st,st(i)", 0), FFREE(5, "ffree(p) st(i)", 0),
    FINCSTP(5, "fincstp", 0), FDECSTP(5, "fdecstp", 0), FNOP(5, "fnop", 0),
    /** FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ (sub 0-6). */
    FLDCONST(5, "fld1/fldl2t/fldl2e/fldpi/fldlg2/fldln2/fldz", 0),
    /** Arithmetic: sub is the kind, 0 add, 1 mul, 4 sub (dst - src), 5 subr (src - dst), 6 div, 7 divr. */
    FARITH_M32(5, "fadd/fmul/fsub(r)/fdiv(r) m32fp", 0), FARITH_M64(5, "fadd/fmul/fsub(r)/fdiv(r) m64fp", 0),
    FIARITH_M16(5, "fiadd/fimul/fisub(r)/fidiv(r) m16int", 0), FIARITH_M32(5, "fiadd/fimul/fisub(r)/fidiv(r) m32int", 0),
    FARITH_ST0_STI(5, "fadd/fmul/fsub(r)/fdiv(r) st,st(i)", 0), FARITH_STI_ST0(5, "fadd/fmul/fsub(r)/fdiv(r) st(i),st", 0),
    FARITHP(5, "faddp/fmulp/fsub(r)p/fdiv(r)p st(i),st", 0),
    /** Compares: sub bit 0 pops once, bit 1 is the unordered (FUCOM) form. */
    FCOM_M32(5, "fcom(p) m32fp", 0), FCOM_M64(5, "fcom(p) m64fp", 0),
    FICOM_M16(5, "ficom(p) m16int", 0), FICOM_M32(5, "ficom(p) m32int", 0),
    FCOM_STI(5, "f(u)com(p) st(i)", 0), FCOMPP(5, "f(u)compp", 0), FCOMI(5, "f(u)comi(p) st,st(i)", 0),
    FTST(5, "ftst", 0), FXAM(5, "fxam", 0),
    FCHS(5, "fchs", 0), FABS(5, "fabs", 0), FSQRT(5, "fsqrt", 0), FSCALE(5, "fscale", 0), FXTRACT(5, "fxtract", 0),
    FPREM(5, "fprem", 0), FPREM1(5, "fprem1", 0), FRNDINT(5, "frndint", 0),
    F2XM1(5, "f2xm1", 0), FYL2X(5, "fyl2x", 0), FYL2XP1(5, "fyl2xp1", 0), FPTAN(5, "fptan", 0),
    FPATAN(5, "fpatan", 0), FSIN(5, "fsin", 0), FCOS(5, "fcos", 0), FSINCOS(5, "fsincos", 0),
    FLDENV(5, "fldenv", 0), FNSTENV(5, "fnstenv", 0), FRSTOR(5, "frstor", 0), FNSAVE(5, "fnsave", 0),
    FNINIT(5, "fninit", 0), FNCLEX(5, "fnclex", 0), FNSTCW(5, "fnstcw", 0), FLDCW(5, "fldcw", 0),
    FNSTSW_M(5, "fnstsw m16", 0), FNSTSW_AX(5, "fnstsw ax", 0), FWAIT(5, "fwait", 0),
    /** #UD: either deliberate (ud0/ud1/ud2) or an opcode tscvm does not implement (counted). */
    UD(4, "#UD", Op.E),
    /** An instruction longer than 15 bytes: #GP(0). */
    TOO_LONG(4, "too long", Op.E);

    /**
     * Ends a decoded block: a control transfer or a change of mode, privilege or translation.
     * Jcc does not: a block goes on along its fall-through path, and the run loop leaves the
     * block wherever RIP leaves the sequence (a taken Jcc is a side exit).
     */
    static final int E = 1;
    /** A LOCK prefix is allowed when the destination is memory. */
    static final int L = 2;

    static final Op[] VALUES = values();

    final int group;
    final String text;
    final boolean endsBlock;
    final boolean lockable;

    Op(int group, String text, int flags) {
        this.group = group;
        this.text = text;
        this.endsBlock = (flags & E) != 0;
        this.lockable = (flags & L) != 0;
    }
}

package org.tscvm.cpu;

/**
 * The instruction forms, one row each, as a row of Bochs' {@code ia_opcodes.def}: what the
 * decoder picks ({@link Decoder}, and for SSE and x87 the keys here), the flags the run loop and
 * the block compiler go by (ends a block, lockable, reads or writes the arithmetic flags, can
 * never fault), the operand {@link Shape}, the disassembly text of #UD counts, and the form's one
 * handler, a static method named after the row, which the interpreter ({@link Dispatch}) and
 * compiled blocks both call.
 * Families that share a handler carry their variant in {@link Insn#sub} (the ALU kind, the
 * condition code, the shift kind ...), as Bochs does with its opcode ids. The commonest 32- and
 * 64-bit integer forms have rows of their own (ADD_R_R ...), which the decoder picks in place of
 * their family's row when no prefix changes them.
 */
enum Op {
    // ---- integer ALU (group 0): handlers in IntAlu ----
    ALU_EG(0, "alu Ev,Gv", Op.L | Op.RF | Op.WF, Shape.E_G, IntAlu.class),
    ALU_GE(0, "alu Gv,Ev", Op.RF | Op.WF, Shape.G_E, IntAlu.class),
    ALU_EI(0, "alu Ev,I", Op.L | Op.RF | Op.WF, Shape.E_I, IntAlu.class),
    TEST_EG(0, "test Ev,Gv", Op.WF, Shape.E_G, IntAlu.class),
    TEST_EI(0, "test Ev,I", Op.WF, Shape.E_I, IntAlu.class),
    INC(0, "inc", Op.L | Op.WF, Shape.E, IntAlu.class), DEC(0, "dec", Op.L | Op.WF, Shape.E, IntAlu.class),
    NOT(0, "not", Op.L, Shape.E, IntAlu.class), NEG(0, "neg", Op.L | Op.WF, Shape.E, IntAlu.class),
    MUL(0, "mul", Op.WF, Shape.E, IntAlu.class), IMUL1(0, "imul Ev", Op.WF, Shape.E, IntAlu.class),
    /** DIV and IDIV leave the flags as they were (the SDM: undefined). */
    DIV(0, "div", 0, Shape.E, IntAlu.class), IDIV(0, "idiv", 0, Shape.E, IntAlu.class),
    IMUL_GEI(0, "imul Gv,Ev,I", Op.WF, Shape.G_E_I, IntAlu.class),
    IMUL_GE(0, "imul Gv,Ev", Op.WF, Shape.G_E, IntAlu.class),
    /** A zero count leaves the flags; RCL and RCR read CF. */
    SHIFT_I(0, "shift Ev,I", Op.RF | Op.WF, Shape.E_I, IntAlu.class),
    SHIFT_CL(0, "shift Ev,CL", Op.RF | Op.WF, Shape.E, IntAlu.class),
    SHLD_I(0, "shld Ev,Gv,I", Op.WF, Shape.E_G_I, IntAlu.class), SHLD_CL(0, "shld Ev,Gv,CL", Op.WF, Shape.E_G, IntAlu.class),
    SHRD_I(0, "shrd Ev,Gv,I", Op.WF, Shape.E_G_I, IntAlu.class), SHRD_CL(0, "shrd Ev,Gv,CL", Op.WF, Shape.E_G, IntAlu.class),
    BT_EG(0, "bt* Ev,Gv", Op.L | Op.WF, Shape.E_G, IntAlu.class), BT_EI(0, "bt* Ev,I", Op.L | Op.WF, Shape.E_I, IntAlu.class),
    BSF(0, "bsf", Op.WF, Shape.G_E, IntAlu.class), BSR(0, "bsr", Op.WF, Shape.G_E, IntAlu.class),
    TZCNT(0, "tzcnt", Op.WF, Shape.G_E, IntAlu.class), LZCNT(0, "lzcnt", Op.WF, Shape.G_E, IntAlu.class),
    POPCNT(0, "popcnt", Op.WF, Shape.G_E, IntAlu.class),
    CBW(0, "cbw/cwde/cdqe", Op.NF, Shape.NONE, IntAlu.class), CWD(0, "cwd/cdq/cqo", Op.NF, Shape.NONE, IntAlu.class),
    SETCC(0, "setcc", Op.RF, Shape.E, IntAlu.class), CMOVCC(0, "cmovcc", Op.RF, Shape.G_E, IntAlu.class),
    CLC(0, "clc", Op.WF | Op.NF, Shape.NONE, IntAlu.class), STC(0, "stc", Op.WF | Op.NF, Shape.NONE, IntAlu.class),
    CMC(0, "cmc", Op.WF | Op.NF, Shape.NONE, IntAlu.class),
    CLD(0, "cld", Op.NF, Shape.NONE, IntAlu.class), STD(0, "std", Op.NF, Shape.NONE, IntAlu.class),
    LAHF(0, "lahf", Op.RF | Op.NF, Shape.NONE, IntAlu.class), SAHF(0, "sahf", Op.WF | Op.NF, Shape.NONE, IntAlu.class),
    /** DAA, DAS, AAA, AAS, AAM, AAD and SALC (the opcode byte in sub); invalid in 64-bit mode. */
    BCD(0, "daa/das/aaa/aas/aam/aad/salc", Op.RF | Op.WF, Shape.IMM, IntAlu.class),
    // The 32- and 64-bit forms of the commonest ALU instructions without LOCK or REP, operands
    // resolved at decode time (Insn.fa, fb, fimm, fmask, famode): the decoder picks them in
    // place of their family's row, so no ALU-kind, size or register-or-memory test is left.
    ADD_R_R(ALU_EG, "add r,r", Op.WF | Op.NF, Shape.R_R, IntAlu.class),
    OR_R_R(ALU_EG, "or r,r", Op.WF | Op.NF, Shape.R_R, IntAlu.class),
    AND_R_R(ALU_EG, "and r,r", Op.WF | Op.NF, Shape.R_R, IntAlu.class),
    SUB_R_R(ALU_EG, "sub r,r", Op.WF | Op.NF, Shape.R_R, IntAlu.class),
    XOR_R_R(ALU_EG, "xor r,r", Op.WF | Op.NF, Shape.R_R, IntAlu.class),
    CMP_R_R(ALU_EG, "cmp r,r", Op.WF | Op.NF, Shape.R_R, IntAlu.class),
    TEST_R_R(TEST_EG, "test r,r", Op.WF | Op.NF, Shape.R_R, IntAlu.class),
    ADD_R_I(ALU_EI, "add r,imm", Op.WF | Op.NF, Shape.R_I, IntAlu.class),
    OR_R_I(ALU_EI, "or r,imm", Op.WF | Op.NF, Shape.R_I, IntAlu.class),
    AND_R_I(ALU_EI, "and r,imm", Op.WF | Op.NF, Shape.R_I, IntAlu.class),
    SUB_R_I(ALU_EI, "sub r,imm", Op.WF | Op.NF, Shape.R_I, IntAlu.class),
    XOR_R_I(ALU_EI, "xor r,imm", Op.WF | Op.NF, Shape.R_I, IntAlu.class),
    CMP_R_I(ALU_EI, "cmp r,imm", Op.WF | Op.NF, Shape.R_I, IntAlu.class),
    TEST_R_I(TEST_EI, "test r,imm", Op.WF | Op.NF, Shape.R_I, IntAlu.class),
    ADD_R_M(ALU_GE, "add r,m", Op.WF, Shape.R_M, IntAlu.class),
    OR_R_M(ALU_GE, "or r,m", Op.WF, Shape.R_M, IntAlu.class),
    AND_R_M(ALU_GE, "and r,m", Op.WF, Shape.R_M, IntAlu.class),
    SUB_R_M(ALU_GE, "sub r,m", Op.WF, Shape.R_M, IntAlu.class),
    XOR_R_M(ALU_GE, "xor r,m", Op.WF, Shape.R_M, IntAlu.class),
    CMP_R_M(ALU_GE, "cmp r,m", Op.WF, Shape.R_M, IntAlu.class),
    CMP_M_I(ALU_EI, "cmp m,imm", Op.WF, Shape.M_I, IntAlu.class),
    CMP_M_R(ALU_EG, "cmp m,r", Op.WF, Shape.M_R, IntAlu.class),
    // ---- data movement (group 1): handlers in IntMove ----
    MOV_EG(1, "mov Ev,Gv", 0, Shape.E_G, IntMove.class), MOV_GE(1, "mov Gv,Ev", 0, Shape.G_E, IntMove.class),
    MOV_EI(1, "mov Ev,I", 0, Shape.E_I, IntMove.class),
    MOV_AL_MOFFS(1, "mov eAX,moffs", 0, Shape.M, IntMove.class),
    MOV_MOFFS_AL(1, "mov moffs,eAX", 0, Shape.M, IntMove.class),
    MOVZX_B(1, "movzx Gv,Eb", 0, Shape.G_E, IntMove.class), MOVZX_W(1, "movzx Gv,Ew", 0, Shape.G_E, IntMove.class),
    MOVSX_B(1, "movsx Gv,Eb", 0, Shape.G_E, IntMove.class), MOVSX_W(1, "movsx Gv,Ew", 0, Shape.G_E, IntMove.class),
    MOVSXD(1, "movsxd Gv,Ed", 0, Shape.G_E, IntMove.class),
    LEA(1, "lea", Op.NF, Shape.G_E, IntMove.class), XCHG(1, "xchg Ev,Gv", Op.L, Shape.E_G, IntMove.class),
    CMPXCHG(1, "cmpxchg", Op.L | Op.WF, Shape.E_G, IntMove.class), XADD(1, "xadd", Op.L | Op.WF, Shape.E_G, IntMove.class),
    BSWAP(1, "bswap", Op.NF, Shape.E, IntMove.class),
    MOVBE_GM(1, "movbe Gv,M", 0, Shape.G_E, IntMove.class), MOVBE_MG(1, "movbe M,Gv", 0, Shape.E_G, IntMove.class),
    CMPXCHG8B(1, "cmpxchg8b/16b", Op.L | Op.WF, Shape.M, IntMove.class),
    PUSH_E(1, "push Ev", 0, Shape.E, IntMove.class), POP_E(1, "pop Ev", 0, Shape.E, IntMove.class),
    PUSH_I(1, "push I", 0, Shape.IMM, IntMove.class),
    PUSH_SEG(1, "push Sreg", 0, Shape.NONE, IntMove.class), POP_SEG(1, "pop Sreg", Op.E, Shape.NONE, IntMove.class),
    PUSHF(1, "pushf", Op.RF, Shape.NONE, IntMove.class), POPF(1, "popf", Op.E | Op.WF, Shape.NONE, IntMove.class),
    PUSHA(1, "pusha", 0, Shape.NONE, IntMove.class), POPA(1, "popa", 0, Shape.NONE, IntMove.class),
    ENTER(1, "enter", 0, Shape.IMM, IntMove.class), LEAVE(1, "leave", 0, Shape.NONE, IntMove.class),
    XLAT(1, "xlat", 0, Shape.NONE, IntMove.class), MOV_SEG_E(1, "mov Sreg,Ew", Op.E, Shape.E, IntMove.class),
    MOV_E_SEG(1, "mov Ew,Sreg", 0, Shape.E, IntMove.class),
    LOAD_FAR(1, "lds/les/lfs/lgs/lss", Op.E, Shape.G_E, IntMove.class),
    NOP(1, "nop", Op.NF, Shape.NONE, IntMove.class), PAUSE(1, "pause", Op.NF, Shape.NONE, IntMove.class),
    FENCE(1, "fence", Op.NF, Shape.NONE, IntMove.class),
    // The 32- and 64-bit MOV forms without LOCK or REP, operands resolved at decode time.
    MOV_R_R(MOV_EG, "mov r,r", Op.NF, Shape.R_R, IntMove.class),
    MOV_R_I(MOV_EI, "mov r,imm", Op.NF, Shape.R_I, IntMove.class),
    MOV_R_M(MOV_GE, "mov r,m", 0, Shape.R_M, IntMove.class),
    MOV_M_R(MOV_EG, "mov m,r", 0, Shape.M_R, IntMove.class),
    MOV_M_I(MOV_EI, "mov m,imm", 0, Shape.M_I, IntMove.class),
    // ---- control transfer (group 2): handlers in Branch, SystemCalls (and HLT in SystemOps) ----
    JCC(2, "jcc", Op.RF, Shape.REL, Branch.class), JMP_REL(2, "jmp rel", Op.E, Shape.REL, Branch.class),
    CALL_REL(2, "call rel", Op.E, Shape.REL, Branch.class), JMP_E(2, "jmp Ev", Op.E, Shape.E, Branch.class),
    CALL_E(2, "call Ev", Op.E, Shape.E, Branch.class), RET(2, "ret", Op.E, Shape.IMM, Branch.class),
    RET_FAR(2, "retf", Op.E, Shape.IMM, Branch.class),
    JMP_FAR_PTR(2, "jmp ptr16:v", Op.E, Shape.IMM, Branch.class),
    CALL_FAR_PTR(2, "call ptr16:v", Op.E, Shape.IMM, Branch.class),
    JMP_FAR_M(2, "jmp m16:v", Op.E, Shape.M, Branch.class), CALL_FAR_M(2, "call m16:v", Op.E, Shape.M, Branch.class),
    LOOP(2, "loop/loope/loopne", Op.E | Op.RF, Shape.REL, Branch.class),
    JRCXZ(2, "jcxz/jecxz/jrcxz", Op.E, Shape.REL, Branch.class),
    INT_N(2, "int n", Op.E | Op.RF, Shape.IMM, SystemCalls.class), INT3(2, "int3", Op.E | Op.RF, Shape.NONE, SystemCalls.class),
    INTO(2, "into", Op.E | Op.RF, Shape.NONE, SystemCalls.class), INT1(2, "int1", Op.E | Op.RF, Shape.NONE, SystemCalls.class),
    IRET(2, "iret", Op.E | Op.WF, Shape.NONE, SystemCalls.class),
    SYSCALL(2, "syscall", Op.E | Op.RF | Op.WF, Shape.NONE, SystemCalls.class),
    SYSRET(2, "sysret", Op.E | Op.WF, Shape.NONE, SystemCalls.class),
    SYSENTER(2, "sysenter", Op.E | Op.WF, Shape.NONE, SystemCalls.class),
    SYSEXIT(2, "sysexit", Op.E, Shape.NONE, SystemCalls.class),
    HLT(2, "hlt", Op.E, Shape.NONE, SystemOps.class),
    // ---- strings (group 3): handlers in StringOps ----
    MOVS(3, "movs", Op.E, Shape.STRING, StringOps.class), CMPS(3, "cmps", Op.E | Op.WF, Shape.STRING, StringOps.class),
    STOS(3, "stos", Op.E, Shape.STRING, StringOps.class), LODS(3, "lods", Op.E, Shape.STRING, StringOps.class),
    SCAS(3, "scas", Op.E | Op.WF, Shape.STRING, StringOps.class),
    INS(3, "ins", Op.E, Shape.STRING, StringOps.class), OUTS(3, "outs", Op.E, Shape.STRING, StringOps.class),
    // ---- system (group 4): handlers in SystemOps ----
    IN_I(4, "in eAX,Ib", Op.E, Shape.IMM, SystemOps.class), IN_DX(4, "in eAX,DX", Op.E, Shape.NONE, SystemOps.class),
    OUT_I(4, "out Ib,eAX", Op.E, Shape.IMM, SystemOps.class), OUT_DX(4, "out DX,eAX", Op.E, Shape.NONE, SystemOps.class),
    CLI(4, "cli", Op.E, Shape.NONE, SystemOps.class), STI(4, "sti", Op.E, Shape.NONE, SystemOps.class),
    LGDT(4, "lgdt", Op.E, Shape.M, SystemOps.class), LIDT(4, "lidt", Op.E, Shape.M, SystemOps.class),
    SGDT(4, "sgdt", 0, Shape.M, SystemOps.class), SIDT(4, "sidt", 0, Shape.M, SystemOps.class),
    LLDT(4, "lldt", Op.E, Shape.E, SystemOps.class), LTR(4, "ltr", Op.E, Shape.E, SystemOps.class),
    SLDT(4, "sldt", 0, Shape.E, SystemOps.class), STR(4, "str", 0, Shape.E, SystemOps.class),
    SMSW(4, "smsw", 0, Shape.E, SystemOps.class), LMSW(4, "lmsw", Op.E, Shape.E, SystemOps.class),
    INVLPG(4, "invlpg", Op.E, Shape.M, SystemOps.class), MOV_CR_R(4, "mov CRn,r", Op.E, Shape.E, SystemOps.class),
    MOV_R_CR(4, "mov r,CRn", 0, Shape.E, SystemOps.class), MOV_DR_R(4, "mov DRn,r", Op.E, Shape.E, SystemOps.class),
    MOV_R_DR(4, "mov r,DRn", 0, Shape.E, SystemOps.class), CLTS(4, "clts", Op.E, Shape.NONE, SystemOps.class),
    WBINVD(4, "wbinvd/invd", Op.E, Shape.NONE, SystemOps.class), CLFLUSH(4, "clflush", 0, Shape.M, SystemOps.class),
    CLFLUSHOPT(4, "clflushopt", 0, Shape.M, SystemOps.class), CLWB(4, "clwb", 0, Shape.M, SystemOps.class),
    SWAPGS(4, "swapgs", Op.E, Shape.NONE, SystemOps.class),
    // Reads of the TSC and of MSRs change no state a decoded block depends on, so they do not
    // end a block: the rdtsc loop runs as one block per iteration instead of two.
    RDMSR(4, "rdmsr", 0, Shape.NONE, SystemOps.class), WRMSR(4, "wrmsr", 0, Shape.NONE, SystemOps.class),
    RDTSC(4, "rdtsc", 0, Shape.NONE, SystemOps.class), RDTSCP(4, "rdtscp", 0, Shape.NONE, SystemOps.class),
    RDPID(4, "rdpid", 0, Shape.E, SystemOps.class), RDPMC(4, "rdpmc", 0, Shape.NONE, SystemOps.class),
    CPUID(4, "cpuid", Op.E, Shape.NONE, SystemOps.class), VMCALL(4, "vmcall", Op.E, Shape.NONE, SystemOps.class),
    LAR(4, "lar", Op.WF, Shape.G_E, SystemOps.class), LSL(4, "lsl", Op.WF, Shape.G_E, SystemOps.class),
    VERR(4, "verr", Op.WF, Shape.E, SystemOps.class), VERW(4, "verw", Op.WF, Shape.E, SystemOps.class),
    ARPL(4, "arpl", Op.WF, Shape.E_G, SystemOps.class), RDFSBASE(4, "rd/wr fs/gs base", 0, Shape.E, SystemOps.class),
    CLAC(4, "clac", 0, Shape.NONE, SystemOps.class), STAC(4, "stac", 0, Shape.NONE, SystemOps.class),
    RDPKRU(4, "rdpkru", 0, Shape.NONE, SystemOps.class), WRPKRU(4, "wrpkru", Op.E, Shape.NONE, SystemOps.class),
    FXSAVE(4, "fxsave", 0, Shape.M, SystemOps.class), FXRSTOR(4, "fxrstor", 0, Shape.M, SystemOps.class),
    XSAVE(4, "xsave", 0, Shape.M, SystemOps.class), XRSTOR(4, "xrstor", 0, Shape.M, SystemOps.class),
    XSAVEOPT(4, "xsaveopt", 0, Shape.M, SystemOps.class),
    XSAVEC(4, "xsavec", 0, Shape.M, SystemOps.class), XSAVES(4, "xsaves", 0, Shape.M, SystemOps.class),
    XRSTORS(4, "xrstors", 0, Shape.M, SystemOps.class),
    XGETBV(4, "xgetbv", 0, Shape.NONE, SystemOps.class), XSETBV(4, "xsetbv", Op.E, Shape.NONE, SystemOps.class),
    STMXCSR(4, "stmxcsr", 0, Shape.M, SystemOps.class), LDMXCSR(4, "ldmxcsr", 0, Shape.M, SystemOps.class),
    // ---- restricted transactional memory (group 4): handlers in Rtm ----
    XBEGIN(4, "xbegin", Op.E, Shape.IMM, Rtm.class), XEND(4, "xend", Op.E, Shape.NONE, Rtm.class),
    XABORT(4, "xabort", Op.E, Shape.IMM, Rtm.class), XTEST(4, "xtest", Op.WF, Shape.NONE, Rtm.class),
    // ---- control-flow enforcement (group 4): handlers in Cet ----
    /** ENDBR64 (sub 64) and ENDBR32 (sub 32): hint NOPs that end an IBT wait. */
    ENDBR(4, "endbr32/64", Op.NF, Shape.NONE, Cet.class),
    /** RDSSP stays a NOP while shadow stacks are off; the others are #UD then. */
    RDSSP(4, "rdssp", 0, Shape.E, Cet.class), INCSSP(4, "incssp", 0, Shape.E, Cet.class),
    RSTORSSP(4, "rstorssp", Op.WF, Shape.M, Cet.class), SAVEPREVSSP(4, "saveprevssp", Op.RF, Shape.NONE, Cet.class),
    WRSS(4, "wrss", 0, Shape.E_G, Cet.class), WRUSS(4, "wruss", 0, Shape.E_G, Cet.class),
    SETSSBSY(4, "setssbsy", 0, Shape.NONE, Cet.class), CLRSSBSY(4, "clrssbsy", Op.WF, Shape.M, Cet.class),
    // ---- x87 (group 6): one handler each in X87Move, X87Arith, X87Control (dispatch: X87) ----
    FLD_M32(6, "fld m32fp", 0), FLD_M64(6, "fld m64fp", 0), FLD_M80(6, "fld m80fp", 0), FLD_STI(6, "fld st(i)", 0),
    FILD_M16(6, "fild m16int", 0), FILD_M32(6, "fild m32int", 0), FILD_M64(6, "fild m64int", 0),
    FBLD(6, "fbld m80bcd", 0), FBSTP(6, "fbstp m80bcd", 0),
    /** FST and FSTP (sub 1: pop). */
    FST_M32(6, "fst(p) m32fp", 0), FST_M64(6, "fst(p) m64fp", 0), FSTP_M80(6, "fstp m80fp", 0),
    FST_STI(6, "fst(p) st(i)", 0),
    FIST_M16(6, "fist(p) m16int", 0), FIST_M32(6, "fist(p) m32int", 0), FISTP_M64(6, "fistp m64int", 0),
    FISTTP_M16(6, "fisttp m16int", 0), FISTTP_M32(6, "fisttp m32int", 0), FISTTP_M64(6, "fisttp m64int", 0),
    FXCH(6, "fxch st(i)", 0), FCMOV(6, "fcmovcc st,st(i)", 0), FFREE(6, "ffree(p) st(i)", 0),
    FINCSTP(6, "fincstp", 0), FDECSTP(6, "fdecstp", 0), FNOP(6, "fnop", 0),
    /** FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ (sub 0-6). */
    FLDCONST(6, "fld1/fldl2t/fldl2e/fldpi/fldlg2/fldln2/fldz", 0),
    /** Arithmetic: sub is the kind, 0 add, 1 mul, 4 sub (dst - src), 5 subr (src - dst), 6 div, 7 divr. */
    FARITH_M32(6, "fadd/fmul/fsub(r)/fdiv(r) m32fp", 0), FARITH_M64(6, "fadd/fmul/fsub(r)/fdiv(r) m64fp", 0),
    FIARITH_M16(6, "fiadd/fimul/fisub(r)/fidiv(r) m16int", 0), FIARITH_M32(6, "fiadd/fimul/fisub(r)/fidiv(r) m32int", 0),
    FARITH_ST0_STI(6, "fadd/fmul/fsub(r)/fdiv(r) st,st(i)", 0), FARITH_STI_ST0(6, "fadd/fmul/fsub(r)/fdiv(r) st(i),st", 0),
    FARITHP(6, "faddp/fmulp/fsub(r)p/fdiv(r)p st(i),st", 0),
    /** Compares: sub bit 0 pops once, bit 1 is the unordered (FUCOM) form. */
    FCOM_M32(6, "fcom(p) m32fp", 0), FCOM_M64(6, "fcom(p) m64fp", 0),
    FICOM_M16(6, "ficom(p) m16int", 0), FICOM_M32(6, "ficom(p) m32int", 0),
    FCOM_STI(6, "f(u)com(p) st(i)", 0), FCOMPP(6, "f(u)compp", 0), FCOMI(6, "f(u)comi(p) st,st(i)", 0),
    FTST(6, "ftst", 0), FXAM(6, "fxam", 0),
    FCHS(6, "fchs", 0), FABS(6, "fabs", 0), FSQRT(6, "fsqrt", 0), FSCALE(6, "fscale", 0), FXTRACT(6, "fxtract", 0),
    FPREM(6, "fprem", 0), FPREM1(6, "fprem1", 0), FRNDINT(6, "frndint", 0),
    F2XM1(6, "f2xm1", 0), FYL2X(6, "fyl2x", 0), FYL2XP1(6, "fyl2xp1", 0), FPTAN(6, "fptan", 0),
    FPATAN(6, "fpatan", 0), FSIN(6, "fsin", 0), FCOS(6, "fcos", 0), FSINCOS(6, "fsincos", 0),
    FLDENV(6, "fldenv", 0), FNSTENV(6, "fnstenv", 0), FRSTOR(6, "frstor", 0), FNSAVE(6, "fnsave", 0),
    FNINIT(6, "fninit", 0), FNCLEX(6, "fnclex", 0), FNSTCW(6, "fnstcw", 0), FLDCW(6, "fldcw", 0),
    FNSTSW_M(6, "fnstsw m16", 0), FNSTSW_AX(6, "fnstsw ax", 0), FWAIT(6, "fwait", 0),
    // ---- SSE and SSE2 (group 5): prefix (0 none, 1 66, 2 F3, 3 F2), 0F opcode, ModRM.reg digit or -1 ----
    MOVUPS_VW(0, 0x10, -1, "movups xmm, xmm/m128", 0),
    MOVUPS_WV(0, 0x11, -1, "movups xmm/m128, xmm", 0),
    MOVUPD_VW(1, 0x10, -1, "movupd xmm, xmm/m128", 0),
    MOVUPD_WV(1, 0x11, -1, "movupd xmm/m128, xmm", 0),
    MOVSS_VW(2, 0x10, -1, "movss xmm, xmm/m32", 0),
    MOVSS_WV(2, 0x11, -1, "movss xmm/m32, xmm", 0),
    MOVSD_VW(3, 0x10, -1, "movsd xmm, xmm/m64", 0),
    MOVSD_WV(3, 0x11, -1, "movsd xmm/m64, xmm", 0),
    MOVHLPS(0, 0x12, -1, "movhlps xmm, xmm", Op.R),
    MOVLPS_VM(0, 0x12, -1, "movlps xmm, m64", Op.M),
    MOVLPD_VM(1, 0x12, -1, "movlpd xmm, m64", Op.M),
    MOVLPS_MV(0, 0x13, -1, "movlps m64, xmm", Op.M),
    MOVLPD_MV(1, 0x13, -1, "movlpd m64, xmm", Op.M),
    MOVLHPS(0, 0x16, -1, "movlhps xmm, xmm", Op.R),
    MOVHPS_VM(0, 0x16, -1, "movhps xmm, m64", Op.M),
    MOVHPD_VM(1, 0x16, -1, "movhpd xmm, m64", Op.M),
    MOVHPS_MV(0, 0x17, -1, "movhps m64, xmm", Op.M),
    MOVHPD_MV(1, 0x17, -1, "movhpd m64, xmm", Op.M),
    MOVAPS_VW(0, 0x28, -1, "movaps xmm, xmm/m128", Op.A),
    MOVAPS_WV(0, 0x29, -1, "movaps xmm/m128, xmm", Op.A),
    MOVAPD_VW(1, 0x28, -1, "movapd xmm, xmm/m128", Op.A),
    MOVAPD_WV(1, 0x29, -1, "movapd xmm/m128, xmm", Op.A),
    MOVNTPS(0, 0x2b, -1, "movntps m128, xmm", Op.M | Op.A),
    MOVNTPD(1, 0x2b, -1, "movntpd m128, xmm", Op.M | Op.A),
    MOVNTDQ(1, 0xe7, -1, "movntdq m128, xmm", Op.M | Op.A),
    MOVMSKPS(0, 0x50, -1, "movmskps r32, xmm", Op.R),
    MOVMSKPD(1, 0x50, -1, "movmskpd r32, xmm", Op.R),
    MOVD_VE(1, 0x6e, -1, "movd/movq xmm, r/m32/64", 0),
    MOVD_EV(1, 0x7e, -1, "movd/movq r/m32/64, xmm", 0),
    MOVQ_VW(2, 0x7e, -1, "movq xmm, xmm/m64", 0),
    MOVQ_WV(1, 0xd6, -1, "movq xmm/m64, xmm", 0),
    MOVDQA_VW(1, 0x6f, -1, "movdqa xmm, xmm/m128", Op.A),
    MOVDQA_WV(1, 0x7f, -1, "movdqa xmm/m128, xmm", Op.A),
    MOVDQU_VW(2, 0x6f, -1, "movdqu xmm, xmm/m128", 0),
    MOVDQU_WV(2, 0x7f, -1, "movdqu xmm/m128, xmm", 0),
    PMOVMSKB(1, 0xd7, -1, "pmovmskb r32, xmm", Op.R),
    MASKMOVDQU(1, 0xf7, -1, "maskmovdqu xmm, xmm", Op.R),
    PINSRW(1, 0xc4, -1, "pinsrw xmm, r32/m16, imm8", Op.I),
    PEXTRW(1, 0xc5, -1, "pextrw r32, xmm, imm8", Op.R | Op.I),
    UNPCKLPS(0, 0x14, -1, "unpcklps xmm, xmm/m128", Op.A),
    UNPCKLPD(1, 0x14, -1, "unpcklpd xmm, xmm/m128", Op.A),
    UNPCKHPS(0, 0x15, -1, "unpckhps xmm, xmm/m128", Op.A),
    UNPCKHPD(1, 0x15, -1, "unpckhpd xmm, xmm/m128", Op.A),
    SHUFPS(0, 0xc6, -1, "shufps xmm, xmm/m128, imm8", Op.A | Op.I),
    SHUFPD(1, 0xc6, -1, "shufpd xmm, xmm/m128, imm8", Op.A | Op.I),
    PSHUFD(1, 0x70, -1, "pshufd xmm, xmm/m128, imm8", Op.A | Op.I),
    PSHUFHW(2, 0x70, -1, "pshufhw xmm, xmm/m128, imm8", Op.A | Op.I),
    PSHUFLW(3, 0x70, -1, "pshuflw xmm, xmm/m128, imm8", Op.A | Op.I),
    PUNPCKLBW(1, 0x60, -1, "punpcklbw xmm, xmm/m128", Op.A),
    PUNPCKLWD(1, 0x61, -1, "punpcklwd xmm, xmm/m128", Op.A),
    PUNPCKLDQ(1, 0x62, -1, "punpckldq xmm, xmm/m128", Op.A),
    PACKSSWB(1, 0x63, -1, "packsswb xmm, xmm/m128", Op.A),
    PACKUSWB(1, 0x67, -1, "packuswb xmm, xmm/m128", Op.A),
    PUNPCKHBW(1, 0x68, -1, "punpckhbw xmm, xmm/m128", Op.A),
    PUNPCKHWD(1, 0x69, -1, "punpckhwd xmm, xmm/m128", Op.A),
    PUNPCKHDQ(1, 0x6a, -1, "punpckhdq xmm, xmm/m128", Op.A),
    PACKSSDW(1, 0x6b, -1, "packssdw xmm, xmm/m128", Op.A),
    PUNPCKLQDQ(1, 0x6c, -1, "punpcklqdq xmm, xmm/m128", Op.A),
    PUNPCKHQDQ(1, 0x6d, -1, "punpckhqdq xmm, xmm/m128", Op.A),
    PCMPGTB(1, 0x64, -1, "pcmpgtb xmm, xmm/m128", Op.A),
    PCMPGTW(1, 0x65, -1, "pcmpgtw xmm, xmm/m128", Op.A),
    PCMPGTD(1, 0x66, -1, "pcmpgtd xmm, xmm/m128", Op.A),
    PCMPEQB(1, 0x74, -1, "pcmpeqb xmm, xmm/m128", Op.A),
    PCMPEQW(1, 0x75, -1, "pcmpeqw xmm, xmm/m128", Op.A),
    PCMPEQD(1, 0x76, -1, "pcmpeqd xmm, xmm/m128", Op.A),
    PADDQ(1, 0xd4, -1, "paddq xmm, xmm/m128", Op.A),
    PMULLW(1, 0xd5, -1, "pmullw xmm, xmm/m128", Op.A),
    PSUBUSB(1, 0xd8, -1, "psubusb xmm, xmm/m128", Op.A),
    PSUBUSW(1, 0xd9, -1, "psubusw xmm, xmm/m128", Op.A),
    PMINUB(1, 0xda, -1, "pminub xmm, xmm/m128", Op.A),
    PAND(1, 0xdb, -1, "pand xmm, xmm/m128", Op.A),
    PADDUSB(1, 0xdc, -1, "paddusb xmm, xmm/m128", Op.A),
    PADDUSW(1, 0xdd, -1, "paddusw xmm, xmm/m128", Op.A),
    PMAXUB(1, 0xde, -1, "pmaxub xmm, xmm/m128", Op.A),
    PANDN(1, 0xdf, -1, "pandn xmm, xmm/m128", Op.A),
    PAVGB(1, 0xe0, -1, "pavgb xmm, xmm/m128", Op.A),
    PAVGW(1, 0xe3, -1, "pavgw xmm, xmm/m128", Op.A),
    PMULHUW(1, 0xe4, -1, "pmulhuw xmm, xmm/m128", Op.A),
    PMULHW(1, 0xe5, -1, "pmulhw xmm, xmm/m128", Op.A),
    PSUBSB(1, 0xe8, -1, "psubsb xmm, xmm/m128", Op.A),
    PSUBSW(1, 0xe9, -1, "psubsw xmm, xmm/m128", Op.A),
    PMINSW(1, 0xea, -1, "pminsw xmm, xmm/m128", Op.A),
    POR(1, 0xeb, -1, "por xmm, xmm/m128", Op.A),
    PADDSB(1, 0xec, -1, "paddsb xmm, xmm/m128", Op.A),
    PADDSW(1, 0xed, -1, "paddsw xmm, xmm/m128", Op.A),
    PMAXSW(1, 0xee, -1, "pmaxsw xmm, xmm/m128", Op.A),
    PXOR(1, 0xef, -1, "pxor xmm, xmm/m128", Op.A),
    PMULUDQ(1, 0xf4, -1, "pmuludq xmm, xmm/m128", Op.A),
    PMADDWD(1, 0xf5, -1, "pmaddwd xmm, xmm/m128", Op.A),
    PSADBW(1, 0xf6, -1, "psadbw xmm, xmm/m128", Op.A),
    PSUBB(1, 0xf8, -1, "psubb xmm, xmm/m128", Op.A),
    PSUBW(1, 0xf9, -1, "psubw xmm, xmm/m128", Op.A),
    PSUBD(1, 0xfa, -1, "psubd xmm, xmm/m128", Op.A),
    PSUBQ(1, 0xfb, -1, "psubq xmm, xmm/m128", Op.A),
    PADDB(1, 0xfc, -1, "paddb xmm, xmm/m128", Op.A),
    PADDW(1, 0xfd, -1, "paddw xmm, xmm/m128", Op.A),
    PADDD(1, 0xfe, -1, "paddd xmm, xmm/m128", Op.A),
    PSRLW(1, 0xd1, -1, "psrlw xmm, xmm/m128", Op.A),
    PSRLD(1, 0xd2, -1, "psrld xmm, xmm/m128", Op.A),
    PSRLQ(1, 0xd3, -1, "psrlq xmm, xmm/m128", Op.A),
    PSRAW(1, 0xe1, -1, "psraw xmm, xmm/m128", Op.A),
    PSRAD(1, 0xe2, -1, "psrad xmm, xmm/m128", Op.A),
    PSLLW(1, 0xf1, -1, "psllw xmm, xmm/m128", Op.A),
    PSLLD(1, 0xf2, -1, "pslld xmm, xmm/m128", Op.A),
    PSLLQ(1, 0xf3, -1, "psllq xmm, xmm/m128", Op.A),
    PSRLW_I(1, 0x71, 2, "psrlw xmm, imm8", Op.R | Op.I),
    PSRAW_I(1, 0x71, 4, "psraw xmm, imm8", Op.R | Op.I),
    PSLLW_I(1, 0x71, 6, "psllw xmm, imm8", Op.R | Op.I),
    PSRLD_I(1, 0x72, 2, "psrld xmm, imm8", Op.R | Op.I),
    PSRAD_I(1, 0x72, 4, "psrad xmm, imm8", Op.R | Op.I),
    PSLLD_I(1, 0x72, 6, "pslld xmm, imm8", Op.R | Op.I),
    PSRLQ_I(1, 0x73, 2, "psrlq xmm, imm8", Op.R | Op.I),
    PSRLDQ(1, 0x73, 3, "psrldq xmm, imm8", Op.R | Op.I),
    PSLLQ_I(1, 0x73, 6, "psllq xmm, imm8", Op.R | Op.I),
    PSLLDQ(1, 0x73, 7, "pslldq xmm, imm8", Op.R | Op.I),
    ADDPS(0, 0x58, -1, "addps xmm, xmm/m128", Op.A | Op.X),
    ADDPD(1, 0x58, -1, "addpd xmm, xmm/m128", Op.A | Op.X),
    ADDSS(2, 0x58, -1, "addss xmm, xmm/m32", Op.X),
    ADDSD(3, 0x58, -1, "addsd xmm, xmm/m64", Op.X),
    MULPS(0, 0x59, -1, "mulps xmm, xmm/m128", Op.A | Op.X),
    MULPD(1, 0x59, -1, "mulpd xmm, xmm/m128", Op.A | Op.X),
    MULSS(2, 0x59, -1, "mulss xmm, xmm/m32", Op.X),
    MULSD(3, 0x59, -1, "mulsd xmm, xmm/m64", Op.X),
    SUBPS(0, 0x5c, -1, "subps xmm, xmm/m128", Op.A | Op.X),
    SUBPD(1, 0x5c, -1, "subpd xmm, xmm/m128", Op.A | Op.X),
    SUBSS(2, 0x5c, -1, "subss xmm, xmm/m32", Op.X),
    SUBSD(3, 0x5c, -1, "subsd xmm, xmm/m64", Op.X),
    MINPS(0, 0x5d, -1, "minps xmm, xmm/m128", Op.A | Op.X),
    MINPD(1, 0x5d, -1, "minpd xmm, xmm/m128", Op.A | Op.X),
    MINSS(2, 0x5d, -1, "minss xmm, xmm/m32", Op.X),
    MINSD(3, 0x5d, -1, "minsd xmm, xmm/m64", Op.X),
    DIVPS(0, 0x5e, -1, "divps xmm, xmm/m128", Op.A | Op.X),
    DIVPD(1, 0x5e, -1, "divpd xmm, xmm/m128", Op.A | Op.X),
    DIVSS(2, 0x5e, -1, "divss xmm, xmm/m32", Op.X),
    DIVSD(3, 0x5e, -1, "divsd xmm, xmm/m64", Op.X),
    MAXPS(0, 0x5f, -1, "maxps xmm, xmm/m128", Op.A | Op.X),
    MAXPD(1, 0x5f, -1, "maxpd xmm, xmm/m128", Op.A | Op.X),
    MAXSS(2, 0x5f, -1, "maxss xmm, xmm/m32", Op.X),
    MAXSD(3, 0x5f, -1, "maxsd xmm, xmm/m64", Op.X),
    SQRTPS(0, 0x51, -1, "sqrtps xmm, xmm/m128", Op.A | Op.X),
    SQRTPD(1, 0x51, -1, "sqrtpd xmm, xmm/m128", Op.A | Op.X),
    SQRTSS(2, 0x51, -1, "sqrtss xmm, xmm/m32", Op.X),
    SQRTSD(3, 0x51, -1, "sqrtsd xmm, xmm/m64", Op.X),
    ANDPS(0, 0x54, -1, "andps xmm, xmm/m128", Op.A),
    ANDPD(1, 0x54, -1, "andpd xmm, xmm/m128", Op.A),
    ANDNPS(0, 0x55, -1, "andnps xmm, xmm/m128", Op.A),
    ANDNPD(1, 0x55, -1, "andnpd xmm, xmm/m128", Op.A),
    ORPS(0, 0x56, -1, "orps xmm, xmm/m128", Op.A),
    ORPD(1, 0x56, -1, "orpd xmm, xmm/m128", Op.A),
    XORPS(0, 0x57, -1, "xorps xmm, xmm/m128", Op.A),
    XORPD(1, 0x57, -1, "xorpd xmm, xmm/m128", Op.A),
    RSQRTPS(0, 0x52, -1, "rsqrtps xmm, xmm/m128", Op.A),
    RSQRTSS(2, 0x52, -1, "rsqrtss xmm, xmm/m32", 0),
    RCPPS(0, 0x53, -1, "rcpps xmm, xmm/m128", Op.A),
    RCPSS(2, 0x53, -1, "rcpss xmm, xmm/m32", 0),
    CMPPS(0, 0xc2, -1, "cmpps xmm, xmm/m128, imm8", Op.A | Op.I | Op.X),
    CMPPD(1, 0xc2, -1, "cmppd xmm, xmm/m128, imm8", Op.A | Op.I | Op.X),
    CMPSS(2, 0xc2, -1, "cmpss xmm, xmm/m32, imm8", Op.I | Op.X),
    CMPSD(3, 0xc2, -1, "cmpsd xmm, xmm/m64, imm8", Op.I | Op.X),
    UCOMISS(0, 0x2e, -1, "ucomiss xmm, xmm/m32", Op.X),
    UCOMISD(1, 0x2e, -1, "ucomisd xmm, xmm/m64", Op.X),
    COMISS(0, 0x2f, -1, "comiss xmm, xmm/m32", Op.X),
    COMISD(1, 0x2f, -1, "comisd xmm, xmm/m64", Op.X),
    CVTSI2SS(2, 0x2a, -1, "cvtsi2ss xmm, r/m32/64", Op.X),
    CVTSI2SD(3, 0x2a, -1, "cvtsi2sd xmm, r/m32/64", Op.X),
    CVTTSS2SI(2, 0x2c, -1, "cvttss2si r32/64, xmm/m32", Op.X),
    CVTTSD2SI(3, 0x2c, -1, "cvttsd2si r32/64, xmm/m64", Op.X),
    CVTSS2SI(2, 0x2d, -1, "cvtss2si r32/64, xmm/m32", Op.X),
    CVTSD2SI(3, 0x2d, -1, "cvtsd2si r32/64, xmm/m64", Op.X),
    CVTPS2PD(0, 0x5a, -1, "cvtps2pd xmm, xmm/m64", Op.X),
    CVTPD2PS(1, 0x5a, -1, "cvtpd2ps xmm, xmm/m128", Op.A | Op.X),
    CVTSS2SD(2, 0x5a, -1, "cvtss2sd xmm, xmm/m32", Op.X),
    CVTSD2SS(3, 0x5a, -1, "cvtsd2ss xmm, xmm/m64", Op.X),
    CVTDQ2PS(0, 0x5b, -1, "cvtdq2ps xmm, xmm/m128", Op.A | Op.X),
    CVTPS2DQ(1, 0x5b, -1, "cvtps2dq xmm, xmm/m128", Op.A | Op.X),
    CVTTPS2DQ(2, 0x5b, -1, "cvttps2dq xmm, xmm/m128", Op.A | Op.X),
    CVTTPD2DQ(1, 0xe6, -1, "cvttpd2dq xmm, xmm/m128", Op.A | Op.X),
    CVTDQ2PD(2, 0xe6, -1, "cvtdq2pd xmm, xmm/m64", 0),
    CVTPD2DQ(3, 0xe6, -1, "cvtpd2dq xmm, xmm/m128", Op.A | Op.X),
    // ---- SSE3 (group 5) ----
    MOVSLDUP(2, 0x12, -1, "movsldup xmm, xmm/m128", Op.A),
    MOVSHDUP(2, 0x16, -1, "movshdup xmm, xmm/m128", Op.A),
    MOVDDUP(3, 0x12, -1, "movddup xmm, xmm/m64", 0),
    LDDQU(3, 0xf0, -1, "lddqu xmm, m128", Op.M),
    HADDPS(3, 0x7c, -1, "haddps xmm, xmm/m128", Op.A | Op.X),
    HADDPD(1, 0x7c, -1, "haddpd xmm, xmm/m128", Op.A | Op.X),
    HSUBPS(3, 0x7d, -1, "hsubps xmm, xmm/m128", Op.A | Op.X),
    HSUBPD(1, 0x7d, -1, "hsubpd xmm, xmm/m128", Op.A | Op.X),
    ADDSUBPS(3, 0xd0, -1, "addsubps xmm, xmm/m128", Op.A | Op.X),
    ADDSUBPD(1, 0xd0, -1, "addsubpd xmm, xmm/m128", Op.A | Op.X),
    // ---- SSSE3 (group 5): opcodes 0x38xx and 0x3axx are in the 0F 38 and 0F 3A maps ----
    PSHUFB(1, 0x3800, -1, "pshufb xmm, xmm/m128", Op.A),
    PHADDW(1, 0x3801, -1, "phaddw xmm, xmm/m128", Op.A),
    PHADDD(1, 0x3802, -1, "phaddd xmm, xmm/m128", Op.A),
    PHADDSW(1, 0x3803, -1, "phaddsw xmm, xmm/m128", Op.A),
    PMADDUBSW(1, 0x3804, -1, "pmaddubsw xmm, xmm/m128", Op.A),
    PHSUBW(1, 0x3805, -1, "phsubw xmm, xmm/m128", Op.A),
    PHSUBD(1, 0x3806, -1, "phsubd xmm, xmm/m128", Op.A),
    PHSUBSW(1, 0x3807, -1, "phsubsw xmm, xmm/m128", Op.A),
    PSIGNB(1, 0x3808, -1, "psignb xmm, xmm/m128", Op.A),
    PSIGNW(1, 0x3809, -1, "psignw xmm, xmm/m128", Op.A),
    PSIGND(1, 0x380a, -1, "psignd xmm, xmm/m128", Op.A),
    PMULHRSW(1, 0x380b, -1, "pmulhrsw xmm, xmm/m128", Op.A),
    PABSB(1, 0x381c, -1, "pabsb xmm, xmm/m128", Op.A),
    PABSW(1, 0x381d, -1, "pabsw xmm, xmm/m128", Op.A),
    PABSD(1, 0x381e, -1, "pabsd xmm, xmm/m128", Op.A),
    PALIGNR(1, 0x3a0f, -1, "palignr xmm, xmm/m128, imm8", Op.A | Op.I),
    // ---- SSE4.1 (group 5) ----
    PBLENDVB(1, 0x3810, -1, "pblendvb xmm, xmm/m128, <xmm0>", Op.A),
    BLENDVPS(1, 0x3814, -1, "blendvps xmm, xmm/m128, <xmm0>", Op.A),
    BLENDVPD(1, 0x3815, -1, "blendvpd xmm, xmm/m128, <xmm0>", Op.A),
    PTEST(1, 0x3817, -1, "ptest xmm, xmm/m128", Op.A),
    PMOVSXBW(1, 0x3820, -1, "pmovsxbw xmm, xmm/m64", 0),
    PMOVZXBW(1, 0x3830, -1, "pmovzxbw xmm, xmm/m64", 0),
    PMOVSXBD(1, 0x3821, -1, "pmovsxbd xmm, xmm/m32", 0),
    PMOVZXBD(1, 0x3831, -1, "pmovzxbd xmm, xmm/m32", 0),
    PMOVSXBQ(1, 0x3822, -1, "pmovsxbq xmm, xmm/m16", 0),
    PMOVZXBQ(1, 0x3832, -1, "pmovzxbq xmm, xmm/m16", 0),
    PMOVSXWD(1, 0x3823, -1, "pmovsxwd xmm, xmm/m64", 0),
    PMOVZXWD(1, 0x3833, -1, "pmovzxwd xmm, xmm/m64", 0),
    PMOVSXWQ(1, 0x3824, -1, "pmovsxwq xmm, xmm/m32", 0),
    PMOVZXWQ(1, 0x3834, -1, "pmovzxwq xmm, xmm/m32", 0),
    PMOVSXDQ(1, 0x3825, -1, "pmovsxdq xmm, xmm/m64", 0),
    PMOVZXDQ(1, 0x3835, -1, "pmovzxdq xmm, xmm/m64", 0),
    PMULDQ(1, 0x3828, -1, "pmuldq xmm, xmm/m128", Op.A),
    PCMPEQQ(1, 0x3829, -1, "pcmpeqq xmm, xmm/m128", Op.A),
    MOVNTDQA(1, 0x382a, -1, "movntdqa xmm, m128", Op.M | Op.A),
    PACKUSDW(1, 0x382b, -1, "packusdw xmm, xmm/m128", Op.A),
    PMINSB(1, 0x3838, -1, "pminsb xmm, xmm/m128", Op.A),
    PMINSD(1, 0x3839, -1, "pminsd xmm, xmm/m128", Op.A),
    PMINUW(1, 0x383a, -1, "pminuw xmm, xmm/m128", Op.A),
    PMINUD(1, 0x383b, -1, "pminud xmm, xmm/m128", Op.A),
    PMAXSB(1, 0x383c, -1, "pmaxsb xmm, xmm/m128", Op.A),
    PMAXSD(1, 0x383d, -1, "pmaxsd xmm, xmm/m128", Op.A),
    PMAXUW(1, 0x383e, -1, "pmaxuw xmm, xmm/m128", Op.A),
    PMAXUD(1, 0x383f, -1, "pmaxud xmm, xmm/m128", Op.A),
    PMULLD(1, 0x3840, -1, "pmulld xmm, xmm/m128", Op.A),
    PHMINPOSUW(1, 0x3841, -1, "phminposuw xmm, xmm/m128", Op.A),
    ROUNDPS(1, 0x3a08, -1, "roundps xmm, xmm/m128, imm8", Op.A | Op.I | Op.X),
    ROUNDPD(1, 0x3a09, -1, "roundpd xmm, xmm/m128, imm8", Op.A | Op.I | Op.X),
    ROUNDSS(1, 0x3a0a, -1, "roundss xmm, xmm/m32, imm8", Op.I | Op.X),
    ROUNDSD(1, 0x3a0b, -1, "roundsd xmm, xmm/m64, imm8", Op.I | Op.X),
    BLENDPS(1, 0x3a0c, -1, "blendps xmm, xmm/m128, imm8", Op.A | Op.I),
    BLENDPD(1, 0x3a0d, -1, "blendpd xmm, xmm/m128, imm8", Op.A | Op.I),
    PBLENDW(1, 0x3a0e, -1, "pblendw xmm, xmm/m128, imm8", Op.A | Op.I),
    PEXTRB(1, 0x3a14, -1, "pextrb r/m8, xmm, imm8", Op.I),
    PEXTRW_E(1, 0x3a15, -1, "pextrw r/m16, xmm, imm8", Op.I),
    PEXTRD(1, 0x3a16, -1, "pextrd/q r/m32/64, xmm, imm8", Op.I),
    EXTRACTPS(1, 0x3a17, -1, "extractps r/m32, xmm, imm8", Op.I),
    PINSRB(1, 0x3a20, -1, "pinsrb xmm, r32/m8, imm8", Op.I),
    INSERTPS(1, 0x3a21, -1, "insertps xmm, xmm/m32, imm8", Op.I),
    PINSRD(1, 0x3a22, -1, "pinsrd/q xmm, r/m32/64, imm8", Op.I),
    DPPS(1, 0x3a40, -1, "dpps xmm, xmm/m128, imm8", Op.A | Op.I | Op.X),
    DPPD(1, 0x3a41, -1, "dppd xmm, xmm/m128, imm8", Op.A | Op.I | Op.X),
    MPSADBW(1, 0x3a42, -1, "mpsadbw xmm, xmm/m128, imm8", Op.A | Op.I),
    // ---- SSE4.2 (group 5) ----
    PCMPGTQ(1, 0x3837, -1, "pcmpgtq xmm, xmm/m128", Op.A),
    PCMPESTRM(1, 0x3a60, -1, "pcmpestrm xmm, xmm/m128, imm8", Op.I),
    PCMPESTRI(1, 0x3a61, -1, "pcmpestri xmm, xmm/m128, imm8", Op.I),
    PCMPISTRM(1, 0x3a62, -1, "pcmpistrm xmm, xmm/m128, imm8", Op.I),
    PCMPISTRI(1, 0x3a63, -1, "pcmpistri xmm, xmm/m128, imm8", Op.I),
    CRC32_B(3, 0x38f0, -1, "crc32 r32/64, r/m8", Op.G),
    CRC32_V(3, 0x38f1, -1, "crc32 r32/64, r/m16/32/64", Op.G),
    // ---- MMX (group 5, no mandatory prefix; twin: the SSE form whose lane operation it shares) ----
    MOVD_PE(0, 0x6e, -1, "movd/movq mm, r/m32/64", Op.MM),
    MOVD_EP(0, 0x7e, -1, "movd/movq r/m32/64, mm", Op.MM),
    MOVQ_PQ(0, 0x6f, -1, "movq mm, mm/m64", Op.MM),
    MOVQ_QP(0, 0x7f, -1, "movq mm/m64, mm", Op.MM),
    EMMS(0, 0x77, -1, "emms", Op.MM | Op.N),
    MOVNTQ(0, 0xe7, -1, "movntq m64, mm", Op.MM | Op.M),
    MASKMOVQ(0, 0xf7, -1, "maskmovq mm, mm", Op.MM | Op.R),
    PMOVMSKB_MM(0, 0xd7, -1, "pmovmskb r32, mm", Op.MM | Op.R),
    PINSRW_MM(0, 0xc4, -1, "pinsrw mm, r32/m16, imm8", Op.MM | Op.I),
    PEXTRW_MM(0, 0xc5, -1, "pextrw r32, mm, imm8", Op.MM | Op.R | Op.I),
    PSHUFW(0, 0x70, -1, "pshufw mm, mm/m64, imm8", Op.MM | Op.I),
    PUNPCKLBW_MM(0, 0x60, -1, "punpcklbw mm, mm/m32", Op.MM, PUNPCKLBW),
    PUNPCKLWD_MM(0, 0x61, -1, "punpcklwd mm, mm/m32", Op.MM, PUNPCKLWD),
    PUNPCKLDQ_MM(0, 0x62, -1, "punpckldq mm, mm/m32", Op.MM, PUNPCKLDQ),
    PACKSSWB_MM(0, 0x63, -1, "packsswb mm, mm/m64", Op.MM, PACKSSWB),
    PCMPGTB_MM(0, 0x64, -1, "pcmpgtb mm, mm/m64", Op.MM, PCMPGTB),
    PCMPGTW_MM(0, 0x65, -1, "pcmpgtw mm, mm/m64", Op.MM, PCMPGTW),
    PCMPGTD_MM(0, 0x66, -1, "pcmpgtd mm, mm/m64", Op.MM, PCMPGTD),
    PACKUSWB_MM(0, 0x67, -1, "packuswb mm, mm/m64", Op.MM, PACKUSWB),
    PUNPCKHBW_MM(0, 0x68, -1, "punpckhbw mm, mm/m64", Op.MM, PUNPCKHBW),
    PUNPCKHWD_MM(0, 0x69, -1, "punpckhwd mm, mm/m64", Op.MM, PUNPCKHWD),
    PUNPCKHDQ_MM(0, 0x6a, -1, "punpckhdq mm, mm/m64", Op.MM, PUNPCKHDQ),
    PACKSSDW_MM(0, 0x6b, -1, "packssdw mm, mm/m64", Op.MM, PACKSSDW),
    PCMPEQB_MM(0, 0x74, -1, "pcmpeqb mm, mm/m64", Op.MM, PCMPEQB),
    PCMPEQW_MM(0, 0x75, -1, "pcmpeqw mm, mm/m64", Op.MM, PCMPEQW),
    PCMPEQD_MM(0, 0x76, -1, "pcmpeqd mm, mm/m64", Op.MM, PCMPEQD),
    PSRLW_MM(0, 0xd1, -1, "psrlw mm, mm/m64", Op.MM, PSRLW),
    PSRLD_MM(0, 0xd2, -1, "psrld mm, mm/m64", Op.MM, PSRLD),
    PSRLQ_MM(0, 0xd3, -1, "psrlq mm, mm/m64", Op.MM, PSRLQ),
    PADDQ_MM(0, 0xd4, -1, "paddq mm, mm/m64", Op.MM, PADDQ),
    PMULLW_MM(0, 0xd5, -1, "pmullw mm, mm/m64", Op.MM, PMULLW),
    PSUBUSB_MM(0, 0xd8, -1, "psubusb mm, mm/m64", Op.MM, PSUBUSB),
    PSUBUSW_MM(0, 0xd9, -1, "psubusw mm, mm/m64", Op.MM, PSUBUSW),
    PMINUB_MM(0, 0xda, -1, "pminub mm, mm/m64", Op.MM, PMINUB),
    PAND_MM(0, 0xdb, -1, "pand mm, mm/m64", Op.MM, PAND),
    PADDUSB_MM(0, 0xdc, -1, "paddusb mm, mm/m64", Op.MM, PADDUSB),
    PADDUSW_MM(0, 0xdd, -1, "paddusw mm, mm/m64", Op.MM, PADDUSW),
    PMAXUB_MM(0, 0xde, -1, "pmaxub mm, mm/m64", Op.MM, PMAXUB),
    PANDN_MM(0, 0xdf, -1, "pandn mm, mm/m64", Op.MM, PANDN),
    PAVGB_MM(0, 0xe0, -1, "pavgb mm, mm/m64", Op.MM, PAVGB),
    PSRAW_MM(0, 0xe1, -1, "psraw mm, mm/m64", Op.MM, PSRAW),
    PSRAD_MM(0, 0xe2, -1, "psrad mm, mm/m64", Op.MM, PSRAD),
    PAVGW_MM(0, 0xe3, -1, "pavgw mm, mm/m64", Op.MM, PAVGW),
    PMULHUW_MM(0, 0xe4, -1, "pmulhuw mm, mm/m64", Op.MM, PMULHUW),
    PMULHW_MM(0, 0xe5, -1, "pmulhw mm, mm/m64", Op.MM, PMULHW),
    PSUBSB_MM(0, 0xe8, -1, "psubsb mm, mm/m64", Op.MM, PSUBSB),
    PSUBSW_MM(0, 0xe9, -1, "psubsw mm, mm/m64", Op.MM, PSUBSW),
    PMINSW_MM(0, 0xea, -1, "pminsw mm, mm/m64", Op.MM, PMINSW),
    POR_MM(0, 0xeb, -1, "por mm, mm/m64", Op.MM, POR),
    PADDSB_MM(0, 0xec, -1, "paddsb mm, mm/m64", Op.MM, PADDSB),
    PADDSW_MM(0, 0xed, -1, "paddsw mm, mm/m64", Op.MM, PADDSW),
    PMAXSW_MM(0, 0xee, -1, "pmaxsw mm, mm/m64", Op.MM, PMAXSW),
    PXOR_MM(0, 0xef, -1, "pxor mm, mm/m64", Op.MM, PXOR),
    PSLLW_MM(0, 0xf1, -1, "psllw mm, mm/m64", Op.MM, PSLLW),
    PSLLD_MM(0, 0xf2, -1, "pslld mm, mm/m64", Op.MM, PSLLD),
    PSLLQ_MM(0, 0xf3, -1, "psllq mm, mm/m64", Op.MM, PSLLQ),
    PMULUDQ_MM(0, 0xf4, -1, "pmuludq mm, mm/m64", Op.MM, PMULUDQ),
    PMADDWD_MM(0, 0xf5, -1, "pmaddwd mm, mm/m64", Op.MM, PMADDWD),
    PSADBW_MM(0, 0xf6, -1, "psadbw mm, mm/m64", Op.MM, PSADBW),
    PSUBB_MM(0, 0xf8, -1, "psubb mm, mm/m64", Op.MM, PSUBB),
    PSUBW_MM(0, 0xf9, -1, "psubw mm, mm/m64", Op.MM, PSUBW),
    PSUBD_MM(0, 0xfa, -1, "psubd mm, mm/m64", Op.MM, PSUBD),
    PSUBQ_MM(0, 0xfb, -1, "psubq mm, mm/m64", Op.MM, PSUBQ),
    PADDB_MM(0, 0xfc, -1, "paddb mm, mm/m64", Op.MM, PADDB),
    PADDW_MM(0, 0xfd, -1, "paddw mm, mm/m64", Op.MM, PADDW),
    PADDD_MM(0, 0xfe, -1, "paddd mm, mm/m64", Op.MM, PADDD),
    PSRLW_MM_I(0, 0x71, 2, "psrlw mm, imm8", Op.MM | Op.R | Op.I, PSRLW_I),
    PSRAW_MM_I(0, 0x71, 4, "psraw mm, imm8", Op.MM | Op.R | Op.I, PSRAW_I),
    PSLLW_MM_I(0, 0x71, 6, "psllw mm, imm8", Op.MM | Op.R | Op.I, PSLLW_I),
    PSRLD_MM_I(0, 0x72, 2, "psrld mm, imm8", Op.MM | Op.R | Op.I, PSRLD_I),
    PSRAD_MM_I(0, 0x72, 4, "psrad mm, imm8", Op.MM | Op.R | Op.I, PSRAD_I),
    PSLLD_MM_I(0, 0x72, 6, "pslld mm, imm8", Op.MM | Op.R | Op.I, PSLLD_I),
    PSRLQ_MM_I(0, 0x73, 2, "psrlq mm, imm8", Op.MM | Op.R | Op.I, PSRLQ_I),
    PSLLQ_MM_I(0, 0x73, 6, "psllq mm, imm8", Op.MM | Op.R | Op.I, PSLLQ_I),
    PSHUFB_MM(0, 0x3800, -1, "pshufb mm, mm/m64", Op.MM, PSHUFB),
    PHADDW_MM(0, 0x3801, -1, "phaddw mm, mm/m64", Op.MM, PHADDW),
    PHADDD_MM(0, 0x3802, -1, "phaddd mm, mm/m64", Op.MM, PHADDD),
    PHADDSW_MM(0, 0x3803, -1, "phaddsw mm, mm/m64", Op.MM, PHADDSW),
    PMADDUBSW_MM(0, 0x3804, -1, "pmaddubsw mm, mm/m64", Op.MM, PMADDUBSW),
    PHSUBW_MM(0, 0x3805, -1, "phsubw mm, mm/m64", Op.MM, PHSUBW),
    PHSUBD_MM(0, 0x3806, -1, "phsubd mm, mm/m64", Op.MM, PHSUBD),
    PHSUBSW_MM(0, 0x3807, -1, "phsubsw mm, mm/m64", Op.MM, PHSUBSW),
    PSIGNB_MM(0, 0x3808, -1, "psignb mm, mm/m64", Op.MM, PSIGNB),
    PSIGNW_MM(0, 0x3809, -1, "psignw mm, mm/m64", Op.MM, PSIGNW),
    PSIGND_MM(0, 0x380a, -1, "psignd mm, mm/m64", Op.MM, PSIGND),
    PMULHRSW_MM(0, 0x380b, -1, "pmulhrsw mm, mm/m64", Op.MM, PMULHRSW),
    PABSB_MM(0, 0x381c, -1, "pabsb mm, mm/m64", Op.MM, PABSB),
    PABSW_MM(0, 0x381d, -1, "pabsw mm, mm/m64", Op.MM, PABSW),
    PABSD_MM(0, 0x381e, -1, "pabsd mm, mm/m64", Op.MM, PABSD),
    PALIGNR_MM(0, 0x3a0f, -1, "palignr mm, mm/m64, imm8", Op.MM | Op.I, PALIGNR),
    // ---- SSE and SSE2 forms with an MMX operand (group 5): the XMM state too, so CR4.OSFXSR ----
    CVTPI2PS(0, 0x2a, -1, "cvtpi2ps xmm, mm/m64", Op.MM | Op.XS | Op.X),
    CVTPI2PD(1, 0x2a, -1, "cvtpi2pd xmm, mm/m64", Op.MM | Op.XS),
    CVTTPS2PI(0, 0x2c, -1, "cvttps2pi mm, xmm/m64", Op.MM | Op.XS | Op.X),
    CVTTPD2PI(1, 0x2c, -1, "cvttpd2pi mm, xmm/m128", Op.MM | Op.XS | Op.X | Op.A),
    CVTPS2PI(0, 0x2d, -1, "cvtps2pi mm, xmm/m64", Op.MM | Op.XS | Op.X),
    CVTPD2PI(1, 0x2d, -1, "cvtpd2pi mm, xmm/m128", Op.MM | Op.XS | Op.X | Op.A),
    MOVQ2DQ(2, 0xd6, -1, "movq2dq xmm, mm", Op.MM | Op.XS | Op.R),
    MOVDQ2Q(3, 0xd6, -1, "movdq2q mm, xmm", Op.MM | Op.XS | Op.R),
    /** #UD: either deliberate (ud0/ud1/ud2) or an opcode tscvm does not implement (counted). */
    UD(4, "#UD", Op.E, Shape.NONE, SystemOps.class),
    /** An instruction longer than 15 bytes: #GP(0). */
    TOO_LONG(4, "too long", Op.E, Shape.NONE, SystemOps.class);

    /**
     * Ends a decoded block: a control transfer or a change of mode, privilege or translation.
     * Jcc does not: a block goes on along its fall-through path, and the run loop leaves the
     * block wherever RIP leaves the sequence (a taken Jcc is a side exit).
     */
    static final int E = 1;
    /** A LOCK prefix is allowed when the destination is memory. */
    static final int L = 2;
    /** SSE: a 128-bit memory operand must be 16-byte aligned (#GP(0) otherwise). */
    static final int A = 4;
    /** SSE: the form exists with a memory operand only (ModRM.mod = 3 is another form or #UD). */
    static final int M = 8;
    /** SSE: the form exists with a register operand only. */
    static final int R = 16;
    /** SSE: an imm8 follows the ModRM operand. */
    static final int I = 32;
    /**
     * SSE: floating point that reads MXCSR (rounding, DAZ, FZ), sets its flags and may raise
     * #XM; every SSE form may also raise #UD, #NM, #GP and #PF.
     */
    static final int X = 64;
    /** SSE4.2's CRC32: a general-register instruction, free of the SSE state checks (CR0.EM/TS, CR4.OSFXSR). */
    static final int G = 128;
    /**
     * MMX: the form names an MMX register (MM0-7, the significands of x87 R0-R7; REX.R/REX.B do not
     * extend it) and is executed by {@link Mmx#execute} with the x87-to-MMX transition.
     */
    static final int MM = 256;
    /** No ModRM byte follows the opcode (EMMS). */
    static final int N = 512;
    /** An MMX form that also reads or writes XMM state or MXCSR: CR4.OSFXSR must be set (#UD). */
    static final int XS = 1024;
    /** The SSE group: decoded by {@link Sse#lookup}, executed by {@link Sse#execute}. */
    static final int SSE = 5;
    /** The x87 group: decoded by {@link Decoder}'s x87 map, executed by {@link X87#execute}. */
    static final int X87 = 6;
    /** May read the arithmetic flags (CF, PF, AF, ZF, SF, OF): the result depends on them. */
    static final int RF = 1 << 11;
    /** May write the arithmetic flags; a form without it leaves all six as they were. */
    static final int WF = 1 << 12;
    /** Never faults: register and immediate operands only, no privilege or mode check. */
    static final int NF = 1 << 13;

    static final Op[] VALUES = values();

    /**
     * Whether the form counts as a branch instruction retired (the architectural event C4H):
     * every control transfer of group 2, near and far, conditional or not, software interrupts
     * and system calls and their returns; not HLT.
     */
    boolean countsAsBranch() {
        return group == 2 && this != HLT;
    }

    final int group;
    final String text;
    final boolean endsBlock;
    final boolean lockable;
    final boolean readsFlags, writesFlags, neverFaults;
    final Shape shape;
    /** For a decode-time-resolved form ({@link Shape#R_R} ...): the family row it stands in for; else null. */
    final Op family;
    /**
     * The one handler of this form: a static method {@link #HANDLER_DESCRIPTOR} of the class
     * {@code handlerOwner} (a JVM internal name), named after the row ({@link #handlerName(String)}:
     * ADD_R_R's is {@code IntAlu.addRR}) unless a family shares one (every SSE form's is
     * {@code Sse.execute}). OpTableTest checks that each exists; {@link Dispatch} and
     * {@link BlockCompiler} call it with INVOKESTATIC.
     */
    final String handlerOwner, handlerName;
    /** The handler the interpreter calls, bound by {@link Dispatch} when the form first runs. */
    Dispatch.Handler handler;

    /** The descriptor of every handler: {@code static void handler(CpuExec c, Insn d)}. */
    static final String HANDLER_DESCRIPTOR = "(Lorg/tscvm/cpu/CpuExec;Lorg/tscvm/cpu/Insn;)V";

    /** The handler's name for row {@code row}: the row's name in lower camel case (MOV_R_M: movRM, CMPXCHG8B: cmpxchg8b). */
    static String handlerName(String row) {
        StringBuilder b = new StringBuilder(row.length());
        boolean upper = false;
        for (int i = 0; i < row.length(); i++) {
            char ch = row.charAt(i);
            if (ch == '_') {
                upper = true;
            } else {
                b.append(upper ? ch : Character.toLowerCase(ch));
                upper = false;
            }
        }
        return b.toString();
    }

    private static String internalName(Class<?> owner) {
        return owner.getName().replace('.', '/');
    }
    /**
     * SSE decode key: the mandatory prefix (0 none, 1 66, 2 F3, 3 F2), the opcode (0F xx, or
     * 0x38xx / 0x3axx for the 0F 38 and 0F 3A maps), the ModRM.reg digit or -1.
     */
    final int ssePrefix, sseOpcode, sseDigit;
    final boolean aligned, memOnly, regOnly, imm8, simdFp, general;
    /** MMX: an MMX form, one without ModRM, one that needs CR4.OSFXSR (flags {@link #MM}, {@link #N}, {@link #XS}). */
    final boolean mmx, noModrm, xmmState;
    /** An MMX form's SSE twin: the 128-bit form whose lane operation (on a 64-bit half) it applies; else null. */
    final Op twin;

    /** An x87 form: handled by {@link X87#execute}; may read and write the arithmetic flags (FCMOVcc, FCOMI). */
    Op(int group, String text, int flags) {
        this(group, text, flags | RF | WF, Shape.X87, org.tscvm.cpu.X87.class, "execute");
    }

    /** A general-purpose, string, control-transfer or system form whose handler is {@code owner}'s method named after the row. */
    Op(int group, String text, int flags, Shape shape, Class<?> owner) {
        this(group, text, flags, shape, owner, null);
    }

    /** A form whose handler is {@code owner}'s method {@code name} (a handler shared by a family), or named after the row if null. */
    Op(int group, String text, int flags, Shape shape, Class<?> owner, String name) {
        this.group = group;
        this.text = text;
        this.endsBlock = (flags & E) != 0;
        this.lockable = (flags & L) != 0;
        this.readsFlags = (flags & RF) != 0;
        this.writesFlags = (flags & WF) != 0;
        this.neverFaults = (flags & NF) != 0;
        this.shape = shape;
        this.family = null;
        this.handlerOwner = internalName(owner);
        this.handlerName = name != null ? name : handlerName(name());
        this.ssePrefix = -1;
        this.sseOpcode = -1;
        this.sseDigit = -1;
        this.aligned = false;
        this.memOnly = false;
        this.regOnly = false;
        this.imm8 = false;
        this.simdFp = false;
        this.general = false;
        this.mmx = false;
        this.noModrm = false;
        this.xmmState = false;
        this.twin = null;
    }

    /** A 32/64-bit form of {@code family} with its operands resolved at decode time; never with LOCK or REP. */
    Op(Op family, String text, int flags, Shape shape, Class<?> owner) {
        this.group = family.group;
        this.text = text;
        this.endsBlock = family.endsBlock;
        this.lockable = false;
        this.readsFlags = (flags & RF) != 0;
        this.writesFlags = (flags & WF) != 0;
        this.neverFaults = (flags & NF) != 0;
        this.shape = shape;
        this.family = family;
        this.handlerOwner = internalName(owner);
        this.handlerName = handlerName(name());
        this.ssePrefix = -1;
        this.sseOpcode = -1;
        this.sseDigit = -1;
        this.aligned = false;
        this.memOnly = false;
        this.regOnly = false;
        this.imm8 = false;
        this.simdFp = false;
        this.general = false;
        this.mmx = false;
        this.noModrm = false;
        this.xmmState = false;
        this.twin = null;
    }

    /** An SSE form: never ends a block, never lockable, may fault (#UD, #NM, #GP, #PF, #XM). */
    Op(int prefix, int opcode, int digit, String text, int flags) {
        this(prefix, opcode, digit, text, flags, null);
    }

    /**
     * An MMX form whose lanes are computed as those of its SSE {@code twin}. SSE and MMX forms
     * are handled by {@link Sse#execute}; some write the arithmetic flags (COMISS, PTEST,
     * PCMPxSTRx), so every one is declared as possibly writing them.
     */
    Op(int prefix, int opcode, int digit, String text, int flags, Op twin) {
        this.group = SSE;
        this.text = text;
        this.endsBlock = false;
        this.lockable = false;
        this.readsFlags = false;
        this.writesFlags = true;
        this.neverFaults = false;
        this.shape = Shape.SSE;
        this.family = null;
        this.handlerOwner = internalName(Sse.class);
        this.handlerName = "execute";
        this.ssePrefix = prefix;
        this.sseOpcode = opcode;
        this.sseDigit = digit;
        this.aligned = (flags & A) != 0;
        this.memOnly = (flags & M) != 0;
        this.regOnly = (flags & R) != 0;
        this.imm8 = (flags & I) != 0;
        this.simdFp = (flags & X) != 0;
        this.general = (flags & G) != 0;
        this.mmx = (flags & MM) != 0;
        this.noModrm = (flags & N) != 0;
        this.xmmState = (flags & XS) != 0;
        this.twin = twin;
    }

    /**
     * Operand shapes (Intel's notation: E the ModRM r/m operand, G its reg field, I an
     * immediate). R_R, R_I, R_M, M_R and M_I are the decode-time-resolved forms: register
     * destination or memory destination, register, immediate or memory source.
     */
    enum Shape {
        NONE, E, E_G, G_E, E_I, G_E_I, E_G_I, M, IMM, REL, STRING, R_R, R_I, R_M, M_R, M_I, SSE, X87
    }
}

package org.tscvm.cpu;

/**
 * The interpreter's one dispatch point: a {@code switch} over the form whose every case calls
 * the row's handler ({@link Op#handlerOwner}, {@link Op#handlerName}); the SSE and x87 rows go
 * to their families' dispatchers. The cases are the table's, written out so that javac compiles
 * them (no code generation at start-up, which the empty kernel's run times); OpTableTest
 * checks that they are exactly what the table says, in its order.
 */
final class Dispatch {
    private Dispatch() {
    }

    /** Runs {@code d} (RIP already past it) through its form's handler. */
    static void execute(CpuExec c, Insn d) {
        switch (d.op) {
            // BEGIN the table's rows (OpTableTest compares them with Op)
            case ALU_EG: IntAlu.aluEg(c, d); return;
            case ALU_GE: IntAlu.aluGe(c, d); return;
            case ALU_EI: IntAlu.aluEi(c, d); return;
            case TEST_EG: IntAlu.testEg(c, d); return;
            case TEST_EI: IntAlu.testEi(c, d); return;
            case INC: IntAlu.inc(c, d); return;
            case DEC: IntAlu.dec(c, d); return;
            case NOT: IntAlu.not(c, d); return;
            case NEG: IntAlu.neg(c, d); return;
            case MUL: IntAlu.mul(c, d); return;
            case IMUL1: IntAlu.imul1(c, d); return;
            case DIV: IntAlu.div(c, d); return;
            case IDIV: IntAlu.idiv(c, d); return;
            case IMUL_GEI: IntAlu.imulGei(c, d); return;
            case IMUL_GE: IntAlu.imulGe(c, d); return;
            case SHIFT_I: IntAlu.shiftI(c, d); return;
            case SHIFT_CL: IntAlu.shiftCl(c, d); return;
            case SHLD_I: IntAlu.shldI(c, d); return;
            case SHLD_CL: IntAlu.shldCl(c, d); return;
            case SHRD_I: IntAlu.shrdI(c, d); return;
            case SHRD_CL: IntAlu.shrdCl(c, d); return;
            case BT_EG: IntAlu.btEg(c, d); return;
            case BT_EI: IntAlu.btEi(c, d); return;
            case BSF: IntAlu.bsf(c, d); return;
            case BSR: IntAlu.bsr(c, d); return;
            case TZCNT: IntAlu.tzcnt(c, d); return;
            case LZCNT: IntAlu.lzcnt(c, d); return;
            case POPCNT: IntAlu.popcnt(c, d); return;
            case CBW: IntAlu.cbw(c, d); return;
            case CWD: IntAlu.cwd(c, d); return;
            case SETCC: IntAlu.setcc(c, d); return;
            case CMOVCC: IntAlu.cmovcc(c, d); return;
            case CLC: IntAlu.clc(c, d); return;
            case STC: IntAlu.stc(c, d); return;
            case CMC: IntAlu.cmc(c, d); return;
            case CLD: IntAlu.cld(c, d); return;
            case STD: IntAlu.std(c, d); return;
            case LAHF: IntAlu.lahf(c, d); return;
            case SAHF: IntAlu.sahf(c, d); return;
            case BCD: IntAlu.bcd(c, d); return;
            case ADD_R_R: IntAlu.addRR(c, d); return;
            case OR_R_R: IntAlu.orRR(c, d); return;
            case AND_R_R: IntAlu.andRR(c, d); return;
            case SUB_R_R: IntAlu.subRR(c, d); return;
            case XOR_R_R: IntAlu.xorRR(c, d); return;
            case CMP_R_R: IntAlu.cmpRR(c, d); return;
            case TEST_R_R: IntAlu.testRR(c, d); return;
            case ADD_R_I: IntAlu.addRI(c, d); return;
            case OR_R_I: IntAlu.orRI(c, d); return;
            case AND_R_I: IntAlu.andRI(c, d); return;
            case SUB_R_I: IntAlu.subRI(c, d); return;
            case XOR_R_I: IntAlu.xorRI(c, d); return;
            case CMP_R_I: IntAlu.cmpRI(c, d); return;
            case TEST_R_I: IntAlu.testRI(c, d); return;
            case ADD_R_M: IntAlu.addRM(c, d); return;
            case OR_R_M: IntAlu.orRM(c, d); return;
            case AND_R_M: IntAlu.andRM(c, d); return;
            case SUB_R_M: IntAlu.subRM(c, d); return;
            case XOR_R_M: IntAlu.xorRM(c, d); return;
            case CMP_R_M: IntAlu.cmpRM(c, d); return;
            case CMP_M_I: IntAlu.cmpMI(c, d); return;
            case CMP_M_R: IntAlu.cmpMR(c, d); return;
            case MOV_EG: IntMove.movEg(c, d); return;
            case MOV_GE: IntMove.movGe(c, d); return;
            case MOV_EI: IntMove.movEi(c, d); return;
            case MOV_AL_MOFFS: IntMove.movAlMoffs(c, d); return;
            case MOV_MOFFS_AL: IntMove.movMoffsAl(c, d); return;
            case MOVZX_B: IntMove.movzxB(c, d); return;
            case MOVZX_W: IntMove.movzxW(c, d); return;
            case MOVSX_B: IntMove.movsxB(c, d); return;
            case MOVSX_W: IntMove.movsxW(c, d); return;
            case MOVSXD: IntMove.movsxd(c, d); return;
            case LEA: IntMove.lea(c, d); return;
            case XCHG: IntMove.xchg(c, d); return;
            case CMPXCHG: IntMove.cmpxchg(c, d); return;
            case XADD: IntMove.xadd(c, d); return;
            case BSWAP: IntMove.bswap(c, d); return;
            case MOVBE_GM: IntMove.movbeGm(c, d); return;
            case MOVBE_MG: IntMove.movbeMg(c, d); return;
            case CMPXCHG8B: IntMove.cmpxchg8b(c, d); return;
            case PUSH_E: IntMove.pushE(c, d); return;
            case POP_E: IntMove.popE(c, d); return;
            case PUSH_I: IntMove.pushI(c, d); return;
            case PUSH_SEG: IntMove.pushSeg(c, d); return;
            case POP_SEG: IntMove.popSeg(c, d); return;
            case PUSHF: IntMove.pushf(c, d); return;
            case POPF: IntMove.popf(c, d); return;
            case PUSHA: IntMove.pusha(c, d); return;
            case POPA: IntMove.popa(c, d); return;
            case ENTER: IntMove.enter(c, d); return;
            case LEAVE: IntMove.leave(c, d); return;
            case XLAT: IntMove.xlat(c, d); return;
            case MOV_SEG_E: IntMove.movSegE(c, d); return;
            case MOV_E_SEG: IntMove.movESeg(c, d); return;
            case LOAD_FAR: IntMove.loadFar(c, d); return;
            case NOP: IntMove.nop(c, d); return;
            case PAUSE: IntMove.pause(c, d); return;
            case FENCE: IntMove.fence(c, d); return;
            case MOV_R_R: IntMove.movRR(c, d); return;
            case MOV_R_I: IntMove.movRI(c, d); return;
            case MOV_R_M: IntMove.movRM(c, d); return;
            case MOV_M_R: IntMove.movMR(c, d); return;
            case MOV_M_I: IntMove.movMI(c, d); return;
            case JCC: Branch.jcc(c, d); return;
            case JMP_REL: Branch.jmpRel(c, d); return;
            case CALL_REL: Branch.callRel(c, d); return;
            case JMP_E: Branch.jmpE(c, d); return;
            case CALL_E: Branch.callE(c, d); return;
            case RET: Branch.ret(c, d); return;
            case RET_FAR: Branch.retFar(c, d); return;
            case JMP_FAR_PTR: Branch.jmpFarPtr(c, d); return;
            case CALL_FAR_PTR: Branch.callFarPtr(c, d); return;
            case JMP_FAR_M: Branch.jmpFarM(c, d); return;
            case CALL_FAR_M: Branch.callFarM(c, d); return;
            case LOOP: Branch.loop(c, d); return;
            case JRCXZ: Branch.jrcxz(c, d); return;
            case INT_N: SystemCalls.intN(c, d); return;
            case INT3: SystemCalls.int3(c, d); return;
            case INTO: SystemCalls.into(c, d); return;
            case INT1: SystemCalls.int1(c, d); return;
            case IRET: SystemCalls.iret(c, d); return;
            case SYSCALL: SystemCalls.syscall(c, d); return;
            case SYSRET: SystemCalls.sysret(c, d); return;
            case SYSENTER: SystemCalls.sysenter(c, d); return;
            case SYSEXIT: SystemCalls.sysexit(c, d); return;
            case HLT: SystemOps.hlt(c, d); return;
            case MOVS: StringOps.movs(c, d); return;
            case CMPS: StringOps.cmps(c, d); return;
            case STOS: StringOps.stos(c, d); return;
            case LODS: StringOps.lods(c, d); return;
            case SCAS: StringOps.scas(c, d); return;
            case INS: StringOps.ins(c, d); return;
            case OUTS: StringOps.outs(c, d); return;
            case IN_I: SystemOps.inI(c, d); return;
            case IN_DX: SystemOps.inDx(c, d); return;
            case OUT_I: SystemOps.outI(c, d); return;
            case OUT_DX: SystemOps.outDx(c, d); return;
            case CLI: SystemOps.cli(c, d); return;
            case STI: SystemOps.sti(c, d); return;
            case LGDT: SystemOps.lgdt(c, d); return;
            case LIDT: SystemOps.lidt(c, d); return;
            case SGDT: SystemOps.sgdt(c, d); return;
            case SIDT: SystemOps.sidt(c, d); return;
            case LLDT: SystemOps.lldt(c, d); return;
            case LTR: SystemOps.ltr(c, d); return;
            case SLDT: SystemOps.sldt(c, d); return;
            case STR: SystemOps.str(c, d); return;
            case SMSW: SystemOps.smsw(c, d); return;
            case LMSW: SystemOps.lmsw(c, d); return;
            case INVLPG: SystemOps.invlpg(c, d); return;
            case MOV_CR_R: SystemOps.movCrR(c, d); return;
            case MOV_R_CR: SystemOps.movRCr(c, d); return;
            case MOV_DR_R: SystemOps.movDrR(c, d); return;
            case MOV_R_DR: SystemOps.movRDr(c, d); return;
            case CLTS: SystemOps.clts(c, d); return;
            case WBINVD: SystemOps.wbinvd(c, d); return;
            case CLFLUSH: SystemOps.clflush(c, d); return;
            case CLFLUSHOPT: SystemOps.clflushopt(c, d); return;
            case CLWB: SystemOps.clwb(c, d); return;
            case SWAPGS: SystemOps.swapgs(c, d); return;
            case RDMSR: SystemOps.rdmsr(c, d); return;
            case WRMSR: SystemOps.wrmsr(c, d); return;
            case RDTSC: SystemOps.rdtsc(c, d); return;
            case RDTSCP: SystemOps.rdtscp(c, d); return;
            case RDPID: SystemOps.rdpid(c, d); return;
            case RDPMC: SystemOps.rdpmc(c, d); return;
            case CPUID: SystemOps.cpuid(c, d); return;
            case VMCALL: SystemOps.vmcall(c, d); return;
            case LAR: SystemOps.lar(c, d); return;
            case LSL: SystemOps.lsl(c, d); return;
            case VERR: SystemOps.verr(c, d); return;
            case VERW: SystemOps.verw(c, d); return;
            case ARPL: SystemOps.arpl(c, d); return;
            case RDFSBASE: SystemOps.rdfsbase(c, d); return;
            case CLAC: SystemOps.clac(c, d); return;
            case STAC: SystemOps.stac(c, d); return;
            case RDPKRU: SystemOps.rdpkru(c, d); return;
            case WRPKRU: SystemOps.wrpkru(c, d); return;
            case FXSAVE: SystemOps.fxsave(c, d); return;
            case FXRSTOR: SystemOps.fxrstor(c, d); return;
            case XSAVE: SystemOps.xsave(c, d); return;
            case XRSTOR: SystemOps.xrstor(c, d); return;
            case XSAVEOPT: SystemOps.xsaveopt(c, d); return;
            case XSAVEC: SystemOps.xsavec(c, d); return;
            case XSAVES: SystemOps.xsaves(c, d); return;
            case XRSTORS: SystemOps.xrstors(c, d); return;
            case XGETBV: SystemOps.xgetbv(c, d); return;
            case XSETBV: SystemOps.xsetbv(c, d); return;
            case STMXCSR: SystemOps.stmxcsr(c, d); return;
            case LDMXCSR: SystemOps.ldmxcsr(c, d); return;
            case XBEGIN: Rtm.xbegin(c, d); return;
            case XEND: Rtm.xend(c, d); return;
            case XABORT: Rtm.xabort(c, d); return;
            case XTEST: Rtm.xtest(c, d); return;
            case ENDBR: Cet.endbr(c, d); return;
            case RDSSP: Cet.rdssp(c, d); return;
            case INCSSP: Cet.incssp(c, d); return;
            case RSTORSSP: Cet.rstorssp(c, d); return;
            case SAVEPREVSSP: Cet.saveprevssp(c, d); return;
            case WRSS: Cet.wrss(c, d); return;
            case WRUSS: Cet.wruss(c, d); return;
            case SETSSBSY: Cet.setssbsy(c, d); return;
            case CLRSSBSY: Cet.clrssbsy(c, d); return;
            case UD: SystemOps.ud(c, d); return;
            case TOO_LONG: SystemOps.tooLong(c, d); return;
            // END the table's rows
            default:
                if (d.op.group == Op.X87) {
                    X87.execute(c, d);
                } else {
                    Sse.execute(c, d);
                }
        }
    }
}

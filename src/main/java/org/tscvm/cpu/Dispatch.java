package org.tscvm.cpu;

/**
 * The interpreter's one dispatch point: each form's row holds its handler, the row's static
 * method ({@link Op#handlerOwner}, {@link Op#handlerName}) wrapped in a {@link Handler} object,
 * and the interpreter calls it. The SSE and x87 rows share their families' dispatchers. The
 * handlers are the table's, written out so that javac compiles them (no code generation at
 * start-up, which the empty kernel's run times); OpTableTest checks that they are exactly what
 * the table says, in its order.
 *
 * <p>Why objects and not one {@code switch} calling every handler (measured on Debian's Linux
 * boot, JDK 17, docs/compiler-tier2.md): C2 inlined the handlers into the switch's method and
 * hoisted the loads of a dozen instruction fields above its jump, for every instruction;
 * and each form first seen late in a run threw the 29 KB method out and recompiled it. Each
 * handler object's method is small and compiled on its own.
 */
final class Dispatch {
    private Dispatch() {
    }

    /**
     * A form's handler: runs {@code d}, RIP already past it. A class of its own per form, not a
     * method reference: binding a lambda runs its bootstrap (0.2-0.5 ms each at start-up, in
     * HotSpot's interpreter), and a virtual call is cheaper than an interface call.
     */
    abstract static class Handler {
        abstract void run(CpuExec c, Insn d);
    }

    /** Runs {@code d} (RIP already past it) through its form's handler. */
    static void execute(CpuExec c, Insn d) {
        Handler h = d.op.handler;
        if (h == null) {
            h = bind(d.op);
        }
        h.run(c, d);
    }

    /**
     * Binds a row to its handler the first time it runs, so that start-up makes the handler
     * objects of the forms a run uses only. Two vCPUs may bind the same row at once: both store
     * the same method's handler, an object without state.
     */
    private static Handler bind(Op op) {
        Handler h = handlerOf(op);
        op.handler = h;
        return h;
    }

    private static Handler handlerOf(Op op) {
        switch (op) {
            // BEGIN the table's rows (OpTableTest compares them with Op)
            case ALU_EG: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.aluEg(c, d); } };
            case ALU_GE: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.aluGe(c, d); } };
            case ALU_EI: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.aluEi(c, d); } };
            case TEST_EG: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.testEg(c, d); } };
            case TEST_EI: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.testEi(c, d); } };
            case INC: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.inc(c, d); } };
            case DEC: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.dec(c, d); } };
            case NOT: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.not(c, d); } };
            case NEG: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.neg(c, d); } };
            case MUL: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.mul(c, d); } };
            case IMUL1: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.imul1(c, d); } };
            case DIV: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.div(c, d); } };
            case IDIV: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.idiv(c, d); } };
            case IMUL_GEI: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.imulGei(c, d); } };
            case IMUL_GE: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.imulGe(c, d); } };
            case SHIFT_I: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.shiftI(c, d); } };
            case SHIFT_CL: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.shiftCl(c, d); } };
            case SHLD_I: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.shldI(c, d); } };
            case SHLD_CL: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.shldCl(c, d); } };
            case SHRD_I: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.shrdI(c, d); } };
            case SHRD_CL: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.shrdCl(c, d); } };
            case BT_EG: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.btEg(c, d); } };
            case BT_EI: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.btEi(c, d); } };
            case BSF: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.bsf(c, d); } };
            case BSR: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.bsr(c, d); } };
            case TZCNT: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.tzcnt(c, d); } };
            case LZCNT: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.lzcnt(c, d); } };
            case POPCNT: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.popcnt(c, d); } };
            case CBW: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.cbw(c, d); } };
            case CWD: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.cwd(c, d); } };
            case SETCC: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.setcc(c, d); } };
            case CMOVCC: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.cmovcc(c, d); } };
            case CLC: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.clc(c, d); } };
            case STC: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.stc(c, d); } };
            case CMC: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.cmc(c, d); } };
            case CLD: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.cld(c, d); } };
            case STD: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.std(c, d); } };
            case LAHF: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.lahf(c, d); } };
            case SAHF: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.sahf(c, d); } };
            case BCD: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.bcd(c, d); } };
            case ADD_R_R: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.addRR(c, d); } };
            case OR_R_R: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.orRR(c, d); } };
            case AND_R_R: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.andRR(c, d); } };
            case SUB_R_R: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.subRR(c, d); } };
            case XOR_R_R: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.xorRR(c, d); } };
            case CMP_R_R: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.cmpRR(c, d); } };
            case TEST_R_R: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.testRR(c, d); } };
            case ADD_R_I: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.addRI(c, d); } };
            case OR_R_I: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.orRI(c, d); } };
            case AND_R_I: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.andRI(c, d); } };
            case SUB_R_I: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.subRI(c, d); } };
            case XOR_R_I: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.xorRI(c, d); } };
            case CMP_R_I: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.cmpRI(c, d); } };
            case TEST_R_I: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.testRI(c, d); } };
            case ADD_R_M: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.addRM(c, d); } };
            case OR_R_M: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.orRM(c, d); } };
            case AND_R_M: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.andRM(c, d); } };
            case SUB_R_M: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.subRM(c, d); } };
            case XOR_R_M: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.xorRM(c, d); } };
            case CMP_R_M: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.cmpRM(c, d); } };
            case CMP_M_I: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.cmpMI(c, d); } };
            case CMP_M_R: return new Handler() { void run(CpuExec c, Insn d) { IntAlu.cmpMR(c, d); } };
            case MOV_EG: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movEg(c, d); } };
            case MOV_GE: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movGe(c, d); } };
            case MOV_EI: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movEi(c, d); } };
            case MOV_AL_MOFFS: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movAlMoffs(c, d); } };
            case MOV_MOFFS_AL: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movMoffsAl(c, d); } };
            case MOVZX_B: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movzxB(c, d); } };
            case MOVZX_W: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movzxW(c, d); } };
            case MOVSX_B: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movsxB(c, d); } };
            case MOVSX_W: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movsxW(c, d); } };
            case MOVSXD: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movsxd(c, d); } };
            case LEA: return new Handler() { void run(CpuExec c, Insn d) { IntMove.lea(c, d); } };
            case XCHG: return new Handler() { void run(CpuExec c, Insn d) { IntMove.xchg(c, d); } };
            case CMPXCHG: return new Handler() { void run(CpuExec c, Insn d) { IntMove.cmpxchg(c, d); } };
            case XADD: return new Handler() { void run(CpuExec c, Insn d) { IntMove.xadd(c, d); } };
            case BSWAP: return new Handler() { void run(CpuExec c, Insn d) { IntMove.bswap(c, d); } };
            case MOVBE_GM: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movbeGm(c, d); } };
            case MOVBE_MG: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movbeMg(c, d); } };
            case CMPXCHG8B: return new Handler() { void run(CpuExec c, Insn d) { IntMove.cmpxchg8b(c, d); } };
            case PUSH_E: return new Handler() { void run(CpuExec c, Insn d) { IntMove.pushE(c, d); } };
            case POP_E: return new Handler() { void run(CpuExec c, Insn d) { IntMove.popE(c, d); } };
            case PUSH_I: return new Handler() { void run(CpuExec c, Insn d) { IntMove.pushI(c, d); } };
            case PUSH_SEG: return new Handler() { void run(CpuExec c, Insn d) { IntMove.pushSeg(c, d); } };
            case POP_SEG: return new Handler() { void run(CpuExec c, Insn d) { IntMove.popSeg(c, d); } };
            case PUSHF: return new Handler() { void run(CpuExec c, Insn d) { IntMove.pushf(c, d); } };
            case POPF: return new Handler() { void run(CpuExec c, Insn d) { IntMove.popf(c, d); } };
            case PUSHA: return new Handler() { void run(CpuExec c, Insn d) { IntMove.pusha(c, d); } };
            case POPA: return new Handler() { void run(CpuExec c, Insn d) { IntMove.popa(c, d); } };
            case ENTER: return new Handler() { void run(CpuExec c, Insn d) { IntMove.enter(c, d); } };
            case LEAVE: return new Handler() { void run(CpuExec c, Insn d) { IntMove.leave(c, d); } };
            case XLAT: return new Handler() { void run(CpuExec c, Insn d) { IntMove.xlat(c, d); } };
            case MOV_SEG_E: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movSegE(c, d); } };
            case MOV_E_SEG: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movESeg(c, d); } };
            case LOAD_FAR: return new Handler() { void run(CpuExec c, Insn d) { IntMove.loadFar(c, d); } };
            case NOP: return new Handler() { void run(CpuExec c, Insn d) { IntMove.nop(c, d); } };
            case PAUSE: return new Handler() { void run(CpuExec c, Insn d) { IntMove.pause(c, d); } };
            case FENCE: return new Handler() { void run(CpuExec c, Insn d) { IntMove.fence(c, d); } };
            case MOV_R_R: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movRR(c, d); } };
            case MOV_R_I: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movRI(c, d); } };
            case MOV_R_M: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movRM(c, d); } };
            case MOV_M_R: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movMR(c, d); } };
            case MOV_M_I: return new Handler() { void run(CpuExec c, Insn d) { IntMove.movMI(c, d); } };
            case JCC: return new Handler() { void run(CpuExec c, Insn d) { Branch.jcc(c, d); } };
            case JMP_REL: return new Handler() { void run(CpuExec c, Insn d) { Branch.jmpRel(c, d); } };
            case CALL_REL: return new Handler() { void run(CpuExec c, Insn d) { Branch.callRel(c, d); } };
            case JMP_E: return new Handler() { void run(CpuExec c, Insn d) { Branch.jmpE(c, d); } };
            case CALL_E: return new Handler() { void run(CpuExec c, Insn d) { Branch.callE(c, d); } };
            case RET: return new Handler() { void run(CpuExec c, Insn d) { Branch.ret(c, d); } };
            case RET_FAR: return new Handler() { void run(CpuExec c, Insn d) { Branch.retFar(c, d); } };
            case JMP_FAR_PTR: return new Handler() { void run(CpuExec c, Insn d) { Branch.jmpFarPtr(c, d); } };
            case CALL_FAR_PTR: return new Handler() { void run(CpuExec c, Insn d) { Branch.callFarPtr(c, d); } };
            case JMP_FAR_M: return new Handler() { void run(CpuExec c, Insn d) { Branch.jmpFarM(c, d); } };
            case CALL_FAR_M: return new Handler() { void run(CpuExec c, Insn d) { Branch.callFarM(c, d); } };
            case LOOP: return new Handler() { void run(CpuExec c, Insn d) { Branch.loop(c, d); } };
            case JRCXZ: return new Handler() { void run(CpuExec c, Insn d) { Branch.jrcxz(c, d); } };
            case INT_N: return new Handler() { void run(CpuExec c, Insn d) { SystemCalls.intN(c, d); } };
            case INT3: return new Handler() { void run(CpuExec c, Insn d) { SystemCalls.int3(c, d); } };
            case INTO: return new Handler() { void run(CpuExec c, Insn d) { SystemCalls.into(c, d); } };
            case INT1: return new Handler() { void run(CpuExec c, Insn d) { SystemCalls.int1(c, d); } };
            case IRET: return new Handler() { void run(CpuExec c, Insn d) { SystemCalls.iret(c, d); } };
            case SYSCALL: return new Handler() { void run(CpuExec c, Insn d) { SystemCalls.syscall(c, d); } };
            case SYSRET: return new Handler() { void run(CpuExec c, Insn d) { SystemCalls.sysret(c, d); } };
            case SYSENTER: return new Handler() { void run(CpuExec c, Insn d) { SystemCalls.sysenter(c, d); } };
            case SYSEXIT: return new Handler() { void run(CpuExec c, Insn d) { SystemCalls.sysexit(c, d); } };
            case HLT: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.hlt(c, d); } };
            case MOVS: return new Handler() { void run(CpuExec c, Insn d) { StringOps.movs(c, d); } };
            case CMPS: return new Handler() { void run(CpuExec c, Insn d) { StringOps.cmps(c, d); } };
            case STOS: return new Handler() { void run(CpuExec c, Insn d) { StringOps.stos(c, d); } };
            case LODS: return new Handler() { void run(CpuExec c, Insn d) { StringOps.lods(c, d); } };
            case SCAS: return new Handler() { void run(CpuExec c, Insn d) { StringOps.scas(c, d); } };
            case INS: return new Handler() { void run(CpuExec c, Insn d) { StringOps.ins(c, d); } };
            case OUTS: return new Handler() { void run(CpuExec c, Insn d) { StringOps.outs(c, d); } };
            case IN_I: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.inI(c, d); } };
            case IN_DX: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.inDx(c, d); } };
            case OUT_I: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.outI(c, d); } };
            case OUT_DX: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.outDx(c, d); } };
            case CLI: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.cli(c, d); } };
            case STI: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.sti(c, d); } };
            case LGDT: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.lgdt(c, d); } };
            case LIDT: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.lidt(c, d); } };
            case SGDT: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.sgdt(c, d); } };
            case SIDT: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.sidt(c, d); } };
            case LLDT: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.lldt(c, d); } };
            case LTR: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.ltr(c, d); } };
            case SLDT: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.sldt(c, d); } };
            case STR: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.str(c, d); } };
            case SMSW: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.smsw(c, d); } };
            case LMSW: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.lmsw(c, d); } };
            case INVLPG: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.invlpg(c, d); } };
            case MOV_CR_R: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.movCrR(c, d); } };
            case MOV_R_CR: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.movRCr(c, d); } };
            case MOV_DR_R: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.movDrR(c, d); } };
            case MOV_R_DR: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.movRDr(c, d); } };
            case CLTS: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.clts(c, d); } };
            case WBINVD: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.wbinvd(c, d); } };
            case CLFLUSH: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.clflush(c, d); } };
            case CLFLUSHOPT: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.clflushopt(c, d); } };
            case CLWB: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.clwb(c, d); } };
            case SWAPGS: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.swapgs(c, d); } };
            case RDMSR: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.rdmsr(c, d); } };
            case WRMSR: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.wrmsr(c, d); } };
            case RDTSC: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.rdtsc(c, d); } };
            case RDTSCP: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.rdtscp(c, d); } };
            case RDPID: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.rdpid(c, d); } };
            case RDPMC: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.rdpmc(c, d); } };
            case CPUID: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.cpuid(c, d); } };
            case VMCALL: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.vmcall(c, d); } };
            case LAR: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.lar(c, d); } };
            case LSL: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.lsl(c, d); } };
            case VERR: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.verr(c, d); } };
            case VERW: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.verw(c, d); } };
            case ARPL: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.arpl(c, d); } };
            case RDFSBASE: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.rdfsbase(c, d); } };
            case CLAC: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.clac(c, d); } };
            case STAC: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.stac(c, d); } };
            case RDPKRU: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.rdpkru(c, d); } };
            case WRPKRU: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.wrpkru(c, d); } };
            case FXSAVE: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.fxsave(c, d); } };
            case FXRSTOR: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.fxrstor(c, d); } };
            case XSAVE: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.xsave(c, d); } };
            case XRSTOR: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.xrstor(c, d); } };
            case XSAVEOPT: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.xsaveopt(c, d); } };
            case XSAVEC: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.xsavec(c, d); } };
            case XSAVES: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.xsaves(c, d); } };
            case XRSTORS: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.xrstors(c, d); } };
            case XGETBV: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.xgetbv(c, d); } };
            case XSETBV: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.xsetbv(c, d); } };
            case STMXCSR: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.stmxcsr(c, d); } };
            case LDMXCSR: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.ldmxcsr(c, d); } };
            case XBEGIN: return new Handler() { void run(CpuExec c, Insn d) { Rtm.xbegin(c, d); } };
            case XEND: return new Handler() { void run(CpuExec c, Insn d) { Rtm.xend(c, d); } };
            case XABORT: return new Handler() { void run(CpuExec c, Insn d) { Rtm.xabort(c, d); } };
            case XTEST: return new Handler() { void run(CpuExec c, Insn d) { Rtm.xtest(c, d); } };
            case ENDBR: return new Handler() { void run(CpuExec c, Insn d) { Cet.endbr(c, d); } };
            case RDSSP: return new Handler() { void run(CpuExec c, Insn d) { Cet.rdssp(c, d); } };
            case INCSSP: return new Handler() { void run(CpuExec c, Insn d) { Cet.incssp(c, d); } };
            case RSTORSSP: return new Handler() { void run(CpuExec c, Insn d) { Cet.rstorssp(c, d); } };
            case SAVEPREVSSP: return new Handler() { void run(CpuExec c, Insn d) { Cet.saveprevssp(c, d); } };
            case WRSS: return new Handler() { void run(CpuExec c, Insn d) { Cet.wrss(c, d); } };
            case WRUSS: return new Handler() { void run(CpuExec c, Insn d) { Cet.wruss(c, d); } };
            case SETSSBSY: return new Handler() { void run(CpuExec c, Insn d) { Cet.setssbsy(c, d); } };
            case CLRSSBSY: return new Handler() { void run(CpuExec c, Insn d) { Cet.clrssbsy(c, d); } };
            case UD: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.ud(c, d); } };
            case TOO_LONG: return new Handler() { void run(CpuExec c, Insn d) { SystemOps.tooLong(c, d); } };
            // END the table's rows
            default:
                if (op.group == Op.X87) {
                    return new Handler() { void run(CpuExec c, Insn d) { X87.execute(c, d); } };
                }
                return new Handler() { void run(CpuExec c, Insn d) { Sse.execute(c, d); } };
        }
    }
}

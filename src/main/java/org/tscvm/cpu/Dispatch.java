package org.tscvm.cpu;

/**
 * The interpreter's one dispatch point: each form's row holds its handler, the row's static
 * method ({@link Op#handlerOwner}, {@link Op#handlerName}) as a {@link Handler} object, and the
 * interpreter calls it. The SSE and x87 rows share their families' dispatchers. The method
 * references are the table's, written out so that javac compiles them (no code generation at
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

    /** A form's handler: runs {@code d}, RIP already past it. */
    @FunctionalInterface
    interface Handler {
        void run(CpuExec c, Insn d);
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
            case ALU_EG: return IntAlu::aluEg;
            case ALU_GE: return IntAlu::aluGe;
            case ALU_EI: return IntAlu::aluEi;
            case TEST_EG: return IntAlu::testEg;
            case TEST_EI: return IntAlu::testEi;
            case INC: return IntAlu::inc;
            case DEC: return IntAlu::dec;
            case NOT: return IntAlu::not;
            case NEG: return IntAlu::neg;
            case MUL: return IntAlu::mul;
            case IMUL1: return IntAlu::imul1;
            case DIV: return IntAlu::div;
            case IDIV: return IntAlu::idiv;
            case IMUL_GEI: return IntAlu::imulGei;
            case IMUL_GE: return IntAlu::imulGe;
            case SHIFT_I: return IntAlu::shiftI;
            case SHIFT_CL: return IntAlu::shiftCl;
            case SHLD_I: return IntAlu::shldI;
            case SHLD_CL: return IntAlu::shldCl;
            case SHRD_I: return IntAlu::shrdI;
            case SHRD_CL: return IntAlu::shrdCl;
            case BT_EG: return IntAlu::btEg;
            case BT_EI: return IntAlu::btEi;
            case BSF: return IntAlu::bsf;
            case BSR: return IntAlu::bsr;
            case TZCNT: return IntAlu::tzcnt;
            case LZCNT: return IntAlu::lzcnt;
            case POPCNT: return IntAlu::popcnt;
            case CBW: return IntAlu::cbw;
            case CWD: return IntAlu::cwd;
            case SETCC: return IntAlu::setcc;
            case CMOVCC: return IntAlu::cmovcc;
            case CLC: return IntAlu::clc;
            case STC: return IntAlu::stc;
            case CMC: return IntAlu::cmc;
            case CLD: return IntAlu::cld;
            case STD: return IntAlu::std;
            case LAHF: return IntAlu::lahf;
            case SAHF: return IntAlu::sahf;
            case BCD: return IntAlu::bcd;
            case ADD_R_R: return IntAlu::addRR;
            case OR_R_R: return IntAlu::orRR;
            case AND_R_R: return IntAlu::andRR;
            case SUB_R_R: return IntAlu::subRR;
            case XOR_R_R: return IntAlu::xorRR;
            case CMP_R_R: return IntAlu::cmpRR;
            case TEST_R_R: return IntAlu::testRR;
            case ADD_R_I: return IntAlu::addRI;
            case OR_R_I: return IntAlu::orRI;
            case AND_R_I: return IntAlu::andRI;
            case SUB_R_I: return IntAlu::subRI;
            case XOR_R_I: return IntAlu::xorRI;
            case CMP_R_I: return IntAlu::cmpRI;
            case TEST_R_I: return IntAlu::testRI;
            case ADD_R_M: return IntAlu::addRM;
            case OR_R_M: return IntAlu::orRM;
            case AND_R_M: return IntAlu::andRM;
            case SUB_R_M: return IntAlu::subRM;
            case XOR_R_M: return IntAlu::xorRM;
            case CMP_R_M: return IntAlu::cmpRM;
            case CMP_M_I: return IntAlu::cmpMI;
            case CMP_M_R: return IntAlu::cmpMR;
            case MOV_EG: return IntMove::movEg;
            case MOV_GE: return IntMove::movGe;
            case MOV_EI: return IntMove::movEi;
            case MOV_AL_MOFFS: return IntMove::movAlMoffs;
            case MOV_MOFFS_AL: return IntMove::movMoffsAl;
            case MOVZX_B: return IntMove::movzxB;
            case MOVZX_W: return IntMove::movzxW;
            case MOVSX_B: return IntMove::movsxB;
            case MOVSX_W: return IntMove::movsxW;
            case MOVSXD: return IntMove::movsxd;
            case LEA: return IntMove::lea;
            case XCHG: return IntMove::xchg;
            case CMPXCHG: return IntMove::cmpxchg;
            case XADD: return IntMove::xadd;
            case BSWAP: return IntMove::bswap;
            case MOVBE_GM: return IntMove::movbeGm;
            case MOVBE_MG: return IntMove::movbeMg;
            case CMPXCHG8B: return IntMove::cmpxchg8b;
            case PUSH_E: return IntMove::pushE;
            case POP_E: return IntMove::popE;
            case PUSH_I: return IntMove::pushI;
            case PUSH_SEG: return IntMove::pushSeg;
            case POP_SEG: return IntMove::popSeg;
            case PUSHF: return IntMove::pushf;
            case POPF: return IntMove::popf;
            case PUSHA: return IntMove::pusha;
            case POPA: return IntMove::popa;
            case ENTER: return IntMove::enter;
            case LEAVE: return IntMove::leave;
            case XLAT: return IntMove::xlat;
            case MOV_SEG_E: return IntMove::movSegE;
            case MOV_E_SEG: return IntMove::movESeg;
            case LOAD_FAR: return IntMove::loadFar;
            case NOP: return IntMove::nop;
            case PAUSE: return IntMove::pause;
            case FENCE: return IntMove::fence;
            case MOV_R_R: return IntMove::movRR;
            case MOV_R_I: return IntMove::movRI;
            case MOV_R_M: return IntMove::movRM;
            case MOV_M_R: return IntMove::movMR;
            case MOV_M_I: return IntMove::movMI;
            case JCC: return Branch::jcc;
            case JMP_REL: return Branch::jmpRel;
            case CALL_REL: return Branch::callRel;
            case JMP_E: return Branch::jmpE;
            case CALL_E: return Branch::callE;
            case RET: return Branch::ret;
            case RET_FAR: return Branch::retFar;
            case JMP_FAR_PTR: return Branch::jmpFarPtr;
            case CALL_FAR_PTR: return Branch::callFarPtr;
            case JMP_FAR_M: return Branch::jmpFarM;
            case CALL_FAR_M: return Branch::callFarM;
            case LOOP: return Branch::loop;
            case JRCXZ: return Branch::jrcxz;
            case INT_N: return SystemCalls::intN;
            case INT3: return SystemCalls::int3;
            case INTO: return SystemCalls::into;
            case INT1: return SystemCalls::int1;
            case IRET: return SystemCalls::iret;
            case SYSCALL: return SystemCalls::syscall;
            case SYSRET: return SystemCalls::sysret;
            case SYSENTER: return SystemCalls::sysenter;
            case SYSEXIT: return SystemCalls::sysexit;
            case HLT: return SystemOps::hlt;
            case MOVS: return StringOps::movs;
            case CMPS: return StringOps::cmps;
            case STOS: return StringOps::stos;
            case LODS: return StringOps::lods;
            case SCAS: return StringOps::scas;
            case INS: return StringOps::ins;
            case OUTS: return StringOps::outs;
            case IN_I: return SystemOps::inI;
            case IN_DX: return SystemOps::inDx;
            case OUT_I: return SystemOps::outI;
            case OUT_DX: return SystemOps::outDx;
            case CLI: return SystemOps::cli;
            case STI: return SystemOps::sti;
            case LGDT: return SystemOps::lgdt;
            case LIDT: return SystemOps::lidt;
            case SGDT: return SystemOps::sgdt;
            case SIDT: return SystemOps::sidt;
            case LLDT: return SystemOps::lldt;
            case LTR: return SystemOps::ltr;
            case SLDT: return SystemOps::sldt;
            case STR: return SystemOps::str;
            case SMSW: return SystemOps::smsw;
            case LMSW: return SystemOps::lmsw;
            case INVLPG: return SystemOps::invlpg;
            case MOV_CR_R: return SystemOps::movCrR;
            case MOV_R_CR: return SystemOps::movRCr;
            case MOV_DR_R: return SystemOps::movDrR;
            case MOV_R_DR: return SystemOps::movRDr;
            case CLTS: return SystemOps::clts;
            case WBINVD: return SystemOps::wbinvd;
            case CLFLUSH: return SystemOps::clflush;
            case CLFLUSHOPT: return SystemOps::clflushopt;
            case CLWB: return SystemOps::clwb;
            case SWAPGS: return SystemOps::swapgs;
            case RDMSR: return SystemOps::rdmsr;
            case WRMSR: return SystemOps::wrmsr;
            case RDTSC: return SystemOps::rdtsc;
            case RDTSCP: return SystemOps::rdtscp;
            case RDPID: return SystemOps::rdpid;
            case RDPMC: return SystemOps::rdpmc;
            case CPUID: return SystemOps::cpuid;
            case VMCALL: return SystemOps::vmcall;
            case LAR: return SystemOps::lar;
            case LSL: return SystemOps::lsl;
            case VERR: return SystemOps::verr;
            case VERW: return SystemOps::verw;
            case ARPL: return SystemOps::arpl;
            case RDFSBASE: return SystemOps::rdfsbase;
            case CLAC: return SystemOps::clac;
            case STAC: return SystemOps::stac;
            case RDPKRU: return SystemOps::rdpkru;
            case WRPKRU: return SystemOps::wrpkru;
            case FXSAVE: return SystemOps::fxsave;
            case FXRSTOR: return SystemOps::fxrstor;
            case XSAVE: return SystemOps::xsave;
            case XRSTOR: return SystemOps::xrstor;
            case XSAVEOPT: return SystemOps::xsaveopt;
            case XSAVEC: return SystemOps::xsavec;
            case XSAVES: return SystemOps::xsaves;
            case XRSTORS: return SystemOps::xrstors;
            case XGETBV: return SystemOps::xgetbv;
            case XSETBV: return SystemOps::xsetbv;
            case STMXCSR: return SystemOps::stmxcsr;
            case LDMXCSR: return SystemOps::ldmxcsr;
            case XBEGIN: return Rtm::xbegin;
            case XEND: return Rtm::xend;
            case XABORT: return Rtm::xabort;
            case XTEST: return Rtm::xtest;
            case ENDBR: return Cet::endbr;
            case RDSSP: return Cet::rdssp;
            case INCSSP: return Cet::incssp;
            case RSTORSSP: return Cet::rstorssp;
            case SAVEPREVSSP: return Cet::saveprevssp;
            case WRSS: return Cet::wrss;
            case WRUSS: return Cet::wruss;
            case SETSSBSY: return Cet::setssbsy;
            case CLRSSBSY: return Cet::clrssbsy;
            case UD: return SystemOps::ud;
            case TOO_LONG: return SystemOps::tooLong;
            // END the table's rows
            default:
                return op.group == Op.X87 ? X87::execute : Sse::execute;
        }
    }
}

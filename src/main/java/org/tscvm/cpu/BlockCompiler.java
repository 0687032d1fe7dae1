package org.tscvm.cpu;

import static org.objectweb.asm.Opcodes.*;

import java.lang.invoke.MethodHandles;
import java.util.Arrays;
import java.lang.invoke.MethodType;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Label;
import org.objectweb.asm.MethodVisitor;

/**
 * Compiles a decoded block into one JVM method (a hidden class extending
 * {@link BlockCode}), the step QEMU's TCG takes over an interpreter: the dispatch, the
 * per-instruction RIP and retired-count updates and the operand fields of {@link Insn} become
 * constants. Guest registers live in JVM locals across the block, loaded on first use and
 * written back to {@code regs[]} only where something can observe them: the block's exits
 * and calls that read them or can fault. The lazy flags likewise stay in locals until then,
 * so flags that a later instruction overwrites first are never stored; compare-and-branch
 * pairs test the operands directly.
 *
 * <p>The commonest integer forms (register, immediate or flat 64-bit memory operands) are
 * generated inline; every other form calls its row's handler ({@link Op#handlerName}) by
 * {@code INVOKESTATIC}, the very method the interpreter's {@link Dispatch} calls, with RIP, the
 * previous RIP and the retired count made exact first. Memory operands and calls are followed
 * by a test of {@code endBlock} (an MMIO access or a store into code), which leaves the block
 * as the interpreter's loop does.
 */
final class BlockCompiler {
    private static final MethodHandles.Lookup LOOKUP = MethodHandles.lookup();
    private static final MethodType CONSTRUCTOR = MethodType.methodType(void.class);
    private static final String CPU = "org/tscvm/cpu/Cpu";
    private static final String BASE = "org/tscvm/cpu/BlockCode";
    private static final String NAME = "org/tscvm/cpu/CompiledBlock";
    private static final String INSN = "org/tscvm/cpu/Insn";

    // Local variable slots of the generated run(Cpu, Insn[]) method. RETIRED_BASE is the retired
    // count when the block's current run began (a compiled loop advances it each iteration).
    private static final int CPU_ARG = 1, INSNS_ARG = 2, REGS = 3, RETIRED_BASE = 4, DST = 6, SRC = 8,
            RES = 10, ADDR = 12, FIRST_REG_LOCAL = 14, TEMP = FIRST_REG_LOCAL + 32, QUOTIENT = TEMP + 2;

    private static final long MASK32 = 0xffffffffL;
    /**
     * Bytecode a block's method may reach before its next instruction: HotSpot leaves a method
     * of more than 8000 bytes to its interpreter (-XX:HugeMethodLimit), and no one instruction
     * and the block's end take 1000.
     */
    private static final int METHOD_BYTES_BUDGET = 7000;

    // The interpreter's members compiled code uses. Methods are named by method references
    // (resolved once, so a rename is a compile error); fields by names checked when this class
    // loads (a rename fails the first compile, never a guest).
    private interface LongOfLongInt extends java.io.Serializable { long f(CpuExec c, long a, int b); }
    private interface VoidOfLongInt extends java.io.Serializable { void f(CpuExec c, long a, int b); }
    private interface VoidOfLongIntLong extends java.io.Serializable { void f(CpuExec c, long a, int b, long v); }
    private interface VoidOfLong extends java.io.Serializable { void f(CpuExec c, long a); }
    private interface LongOfInt extends java.io.Serializable { long f(CpuExec c, int a); }
    private interface LongOf extends java.io.Serializable { long f(CpuExec c); }
    private interface BoolOfInt extends java.io.Serializable { boolean f(CpuExec c, int a); }
    private interface BoolOf extends java.io.Serializable { boolean f(CpuExec c); }
    private interface FaultOfInt extends java.io.Serializable { CpuFault f(CpuExec c, int a); }
    private interface Shift extends java.io.Serializable { long f(CpuExec c, long v, int kind, int count, int size); }
    private interface Multiply extends java.io.Serializable { long f(CpuExec c, int size, long a, long b); }
    private interface Alu extends java.io.Serializable { long f(CpuExec c, int kind, int size, long dst, long src, boolean cin); }
    private interface Lanes extends java.io.Serializable { long f(long a, long b, long h); }

    private static final MemberRef READ_LIN = MemberRef.of((LongOfLongInt) CpuExec::readLin);
    private static final MemberRef WRITE_LIN = MemberRef.of((VoidOfLongIntLong) CpuExec::writeLin);
    private static final MemberRef PROBE_WRITE = MemberRef.of((VoidOfLongInt) CpuExec::probeWrite);
    private static final MemberRef READ_STACK = MemberRef.of((LongOfLongInt) CpuExec::readStack);
    private static final MemberRef PUSH = MemberRef.of((VoidOfLongInt) CpuExec::push);
    private static final MemberRef POP = MemberRef.of((LongOfInt) CpuExec::pop);
    private static final MemberRef ADJUST_SP = MemberRef.of((VoidOfLong) CpuExec::adjustSp);
    private static final MemberRef COND = MemberRef.of((BoolOfInt) CpuExec::cond);
    private static final MemberRef CF = MemberRef.of((BoolOf) CpuExec::cf);
    private static final MemberRef RDTSC_VALUE = MemberRef.of((LongOf) CpuExec::rdtsc);
    private static final MemberRef RDMSR_VALUE = MemberRef.of((LongOf) CpuExec::rdmsr);
    private static final MemberRef NON_CANONICAL = MemberRef.of((FaultOfInt) CpuExec::nonCanonical);
    private static final MemberRef SHIFT_VALUE = MemberRef.of((Shift) IntAlu::shiftValue);
    private static final MemberRef IMUL2 = MemberRef.of((Multiply) IntAlu::imul2);
    private static final MemberRef ALU_CORE = MemberRef.of((Alu) CpuExec::alu);
    private static final MemberRef LANES_ADD = MemberRef.of((Lanes) SseInteger::add);
    private static final MemberRef LANES_SUB = MemberRef.of((Lanes) SseInteger::sub);

    private static final String REGS_FIELD = field("regs"), RETIRED = field("retired"), RIP = field("rip"),
            EVENTS = field("events"), LOOP_LIMIT = field("compiledLoopLimit"),
            PREV_RIP = field("prevRip"), END_BLOCK = field("endBlock"), LF_SAVED_CF = field("lfSavedCf"),
            LF_OP = field("lfOp"), LF_SIZE = field("lfSize"), LF_DST = field("lfDst"), LF_SRC = field("lfSrc"),
            LF_RES = field("lfRes"), SEG_BASE = field("segBase"), XMM = field("xmm"), CR0 = field("cr0"),
            CR4 = field("cr4");

    /** {@code name}, checked to be a field of {@link Cpu} or a class it extends. */
    private static String field(String name) {
        for (Class<?> k = Cpu.class; k != null; k = k.getSuperclass()) {
            try {
                k.getDeclaredField(name);
                return name;
            } catch (NoSuchFieldException e) {
                // look in the superclass
            }
        }
        throw new ExceptionInInitializerError("Cpu has no field " + name);
    }

    /** Calls {@code t} with its arguments (the CPU first) on the stack. */
    private void invoke(MemberRef t) {
        mv.visitMethodInsn(t.isStatic() ? INVOKESTATIC : INVOKEVIRTUAL, t.owner(), t.name(), t.descriptor(), false);
    }

    private MethodVisitor mv;
    /** Lazy-flag kind and size whose operands DST, SRC and RES still hold, or LF_NONE. */
    private int liveFlagsKind;
    private int liveFlagsSize;
    /**
     * Lazy-flag kind and size that DST, SRC and RES hold and the CPU's lazy record does not
     * yet (the record is stored at an exit or before a reader), or LF_NONE.
     */
    private int pendingFlagsKind;
    private int pendingFlagsSize;
    /** Per guest register, at this point of the generated code: its local holds it; the local is newer than regs[]. */
    private final boolean[] cached = new boolean[16];
    private final boolean[] dirty = new boolean[16];
    /** Depth of the conditional code being emitted: a register's local must not be first set inside it. */
    private int branchDepth;
    /** Registers used anywhere in the block; whether any instruction went to its handler. */
    private final boolean[] everCached = new boolean[16];
    private boolean usedHandler;
    /**
     * Registers whose locals are newer than regs[] where a branch goes back to the block's
     * start: the first pass finds them; the loop head treats them as written, and a second
     * pass that finds one more (loopMismatch) is not used.
     */
    private final boolean[] backEdgeDirty = new boolean[16];
    private final boolean[] headDirty = new boolean[16];
    private boolean loopMismatch;
    /** Instructions the method covers (fewer than the block's when it grew too long). */
    private int covered;
    /** In a block that branches back to its own start: the loop head, after the registers are loaded. */
    private Label loopHead;
    private long blockIp;
    private Insn[] blockInsns;
    /** Each instruction's RIP: consecutive in a block; a loop region jumps between its blocks. */
    private long[] blockIps;
    private int blockCount;
    /**
     * The index of the instruction that overwrites the flags a shift or rotate left unwritten
     * (its flags were dead), or -1: the method is not cut before it, as a cut would leave the
     * flags from before the shift in the CPU at an instruction boundary.
     */
    private int deadFlagsThrough;

    /** -1 in 64-bit mode; else the EIP/IP wrap mask, and only mode-free register forms are generated inline. */
    private final long ripMask;

    private BlockCompiler(long ripMask) {
        this.ripMask = ripMask;
    }

    /**
     * Compiles the first {@code count} instructions of {@code insns}, decoded at {@code ip} in
     * a mode whose instruction pointer wraps at {@code ripMask} (-1 in 64-bit mode, 0xffffffff
     * for 32-bit code, 0xffff for 16-bit code). The result is only valid for that RIP and that
     * decoded form. A block too long for one method HotSpot compiles is compiled up to the
     * instruction that would take it over, and the code then leaves with RIP there.
     */
    static BlockCode compile(Insn[] insns, int count, long ip, long ripMask) {
        long[] ips = new long[count];
        long at = ip;
        for (int i = 0; i < count; i++) {
            ips[i] = at;
            at = (at + insns[i].len) & ripMask;
        }
        BlockCompiler c = new BlockCompiler(ripMask);
        byte[] straight = c.emit(insns, ips, count, null, null);
        byte[] loop = c.loop(insns, ips, count);
        return define(loop != null ? loop : straight, ip);
    }

    /**
     * Compiles a region of several 64-bit blocks as one method: {@code insns} are the blocks'
     * instructions in the order the region runs them and {@code ips} their RIPs. Where one
     * block goes on to the next by a JMP, a fall-through or a Jcc, the region follows that
     * edge inside the method, and the Jcc's other way is an exit. When the region ends with a
     * branch back to its start and every instruction is generated inline, it is a JVM loop;
     * otherwise it runs once through (a trace), calling handlers with {@code insns} as the
     * instructions the code is given.
     */
    static BlockCode compileRegion(Insn[] insns, long[] ips, int count) {
        BlockCompiler c = new BlockCompiler(-1);
        byte[] straight = c.emit(insns, ips, count, null, null);
        byte[] loop = c.loop(insns, ips, count);
        return define(loop != null ? loop : straight, ips[0]);
    }

    private static BlockCode define(byte[] bytes, long ip) {
        try {
            MethodHandles.Lookup hidden = LOOKUP.defineHiddenClass(bytes, true);
            return (BlockCode) hidden.findConstructor(hidden.lookupClass(), CONSTRUCTOR).invoke();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("block at " + Long.toHexString(ip) + " did not load", e);
        }
    }

    /**
     * After a straight pass ({@link #emit} without a loop): the class of the instructions as a
     * JVM loop, or null. Code that branches back to its own start (a guest loop) becomes a JVM
     * loop, with the registers it uses kept in locals across iterations, when every
     * instruction is generated inline: the straight pass found out whether they are and which
     * registers the loop uses and writes; this second pass emits the loop.
     */
    private byte[] loop(Insn[] insns, long[] ips, int count) {
        if (ripMask != -1 || usedHandler || covered != count || !branchesToStart(insns, ips, count)) {
            return null;
        }
        byte[] loop = emit(insns, ips, count, everCached.clone(), backEdgeDirty.clone());
        // The loop's register loads can push it past the method budget; a back edge with a
        // register the head did not expect newer is not expected, and never wrong.
        return covered != count || loopMismatch ? null : loop;
    }

    /**
     * True when a Jcc, or a JMP ending the code, goes to the first instruction; or the last
     * instruction is a Jcc whose fall-through is the first (a region that closes that way).
     */
    private static boolean branchesToStart(Insn[] insns, long[] ips, int count) {
        long start = ips[0];
        for (int i = 0; i < count; i++) {
            Insn d = insns[i];
            long next = ips[i] + d.len;
            boolean last = i == count - 1;
            if (d.opSize == 8 && (d.op == Op.JCC || d.op == Op.JMP_REL && last) && next + d.imm == start) {
                return true;
            }
            if (last && d.op == Op.JCC && d.opSize == 8 && next == start) {
                return true;
            }
        }
        return false;
    }

    /**
     * One pass of code generation; with {@code loopUses}, the block loops: those registers are
     * loaded before the loop head, and those in {@code loopDirty} (newer than regs[] at a back
     * edge) are treated there as newer.
     */
    private byte[] emit(Insn[] insns, long[] ips, int count, boolean[] loopUses, boolean[] loopDirty) {
        long ip = ips[0];
        Arrays.fill(cached, false);
        Arrays.fill(dirty, false);
        Arrays.fill(everCached, false);
        Arrays.fill(backEdgeDirty, false);
        usedHandler = false;
        loopMismatch = false;
        branchDepth = 0;
        blockIp = ip;
        blockInsns = insns;
        blockIps = ips;
        blockCount = count;
        deadFlagsThrough = -1;
        loopHead = null;
        ClassWriter cw = new ClassWriter(ClassWriter.COMPUTE_FRAMES);
        cw.visit(V17, ACC_FINAL | ACC_SUPER | ACC_SYNTHETIC, NAME, null, BASE, null);
        mv = cw.visitMethod(0, "run", "(L" + CPU + ";[L" + INSN + ";)V", null, null);
        mv.visitCode();
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitFieldInsn(GETFIELD, CPU, REGS_FIELD, "[J");
        mv.visitVarInsn(ASTORE, REGS);
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitFieldInsn(GETFIELD, CPU, RETIRED, "J");
        mv.visitVarInsn(LSTORE, RETIRED_BASE);
        liveFlagsKind = CpuState.LF_NONE;
        pendingFlagsKind = CpuState.LF_NONE;
        Arrays.fill(headDirty, false);
        if (loopUses != null) {
            System.arraycopy(loopDirty, 0, headDirty, 0, 16);
            for (int r = 0; r < 16; r++) {
                if (loopUses[r]) {
                    ensureCached(r);
                    dirty[r] = loopDirty[r];
                }
            }
            loopHead = new Label();
            mv.visitLabel(loopHead);
        }

        boolean ripSet = false;
        covered = count;
        for (int i = 0; i < count; i++) {
            long at = ips[i];
            long before = i > 0 ? ips[i - 1] : at;
            if (i > 0 && i > deadFlagsThrough && codeSize() > METHOD_BYTES_BUDGET) {
                // The method would grow past what HotSpot compiles: it covers the instructions
                // so far, and the rest of the block runs as a block of its own from here.
                writeBack();
                putLong(RIP, at);
                putLong(PREV_RIP, before);
                putRetired(i);
                covered = i;
                break;
            }
            Insn d = insns[i];
            long next = (at + d.len) & ripMask;
            ripSet = instruction(i, d, at, next, i == count - 1);
            if (i == count - 1) {
                writeBack();
                if (!ripSet) {
                    putLong(RIP, next);
                }
                putLong(PREV_RIP, at);
                putRetired(count);
            }
        }
        mv.visitInsn(RETURN);
        mv.visitMaxs(0, 0);
        mv.visitEnd();

        MethodVisitor init = cw.visitMethod(0, "<init>", "()V", null, null);
        init.visitCode();
        init.visitVarInsn(ALOAD, 0);
        init.visitLdcInsn(covered);
        init.visitInsn(loopUses != null ? ICONST_1 : ICONST_0);
        init.visitMethodInsn(INVOKESPECIAL, BASE, "<init>", "(IZ)V", false);
        init.visitInsn(RETURN);
        init.visitMaxs(0, 0);
        init.visitEnd();
        cw.visitEnd();
        return cw.toByteArray();
    }

    /**
     * The taken branch back to the block's start, in a compiled loop: the next iteration runs
     * here unless an event is pending or it would pass the run loop's instruction limit (the
     * checks {@code Cpu.runCompiled} makes between blocks; the rest cannot change inside a
     * block of inline forms). Emitted inside a branch: it changes no compile-time state.
     */
    private void loopBack(long at, int retiredInIteration) {
        noteBackEdge();
        storeFlags();
        for (int r = 0; r < 16; r++) {
            if (everCached[r] && !cached[r]) {
                // Changed in regs[] by a call (RSP by PUSH, POP, RET): the loop head expects it in its local.
                mv.visitVarInsn(ALOAD, REGS);
                iconst(r);
                mv.visitInsn(LALOAD);
                mv.visitVarInsn(LSTORE, FIRST_REG_LOCAL + 2 * r);
            }
        }
        mv.visitVarInsn(LLOAD, RETIRED_BASE);
        lconst(retiredInIteration);
        mv.visitInsn(LADD);
        mv.visitVarInsn(LSTORE, RETIRED_BASE);
        Label leave = new Label();
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitFieldInsn(GETFIELD, CPU, EVENTS, "I");
        mv.visitJumpInsn(IFNE, leave);
        mv.visitVarInsn(LLOAD, RETIRED_BASE);
        lconst(blockCount);
        mv.visitInsn(LADD);
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitFieldInsn(GETFIELD, CPU, LOOP_LIMIT, "J");
        mv.visitInsn(LCMP);
        mv.visitJumpInsn(IFLE, loopHead);
        mv.visitLabel(leave);
        writeBack();
        putLong(RIP, blockIp);
        putLong(PREV_RIP, at);
        putRetired(0);
        mv.visitInsn(RETURN);
    }

    /** Records the registers newer than regs[] at a branch to the block's start. */
    private void noteBackEdge() {
        for (int r = 0; r < 16; r++) {
            if (dirty[r]) {
                backEdgeDirty[r] = true;
                // In the loop pass, the head must already treat it as written.
                loopMismatch |= loopHead != null && !headDirty[r];
            }
        }
    }

    /** Bytes of bytecode emitted so far in the block's method. */
    private int codeSize() {
        Label here = new Label();
        mv.visitLabel(here);
        return here.getOffset();
    }

    /** Emits instruction {@code i}; true when the emitted code has set RIP itself. */
    private boolean instruction(int i, Insn d, long ip, long next, boolean last) {
        int size = d.opSize;
        boolean wide = size == 4 || size == 8;
        Op op = d.op;
        if (ripMask == -1 && !d.mem && !d.lock && sseRegisterForm(op)) {
            sseRegister(i, d, ip, next);
            return false;
        }
        if (size == 1 && !d.mem && !d.lock && (op == Op.TEST_EI || op == Op.TEST_EG
                || (op == Op.ALU_EI || op == Op.ALU_EG || op == Op.ALU_GE) && d.sub != 2 && d.sub != 3)) {
            byteAlu(d);
            return false;
        }
        if ((size == 1 || size == 2) && !d.lock && d.rep == 0 && (!d.mem || d.famode != Insn.AM_GENERIC)
                && narrowForm(i, d, ip, next, last)) {
            return false;
        }
        if (d.lock || d.rep != 0 || (ripMask != -1 && (d.mem || op.endsBlock))) {
            // Outside 64-bit mode segmented operands and EIP-wrapping branches stay the handlers'.
            return generic(i, d, ip, next, last);
        }
        if (op == Op.SETCC && !d.mem) {
            setccRegister(d);
            return false;
        }
        if (op == Op.NOP) {
            return false;
        }
        if (op == Op.CBW && wide) {
            // CDQE, CWDE: RAX from EAX, or EAX from AX, sign-extended.
            storeReg(Cpu.RAX, () -> {
                pushReg(Cpu.RAX);
                mv.visitInsn(L2I);
                if (size == 4) {
                    mv.visitInsn(I2S);
                }
                mv.visitInsn(I2L);
                mask(size);
            });
            return false;
        }
        if (!wide || (d.mem && d.famode == Insn.AM_GENERIC)) {
            return generic(i, d, ip, next, last);
        }
        // The flag operands of an earlier ALU op stay in DST/SRC/RES through the forms that
        // neither write flags nor use those locals; the others replace or drop them.
        switch (op) {
            case MOV_R_R:
                storeReg(d.fa, () -> loadReg(d.fb, size));
                return false;
            case MOV_R_I:
                storeReg(d.fa, () -> lconst(d.fimm));
                return false;
            case LEA:
                address(d, next);
                mask(size);
                mv.visitVarInsn(LSTORE, ADDR);
                storeReg(d.reg, () -> mv.visitVarInsn(LLOAD, ADDR));
                return false;
            case ADD_R_R: case OR_R_R: case AND_R_R: case SUB_R_R: case XOR_R_R: case CMP_R_R: case TEST_R_R:
                loadReg(d.fa, size);
                mv.visitVarInsn(LSTORE, DST);
                loadReg(d.fb, size);
                mv.visitVarInsn(LSTORE, SRC);
                alu(aluOf(op), d.fa, size);
                return false;
            case ADD_R_I: case OR_R_I: case AND_R_I: case SUB_R_I: case XOR_R_I: case CMP_R_I: case TEST_R_I:
                loadReg(d.fa, size);
                mv.visitVarInsn(LSTORE, DST);
                lconst(d.fimm);
                mv.visitVarInsn(LSTORE, SRC);
                alu(aluOf(op), d.fa, size);
                return false;
            case ADD_R_M: case OR_R_M: case AND_R_M: case SUB_R_M: case XOR_R_M: case CMP_R_M:
                sync(i, ip, next);
                load(d, next, size);
                mv.visitVarInsn(LSTORE, SRC);
                loadReg(d.fa, size);
                mv.visitVarInsn(LSTORE, DST);
                alu(aluOf(op), d.fa, size);
                endCheck(i, last);
                return false;
            case CMP_M_I: case CMP_M_R:
                sync(i, ip, next);
                load(d, next, size);
                memoryAndSource(d, size, op == Op.CMP_M_I, d.fb);
                alu(ALU_CMP, -1, size);
                endCheck(i, last);
                return false;
            case MOV_R_M:
                sync(i, ip, next);
                load(d, next, size);
                mv.visitVarInsn(LSTORE, ADDR);
                storeReg(d.fa, () -> mv.visitVarInsn(LLOAD, ADDR));
                endCheck(i, last);
                return false;
            case MOV_M_R: case MOV_M_I:
                sync(i, ip, next);
                store(d, next, size, () -> {
                    if (op == Op.MOV_M_R) {
                        loadReg(d.fb, 8);
                    } else {
                        lconst(d.imm);
                    }
                });
                endCheck(i, last);
                return false;
            case MOVZX_B: case MOVSX_B: case MOVZX_W: case MOVSX_W: case MOVSXD:
                extend(i, d, ip, next, size, last);
                return false;
            case CMOVCC: {
                if (d.mem) {
                    return generic(i, d, ip, next, last);
                }
                Label move = new Label();
                Label done = new Label();
                ensureCached(d.reg);
                ensureCached(d.rm);
                condition(d.sub, move);
                branchDepth++;
                // A 32-bit CMOV zero-extends its destination even when the condition is false.
                storeReg(d.reg, () -> loadReg(d.reg, size));
                mv.visitJumpInsn(GOTO, done);
                mv.visitLabel(move);
                storeReg(d.reg, () -> loadReg(d.rm, size));
                mv.visitLabel(done);
                branchDepth--;
                return false;
            }
            case ALU_GE:
                if (d.mem || (d.sub != 2 && d.sub != 3)) {
                    return generic(i, d, ip, next, last);
                }
                adcSbbRegister(d, size);
                return false;
            case NOT:
                if (d.mem) {
                    return generic(i, d, ip, next, last);
                }
                storeReg(d.rm, () -> {
                    loadReg(d.rm, size);
                    lconst(-1);
                    mv.visitInsn(LXOR);
                    mask(size);
                });
                return false;
            case DIV:
                divide(i, d, ip, next, size);
                return false;
            case IDIV:
                signedDivide(i, d, ip, next, size);
                return false;
            case NEG:
                if (d.mem) {
                    return generic(i, d, ip, next, last);
                }
                // 0 - the register, with SUB's lazy flags (CF: the operand was not zero), as CpuExec.rmw.
                mv.visitInsn(LCONST_0);
                mv.visitVarInsn(LSTORE, DST);
                loadReg(d.rm, size);
                mv.visitVarInsn(LSTORE, SRC);
                alu(ALU_SUB, d.rm, size);
                return false;
            case INC: case DEC:
                if (d.mem) {
                    incDecMemory(i, d, ip, next, size, last);
                } else {
                    incDec(d.rm, size, op == Op.INC);
                }
                return false;
            case SHIFT_I: case SHIFT_CL:
                if (d.mem || d.sub == 2 || d.sub == 3) {
                    return generic(i, d, ip, next, last); // RCL, RCR
                }
                int overwrite = flagsOverwrittenAfter(i);
                if (overwrite >= 0) {
                    // A shift or rotate whose flags nothing can see: the value alone, and the
                    // pending record (which a zero count or a rotate would partly keep) stays
                    // pending for the instruction that replaces it.
                    deadFlagsThrough = overwrite;
                    shiftedValue(d, size);
                    return false;
                }
                if (op == Op.SHIFT_I && d.sub >= 4 && (d.imm & (size == 8 ? 63 : 31)) != 0) {
                    shiftWithFlags(d, size);
                    return false;
                }
                // The interpreter's own shiftValue; with a constant count C2 folds its branches.
                // A zero count leaves the flags as they were, and a rotate keeps all but CF and
                // OF, so the record must be current.
                liveFlagsKind = CpuState.LF_NONE;
                flushFlags();
                storeReg(d.rm, () -> {
                    mv.visitVarInsn(ALOAD, CPU_ARG);
                    loadReg(d.rm, size);
                    iconst(d.sub);
                    if (op == Op.SHIFT_I) {
                        iconst((int) d.imm & (size == 8 ? 63 : 31));
                    } else {
                        pushReg(Cpu.RCX);
                        mv.visitInsn(L2I);
                        iconst(size == 8 ? 63 : 31);
                        mv.visitInsn(IAND);
                    }
                    iconst(size);
                    invoke(SHIFT_VALUE);
                });
                return false;
            case IMUL_GE: case IMUL_GEI:
                if (d.mem) {
                    return generic(i, d, ip, next, last);
                }
                liveFlagsKind = CpuState.LF_NONE;
                flushFlags();
                storeReg(d.reg, () -> {
                    mv.visitVarInsn(ALOAD, CPU_ARG);
                    iconst(size);
                    if (op == Op.IMUL_GE) {
                        loadReg(d.reg, size);
                        loadReg(d.rm, size);
                    } else {
                        loadReg(d.rm, size);
                        lconst(d.imm);
                    }
                    invoke(IMUL2);
                });
                return false;
            case RDTSC: case RDMSR:
                sync(i, ip, next);
                mv.visitVarInsn(ALOAD, CPU_ARG);
                invokeMayFault(op == Op.RDTSC ? RDTSC_VALUE : RDMSR_VALUE);
                splitIntoEdxEax();
                return false;
            case RET:
                if (!last || size != 8) {
                    return generic(i, d, ip, next, last);
                }
                sync(i, ip, next);
                mv.visitVarInsn(ALOAD, CPU_ARG);
                mv.visitInsn(LCONST_0);
                iconst(8);
                invokeMayFault(READ_STACK);
                mv.visitVarInsn(LSTORE, ADDR);
                mv.visitVarInsn(LLOAD, ADDR);
                checkCanonical(CpuState.DS);
                mv.visitVarInsn(ALOAD, CPU_ARG);
                lconst(8 + d.imm);
                invokeMayFault(ADJUST_SP);
                invalidate(Cpu.RSP);
                mv.visitVarInsn(ALOAD, CPU_ARG);
                mv.visitVarInsn(LLOAD, ADDR);
                mv.visitFieldInsn(PUTFIELD, CPU, RIP, "J");
                return true;
            case JMP_E:
                if (!last || size != 8) {
                    return generic(i, d, ip, next, last);
                }
                sync(i, ip, next);
                if (d.mem) {
                    load(d, next, 8);
                } else {
                    loadReg(d.rm, 8);
                }
                mv.visitVarInsn(LSTORE, ADDR);
                branchToAddr();
                return true;
            case ALU_EG: case ALU_EI: {
                if (!d.mem && (d.sub == 2 || d.sub == 3)) {
                    // The fast forms cover the other kinds of register operands.
                    adcSbbRegister(d, size);
                    return false;
                }
                // ALU to memory (not CMP, not ADC/SBB): the read-modify-write inline.
                int alu = aluOp(d.sub);
                if (!d.mem || alu < 0 || alu == ALU_CMP) {
                    return generic(i, d, ip, next, last);
                }
                writableDestination(i, d, ip, next, size);
                readAtAddr(size);
                memoryAndSource(d, size, op == Op.ALU_EI, d.reg);
                aluResult(alu);
                writeResultAtAddr(size);
                aluFlags(alu, size);
                endCheck(i, last);
                return false;
            }
            case PUSH_E:
                if (d.mem || size != 8) {
                    return generic(i, d, ip, next, last);
                }
                sync(i, ip, next);
                mv.visitVarInsn(ALOAD, CPU_ARG);
                loadReg(d.rm, 8);
                iconst(8);
                invokeMayFault(PUSH);
                invalidate(Cpu.RSP);
                endCheck(i, last);
                return false;
            case POP_E:
                if (d.mem || size != 8) {
                    return generic(i, d, ip, next, last);
                }
                sync(i, ip, next);
                mv.visitVarInsn(ALOAD, CPU_ARG);
                iconst(8);
                invokeMayFault(POP);
                invalidate(Cpu.RSP);
                mv.visitVarInsn(LSTORE, ADDR);
                storeReg(d.rm, () -> mv.visitVarInsn(LLOAD, ADDR));
                endCheck(i, last);
                return false;
            case JCC:
                if (size != 8 || !isCanonical(next + d.imm)) {
                    return generic(i, d, ip, next, last);
                }
                if (last) {
                    if (next == blockIp && next + d.imm != blockIp) {
                        // A region whose loop closes through the fall-through.
                        conditionalBranch(d.sub ^ 1, next, next + d.imm, ip);
                    } else {
                        conditionalBranch(d.sub, next + d.imm, next, ip);
                    }
                    return true;
                }
                if (blockIps[i + 1] != next) {
                    // A region going on at the target: not taken is the exit.
                    sideExit(i, d.sub ^ 1, ip, next);
                    return false;
                }
                sideExit(i, d.sub, ip, next + d.imm);
                return false;
            case JMP_REL:
                if (size == 8 && !last && blockIps[i + 1] == next + d.imm) {
                    return false; // a region going on at the target
                }
                if (size != 8 || !last || !isCanonical(next + d.imm)) {
                    return generic(i, d, ip, next, last);
                }
                if (next + d.imm == blockIp) {
                    if (loopHead != null) {
                        loopBack(ip, i + 1);
                        return true;
                    }
                    noteBackEdge();
                }
                putLong(RIP, next + d.imm);
                return true;
            case CALL_REL: {
                // In a trace the callee may follow: the region goes on at the target.
                boolean followed = size == 8 && !last && blockIps[i + 1] == next + d.imm;
                if (size != 8 || !last && !followed || !isCanonical(next + d.imm)) {
                    return generic(i, d, ip, next, last);
                }
                sync(i, ip, next);
                mv.visitVarInsn(ALOAD, CPU_ARG);
                lconst(next);
                iconst(8);
                invokeMayFault(PUSH);
                invalidate(Cpu.RSP);
                putLong(RIP, next + d.imm);
                if (followed) {
                    endCheck(i, false); // the push may have gone into code or MMIO
                    return false;
                }
                return true;
            }
            default:
                return generic(i, d, ip, next, last);
        }
    }

    /** The ALU_* op of a decode-time-resolved ALU row. */
    private static int aluOf(Op op) {
        switch (op) {
            case ADD_R_R: case ADD_R_I: case ADD_R_M: return ALU_ADD;
            case OR_R_R: case OR_R_I: case OR_R_M: return ALU_OR;
            case AND_R_R: case AND_R_I: case AND_R_M: return ALU_AND;
            case SUB_R_R: case SUB_R_I: case SUB_R_M: return ALU_SUB;
            case XOR_R_R: case XOR_R_I: case XOR_R_M: return ALU_XOR;
            case CMP_R_R: case CMP_R_I: case CMP_R_M: return ALU_CMP;
            default: return ALU_TEST;
        }
    }

    /** The interpreter's handler for instruction {@code i}, with the state made exact first. */
    private boolean generic(int i, Insn d, long ip, long next, boolean last) {
        usedHandler = true;
        if (d.op.writesFlags) {
            // A form the row declares flag-free leaves the flags DST, SRC and RES describe (OpTableTest).
            liveFlagsKind = CpuState.LF_NONE;
        }
        sync(i, ip, next);
        // The handler sees and may change any register and the flags.
        spillAll();
        callHandler(i, d);
        if (!last) {
            // As in the step loop: the block ends when the handler asked for it or moved RIP
            // anywhere but the next instruction (a taken branch, a REP chunk that restarts).
            Label leave = new Label();
            Label go = new Label();
            mv.visitVarInsn(ALOAD, CPU_ARG);
            mv.visitFieldInsn(GETFIELD, CPU, END_BLOCK, "Z");
            mv.visitJumpInsn(IFNE, leave);
            mv.visitVarInsn(ALOAD, CPU_ARG);
            mv.visitFieldInsn(GETFIELD, CPU, RIP, "J");
            lconst(next);
            mv.visitInsn(LCMP);
            mv.visitJumpInsn(IFEQ, go);
            mv.visitLabel(leave);
            putRetired(i + 1);
            mv.visitInsn(RETURN);
            mv.visitLabel(go);
        }
        return true;
    }

    /** The lazy record and every register made exact in the CPU; each register's next use reloads it. */
    private void spillAll() {
        flushFlags();
        for (int r = 0; r < 16; r++) {
            commit(r);
            invalidate(r);
        }
    }

    /** Calls instruction {@code i}'s own handler, the one the interpreter's dispatch calls. */
    private void callHandler(int i, Insn d) {
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitVarInsn(ALOAD, INSNS_ARG);
        iconst(i);
        mv.visitInsn(AALOAD);
        mv.visitMethodInsn(INVOKESTATIC, d.op.handlerOwner, d.op.handlerName, Op.HANDLER_DESCRIPTOR, false);
    }

    /** RIP past the instruction, the previous RIP at it, and the count of those before it. */
    private void sync(int i, long ip, long next) {
        putLong(PREV_RIP, ip);
        putLong(RIP, next);
        putRetired(i);
    }

    /** Leaves the block after instruction {@code i} if it touched MMIO or code (RIP is already past it). */
    private void endCheck(int i, boolean last) {
        if (last) {
            return;
        }
        Label go = new Label();
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitFieldInsn(GETFIELD, CPU, END_BLOCK, "Z");
        mv.visitJumpInsn(IFEQ, go);
        writeBack();
        putRetired(i + 1);
        mv.visitInsn(RETURN);
        mv.visitLabel(go);
    }

    private static final int ALU_ADD = 0, ALU_OR = 1, ALU_AND = 2, ALU_SUB = 3, ALU_XOR = 4, ALU_CMP = 5, ALU_TEST = 6;

    /** DST op SRC into RES (the fast-form order add or and sub xor cmp test), the register write and the lazy flags. */
    private void alu(int op, int fa, int size) {
        aluResult(op);
        if (op != ALU_CMP && op != ALU_TEST) {
            storeReg(fa, () -> {
                mv.visitVarInsn(LLOAD, RES);
                if (op == ALU_ADD || op == ALU_SUB) {
                    mask(size);
                }
            });
        }
        aluFlags(op, size);
    }

    /** RES = DST op SRC, unmasked as the lazy record keeps it. */
    private void aluResult(int op) {
        mv.visitVarInsn(LLOAD, DST);
        mv.visitVarInsn(LLOAD, SRC);
        switch (op) {
            case ALU_ADD: mv.visitInsn(LADD); break;
            case ALU_OR: mv.visitInsn(LOR); break;
            case ALU_AND: case ALU_TEST: mv.visitInsn(LAND); break;
            case ALU_XOR: mv.visitInsn(LXOR); break;
            default: mv.visitInsn(LSUB); break;
        }
        mv.visitVarInsn(LSTORE, RES);
    }

    private void aluFlags(int op, int size) {
        int flagsKind = op == ALU_ADD ? CpuState.LF_ADD : op == ALU_SUB || op == ALU_CMP ? CpuState.LF_SUB
                : CpuState.LF_LOGIC;
        pendingFlags(flagsKind, size);
        liveFlagsKind = flagsKind;
        liveFlagsSize = size;
    }

    /** EDX:EAX = the 64-bit value on the stack (RDTSC, RDMSR). */
    private void splitIntoEdxEax() {
        mv.visitVarInsn(LSTORE, ADDR);
        storeReg(Cpu.RAX, () -> {
            mv.visitVarInsn(LLOAD, ADDR);
            mask(4);
        });
        storeReg(Cpu.RDX, () -> {
            mv.visitVarInsn(LLOAD, ADDR);
            iconst(32);
            mv.visitInsn(LUSHR);
        });
    }

    /** RIP = ADDR after the canonical check of a near branch target (#GP(0) at the branch if it fails). */
    private void branchToAddr() {
        mv.visitVarInsn(LLOAD, ADDR);
        checkCanonical(CpuState.DS);
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitVarInsn(LLOAD, ADDR);
        mv.visitFieldInsn(PUTFIELD, CPU, RIP, "J");
    }

    /**
     * ALU (not ADC/SBB) or TEST of a byte register (AL..R15B and AH..BH) with an immediate or
     * another byte register, either way round.
     */
    private void byteAlu(Insn d) {
        Op form = d.op;
        int dst = form == Op.ALU_GE ? d.regB : d.rmB;
        loadByteReg(dst);
        mv.visitVarInsn(LSTORE, DST);
        if (form == Op.ALU_EI || form == Op.TEST_EI) {
            lconst(d.imm & 0xff);
        } else {
            loadByteReg(form == Op.ALU_GE ? d.rmB : d.regB);
        }
        mv.visitVarInsn(LSTORE, SRC);
        int op = form == Op.TEST_EI || form == Op.TEST_EG ? ALU_TEST : aluOp(d.sub);
        aluResult(op);
        if (op != ALU_CMP && op != ALU_TEST) {
            storeByteReg(dst, () -> {
                mv.visitVarInsn(LLOAD, RES);
                lconst(0xff);
                mv.visitInsn(LAND);
            });
        }
        aluFlags(op, 1);
        // The fused conditions know 4- and 8-byte operands only.
        liveFlagsKind = CpuState.LF_NONE;
    }

    /**
     * The byte and word MOVs (register, immediate or a flat 64-bit memory operand) and CMP/TEST
     * of a byte or word in memory, generated inline; false, with nothing emitted, for any other
     * form of those sizes.
     */
    private boolean narrowForm(int i, Insn d, long ip, long next, boolean last) {
        Op op = d.op;
        int size = d.opSize;
        boolean compare = (op == Op.ALU_EI || op == Op.ALU_EG || op == Op.ALU_GE) && d.sub == 7 || op == Op.TEST_EI;
        if (op != Op.MOV_GE && op != Op.MOV_EG && op != Op.MOV_EI && !(compare && d.mem)) {
            return false;
        }
        int reg = size == 1 ? d.regB : d.reg;
        int rm = size == 1 ? d.rmB : d.rm;
        long imm = d.imm & CpuState.mask(size);
        if (!d.mem) {
            if (op == Op.MOV_GE) {
                storeNarrowReg(size, reg, () -> loadNarrowReg(size, rm));
            } else {
                storeNarrowReg(size, rm, () -> {
                    if (op == Op.MOV_EG) {
                        loadNarrowReg(size, reg);
                    } else {
                        lconst(imm);
                    }
                });
            }
            return true;
        }
        sync(i, ip, next);
        if (op == Op.MOV_GE) {
            load(d, next, size);
            mv.visitVarInsn(LSTORE, ADDR);
            storeNarrowReg(size, reg, () -> mv.visitVarInsn(LLOAD, ADDR));
        } else if (!compare) {
            store(d, next, size, () -> {
                if (op == Op.MOV_EG) {
                    loadNarrowReg(size, reg);
                } else {
                    lconst(imm);
                }
            });
        } else {
            load(d, next, size);
            mv.visitVarInsn(LSTORE, op == Op.ALU_GE ? SRC : DST);
            if (op == Op.ALU_GE) {
                loadNarrowReg(size, reg);
                mv.visitVarInsn(LSTORE, DST);
            } else {
                if (op == Op.ALU_EG) {
                    loadNarrowReg(size, reg);
                } else {
                    lconst(imm);
                }
                mv.visitVarInsn(LSTORE, SRC);
            }
            int alu = op == Op.TEST_EI ? ALU_TEST : ALU_CMP;
            aluResult(alu);
            aluFlags(alu, size);
            // The fused conditions know 4- and 8-byte operands only.
            liveFlagsKind = CpuState.LF_NONE;
        }
        endCheck(i, last);
        return true;
    }

    /** Pushes byte register {@code r} (AL..R15B, or AH..BH as 16..19), or word register {@code r}. */
    private void loadNarrowReg(int size, int r) {
        if (size == 1) {
            loadByteReg(r);
        } else {
            loadReg(r, 2);
        }
    }

    /** Byte register {@code r} or word register {@code r} = {@code value}; the register's other bytes kept. */
    private void storeNarrowReg(int size, int r, Runnable value) {
        if (size == 1) {
            storeByteReg(r, value);
        } else {
            storeReg(r, () -> {
                pushReg(r);
                lconst(~0xffffL);
                mv.visitInsn(LAND);
                value.run();
                mv.visitInsn(LOR);
            });
        }
    }

    /** SETcc of a byte register (AL..R15B, or AH..BH as 16..19): the interpreter's condition, the other bytes kept. */
    private void setccRegister(Insn d) {
        storeByteReg(d.rmB, () -> {
            Label set = new Label();
            Label done = new Label();
            condition(d.sub, set);
            mv.visitInsn(LCONST_0);
            mv.visitJumpInsn(GOTO, done);
            mv.visitLabel(set);
            mv.visitInsn(LCONST_1);
            mv.visitLabel(done);
        });
    }

    /**
     * Byte register {@code rb} (AL..R15B, or AH..BH as 16..19) = the long 0..255 that
     * {@code byteValue} pushes; the register's other bytes are kept.
     */
    private void storeByteReg(int rb, Runnable byteValue) {
        int reg = rb >= 16 ? rb - 16 : rb;
        int shift = rb >= 16 ? 8 : 0;
        storeReg(reg, () -> {
            pushReg(reg);
            lconst(~(0xffL << shift));
            mv.visitInsn(LAND);
            byteValue.run();
            if (shift != 0) {
                iconst(shift);
                mv.visitInsn(LSHL);
            }
            mv.visitInsn(LOR);
        });
    }

    /**
     * ADC or SBB of 4- or 8-byte registers (Ev,Gv; Gv,Ev; Ev,imm): the interpreter's ALU core
     * with the carry it reads, so the lazy record is the interpreter's too.
     */
    private void adcSbbRegister(Insn d, int size) {
        liveFlagsKind = CpuState.LF_NONE;
        flushFlags(); // the carry in, and the record the ALU core replaces
        int dst = d.op == Op.ALU_GE ? d.reg : d.rm;
        storeReg(dst, () -> {
            mv.visitVarInsn(ALOAD, CPU_ARG);
            iconst(d.sub);
            iconst(size);
            loadReg(dst, size);
            if (d.op == Op.ALU_EI) {
                lconst(size == 8 ? d.imm : d.imm & MASK32);
            } else {
                loadReg(d.op == Op.ALU_GE ? d.rm : d.reg, size);
            }
            mv.visitVarInsn(ALOAD, CPU_ARG);
            invoke(CF);
            invoke(ALU_CORE);
        });
    }

    /** Pushes byte register {@code rb} zero-extended: AL..R15B, or AH..BH as 16..19. */
    private void loadByteReg(int rb) {
        pushReg(rb >= 16 ? rb - 16 : rb);
        if (rb >= 16) {
            iconst(8);
            mv.visitInsn(LUSHR);
        }
        lconst(0xff);
        mv.visitInsn(LAND);
    }

    /** The ALU_* op of an x86 ALU kind (0 add, 1 or, 4 and, 5 sub, 6 xor, 7 cmp); -1 for ADC and SBB. */
    private static int aluOp(int kind) {
        switch (kind) {
            case 0: return ALU_ADD;
            case 1: return ALU_OR;
            case 4: return ALU_AND;
            case 5: return ALU_SUB;
            case 6: return ALU_XOR;
            case 7: return ALU_CMP;
            default: return -1;
        }
    }

    /** INC/DEC of a register: CF is kept (saved before the lazy record changes). */
    private void incDec(int reg, int size, boolean inc) {
        saveCarry();
        loadReg(reg, size);
        incDecResult(inc);
        storeReg(reg, () -> {
            mv.visitVarInsn(LLOAD, RES);
            mask(size);
        });
        pendingFlags(inc ? CpuState.LF_INC : CpuState.LF_DEC, size);
    }

    /** INC/DEC of memory: as {@link #incDec}, after the destination is found writable (CpuExec.rmwAt). */
    private void incDecMemory(int i, Insn d, long ip, long next, int size, boolean last) {
        boolean inc = d.op == Op.INC;
        writableDestination(i, d, ip, next, size);
        saveCarry();
        readAtAddr(size);
        incDecResult(inc);
        writeResultAtAddr(size);
        pendingFlags(inc ? CpuState.LF_INC : CpuState.LF_DEC, size);
        endCheck(i, last);
    }

    /** DST = the operand on the stack, SRC = 1, RES = DST + 1 or DST - 1 (unmasked, as the lazy record keeps it). */
    private void incDecResult(boolean inc) {
        mv.visitVarInsn(LSTORE, DST);
        mv.visitInsn(LCONST_1);
        mv.visitVarInsn(LSTORE, SRC);
        mv.visitVarInsn(LLOAD, DST);
        mv.visitInsn(LCONST_1);
        mv.visitInsn(inc ? LADD : LSUB);
        mv.visitVarInsn(LSTORE, RES);
    }

    /**
     * Unsigned DIV of EDX:EAX or RDX:RAX: the host's division where the quotient fits (for 64
     * bits, where RDX is zero), else the form's handler (the 128-bit dividend, #DE). Both ways
     * work on regs[], made exact first; neither touches the flags.
     */
    private void divide(int i, Insn d, long ip, long next, int size) {
        Label slow = new Label();
        Label done = new Label();
        divisor(i, d, ip, next, size, false, slow);
        mv.visitVarInsn(ALOAD, REGS);
        iconst(Cpu.RDX);
        mv.visitInsn(LALOAD);
        if (size == 8) {
            mv.visitInsn(LCONST_0);
            mv.visitInsn(LCMP);
            mv.visitJumpInsn(IFNE, slow);
            mv.visitVarInsn(ALOAD, REGS);
            iconst(Cpu.RAX);
            mv.visitInsn(LALOAD);
        } else {
            // The quotient fits in 32 bits exactly when EDX is below the divisor.
            mask(4);
            mv.visitInsn(DUP2);
            mv.visitVarInsn(LLOAD, ADDR);
            mv.visitInsn(LCMP);
            Label fits = new Label();
            mv.visitJumpInsn(IFLT, fits);
            mv.visitInsn(POP2);
            mv.visitJumpInsn(GOTO, slow);
            mv.visitLabel(fits);
            withEax();
        }
        mv.visitVarInsn(LSTORE, TEMP); // the dividend
        storeQuotientAndRemainder(false);
        mv.visitJumpInsn(GOTO, done);
        mv.visitLabel(slow);
        callHandler(i, d);
        mv.visitLabel(done);
    }

    /**
     * The state made exact for DIV or IDIV {@code i} and every register spilled (its slow path
     * calls the handler), then ADDR = the divisor (sign-extended for a 32-bit IDIV); a zero
     * divisor goes to {@code slow}.
     */
    private void divisor(int i, Insn d, long ip, long next, int size, boolean signed, Label slow) {
        sync(i, ip, next);
        if (d.mem) {
            load(d, next, size);
        } else {
            loadReg(d.rm, size);
        }
        if (signed && size == 4) {
            mv.visitInsn(L2I);
            mv.visitInsn(I2L);
        }
        mv.visitVarInsn(LSTORE, ADDR);
        spillAll();
        mv.visitVarInsn(LLOAD, ADDR);
        mv.visitInsn(LCONST_0);
        mv.visitInsn(LCMP);
        mv.visitJumpInsn(IFEQ, slow);
    }

    /** The long on the stack (EDX) becomes EDX:EAX. */
    private void withEax() {
        iconst(32);
        mv.visitInsn(LSHL);
        mv.visitVarInsn(ALOAD, REGS);
        iconst(Cpu.RAX);
        mv.visitInsn(LALOAD);
        mask(4);
        mv.visitInsn(LOR);
    }

    /** RDX = TEMP % ADDR and RAX = TEMP / ADDR, signed or unsigned, in regs[]. */
    private void storeQuotientAndRemainder(boolean signed) {
        for (int reg : new int[] {Cpu.RDX, Cpu.RAX}) {
            mv.visitVarInsn(ALOAD, REGS);
            iconst(reg);
            mv.visitVarInsn(LLOAD, TEMP);
            mv.visitVarInsn(LLOAD, ADDR);
            if (signed) {
                mv.visitInsn(reg == Cpu.RDX ? LREM : LDIV);
            } else {
                mv.visitMethodInsn(INVOKESTATIC, "java/lang/Long", reg == Cpu.RDX ? "remainderUnsigned" : "divideUnsigned",
                        "(JJ)J", false);
            }
            mv.visitInsn(LASTORE);
        }
    }

    /**
     * IDIV of 32 or 64 bits, inline where the quotient fits: for 64 bits, where RDX is RAX's
     * sign (a CQO before it) and not MIN / -1; for 32 bits, where the quotient of EDX:EAX fits
     * in 32 signed bits. Java's division truncates toward zero and its remainder takes the
     * dividend's sign, as IDIV's. A zero divisor or a quotient that does not fit goes to the
     * handler, which raises #DE (or, for 64 bits, divides the 128-bit dividend).
     */
    private void signedDivide(int i, Insn d, long ip, long next, int size) {
        Label slow = new Label();
        Label done = new Label();
        divisor(i, d, ip, next, size, true, slow);
        if (size == 8) {
            mv.visitVarInsn(ALOAD, REGS);
            iconst(Cpu.RDX);
            mv.visitInsn(LALOAD);
            mv.visitVarInsn(ALOAD, REGS);
            iconst(Cpu.RAX);
            mv.visitInsn(LALOAD);
            iconst(63);
            mv.visitInsn(LSHR);
            mv.visitInsn(LCMP);
            mv.visitJumpInsn(IFNE, slow);
            // MIN / -1 overflows: Java gives MIN, IDIV raises #DE.
            mv.visitVarInsn(LLOAD, ADDR);
            lconst(-1);
            mv.visitInsn(LCMP);
            Label notMinusOne = new Label();
            mv.visitJumpInsn(IFNE, notMinusOne);
            mv.visitVarInsn(ALOAD, REGS);
            iconst(Cpu.RAX);
            mv.visitInsn(LALOAD);
            lconst(Long.MIN_VALUE);
            mv.visitInsn(LCMP);
            mv.visitJumpInsn(IFEQ, slow);
            mv.visitLabel(notMinusOne);
            mv.visitVarInsn(ALOAD, REGS);
            iconst(Cpu.RAX);
            mv.visitInsn(LALOAD);
            mv.visitVarInsn(LSTORE, TEMP); // the dividend
            storeQuotientAndRemainder(true);
        } else {
            // EDX:EAX as a signed 64-bit value; its quotient overflows only for MIN / -1, which
            // the 32-bit check below sends to the handler too.
            mv.visitVarInsn(ALOAD, REGS);
            iconst(Cpu.RDX);
            mv.visitInsn(LALOAD);
            withEax();
            mv.visitVarInsn(LSTORE, TEMP); // the dividend
            mv.visitVarInsn(LLOAD, TEMP);
            mv.visitVarInsn(LLOAD, ADDR);
            mv.visitInsn(LDIV);
            mv.visitVarInsn(LSTORE, QUOTIENT);
            mv.visitVarInsn(LLOAD, QUOTIENT);
            mv.visitInsn(L2I);
            mv.visitInsn(I2L);
            mv.visitVarInsn(LLOAD, QUOTIENT);
            mv.visitInsn(LCMP);
            mv.visitJumpInsn(IFNE, slow);
            mv.visitVarInsn(ALOAD, REGS);
            iconst(Cpu.RAX);
            mv.visitVarInsn(LLOAD, QUOTIENT);
            mask(4);
            mv.visitInsn(LASTORE);
            mv.visitVarInsn(ALOAD, REGS);
            iconst(Cpu.RDX);
            mv.visitVarInsn(LLOAD, TEMP);
            mv.visitVarInsn(LLOAD, ADDR);
            mv.visitInsn(LREM);
            mask(4);
            mv.visitInsn(LASTORE);
        }
        mv.visitJumpInsn(GOTO, done);
        mv.visitLabel(slow);
        callHandler(i, d);
        mv.visitLabel(done);
    }

    /** The SSE forms generated inline with register operands: moves, bitwise, and 32/64-bit lane adds. */
    private static boolean sseRegisterForm(Op op) {
        switch (op) {
            case MOVDQA_VW: case MOVDQU_VW: case MOVAPS_VW: case MOVUPS_VW:
            case PAND: case PANDN: case POR: case PXOR: case ANDPS: case ANDNPS: case ORPS: case XORPS:
            case PADDD: case PSUBD: case PADDQ: case PSUBQ:
                return true;
            default:
                return false;
        }
    }

    /**
     * An SSE form of {@link #sseRegisterForm} on two XMM registers, as {@code Sse.execute} and
     * {@code SseInteger.lanes} run it: XMM[reg] = XMM[reg] op XMM[rm], 64 bits at a time. When
     * CR0.EM, CR0.TS or a clear CR4.OSFXSR would make it fault, the handler runs instead (and
     * raises #UD or #NM) from exact state; it touches no general register and no flag, so both
     * ways leave the compile-time state as it was.
     */
    private void sseRegister(int i, Insn d, long ip, long next) {
        Label inline = new Label();
        Label done = new Label();
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitFieldInsn(GETFIELD, CPU, CR0, "J");
        lconst(CpuState.CR0_EM | CpuState.CR0_TS);
        mv.visitInsn(LAND);
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitFieldInsn(GETFIELD, CPU, CR4, "J");
        lconst(CpuState.CR4_OSFXSR);
        mv.visitInsn(LAND);
        lconst(CpuState.CR4_OSFXSR);
        mv.visitInsn(LXOR);
        mv.visitInsn(LOR);
        mv.visitInsn(LCONST_0);
        mv.visitInsn(LCMP);
        mv.visitJumpInsn(IFEQ, inline);
        writeBack();
        sync(i, ip, next);
        callHandler(i, d);
        mv.visitJumpInsn(GOTO, done);
        mv.visitLabel(inline);
        for (int half = 0; half < 2; half++) {
            mv.visitVarInsn(ALOAD, CPU_ARG);
            mv.visitFieldInsn(GETFIELD, CPU, XMM, "[J");
            iconst(2 * d.reg + half);
            if (d.op == Op.MOVDQA_VW || d.op == Op.MOVDQU_VW || d.op == Op.MOVAPS_VW || d.op == Op.MOVUPS_VW) {
                xmmHalf(d.rm, half);
            } else {
                xmmHalf(d.reg, half);
                if (d.op == Op.PANDN || d.op == Op.ANDNPS) {
                    lconst(-1);
                    mv.visitInsn(LXOR);
                }
                xmmHalf(d.rm, half);
                sseLanes(d.op);
            }
            mv.visitInsn(LASTORE);
        }
        mv.visitLabel(done);
    }

    private void xmmHalf(int reg, int half) {
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitFieldInsn(GETFIELD, CPU, XMM, "[J");
        iconst(2 * reg + half);
        mv.visitInsn(LALOAD);
    }

    /** a op b for the two 64-bit halves on the stack. */
    private void sseLanes(Op op) {
        switch (op) {
            case PAND: case PANDN: case ANDPS: case ANDNPS: mv.visitInsn(LAND); return;
            case POR: case ORPS: mv.visitInsn(LOR); return;
            case PXOR: case XORPS: mv.visitInsn(LXOR); return;
            case PADDQ: mv.visitInsn(LADD); return;
            case PSUBQ: mv.visitInsn(LSUB); return;
            case PADDD: case PSUBD:
                lconst(SseInteger.H32);
                invoke(op == Op.PADDD ? LANES_ADD : LANES_SUB);
                return;
            default:
                throw new IllegalStateException("no inline form for " + op);
        }
    }

    /** INC and DEC keep CF: lfSavedCf = CF from the lazy record, which is stored first. */
    private void saveCarry() {
        liveFlagsKind = CpuState.LF_NONE;
        flushFlags();
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitVarInsn(ALOAD, CPU_ARG);
        invoke(CF);
        mv.visitFieldInsn(PUTFIELD, CPU, LF_SAVED_CF, "Z");
    }

    /**
     * The state made exact for instruction {@code i}, then ADDR = its memory destination's
     * linear address, found writable before anything changes (as CpuExec.rmwAt: a missing
     * page faults as a write).
     */
    private void writableDestination(int i, Insn d, long ip, long next, int size) {
        sync(i, ip, next);
        linearAddress(d, next);
        checkCanonical(d.seg);
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitVarInsn(LLOAD, ADDR);
        iconst(size);
        invokeMayFault(PROBE_WRITE);
    }

    /** Writes RES's low {@code size} bytes at ADDR. */
    private void writeResultAtAddr(int size) {
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitVarInsn(LLOAD, ADDR);
        iconst(size);
        mv.visitVarInsn(LLOAD, RES);
        invokeMayFault(WRITE_LIN);
    }

    /**
     * The index of the instruction after {@code i} that replaces all six arithmetic flags
     * before anything can observe them, or -1: only register moves, other shifts and forms
     * that neither touch the flags nor can fault or leave the block may come between (a fault
     * or an exit would show the flags at that boundary). A few instructions are looked at, so a
     * method-size cut deferred past them stays small.
     */
    private int flagsOverwrittenAfter(int i) {
        for (int j = i + 1; j < blockCount && j <= i + 6; j++) {
            Insn n = blockInsns[j];
            if (n.lock || n.rep != 0) {
                return -1;
            }
            if (writesAllFlags(n)) {
                return j;
            }
            if (n.op == Op.SHIFT_I && !n.mem && n.sub != 2 && n.sub != 3) {
                continue; // another shift or rotate: its flags too are dead if a writer follows
            }
            if (n.op.readsFlags || n.op.writesFlags || n.op.endsBlock || !neverFaults(n)) {
                return -1;
            }
        }
        return -1;
    }

    /**
     * An ALU or TEST form between registers, or a register and an immediate, other than ADC and
     * SBB; or a shift of a register by a count that is not zero.
     */
    private static boolean writesAllFlags(Insn n) {
        switch (n.op) {
            case ADD_R_R: case OR_R_R: case AND_R_R: case SUB_R_R: case XOR_R_R: case CMP_R_R: case TEST_R_R:
            case ADD_R_I: case OR_R_I: case AND_R_I: case SUB_R_I: case XOR_R_I: case CMP_R_I: case TEST_R_I:
            case TEST_EG: case TEST_EI:
                return !n.mem;
            case ALU_EG: case ALU_GE: case ALU_EI:
                return !n.mem && n.sub != 2 && n.sub != 3;
            case SHIFT_I: // SHL, SHR, SAR by a count that is not zero
                return !n.mem && n.sub >= 4 && (n.imm & (n.opSize == 8 ? 63 : 31)) != 0;
            default:
                return false;
        }
    }

    /** Whether {@code n} can never fault: its row says so, or it is a data move between registers. */
    private static boolean neverFaults(Insn n) {
        if (n.op.neverFaults) {
            return true;
        }
        switch (n.op) {
            case MOV_EG: case MOV_GE: case MOV_EI: case MOVZX_B: case MOVZX_W: case MOVSX_B: case MOVSX_W:
            case MOVSXD: case NOT: case XCHG:
                return !n.mem;
            default:
                return false;
        }
    }

    /**
     * ROL, ROR, SHL, SHR or SAR of a 32- or 64-bit register by an immediate or CL, without
     * flags. The JVM takes a shift or rotate distance modulo the width, as the count mask does.
     */
    private void shiftedValue(Insn d, int size) {
        boolean wide = size == 8;
        storeReg(d.rm, () -> {
            pushReg(d.rm);
            if (!wide) {
                mv.visitInsn(L2I);
            }
            if (d.op == Op.SHIFT_I) {
                iconst((int) d.imm & (wide ? 63 : 31));
            } else {
                pushReg(Cpu.RCX);
                mv.visitInsn(L2I);
            }
            shiftOp(d.sub, wide);
            if (!wide) {
                mv.visitInsn(I2L);
                mask(4);
            }
        });
    }

    /**
     * SHL, SHR or SAR of a 32- or 64-bit register by an immediate that is not zero: the value
     * inline and the flags as a pending lazy record (the operand, the count, the result), as
     * IntAlu.shiftValue leaves them.
     */
    private void shiftWithFlags(Insn d, int size) {
        boolean wide = size == 8;
        int count = (int) d.imm & (wide ? 63 : 31);
        liveFlagsKind = CpuState.LF_NONE; // no fused conditions on a shift's record
        loadReg(d.rm, size);
        mv.visitVarInsn(LSTORE, DST);
        lconst(count);
        mv.visitVarInsn(LSTORE, SRC);
        mv.visitVarInsn(LLOAD, DST);
        if (!wide) {
            mv.visitInsn(L2I);
        }
        iconst(count);
        shiftOp(d.sub, wide);
        if (!wide) {
            mv.visitInsn(I2L);
            mask(4);
        }
        mv.visitVarInsn(LSTORE, RES);
        storeReg(d.rm, () -> mv.visitVarInsn(LLOAD, RES));
        pendingFlags(d.sub == 5 ? CpuState.LF_SHR : d.sub == 7 ? CpuState.LF_SAR : CpuState.LF_SHL, size);
    }

    /**
     * Shift kind {@code sub} (0 ROL, 1 ROR, 4 and 6 SHL, 5 SHR, 7 SAR) of the int or long under
     * an int distance on the stack.
     */
    private void shiftOp(int sub, boolean wide) {
        switch (sub) {
            case 0: case 1:
                mv.visitMethodInsn(INVOKESTATIC, wide ? "java/lang/Long" : "java/lang/Integer",
                        sub == 0 ? "rotateLeft" : "rotateRight", wide ? "(JI)J" : "(II)I", false);
                break;
            case 5:
                mv.visitInsn(wide ? LUSHR : IUSHR);
                break;
            case 7:
                mv.visitInsn(wide ? LSHR : ISHR);
                break;
            default: // 4 and 6: SHL
                mv.visitInsn(wide ? LSHL : ISHL);
        }
    }

    /** The lazy record is now {@code kind} and {@code size} over DST, SRC and RES, stored when something can read it. */
    private void pendingFlags(int kind, int size) {
        pendingFlagsKind = kind;
        pendingFlagsSize = size;
    }

    /** Stores the pending lazy record into the CPU. */
    private void flushFlags() {
        storeFlags();
        pendingFlagsKind = CpuState.LF_NONE;
    }

    /** Emits the stores of the pending lazy record, if any, leaving it pending (an exit path). */
    private void storeFlags() {
        int kind = pendingFlagsKind;
        int size = pendingFlagsSize;
        if (kind == CpuState.LF_NONE) {
            return;
        }
        mv.visitVarInsn(ALOAD, CPU_ARG);
        iconst(kind);
        mv.visitFieldInsn(PUTFIELD, CPU, LF_OP, "I");
        mv.visitVarInsn(ALOAD, CPU_ARG);
        iconst(size);
        mv.visitFieldInsn(PUTFIELD, CPU, LF_SIZE, "I");
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitVarInsn(LLOAD, DST);
        mv.visitFieldInsn(PUTFIELD, CPU, LF_DST, "J");
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitVarInsn(LLOAD, SRC);
        mv.visitFieldInsn(PUTFIELD, CPU, LF_SRC, "J");
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitVarInsn(LLOAD, RES);
        mv.visitFieldInsn(PUTFIELD, CPU, LF_RES, "J");
    }

    /** MOVZX, MOVSX and MOVSXD from a register or a flat memory operand. */
    private void extend(int i, Insn d, long ip, long next, int size, boolean last) {
        Op op = d.op;
        int from = op == Op.MOVZX_B || op == Op.MOVSX_B ? 1 : op == Op.MOVSXD ? 4 : 2;
        if (d.mem) {
            sync(i, ip, next);
            load(d, next, from);
        } else if (from == 1) {
            loadByteReg(d.rmB);
        } else {
            pushReg(d.rm);
        }
        switch (op) {
            case MOVZX_W:
                if (!d.mem) {
                    lconst(0xffff);
                    mv.visitInsn(LAND);
                }
                break;
            case MOVSX_B:
                mv.visitInsn(L2I);
                mv.visitInsn(I2B);
                mv.visitInsn(I2L);
                break;
            case MOVSX_W:
                mv.visitInsn(L2I);
                mv.visitInsn(I2S);
                mv.visitInsn(I2L);
                break;
            case MOVSXD:
                mv.visitInsn(L2I);
                mv.visitInsn(I2L);
                break;
            default:
                break;
        }
        mask(size);
        mv.visitVarInsn(LSTORE, ADDR);
        storeReg(d.reg, () -> mv.visitVarInsn(LLOAD, ADDR));
        if (d.mem) {
            endCheck(i, last);
        }
    }

    /** Jcc as the last instruction: the operands of a CMP/SUB/TEST/logic op just before it are compared directly. */
    private void conditionalBranch(int cc, long target, long next, long at) {
        Label taken = new Label();
        Label done = new Label();
        condition(cc, taken);
        putLong(RIP, next);
        mv.visitJumpInsn(GOTO, done);
        mv.visitLabel(taken);
        if (loopHead != null && target == blockIp) {
            loopBack(at, blockCount);
        } else {
            if (target == blockIp) {
                noteBackEdge();
            }
            putLong(RIP, target);
        }
        mv.visitLabel(done);
    }

    /**
     * Jumps to {@code holds} when condition {@code cc} holds: from the last ALU operation's
     * operands when they are still in the locals, else through the interpreter's {@code cond}.
     */
    private void condition(int cc, Label holds) {
        if (!fusedCondition(cc, liveFlagsKind, holds)) {
            flushFlags();
            mv.visitVarInsn(ALOAD, CPU_ARG);
            iconst(cc);
            invoke(COND);
            mv.visitJumpInsn(IFNE, holds);
        }
    }

    /** Jcc inside the block: when taken, the block ends there; else it goes on. */
    private void sideExit(int i, int cc, long ip, long target) {
        Label notTaken = new Label();
        condition(cc ^ 1, notTaken);
        if (loopHead != null && target == blockIp) {
            loopBack(ip, i + 1);
            mv.visitLabel(notTaken);
            return;
        }
        if (target == blockIp) {
            noteBackEdge();
        }
        writeBack();
        putLong(RIP, target);
        putLong(PREV_RIP, ip);
        putRetired(i + 1);
        mv.visitInsn(RETURN);
        mv.visitLabel(notTaken);
    }

    /**
     * Jumps to {@code taken} when condition {@code cc} holds, computed from DST, SRC and RES
     * as {@link CpuState#cond} computes it from the lazy record; false when that needs the
     * flags themselves (OF, PF).
     */
    private boolean fusedCondition(int cc, int flagsKind, Label taken) {
        boolean negate = (cc & 1) != 0;
        int test = cc >> 1;
        boolean narrow = liveFlagsSize == 4;
        if (flagsKind == CpuState.LF_SUB) {
            switch (test) {
                case 1: case 3: // B, BE: unsigned; 32-bit operands are zero-extended, so a signed compare is exact.
                    unsignedCompare(narrow);
                    mv.visitJumpInsn(test == 1 ? (negate ? IFGE : IFLT) : (negate ? IFGT : IFLE), taken);
                    return true;
                case 2: // E
                    mv.visitVarInsn(LLOAD, DST);
                    mv.visitVarInsn(LLOAD, SRC);
                    mv.visitInsn(LCMP);
                    mv.visitJumpInsn(negate ? IFNE : IFEQ, taken);
                    return true;
                case 4: // S
                    signOfResult(narrow);
                    mv.visitJumpInsn(negate ? IFGE : IFLT, taken);
                    return true;
                case 6: case 7: // L, LE: signed at the operand size
                    if (narrow) {
                        mv.visitVarInsn(LLOAD, DST);
                        mv.visitInsn(L2I);
                        mv.visitVarInsn(LLOAD, SRC);
                        mv.visitInsn(L2I);
                        mv.visitJumpInsn(test == 6 ? (negate ? IF_ICMPGE : IF_ICMPLT) : (negate ? IF_ICMPGT : IF_ICMPLE), taken);
                    } else {
                        mv.visitVarInsn(LLOAD, DST);
                        mv.visitVarInsn(LLOAD, SRC);
                        mv.visitInsn(LCMP);
                        mv.visitJumpInsn(test == 6 ? (negate ? IFGE : IFLT) : (negate ? IFGT : IFLE), taken);
                    }
                    return true;
                default:
                    return false;
            }
        }
        if (flagsKind == CpuState.LF_ADD) {
            switch (test) {
                case 2: case 4: // E, S: the result at the operand size is zero, negative
                    signOfResult(narrow);
                    mv.visitJumpInsn(test == 2 ? (negate ? IFNE : IFEQ) : (negate ? IFGE : IFLT), taken);
                    return true;
                default:
                    return false;
            }
        }
        if (flagsKind == CpuState.LF_LOGIC) {
            switch (test) {
                case 0: case 1: // O, B: always clear after a logic op
                    if (negate) {
                        mv.visitJumpInsn(GOTO, taken);
                    }
                    return true;
                case 2: case 3: // E, BE (CF is clear)
                    mv.visitVarInsn(LLOAD, RES);
                    mv.visitInsn(LCONST_0);
                    mv.visitInsn(LCMP);
                    mv.visitJumpInsn(negate ? IFNE : IFEQ, taken);
                    return true;
                case 4: case 6: // S, L (OF is clear)
                    signOfResult(narrow);
                    mv.visitJumpInsn(negate ? IFGE : IFLT, taken);
                    return true;
                case 7: // LE: ZF or SF
                    signOfResult(narrow);
                    mv.visitJumpInsn(negate ? IFGT : IFLE, taken);
                    return true;
                default:
                    return false;
            }
        }
        return false;
    }

    /** Pushes the signed comparison of DST and SRC as unsigned values (an int, as LCMP). */
    private void unsignedCompare(boolean narrow) {
        mv.visitVarInsn(LLOAD, DST);
        if (!narrow) {
            lconst(Long.MIN_VALUE);
            mv.visitInsn(LXOR);
        }
        mv.visitVarInsn(LLOAD, SRC);
        if (!narrow) {
            lconst(Long.MIN_VALUE);
            mv.visitInsn(LXOR);
        }
        mv.visitInsn(LCMP);
    }

    /** Pushes an int whose sign is the result's sign at the operand size (zero for a zero result). */
    private void signOfResult(boolean narrow) {
        mv.visitVarInsn(LLOAD, RES);
        if (narrow) {
            mv.visitInsn(L2I);
        } else {
            mv.visitInsn(LCONST_0);
            mv.visitInsn(LCMP);
        }
    }

    // ---- operands ----

    /** Reads {@code size} bytes at the flat memory operand (canonical check included). */
    private void load(Insn d, long next, int size) {
        linearAddress(d, next);
        checkCanonical(d.seg);
        readAtAddr(size);
    }

    /** Writes the {@code size} low bytes of the long {@code value} pushes to the flat memory operand. */
    private void store(Insn d, long next, int size, Runnable value) {
        linearAddress(d, next);
        checkCanonical(d.seg);
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitVarInsn(LLOAD, ADDR);
        iconst(size);
        value.run();
        invokeMayFault(WRITE_LIN);
    }

    /** Pushes the {@code size} bytes at ADDR. */
    private void readAtAddr(int size) {
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitVarInsn(LLOAD, ADDR);
        iconst(size);
        invokeMayFault(READ_LIN);
    }

    /** DST = the memory operand, SRC = the immediate or register {@code reg}: the operands of CMP m and ALU to m. */
    private void memoryAndSource(Insn d, int size, boolean immediate, int reg) {
        mv.visitVarInsn(LSTORE, DST);
        if (immediate) {
            lconst(d.fimm);
        } else {
            loadReg(reg, size);
        }
        mv.visitVarInsn(LSTORE, SRC);
    }

    /** Pushes the linear address of a flat memory operand: its effective address, plus the FS or GS base. */
    private void linearAddress(Insn d, long next) {
        address(d, next);
        if (d.segBased) {
            mv.visitVarInsn(ALOAD, CPU_ARG);
            mv.visitFieldInsn(GETFIELD, CPU, SEG_BASE, "[J");
            iconst(d.seg);
            mv.visitInsn(LALOAD);
            mv.visitInsn(LADD);
        }
    }

    /** Pushes the effective address of a flat memory operand (RIP-relative is a constant). */
    private void address(Insn d, long next) {
        switch (d.famode) {
            case Insn.AM_RIP:
                lconst(next + d.disp);
                return;
            case Insn.AM_ABS:
                lconst(d.disp);
                return;
            case Insn.AM_BASE:
            case Insn.AM_BASE_INDEX:
                pushReg(d.base);
                if (d.famode == Insn.AM_BASE_INDEX) {
                    scaledIndex(d);
                    mv.visitInsn(LADD);
                }
                break;
            default: // AM_INDEX
                scaledIndex(d);
                break;
        }
        if (d.disp != 0) {
            lconst(d.disp);
            mv.visitInsn(LADD);
        }
    }

    private void scaledIndex(Insn d) {
        pushReg(d.index);
        if (d.scale != 0) {
            iconst(d.scale);
            mv.visitInsn(LSHL);
        }
    }

    /** Stores the address on the stack into ADDR, raising #GP(0), or #SS(0) through SS, if it is not canonical. */
    private void checkCanonical(int seg) {
        mv.visitVarInsn(LSTORE, ADDR);
        mv.visitVarInsn(LLOAD, ADDR);
        mv.visitVarInsn(LLOAD, ADDR);
        iconst(16);
        mv.visitInsn(LSHL);
        iconst(16);
        mv.visitInsn(LSHR);
        mv.visitInsn(LCMP);
        Label ok = new Label();
        mv.visitJumpInsn(IFEQ, ok);
        writeBack();
        mv.visitVarInsn(ALOAD, CPU_ARG);
        iconst(seg);
        invoke(NON_CANONICAL);
        mv.visitInsn(ATHROW);
        mv.visitLabel(ok);
    }

    private static boolean isCanonical(long a) {
        return (a << 16 >> 16) == a;
    }

    private void loadReg(int reg, int size) {
        pushReg(reg);
        mask(size);
    }

    /** Pushes guest register {@code reg} from its local, loading the local from regs[] on first use. */
    private void pushReg(int reg) {
        ensureCached(reg);
        mv.visitVarInsn(LLOAD, FIRST_REG_LOCAL + 2 * reg);
    }

    private void ensureCached(int reg) {
        if (!cached[reg]) {
            requireStraightLine(reg);
            mv.visitVarInsn(ALOAD, REGS);
            iconst(reg);
            mv.visitInsn(LALOAD);
            mv.visitVarInsn(LSTORE, FIRST_REG_LOCAL + 2 * reg);
            cached[reg] = true;
            everCached[reg] = true;
        }
    }

    /** Guest register {@code reg} = the long {@code value} pushes, in its local until written back. */
    private void storeReg(int reg, Runnable value) {
        value.run();
        if (!cached[reg]) {
            requireStraightLine(reg);
        }
        mv.visitVarInsn(LSTORE, FIRST_REG_LOCAL + 2 * reg);
        cached[reg] = true;
        dirty[reg] = true;
        everCached[reg] = true;
    }

    /**
     * A local first set on one arm of a branch is unset on the other, and the verifier rejects
     * its use after they join: such a register must be cached before the branch.
     */
    private void requireStraightLine(int reg) {
        if (branchDepth != 0) {
            throw new IllegalStateException("register " + reg + " first used inside a branch");
        }
    }

    /** Writes register {@code reg}'s local back to regs[] if it is newer. */
    private void commit(int reg) {
        if (dirty[reg]) {
            storeToRegs(reg);
            dirty[reg] = false;
        }
    }

    /** The next use of {@code reg} reloads it from regs[] (a call changed it there). */
    private void invalidate(int reg) {
        cached[reg] = false;
        dirty[reg] = false;
    }

    private void storeToRegs(int reg) {
        mv.visitVarInsn(ALOAD, REGS);
        iconst(reg);
        mv.visitVarInsn(LLOAD, FIRST_REG_LOCAL + 2 * reg);
        mv.visitInsn(LASTORE);
    }

    /**
     * Emits the stores that make regs[] and the lazy record exact on a path that leaves the
     * block (an exit, a fault), without changing what the code after it assumes.
     */
    private void writeBack() {
        for (int r = 0; r < 16; r++) {
            if (dirty[r]) {
                storeToRegs(r);
            }
        }
        storeFlags();
    }

    /**
     * Calls {@code t}, which can throw a guest fault: the fault is delivered from regs[] and the
     * lazy record, so they are made exact first. (Writing them back only on the fault's path,
     * from a handler, measured slower: HotSpot spills every value live across a call it does
     * not inline, so the locals cost as much as the stores they save.)
     */
    private void invokeMayFault(MemberRef t) {
        flushFlags();
        for (int r = 0; r < 16; r++) {
            commit(r);
        }
        invoke(t);
    }

    private void mask(int size) {
        if (size != 8) {
            lconst(CpuState.mask(size));
            mv.visitInsn(LAND);
        }
    }

    private void putLong(String field, long value) {
        mv.visitVarInsn(ALOAD, CPU_ARG);
        lconst(value);
        mv.visitFieldInsn(PUTFIELD, CPU, field, "J");
    }

    /** retired = the count at entry + {@code n}. */
    private void putRetired(int n) {
        mv.visitVarInsn(ALOAD, CPU_ARG);
        mv.visitVarInsn(LLOAD, RETIRED_BASE);
        if (n != 0) {
            lconst(n);
            mv.visitInsn(LADD);
        }
        mv.visitFieldInsn(PUTFIELD, CPU, RETIRED, "J");
    }

    private void iconst(int v) {
        if (v >= -1 && v <= 5) {
            mv.visitInsn(ICONST_0 + v);
        } else if (v >= Byte.MIN_VALUE && v <= Byte.MAX_VALUE) {
            mv.visitIntInsn(BIPUSH, v);
        } else if (v >= Short.MIN_VALUE && v <= Short.MAX_VALUE) {
            mv.visitIntInsn(SIPUSH, v);
        } else {
            mv.visitLdcInsn(v);
        }
    }

    private void lconst(long v) {
        if (v == 0) {
            mv.visitInsn(LCONST_0);
        } else if (v == 1) {
            mv.visitInsn(LCONST_1);
        } else {
            mv.visitLdcInsn(v);
        }
    }
}

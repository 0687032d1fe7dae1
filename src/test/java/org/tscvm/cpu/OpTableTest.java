package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Walks the {@link Op} table and checks each row's invariants: every form has exactly one
 * handler (a static {@code (CpuExec, Insn)} method that exists, named after the row unless a
 * family shares one), the interpreter's dispatch calls exactly those, and every handler in the
 * family files serves a row; the
 * decode-time-resolved forms stand in for their family; and the declared flag behaviour holds on
 * a sample of each integer form: a form declared not to read the arithmetic flags leaves the
 * same registers and memory whatever flags it starts with, and one declared not to write them
 * leaves them as they were.
 */
class OpTableTest {
    /** The files of one-handler-per-form families: every static (CpuExec, Insn) method in them is some row's handler. */
    private static final List<Class<?>> FAMILY_FILES = List.of(IntAlu.class, IntMove.class, Branch.class, StringOps.class,
            SystemCalls.class, SystemOps.class);

    private static Method handler(Op op) throws ClassNotFoundException {
        Class<?> owner = Class.forName(op.handlerOwner.replace('/', '.'));
        try {
            return owner.getDeclaredMethod(op.handlerName, CpuExec.class, Insn.class);
        } catch (NoSuchMethodException e) {
            throw new AssertionError(op + ": no handler " + owner.getSimpleName() + "." + op.handlerName, e);
        }
    }

    @Test
    void everyFormHasExactlyOneHandlerAndEveryHandlerAForm() throws Exception {
        Map<Method, List<Op>> rowsByHandler = new HashMap<>();
        for (Op op : Op.VALUES) {
            Method m = handler(op);
            assertThat(Modifier.isStatic(m.getModifiers())).as(op + " handler is static").isTrue();
            assertThat(Modifier.isPrivate(m.getModifiers())).as(op + " handler is callable from generated code").isFalse();
            assertThat(m.getReturnType()).as(op + " handler returns void").isEqualTo(void.class);
            rowsByHandler.computeIfAbsent(m, k -> new ArrayList<>()).add(op);
            if (op.handlerName.equals(Op.handlerName(op.name()))) {
                // A handler named after its row is that form's alone.
                assertThat(op.handlerName).isNotEqualTo("execute");
            }
        }
        for (Map.Entry<Method, List<Op>> e : rowsByHandler.entrySet()) {
            if (e.getValue().size() > 1) {
                // Shared handlers are the family dispatchers and the forms not yet split out.
                assertThat(e.getValue()).allSatisfy(op -> assertThat(op.handlerName).isNotEqualTo(Op.handlerName(op.name())));
            }
        }
        for (Class<?> family : FAMILY_FILES) {
            for (Method m : family.getDeclaredMethods()) {
                boolean handlerShape = Modifier.isStatic(m.getModifiers()) && !Modifier.isPrivate(m.getModifiers())
                        && m.getReturnType() == void.class
                        && m.getParameterCount() == 2 && m.getParameterTypes()[0] == CpuExec.class
                        && m.getParameterTypes()[1] == Insn.class;
                if (handlerShape) {
                    assertThat(rowsByHandler).as(family.getSimpleName() + "." + m.getName() + " serves a row").containsKey(m);
                }
            }
        }
    }

    /** The interpreter's handlers (Dispatch.java): one per row, the row's handler method, in the table's order. */
    @Test
    void theInterpretersDispatchIsTheTable() throws Exception {
        String source = java.nio.file.Files.readString(java.nio.file.Path.of("src/main/java/org/tscvm/cpu/Dispatch.java"));
        String rows = source.substring(source.indexOf("// BEGIN the table's rows"), source.indexOf("// END the table's rows"));
        List<String> cases = new ArrayList<>();
        for (String line : rows.split("\n")) {
            if (line.trim().startsWith("case ")) {
                cases.add(line.trim());
            }
        }
        List<String> expected = new ArrayList<>();
        for (Op op : Op.VALUES) {
            if (op.group == Op.SSE) {
                assertThat(op.handlerOwner + "." + op.handlerName).as(op.name()).isEqualTo("org/tscvm/cpu/Sse.execute");
            } else if (op.group == Op.X87) {
                assertThat(op.handlerOwner + "." + op.handlerName).as(op.name()).isEqualTo("org/tscvm/cpu/X87.execute");
            } else {
                String owner = op.handlerOwner.substring(op.handlerOwner.lastIndexOf('/') + 1);
                expected.add("case " + op.name() + ": return new Handler() { void run(CpuExec c, Insn d) { " + owner + "."
                        + op.handlerName + "(c, d); } };");
            }
        }
        assertThat(cases).as("Dispatch.java's cases, one per row of Op").containsExactlyElementsOf(expected);
    }

    @Test
    void resolvedFormsStandInForTheirFamily() {
        Set<Op.Shape> resolved = EnumSet.of(Op.Shape.R_R, Op.Shape.R_I, Op.Shape.R_M, Op.Shape.M_R, Op.Shape.M_I);
        for (Op op : Op.VALUES) {
            if (op.family == null) {
                assertThat(op.shape).as(op.name()).isNotIn(resolved);
                continue;
            }
            assertThat(op.shape).as(op.name()).isIn(resolved);
            assertThat(op.family.family).as(op + ": a family row").isNull();
            assertThat(op.group).isEqualTo(op.family.group);
            assertThat(op.endsBlock).isEqualTo(op.family.endsBlock);
            assertThat(op.lockable).as(op + " is never decoded with LOCK").isFalse();
            assertThat(op.readsFlags).as(op + " reads no flags its family does not").isEqualTo(op.readsFlags && op.family.readsFlags);
            assertThat(op.writesFlags).as(op + " writes no flags its family does not").isEqualTo(op.writesFlags && op.family.writesFlags);
            if (op.shape == Op.Shape.R_R || op.shape == Op.Shape.R_I) {
                assertThat(op.neverFaults).as(op + ": registers and immediates only").isTrue();
            }
        }
    }

    /** A sample encoding of a row; {@code dependsOnFlags}: this sample's result must differ with the incoming flags. */
    private record Sample(Op op, String bytes, boolean dependsOnFlags) {
    }

    private static Sample s(Op op, String bytes) {
        return new Sample(op, bytes, false);
    }

    private static Sample dependent(Op op, String bytes) {
        return new Sample(op, bytes, true);
    }

    private static final List<Sample> SAMPLES = List.of(
            s(Op.ADD_R_R, "48 01 d8"), s(Op.OR_R_R, "48 09 c8"), s(Op.AND_R_R, "48 21 c8"), s(Op.SUB_R_R, "48 29 c8"),
            s(Op.XOR_R_R, "48 31 c8"), s(Op.CMP_R_R, "48 39 c8"), s(Op.TEST_R_R, "48 85 c8"),
            s(Op.ADD_R_I, "48 83 c0 05"), s(Op.OR_R_I, "48 83 c8 05"), s(Op.AND_R_I, "48 83 e0 05"),
            s(Op.SUB_R_I, "48 83 e8 05"), s(Op.XOR_R_I, "48 83 f0 05"), s(Op.CMP_R_I, "48 83 f8 05"),
            s(Op.TEST_R_I, "48 f7 c0 05 00 00 00"),
            s(Op.ADD_R_M, "48 03 03"), s(Op.OR_R_M, "48 0b 03"), s(Op.AND_R_M, "48 23 03"), s(Op.SUB_R_M, "48 2b 03"),
            s(Op.XOR_R_M, "48 33 03"), s(Op.CMP_R_M, "48 3b 03"), s(Op.CMP_M_I, "48 83 3b 05"), s(Op.CMP_M_R, "48 39 03"),
            s(Op.MOV_R_R, "48 89 c8"), s(Op.MOV_R_I, "48 c7 c0 05 00 00 00"), s(Op.MOV_R_M, "48 8b 03"),
            s(Op.MOV_M_R, "48 89 03"), s(Op.MOV_M_I, "48 c7 03 05 00 00 00"),
            dependent(Op.ALU_EG, "48 11 c8"), s(Op.ALU_EG, "48 01 03"), dependent(Op.ALU_GE, "48 1b c1"),
            dependent(Op.ALU_EI, "48 83 d0 05"), s(Op.TEST_EG, "84 c8"), s(Op.TEST_EI, "a8 05"),
            s(Op.INC, "48 ff c0"), s(Op.DEC, "48 ff c8"), s(Op.NOT, "48 f7 d0"), s(Op.NEG, "48 f7 d8"),
            s(Op.MUL, "48 f7 e1"), s(Op.IMUL1, "48 f7 e9"), s(Op.DIV, "48 f7 f1"), s(Op.IDIV, "48 f7 f9"),
            s(Op.IMUL_GE, "48 0f af c1"), s(Op.IMUL_GEI, "48 6b c1 07"),
            s(Op.SHIFT_I, "48 c1 e0 03"), dependent(Op.SHIFT_I, "48 c1 d0 03"), s(Op.SHIFT_CL, "48 d3 e0"),
            s(Op.SHLD_I, "48 0f a4 c8 04"), s(Op.SHLD_CL, "48 0f a5 c8"), s(Op.SHRD_I, "48 0f ac c8 04"),
            s(Op.SHRD_CL, "48 0f ad c8"), s(Op.BT_EG, "48 0f a3 c8"), s(Op.BT_EI, "48 0f ba e0 03"),
            s(Op.BSF, "48 0f bc c1"), s(Op.BSR, "48 0f bd c1"), s(Op.TZCNT, "f3 48 0f bc c1"),
            s(Op.LZCNT, "f3 48 0f bd c1"), s(Op.POPCNT, "f3 48 0f b8 c1"),
            s(Op.CBW, "48 98"), s(Op.CWD, "48 99"), dependent(Op.SETCC, "0f 92 c0"), dependent(Op.CMOVCC, "48 0f 42 c1"),
            s(Op.CLC, "f8"), s(Op.STC, "f9"), s(Op.CMC, "f5"), s(Op.CLD, "fc"), s(Op.STD, "fd"),
            s(Op.MOV_EG, "88 c8"), s(Op.MOV_GE, "66 8b c1"), s(Op.MOV_EI, "c6 c0 05"),
            s(Op.MOVZX_B, "48 0f b6 c1"), s(Op.MOVZX_W, "48 0f b7 c1"), s(Op.MOVSX_B, "48 0f be c1"),
            s(Op.MOVSX_W, "48 0f bf c1"), s(Op.MOVSXD, "48 63 c1"), s(Op.LEA, "48 8d 04 4b"),
            s(Op.XCHG, "48 87 c8"), s(Op.CMPXCHG, "48 0f b1 c8"), s(Op.XADD, "48 0f c1 c8"), s(Op.BSWAP, "48 0f c8"),
            s(Op.PUSH_E, "ff 33"), s(Op.PUSH_E, "50"), s(Op.POP_E, "58"), s(Op.PUSH_I, "6a 05"),
            dependent(Op.PUSHF, "9c"), s(Op.LEAVE, "c9"), s(Op.NOP, "90"),
            dependent(Op.JCC, "72 02"), s(Op.JMP_REL, "eb 02"), s(Op.CALL_REL, "e8 00 00 00 00"), s(Op.RET, "c3"),
            dependent(Op.LOOP, "e1 02"), s(Op.JRCXZ, "e3 02"),
            s(Op.MOVS, "a4"), s(Op.STOS, "aa"), s(Op.LODS, "ac"), s(Op.CMPS, "a6"), s(Op.SCAS, "ae"),
            s(Op.RDTSC, "0f 31"), s(Op.CPUID, "0f a2"), s(Op.SWAPGS, "0f 01 f8"), s(Op.MOV_R_CR, "0f 20 c0"),
            s(Op.CLTS, "0f 06"), s(Op.WBINVD, "0f 09"), s(Op.LAR, "48 0f 02 c1"), s(Op.SMSW, "0f 01 e0"),
            s(Op.CLI, "fa"), s(Op.STI, "fb"));

    private static final long DATA = 0x200000, ARITH = CpuState.ARITH;

    /** One instruction from a fixed state with the given incoming arithmetic flags: what it leaves. */
    private record Outcome(long[] gprs, long rip, long arith, byte[] data, byte[] stack, Op decoded) {
        boolean sameResults(Outcome o) {
            return java.util.Arrays.equals(gprs, o.gprs) && rip == o.rip && java.util.Arrays.equals(data, o.data)
                    && java.util.Arrays.equals(stack, o.stack);
        }
    }

    private static Outcome run(String bytes, long arith) {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCompileThreshold(0);
        for (int i = 0; i < 64; i++) {
            rig.memory.write8(DATA + i, 0x91 + 37 * i);
        }
        long[] init = {0x1122334455667788L, 3, 0, DATA, CpuRig.STACK_TOP - 0x40, CpuRig.STACK_TOP - 0x20, 0x7766, 0x5544,
            -2, 0x80, 0x7fffffffL, 0x80000000L, 12, 13, 14, 15};
        for (int r = 0; r < 16; r++) {
            rig.cpu.setGpr(r, init[r]);
        }
        rig.w64(CpuRig.STACK_TOP - 0x40, CpuRig.CODE + 0x100); // a return address for RET, a value for POP
        rig.w64(CpuRig.STACK_TOP - 0x20, CpuRig.STACK_TOP - 0x10); // the saved RBP for LEAVE
        rig.withCode(CpuRig.hex(bytes));
        rig.cpu.setRflags(2 | arith);
        Insn d = new Insn();
        new Decoder(rig.cpu).decode(d, CpuRig.CODE);
        rig.cpu.run(1);
        long[] gprs = new long[16];
        for (int r = 0; r < 16; r++) {
            gprs[r] = rig.cpu.getGpr(r);
        }
        byte[] data = new byte[64], stack = new byte[0x80];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) rig.memory.read8(DATA + i);
        }
        for (int i = 0; i < stack.length; i++) {
            stack[i] = (byte) rig.memory.read8(CpuRig.STACK_TOP - 0x80 + i);
        }
        return new Outcome(gprs, rig.cpu.getRip(), rig.cpu.getRflags() & ARITH, data, stack, d.op);
    }

    @Test
    void declaredFlagBehaviourHoldsOnASampleOfEachForm() {
        Set<Op> covered = EnumSet.noneOf(Op.class);
        for (Sample sample : SAMPLES) {
            Outcome clear = run(sample.bytes, 0);
            Outcome set = run(sample.bytes, ARITH);
            String what = sample.op + " (" + sample.bytes + ")";
            assertThat(clear.decoded).as(what + " decodes to its row").isEqualTo(sample.op);
            covered.add(sample.op);
            if (!sample.op.readsFlags) {
                assertThat(clear.sameResults(set)).as(what + " declares no flag read but its result depends on the flags").isTrue();
            }
            if (sample.dependsOnFlags) {
                assertThat(sample.op.readsFlags).as(what + " reads the flags").isTrue();
                assertThat(clear.sameResults(set)).as(what + " depends on the flags it starts with").isFalse();
            }
            if (!sample.op.writesFlags) {
                assertThat(clear.arith).as(what + " declares no flag write").isEqualTo(0);
                assertThat(set.arith).as(what + " declares no flag write").isEqualTo(ARITH);
            }
        }
        // Every decode-time-resolved row has a sample: the decoder really picks each one.
        for (Op op : Op.VALUES) {
            if (op.family != null) {
                assertThat(covered).as(op + " has a sample").contains(op);
            }
        }
    }
}

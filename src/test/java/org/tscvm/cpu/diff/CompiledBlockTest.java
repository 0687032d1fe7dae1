package org.tscvm.cpu.diff;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The block compiler (cpu/BlockCompiler) against the interpreter: the same code, registers,
 * flags and memory run on a CPU that compiles every block on its first run and on one that
 * never compiles, and everything the run leaves must be equal: how it stopped, RIP, the
 * retired count, all registers, all of RFLAGS and the memory buffer. The interpreter itself is
 * checked against the host CPU by {@link CpuDifferentialTest}.
 */
class CompiledBlockTest {
    private static final long SEED = 0xb10c_c0deL;
    private static final List<InstructionForms.Form> FORMS = InstructionForms.all(-1);

    private final InterpreterRunner interpreted = new InterpreterRunner(0);
    private final InterpreterRunner compiled = new InterpreterRunner(1);

    @Test
    void everyInstructionFormCompiledLeavesWhatTheInterpreterLeaves() {
        int cases = 3 * FORMS.size();
        for (int i = 0; i < cases; i++) {
            DiffCase c = FORMS.get(i % FORMS.size()).generator().generate(new Random(SEED + i));
            assertSame(c.code(), c.gpr(), c.rflags(), c.mem(), c.xmm(), c.mxcsr(), c.fx(), c.describeInput());
        }
        assertThat(compiled.compiledBlocks()).isGreaterThanOrEqualTo(cases);
        assertThat(interpreted.compiledBlocks()).isZero();
    }

    @Test
    void blocksOfSeveralRandomInstructionsCompiledLeaveWhatTheInterpreterLeaves() {
        // Mid-block faults (a later instruction's operand unmapped with the first case's
        // registers), MMIO, stores and flag producers followed by consumers all occur here.
        Random random = new Random(SEED);
        for (int i = 0; i < 4000; i++) {
            InstructionForms.Block b = InstructionForms.randomBlock(FORMS, random, 1, 7);
            DiffCase first = b.first();
            assertSame(b.code(), first.gpr(), first.rflags(), first.mem(), first.xmm(), first.mxcsr(),
                    first.fx(), "block " + i + ": " + b.what());
        }
    }

    @Test
    void compareAndBranchPairsTakeTheBranchTheInterpreterTakes() {
        // op rax, rbx (or eax, ebx); an optional MOV between; Jcc +1 over a HLT; HLT.
        // Not taken halts one byte after the Jcc, taken two: RIP tells them apart.
        byte[] ops = {0x39, 0x29, (byte) 0x85, 0x21, 0x09, 0x31, 0x01}; // cmp sub test and or xor add
        long[] values = {0, 1, -1, 2, Long.MIN_VALUE, Long.MAX_VALUE, 0x80000000L, 0x7fffffffL, 0xffffffffL,
            0x1_0000_0000L, 0xffffffff_7fffffffL, 42};
        Random random = new Random(SEED);
        int runs = 0;
        for (byte op : ops) {
            for (boolean wide : new boolean[] {true, false}) {
                for (int cc = 0; cc < 16; cc++) {
                    for (boolean movBetween : new boolean[] {false, true}) {
                        for (int k = 0; k < 12; k++) {
                            long a = k < values.length ? values[k] : random.nextLong();
                            long b = k < values.length ? values[(k * 5 + cc) % values.length] : random.nextLong();
                            if (random.nextInt(4) == 0) {
                                b = a;
                            }
                            ByteArrayOutputStream code = new ByteArrayOutputStream();
                            if (wide) {
                                code.write(0x48);
                            }
                            code.write(op);
                            code.write(0xd8);                       // ModRM: rax/eax, rbx/ebx
                            if (movBetween) {
                                code.writeBytes(new byte[] {0x48, (byte) 0x89, (byte) 0xd1}); // mov rcx, rdx
                            }
                            code.writeBytes(new byte[] {(byte) (0x70 | cc), 0x01, (byte) 0xf4});
                            long[] gpr = new long[16];
                            gpr[0] = a;
                            gpr[3] = b;
                            gpr[2] = random.nextLong();
                            assertSame(code.toByteArray(), gpr, random.nextInt(0x1000) & DiffCase.LOADABLE_FLAGS,
                                    new byte[DiffCase.BUF_SIZE],
                                    String.format("op %02x wide %s cc %x mov %s a %x b %x", op, wide, cc, movBetween, a, b));
                            runs++;
                        }
                    }
                }
            }
        }
        assertThat(compiled.compiledBlocks()).isGreaterThanOrEqualTo(runs);
    }

    @Test
    void indirectJumpsToBadTargetsFaultAtTheJumpAsInTheInterpreter() {
        // add rcx, 1; jmp rax (or jmp [rbx]); the target is non-canonical, unmapped or the HLT.
        byte[] viaRegister = {0x48, (byte) 0x83, (byte) 0xc1, 0x01, (byte) 0xff, (byte) 0xe0};
        byte[] viaMemory = {0x48, (byte) 0x83, (byte) 0xc1, 0x01, (byte) 0xff, 0x23};
        long[] targets = {0x8000_0000_0000_0000L, 0x0000_8000_0000_0000L, 0x7fff_ffff_f000L,
            DiffCase.CODE_ADDR + viaRegister.length};
        for (long target : targets) {
            long[] gpr = new long[16];
            gpr[0] = target;
            gpr[3] = DiffCase.BUF_ADDR;
            byte[] mem = new byte[DiffCase.BUF_SIZE];
            for (int k = 0; k < 8; k++) {
                mem[k] = (byte) (target >>> (8 * k));
            }
            assertSame(viaRegister, gpr, 0, mem, "jmp rax to " + Long.toHexString(target));
            assertSame(viaMemory, gpr, 0, mem, "jmp [rbx] to " + Long.toHexString(target));
        }
    }

    @Test
    void callsAndReturnsCompiledLeaveWhatTheInterpreterLeaves() {
        // call +0 (pushes the next RIP); add rcx, 1; then ret, ret 8 or ret with a corrupted
        // return address (non-canonical, unmapped), each in a block of its own.
        byte[] call = {(byte) 0xe8, 0, 0, 0, 0, 0x48, (byte) 0x83, (byte) 0xc1, 0x01};
        byte[][] returns = {{(byte) 0xc3}, {(byte) 0xc2, 8, 0}};
        long[] corruptions = {0, 0x8000_0000_0000_0000L, 0x1234_0000L};
        for (byte[] ret : returns) {
            for (long corruption : corruptions) {
                ByteArrayOutputStream code = new ByteArrayOutputStream();
                code.writeBytes(call);
                if (corruption != 0) {
                    code.writeBytes(new byte[] {0x48, (byte) 0x89, 0x04, 0x24}); // mov [rsp], rax
                }
                code.writeBytes(ret);
                long[] gpr = new long[16];
                gpr[0] = corruption;
                assertSame(code.toByteArray(), gpr, 0, new byte[DiffCase.BUF_SIZE],
                        "ret " + ret.length + " to " + Long.toHexString(corruption));
            }
        }
    }

    private void assertSame(byte[] code, long[] gpr, long rflags, byte[] mem, String what) {
        assertSame(code, gpr, rflags, mem, new long[32], DiffCase.DEFAULT_MXCSR, DiffCase.FNINIT_FX, what);
    }

    /** The same from an SSE and x87 state (the SSE and x87 forms run from random ones). */
    private void assertSame(byte[] code, long[] gpr, long rflags, byte[] mem, long[] xmm, int mxcsr, byte[] fx,
            String what) {
        String expected = interpreted.trace(code, gpr, rflags, mem, xmm, mxcsr, fx);
        String actual = compiled.trace(code, gpr, rflags, mem, xmm, mxcsr, fx);
        assertThat(actual).as(what).isEqualTo(expected);
    }
}

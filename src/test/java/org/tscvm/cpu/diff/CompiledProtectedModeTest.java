package org.tscvm.cpu.diff;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The block compiler on 32-bit protected-mode code against the interpreter, as
 * {@link CompiledBlockTest} checks it on 64-bit code: the same bytes, registers, flags and
 * memory, run by a CPU that compiles every block on its first run and by one that never
 * compiles, must leave the same stop, EIP, retired count, registers, RFLAGS and memory.
 */
class CompiledProtectedModeTest {
    private static final long SEED = 0x32b1_0c0dL;
    private static final List<InstructionForms.Form> FORMS = InstructionForms.all(-1);

    private final InterpreterRunner interpreted = InterpreterRunner.protectedMode(0);
    private final InterpreterRunner compiled = InterpreterRunner.protectedMode(1);

    @Test
    void blocksOfRandomInstructionsCompiledLeaveWhatTheInterpreterLeaves() {
        // The 64-bit forms' bytes mean other things here (REX bytes are INC and DEC, operands
        // are 32-bit, addresses segmented): whatever they mean, both must agree, faults included.
        Random random = new Random(SEED);
        for (int i = 0; i < 3000; i++) {
            InstructionForms.Block b = InstructionForms.randomBlock(FORMS, random, 0, 7);
            assertSame(b.code(), b.first().gpr(), b.first().rflags(), b.first().mem(), "block " + i + ": " + b.what());
        }
        assertThat(compiled.compiledBlocks()).isGreaterThan(1000);
        assertThat(interpreted.compiledBlocks()).isZero();
    }

    @Test
    void aLoopWithCallsRunsCompiledAndChainedAsInterpreted() {
        long buf = DiffCase.BUF_ADDR;
        byte[] code = java.util.HexFormat.of().parseHex(
                "eb06"              // jmp over the subroutine
                + "52"              // sub: push edx
                + "ff4308"          //      inc dword [ebx+8]
                + "5a"              //      pop edx
                + "c3"              //      ret
                + "b932000000"      // mov ecx, 50
                + "31c0"            // xor eax, eax
                + "bb" + le32(buf)  // mov ebx, buf
                + "01c8"            // loop: add eax, ecx
                + "8903"            //       mov [ebx], eax
                + "034304"          //       add eax, [ebx+4]
                + "e8e2ffffff"      //       call sub
                + "49"              //       dec ecx
                + "75f1");          //       jnz loop
        byte[] mem = new byte[DiffCase.BUF_SIZE];
        mem[4] = 3;
        String expected = interpreted.trace(code, new long[16], 0, mem);
        assertThat(expected).startsWith("HALTED").contains(" rcx=0 ");
        long before = compiled.compiledBlocks();
        assertThat(compiled.trace(code, new long[16], 0, mem)).isEqualTo(expected);
        assertThat(compiled.compiledBlocks() - before).isGreaterThanOrEqualTo(3);
    }

    @Test
    void codeInASegmentWithABaseRunsCompiledAsInterpreted() {
        // jmp far CS32_BASED:0x1007 (the next instruction, seen through a base of CODE_ADDR - 0x1000),
        // then a loop whose near branches, CALL and RET work on EIPs that are not linear addresses.
        long buf = DiffCase.BUF_ADDR;
        byte[] code = java.util.HexFormat.of().parseHex(
                "ea07100000" + String.format("%02x00", InterpreterRunner.CS32_BASED)
                + "eb06" + "52" + "ff4308" + "5a" + "c3"
                + "b932000000" + "bb" + le32(buf)
                + "ff03" + "e8e9ffffff" + "49" + "75f6");
        String expected = interpreted.trace(code, new long[16], 0, new byte[DiffCase.BUF_SIZE]);
        assertThat(expected).startsWith("HALTED rip=1024 ").contains(" rcx=0 ");
        long before = compiled.compiledBlocks();
        assertThat(compiled.trace(code, new long[16], 0, new byte[DiffCase.BUF_SIZE])).isEqualTo(expected);
        assertThat(compiled.compiledBlocks() - before).isGreaterThanOrEqualTo(3);
    }

    private static String le32(long v) {
        return String.format("%02x%02x%02x%02x", v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
    }

    private void assertSame(byte[] code, long[] gpr, long rflags, byte[] mem, String what) {
        String expected = interpreted.trace(code, gpr, rflags, mem);
        String actual = compiled.trace(code, gpr, rflags, mem);
        assertThat(actual).as(what).isEqualTo(expected);
    }
}

package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * DIV and IDIV in compiled code: the host's division where the quotient fits, the handler for
 * a 128-bit dividend, and #DE for a zero divisor or a quotient too wide, at the instruction's
 * RIP with the registers as they were, compiled as interpreted.
 */
class CompiledDivideTest {
    /** div rcx; mov r8, rax; div dword [rbx]; hlt. */
    private static final String CODE = "48 f7 f1 49 89 c0 f7 33 f4";
    private static final long DIVISOR32 = 0x30000;

    @ParameterizedTest
    @CsvSource({
        // rdx, rax, rcx, the dword at [rbx]: what happens
        "0, 1000000007, 10, 8, both quotients fit (EDX, the remainder 7, below 8)",
        "3, 5, 7, 9, a 128-bit dividend: the handler",
        "0, 5, 0, 9, #DE at the first DIV",
        "0, 0x1f, 0x10, 2, #DE at the second DIV: EDX (the remainder 15) not below 2",
        "0, 0x1f, 0x10, 0x20, the second DIV fits: EDX (15) below 32",
        "0, 1000000007, 10, 7, #DE at the second DIV: EDX (the remainder 7) equal to the divisor",
    })
    void divideCompiledAsInterpreted(String rdx, String rax, String rcx, String dword, String what) {
        runBoth(rig(0, rdx, rax, rcx, dword), rig(1, rdx, rax, rcx, dword), what, 6, 9);
    }

    /**
     * Runs both, compares them, and checks the #DE's RIP (the first division's, or the one
     * at {@code second}) or the RIP past the HLT at {@code end}; returns the compiled one.
     */
    private static CpuRig runBoth(CpuRig interpreted, CpuRig compiled, String what, int second, int end) {
        assertThat(compiled.cpu.run(100)).as(what).isEqualTo(interpreted.cpu.run(100));
        CpuRig.assertSameState(compiled, interpreted);
        assertThat(compiled.cpu.compiledBlocks()).isPositive();
        if (what.startsWith("#DE")) {
            assertThat(compiled.haltedInVector()).as(what).isEqualTo(0);
            long at = what.contains("first") ? CpuRig.CODE : CpuRig.CODE + second;
            assertThat(compiled.stack(0)).as("the division's RIP").isEqualTo(at);
        } else {
            assertThat(compiled.cpu.getRip()).as(what).isEqualTo(CpuRig.CODE + end);
        }
        return compiled;
    }

    /** idiv rcx; mov r8, rax; mov r9, rdx; mov eax, r10d; cdq; idiv dword [rbx]; hlt. */
    private static final String SIGNED = "48 f7 f9 49 89 c0 49 89 d1 44 89 d0 99 f7 3b f4";

    @ParameterizedTest
    @CsvSource({
        // rdx, rax, rcx, r10, the dword at [rbx]: what happens
        "-1, -1000000007, 10, -17, 5, both fit: negative dividends truncate toward zero",
        "0, 7, -2, 7, -2, both fit: negative divisors",
        "1, 0, 4, 9, 2, a 128-bit dividend (RDX not RAX's sign): the handler",
        "0, 5, 0, 9, 2, #DE at the first IDIV: a zero divisor",
        "-1, -0x8000000000000000, -1, 1, 1, #DE at the first IDIV: MIN / -1",
        "0, 100, 7, 0x80000000, 0xffffffff, #DE at the second IDIV: -2^31 / -1",
        "0, 100, 7, 9, 0, #DE at the second IDIV: a zero divisor",
    })
    void signedDivideCompiledAsInterpreted(String rdx, String rax, String rcx, String r10, String dword, String what) {
        CpuRig compiled = runBoth(signedRig(0, rdx, rax, rcx, r10, dword), signedRig(1, rdx, rax, rcx, r10, dword),
                what, 13, 16);
        if (what.startsWith("both fit: negative dividends")) {
            assertThat(compiled.cpu.getGpr(8)).isEqualTo(-100000000L);
            assertThat(compiled.cpu.getGpr(9)).isEqualTo(-7L);
            assertThat(compiled.cpu.getGpr(Cpu.RAX)).as("-17 / 5, zero-extended").isEqualTo(0xfffffffdL);
            assertThat(compiled.cpu.getGpr(Cpu.RDX)).as("-17 % 5, zero-extended").isEqualTo(0xfffffffeL);
        }
    }

    private static CpuRig signedRig(int threshold, String rdx, String rax, String rcx, String r10, String dword) {
        CpuRig rig = rig(threshold, rdx, rax, rcx, dword);
        rig.cpu.setGpr(10, Long.decode(r10));
        rig.load(CpuRig.CODE, CpuRig.hex(SIGNED));
        return rig;
    }

    private static CpuRig rig(int threshold, String rdx, String rax, String rcx, String dword) {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCompileThreshold(threshold);
        rig.cpu.setGpr(Cpu.RDX, Long.decode(rdx));
        rig.cpu.setGpr(Cpu.RAX, Long.decode(rax));
        rig.cpu.setGpr(Cpu.RCX, Long.decode(rcx));
        rig.cpu.setGpr(Cpu.RBX, DIVISOR32);
        rig.w64(DIVISOR32, Long.decode(dword));
        rig.withCode(CpuRig.hex(CODE));
        return rig;
    }
}

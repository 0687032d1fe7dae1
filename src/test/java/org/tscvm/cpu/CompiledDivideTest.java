package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Unsigned DIV in compiled code: the host's division where the quotient fits, the handler for
 * a 128-bit dividend, and #DE for a zero divisor or a quotient too wide, at the DIV's RIP with
 * the registers as they were, compiled as interpreted.
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
        CpuRig interpreted = rig(0, rdx, rax, rcx, dword);
        CpuRig compiled = rig(1, rdx, rax, rcx, dword);
        assertThat(compiled.cpu.run(100)).as(what).isEqualTo(interpreted.cpu.run(100));
        CpuRig.assertSameState(compiled, interpreted);
        assertThat(compiled.cpu.compiledBlocks()).isPositive();
        if (what.startsWith("#DE")) {
            assertThat(compiled.haltedInVector()).as(what).isEqualTo(0);
            long rsp = compiled.cpu.getGpr(Cpu.RSP);
            long at = what.contains("first") ? CpuRig.CODE : CpuRig.CODE + 6;
            assertThat(compiled.r64(rsp)).as("the DIV's RIP").isEqualTo(at);
        } else {
            assertThat(compiled.cpu.getRip()).as(what).isEqualTo(CpuRig.CODE + 9);
        }
    }

    private static CpuRig rig(int threshold, String rdx, String rax, String rcx, String dword) {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCompileThreshold(threshold);
        rig.cpu.setGpr(Cpu.RDX, Long.decode(rdx));
        rig.cpu.setGpr(Cpu.RAX, Long.decode(rax));
        rig.cpu.setGpr(Cpu.RCX, Long.decode(rcx));
        rig.cpu.setGpr(Cpu.RBX, DIVISOR32);
        rig.w64(DIVISOR32, Long.decode(dword));
        rig.load(CpuRig.CODE, CpuRig.hex(CODE));
        rig.cpu.setRip(CpuRig.CODE);
        return rig;
    }
}

package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SSE forms on two XMM registers generated inline in compiled code (moves, bitwise, 32- and
 * 64-bit lane adds and subtracts): the same XMM, general registers and RIP as interpreted at
 * every budget, a loop of them compiled as a JVM loop (so none called its handler), and #NM or
 * #UD from the handler, at the instruction, when CR0.TS or a clear CR4.OSFXSR forbids SSE.
 */
class CompiledSseTest {
    /**
     * loop: pxor xmm0, xmm1; paddd xmm2, xmm0; paddq xmm3, xmm1; psubd xmm4, xmm2; psubq xmm5,
     * xmm3; pand xmm6, xmm4; pandn xmm7, xmm5; por xmm0, xmm6; xorps xmm1, xmm2; movdqa xmm8,
     * xmm7; movdqu xmm9, xmm8; movaps xmm2, xmm0; andps xmm2, xmm3; andnps xmm3, xmm9; orps
     * xmm10, xmm1; movups xmm11, xmm10; add rax, 1; dec rcx; jnz loop; jmp done (the block ends
     * there, so the loop holds no handler call); done: hlt.
     */
    private static final String LOOP = "66 0f ef c1 66 0f fe d0 66 0f d4 d9 66 0f fa e2 66 0f fb eb 66 0f db f4"
            + " 66 0f df fd 66 0f eb c6 0f 57 ca 66 44 0f 6f c7 f3 45 0f 6f c8 0f 28 d0 0f 54 d3 41 0f 55 d9"
            + " 44 0f 56 d1 45 0f 10 da 48 83 c0 01 48 ff c9 75 b8 eb 00 f4";
    private static final long CR0_TS = 8, CR4_OSFXSR = 0x200;

    @ParameterizedTest
    @ValueSource(longs = {1, 5, 18, 19, 20, 100, 190, 1000, 100_000})
    void sseRegisterFormsCompiledAsInterpreted(long budget) {
        CpuRig interpreted = rig(0, 0, CR4_OSFXSR);
        CpuRig compiled = rig(2, 0, CR4_OSFXSR);
        for (int k = 0; k < 3; k++) {
            assertThat(compiled.cpu.run(budget)).isEqualTo(interpreted.cpu.run(budget));
            assertSameXmm(compiled, interpreted);
        }
        if (budget >= 1000) {
            assertThat(compiled.cpu.compiledLoops()).as("compiled as a JVM loop: no handler called").isPositive();
            assertThat(compiled.cpu.getXmm(0, 0)).as("the loop changed the registers").isNotEqualTo(0x0123456789abcdefL);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"TS", "OSFXSR"})
    void whereSseIsForbiddenTheHandlerFaultsAtTheInstruction(String why) {
        long cr0 = why.equals("TS") ? CR0_TS : 0;
        long cr4 = why.equals("TS") ? CR4_OSFXSR : 0;
        CpuRig interpreted = rig(0, cr0, cr4);
        CpuRig compiled = rig(1, cr0, cr4);
        assertThat(compiled.cpu.run(100)).isEqualTo(interpreted.cpu.run(100));
        assertSameXmm(compiled, interpreted);
        assertThat(compiled.cpu.compiledBlocks()).isPositive();
        assertThat(compiled.haltedInVector()).isEqualTo(why.equals("TS") ? CpuFault.NM : CpuFault.UD);
        assertThat(compiled.stack(0)).as("the PXOR's RIP").isEqualTo(CpuRig.CODE);
    }

    private static void assertSameXmm(CpuRig compiled, CpuRig interpreted) {
        CpuRig.assertSameState(compiled, interpreted);
        for (int r = 0; r < 16; r++) {
            for (int half = 0; half < 2; half++) {
                assertThat(compiled.cpu.getXmm(r, half)).as("xmm%d[%d]", r, half)
                        .isEqualTo(interpreted.cpu.getXmm(r, half));
            }
        }
    }

    private static CpuRig rig(int threshold, long cr0Set, long cr4Set) {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCompileThreshold(threshold);
        rig.cpu.setCr(0, rig.cpu.getCr(0) | cr0Set);
        rig.cpu.setCr(4, (rig.cpu.getCr(4) & ~CR4_OSFXSR) | cr4Set);
        rig.cpu.setGpr(Cpu.RAX, 0);
        rig.cpu.setGpr(Cpu.RCX, 1_000_000);
        long seed = 0x0123456789abcdefL;
        for (int r = 0; r < 16; r++) {
            rig.cpu.setXmm(r, seed, Long.rotateLeft(seed, 17) ^ 0x8000000080000000L * (r & 1));
            seed = seed * 6364136223846793005L + 1442695040888963407L;
        }
        rig.withCode(CpuRig.hex(LOOP));
        return rig;
    }
}

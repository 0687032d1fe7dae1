package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Links between decoded blocks: a link followed thousands of times must still notice the one
 * store that changes its target's code.
 */
class BlockLinkTest {
    @ParameterizedTest
    @ValueSource(ints = {0, 1, 3, 50})
    void aLinkedBlockWhoseCodeIsRewrittenRunsItsNewCode(int compileThreshold) {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCompileThreshold(compileThreshold);
        // 10000: cmp $500,%ecx; jne 10010; movb $7,0x11002; 10010: jmp 11000
        rig.load(CpuRig.CODE, CpuRig.hex("81 f9 f4 01 00 00 75 08 c6 04 25 02 10 01 00 07 e9 eb 0f 00 00"));
        // 11000: add $1,%ebx (its immediate at 11002); dec %ecx; jnz 10000; hlt
        rig.load(CpuRig.CODE + 0x1000, CpuRig.hex("83 c3 01 ff c9 0f 85 f5 ef ff ff f4"));
        rig.cpu.setGpr(Cpu.RCX, 1000);
        rig.cpu.setRip(CpuRig.CODE);
        assertThat(rig.cpu.run(100_000)).isEqualTo(RunStop.HALTED);
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.cpu.getGpr(Cpu.RBX)).as("500 times 1, then 500 times 7").isEqualTo(500 + 500 * 7);
    }
}

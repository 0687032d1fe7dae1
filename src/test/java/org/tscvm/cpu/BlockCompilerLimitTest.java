package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * A block whose method would pass HotSpot's limit for JIT compilation (8000 bytes of bytecode;
 * beyond it the method would run in the JVM's own interpreter) is compiled up to that point,
 * and its code leaves with RIP at the first instruction it does not cover.
 */
class BlockCompilerLimitTest {
    /** add %eax,(%rbx): the read-modify-write generated inline, well over 110 bytes of bytecode. */
    private static final String RMW = "01 03";
    private static final long DATA = 0x60000;

    private static CpuRig rig(int copies, int compileThreshold) {
        CpuRig rig = new CpuRig();
        rig.longMode();
        byte[] one = CpuRig.hex(RMW);
        byte[] code = new byte[one.length * copies + 1];
        for (int i = 0; i < copies; i++) {
            System.arraycopy(one, 0, code, i * one.length, one.length);
        }
        code[code.length - 1] = (byte) 0xf4; // hlt
        rig.withCode(code);
        rig.cpu.setGpr(Cpu.RAX, 3);
        rig.cpu.setGpr(Cpu.RBX, DATA);
        rig.cpu.setCompileThreshold(compileThreshold);
        return rig;
    }

    @Test
    void aBlockTooBigForOneHotSpotMethodIsCompiledUpToTheLimitAndTheRestRunsOnFromThere() {
        Insn[] insns = new Insn[64];
        Decoder decoder = new Decoder(rig(64, 0).cpu);
        for (int i = 0; i < insns.length; i++) {
            insns[i] = new Insn();
            decoder.decode(insns[i], CpuRig.CODE + 2L * i);
        }
        int covered = BlockCompiler.compile(insns, 64, CpuRig.CODE, -1).instructions;
        assertThat(covered).isBetween(16, 63);
        assertThat(BlockCompiler.compile(insns, covered, CpuRig.CODE, -1).instructions).isEqualTo(covered);

        // Compiled on its first run: the prefix leaves RIP mid-block, the rest is a block of its own.
        CpuRig compiled = rig(64, 1);
        for (int run = 0; run < 3; run++) {
            compiled.cpu.setRip(CpuRig.CODE);
            assertThat(compiled.cpu.run(1000)).isEqualTo(RunStop.HALTED);
        }
        CpuRig interpreted = rig(64, 0);
        for (int run = 0; run < 3; run++) {
            interpreted.cpu.setRip(CpuRig.CODE);
            assertThat(interpreted.cpu.run(1000)).isEqualTo(RunStop.HALTED);
        }
        assertThat(compiled.cpu.compiledBlocks()).isGreaterThanOrEqualTo(2);
        assertThat(compiled.memory.read64(DATA)).isEqualTo(3L * 64 * 3).isEqualTo(interpreted.memory.read64(DATA));
        assertThat(compiled.cpu.instructionsRetired()).isEqualTo(interpreted.cpu.instructionsRetired());
        assertThat(compiled.cpu.getRflags()).isEqualTo(interpreted.cpu.getRflags());
    }
}

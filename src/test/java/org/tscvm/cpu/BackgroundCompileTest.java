package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * Blocks compiled on the {@link BackgroundCompiler}'s thread: the block runs interpreted until
 * its code is ready, then compiled, with the interpreter's results; and code compiled for a
 * block that changed meanwhile is never run.
 */
class BackgroundCompileTest {
    private static final int THRESHOLD = 8;
    /** loop: add rax, rcx; dec rdx; jnz loop; hlt. */
    private static final String ADD_LOOP = "48 01 c8 48 ff ca 75 f8 f4";
    /** The same loop with SUB in place of ADD. */
    private static final byte[] SUB = CpuRig.hex("48 29 c8");

    private static CpuRig rig(int threshold, boolean background) {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCompileThreshold(threshold);
        rig.cpu.setBackgroundCompile(background);
        rig.cpu.setGpr(Cpu.RAX, 0);
        rig.cpu.setGpr(Cpu.RCX, 3);
        rig.cpu.setGpr(Cpu.RDX, 100_000);
        rig.withCode(CpuRig.hex(ADD_LOOP));
        return rig;
    }

    /**
     * Runs the first THRESHOLD iterations on both (the compiled rig's last one hands the block
     * over) and waits until the job is compiled, not yet installed.
     */
    private static void startAndAwaitCompile(CpuRig compiled, CpuRig interpreted) throws InterruptedException {
        compiled.cpu.run(3L * THRESHOLD);
        interpreted.cpu.run(3L * THRESHOLD);
        BackgroundCompiler.Job job = compiled.cpu.lastCompileJob;
        assertThat(job).as("a compilation was handed over").isNotNull();
        assertThat(compiled.cpu.compiledBlocks()).as("nothing installed by the vCPU's own thread").isZero();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!job.done() && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertThat(job.done()).as("compiled within 30 s").isTrue();
        assertThat(job.code()).as("compiled without error").isNotNull();
    }

    /** Runs both for each budget in turn, and compares them after each. */
    private static void runAlike(CpuRig compiled, CpuRig interpreted, long... budgets) {
        for (long budget : budgets) {
            assertThat(compiled.cpu.run(budget)).isEqualTo(interpreted.cpu.run(budget));
            CpuRig.assertSameState(compiled, interpreted);
        }
    }

    @Test
    void aBlockRunsCompiledOnceItsBackgroundCompilationIsDoneWithTheInterpretersResults() throws InterruptedException {
        CpuRig interpreted = rig(0, false);
        CpuRig compiled = rig(THRESHOLD, true);
        startAndAwaitCompile(compiled, interpreted);
        runAlike(compiled, interpreted, 1, 2, 1000, 12_345, 1_000_000);
        assertThat(compiled.cpu.compiledBlocks()).as("installed").isEqualTo(1);
        assertThat(compiled.cpu.getGpr(Cpu.RDX)).as("the loop ended").isZero();
        assertThat(compiled.cpu.getGpr(Cpu.RAX)).isEqualTo(300_000);
    }

    @Test
    void codeCompiledForABlockThatChangedMeanwhileIsNeverRun() throws InterruptedException {
        CpuRig interpreted = rig(0, false);
        CpuRig compiled = rig(THRESHOLD, true);
        startAndAwaitCompile(compiled, interpreted);
        // The ADD becomes a SUB after the code for the ADD loop is ready but before it is installed.
        compiled.load(CpuRig.CODE, SUB);
        interpreted.load(CpuRig.CODE, SUB);
        runAlike(compiled, interpreted, 1, 1000, 1_000_000);
        assertThat(compiled.cpu.getGpr(Cpu.RAX)).as("every later iteration subtracted")
                .isEqualTo(3L * THRESHOLD - 3L * (100_000 - THRESHOLD));
    }
}

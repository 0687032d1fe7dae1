package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Blocks that branch back to their own start, compiled into JVM loops with the registers in
 * locals: each stop (a budget, a fault, a request from another thread) must find the state
 * the interpreter leaves at that instruction.
 */
class CompiledLoopTest {
    private static final long UNMAPPED = 0x4000_0000L; // PDPT entry 1 is not present

    /** loop: add rax, rcx; dec rdx; jnz loop (a side exit back to the start); jmp 1f; 1: hlt. */
    private static final String COUNTED = "48 01 c8 48 ff ca 75 f8 eb 00 f4";
    /**
     * loop: inc rax; mov rsi, [rbx]; add rbx, 0x1000; cmp rax, rdx; jne loop (a side exit back
     * to the start); push rax; jmp loop — both back edges, a load, a push.
     */
    private static final String TWO_EDGES = "48 ff c0 48 8b 33 48 81 c3 00 10 00 00 48 39 d0 75 ee 50 eb eb";

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 7, 100, 1234, 2999, 3000, 3001})
    void aCompiledLoopStopsAtExactlyTheBudget(long budget) {
        CpuRig interpreted = counted(0);
        CpuRig compiled = counted(1);
        assertThat(compiled.cpu.run(budget)).isEqualTo(interpreted.cpu.run(budget));
        CpuRig.assertSameState(compiled, interpreted);
        assertThat(compiled.cpu.compiledLoops()).as("compiled as a loop").isEqualTo(1);
    }

    @ParameterizedTest
    @ValueSource(longs = {20, 21, 22, 100})
    void aRegisterLastWrittenInAnEarlierIterationIsWrittenBack(long budget) {
        // loop: inc rax; cmp rax, rdx; jne loop; mov rcx, rax; jmp loop — RCX is written once,
        // when RAX reaches RDX; every later stop is at the JNE's edge back to the start.
        CpuRig[] rigs = new CpuRig[2];
        for (int threshold = 0; threshold < 2; threshold++) {
            CpuRig rig = new CpuRig().longMode();
            rig.cpu.setCompileThreshold(threshold);
            rig.cpu.setGpr(Cpu.RAX, 0);
            rig.cpu.setGpr(Cpu.RCX, 0);
            rig.cpu.setGpr(Cpu.RDX, 5);
            rig.withCode(CpuRig.hex("48 ff c0 48 39 d0 75 f8 48 89 c1 eb f3"));
            assertThat(rig.cpu.run(budget)).isEqualTo(RunStop.BUDGET_EXHAUSTED);
            rigs[threshold] = rig;
        }
        CpuRig.assertSameState(rigs[1], rigs[0]);
        assertThat(rigs[1].cpu.getGpr(Cpu.RCX)).isEqualTo(5);
        assertThat(rigs[1].cpu.compiledLoops()).as("compiled as a loop").isEqualTo(1);
    }

    @Test
    void aLoopRunsToItsEndAsInterpreted() {
        CpuRig interpreted = counted(0);
        CpuRig compiled = counted(1);
        assertThat(interpreted.cpu.run(1_000_000)).isEqualTo(RunStop.HALTED);
        assertThat(compiled.cpu.run(1_000_000)).isEqualTo(RunStop.HALTED);
        CpuRig.assertSameState(compiled, interpreted);
        assertThat(compiled.cpu.getGpr(Cpu.RAX)).isEqualTo(3 * 1000);
        assertThat(compiled.cpu.instructionsRetired()).isEqualTo(interpreted.cpu.instructionsRetired());
    }

    @ParameterizedTest
    @ValueSource(longs = {2, 3, 9})
    void aFaultInALaterIterationSeesThatIterationsState(long pushEvery) {
        // RBX walks up to the unmapped GiB: the load faults in the fourth iteration.
        CpuRig interpreted = twoEdges(0, pushEvery);
        CpuRig compiled = twoEdges(1, pushEvery);
        assertThat(compiled.cpu.run(10_000)).isEqualTo(interpreted.cpu.run(10_000)).isEqualTo(RunStop.HALTED);
        assertThat(compiled.haltedInVector()).isEqualTo(14);
        assertThat(compiled.cpu.compiledLoops()).as("compiled as a loop").isEqualTo(1);
        CpuRig.assertSameState(compiled, interpreted);
        assertThat(compiled.stack(1)).as("the faulting RIP").isEqualTo(CpuRig.CODE + 3);
        assertThat(compiled.stack(3)).as("the flags pushed").isEqualTo(interpreted.stack(3));
        assertThat(compiled.cpu.getCr(2)).isEqualTo(UNMAPPED);
    }

    @Test
    void aStopRequestedFromAnotherThreadEndsALoopThatNeverExits() {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCompileThreshold(1);
        rig.load(CpuRig.CODE, CpuRig.hex("48 ff c0 eb fb")); // loop: inc rax; jmp loop
        rig.cpu.setRip(CpuRig.CODE);
        rig.cpu.setGpr(Cpu.RAX, 0);
        long retiredBefore = rig.cpu.instructionsRetired();
        Thread stopper = new Thread(() -> {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                return;
            }
            rig.cpu.requestStop();
        });
        stopper.start();
        RunStop stop = Assertions.assertTimeoutPreemptively(Duration.ofSeconds(20),
                () -> rig.cpu.run(Long.MAX_VALUE));
        assertThat(stop).isEqualTo(RunStop.STOP_REQUESTED);
        assertThat(rig.cpu.getRip()).as("at the loop's start or its JMP").isIn(CpuRig.CODE, CpuRig.CODE + 3);
        long iterations = rig.cpu.getGpr(Cpu.RAX);
        assertThat(rig.cpu.instructionsRetired() - retiredBefore).isIn(2 * iterations, 2 * iterations - 1);
        assertThat(rig.cpu.compiledLoops()).as("compiled as a loop").isEqualTo(1);
    }

    private static CpuRig counted(int compileThreshold) {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCompileThreshold(compileThreshold);
        rig.cpu.setGpr(Cpu.RAX, 0);
        rig.cpu.setGpr(Cpu.RCX, 3);
        rig.cpu.setGpr(Cpu.RDX, 1000);
        rig.withCode(CpuRig.hex(COUNTED));
        return rig;
    }

    private static CpuRig twoEdges(int compileThreshold, long pushEvery) {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCompileThreshold(compileThreshold);
        rig.cpu.setGpr(Cpu.RBX, UNMAPPED - 0x3000);
        rig.cpu.setGpr(Cpu.RDX, pushEvery);
        rig.withCode(CpuRig.hex(TWO_EDGES));
        return rig;
    }
}

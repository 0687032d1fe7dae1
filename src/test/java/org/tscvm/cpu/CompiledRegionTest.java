package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Regions: guest loops through several blocks of one page, compiled as one JVM loop, and
 * traces of blocks that JMP to one another. Every stop (a budget, a fault, a store into the
 * loop's own code) must find the state the interpreter leaves at that instruction, and the
 * code must really have been compiled so.
 */
class CompiledRegionTest {
    private static final long UNMAPPED = 0x4000_0000L; // PDPT entry 1 is not present
    /** Runs before a block compiles: every block of the loop is decoded and hot by then. */
    private static final int THRESHOLD = 8;

    /** head: add rax, rcx; jmp body; hlt; hlt; body: dec rdx; jnz head; hlt. */
    private static final String JMP_THEN_JCC = "48 01 c8 eb 02 f4 f4 48 ff ca 75 f4 f4";
    /**
     * head: mov rsi, [rbx]; add rbx, 0x1000; inc rax; jnz body (taken: the region follows it);
     * hlt x3; body: add rcx, rsi; jmp head. RBX walks up to the unmapped GiB.
     */
    private static final String TAKEN_JCC_AND_LOAD = "48 8b 33 48 81 c3 00 10 00 00 48 ff c0 75 03 f4 f4 f4 48 01 f1 eb e9";
    /**
     * head: mov rdi, r8; inc rax; cmp rax, r9; cmove rdi, r10; jmp body; hlt; body: mov [rdi],
     * eax; add rcx, 0x10000; cmp rax, rdx; jne head; hlt. In iteration R9 the store goes into
     * the ADD's immediate (R10), so later iterations add the iteration number instead.
     */
    private static final String STORES_INTO_ITSELF =
            "4c 89 c7 48 ff c0 4c 39 c8 49 0f 44 fa eb 01 f4 89 07 48 81 c1 00 00 01 00 48 39 d0 75 e2 f4";

    /**
     * t0: add rax, rcx; jmp t1; hlt; t1: bsf rdx, rax (a handler); mov rsi, [rbx]; jmp t2; hlt;
     * t2: add rbx, 0x1000; jmp [rdi] (back to t0, indirectly: a trace, not a loop).
     */
    private static final String TRACE = "48 01 c8 eb 01 f4 48 0f bc d0 48 8b 33 eb 01 f4 48 81 c3 00 10 00 00 ff 27";

    @ParameterizedTest
    @ValueSource(longs = {100, 101, 102, 103, 104, 105, 106, 280, 281, 282, 283, 284, 1000})
    void aTraceStopsWhereTheInterpreterDoesAndItsHandlerAndFaultAreExact(long budget) {
        CpuRig interpreted = trace(0);
        CpuRig compiled = trace(THRESHOLD);
        assertThat(compiled.cpu.run(budget)).isEqualTo(interpreted.cpu.run(budget));
        CpuRig.assertSameState(compiled, interpreted);
        // Near the budget blocks run interpreted, so t1 may compile as a trace's head too.
        assertThat(compiled.cpu.compiledRegions()).as("compiled as a trace").isPositive();
        assertThat(compiled.cpu.compiledLoops()).as("no loop: the way back is indirect").isZero();
        if (budget == 1000) {
            // RBX reaches the unmapped GiB in the 41st iteration, at its load.
            assertThat(compiled.haltedInVector()).isEqualTo(14);
            assertThat(compiled.cpu.getCr(2)).isEqualTo(UNMAPPED);
            assertThat(compiled.stack(1)).as("the faulting RIP").isEqualTo(CpuRig.CODE + 0xa);
            assertThat(compiled.cpu.getGpr(Cpu.RAX)).isEqualTo(41 * 0x30L);
        }
    }

    /** t0: add rax, 1; call f; jmp t0; hlt; f: add rcx, rax; mov [rsp-16], rcx; ret. */
    private static final String CALL = "48 83 c0 01 e8 03 00 00 00 eb f5 f4 48 01 c1 48 89 4c 24 f0 c3";

    @ParameterizedTest
    @ValueSource(longs = {48, 49, 50, 51, 52, 53, 54, 55, 100, 1000})
    void aTraceFollowsACallIntoTheCallee(long budget) {
        CpuRig interpreted = call(0);
        CpuRig compiled = call(THRESHOLD);
        assertThat(compiled.cpu.run(budget)).isEqualTo(interpreted.cpu.run(budget));
        CpuRig.assertSameState(compiled, interpreted);
        if (compiled.cpu.getRip() >= CpuRig.CODE + 0xc) {
            assertThat(compiled.stack(0)).as("in the callee: the return address on top").isEqualTo(CpuRig.CODE + 9);
        }
        assertThat(compiled.stack(-2)).as("the callee's store").isEqualTo(interpreted.stack(-2));
        if (budget == 1000) {
            assertThat(compiled.cpu.compiledRegions()).as("compiled as a trace").isPositive();
            assertThat(compiled.cpu.getGpr(Cpu.RCX)).isEqualTo(166L * 167 / 2 + 167);
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 31, 32, 33, 34, 35, 100, 101, 102, 103, 2999, 3000, 3001})
    void aRegionStopsAtExactlyTheBudget(long budget) {
        CpuRig interpreted = jmpThenJcc(0);
        CpuRig compiled = jmpThenJcc(THRESHOLD);
        assertThat(compiled.cpu.run(budget)).isEqualTo(interpreted.cpu.run(budget));
        CpuRig.assertSameState(compiled, interpreted);
        if (budget > 100) {
            // Near the budget blocks run interpreted, so the second block may compile as a region's head too.
            assertThat(compiled.cpu.compiledRegions()).as("compiled as a region").isBetween(1L, 2L);
        }
    }

    @Test
    void aRegionRunsToItsEndAsInterpreted() {
        CpuRig interpreted = jmpThenJcc(0);
        CpuRig compiled = jmpThenJcc(THRESHOLD);
        assertThat(interpreted.cpu.run(1_000_000)).isEqualTo(RunStop.HALTED);
        assertThat(compiled.cpu.run(1_000_000)).isEqualTo(RunStop.HALTED);
        CpuRig.assertSameState(compiled, interpreted);
        assertThat(compiled.cpu.getGpr(Cpu.RAX)).isEqualTo(3 * 1000);
        assertThat(compiled.cpu.getRip()).isEqualTo(CpuRig.CODE + 13);
        assertThat(compiled.cpu.compiledRegions()).as("compiled as a region").isEqualTo(1);
        assertThat(compiled.cpu.compiledLoops()).isEqualTo(1);
    }

    @ParameterizedTest
    @ValueSource(longs = {60, 61, 62, 63, 64, 65, 95, 96, 97, 98, 1000})
    void aFaultInALaterIterationSeesThatIterationsState(long budget) {
        CpuRig interpreted = takenJccAndLoad(0);
        CpuRig compiled = takenJccAndLoad(THRESHOLD);
        assertThat(compiled.cpu.run(budget)).isEqualTo(interpreted.cpu.run(budget));
        CpuRig.assertSameState(compiled, interpreted);
        if (budget == 1000) {
            assertThat(compiled.haltedInVector()).isEqualTo(14);
            assertThat(compiled.cpu.getCr(2)).isEqualTo(UNMAPPED);
            assertThat(compiled.stack(1)).as("the faulting RIP").isEqualTo(CpuRig.CODE);
            assertThat(compiled.stack(3)).as("the flags pushed").isEqualTo(interpreted.stack(3));
            assertThat(compiled.cpu.compiledRegions()).as("compiled as a region").isBetween(1L, 2L);
        }
    }

    @Test
    void theTakenWayOfAFollowedJccIsTheRegionAndTheOtherWayLeavesIt() {
        // RAX starts at -20: in the 20th iteration INC makes it 0, JNZ falls through to HLT.
        CpuRig interpreted = takenJccAndLoad(0);
        CpuRig compiled = takenJccAndLoad(THRESHOLD);
        interpreted.cpu.setGpr(Cpu.RAX, -20);
        compiled.cpu.setGpr(Cpu.RAX, -20);
        interpreted.cpu.setGpr(Cpu.RBX, 0x30000);
        compiled.cpu.setGpr(Cpu.RBX, 0x30000);
        assertThat(compiled.cpu.run(1000)).isEqualTo(interpreted.cpu.run(1000)).isEqualTo(RunStop.HALTED);
        CpuRig.assertSameState(compiled, interpreted);
        assertThat(compiled.cpu.getRip()).isEqualTo(CpuRig.CODE + 0x10);
        assertThat(compiled.cpu.compiledRegions()).as("compiled as a region").isEqualTo(1);
    }

    @ParameterizedTest
    @ValueSource(longs = {5000, 8990, 8995, 8996, 8997, 8998, 8999, 9000, 9005, 9010, 100_000})
    void aStoreIntoTheRegionsOwnCodeEndsItAndTheNewCodeRuns(long budget) {
        CpuRig interpreted = storesIntoItself(0);
        CpuRig compiled = storesIntoItself(THRESHOLD);
        assertThat(compiled.cpu.run(budget)).isEqualTo(interpreted.cpu.run(budget));
        CpuRig.assertSameState(compiled, interpreted);
        assertThat(compiled.cpu.compiledRegions()).as("compiled as a region").isGreaterThanOrEqualTo(1);
        if (budget == 100_000) {
            // 999 iterations add 0x10000; from the 1,000th, whose store comes before its ADD, 1,000.
            assertThat(compiled.cpu.getGpr(Cpu.RCX)).isEqualTo(999L * 0x10000 + 2001L * 1000);
        }
    }

    /**
     * A 64-bit CPU about to run {@code code} at {@link CpuRig#CODE}, compiling at
     * {@code threshold} runs (0: never), with the registers given as index, value pairs.
     */
    private static CpuRig rig(int threshold, String code, long... registers) {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCompileThreshold(threshold);
        for (int k = 0; k < registers.length; k += 2) {
            rig.cpu.setGpr((int) registers[k], registers[k + 1]);
        }
        rig.withCode(CpuRig.hex(code));
        return rig;
    }

    private static CpuRig call(int threshold) {
        return rig(threshold, CALL, Cpu.RAX, 0, Cpu.RCX, 0);
    }

    private static CpuRig trace(int threshold) {
        CpuRig rig = rig(threshold, TRACE, Cpu.RAX, 0, Cpu.RCX, 0x30, Cpu.RBX, UNMAPPED - 40 * 0x1000, Cpu.RDI, 0x30000);
        rig.w64(0x30000, CpuRig.CODE);
        return rig;
    }

    private static CpuRig jmpThenJcc(int threshold) {
        return rig(threshold, JMP_THEN_JCC, Cpu.RAX, 0, Cpu.RCX, 3, Cpu.RDX, 1000);
    }

    private static CpuRig takenJccAndLoad(int threshold) {
        return rig(threshold, TAKEN_JCC_AND_LOAD, Cpu.RAX, 0, Cpu.RBX, UNMAPPED - 16 * 0x1000);
    }

    private static CpuRig storesIntoItself(int threshold) {
        return rig(threshold, STORES_INTO_ITSELF, Cpu.RAX, 0, Cpu.RCX, 0, Cpu.RDX, 3000, 8, 0x30000, 9, 1000,
                10, CpuRig.CODE + 0x15);
    }
}

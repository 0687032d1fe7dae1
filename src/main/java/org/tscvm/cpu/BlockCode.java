package org.tscvm.cpu;

/**
 * One decoded block compiled to a JVM method by {@link BlockCompiler}. Running it has
 * the same effect as stepping the block's instructions: on return RIP, the previous RIP, the
 * retired count and the lazy flags are what the step loop would leave, and before anything
 * that can fault or reach a device (memory operands, the generic handlers) they are exact for
 * the instruction about to run.
 */
abstract class BlockCode {
    /**
     * The most instructions one pass retires before the code returns or loops: the block's
     * (its first ones only, when it was too long for one method), or a loop region's.
     */
    final int instructions;
    /** Whether the code loops back to the block's start itself (a guest loop as a JVM loop, maybe through other blocks). */
    final boolean loops;

    BlockCode(int instructions, boolean loops) {
        this.instructions = instructions;
        this.loops = loops;
    }

    /** Runs the block from its first instruction; {@code insns} is the block's decoded form. */
    abstract void run(Cpu cpu, Insn[] insns);
}

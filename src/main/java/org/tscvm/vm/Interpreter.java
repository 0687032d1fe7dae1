package org.tscvm.vm;

import org.tscvm.cpu.Cpu;
import org.tscvm.cpu.RunStop;

/**
 * What {@link Vcpu#run()} needs from the interpreter: the {@link Cpu} methods the run loop
 * calls, and nothing else. It is the seam that lets the run loop be tested with a scripted
 * interpreter (as Firecracker tests its exit handling without KVM).
 */
interface Interpreter {
    RunStop run(long maxInstructions);

    long instructionsRetired();

    /** Thread-safe. */
    void requestStop();

    /** Thread-safe. */
    void notifyInterrupt();

    /** RFLAGS.IF: whether a maskable interrupt could wake the halted CPU. */
    boolean interruptsEnabled();

    /** One line for a triple-fault report. */
    String describe();

    /** The {@link Cpu} itself. */
    static Interpreter of(Cpu cpu) {
        return new Interpreter() {
            private static final long RFLAGS_IF = 1L << 9;

            @Override
            public RunStop run(long maxInstructions) {
                return cpu.run(maxInstructions);
            }

            @Override
            public long instructionsRetired() {
                return cpu.instructionsRetired();
            }

            @Override
            public void requestStop() {
                cpu.requestStop();
            }

            @Override
            public void notifyInterrupt() {
                cpu.notifyInterrupt();
            }

            @Override
            public boolean interruptsEnabled() {
                return (cpu.getRflags() & RFLAGS_IF) != 0;
            }

            @Override
            public String describe() {
                return cpu.describe();
            }
        };
    }
}

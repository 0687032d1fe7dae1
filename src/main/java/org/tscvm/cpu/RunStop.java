package org.tscvm.cpu;

/** Why {@link Cpu#run(long)} returned. */
public enum RunStop {
    /** The instruction budget was used up; call run again. */
    BUDGET_EXHAUSTED,
    /** HLT executed; the CPU waits for an interrupt (or NMI, INIT). */
    HALTED,
    /** {@link Cpu#requestStop()} was called (an exit is pending, a pause was asked for). */
    STOP_REQUESTED,
    /** A fault during double-fault delivery: the processor shuts down. */
    TRIPLE_FAULT,
    /** An application processor after INIT, waiting for STARTUP. */
    WAIT_FOR_SIPI,
    /** RIP is at a debugger's breakpoint ({@link Cpu#setDebugTraps}); the instruction has not run. */
    BREAKPOINT,
    /** The last instruction accessed a debugger's watched range ({@link Cpu#lastWatchAddress}). */
    WATCHPOINT
}

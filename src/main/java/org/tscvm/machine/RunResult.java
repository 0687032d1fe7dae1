package org.tscvm.machine;

/**
 * How a run ended and the process exit status it maps to (platform.md section 8). Debug-exit
 * statuses are odd, so every other status tscvm chooses is even.
 *
 * @param exitStatus the status {@code tscvm run} exits with
 * @param reason     one line for a human: what ended the run
 */
public record RunResult(int exitStatus, Reason kind, String reason) {
    /**
     * "Shutdown" written to port 0x8900, ACPI soft-off (S5), or a guest reset (port 0xCF9, the
     * FADT's RESET_REG, the 8042) under -no-reboot, as QEMU exits 0; without it the machine reboots.
     */
    public static final int STATUS_SHUTDOWN = 0;
    /** A triple fault: the processor shut down. QEMU with --no-reboot would stop as well. */
    public static final int STATUS_TRIPLE_FAULT = 4;
    /** Every vCPU halted with nothing left that could wake it. */
    public static final int STATUS_HALTED = 6;
    /** A bug in tscvm surfaced while running the guest. */
    public static final int STATUS_INTERNAL_ERROR = 8;
    /** The run's wall-clock limit passed. */
    public static final int STATUS_TIMEOUT = 20;
    /** A debugger ended the run (gdb's kill). */
    public static final int STATUS_KILLED = 24;
    /** An incoming migration (-incoming) whose state could not be loaded: the machine has nothing to run. */
    public static final int STATUS_MIGRATION_FAILED = 36;
    /**
     * An incoming migration whose stream ended before the state was whole (the source cancelled
     * it or broke off): nothing of it ran, and the same destination can be started again.
     */
    public static final int STATUS_MIGRATION_INCOMPLETE = 44;

    public enum Reason { DEBUG_EXIT, SHUTDOWN, RESET, TRIPLE_FAULT, HALTED, INTERNAL_ERROR, TIMEOUT, KILLED, MIGRATION_FAILED }

    /** {@code outl v} to isa-debug-exit: status (v << 1) | 1, as QEMU computes it. */
    public static RunResult debugExit(int value) {
        // Most runs end here: neither String.format (Formatter and locale data, some 100 classes)
        // nor + (an invokedynamic concatenation spins method handle classes on first use).
        return new RunResult((value << 1) | 1, Reason.DEBUG_EXIT, new StringBuilder("isa-debug-exit wrote 0x")
                .append(Integer.toHexString(value)).append(": exit status ").append((value << 1) | 1).toString());
    }
}

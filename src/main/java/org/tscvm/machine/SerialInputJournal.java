package org.tscvm.machine;

/**
 * Record and replay of COM1's input on the deterministic clock ({@link MachineRunner#journalSerialInput}).
 * Input then reaches the UART only at the start of a round-robin pass, a point the run repeats
 * exactly: the runner hands each delivery to the journal (recording) or asks it what is due
 * (replaying). Called only from the thread running the vCPUs.
 */
public interface SerialInputJournal {
    /**
     * Where a round-robin pass starts: its number since the run began, the host clock, vCPU 0's
     * and all vCPUs' retired instructions. The pass number places an event; the rest checks it.
     */
    record Point(long pass, long hostTsc, long vcpu0Retired, long totalRetired) {
    }

    /** True when replaying: stdin is not read, and {@link #due} supplies every byte. */
    boolean replaying();

    /**
     * Replaying: the bytes recorded at this pass (checked against {@code p}), or null when none
     * is due or the run diverged ({@link #divergence}).
     */
    byte[] due(Point p);

    /** The bytes the UART took at {@code p}; {@code offered} is how many were offered. */
    void delivered(Point p, byte[] taken, int offered);

    /** Replaying: true while recorded input is still to come. */
    boolean moreInput();

    /** The run ended at {@code p} (its pass: the passes begun). */
    void ended(Point p);

    /** Why the replay no longer follows the recording, or null. */
    String divergence();
}

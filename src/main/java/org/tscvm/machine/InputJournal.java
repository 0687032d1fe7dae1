package org.tscvm.machine;

/**
 * Record and replay on the deterministic clock ({@link MachineRunner#journalInput}): every input
 * the guest does not determine — COM1's input bytes and the monitor's actions on the run —
 * takes effect only at the start of a round-robin pass, a point the run repeats exactly. The
 * runner hands each one to the journal (recording) or asks it what is due (replaying). Called
 * only from the thread running the vCPUs.
 */
public interface InputJournal {
    /**
     * Where a round-robin pass starts: its number since the run began, the host clock, vCPU 0's
     * and all vCPUs' retired instructions. The pass number places an event; the rest checks it.
     */
    record Point(long pass, long hostTsc, long vcpu0Retired, long totalRetired) {
    }

    /** What a monitor can do to a run that changes what the guest sees. */
    enum MonitorAction {
        /** QMP system_reset: the machine reboots. */
        SYSTEM_RESET("system_reset"),
        /** QMP quit: the run ends. */
        QUIT("quit");

        private final String command;

        MonitorAction(String command) {
            this.command = command;
        }

        /** The QMP command's name, also the action's name in a replay log. */
        public String command() {
            return command;
        }
    }

    /** True when replaying: stdin is not read, {@link #due} supplies every byte and {@link #dueAction} every monitor action. */
    boolean replaying();

    /**
     * Replaying: the next monitor action recorded at this pass (checked against {@code p}), or
     * null when none is (more) due or the run diverged ({@link #divergence}). A pass's actions
     * come before its input bytes.
     */
    MonitorAction dueAction(Point p);

    /** The monitor's {@code action} took effect at {@code p}. */
    void acted(Point p, MonitorAction action);

    /**
     * Replaying: the bytes recorded at this pass (checked against {@code p}), or null when none
     * is due or the run diverged ({@link #divergence}).
     */
    byte[] due(Point p);

    /** The bytes the UART took at {@code p}; {@code offered} is how many were offered. */
    void delivered(Point p, byte[] taken, int offered);

    /** Replaying: true while recorded events are still to come. */
    boolean moreInput();

    /** The run ended at {@code p} (its pass: the passes begun). */
    void ended(Point p);

    /** Why the replay no longer follows the recording, or null. */
    String divergence();
}

package org.tscvm.snapshot;

/**
 * How much guest time passes across a save and a restore (tsc-semantics A7, R17/R19): the
 * guest TSC, the ACPI PM timer and the RTC continue from their saved values plus this downtime,
 * at the guest's own rates. (The PIT's and the local APICs' counters resume where they stopped,
 * as KVM's KVM_SET_PIT2 and KVM_SET_LAPIC do; a TSC deadline is a guest TSC value, so one that
 * the downtime passed fires at once.)
 */
public enum RestoreTime {
    /** The wall-clock time between the save and the restore: guest time keeps step with the world. */
    WALL_CLOCK,
    /** No time: the guest continues as if it had been paused ({@code --restore-time paused}). */
    PAUSED;

    /**
     * The default: {@link #WALL_CLOCK} on the real-time clock, {@link #PAUSED} on the
     * deterministic one, whose runs must repeat (wall-clock time would make every restore differ).
     */
    public static RestoreTime defaultFor(boolean deterministic) {
        return deterministic ? PAUSED : WALL_CLOCK;
    }
}

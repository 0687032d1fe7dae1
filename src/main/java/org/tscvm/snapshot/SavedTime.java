package org.tscvm.snapshot;

import org.tscvm.vm.VmTscState;

/**
 * The time a snapshot carries (tsc-semantics A7): every vCPU's TSC state read at one host
 * instant, the wall-clock time of that instant (to count the downtime on restore), and the host
 * clock's reading, frequency and adjust at it (for the record, and so a deterministic clock can
 * continue from where it stood).
 *
 * @param savedAtEpochNanos wall-clock time of the save, nanoseconds since 1970-01-01T00:00Z
 * @param hostKhz           the saving host clock's frequency
 * @param hostTsc           the saving host clock's reading (with its adjust)
 * @param hostTscAdjust     the saving host's IA32_TSC_ADJUST (A2)
 * @param deterministic     the saving machine ran on the deterministic clock
 * @param tsc               per vCPU: kHz, guest TSC, TSC_ADJUST, TSC_AUX, TSC deadline
 */
public record SavedTime(long savedAtEpochNanos, long hostKhz, long hostTsc, long hostTscAdjust,
                        boolean deterministic, VmTscState tsc) {
}

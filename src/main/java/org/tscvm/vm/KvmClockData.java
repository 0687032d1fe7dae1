package org.tscvm.vm;

/**
 * KVM's struct kvm_clock_data, what {@link Vm#getKvmClock()} (KVM_GET_CLOCK) returns and
 * {@link Vm#setKvmClock(KvmClockData)} (KVM_SET_CLOCK) takes (tsc-semantics R20).
 *
 * @param clock    kvmclock, in nanoseconds: what every vCPU's pvclock page reads now
 * @param flags    {@link #TSC_STABLE}, {@link #REALTIME}, {@link #HOST_TSC}
 * @param realtime the host's CLOCK_REALTIME in nanoseconds at the same instant (with {@link #REALTIME})
 * @param hostTsc  the host TSC at the same instant: raw, unscaled, no offset, with the host's
 *                 own TSC_ADJUST (with {@link #HOST_TSC})
 */
public record KvmClockData(long clock, int flags, long realtime, long hostTsc) {
    /** KVM_CLOCK_TSC_STABLE: the master clock is in use, so every vCPU's kvmclock is one clock. */
    public static final int TSC_STABLE = 2;
    /** KVM_CLOCK_REALTIME: {@link #realtime()} is valid; on SET, the time since then is added. */
    public static final int REALTIME = 1 << 2;
    /** KVM_CLOCK_HOST_TSC: {@link #hostTsc()} is valid. */
    public static final int HOST_TSC = 1 << 3;
    /** KVM_CLOCK_VALID_FLAGS: KVM_SET_CLOCK refuses any other bit. */
    public static final int VALID_FLAGS = TSC_STABLE | REALTIME | HOST_TSC;

    /** A KVM_SET_CLOCK argument: set kvmclock to {@code clock} nanoseconds, no flags. */
    public static KvmClockData of(long clock) {
        return new KvmClockData(clock, 0, 0, 0);
    }

    /**
     * A KVM_SET_CLOCK argument as R19's migration recipe writes it: kvmclock {@code clock} at host
     * CLOCK_REALTIME {@code realtime}; the destination adds the real time that has passed since.
     */
    public static KvmClockData atRealtime(long clock, long realtime) {
        return new KvmClockData(clock, REALTIME, realtime, 0);
    }

    public boolean has(int flag) {
        return (flags & flag) != 0;
    }
}

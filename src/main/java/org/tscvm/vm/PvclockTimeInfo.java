package org.tscvm.vm;

import org.tscvm.tsc.PvclockScale;

/**
 * One vCPU's pvclock structure (struct pvclock_vcpu_time_info, 32 bytes in guest memory) as
 * KVM last wrote it ({@link Vcpu#getPvclockTimeInfo()}): the guest reads
 * {@code systemTime + scale(rdtsc - tscTimestamp)} nanoseconds of kvmclock, retrying while
 * {@code version} is odd or changed (tsc-semantics R20).
 *
 * @param version          even once consistent; odd while KVM writes
 * @param tscTimestamp     the vCPU's L1 guest TSC at the update
 * @param systemTime       kvmclock in nanoseconds at that TSC
 * @param tscToSystemMul   the 32-bit multiplier of the guest TSC-to-nanoseconds scale
 * @param tscShift         its shift
 * @param flags            {@link KvmClock#PVCLOCK_TSC_STABLE_BIT} under a master clock, and
 *                         {@link KvmClock#PVCLOCK_GUEST_STOPPED} as the guest left it
 */
public record PvclockTimeInfo(int version, long tscTimestamp, long systemTime, int tscToSystemMul, int tscShift,
                              int flags) {
    /** Guest-TSC offsets in the structure (pvclock.h layout). */
    static final int VERSION = 0, TSC_TIMESTAMP = 8, SYSTEM_TIME = 16, TSC_TO_SYSTEM_MUL = 24, TSC_SHIFT = 28,
            FLAGS = 29, BYTES = 32;

    /** kvmclock at guest TSC {@code guestTsc}, as a guest computes it (__pvclock_read_cycles). */
    public long nanosAt(long guestTsc) {
        return systemTime + PvclockScale.apply(guestTsc - tscTimestamp, tscToSystemMul & 0xffff_ffffL, tscShift);
    }
}

package org.tscvm.vm;

import java.util.List;

/**
 * The VM's clocks read at one instant ({@link Vm#getClock()}): the host TSC, as R20's
 * KVM_CLOCK_HOST_TSC reports it (raw host TSC, with the host adjust, unscaled, no offset), the
 * monotonic nanoseconds at that reading, and each vCPU's TSC as a host-initiated read of MSR
 * 0x10 returns it at that same host TSC (R3), indexed by vCPU id.
 */
public record VmClock(long hostTsc, long hostNanos, List<Long> guestTscs) {
    public VmClock {
        guestTscs = List.copyOf(guestTscs);
    }

    /** vCPU {@code id}'s TSC at {@link #hostTsc()}. */
    public long guestTsc(int id) {
        return guestTscs.get(id);
    }
}

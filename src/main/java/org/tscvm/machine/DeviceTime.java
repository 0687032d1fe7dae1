package org.tscvm.machine;

import org.tscvm.devices.DeviceClock;
import org.tscvm.tsc.HostClock;

/**
 * The time the board's devices see (PIT, ACPI PM timer, RTC): nanoseconds of the VM's host
 * clock plus a base. The base is 0 until a snapshot is restored; then it makes the device time
 * continue from the saved device time (plus the downtime the restore counts), because a new
 * machine's host clock starts from its own origin. One conversion to host-clock ticks, so the
 * run loop times the PIT on the same base the PIT reads.
 */
final class DeviceTime implements DeviceClock {
    private static final long NANOS_PER_MILLI = 1_000_000L;

    private final HostClock clock;
    private volatile long baseNanos;

    DeviceTime(HostClock clock) {
        this.clock = clock;
    }

    @Override
    public long nanos() {
        return clock.nanosAt(clock.now()) + baseNanos;
    }

    /** From now on {@link #nanos()} continues from {@code deviceNanos}. */
    void continueFrom(long deviceNanos) {
        baseNanos = deviceNanos - clock.nanosAt(clock.now());
    }

    /** The first host-clock reading at which {@link #nanos()} reads at least {@code deviceNanos}. */
    long hostTscAt(long deviceNanos) {
        long nanos = deviceNanos - baseNanos;
        long khz = clock.khz();
        long ticks = Math.floorDiv(nanos, NANOS_PER_MILLI) * khz
                + (Math.floorMod(nanos, NANOS_PER_MILLI) * khz + NANOS_PER_MILLI - 1) / NANOS_PER_MILLI;
        return ticks + clock.tscAdjust();
    }
}

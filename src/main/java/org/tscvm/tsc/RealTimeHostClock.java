package org.tscvm.tsc;

/**
 * A host clock driven by {@link System#nanoTime()}: ticks = nanoseconds since creation x kHz /
 * 10^6 (A2). The conversion is exact integer maths: the nanoseconds are split into whole
 * milliseconds and a remainder, so nothing overflows before 2^63 ticks, nothing is rounded
 * twice and nothing drifts. {@code System.nanoTime} is monotonic, and the conversion is
 * non-decreasing, so {@link #now()} never goes backwards (unless the host adjust is lowered).
 */
public final class RealTimeHostClock implements HostClock {
    private final long khz;
    private final long originNanos;
    private volatile long tscAdjust;

    public RealTimeHostClock() {
        this(DEFAULT_KHZ);
    }

    public RealTimeHostClock(long khz) {
        this.khz = HostClock.checkKhz(khz);
        this.originNanos = System.nanoTime();
    }

    @Override
    public long now() {
        return ticksForNanos(System.nanoTime() - originNanos, khz) + tscAdjust;
    }

    /** {@code floor(nanos * khz / 10^6)} for non-negative nanos, without a 128-bit product. */
    static long ticksForNanos(long nanos, long khz) {
        long millis = nanos / TscMath.NANOS_PER_MILLI;
        long remainderNanos = nanos % TscMath.NANOS_PER_MILLI;
        return millis * khz + remainderNanos * khz / TscMath.NANOS_PER_MILLI;
    }

    @Override
    public long khz() {
        return khz;
    }

    @Override
    public long tscAdjust() {
        return tscAdjust;
    }

    @Override
    public void setTscAdjust(long adjust) {
        tscAdjust = adjust;
    }

    @Override
    public String toString() {
        return "real-time host clock at " + khz + " kHz";
    }
}

package org.tscvm.tsc;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.function.LongSupplier;
import org.tscvm.TscvmException;

/**
 * A host clock driven by {@link System#nanoTime()}: ticks = nanoseconds since creation x kHz /
 * 10^6 (A2). The conversion is exact integer maths: the nanoseconds are split into whole
 * milliseconds and a remainder, so nothing overflows before 2^63 ticks, nothing is rounded
 * twice and nothing drifts.
 *
 * <p><b>One monotonic source.</b> Every reading, from {@link #now()} or from a vCPU's
 * {@link #vcpuReader()}, is {@code max(candidate, high-water mark)}, where the mark is the
 * largest tick count any reading of this clock has returned, and the reading raises the mark
 * before it returns. So if one reading returns before another starts, the second is never
 * smaller, whichever threads made them: vCPUs, devices, the TSC-deadline timer and host MSR
 * reads never see a value below one a guest has seen. The mark is kept in pieces so that a
 * vCPU raises it without a CAS: each vCPU reader publishes its own last value (a release
 * store, a plain store on x86), host readings raise a shared word by CAS, and the mark is
 * the maximum of them all.
 *
 * <p><b>Cheap guest reads.</b> {@code System.nanoTime} costs 30-40 ns on a kvm-clock host,
 * more than the whole RDTSC budget. A vCPU's reader ({@link VcpuEstimator}) therefore reads
 * it only now and then and, in between, estimates from the instructions the vCPU retired,
 * never more than {@link #estimateBoundNanos()} ahead of the last real reading.
 */
public final class RealTimeHostClock implements HostClock {
    /**
     * The default bound on how far an estimated reading may run ahead of real time, in
     * nanoseconds. Each reading is in {@code [real, real + bound)} as far as the estimate goes
     * (lag aside: see {@link VcpuEstimator}), so the difference of two readings' errors is
     * below the bound, and the rate over a window of 1 ms or more stays within 250 ppm (R14's
     * tolerance). Measured on the bench rdtsc loop (about 50 ns per iteration in the
     * interpreter): 125 ns saves nothing over one nanoTime per read, 250 ns halves the cost,
     * 1000 ns quarters it.
     */
    public static final long DEFAULT_ESTIMATE_BOUND_NANOS = 250;

    /**
     * Estimated readings after one real read before the next real read, whatever the
     * estimate: a reader whose instructions do not advance (a host thread calling the guest
     * side) still meets the real clock every this many reads.
     */
    public static final int MAX_ESTIMATES_PER_ANCHOR = 16;

    /**
     * vCPU readers that publish through their own slot; readers created beyond this (a clock
     * shared by many short-lived VMs in tests) publish through the shared word, so that no
     * reading scans an unbounded list.
     */
    static final int MAX_SLOTTED_READERS = 64;

    private static final VarHandle HOST_MARK;

    static {
        try {
            HOST_MARK = MethodHandles.lookup().findVarHandle(RealTimeHostClock.class, "hostMark", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final long khz;
    private final LongSupplier nanoSource;
    private final long originNanos;
    /** The wall clock (ns since 1970) when {@link #originNanos} was read. */
    private final long originRealtimeNanos;
    private final long estimateBoundNanos;
    /** {@link #estimateBoundNanos} in ticks of this clock, rounded down. */
    private final long estimateBoundTicks;
    private volatile long tscAdjust;
    /** The largest reading (ticks without the host adjust) returned through the shared word. */
    private volatile long hostMark;
    /** The readers with a slot; copy-on-write, grown under the clock's monitor. */
    private volatile VcpuEstimator[] slottedReaders = new VcpuEstimator[0];

    public RealTimeHostClock() {
        this(DEFAULT_KHZ);
    }

    public RealTimeHostClock(long khz) {
        this(khz, DEFAULT_ESTIMATE_BOUND_NANOS);
    }

    /**
     * A clock whose vCPU readers may run up to {@code estimateBoundNanos} ahead of real time
     * (0: every guest read is a real read). A larger bound makes guest RDTSC cheaper when the
     * interpreter is slow and lengthens the shortest window over which the rate holds to
     * 250 ppm to {@code bound / 250 ppm}.
     */
    public RealTimeHostClock(long khz, long estimateBoundNanos) {
        this(khz, estimateBoundNanos, System::nanoTime);
    }

    /** A clock on another monotonic nanosecond source: tests drive real time by hand. */
    RealTimeHostClock(long khz, long estimateBoundNanos, LongSupplier nanoSource) {
        this.khz = HostClock.checkKhz(khz);
        if (estimateBoundNanos < 0 || estimateBoundNanos > TscMath.NANOS_PER_MILLI) {
            throw new TscvmException(String.format(
                    "estimate bound %d ns is out of range: use 0 to %d ns", estimateBoundNanos, TscMath.NANOS_PER_MILLI));
        }
        this.estimateBoundNanos = estimateBoundNanos;
        this.nanoSource = nanoSource;
        this.originNanos = nanoSource.getAsLong();
        this.originRealtimeNanos = System.currentTimeMillis() * TscMath.NANOS_PER_MILLI;
        this.estimateBoundTicks = ticksForNanos(estimateBoundNanos, khz);
    }

    @Override
    public long now() {
        long reading = Math.max(realTicks(), highWater());
        raiseHostMark(reading);
        return reading + tscAdjust;
    }

    /** Ticks since creation from the nanosecond source, without the host adjust and the mark. */
    long realTicks() {
        return ticksForNanos(nanoSource.getAsLong() - originNanos, khz);
    }

    /** The largest reading returned so far (volatile loads of every piece). */
    long highWater() {
        long mark = hostMark;
        for (VcpuEstimator reader : slottedReaders) {
            mark = Math.max(mark, reader.publishedVolatile());
        }
        return mark;
    }

    /** Raises the shared word to {@code reading} (a CAS only when it moves). */
    void raiseHostMark(long reading) {
        long mark = hostMark;
        while (reading > mark && !HOST_MARK.compareAndSet(this, mark, reading)) {
            mark = hostMark;
        }
    }

    long estimateBoundTicks() {
        return estimateBoundTicks;
    }

    /** How far an estimated reading may run ahead of real time, in nanoseconds. */
    public long estimateBoundNanos() {
        return estimateBoundNanos;
    }

    /** {@code floor(nanos * khz / 10^6)} for non-negative nanos, without a 128-bit product. */
    static long ticksForNanos(long nanos, long khz) {
        long millis = nanos / TscMath.NANOS_PER_MILLI;
        long remainderNanos = nanos % TscMath.NANOS_PER_MILLI;
        return millis * khz + remainderNanos * khz / TscMath.NANOS_PER_MILLI;
    }

    /** An estimating reader for one vCPU ({@link VcpuEstimator}). */
    @Override
    public synchronized VcpuReader vcpuReader() {
        VcpuEstimator[] readers = slottedReaders;
        boolean slotted = readers.length < MAX_SLOTTED_READERS;
        VcpuEstimator reader = new VcpuEstimator(this, slotted);
        if (slotted) {
            VcpuEstimator[] grown = Arrays.copyOf(readers, readers.length + 1);
            grown[readers.length] = reader;
            slottedReaders = grown;
        }
        return reader;
    }

    @Override
    public long realtimeNanosAt(long hostTsc) {
        return originRealtimeNanos + nanosAt(hostTsc);
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

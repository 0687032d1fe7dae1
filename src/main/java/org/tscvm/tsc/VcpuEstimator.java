package org.tscvm.tsc;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One vCPU's reader of a {@link RealTimeHostClock}: a real read (an <i>anchor</i>) now and
 * then, and in between {@code anchor + instructions since x ticks per instruction}, the rate
 * calibrated on the intervals between anchors. Owned by the vCPU thread; no lock, no CAS, no
 * allocation.
 *
 * <p>What holds for every value it returns (ticks without the host adjust):
 * <ol>
 * <li><b>Never backwards</b>, on this vCPU or against any other reading of the clock: the
 *     value is at least the clock's high-water mark, and is published as this reader's piece
 *     of the mark (a release store) before it is returned. Any reading that happens-after
 *     this one (in the JMM sense: ordered through a Java atomic, or a guest LOCKed
 *     instruction, which the interpreter performs with VarHandle atomics) loads that piece
 *     with a volatile read and cannot be smaller.
 * <li><b>Less than the bound ahead of real time</b>: an estimate is used only while
 *     {@code instructions since the anchor x rate} is below the bound, and the anchor is a
 *     real reading taken earlier; a value taken from the mark was such a value earlier. This
 *     holds whatever the rate, right or wrong.
 * <li><b>Not behind the last anchor</b>, and an anchor comes at least every {@link
 *     RealTimeHostClock#MAX_ESTIMATES_PER_ANCHOR} reads, as soon as the estimate reaches the
 *     bound, after {@link #resync()} (a device access, a slice end, a halt) and when the
 *     instruction count went back (a restored CPU). Between anchors an estimate lags real time
 *     only as far as the instructions since the anchor ran slower than the calibrated rate.
 * <li><b>No drift</b>: every anchor is a {@code System.nanoTime} reading, and no estimate
 *     carries over from one anchor to the next.
 * </ol>
 * The rate errs high on purpose, where the bound caps the error: it rises at once to a higher
 * sample (an interval in which the thread was descheduled gives one) and falls halfway to a
 * lower one per anchor. Too high a rate only makes anchors more frequent.
 */
final class VcpuEstimator implements HostClock.VcpuReader {
    /** Fractional bits of the calibrated ticks-per-instruction rate. */
    private static final int RATE_FRACTION_BITS = 16;
    /** An interval longer than this many ticks is not used to calibrate ({@code ticks << 16} must fit). */
    private static final long MAX_CALIBRATION_TICKS = 1L << 40;
    /**
     * More instructions than this since the anchor always re-anchor. The rate is at most the
     * bound per instruction (below 2^27 ticks: 1 ms at 100 GHz), so {@code 2^20 x 2^43} fits.
     */
    private static final long MAX_ESTIMATED_INSTRUCTIONS = 1L << 20;

    private static final VarHandle PUBLISHED;

    static {
        try {
            PUBLISHED = MethodHandles.lookup().findVarHandle(VcpuEstimator.class, "published", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final RealTimeHostClock clock;
    /** Whether {@link #published} is one of the clock's mark pieces, or this reader uses the shared word. */
    private final boolean slotted;
    private final long boundTicks;
    /** The bound per instruction, the highest useful rate: any higher re-anchors on every read. */
    private final long maxTicksPerInstruction;

    /** This reader's last value; for a slotted reader, its piece of the clock's mark. */
    @SuppressWarnings("unused") // through PUBLISHED
    private long published;
    /** The real reading (not raised to the mark) the estimates build on. */
    private long anchorTicks;
    private long anchorInstructions;
    private int estimatesLeft;
    /** Ticks per retired instruction, {@link #RATE_FRACTION_BITS} fractional bits. */
    private long ticksPerInstruction;
    /** True while the time since the anchor was all interpretation, so it may calibrate the rate. */
    private boolean intervalClean;

    VcpuEstimator(RealTimeHostClock clock, boolean slotted) {
        this.clock = clock;
        this.slotted = slotted;
        this.boundTicks = clock.estimateBoundTicks();
        this.maxTicksPerInstruction = Math.max(1, boundTicks << RATE_FRACTION_BITS);
        // Start at the highest rate: every read is real until an interval calibrates.
        this.ticksPerInstruction = maxTicksPerInstruction;
    }

    @Override
    public long now(long instructionsRetired) {
        long sinceAnchor = instructionsRetired - anchorInstructions;
        // Unsigned: a count that went back (a restored CPU) is huge and re-anchors.
        if (Long.compareUnsigned(sinceAnchor, MAX_ESTIMATED_INSTRUCTIONS) < 0 && estimatesLeft > 0) {
            long estimate = (sinceAnchor * ticksPerInstruction) >>> RATE_FRACTION_BITS;
            if (estimate < boundTicks) {
                estimatesLeft--;
                return publish(anchorTicks + estimate) + clock.tscAdjust();
            }
        }
        return anchor(instructionsRetired);
    }

    private long anchor(long instructionsRetired) {
        long real = clock.realTicks();
        long instructions = instructionsRetired - anchorInstructions;
        long ticks = real - anchorTicks;
        if (intervalClean && instructions > 0 && ticks >= 0 && ticks < MAX_CALIBRATION_TICKS) {
            long sample = (ticks << RATE_FRACTION_BITS) / instructions;
            long rate = sample >= ticksPerInstruction ? sample : (ticksPerInstruction + sample) >>> 1;
            ticksPerInstruction = Math.max(1, Math.min(maxTicksPerInstruction, rate));
        }
        anchorTicks = real;
        anchorInstructions = instructionsRetired;
        estimatesLeft = RealTimeHostClock.MAX_ESTIMATES_PER_ANCHOR;
        intervalClean = true;
        return publish(real) + clock.tscAdjust();
    }

    /** {@code max(candidate, mark)}, published as this reader's piece of the mark before it returns. */
    private long publish(long candidate) {
        long reading = Math.max(candidate, clock.highWater());
        if (slotted) {
            PUBLISHED.setRelease(this, reading);
        } else {
            clock.raiseHostMark(reading);
        }
        return reading;
    }

    /**
     * This reader's piece of the clock's mark, as another thread reads it: a volatile load
     * (a plain load on x86, so no dearer than acquire, and never reordered with the reader's
     * earlier accesses).
     */
    long publishedVolatile() {
        return (long) PUBLISHED.getVolatile(this);
    }

    @Override
    public void resync() {
        estimatesLeft = 0;
        intervalClean = false;
    }

    /** The calibrated rate in ticks per instruction, for tests. */
    double ticksPerInstruction() {
        return (double) ticksPerInstruction / (1L << RATE_FRACTION_BITS);
    }

    /** The real reading the current estimates build on, for tests. */
    long anchorTicks() {
        return anchorTicks;
    }
}

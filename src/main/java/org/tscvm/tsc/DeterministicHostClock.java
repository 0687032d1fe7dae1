package org.tscvm.tsc;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.tscvm.TscvmException;

/**
 * A host clock that moves only when told to (A2, deterministic mode): the vCPU run loop
 * advances it by the instructions retired ({@link #ticksPerInstruction()} ticks each) and jumps
 * it forward over HLT to the next timer deadline, so a run repeats bit for bit. Starts at tick 0.
 */
public final class DeterministicHostClock implements HostClock {
    /**
     * One host tick per retired instruction: an interpreter at IPC 1 on the nominal frequency.
     * Busy-wait loops that poll the TSC then cost the fewest instructions per unit of guest time
     * that still lets every instruction be seen to take time.
     */
    public static final long DEFAULT_TICKS_PER_INSTRUCTION = 1;

    /** Real time at the clock's 0: 2024-01-01 00:00:00 UTC, so the guest's dates repeat too. */
    public static final long EPOCH_SECONDS = 1_704_067_200L;

    private final long khz;
    private final long ticksPerInstruction;
    /** Ticks without the host adjust. */
    private final AtomicLong ticks = new AtomicLong();
    private volatile long tscAdjust;
    /**
     * The instruction counter of the vCPU running now, while a slice runs: readings inside the
     * slice then move with every retired instruction, not only at the slice's end.
     */
    private LongSupplier runningCounter;
    private long runningCounterBase;

    public DeterministicHostClock() {
        this(DEFAULT_KHZ, DEFAULT_TICKS_PER_INSTRUCTION);
    }

    public DeterministicHostClock(long khz) {
        this(khz, DEFAULT_TICKS_PER_INSTRUCTION);
    }

    public DeterministicHostClock(long khz, long ticksPerInstruction) {
        this.khz = HostClock.checkKhz(khz);
        if (ticksPerInstruction < 1) {
            throw new TscvmException("ticks per instruction must be at least 1, not " + ticksPerInstruction);
        }
        this.ticksPerInstruction = ticksPerInstruction;
    }

    @Override
    public long now() {
        long t = ticks.get();
        LongSupplier counter = runningCounter;
        if (counter != null) {
            t += (counter.getAsLong() - runningCounterBase) * ticksPerInstruction;
        }
        return t + tscAdjust;
    }

    /**
     * A vCPU starts a slice: until {@link #endSlice()}, the clock reads as advanced by the
     * instructions {@code instructionsRetired} has counted since this call. Deterministic mode
     * runs one vCPU at a time, so at most one slice is open.
     */
    @Override
    public void beginSlice(LongSupplier instructionsRetired) {
        if (runningCounter != null) {
            throw new TscvmException("a deterministic clock runs one vCPU slice at a time");
        }
        runningCounterBase = instructionsRetired.getAsLong();
        runningCounter = instructionsRetired;
    }

    /** The slice ends: its instructions are folded into the clock for good. */
    @Override
    public void endSlice() {
        LongSupplier counter = runningCounter;
        if (counter != null) {
            long retired = counter.getAsLong() - runningCounterBase;
            runningCounter = null;
            advanceInstructions(retired);
        }
    }

    /** Moves the clock forward by {@code delta} ticks (zero or more). */
    public void advance(long delta) {
        if (delta < 0) {
            throw new TscvmException("a deterministic clock only moves forward; cannot advance by " + delta);
        }
        ticks.addAndGet(delta);
    }

    /** Moves the clock forward by {@code instructions} x {@link #ticksPerInstruction()}. */
    public void advanceInstructions(long instructions) {
        advance(instructions * ticksPerInstruction);
    }

    /**
     * Moves the clock forward until {@link #now()} reads {@code hostTsc}; a reading already
     * reached leaves it unchanged (the clock never goes back).
     */
    @Override
    public void advanceTo(long hostTsc) {
        long target = hostTsc - tscAdjust;
        ticks.accumulateAndGet(target, Math::max);
    }

    /**
     * Sets the clock back (or forward) so {@link #now()} reads {@code hostTsc}: only for reverse
     * execution, which restores the whole machine to a state saved at that reading, every vCPU
     * stopped and no slice open.
     */
    @Override
    public void rewindTo(long hostTsc) {
        if (runningCounter != null) {
            throw new TscvmException("the deterministic clock cannot be set while a vCPU slice runs");
        }
        ticks.set(hostTsc - tscAdjust);
    }

    @Override
    public boolean deterministic() {
        return true;
    }

    @Override
    public long realtimeNanosAt(long hostTsc) {
        return EPOCH_SECONDS * TscMath.NANOS_PER_SECOND + nanosAt(hostTsc);
    }

    @Override
    public long ticksPerInstruction() {
        return ticksPerInstruction;
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
        return "deterministic host clock at " + khz + " kHz, " + ticksPerInstruction + " tick(s) per instruction";
    }
}

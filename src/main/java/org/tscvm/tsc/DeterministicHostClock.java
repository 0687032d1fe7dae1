package org.tscvm.tsc;

import java.util.concurrent.atomic.AtomicLong;
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

    private final long khz;
    private final long ticksPerInstruction;
    /** Ticks without the host adjust. */
    private final AtomicLong ticks = new AtomicLong();
    private volatile long tscAdjust;

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
        return ticks.get() + tscAdjust;
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
    public void advanceTo(long hostTsc) {
        long target = hostTsc - tscAdjust;
        ticks.accumulateAndGet(target, Math::max);
    }

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

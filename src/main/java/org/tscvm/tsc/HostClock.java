package org.tscvm.tsc;

import org.tscvm.TscvmException;

/**
 * The host TSC that guest TSCs are built on (tsc-semantics A2). tscvm has no physical TSC of
 * its own: a host clock plays that part, with a nominal frequency and a source (real time or
 * deterministic).
 *
 * <p>Like a physical TSC, {@link #now()} includes the host's own IA32_TSC_ADJUST: setting it
 * moves {@code now()} by the difference, exactly as a WRMSR to the physical MSR moves the
 * physical TSC. That is the founding commit's case "the hypervisor sets IA32_TSC_ADJUST": the
 * guest sees host TSC (with the host adjust) + offset (with its own adjust), and the guest's
 * RDMSR 0x3b shows only its own value.
 *
 * <p>Implementations are thread-safe; {@link #now()} allocates nothing and takes no lock.
 */
public interface HostClock {
    /** The default nominal host frequency: 2.5 GHz. */
    long DEFAULT_KHZ = 2_500_000L;

    /** Frequencies tscvm accepts for a host clock: 1 MHz to 100 GHz. */
    long MIN_KHZ = 1_000L;
    long MAX_KHZ = 100_000_000L;

    /** Host TSC ticks now, including the host TSC adjust. Never decreases unless the adjust is lowered. */
    long now();

    /** The nominal frequency of {@link #now()}, in kHz. */
    long khz();

    /** The host's IA32_TSC_ADJUST (A2). */
    long tscAdjust();

    /** Sets the host's IA32_TSC_ADJUST; {@link #now()} moves by the difference (A2). */
    void setTscAdjust(long adjust);

    /**
     * Monotonic nanoseconds at the host TSC reading {@code hostTsc} (a value {@link #now()}
     * returned): the ticks without the host adjust, converted at {@link #khz()}. This is the
     * "host time" of R10 (KVM's get_kvmclock_base_ns), taken from the same reading as the TSC.
     */
    default long nanosAt(long hostTsc) {
        return TscMath.cyclesToNanos(hostTsc - tscAdjust(), khz());
    }

    /**
     * Whether this clock moves only with the instructions the vCPUs retire (A2's deterministic
     * source): a run on it repeats exactly, and it can be set back ({@link #rewindTo}). The one
     * place the rest of tscvm asks which kind of clock it runs on.
     */
    default boolean deterministic() {
        return false;
    }

    /**
     * The host's real time (CLOCK_REALTIME, nanoseconds since 1970) at the reading
     * {@code hostTsc}: the wall clock at this clock's start plus {@link #nanosAt}. kvmclock's
     * wall clock and the CMOS RTC start from it.
     */
    long realtimeNanosAt(long hostTsc);

    /**
     * Sets a deterministic clock back (or forward) so {@link #now()} reads {@code hostTsc}: only
     * for reverse execution, every vCPU stopped. A clock that runs by itself cannot go back.
     */
    default void rewindTo(long hostTsc) {
        throw new TscvmException("the " + this + " cannot be set back");
    }

    /**
     * Ticks one retired instruction moves this clock, for a clock driven by the instructions
     * the vCPUs retire (A2's deterministic source); 0 for a clock that runs by itself. The run
     * loop asks this once instead of testing the clock's class: a counting clock gets run
     * slices that end at the next timer event, and jumps over a halt.
     */
    default long ticksPerInstruction() {
        return 0;
    }

    /**
     * A vCPU starts a run slice: a counting clock reads as advanced by the instructions
     * {@code instructionsRetired} counts until {@link #endSlice()}. A clock that runs by itself
     * ignores it.
     */
    default void beginSlice(java.util.function.LongSupplier instructionsRetired) {
    }

    /** The run slice ends (see {@link #beginSlice}). */
    default void endSlice() {
    }

    /**
     * Moves a counting clock forward to {@code hostTsc} (time jumping over a halt to the next
     * timer); a clock that runs by itself ignores it, its time passes anyway.
     */
    default void advanceTo(long hostTsc) {
    }

    /**
     * A reader of this clock for one vCPU's guest TSC reads (RDTSC, RDTSCP), which may use the
     * vCPU's retired-instruction count to read more cheaply than {@link #now()}. What it
     * returns never goes backwards against any other reading of this clock, and is never
     * behind a value {@link #now()} returned before; how far it may be from real time is the
     * clock's to say ({@link RealTimeHostClock#estimateBoundNanos()}). The default reads
     * {@link #now()}.
     */
    default VcpuReader vcpuReader() {
        return instructionsRetired -> now();
    }

    /**
     * One vCPU's way to read its host clock ({@link #vcpuReader()}). Used by the vCPU's own
     * thread only; {@link #now(long)} allocates nothing and takes no lock.
     */
    @FunctionalInterface
    interface VcpuReader {
        /** Host TSC ticks now, as {@link HostClock#now()}; {@code instructionsRetired} is the vCPU's count. */
        long now(long instructionsRetired);

        /**
         * The vCPU stopped interpreting (a device access, the end of a run slice, a halt):
         * time passed that no retired instruction accounts for.
         */
        default void resync() {
        }
    }

    /** Rejects a host frequency outside {@link #MIN_KHZ}..{@link #MAX_KHZ}. */
    static long checkKhz(long khz) {
        if (khz < MIN_KHZ || khz > MAX_KHZ) {
            throw new TscvmException(String.format(
                    "host clock frequency %d kHz is out of range: use %d to %d kHz", khz, MIN_KHZ, MAX_KHZ));
        }
        return khz;
    }
}

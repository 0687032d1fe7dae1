package org.tscvm.tsc;

import org.tscvm.TscvmException;

/**
 * One vCPU's TSC state (tsc-semantics A1, section 5): the L1 offset and ratio, the offset and
 * ratio currently in force (equal to L1's until nested VMX exists, R22, kept apart so it can be
 * added), IA32_TSC_ADJUST ({@code A}), IA32_TSC_AUX and the virtual frequency.
 *
 * <p>Pure: every method that needs the time takes the host TSC reading. All arithmetic wraps
 * mod 2^64. Not thread-safe: the owning vCPU calls it, and host-side changes are made while
 * the vCPU is not running (as KVM's vcpu mutex requires). The read path allocates nothing.
 */
public final class TscState {
    /** tsc_tolerance_ppm: half the NTP threshold (R14). */
    public static final long TOLERANCE_PPM = 250;

    private static final long PPM = 1_000_000L;
    /** max_guest_tsc_khz never exceeds 0x7fffffff (R15). */
    private static final long KHZ_LIMIT = 0x7fffffffL;

    private long l1Offset;
    private long offset;
    private long l1Ratio = TscMath.IDENTITY_RATIO;
    private long ratio = TscMath.IDENTITY_RATIO;
    private long adjust;
    private long tscAux;
    private long virtualKhz;
    /** virtual_tsc_mult/shift: nanoseconds to cycles at {@link #virtualKhz}, KVM's nsec_to_cycles. */
    private PvclockScale nanosToCycles = PvclockScale.of(1, 1);
    /** this_tsc_generation of R10: the generation this vCPU last synchronised into. */
    private long generation;
    /** this_tsc_nsec and this_tsc_write: when its generation began and the TSC written then. */
    private long generationNanos;
    private long generationWrite;
    /** last_guest_tsc of R10 and R25. */
    private long lastGuestTsc;

    /** R1/R2: the guest TSC at host reading {@code hostTsc}, with the ratio and offset in force. */
    public long guestTsc(long hostTsc) {
        return TscMath.scale(hostTsc, ratio) + offset;
    }

    /** R3: L1's TSC at {@code hostTsc}, what a host-initiated read of MSR 0x10 returns. */
    public long l1GuestTsc(long hostTsc) {
        return TscMath.scale(hostTsc, l1Ratio) + l1Offset;
    }

    /** The L1 offset that makes L1's TSC read {@code guestTsc} at {@code hostTsc} (kvm_compute_l1_tsc_offset). */
    public long l1OffsetFor(long guestTsc, long hostTsc) {
        return guestTsc - TscMath.scale(hostTsc, l1Ratio);
    }

    /** R18 without an L2: sets the L1 offset, and the offset in force with it. */
    public void writeL1Offset(long newL1Offset) {
        l1Offset = newL1Offset;
        offset = newL1Offset;
    }

    /** R18 for the multiplier, without an L2. */
    private void writeL1Ratio(long newL1Ratio) {
        l1Ratio = newL1Ratio;
        ratio = newL1Ratio;
    }

    /**
     * R4, guest WRMSR(0x10, value) in KVM today: the delta between the value and L1's TSC now
     * goes into both the L1 offset and {@code A}. No synchronisation, no CPUID check, no #GP.
     * Returns the delta.
     */
    public long guestWriteTsc(long value, long hostTsc) {
        long delta = value - l1GuestTsc(hostTsc);
        writeL1Offset(l1Offset + delta);
        adjust += delta;
        return delta;
    }

    /**
     * R6, guest WRMSR(0x3b, value) with CPUID.(7,0):EBX[1] set: the raw, unscaled difference
     * {@code value - A} moves the L1 offset, then {@code A = value}. (The caller decides what a
     * write without the CPUID bit does: A4.)
     */
    public void guestWriteTscAdjust(long value) {
        writeL1Offset(l1Offset + (value - adjust));
        adjust = value;
    }

    /** R8, host WRMSR(0x3b, value) with the CPUID bit set: {@code A = value}; the TSC does not move. */
    public void hostWriteTscAdjust(long value) {
        adjust = value;
    }

    /** R7: IA32_TSC_ADJUST as any RDMSR 0x3b returns it. */
    public long adjust() {
        return adjust;
    }

    public long l1Offset() {
        return l1Offset;
    }

    public long offset() {
        return offset;
    }

    public long l1Ratio() {
        return l1Ratio;
    }

    public long ratio() {
        return ratio;
    }

    /** R21: IA32_TSC_AUX as stored (the caller applies the CPUID and bits 63:32 checks). */
    public long tscAux() {
        return tscAux;
    }

    public void setTscAux(long value) {
        tscAux = value;
    }

    /** R16: the requested frequency, even where the window left the ratio at 1.0. */
    public long virtualKhz() {
        return virtualKhz;
    }

    public long generation() {
        return generation;
    }

    public long lastGuestTsc() {
        return lastGuestTsc;
    }

    /** Records last_guest_tsc, as KVM's clock update does with the TSC it read (R25). */
    public void recordLastGuestTsc(long guestTsc) {
        lastGuestTsc = guestTsc;
    }

    void recordSynchronization(long newGeneration, long newGenerationNanos, long newGenerationWrite, long guestTsc) {
        generation = newGeneration;
        generationNanos = newGenerationNanos;
        generationWrite = newGenerationWrite;
        lastGuestTsc = guestTsc;
    }

    /**
     * KVM's nsec_to_cycles: {@code nanos} of guest time as cycles at {@link #virtualKhz}, through
     * the pvclock fixed-point scale (virtual_tsc_mult/shift), not an exact division: R10's window
     * and the unstable-TSC catch-up round exactly as KVM's.
     */
    public long nanosToCycles(long nanos) {
        return nanosToCycles.apply(nanos);
    }

    /** virtual_tsc_mult and virtual_tsc_shift, the scale {@link #nanosToCycles} applies. */
    public PvclockScale nanosToCyclesScale() {
        return nanosToCycles;
    }

    /**
     * KVM's compute_guest_tsc: the TSC this vCPU's generation would show {@code hostNanos} into
     * it, at the virtual frequency: this_tsc_write + nsec_to_cycles(ns - this_tsc_nsec). The
     * unstable-host catch-up never lets the TSC fall behind it (R25).
     */
    public long extrapolatedGuestTsc(long hostNanos) {
        return generationWrite + nanosToCycles(hostNanos - generationNanos);
    }

    /**
     * R15: the highest frequency KVM_SET_TSC_KHZ accepts is one below
     * {@code min(0x7fffffff, floor(hostKhz * (2^64-1) / 2^48))}.
     */
    public static long maxGuestKhz(long hostKhz) {
        return Math.min(KHZ_LIMIT, TscMath.mulDiv(hostKhz, TscMath.MAX_RATIO, TscMath.IDENTITY_RATIO));
    }

    /** R14's window: {@code floor(hostKhz * (10^6 + ppm) / 10^6)} with ppm signed. */
    public static long toleranceBound(long hostKhz, long ppm) {
        return hostKhz * (PPM + ppm) / PPM;
    }

    /**
     * R14, the vCPU ioctl KVM_SET_TSC_KHZ: {@code requestedKhz} must be below
     * {@link #maxGuestKhz}; 0 means the host frequency. Then {@link #applyKhz}. The offset is
     * NOT recomputed: the guest TSC jumps when the ratio changes, so a caller that wants
     * continuity sets the frequency before it writes the TSC.
     */
    public void setTscKhz(long requestedKhz, long hostKhz) {
        long max = maxGuestKhz(hostKhz);
        if (requestedKhz < 0 || requestedKhz >= max) {
            throw new TscvmException(String.format(
                    "TSC frequency %d kHz is out of range: use 1 to %d kHz, or 0 for the host's %d kHz (R14/R15)",
                    requestedKhz, max - 1, hostKhz));
        }
        applyKhz(requestedKhz == 0 ? hostKhz : requestedKhz, hostKhz);
    }

    /**
     * Whether {@link #setTscKhz} would accept {@code khz} (positive) on a {@code hostKhz} host
     * without failing part-way: below R15's maximum and, outside the window, with a ratio in
     * range. Lets a caller that sets several vCPUs check them all before changing any.
     *
     * @throws TscvmException naming the value if not
     */
    public static void checkSettableKhz(long khz, long hostKhz) {
        long max = maxGuestKhz(hostKhz);
        boolean inWindow = khz >= toleranceBound(hostKhz, -TOLERANCE_PPM) && khz <= toleranceBound(hostKhz, TOLERANCE_PPM);
        long ratio = inWindow || khz <= 0 ? TscMath.IDENTITY_RATIO : TscMath.ratioForKhz(khz, hostKhz);
        if (khz <= 0 || khz >= max || ratio == 0 || Long.compareUnsigned(ratio, TscMath.MAX_RATIO) >= 0) {
            throw new TscvmException(String.format(
                    "TSC frequency %d kHz cannot be set on a %d kHz host: use 1 to %d kHz (R14/R15)",
                    khz, hostKhz, max - 1));
        }
    }

    /**
     * R14's kvm_set_tsc_khz, also used at vCPU creation (R12): stores the frequency first,
     * then picks the ratio: 1.0 inside the 250 ppm window around the host frequency, else
     * {@code floor(2^48 * khz / hostKhz)}. A ratio of 0 or at VMX's maximum is refused after
     * the frequency was stored, as in KVM (the reported kHz then disagrees with the ratio).
     */
    public void applyKhz(long khz, long hostKhz) {
        nanosToCycles = PvclockScale.of(khz * 1000, TscMath.NANOS_PER_MILLI * 1000);
        virtualKhz = khz;
        long low = toleranceBound(hostKhz, -TOLERANCE_PPM);
        long high = toleranceBound(hostKhz, TOLERANCE_PPM);
        if (khz >= low && khz <= high) {
            writeL1Ratio(TscMath.IDENTITY_RATIO);
            return;
        }
        long newRatio = TscMath.ratioForKhz(khz, hostKhz);
        if (newRatio == 0 || Long.compareUnsigned(newRatio, TscMath.MAX_RATIO) >= 0) {
            throw new TscvmException(String.format(
                    "TSC frequency %d kHz needs a ratio outside 1..2^64-2 on a %d kHz host (R15)", khz, hostKhz));
        }
        writeL1Ratio(newRatio);
    }
}

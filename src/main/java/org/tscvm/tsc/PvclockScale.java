package org.tscvm.tsc;

import org.tscvm.TscvmException;

/**
 * The pvclock fixed-point rate conversion KVM uses wherever it turns one clock's ticks into
 * another's: {@code out = ((in shifted by shift) * multiplier) >> 32}, a 32-bit multiplier and a
 * signed shift (arch/x86/include/asm/pvclock.h pvclock_scale_delta, the reader side; the pair is
 * made by kvm_get_time_scale in arch/x86/kvm/x86.c). KVM uses it for kvmclock's TSC-to-ns
 * conversion (the pvclock page's tsc_to_system_mul and tsc_shift) and, in the other direction,
 * for nsec_to_cycles (the vCPU's virtual_tsc_mult and virtual_tsc_shift), which extrapolates
 * R10's one-second window: so tscvm's window edge falls on the same cycle as KVM's.
 *
 * <pre>{@code
 * PvclockScale nsToCycles = PvclockScale.of(2_500_000_000L, 1_000_000_000L); // ns -> 2.5 GHz cycles
 * nsToCycles.multiplier(); // 0xa0000000
 * nsToCycles.shift();      // 2
 * nsToCycles.apply(1000);  // 2500
 * }</pre>
 *
 * @param multiplier the 32-bit unsigned fraction, held in the low 32 bits
 * @param shift      applied to the input first: left if positive, right if negative
 */
public record PvclockScale(long multiplier, int shift) {
    private static final long LOW32 = 0xffff_ffffL;

    public PvclockScale {
        if ((multiplier & ~LOW32) != 0 || shift < -63 || shift > 63) {
            throw new TscvmException(String.format("pvclock scale 0x%x >> 32 with shift %d is out of range", multiplier,
                    shift));
        }
    }

    /**
     * The multiplier and shift converting ticks of a {@code baseHz} clock into ticks of a
     * {@code scaledHz} clock (kvm_get_time_scale). First the base is halved (shift down) until it
     * fits in 32 bits and is at most twice the target; then, while the base is not above the
     * target, either the target is halved (if it does not fit in 32 bits, or doubling the base
     * would overflow) or the base doubled, shift up; the multiplier is {@code (target << 32) /
     * base}, below 2^32 because the base ends above the target. Both rates are unsigned.
     *
     * @throws TscvmException if a rate is zero
     */
    public static PvclockScale of(long scaledHz, long baseHz) {
        if (scaledHz == 0 || baseHz == 0) {
            throw new TscvmException("a pvclock scale needs two non-zero rates, not " + scaledHz + " and " + baseHz + " Hz");
        }
        int shift = 0;
        long base = baseHz;
        long target = scaledHz;
        while (Long.compareUnsigned(base, target << 1) > 0 || (base & ~LOW32) != 0) { // target * 2 wraps, as u64
            base >>>= 1;
            shift--;
        }
        long base32 = base & LOW32;
        while (Long.compareUnsigned(base32, target) <= 0 || (target & ~LOW32) != 0) {
            if ((target & ~LOW32) != 0 || (base32 & 0x8000_0000L) != 0) {
                target >>>= 1;
            } else {
                base32 <<= 1;
            }
            shift++;
        }
        return new PvclockScale(Long.divideUnsigned(target << 32, base32), shift);
    }

    /**
     * {@code delta} converted: shifted first (bits shifted out are lost, as in KVM), then
     * {@code (delta * multiplier) >> 32} with the 128-bit product, mod 2^64. Allocates nothing.
     */
    public long apply(long delta) {
        return apply(delta, multiplier, shift);
    }

    /** {@link #apply(long)} for a multiplier and shift held elsewhere (a pvclock page's fields). */
    public static long apply(long delta, long multiplier, int shift) {
        long shifted = shift < 0 ? delta >>> -shift : delta << shift;
        long high = TscMath.multiplyHighUnsigned(shifted, multiplier);
        return (high << 32) | ((shifted * multiplier) >>> 32);
    }
}

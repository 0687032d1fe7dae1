package org.tscvm.tsc;

import org.tscvm.TscvmException;

/**
 * Unsigned 64-bit and 128-bit arithmetic for the TSC (DESIGN section 4: all of it lives here).
 * Every value is a 64-bit two's-complement word read as unsigned where the rule says so;
 * results wrap mod 2^64 as KVM's u64 arithmetic does.
 */
public final class TscMath {
    private TscMath() {
    }

    /** Fractional bits of the scaling ratio: VMX's TSC multiplier (tsc-semantics R15). */
    public static final int FRAC_BITS = 48;

    /** The ratio 1.0, whose multiply {@link #scale} skips (R1). */
    public static final long IDENTITY_RATIO = 1L << FRAC_BITS;

    /** VMX's largest multiplier, 2^64 - 1 (KVM_VMX_TSC_MULTIPLIER_MAX, R15). */
    public static final long MAX_RATIO = -1L;

    public static final long NANOS_PER_MILLI = 1_000_000L;
    public static final long NANOS_PER_SECOND = 1_000_000_000L;

    /**
     * The high 64 bits of the unsigned 128-bit product {@code a * b}. JDK 17 lacks
     * {@code Math.unsignedMultiplyHigh}; the signed high word is corrected for each operand
     * whose sign bit is set (that operand's unsigned value is 2^64 larger).
     */
    public static long multiplyHighUnsigned(long a, long b) {
        return Math.multiplyHigh(a, b) + ((a >> 63) & b) + ((b >> 63) & a);
    }

    /**
     * {@code floor(x * ratio / 2^48) mod 2^64}, with the 128-bit product; at the identity ratio
     * {@code x} itself, without the multiply (R1's scale()).
     */
    public static long scale(long x, long ratio) {
        if (ratio == IDENTITY_RATIO) {
            return x;
        }
        long high = multiplyHighUnsigned(x, ratio);
        long low = x * ratio;
        return (high << (64 - FRAC_BITS)) | (low >>> FRAC_BITS);
    }

    /**
     * Unsigned {@code floor((high:low) / divisor)} for a 128-bit dividend, by restoring
     * division. The quotient must fit in 64 bits, i.e. {@code high < divisor} unsigned.
     */
    public static long divide128(long high, long low, long divisor) {
        if (divisor == 0 || Long.compareUnsigned(high, divisor) >= 0) {
            throw new ArithmeticException(String.format(
                    "0x%x%016x / 0x%x does not fit in 64 bits", high, low, divisor));
        }
        if (high == 0) {
            return Long.divideUnsigned(low, divisor);
        }
        long remainder = high;
        long quotient = 0;
        for (int bit = 63; bit >= 0; bit--) {
            boolean carry = remainder < 0;
            remainder = (remainder << 1) | ((low >>> bit) & 1);
            quotient <<= 1;
            if (carry || Long.compareUnsigned(remainder, divisor) >= 0) {
                remainder -= divisor;
                quotient |= 1;
            }
        }
        return quotient;
    }

    /** Unsigned {@code floor(a * b / divisor)} through a 128-bit product (KVM's mul_u64_u64_div). */
    public static long mulDiv(long a, long b, long divisor) {
        return divide128(multiplyHighUnsigned(a, b), a * b, divisor);
    }

    /**
     * The ratio that makes a guest at {@code guestKhz} tick on a host at {@code hostKhz}:
     * {@code floor(2^48 * guestKhz / hostKhz)}, rounded down as KVM's mul_u64_u32_div (R14);
     * {@link #MAX_RATIO} where that does not fit in 64 bits (R15 then refuses it).
     */
    public static long ratioForKhz(long guestKhz, long hostKhz) {
        requirePositiveKhz(guestKhz, "guest");
        requirePositiveKhz(hostKhz, "host");
        long high = multiplyHighUnsigned(IDENTITY_RATIO, guestKhz);
        if (Long.compareUnsigned(high, hostKhz) >= 0) {
            return MAX_RATIO;
        }
        return divide128(high, IDENTITY_RATIO * guestKhz, hostKhz);
    }

    /**
     * Cycles of a {@code khz} clock in {@code nanos} nanoseconds (unsigned), rounded down and
     * wrapped mod 2^64. Exact: for tscvm's own conversions (a restore's downtime). Where KVM
     * converts, tscvm uses KVM's 32-bit fixed point ({@link TscState#nanosToCycles}).
     */
    public static long nanosToCycles(long nanos, long khz) {
        requirePositiveKhz(khz, "clock");
        long high = Long.remainderUnsigned(multiplyHighUnsigned(nanos, khz), NANOS_PER_MILLI);
        return divide128(high, nanos * khz, NANOS_PER_MILLI);
    }

    /** Nanoseconds taken by {@code cycles} cycles of a {@code khz} clock, rounded down (unsigned cycles). */
    public static long cyclesToNanos(long cycles, long khz) {
        requirePositiveKhz(khz, "clock");
        long high = multiplyHighUnsigned(cycles, NANOS_PER_MILLI);
        if (Long.compareUnsigned(high, khz) >= 0) {
            return -1L; // beyond 2^64 ns (585 years): saturate rather than wrap
        }
        return divide128(high, cycles * NANOS_PER_MILLI, khz);
    }

    /**
     * The inverse of {@link #scale} for arming TSC-deadline timers (R23): the fewest host ticks
     * {@code k} after {@code hostNow} with {@code scale(hostNow + k, ratio) - scale(hostNow, ratio)
     * >= guestDistance}, i.e. {@code ceil((guestDistance * 2^48 - frac) / ratio)} where
     * {@code frac} is the fraction {@code hostNow * ratio} already carries. Exact, so a deadline
     * armed with it fires neither early nor late; 0 for a distance of zero or less; saturates at
     * {@link Long#MAX_VALUE}.
     */
    public static long hostTicksUntil(long hostNow, long guestDistance, long ratio) {
        if (guestDistance <= 0) {
            return 0;
        }
        if (ratio == IDENTITY_RATIO) {
            return guestDistance;
        }
        if (ratio == 0) {
            return Long.MAX_VALUE;
        }
        long fraction = (hostNow * ratio) & (IDENTITY_RATIO - 1);
        long high = guestDistance >>> (64 - FRAC_BITS);
        long low = guestDistance << FRAC_BITS;
        if (Long.compareUnsigned(low, fraction) < 0) {
            high--;
        }
        low -= fraction;
        if (Long.compareUnsigned(high, ratio) >= 0) {
            return Long.MAX_VALUE;
        }
        long quotient = divide128(high, low, ratio);
        boolean exact = low - quotient * ratio == 0; // the remainder is below ratio, so its low word is exact
        long ticks = exact ? quotient : quotient + 1;
        return ticks < 0 ? Long.MAX_VALUE : ticks;
    }

    private static void requirePositiveKhz(long khz, String which) {
        if (khz <= 0) {
            throw new TscvmException("the " + which + " frequency must be a positive number of kHz, not " + khz);
        }
    }
}

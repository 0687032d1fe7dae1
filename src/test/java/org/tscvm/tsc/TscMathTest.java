package org.tscvm.tsc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tscvm.TscvmException;

class TscMathTest {
    private static final BigInteger TWO_64 = BigInteger.ONE.shiftLeft(64);

    private static BigInteger unsigned(long value) {
        return new BigInteger(Long.toUnsignedString(value));
    }

    private static long low64(BigInteger value) {
        return value.mod(TWO_64).longValue();
    }

    @Test
    void unsignedMultiplyHighMatchesTheFull128BitProduct() {
        Random random = new Random(1);
        long[] edges = {0, 1, -1, Long.MAX_VALUE, Long.MIN_VALUE, TscMath.IDENTITY_RATIO};
        for (long a : edges) {
            for (long b : edges) {
                assertThat(TscMath.multiplyHighUnsigned(a, b))
                        .isEqualTo(unsigned(a).multiply(unsigned(b)).shiftRight(64).longValue());
            }
        }
        for (int i = 0; i < 10_000; i++) {
            long a = random.nextLong();
            long b = random.nextLong();
            assertThat(TscMath.multiplyHighUnsigned(a, b))
                    .isEqualTo(unsigned(a).multiply(unsigned(b)).shiftRight(64).longValue());
        }
    }

    @Test
    void scaleIsTheFloorOfThe128BitProductShiftedBy48Mod2To64R1() {
        Random random = new Random(2);
        for (int i = 0; i < 10_000; i++) {
            long x = random.nextLong();
            long ratio = random.nextLong();
            long expected = low64(unsigned(x).multiply(unsigned(ratio)).shiftRight(48));
            assertThat(TscMath.scale(x, ratio)).isEqualTo(expected);
        }
    }

    @Test
    void scaleAtTheIdentityRatioReturnsTheValueItselfR1() {
        assertThat(TscMath.scale(-1L, TscMath.IDENTITY_RATIO)).isEqualTo(-1L);
        assertThat(TscMath.scale(123_456_789L, TscMath.IDENTITY_RATIO)).isEqualTo(123_456_789L);
        // A ratio of 2.0 doubles, 0.5 halves rounding down.
        assertThat(TscMath.scale(7, 2 * TscMath.IDENTITY_RATIO)).isEqualTo(14);
        assertThat(TscMath.scale(7, TscMath.IDENTITY_RATIO / 2)).isEqualTo(3);
    }

    @Test
    void divide128MatchesBigIntegerDivision() {
        Random random = new Random(3);
        for (int i = 0; i < 10_000; i++) {
            long divisor = random.nextLong();
            if (divisor == 0) {
                continue;
            }
            long high = Long.remainderUnsigned(random.nextLong(), divisor);
            long low = random.nextLong();
            BigInteger dividend = unsigned(high).shiftLeft(64).add(unsigned(low));
            assertThat(TscMath.divide128(high, low, divisor))
                    .isEqualTo(dividend.divide(unsigned(divisor)).longValue());
        }
    }

    @Test
    void divide128RefusesAQuotientWiderThan64Bits() {
        assertThatThrownBy(() -> TscMath.divide128(5, 0, 5)).isInstanceOf(ArithmeticException.class);
        assertThatThrownBy(() -> TscMath.divide128(0, 1, 0)).isInstanceOf(ArithmeticException.class);
    }

    @Test
    void ratioForKhzRoundsDownR14() {
        // 2^48 * 1_000_000 / 2_500_000 = 2^48 * 0.4 = 112589990684262.4, rounded down.
        assertThat(TscMath.ratioForKhz(1_000_000, 2_500_000)).isEqualTo(112_589_990_684_262L);
        assertThat(TscMath.ratioForKhz(5_000_000, 2_500_000)).isEqualTo(2 * TscMath.IDENTITY_RATIO);
        assertThat(TscMath.ratioForKhz(2_500_000, 2_500_000)).isEqualTo(TscMath.IDENTITY_RATIO);
        Random random = new Random(4);
        for (int i = 0; i < 1_000; i++) {
            long host = 1_000 + random.nextInt(100_000_000);
            long guest = 1 + random.nextInt((int) Math.min(Integer.MAX_VALUE - 1, host * 65_535));
            BigInteger expected = BigInteger.ONE.shiftLeft(48).multiply(BigInteger.valueOf(guest))
                    .divide(BigInteger.valueOf(host));
            assertThat(TscMath.ratioForKhz(guest, host)).isEqualTo(expected.longValue());
        }
        // 2^16 times the host or more does not fit in 64 bits: saturated, for R15 to refuse.
        assertThat(TscMath.ratioForKhz(65_536_000, 1_000)).isEqualTo(TscMath.MAX_RATIO);
        assertThatThrownBy(() -> TscMath.ratioForKhz(0, 2_500_000)).isInstanceOf(TscvmException.class)
                .hasMessageContaining("not 0");
    }

    @Test
    void nanosecondsAndCyclesConvertExactlyAndRoundDown() {
        assertThat(TscMath.nanosToCycles(1_000_000_000L, 2_500_000)).isEqualTo(2_500_000_000L);
        assertThat(TscMath.nanosToCycles(1, 2_500_000)).isEqualTo(2);
        assertThat(TscMath.cyclesToNanos(2_500_000_000L, 2_500_000)).isEqualTo(1_000_000_000L);
        assertThat(TscMath.cyclesToNanos(3, 2_500_000)).isEqualTo(1);
        // Far beyond 64-bit intermediate products: ten years at 2.5 GHz.
        long tenYearsNanos = 10L * 365 * 24 * 3600 * 1_000_000_000L;
        assertThat(TscMath.nanosToCycles(tenYearsNanos, 2_500_000))
                .isEqualTo(BigInteger.valueOf(tenYearsNanos).multiply(BigInteger.valueOf(2_500_000))
                        .divide(BigInteger.valueOf(1_000_000)).longValueExact());
        assertThat(TscMath.cyclesToNanos(TscMath.nanosToCycles(tenYearsNanos, 2_500_000), 2_500_000))
                .isEqualTo(tenYearsNanos);
    }

    @Test
    void nanosToCyclesWrapsLikeKvmsU64ForAWrappedDifferenceR10() {
        long nanos = -1_000L; // a "negative" elapsed time seen as u64
        long expected = low64(unsigned(nanos).multiply(BigInteger.valueOf(2_500_000)).divide(BigInteger.valueOf(1_000_000)));
        assertThat(TscMath.nanosToCycles(nanos, 2_500_000)).isEqualTo(expected);
    }

    @Test
    void hostTicksUntilIsTheExactFirstTickWhereTheScaledTscCoversTheDistanceR23() {
        Random random = new Random(5);
        for (int i = 0; i < 10_000; i++) {
            long ratio = 1 + (random.nextLong() >>> 10); // up to 2^54: guest at most 64x the host
            long hostNow = random.nextLong() >>> 2;
            long distance = 1 + (random.nextLong() >>> 24);
            long ticks = TscMath.hostTicksUntil(hostNow, distance, ratio);
            if (ticks == Long.MAX_VALUE) {
                continue;
            }
            long start = TscMath.scale(hostNow, ratio);
            assertThat(TscMath.scale(hostNow + ticks, ratio) - start).isGreaterThanOrEqualTo(distance);
            assertThat(TscMath.scale(hostNow + ticks - 1, ratio) - start).isLessThan(distance);
        }
        assertThat(TscMath.hostTicksUntil(99, 12_345, TscMath.IDENTITY_RATIO)).isEqualTo(12_345);
        assertThat(TscMath.hostTicksUntil(99, 0, 3)).isZero();
        assertThat(TscMath.hostTicksUntil(0, Long.MAX_VALUE, 1)).isEqualTo(Long.MAX_VALUE);
    }
}

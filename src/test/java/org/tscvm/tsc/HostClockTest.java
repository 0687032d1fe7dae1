package org.tscvm.tsc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tscvm.TscvmException;

class HostClockTest {
    @Test
    void realTimeTicksAreTheExactFloorOfNanosTimesKhzOverAMillionA2() {
        Random random = new Random(6);
        for (int i = 0; i < 10_000; i++) {
            long nanos = random.nextLong() >>> 8; // up to ~2 years
            long khz = HostClock.MIN_KHZ + random.nextInt((int) (HostClock.MAX_KHZ - HostClock.MIN_KHZ));
            BigInteger exact = BigInteger.valueOf(nanos).multiply(BigInteger.valueOf(khz)).divide(BigInteger.valueOf(1_000_000));
            if (exact.bitLength() < 63) {
                assertThat(RealTimeHostClock.ticksForNanos(nanos, khz)).isEqualTo(exact.longValue());
            }
        }
        // One hour at 2.5 GHz overflows a naive nanos * khz product; the split form does not.
        long hourNanos = 3_600_000_000_000L;
        assertThat(RealTimeHostClock.ticksForNanos(hourNanos * 10, 2_500_000)).isEqualTo(90_000_000_000_000L);
    }

    @Test
    void realTimeClockNeverGoesBackwards() {
        RealTimeHostClock clock = new RealTimeHostClock();
        long previous = clock.now();
        for (int i = 0; i < 100_000; i++) {
            long now = clock.now();
            assertThat(now).isGreaterThanOrEqualTo(previous);
            previous = now;
        }
        assertThat(clock.khz()).isEqualTo(HostClock.DEFAULT_KHZ);
    }

    @Test
    void hostTscAdjustMovesTheHostTscButNotItsNanosecondsA2() {
        DeterministicHostClock clock = new DeterministicHostClock(2_500_000);
        clock.advance(2_500_000_000L);
        assertThat(clock.nanosAt(clock.now())).isEqualTo(1_000_000_000L);
        clock.setTscAdjust(7_000);
        assertThat(clock.now()).isEqualTo(2_500_007_000L);
        assertThat(clock.tscAdjust()).isEqualTo(7_000);
        assertThat(clock.nanosAt(clock.now())).isEqualTo(1_000_000_000L);
    }

    @Test
    void deterministicClockMovesOnlyForwardAndOnlyWhenTold() {
        DeterministicHostClock clock = new DeterministicHostClock(1_000_000, 3);
        assertThat(clock.now()).isZero();
        clock.advance(10);
        clock.advanceInstructions(4);
        assertThat(clock.now()).isEqualTo(22);
        clock.advanceTo(100);
        assertThat(clock.now()).isEqualTo(100);
        clock.advanceTo(50); // already passed: unchanged
        assertThat(clock.now()).isEqualTo(100);
        clock.setTscAdjust(1_000);
        clock.advanceTo(1_200); // a reading in the adjusted domain
        assertThat(clock.now()).isEqualTo(1_200);
        assertThatThrownBy(() -> clock.advance(-1)).isInstanceOf(TscvmException.class).hasMessageContaining("-1");
    }

    @Test
    void theClockKindAndItsRealTimeComeFromTheClockItself() {
        long[] nanos = {5_000_000_000L};
        RealTimeHostClock real = new RealTimeHostClock(1_000_000, 0, () -> nanos[0]);
        long wallAtStart = System.currentTimeMillis() * TscMath.NANOS_PER_MILLI;
        nanos[0] += 3_000_000_000L;
        long realtime = real.realtimeNanosAt(real.now());
        assertThat(real.deterministic()).isFalse();
        assertThat(realtime - wallAtStart).isBetween(3_000_000_000L - 1_000_000_000L, 3_000_000_000L + 1_000_000_000L);
        assertThatThrownBy(() -> real.rewindTo(0)).isInstanceOf(TscvmException.class).hasMessageContaining("set back");

        DeterministicHostClock deterministic = new DeterministicHostClock(1_000_000);
        deterministic.advance(2_000_000_000L); // 2 s at 1 GHz
        assertThat(deterministic.deterministic()).isTrue();
        assertThat(deterministic.realtimeNanosAt(deterministic.now()))
                .isEqualTo((DeterministicHostClock.EPOCH_SECONDS + 2) * TscMath.NANOS_PER_SECOND);
        deterministic.rewindTo(1_000_000_000L);
        assertThat(deterministic.now()).isEqualTo(1_000_000_000L);
    }

    @Test
    void hostClockFrequencyOutOfRangeIsRefusedWithTheValue() {
        assertThatThrownBy(() -> new RealTimeHostClock(5)).isInstanceOf(TscvmException.class).hasMessageContaining("5 kHz");
        assertThatThrownBy(() -> new DeterministicHostClock(2_500_000, 0)).isInstanceOf(TscvmException.class);
        assertThat(new DeterministicHostClock().ticksPerInstruction())
                .isEqualTo(DeterministicHostClock.DEFAULT_TICKS_PER_INSTRUCTION);
    }
}

package org.tscvm.tsc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tscvm.TscvmException;

class TscStateTest {
    private static final long HOST_KHZ = 2_500_000;

    private static TscState stateAtHostRate() {
        TscState state = new TscState();
        state.applyKhz(HOST_KHZ, HOST_KHZ);
        return state;
    }

    @Test
    void guestTscIsScaledHostTscPlusOffsetR1() {
        TscState state = stateAtHostRate();
        state.writeL1Offset(-1_000);
        assertThat(state.guestTsc(5_000)).isEqualTo(4_000);
        state.setTscKhz(5_000_000, HOST_KHZ); // ratio 2.0
        assertThat(state.guestTsc(5_000)).isEqualTo(9_000);
        assertThat(state.l1GuestTsc(5_000)).isEqualTo(9_000);
    }

    @Test
    void guestWriteOfTscMovesOffsetAndAdjustByTheSameDeltaR4() {
        TscState state = stateAtHostRate();
        state.writeL1Offset(-100);
        long delta = state.guestWriteTsc(1_000_000, 600); // TSC was 500
        assertThat(delta).isEqualTo(999_500);
        assertThat(state.adjust()).isEqualTo(999_500);
        assertThat(state.l1Offset()).isEqualTo(999_400);
        assertThat(state.guestTsc(600)).isEqualTo(1_000_000);
    }

    @Test
    void guestWriteOfTscWrapsMod2To64R4() {
        TscState state = stateAtHostRate();
        state.guestWriteTsc(-1L, 10); // TSC 10 -> 2^64-1
        assertThat(state.guestTsc(10)).isEqualTo(-1L);
        assertThat(state.guestTsc(11)).isZero();
        assertThat(state.adjust()).isEqualTo(-11L);
    }

    @Test
    void guestWriteOfTscAdjustMovesTheOffsetByTheUnscaledDifferenceR6() {
        TscState state = new TscState();
        state.applyKhz(1_000_000, HOST_KHZ); // ratio 0.4: the delta is still applied raw
        long before = state.guestTsc(1_000_000);
        state.guestWriteTscAdjust(12_345);
        assertThat(state.guestTsc(1_000_000) - before).isEqualTo(12_345);
        state.guestWriteTscAdjust(345);
        assertThat(state.guestTsc(1_000_000) - before).isEqualTo(345);
        assertThat(state.adjust()).isEqualTo(345);
    }

    @Test
    void hostWriteOfTscAdjustSetsItWithoutMovingTheTscR8() {
        TscState state = stateAtHostRate();
        long before = state.guestTsc(777);
        state.hostWriteTscAdjust(123_456L << 30);
        assertThat(state.guestTsc(777)).isEqualTo(before);
        assertThat(state.adjust()).isEqualTo(123_456L << 30);
    }

    @Test
    void frequencyWithin250PpmOfTheHostKeepsRatioOneButReportsTheRequestR14R16() {
        // lo = floor(2.5e6 * (1e6-250)/1e6) = 2_499_375, hi = 2_500_625.
        assertThat(TscState.toleranceBound(HOST_KHZ, -250)).isEqualTo(2_499_375);
        assertThat(TscState.toleranceBound(HOST_KHZ, 250)).isEqualTo(2_500_625);
        TscState state = new TscState();
        for (long khz : new long[] {2_499_375, 2_500_000, 2_500_625}) {
            state.setTscKhz(khz, HOST_KHZ);
            assertThat(state.ratio()).isEqualTo(TscMath.IDENTITY_RATIO);
            assertThat(state.virtualKhz()).isEqualTo(khz);
        }
        state.setTscKhz(2_500_626, HOST_KHZ);
        assertThat(state.ratio()).isEqualTo(TscMath.ratioForKhz(2_500_626, HOST_KHZ)).isGreaterThan(TscMath.IDENTITY_RATIO);
        state.setTscKhz(2_499_374, HOST_KHZ);
        assertThat(state.ratio()).isEqualTo(TscMath.ratioForKhz(2_499_374, HOST_KHZ)).isLessThan(TscMath.IDENTITY_RATIO);
    }

    @Test
    void settingTheFrequencyDoesNotRecomputeTheOffsetSoTheTscJumpsR14A6() {
        TscState state = stateAtHostRate();
        state.writeL1Offset(-1_000_000);
        long hostTsc = 11_000_000;
        assertThat(state.guestTsc(hostTsc)).isEqualTo(10_000_000);
        state.setTscKhz(1_250_000, HOST_KHZ); // ratio exactly 0.5
        assertThat(state.l1Offset()).isEqualTo(-1_000_000);
        assertThat(state.guestTsc(hostTsc)).isEqualTo(5_500_000 - 1_000_000);
    }

    @Test
    void frequencyLimitsFollowVmxR15() {
        TscState state = stateAtHostRate();
        assertThat(TscState.maxGuestKhz(HOST_KHZ)).isEqualTo(0x7fffffffL);
        state.setTscKhz(0x7ffffffeL, HOST_KHZ);
        assertThat(state.virtualKhz()).isEqualTo(0x7ffffffeL);
        assertThatThrownBy(() -> state.setTscKhz(0x7fffffffL, HOST_KHZ)).isInstanceOf(TscvmException.class)
                .hasMessageContaining("2147483647 kHz");
        assertThatThrownBy(() -> state.setTscKhz(-5, HOST_KHZ)).isInstanceOf(TscvmException.class)
                .hasMessageContaining("-5 kHz");
        state.setTscKhz(0, HOST_KHZ); // 0 = the host frequency
        assertThat(state.virtualKhz()).isEqualTo(HOST_KHZ);
        assertThat(state.ratio()).isEqualTo(TscMath.IDENTITY_RATIO);
        // On a 1 MHz host the ratio limit bites first: 2^16 x 1000 kHz would need a ratio of 2^64.
        assertThat(TscState.maxGuestKhz(1_000)).isEqualTo(65_535_999L);
    }

    @Test
    void aRatioOutsideTheLimitsIsRefusedAfterTheFrequencyWasStoredAsKvmDoesR14() {
        TscState state = stateAtHostRate();
        assertThatThrownBy(() -> state.applyKhz(65_536_000, 1_000)).isInstanceOf(TscvmException.class)
                .hasMessageContaining("65536000 kHz");
        assertThat(state.virtualKhz()).isEqualTo(65_536_000);
        assertThat(state.ratio()).isEqualTo(TscMath.IDENTITY_RATIO);
    }
}

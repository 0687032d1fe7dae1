package org.tscvm.tsc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tscvm.TscvmException;

/** KVM's kvm_get_time_scale and pvclock_scale_delta, vectors worked by hand from their definitions. */
class PvclockScaleTest {
    private static final long GHZ = 1_000_000_000L;

    @Test
    void tscToNanosAtTwoAndAHalfGigahertzHalvesTheCyclesThenTakesFourFifths() {
        PvclockScale scale = PvclockScale.of(GHZ, 2_500_000_000L);
        assertThat(scale.shift()).isEqualTo(-1);
        assertThat(scale.multiplier()).isEqualTo(0xccccccccL); // floor(0.8 * 2^32)
        assertThat(scale.apply(2_500_000_000L)).isEqualTo(999_999_999L); // the multiplier rounds down
        // Linux's pvclock_tsc_khz takes the rate back from the pair: (10^6 << 32) / mul, shifted back.
        assertThat(((1_000_000L << 32) / scale.multiplier()) << 1).isEqualTo(2_500_000);
    }

    @Test
    void nanosToCyclesShiftsUpWhereTheTargetRateIsHigher() {
        PvclockScale scale = PvclockScale.of(2_500_000_000L, GHZ);
        assertThat(scale.shift()).isEqualTo(2);
        assertThat(scale.multiplier()).isEqualTo(0xa0000000L); // 0.625 * 2^32, exact
        assertThat(scale.apply(1000)).isEqualTo(2500);
    }

    @Test
    void equalRatesGiveOneHalfShiftedUpByOne() {
        PvclockScale scale = PvclockScale.of(GHZ, GHZ);
        assertThat(scale.multiplier()).isEqualTo(0x80000000L);
        assertThat(scale.shift()).isEqualTo(1);
        assertThat(scale.apply(123_456_789_012L)).isEqualTo(123_456_789_012L);
    }

    @Test
    void anInexactRateRoundsDownAgainstTheExactDivision() {
        // 2,345,678 kHz: the multiplier floor(2.345678 / 4 * 2^32) = 0x961f969e loses 221 cycles in 1000 s.
        PvclockScale scale = PvclockScale.of(2_345_678_000L, GHZ);
        assertThat(scale.multiplier()).isEqualTo(0x961f969eL);
        assertThat(scale.shift()).isEqualTo(2);
        assertThat(scale.apply(1_000_000_000_000L)).isEqualTo(2_345_677_999_779L);
        assertThat(TscMath.nanosToCycles(1_000_000_000_000L, 2_345_678)).isEqualTo(2_345_678_000_000L);
    }

    @Test
    void theProductKeepsAll128Bits() {
        PvclockScale scale = PvclockScale.of(GHZ, 2_500_000_000L);
        long cycles = 1L << 62;
        assertThat(scale.apply(cycles)).isEqualTo(((cycles >>> 1) / 4294967296L) * 0xccccccccL);
    }

    @Test
    void zeroRatesAndOutOfRangeFieldsAreRefused() {
        assertThatThrownBy(() -> PvclockScale.of(0, GHZ)).isInstanceOf(TscvmException.class).hasMessageContaining("non-zero");
        assertThatThrownBy(() -> new PvclockScale(1L << 32, 0)).isInstanceOf(TscvmException.class);
    }

    @Test
    void aVcpusNanosToCyclesIsKvmsVirtualTscMultAndShift() {
        TscState state = new TscState();
        state.applyKhz(2_345_678, 2_500_000);
        assertThat(state.nanosToCyclesScale()).isEqualTo(new PvclockScale(0x961f969eL, 2));
        assertThat(state.nanosToCycles(1_000_000_000_000L)).isEqualTo(2_345_677_999_779L);
    }
}

package org.tscvm.devices;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class AcpiPmTest {
    private long nanos;
    private int powerOffs;
    private int suspends;
    private final AcpiPm pm = new AcpiPm(() -> nanos, () -> powerOffs++, () -> suspends++);

    @Test
    void aFourByteReadTakesOneReadingOfTheClockSoItNeverTears() {
        // A clock that moves 20 us each time it is read: byte-by-byte readings would carry
        // into the middle byte between the reads (0x..fe then 0x..07 went backwards in Linux).
        long[] now = {1_000_000_000L};
        AcpiPm moving = new AcpiPm(() -> now[0] += 20_000, () -> { }, () -> { });
        long previous = -1;
        for (int i = 0; i < 10_000; i++) {
            long value = moving.read(AcpiPm.PM_TIMER, 4) & 0xffffffffL;
            assertThat(value).isGreaterThan(previous);
            assertThat(value).isEqualTo(AcpiPm.timerTicks(now[0]));
            previous = value;
        }
    }

    @Test
    void thePmTimerCounts3579545TicksPerSecondExactly() {
        nanos = 0;
        assertThat(pm.read(AcpiPm.PM_TIMER, 4)).isZero();
        nanos = 1_000_000_000L;
        assertThat(pm.read(AcpiPm.PM_TIMER, 4)).isEqualTo(3_579_545);
        // 1 ms is 3579.545 ticks: floor, never rounded up.
        nanos = 1_000_000L;
        assertThat(pm.read(AcpiPm.PM_TIMER, 4)).isEqualTo(3579);
        // Exact over long spans: no drift after an hour of nanoseconds.
        nanos = 3_600_000_000_000L + 1_000_000L;
        assertThat(AcpiPm.timerTicks(nanos)).isEqualTo(3600L * 3_579_545 + 3579);
    }

    @Test
    void theTimerIs32BitsWideAndWraps() {
        nanos = AcpiPm.timerTicks(0) + 1_200_000_000_000L; // 20 minutes: 4,294,254,000 ticks
        long ticks = AcpiPm.timerTicks(nanos);
        assertThat(pm.read(AcpiPm.PM_TIMER, 4) & 0xffffffffL).isEqualTo(ticks & 0xffffffffL);
        nanos = 1_300_000_000_000L; // past 2^32 ticks
        assertThat(pm.read(AcpiPm.PM_TIMER, 4) & 0xffffffffL).isEqualTo(AcpiPm.timerTicks(nanos) - (1L << 32));
    }

    @Test
    void sciEnReadsSetBecauseTheMachineIsInAcpiModeFromTheStart() {
        assertThat(pm.read(AcpiPm.PM1_CONTROL, 2) & AcpiPm.SCI_EN).isEqualTo(AcpiPm.SCI_EN);
        pm.write(AcpiPm.PM1_CONTROL, 2, 0);
        assertThat(pm.read(AcpiPm.PM1_CONTROL, 2) & AcpiPm.SCI_EN).isEqualTo(AcpiPm.SCI_EN);
    }

    @Test
    void slpEnWithTheS3SleepTypeSuspendsAndTheRtcWakeSetsWakAndRtcStatus() {
        pm.write(AcpiPm.PM1_ENABLE, 2, AcpiPm.RTC_EN);
        assertThat(pm.rtcWakeEnabled()).isTrue();
        pm.write(AcpiPm.PM1_CONTROL, 2, (AcpiPm.SLP_TYP_S3 << 10) | AcpiPm.SCI_EN);
        assertThat(suspends).isZero();
        pm.write(AcpiPm.PM1_CONTROL, 2, (AcpiPm.SLP_TYP_S3 << 10) | AcpiPm.SLP_EN);
        assertThat(suspends).isEqualTo(1);
        assertThat(powerOffs).isZero();
        assertThat(pm.read(AcpiPm.PM1_STATUS, 2)).isZero();
        pm.wake();
        assertThat(pm.read(AcpiPm.PM1_STATUS, 2)).isEqualTo(AcpiPm.WAK_STS | AcpiPm.RTC_STS);
        pm.write(AcpiPm.PM1_STATUS, 2, AcpiPm.WAK_STS | AcpiPm.RTC_STS); // write one to clear
        assertThat(pm.read(AcpiPm.PM1_STATUS, 2)).isZero();
    }

    @Test
    void slpEnWithTheS5SleepTypePowersOffAndOtherSleepTypesDoNot() {
        pm.write(AcpiPm.PM1_CONTROL, 2, (3 << 10) | AcpiPm.SLP_EN); // a type no \_Sx names: ignored
        assertThat(powerOffs).isZero();
        assertThat(suspends).isZero();
        pm.write(AcpiPm.PM1_CONTROL, 2, (AcpiPm.SLP_TYP_S5 << 10) | AcpiPm.SCI_EN);
        assertThat(powerOffs).isZero();
        pm.write(AcpiPm.PM1_CONTROL, 2, (AcpiPm.SLP_TYP_S5 << 10) | AcpiPm.SLP_EN | AcpiPm.SCI_EN);
        assertThat(powerOffs).isEqualTo(1);
        // SLP_EN is write-only.
        assertThat(pm.read(AcpiPm.PM1_CONTROL, 2) & AcpiPm.SLP_EN).isZero();
    }

    @Test
    void statusBitsAreWriteOneToClearAndEnableBitsStick() {
        pm.restoreState(new AcpiPm.State(0x0101, 0, AcpiPm.SCI_EN));
        pm.write(AcpiPm.PM1_STATUS, 2, 0x0001);
        assertThat(pm.read(AcpiPm.PM1_STATUS, 2)).isEqualTo(0x0100);
        pm.write(AcpiPm.PM1_ENABLE, 2, 0x0120);
        assertThat(pm.read(AcpiPm.PM1_ENABLE, 2)).isEqualTo(0x0120);
        // A 32-bit access to the event block covers status and enable.
        assertThat(pm.read(AcpiPm.PM1_STATUS, 4)).isEqualTo(0x0120_0100);
        assertThat(pm.saveState()).isEqualTo(new AcpiPm.State(0x0100, 0x0120, AcpiPm.SCI_EN));
    }
}

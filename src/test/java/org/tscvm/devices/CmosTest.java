package org.tscvm.devices;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.LocalDateTime;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class CmosTest {
    /** 2026-11-27 06:30:45 UTC, a Friday. */
    private static final long START = LocalDateTime.of(2026, 11, 27, 6, 30, 45).toEpochSecond(ZoneOffset.UTC);
    private long nanos;
    private final Cmos cmos = new Cmos(() -> nanos, START, 128L << 20);

    private int reg(int index) {
        cmos.write(Cmos.INDEX, 1, index);
        return cmos.read(Cmos.DATA, 1);
    }

    @Test
    void timeOfDayReadsInBcdFromTheStartEpochPlusTheClock() {
        assertThat(reg(Cmos.SECONDS)).isEqualTo(0x45);
        assertThat(reg(Cmos.MINUTES)).isEqualTo(0x30);
        assertThat(reg(Cmos.HOURS)).isEqualTo(0x06);
        assertThat(reg(Cmos.DAY_OF_MONTH)).isEqualTo(0x27);
        assertThat(reg(Cmos.MONTH)).isEqualTo(0x11);
        assertThat(reg(Cmos.YEAR)).isEqualTo(0x26);
        assertThat(reg(Cmos.CENTURY)).isEqualTo(0x20);
        assertThat(reg(Cmos.DAY_OF_WEEK)).isEqualTo(6);
        nanos = 20_000_000_000L;
        assertThat(reg(Cmos.SECONDS)).isEqualTo(0x05);
        assertThat(reg(Cmos.MINUTES)).isEqualTo(0x31);
    }

    @Test
    void binaryModeFromRegisterB() {
        cmos.write(Cmos.INDEX, 1, Cmos.REG_B);
        cmos.write(Cmos.DATA, 1, Cmos.REG_B_24H | Cmos.REG_B_BINARY);
        assertThat(reg(Cmos.SECONDS)).isEqualTo(45);
        assertThat(reg(Cmos.DAY_OF_MONTH)).isEqualTo(27);
    }

    @Test
    void updateInProgressShowsInTheLastMomentOfEachSecond() {
        nanos = 100_000_000;
        assertThat(reg(Cmos.REG_A) & 0x80).isZero();
        nanos = 999_900_000;
        assertThat(reg(Cmos.REG_A) & 0x80).isEqualTo(0x80);
    }

    @Test
    void indexBitSevenMasksNmi() {
        cmos.write(Cmos.INDEX, 1, 0x80 | Cmos.SECONDS);
        assertThat(cmos.nmiMasked()).isTrue();
        assertThat(cmos.read(Cmos.DATA, 1)).isEqualTo(0x45);
        cmos.write(Cmos.INDEX, 1, Cmos.SECONDS);
        assertThat(cmos.nmiMasked()).isFalse();
    }

    @Test
    void memorySizeBytesDescribeTheRam() {
        int ext = reg(Cmos.EXT_MEM2_LO) | (reg(Cmos.EXT_MEM2_LO + 1) << 8);
        // 127 MiB does not fit in 16 bits of KiB: the field saturates, and 0x34/0x35 carry the rest.
        assertThat(ext).isEqualTo(0xffff);
        int above16 = reg(Cmos.MEM_ABOVE_16M_LO) | (reg(Cmos.MEM_ABOVE_16M_LO + 1) << 8);
        assertThat(above16).isEqualTo((112 << 20) >> 16);
        assertThat(reg(Cmos.REG_D)).isEqualTo(0x80);
    }

    @Test
    void memorySizeBytesSplitRamBelowAndAbove4GibAsQemuDoes() {
        // -m 6G: 3 GiB below the hole (0x34/0x35: 3 GiB - 16 MiB), 3 GiB from 4 GiB (0x5b-0x5d).
        Cmos six = new Cmos(() -> nanos, START, 6L << 30);
        assertThat(word(six, Cmos.MEM_ABOVE_16M_LO)).isEqualTo(((3L << 30) - (16 << 20)) >> 16);
        assertThat(word(six, Cmos.MEM_ABOVE_4G_LO) | (reg(six, Cmos.MEM_ABOVE_4G_LO + 2) << 16)).isEqualTo(0xc000);
        // 3.25 GiB is all below 4 GiB; 256 GiB has 253 GiB above it, 0x3f4000 units in 24 bits.
        Cmos low = new Cmos(() -> nanos, START, 13L << 28);
        assertThat(word(low, Cmos.MEM_ABOVE_16M_LO)).isEqualTo(((13L << 28) - (16 << 20)) >> 16);
        assertThat(word(low, Cmos.MEM_ABOVE_4G_LO) | reg(low, Cmos.MEM_ABOVE_4G_LO + 2)).isZero();
        Cmos big = new Cmos(() -> nanos, START, 256L << 30);
        assertThat(word(big, Cmos.MEM_ABOVE_4G_LO) | (reg(big, Cmos.MEM_ABOVE_4G_LO + 2) << 16)).isEqualTo(253 << 14);
    }

    private static int reg(Cmos c, int index) {
        c.write(Cmos.INDEX, 1, index);
        return c.read(Cmos.DATA, 1);
    }

    private static int word(Cmos c, int index) {
        return reg(c, index) | (reg(c, index + 1) << 8);
    }

    @Test
    void guestSettingTheClockMovesItAndSurvivesRestore() {
        cmos.write(Cmos.INDEX, 1, Cmos.HOURS);
        cmos.write(Cmos.DATA, 1, 0x21);
        assertThat(reg(Cmos.HOURS)).isEqualTo(0x21);
        assertThat(reg(Cmos.MINUTES)).isEqualTo(0x30);
        cmos.write(Cmos.INDEX, 1, 0x40);
        cmos.write(Cmos.DATA, 1, 0x99);

        Cmos copy = new Cmos(() -> nanos, START, 128L << 20);
        copy.restoreState(cmos.saveState());
        copy.write(Cmos.INDEX, 1, Cmos.HOURS);
        assertThat(copy.read(Cmos.DATA, 1)).isEqualTo(0x21);
        copy.write(Cmos.INDEX, 1, 0x40);
        assertThat(copy.read(Cmos.DATA, 1)).isEqualTo(0x99);
    }

    @Test
    void registerCReadsZeroBecauseNoRtcInterruptIsWired() {
        assertThat(reg(Cmos.REG_C)).isZero();
    }

    private void set(int index, int value) {
        cmos.write(Cmos.INDEX, 1, index);
        cmos.write(Cmos.DATA, 1, value);
    }

    @Test
    void theAlarmMatchesSecondsMinutesAndHoursOrDontCareAndSetsRegisterCWhenItFires() {
        // Start 06:30:45. Without AIE there is no alarm to wait for.
        assertThat(cmos.nextAlarmNanos(0)).isEqualTo(Long.MAX_VALUE);
        set(Cmos.SECONDS_ALARM, 0x30); // BCD 30
        set(Cmos.MINUTES_ALARM, 0xc0); // don't care
        set(Cmos.HOURS_ALARM, 0x07);   // 07
        set(Cmos.REG_B, reg(Cmos.REG_B) | Cmos.REG_B_AIE);
        // The first 07:xx:30 after 06:30:45 is 07:00:30: 29 min 45 s later.
        assertThat(cmos.nextAlarmNanos(0)).isEqualTo((29 * 60 + 45) * 1_000_000_000L);
        set(Cmos.SECONDS_ALARM, 0xc0);
        set(Cmos.HOURS_ALARM, 0xc0);
        assertThat(cmos.nextAlarmNanos(1_500_000_000L)).as("the next whole second").isEqualTo(2_000_000_000L);
        assertThat(reg(Cmos.REG_C)).isZero();
        cmos.alarm();
        assertThat(reg(Cmos.REG_C)).isEqualTo(Cmos.REG_C_IRQF | Cmos.REG_C_AF);
        assertThat(reg(Cmos.REG_C)).as("reading C clears it").isZero();
    }
}

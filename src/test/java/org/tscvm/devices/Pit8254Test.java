package org.tscvm.devices;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class Pit8254Test {
    private long nanos = 5_000_000_000L;
    private int irq0Pulses;
    private final Pit8254 pit = new Pit8254(() -> nanos, new IrqLine() {
        @Override
        public void setLevel(boolean high) {
            if (high) {
                irq0Pulses++;
            }
        }
    });

    private int readLatched(int channel) {
        pit.write(Pit8254.CONTROL, 1, channel << 6); // counter latch command
        int lo = pit.read(channel, 1);
        int hi = pit.read(channel, 1);
        return lo | (hi << 8);
    }

    @Test
    void channelTwoCalibrationCountsDownAtThePitRateWhileTheGateIsHigh() {
        // Linux's pit_calibrate_tsc: gate on, speaker off, mode 0 lobyte/hibyte, count 0xFFFF.
        pit.portB().write(0, 1, Pit8254.PORTB_GATE2);
        pit.write(Pit8254.CONTROL, 1, 0xb0);
        pit.write(2, 1, 0xff);
        pit.write(2, 1, 0xff);
        assertThat(readLatched(2)).isEqualTo(0xffff);
        nanos += 10_000_000; // 10 ms = 11931.82 ticks
        assertThat(readLatched(2)).isEqualTo(0xffff - 11931);
        assertThat(pit.portB().read(0, 1) & Pit8254.PORTB_OUT2).isZero();
        nanos += 50_000_000; // past 65535 ticks (54.9 ms in all)
        assertThat(pit.portB().read(0, 1) & Pit8254.PORTB_OUT2).isEqualTo(Pit8254.PORTB_OUT2);
    }

    @Test
    void channelTwoHoldsItsCountWhileTheGateIsLow() {
        pit.write(Pit8254.CONTROL, 1, 0xb0);
        pit.write(2, 1, 0x00);
        pit.write(2, 1, 0x10);
        nanos += 1_000_000;
        assertThat(readLatched(2)).isEqualTo(0x1000);
        pit.portB().write(0, 1, Pit8254.PORTB_GATE2);
        nanos += 1_000_000; // 1193 ticks
        assertThat(readLatched(2)).isEqualTo(0x1000 - 1193);
        assertThat(pit.portB().read(0, 1) & 3).isEqualTo(Pit8254.PORTB_GATE2);
    }

    @Test
    void latchFreezesTheValueUntilBothBytesAreRead() {
        pit.portB().write(0, 1, Pit8254.PORTB_GATE2);
        pit.write(Pit8254.CONTROL, 1, 0xb4); // channel 2, mode 2
        pit.write(2, 1, 0x00);
        pit.write(2, 1, 0x20);
        nanos += 100_000;
        pit.write(Pit8254.CONTROL, 1, 0x80);
        nanos += 1_000_000;
        int lo = pit.read(2, 1);
        int hi = pit.read(2, 1);
        assertThat(lo | (hi << 8)).isEqualTo(0x2000 - 119);
    }

    @Test
    void channelZeroRateGeneratorRaisesIrqZeroOncePerPeriod() {
        pit.write(Pit8254.CONTROL, 1, 0x34); // channel 0, lobyte/hibyte, mode 2
        pit.write(0, 1, 0x9c);
        pit.write(0, 1, 0x2e); // 11932 ticks: 100 Hz
        long start = nanos;
        long due = pit.nextEventNanos();
        assertThat(due - start).isBetween(10_000_000L, 10_000_200L);
        nanos = due - 1;
        pit.onTime();
        assertThat(irq0Pulses).isZero();
        nanos = due;
        pit.onTime();
        assertThat(irq0Pulses).isEqualTo(1);
        // 35 ms later, at 45 ms: the period ends at 20, 30 and 40 ms passed unseen. One
        // interrupt now, not a burst; the two others are owed and follow an eighth of a period
        // apart (lost_tick_policy=delay), before the period ends at 50 ms.
        nanos += 35_000_000;
        pit.onTime();
        assertThat(irq0Pulses).isEqualTo(2);
        long catchUp = pit.nextEventNanos();
        assertThat(catchUp - nanos).isBetween(1_240_000L, 1_260_000L);
        pit.onTime();
        assertThat(irq0Pulses).as("not before its time").isEqualTo(2);
        for (int owed = 1; owed <= 2; owed++) {
            nanos = pit.nextEventNanos();
            pit.onTime();
            assertThat(irq0Pulses).isEqualTo(2 + owed);
        }
        long regular = pit.nextEventNanos();
        assertThat(regular - nanos).as("all paid: the next is the periodic one").isBetween(2_400_000L, 2_600_000L);
        nanos = regular;
        pit.onTime();
        assertThat(irq0Pulses).isEqualTo(5);
        assertThat(pit.nextEventNanos() - nanos).isBetween(9_900_000L, 10_100_000L);
    }

    @Test
    void anOwedTickFollowsAsSoonAsAnInterruptIsTaken() {
        pit.write(Pit8254.CONTROL, 1, 0x34);
        pit.write(0, 1, 0x9c);
        pit.write(0, 1, 0x2e); // 100 Hz
        nanos = pit.nextEventNanos() + 35_000_000; // four period ends, one seen late
        pit.onTime();
        assertThat(irq0Pulses).isEqualTo(1);
        pit.interruptTaken();
        assertThat(irq0Pulses).as("the first owed tick, at once").isEqualTo(2);
        pit.interruptTaken();
        pit.interruptTaken();
        assertThat(irq0Pulses).as("all three owed, no more").isEqualTo(4);
        pit.interruptTaken();
        assertThat(irq0Pulses).isEqualTo(4);
    }

    @Test
    void withLostTicksDiscardedALateCallRaisesOneInterrupt() {
        int[] pulses = new int[1];
        long[] now = {nanos};
        Pit8254 discarding = new Pit8254(() -> now[0], high -> {
            if (high) {
                pulses[0]++;
            }
        }, Pit8254.LostTicks.DISCARD);
        discarding.write(Pit8254.CONTROL, 1, 0x34);
        discarding.write(0, 1, 0x9c);
        discarding.write(0, 1, 0x2e);
        now[0] = discarding.nextEventNanos() + 35_000_000;
        discarding.onTime();
        assertThat(pulses[0]).isEqualTo(1);
        assertThat(discarding.nextEventNanos() - now[0]).as("the next period end").isBetween(4_900_000L, 5_100_000L);
    }

    @Test
    void modeZeroOnChannelZeroInterruptsOnceAtTerminalCount() {
        pit.write(Pit8254.CONTROL, 1, 0x30);
        pit.write(0, 1, 0x00);
        pit.write(0, 1, 0x01); // 256 ticks
        nanos = pit.nextEventNanos();
        pit.onTime();
        assertThat(irq0Pulses).isEqualTo(1);
        assertThat(pit.nextEventNanos()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void lobyteOnlyAccessLoadsAndReadsOneByte() {
        pit.write(Pit8254.CONTROL, 1, 0x50); // channel 1, lobyte, mode 0
        pit.write(1, 1, 0x80);
        assertThat(pit.read(1, 1)).isEqualTo(0x80);
        nanos += 839; // one tick is 838.1 ns
        assertThat(pit.read(1, 1)).isEqualTo(0x7f);
    }

    @Test
    void readBackReportsStatusWithOutputModeAndAccess() {
        pit.write(Pit8254.CONTROL, 1, 0x34);
        pit.write(0, 1, 0x10);
        pit.write(0, 1, 0x00);
        pit.write(Pit8254.CONTROL, 1, 0xe2); // read-back status of counter 0
        int status = pit.read(0, 1);
        assertThat(status & 0x3f).isEqualTo(0x34);
        assertThat(status & 0x80).isEqualTo(0x80);
    }

    @Test
    void restoreContinuesCountingFromTheSavedElapsedTicks() {
        pit.portB().write(0, 1, Pit8254.PORTB_GATE2);
        pit.write(Pit8254.CONTROL, 1, 0xb0);
        pit.write(2, 1, 0xff);
        pit.write(2, 1, 0xff);
        nanos += 1_000_000;
        Pit8254.State saved = pit.saveState();
        long[] otherNanos = {42};
        Pit8254 copy = new Pit8254(() -> otherNanos[0], IrqLine.NONE);
        copy.restoreState(saved);
        copy.write(Pit8254.CONTROL, 1, 0x80);
        int v = copy.read(2, 1) | (copy.read(2, 1) << 8);
        assertThat(v).isEqualTo(0xffff - 1193);
        assertThat(copy.portB().read(0, 1) & Pit8254.PORTB_GATE2).isEqualTo(1);
    }

    @Test
    void tickConversionIsExactForLongSpans() {
        assertThat(Pit8254.ticksBetween(0, 1_000_000_000L)).isEqualTo(Pit8254.FREQUENCY_HZ);
        assertThat(Pit8254.ticksBetween(0, 10_000L * 1_000_000_000L)).isEqualTo(10_000L * Pit8254.FREQUENCY_HZ);
        assertThat(Pit8254.ticksBetween(0, Pit8254.nanosAfterTicks(0, 65536))).isEqualTo(65536);
    }
}

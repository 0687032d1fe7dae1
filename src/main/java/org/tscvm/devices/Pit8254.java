package org.tscvm.devices;

import org.tscvm.memory.IoDevice;

/**
 * The 8254 programmable interval timer: three counters at 1.193182 MHz, modes 0-5, counter
 * latch and read-back, lobyte/hibyte access. Offsets 0-2 are the counters, 3 the control
 * word; {@link #portB()} is system control port B (0x61), which gates counter 2 (bit 0),
 * enables the speaker (bit 1) and reads OUT2 in bit 5: guests calibrate the TSC against it.
 *
 * <p>Counters are not stepped: each value is derived from the time on the {@link DeviceClock}
 * since the counter was loaded. Counter 0 drives ISA IRQ 0; the machine asks
 * {@link #nextEventNanos()} when to call {@link #onTime()}. A call late by several periods
 * (the vCPU thread stalled: a JVM pause, a loaded host) raises one interrupt at once and, by
 * default, owes the others: each follows as soon as the BSP takes an interrupt
 * ({@link #interruptTaken()}), or after an {@link #CATCH_UP_DIVISOR}th of a period if none is
 * taken, until paid, as KVM's in-kernel PIT reinjects a lost tick when the last one is
 * acknowledged under QEMU's default {@code lost_tick_policy=delay}. Linux needs this early in boot, while it still counts time
 * in timer ticks: its check that the timer works (timer_irq_works) waits 4 ticks against the
 * TSC. With {@link LostTicks#DISCARD} the others are dropped.
 */
public final class Pit8254 implements IoDevice {
    /** The PIT input clock: 1.193182 MHz (the NTSC colour-burst crystal divided by 12). */
    public static final long FREQUENCY_HZ = 1_193_182L;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    public static final int CONTROL = 3;

    private static final int ACCESS_LATCH = 0;
    private static final int ACCESS_LOBYTE = 1;
    private static final int ACCESS_HIBYTE = 2;
    private static final int ACCESS_WORD = 3;
    /** Control word with counter field 3 is the read-back command. */
    private static final int READ_BACK = 3;

    public static final int PORTB_GATE2 = 0x01;
    public static final int PORTB_SPEAKER = 0x02;
    /** Toggles every 15.085 us on real PCs (DRAM refresh); some delay loops watch it. */
    public static final int PORTB_REFRESH = 0x10;
    public static final int PORTB_OUT2 = 0x20;
    private static final long REFRESH_HALF_PERIOD_NANOS = 15_085;

    /**
     * One counter's registers. Time is kept relative: {@code ticksBefore}, the ticks counted
     * before counting last (re)started, and {@code nanosSinceStart}, the device time since then
     * (while the counter counts), so a restore resumes the count to the nanosecond, phase included.
     */
    public record Channel(int mode, int access, boolean bcd, int reload, long ticksBefore, long nanosSinceStart,
                          boolean gate, boolean counting, int latchedValue, int latchedBytes,
                          int statusLatch, boolean statusLatched, boolean readHigh,
                          boolean writeHigh, int writeLow, boolean nullCount) {
    }

    /** Counter states with time measured in ticks since load, so the state holds no clock reading. */
    public record State(Channel[] channels, int portB, long irqFiredTicks, long owedIrqs) {
        public State {
            channels = channels.clone();
        }

        @Override
        public Channel[] channels() {
            return channels.clone();
        }
    }

    /** What a late {@link #onTime()} does with the periods it missed (QEMU's lost_tick_policy). */
    public enum LostTicks {
        /** Raise them later, paced, until caught up (QEMU's default for KVM's PIT). */
        DELAY,
        /** One interrupt for the lot. */
        DISCARD
    }

    /** Owed interrupts follow each other one period / 8 apart: the guest's handler runs in between. */
    static final int CATCH_UP_DIVISOR = 8;
    /** Reinjection stops owing after this many periods (a host stall of seconds), as a bound on the burst. */
    static final long MAX_OWED = 1000;

    private final DeviceClock clock;
    private final IrqLine irq0;
    private final LostTicks lostTicks;
    /** Periodic interrupts due but not raised yet (DELAY), and when the next one may go. */
    private long owedIrqs;
    private long nextCatchUpNanos;
    private final Counter[] counters = {new Counter(), new Counter(), new Counter()};
    private int portB;
    /** Counter 0 ticks (since its load) at which the last IRQ 0 was raised; -1: none yet. */
    private long irqFiredTicks = -1;

    public Pit8254(DeviceClock clock, IrqLine irq0) {
        this(clock, irq0, LostTicks.DELAY);
    }

    public Pit8254(DeviceClock clock, IrqLine irq0, LostTicks lostTicks) {
        this.clock = clock;
        this.irq0 = irq0;
        this.lostTicks = lostTicks;
        counters[0].gate = true;
        counters[1].gate = true;
    }

    private final class Counter {
        int mode;
        int access = ACCESS_WORD;
        boolean bcd;
        /** The programmed count; 0 means 65536 (binary) as on the chip. */
        int reload;
        long loadNanos;
        /** Ticks already counted when counting was suspended (gate low in modes 0, 2, 3, 4). */
        long ticksBefore;
        boolean gate;
        /** False until the first count is written (and, in modes 1 and 5, until the gate triggers). */
        boolean counting;
        int latchedValue;
        int latchedBytes;
        int statusLatch;
        boolean statusLatched;
        boolean readHigh;
        boolean writeHigh;
        int writeLow;
        boolean nullCount = true;

        long period() {
            return reload == 0 ? (bcd ? 10000 : 65536) : reload;
        }

        long elapsedTicks(long now) {
            if (!counting) {
                return 0;
            }
            long ticks = ticksBefore;
            if (gate || mode == 1 || mode == 5) {
                ticks += ticksBetween(loadNanos, now);
            }
            return ticks;
        }

        int count(long now) {
            if (!counting) {
                return reload & 0xffff;
            }
            long d = elapsedTicks(now);
            long n = period();
            long v;
            switch (mode) {
                case 2:
                    v = n - (d % n);
                    break;
                case 3:
                    v = n - ((2 * d) % n);
                    break;
                default:
                    // Modes 0, 1, 4, 5 count down once and then wrap through 0xFFFF.
                    v = (n - d) & 0xffff;
                    break;
            }
            return (int) (v & 0xffff);
        }

        boolean out(long now) {
            long n = period();
            if (!counting) {
                // Mode 0 drives OUT low after the control word; the others idle high.
                return mode != 0;
            }
            long d = elapsedTicks(now);
            switch (mode) {
                case 0:
                    return d >= n;
                case 1:
                    return d >= n;
                case 2:
                    return (d % n) != n - 1;
                case 3:
                    return (d % n) < ((n + 1) >> 1);
                case 4:
                case 5:
                    return d != n;
                default:
                    return true;
            }
        }

        void start(long now) {
            loadNanos = now;
            ticksBefore = 0;
            counting = mode != 1 && mode != 5;
            nullCount = false;
        }

        void setGate(boolean high, long now) {
            if (high == gate) {
                return;
            }
            if (high) {
                if (mode == 1 || mode == 5 || mode == 2 || mode == 3) {
                    // A rising gate (re)triggers modes 1 and 5 and reloads modes 2 and 3.
                    if (!nullCount) {
                        loadNanos = now;
                        ticksBefore = 0;
                        counting = true;
                    }
                } else {
                    loadNanos = now;
                }
            } else if (counting && mode != 1 && mode != 5) {
                ticksBefore += ticksBetween(loadNanos, now);
            }
            gate = high;
        }

        Channel save(long now) {
            return new Channel(mode, access, bcd, reload, ticksBefore, counting ? now - loadNanos : 0, gate, counting,
                    latchedValue, latchedBytes, statusLatch, statusLatched, readHigh, writeHigh,
                    writeLow, nullCount);
        }

        void load(Channel c, long now) {
            mode = c.mode() & 7;
            if (mode > 5) {
                mode &= 3;
            }
            access = c.access() & 3;
            bcd = c.bcd();
            reload = c.reload() & 0xffff;
            gate = c.gate();
            counting = c.counting();
            // Counting resumes where it stood, to the nanosecond; no clock reading crosses a restore.
            loadNanos = counting ? now - Math.max(0, c.nanosSinceStart()) : now;
            ticksBefore = counting ? Math.max(0, c.ticksBefore()) : 0;
            latchedValue = c.latchedValue() & 0xffff;
            latchedBytes = Math.max(0, Math.min(2, c.latchedBytes()));
            statusLatch = c.statusLatch() & 0xff;
            statusLatched = c.statusLatched();
            readHigh = c.readHigh();
            writeHigh = c.writeHigh();
            writeLow = c.writeLow() & 0xff;
            nullCount = c.nullCount();
        }
    }

    /** Whole PIT ticks in [from, to) nanoseconds, exact for any span (no 64-bit overflow). */
    static long ticksBetween(long fromNanos, long toNanos) {
        long d = toNanos - fromNanos;
        if (d <= 0) {
            return 0;
        }
        return (d / NANOS_PER_SECOND) * FREQUENCY_HZ + (d % NANOS_PER_SECOND) * FREQUENCY_HZ / NANOS_PER_SECOND;
    }

    /** The first nanosecond at which {@code ticks} ticks have passed since {@code fromNanos}. */
    static long nanosAfterTicks(long fromNanos, long ticks) {
        long whole = ticks / FREQUENCY_HZ;
        long rest = ticks % FREQUENCY_HZ;
        long nanos = whole * NANOS_PER_SECOND + (rest * NANOS_PER_SECOND + FREQUENCY_HZ - 1) / FREQUENCY_HZ;
        return fromNanos + nanos;
    }

    @Override
    public synchronized int read(int offset, int size) {
        if (offset < 0 || offset > 2) {
            return 0xff;
        }
        Counter c = counters[offset];
        long now = clock.nanos();
        if (c.statusLatched) {
            c.statusLatched = false;
            return c.statusLatch;
        }
        int value;
        if (c.latchedBytes > 0) {
            value = c.latchedValue;
            int b;
            if (c.access == ACCESS_WORD) {
                b = c.latchedBytes == 2 ? value & 0xff : (value >>> 8) & 0xff;
            } else {
                b = c.access == ACCESS_HIBYTE ? (value >>> 8) & 0xff : value & 0xff;
            }
            c.latchedBytes = c.access == ACCESS_WORD ? c.latchedBytes - 1 : 0;
            return b;
        }
        value = c.count(now);
        switch (c.access) {
            case ACCESS_LOBYTE:
                return value & 0xff;
            case ACCESS_HIBYTE:
                return (value >>> 8) & 0xff;
            default:
                int b = c.readHigh ? (value >>> 8) & 0xff : value & 0xff;
                c.readHigh = !c.readHigh;
                return b;
        }
    }

    @Override
    public synchronized void write(int offset, int size, int value) {
        int v = value & 0xff;
        long now = clock.nanos();
        if (offset == CONTROL) {
            writeControl(v, now);
            return;
        }
        if (offset < 0 || offset > 2) {
            return;
        }
        Counter c = counters[offset];
        switch (c.access) {
            case ACCESS_LOBYTE -> load(c, offset, v, now);
            case ACCESS_HIBYTE -> load(c, offset, v << 8, now);
            default -> {
                if (!c.writeHigh) {
                    c.writeLow = v;
                    c.writeHigh = true;
                } else {
                    c.writeHigh = false;
                    load(c, offset, c.writeLow | (v << 8), now);
                }
            }
        }
    }

    private void load(Counter c, int index, int count, long now) {
        c.reload = count & 0xffff;
        c.start(now);
        if (index == 0) {
            irqFiredTicks = -1;
            owedIrqs = 0; // a new count starts a new rhythm: nothing from the old one is owed
        }
    }

    private void writeControl(int v, long now) {
        int channel = v >>> 6;
        if (channel == READ_BACK) {
            // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 3:1 pick counters.
            for (int i = 0; i < 3; i++) {
                if ((v & (2 << i)) == 0) {
                    continue;
                }
                Counter c = counters[i];
                if ((v & 0x20) == 0 && c.latchedBytes == 0) {
                    latchCount(c, now);
                }
                if ((v & 0x10) == 0 && !c.statusLatched) {
                    c.statusLatch = (c.out(now) ? 0x80 : 0) | (c.nullCount ? 0x40 : 0)
                            | (c.access << 4) | (c.mode << 1) | (c.bcd ? 1 : 0);
                    c.statusLatched = true;
                }
            }
            return;
        }
        Counter c = counters[channel];
        int access = (v >>> 4) & 3;
        if (access == ACCESS_LATCH) {
            if (c.latchedBytes == 0) {
                latchCount(c, now);
            }
            return;
        }
        int mode = (v >>> 1) & 7;
        c.mode = mode > 5 ? mode & 3 : mode;
        c.access = access;
        c.bcd = (v & 1) != 0;
        c.counting = false;
        c.nullCount = true;
        c.readHigh = false;
        c.writeHigh = false;
        c.latchedBytes = 0;
        c.statusLatched = false;
    }

    private static void latchCount(Counter c, long now) {
        c.latchedValue = c.count(now);
        c.latchedBytes = c.access == ACCESS_WORD ? 2 : 1;
    }

    /** System control port B (0x61). */
    public IoDevice portB() {
        return new IoDevice() {
            @Override
            public int read(int offset, int size) {
                synchronized (Pit8254.this) {
                    long now = clock.nanos();
                    int v = portB & (PORTB_GATE2 | PORTB_SPEAKER);
                    if (((now / REFRESH_HALF_PERIOD_NANOS) & 1) != 0) {
                        v |= PORTB_REFRESH;
                    }
                    if (counters[2].out(now)) {
                        v |= PORTB_OUT2;
                    }
                    return v;
                }
            }

            @Override
            public void write(int offset, int size, int value) {
                synchronized (Pit8254.this) {
                    portB = value & (PORTB_GATE2 | PORTB_SPEAKER);
                    counters[2].setGate((value & PORTB_GATE2) != 0, clock.nanos());
                }
            }
        };
    }

    /** The next host-clock time at which counter 0's output rises (IRQ 0), or Long.MAX_VALUE. */
    public synchronized long nextEventNanos() {
        Counter c = counters[0];
        if (!c.counting || !c.gate) {
            return Long.MAX_VALUE;
        }
        long n = c.period();
        long due = nextIrqTick(c, n);
        long next = due < 0 ? Long.MAX_VALUE : nanosAfterTicks(c.loadNanos, due - c.ticksBefore);
        return owedIrqs > 0 ? Math.min(next, nextCatchUpNanos) : next;
    }

    /** The counter-0 tick at which the next IRQ 0 is due, or -1 if none will come. */
    private long nextIrqTick(Counter c, long n) {
        switch (c.mode) {
            case 0:
            case 4:
                return irqFiredTicks < 0 ? n : -1;
            case 2:
            case 3: {
                // Periodic: an interrupt at the end of every period.
                long fired = irqFiredTicks < 0 ? 0 : irqFiredTicks;
                return (fired / n + 1) * n;
            }
            default:
                return -1;
        }
    }

    /** Raises IRQ 0 if counter 0's output rose since the last call; at most one per call. */
    public synchronized void onTime() {
        Counter c = counters[0];
        if (!c.counting || !c.gate) {
            return;
        }
        long now = clock.nanos();
        long n = c.period();
        long due = nextIrqTick(c, n);
        long ticks = c.elapsedTicks(now);
        if (due >= 0 && ticks >= due) {
            boolean periodic = c.mode == 2 || c.mode == 3;
            if (periodic && lostTicks == LostTicks.DELAY) {
                // Periods that ended since the last interrupt, beyond the one raised now.
                long missed = ticks / n - due / n;
                owedIrqs = Math.min(MAX_OWED, owedIrqs + missed);
            }
            irqFiredTicks = ticks;
            irq0.pulse();
            nextCatchUpNanos = now + catchUpGapNanos(n);
        } else if (owedIrqs > 0 && now >= nextCatchUpNanos) {
            owedIrqs--;
            irq0.pulse();
            nextCatchUpNanos = now + catchUpGapNanos(n);
        }
    }

    /**
     * The BSP took an interrupt: the next owed tick, if any, is raised now, so a guest that
     * counts ticks against the TSC (Linux's timer_irq_works) has them all before its next
     * instruction looks at the TSC again. Taken but not yet ended, the tick's vector is still in
     * service, so the new edge waits in the request register until the guest's EOI.
     */
    public synchronized void interruptTaken() {
        Counter c = counters[0];
        if (owedIrqs > 0 && c.counting && c.gate) {
            owedIrqs--;
            irq0.pulse();
            nextCatchUpNanos = clock.nanos() + catchUpGapNanos(c.period());
        }
    }

    private static long catchUpGapNanos(long periodTicks) {
        return Math.max(1, periodTicks * NANOS_PER_SECOND / FREQUENCY_HZ / CATCH_UP_DIVISOR);
    }

    public synchronized State saveState() {
        long now = clock.nanos();
        Channel[] ch = new Channel[3];
        for (int i = 0; i < 3; i++) {
            ch[i] = counters[i].save(now);
        }
        return new State(ch, portB, irqFiredTicks, owedIrqs);
    }

    /** Loads {@code s}; counters continue from the elapsed ticks it holds. */
    public synchronized void restoreState(State s) {
        Channel[] ch = s.channels();
        if (ch.length != 3) {
            throw new IllegalArgumentException("PIT state has " + ch.length + " channels, not 3");
        }
        long now = clock.nanos();
        for (int i = 0; i < 3; i++) {
            counters[i].load(ch[i], now);
        }
        portB = s.portB() & (PORTB_GATE2 | PORTB_SPEAKER);
        irqFiredTicks = s.irqFiredTicks();
        owedIrqs = Math.max(0, Math.min(MAX_OWED, s.owedIrqs()));
        nextCatchUpNanos = now;
    }
}

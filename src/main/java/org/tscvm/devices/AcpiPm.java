package org.tscvm.devices;

import org.tscvm.memory.IoDevice;

/**
 * The ACPI fixed-hardware registers of a PIIX4-style power-management block: PM1a event
 * (status at offset 0, enable at 2), PM1a control (offset 4) and the PM timer (offset 8). The
 * machine maps it at the FADT's PM1a_EVT_BLK (0x600 as QEMU's PIIX4) and lists the offsets
 * in the FADT.
 *
 * <p>The PM timer is a free-running 32-bit counter at 3.579545 MHz (the FADT sets
 * TMR_VAL_EXT), derived from the {@link DeviceClock} with exact integer maths, the same host
 * clock the TSC runs on: on the deterministic clock a guest calibrating the TSC against it
 * gets the exact ratio.
 *
 * <p>PM1a control: SCI_EN reads 1 always (the FADT has no SMI_CMD, so the machine is in ACPI
 * mode from the start); writing SLP_EN with SLP_TYP = {@link #SLP_TYP_S5} (the DSDT's \_S5)
 * powers the machine off, with {@link #SLP_TYP_S3} (\_S3) suspends it to RAM; other sleep types
 * are ignored. The only status bits ever set are WAK_STS and RTC_STS, by {@link #wake} when the
 * RTC alarm ends an S3 sleep (RTC_EN set); no event raises an SCI.
 */
public final class AcpiPm implements IoDevice {
    /** The PM timer's rate: 3.579545 MHz (the NTSC colour-burst crystal). */
    public static final long TIMER_HZ = 3_579_545L;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;

    public static final int PM1_STATUS = 0;
    public static final int PM1_ENABLE = 2;
    public static final int PM1_CONTROL = 4;
    public static final int PM_TIMER = 8;
    /** Bytes from PM1_STATUS to the end of the timer. */
    public static final int LENGTH = 12;
    private static final int PM_TIMER_LENGTH = 4;

    public static final int SCI_EN = 1;
    private static final int SLP_TYP_SHIFT = 10;
    private static final int SLP_TYP_MASK = 7 << SLP_TYP_SHIFT;
    public static final int SLP_EN = 1 << 13;
    /** The sleep type the DSDT's \_S5 package names for soft-off (0, as PIIX4 and QEMU). */
    public static final int SLP_TYP_S5 = 0;
    /** The sleep type the DSDT's \_S3 package names for suspend to RAM (1, as QEMU's PIIX4). */
    public static final int SLP_TYP_S3 = 1;
    /** PM1 status: the machine woke from a sleep state; RTC_STS / PM1 enable RTC_EN: the RTC alarm. */
    public static final int WAK_STS = 1 << 15, RTC_STS = 1 << 10, RTC_EN = 1 << 10;
    /** PM1 control bits that are stored: SCI_EN, BM_RLD, GBL_RLS and SLP_TYP (SLP_EN is write-only). */
    private static final int CONTROL_STORED = SCI_EN | 0x6 | SLP_TYP_MASK;

    public record State(int status, int enable, int control) {
    }

    private final DeviceClock clock;
    private final Runnable powerOff;
    private final Runnable suspend;
    private int status;
    private int enable;
    private int control = SCI_EN;

    public AcpiPm(DeviceClock clock, Runnable powerOff, Runnable suspend) {
        this.clock = clock;
        this.powerOff = powerOff;
        this.suspend = suspend;
    }

    /** Whether the RTC alarm may end an S3 sleep (PM1 enable's RTC_EN). */
    public synchronized boolean rtcWakeEnabled() {
        return (enable & RTC_EN) != 0;
    }

    /** The RTC alarm ended an S3 sleep: WAK_STS and RTC_STS set, for the waking OS to read. */
    public synchronized void wake() {
        status |= WAK_STS | RTC_STS;
    }

    /** PM timer ticks since the clock read 0, exact: floor(nanos * 3579545 / 10^9). */
    public static long timerTicks(long nanos) {
        return (nanos / NANOS_PER_SECOND) * TIMER_HZ + (nanos % NANOS_PER_SECOND) * TIMER_HZ / NANOS_PER_SECOND;
    }

    @Override
    public synchronized int read(int offset, int size) {
        // One clock reading per access: bytes of one IN read at different instants would tear
        // (a carry between them makes the timer seem to go backwards; Linux then refuses it).
        int timer = offset + size > PM_TIMER ? (int) timerTicks(clock.nanos()) : 0;
        int value = 0;
        for (int i = 0; i < size; i++) {
            value |= readByte(offset + i, timer) << (8 * i);
        }
        return value;
    }

    private int readByte(int offset, int timer) {
        int register;
        int base;
        if (offset >= PM_TIMER && offset < PM_TIMER + PM_TIMER_LENGTH) {
            register = timer;
            base = PM_TIMER;
        } else {
            base = offset & ~1;
            register = switch (base) {
                case PM1_STATUS -> status;
                case PM1_ENABLE -> enable;
                case PM1_CONTROL -> control;
                default -> 0;
            };
        }
        return (register >>> (8 * (offset - base))) & 0xff;
    }

    @Override
    public void write(int offset, int size, int value) {
        int sleep = -1;
        synchronized (this) {
            for (int i = 0; i < size; i++) {
                int t = writeByte(offset + i, (value >>> (8 * i)) & 0xff);
                sleep = t >= 0 ? t : sleep;
            }
        }
        // Outside the lock: entering a sleep state stops the vCPUs.
        if (sleep == SLP_TYP_S5) {
            powerOff.run();
        } else if (sleep == SLP_TYP_S3) {
            suspend.run();
        }
    }

    /** Returns the SLP_TYP the byte asks to enter (SLP_EN written), or -1. */
    private int writeByte(int offset, int b) {
        int shift = 8 * (offset & 1);
        switch (offset & ~1) {
            case PM1_STATUS -> status &= ~(b << shift); // write one to clear
            case PM1_ENABLE -> enable = (enable & ~(0xff << shift)) | (b << shift);
            case PM1_CONTROL -> {
                int written = (control & ~(0xff << shift)) | (b << shift);
                control = (written & CONTROL_STORED) | SCI_EN;
                return shift != 0 && (written & SLP_EN) != 0 ? (written & SLP_TYP_MASK) >>> SLP_TYP_SHIFT : -1;
            }
            default -> {
                // The timer is read-only; the rest of the block is reserved.
            }
        }
        return -1;
    }

    public synchronized State saveState() {
        return new State(status, enable, control);
    }

    public synchronized void restoreState(State s) {
        status = s.status() & 0xffff;
        enable = s.enable() & 0xffff;
        control = (s.control() & CONTROL_STORED) | SCI_EN;
    }
}

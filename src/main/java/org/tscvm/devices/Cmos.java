package org.tscvm.devices;

import java.time.LocalDateTime;
import java.time.ZoneOffset;
import org.tscvm.memory.GuestMemory;
import org.tscvm.memory.IoDevice;

/**
 * The MC146818 CMOS RTC and its RAM. Offset 0 selects a register (bit 7 masks NMI), offset 1
 * reads or writes it. Time of day = a start epoch passed in plus the {@link DeviceClock}, so a
 * deterministic run always reads the same date; a guest that sets the clock moves an offset.
 * The RTC raises no interrupts (IRQ 8 is not wired); its alarm can only end an ACPI S3 sleep
 * ({@link #nextAlarmNanos}), which sets register C's AF and IRQF, cleared when C is read.
 */
public final class Cmos implements IoDevice {
    public static final int INDEX = 0;
    public static final int DATA = 1;

    public static final int NMI_DISABLE = 0x80;
    private static final int INDEX_MASK = 0x7f;

    public static final int SECONDS = 0x00;
    public static final int MINUTES = 0x02;
    public static final int HOURS = 0x04;
    public static final int DAY_OF_WEEK = 0x06;
    public static final int DAY_OF_MONTH = 0x07;
    public static final int MONTH = 0x08;
    public static final int YEAR = 0x09;
    public static final int REG_A = 0x0a;
    public static final int REG_B = 0x0b;
    public static final int REG_C = 0x0c;
    public static final int SECONDS_ALARM = 0x01, MINUTES_ALARM = 0x03, HOURS_ALARM = 0x05;
    /** An alarm byte with both top bits set matches any value. */
    private static final int ALARM_DONT_CARE = 0xc0;
    public static final int REG_B_AIE = 0x20;
    public static final int REG_C_IRQF = 0x80, REG_C_AF = 0x20;
    public static final int REG_D = 0x0d;
    /** Base memory in KiB (always 640) and extended memory above 1 MiB in KiB, capped at 0xFFFF. */
    public static final int BASE_MEM_LO = 0x15;
    public static final int EXT_MEM_LO = 0x17;
    public static final int EXT_MEM2_LO = 0x30;
    public static final int CENTURY = 0x32;
    /** Memory above 16 MiB below 4 GiB in 64 KiB units (SeaBIOS reads 0x34/0x35). */
    public static final int MEM_ABOVE_16M_LO = 0x34;
    /** Memory above 4 GiB in 64 KiB units, 24 bits in 0x5b-0x5d (SeaBIOS, QEMU's pc_cmos_init). */
    public static final int MEM_ABOVE_4G_LO = 0x5b;

    /** Register A: 32.768 kHz divider and 1024 Hz rate, the power-on value firmware leaves. */
    private static final int REG_A_DEFAULT = 0x26;
    /** Update-in-progress: set during the last 244 us before a second boundary. */
    private static final int REG_A_UIP = 0x80;
    private static final long UIP_WINDOW_NANOS = 244_000;
    /** Register B: 24-hour mode, BCD (DM bit clear), as the PC BIOS sets it. */
    private static final int REG_B_DEFAULT = 0x02;
    public static final int REG_B_SET = 0x80;
    public static final int REG_B_BINARY = 0x04;
    public static final int REG_B_24H = 0x02;
    /** Register D bit 7: the battery is good and the RAM valid. */
    private static final int REG_D_VALID = 0x80;

    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    private static final int RAM_SIZE = 128;

    /**
     * What a snapshot holds. {@code rtcSecondsAtClockZero} is the time of day (Unix seconds)
     * the RTC shows when its {@link DeviceClock} reads 0, with every guest setting applied: the
     * RTC reads that plus the clock, so a restore onto a clock that continues from the saved
     * device time shows the saved time of day, whatever this machine's start epoch.
     */
    public record State(int index, boolean nmiMasked, byte[] ram, long rtcSecondsAtClockZero) {
        public State {
            ram = ram.clone();
        }

        @Override
        public byte[] ram() {
            return ram.clone();
        }
    }

    private final DeviceClock clock;
    private final long startEpochSeconds;
    private final byte[] ram = new byte[RAM_SIZE];
    private int index;
    private boolean nmiMasked;
    private long secondsOffset;
    /** Register C's flags since it was last read. */
    private int regC;

    /**
     * @param startEpochSeconds wall-clock time (Unix seconds, UTC) when {@code clock} read 0
     * @param ramBytes guest RAM size, reported in the CMOS memory-size bytes split below and
     *                 above 4 GiB as {@link GuestMemory} lays it out
     */
    public Cmos(DeviceClock clock, long startEpochSeconds, long ramBytes) {
        this.clock = clock;
        this.startEpochSeconds = startEpochSeconds;
        ram[REG_A] = REG_A_DEFAULT;
        ram[REG_B] = REG_B_DEFAULT;
        ram[REG_D] = (byte) REG_D_VALID;
        putWord(BASE_MEM_LO, 640);
        long low = GuestMemory.belowFourGiB(ramBytes);
        long extKib = Math.min(0xffff, Math.max(0, (low - (1 << 20)) >> 10));
        putWord(EXT_MEM_LO, (int) extKib);
        putWord(EXT_MEM2_LO, (int) extKib);
        long above16m = Math.min(0xffff, Math.max(0, (low - (16L << 20)) >> 16));
        putWord(MEM_ABOVE_16M_LO, (int) above16m);
        long above4g = GuestMemory.aboveFourGiB(ramBytes) >> 16;
        putWord(MEM_ABOVE_4G_LO, (int) above4g);
        ram[MEM_ABOVE_4G_LO + 2] = (byte) (above4g >>> 16);
    }

    private void putWord(int reg, int value) {
        ram[reg] = (byte) value;
        ram[reg + 1] = (byte) (value >>> 8);
    }

    /** True while the guest has set bit 7 of the index port (NMI masked). */
    public synchronized boolean nmiMasked() {
        return nmiMasked;
    }

    @Override
    public synchronized int read(int offset, int size) {
        if (offset == INDEX) {
            return 0xff;
        }
        switch (index) {
            case SECONDS, MINUTES, HOURS, DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR, CENTURY:
                return timeField(index, now());
            case REG_A: {
                long nanos = Math.floorMod(clock.nanos(), NANOS_PER_SECOND);
                return REG_A_DEFAULT | (nanos >= NANOS_PER_SECOND - UIP_WINDOW_NANOS ? REG_A_UIP : 0);
            }
            case REG_C: {
                int flags = regC;
                regC = 0; // reading C clears it
                return flags;
            }
            default:
                return ram[index] & 0xff;
        }
    }

    @Override
    public synchronized void write(int offset, int size, int value) {
        int v = value & 0xff;
        if (offset == INDEX) {
            index = v & INDEX_MASK;
            nmiMasked = (v & NMI_DISABLE) != 0;
            return;
        }
        switch (index) {
            case SECONDS, MINUTES, HOURS, DAY_OF_MONTH, MONTH, YEAR, CENTURY:
                setTimeField(index, v);
                break;
            case REG_A:
                ram[REG_A] = (byte) (v & 0x7f);
                break;
            case REG_C, REG_D:
                // Read-only status registers.
                break;
            default:
                ram[index] = (byte) v;
                break;
        }
    }

    /**
     * The device-clock time of the first second boundary after {@code afterNanos} at which the
     * alarm matches (seconds, minutes and hours, each or "don't care"), within a day; or
     * Long.MAX_VALUE when the alarm interrupt is not enabled (register B's AIE) or never matches.
     */
    public synchronized long nextAlarmNanos(long afterNanos) {
        if ((ram[REG_B] & REG_B_AIE) == 0) {
            return Long.MAX_VALUE;
        }
        long second = Math.floorDiv(afterNanos, NANOS_PER_SECOND) + 1;
        for (long s = second; s < second + 86_400; s++) {
            LocalDateTime t = LocalDateTime.ofEpochSecond(startEpochSeconds + s + secondsOffset, 0, ZoneOffset.UTC);
            if (alarmMatches(SECONDS_ALARM, SECONDS, t) && alarmMatches(MINUTES_ALARM, MINUTES, t)
                    && alarmMatches(HOURS_ALARM, HOURS, t)) {
                return s * NANOS_PER_SECOND;
            }
        }
        return Long.MAX_VALUE;
    }

    private boolean alarmMatches(int alarmReg, int timeReg, LocalDateTime t) {
        int alarm = ram[alarmReg] & 0xff;
        return (alarm & ALARM_DONT_CARE) == ALARM_DONT_CARE || alarm == timeField(timeReg, t);
    }

    /** The alarm went off: register C's AF and IRQF. */
    public synchronized void alarm() {
        regC |= REG_C_AF | REG_C_IRQF;
    }

    private LocalDateTime now() {
        long seconds = startEpochSeconds + Math.floorDiv(clock.nanos(), NANOS_PER_SECOND) + secondsOffset;
        return LocalDateTime.ofEpochSecond(seconds, 0, ZoneOffset.UTC);
    }

    private int timeField(int reg, LocalDateTime t) {
        int v = switch (reg) {
            case SECONDS -> t.getSecond();
            case MINUTES -> t.getMinute();
            case HOURS -> t.getHour();
            case DAY_OF_WEEK -> t.getDayOfWeek().getValue() % 7 + 1;
            case DAY_OF_MONTH -> t.getDayOfMonth();
            case MONTH -> t.getMonthValue();
            case YEAR -> t.getYear() % 100;
            default -> t.getYear() / 100;
        };
        if (reg == HOURS && (ram[REG_B] & REG_B_24H) == 0) {
            int h12 = v % 12 == 0 ? 12 : v % 12;
            return encode(h12) | (v >= 12 ? 0x80 : 0);
        }
        return encode(v);
    }

    private boolean binary() {
        return (ram[REG_B] & REG_B_BINARY) != 0;
    }

    private int encode(int v) {
        return binary() ? v : ((v / 10) << 4) | (v % 10);
    }

    private int decode(int v) {
        return binary() ? v : ((v >>> 4) & 0xf) * 10 + (v & 0xf);
    }

    private void setTimeField(int reg, int raw) {
        LocalDateTime t = now();
        int v = decode(reg == HOURS ? raw & 0x7f : raw);
        if (reg == HOURS && (ram[REG_B] & REG_B_24H) == 0) {
            v = v % 12 + ((raw & 0x80) != 0 ? 12 : 0);
        }
        LocalDateTime n;
        try {
            n = switch (reg) {
                case SECONDS -> t.withSecond(v);
                case MINUTES -> t.withMinute(v);
                case HOURS -> t.withHour(v);
                case DAY_OF_MONTH -> t.withDayOfMonth(v);
                case MONTH -> t.withMonth(v);
                case YEAR -> t.withYear(t.getYear() / 100 * 100 + v);
                default -> t.withYear(v * 100 + t.getYear() % 100);
            };
        } catch (java.time.DateTimeException e) {
            // An impossible date (month 13, BCD garbage) is dropped: the clock keeps its time.
            return;
        }
        secondsOffset += n.toEpochSecond(ZoneOffset.UTC) - t.toEpochSecond(ZoneOffset.UTC);
    }

    public synchronized State saveState() {
        return new State(index, nmiMasked, ram, startEpochSeconds + secondsOffset);
    }

    public synchronized void restoreState(State s) {
        byte[] r = s.ram();
        if (r.length != RAM_SIZE) {
            throw new IllegalArgumentException("CMOS state has " + r.length + " bytes, not " + RAM_SIZE);
        }
        System.arraycopy(r, 0, ram, 0, RAM_SIZE);
        index = s.index() & INDEX_MASK;
        nmiMasked = s.nmiMasked();
        secondsOffset = s.rtcSecondsAtClockZero() - startEpochSeconds;
    }
}

package org.tscvm.devices;

import org.tscvm.log.DebugLog;
import org.tscvm.memory.MmioDevice;

/**
 * The 82093AA I/O APIC: 24 input pins, each with a 64-bit redirection entry (vector, delivery
 * mode, destination mode, polarity, trigger mode, mask, destination), reached through the
 * index register IOREGSEL (offset 0x00) and the data window IOWIN (offset 0x10); the machine
 * maps it at 0xFEC00000. Messages go to the local APICs over the {@link ApicBus}.
 *
 * <p>Inputs are logical levels (asserted or not), as in KVM and QEMU: the polarity bit is
 * stored for the guest but the wiring already presents every line active-high. An
 * edge-triggered pin sends one message per rising edge while unmasked. A level-triggered pin
 * sends one message and sets Remote IRR; the EOI of that vector from a local APIC (TMR set)
 * clears Remote IRR and, if the line is still asserted, sends again. Pin 0 is the 8259's
 * INTR: an unmasked ExtINT entry there opens the ExtINT path of the APICs it addresses.
 *
 * <p>Threads: pins are driven from any device's thread and EOIs come from the vCPUs; methods
 * synchronise on the I/O APIC, which may take a local APIC's lock (never the reverse).
 */
public final class IoApic implements MmioDevice {
    public static final long MMIO_SIZE = 0x1000;
    public static final int PINS = 24;
    /** The pin the 8259's INTR output is wired to. */
    public static final int EXTINT_PIN = 0;

    // MMIO offsets.
    public static final int IOREGSEL = 0x00;
    public static final int IOWIN = 0x10;

    // Indirect registers.
    public static final int REG_ID = 0x00;
    public static final int REG_VERSION = 0x01;
    public static final int REG_ARBITRATION = 0x02;
    public static final int REG_REDIRECTION_BASE = 0x10;

    /** Version 0x11 (82093AA) with the highest redirection entry, 23, in bits 23:16. */
    public static final int VERSION = ((PINS - 1) << 16) | 0x11;
    /** The 4-bit APIC ID sits in bits 27:24; nothing else of the ID register is writable. */
    private static final int ID_MASK = 0x0f00_0000;

    // Redirection entry bits.
    public static final long VECTOR = 0xff;
    public static final int DELIVERY_MODE_SHIFT = 8;
    public static final long DEST_LOGICAL = 1L << 11;
    public static final long POLARITY_LOW = 1L << 13;
    public static final long REMOTE_IRR = 1L << 14;
    public static final long TRIGGER_LEVEL = 1L << 15;
    public static final long MASKED = 1L << 16;
    public static final int DESTINATION_SHIFT = 56;
    /** Guest-writable bits: vector, delivery mode, destination mode, polarity, trigger, mask, destination. */
    private static final long WRITABLE = 0xffL << DESTINATION_SHIFT | MASKED | TRIGGER_LEVEL | POLARITY_LOW
            | DEST_LOGICAL | 0x7ffL;

    /** What a snapshot holds: the index, the ID, every entry and the input levels. */
    public record State(int index, int id, long[] redirection, int lineLevels) {
        public State {
            redirection = redirection.clone();
        }

        @Override
        public long[] redirection() {
            return redirection.clone();
        }
    }

    private final ApicBus bus;
    private int index;
    private int id;
    private final long[] redirection = new long[PINS];
    /** Bit n: pin n's input is asserted. */
    private int lineLevels;

    /** @param apicId the I/O APIC's ID at reset (the MADT reports it) */
    public IoApic(int apicId, ApicBus bus) {
        this.bus = bus;
        this.id = (apicId << 24) & ID_MASK;
        for (int pin = 0; pin < PINS; pin++) {
            redirection[pin] = MASKED;
        }
        bus.connect(this);
    }

    /** The line driving pin {@code pin} (0-23). */
    public IrqLine pin(int pin) {
        if (pin < 0 || pin >= PINS) {
            throw new IllegalArgumentException("I/O APIC pin " + pin + " is not 0.." + (PINS - 1));
        }
        return high -> setPin(pin, high);
    }

    public synchronized void setPin(int pin, boolean high) {
        int mask = 1 << pin;
        boolean wasHigh = (lineLevels & mask) != 0;
        if (!high) {
            lineLevels &= ~mask;
            return;
        }
        lineLevels |= mask;
        long entry = redirection[pin];
        if ((entry & TRIGGER_LEVEL) == 0 && wasHigh) {
            return; // an edge pin fires on the rising edge only
        }
        service(pin);
    }

    /** Sends pin's message if the entry allows it now; a level pin then waits for the EOI. */
    private void service(int pin) {
        long entry = redirection[pin];
        boolean level = (entry & TRIGGER_LEVEL) != 0;
        if ((entry & MASKED) != 0 || (level && (entry & REMOTE_IRR) != 0)) {
            return;
        }
        int mode = (int) (entry >>> DELIVERY_MODE_SHIFT) & 7;
        if (mode == LocalApic.DM_EXTINT) {
            return; // the ExtINT path is open while the entry is; the APIC asks the 8259
        }
        if (level) {
            redirection[pin] = entry | REMOTE_IRR;
        }
        bus.sendFromIoApic((entry & DEST_LOGICAL) != 0, (int) (entry >>> DESTINATION_SHIFT) & 0xff, mode,
                (int) (entry & VECTOR), level);
    }

    /** A local APIC's EOI of a level-triggered {@code vector} (the EOI broadcast, SDM 10.8.5). */
    public synchronized void endOfInterrupt(int vector) {
        for (int pin = 0; pin < PINS; pin++) {
            long entry = redirection[pin];
            if ((entry & VECTOR) != vector || (entry & REMOTE_IRR) == 0) {
                continue;
            }
            redirection[pin] = entry & ~REMOTE_IRR;
            if ((entry & TRIGGER_LEVEL) != 0 && (lineLevels & (1 << pin)) != 0) {
                service(pin); // still asserted: the device wants service again
            }
        }
    }

    @Override
    public synchronized long read(long offset, int size) {
        long value = switch ((int) offset) {
            case IOREGSEL -> index;
            case IOWIN -> readRegister(index) & 0xffffffffL;
            default -> 0;
        };
        return size >= 4 ? value : value & ((1L << (8 * size)) - 1);
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        switch ((int) offset) {
            case IOREGSEL -> index = (int) value & 0xff;
            case IOWIN -> writeRegister(index, size >= 4 ? (int) value : (int) (value & ((1L << (8 * size)) - 1)));
            default -> {
                // Other offsets of the page are reserved: writes are dropped.
            }
        }
    }

    private int readRegister(int reg) {
        switch (reg) {
            case REG_ID:
            case REG_ARBITRATION:
                return id; // the arbitration ID follows the APIC ID (82093AA 3.2.3)
            case REG_VERSION:
                return VERSION;
            default:
                int slot = reg - REG_REDIRECTION_BASE;
                if (slot < 0 || slot >= 2 * PINS) {
                    return 0;
                }
                long entry = redirection[slot >> 1];
                return (slot & 1) == 0 ? (int) entry : (int) (entry >>> 32);
        }
    }

    private void writeRegister(int reg, int value) {
        if (reg == REG_ID) {
            id = value & ID_MASK;
            return;
        }
        int slot = reg - REG_REDIRECTION_BASE;
        if (slot < 0 || slot >= 2 * PINS) {
            if (DebugLog.guestErrors) {
                DebugLog.Topic.GUEST_ERRORS.first("ioapic " + reg, String.format(
                        "I/O APIC: write of 0x%x to read-only or unimplemented register 0x%x dropped", value, reg));
            }
            return; // version, arbitration and unimplemented registers are read-only
        }
        int pin = slot >> 1;
        long old = redirection[pin];
        long written = (slot & 1) == 0
                ? (old & 0xffff_ffff_0000_0000L) | (value & 0xffffffffL)
                : (old & 0xffffffffL) | ((long) value << 32);
        long entry = (written & WRITABLE) | (old & REMOTE_IRR);
        if ((entry & TRIGGER_LEVEL) == 0) {
            entry &= ~REMOTE_IRR; // Remote IRR is undefined for edge pins; KVM clears it
        }
        redirection[pin] = entry;
        if (pin == EXTINT_PIN) {
            updateExtIntRoute();
        }
        if ((entry & TRIGGER_LEVEL) != 0 && (lineLevels & (1 << pin)) != 0) {
            service(pin); // an unmasked level pin that is still asserted asks again (KVM does too)
        }
    }

    private void updateExtIntRoute() {
        long entry = redirection[EXTINT_PIN];
        boolean open = (entry & MASKED) == 0
                && ((entry >>> DELIVERY_MODE_SHIFT) & 7) == LocalApic.DM_EXTINT;
        bus.routeExtInt(open, (entry & DEST_LOGICAL) != 0, (int) (entry >>> DESTINATION_SHIFT) & 0xff);
    }

    public synchronized State saveState() {
        return new State(index, id, redirection, lineLevels);
    }

    /** Loads {@code s}; a level pin that is asserted and idle is serviced again. */
    public synchronized void restoreState(State s) {
        if (s.redirection().length != PINS) {
            throw new IllegalArgumentException("I/O APIC state has " + s.redirection().length + " entries, not " + PINS);
        }
        index = s.index() & 0xff;
        id = s.id() & ID_MASK;
        long[] entries = s.redirection();
        for (int pin = 0; pin < PINS; pin++) {
            redirection[pin] = entries[pin] & (WRITABLE | REMOTE_IRR);
        }
        lineLevels = s.lineLevels() & ((1 << PINS) - 1);
        updateExtIntRoute();
        for (int pin = 0; pin < PINS; pin++) {
            if ((redirection[pin] & TRIGGER_LEVEL) != 0 && (lineLevels & (1 << pin)) != 0) {
                service(pin);
            }
        }
    }
}

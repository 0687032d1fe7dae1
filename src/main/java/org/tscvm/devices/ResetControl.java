package org.tscvm.devices;

import org.tscvm.memory.IoDevice;

/**
 * The PIIX reset control register (port 0xCF9 on a PC, one byte inside the PCI configuration
 * address port): writing it with RST_CPU set resets the machine (0x06 and 0x0E are what
 * operating systems write; the FADT's RESET_REG points here). SYS_RST and FULL_RST are kept
 * and read back.
 */
public final class ResetControl implements IoDevice {
    public static final int SYS_RST = 0x02;
    public static final int RST_CPU = 0x04;
    public static final int FULL_RST = 0x08;
    /** What the FADT tells the OS to write: SYS_RST | RST_CPU. */
    public static final int RESET_VALUE = SYS_RST | RST_CPU;

    public record State(int value) {
    }

    private final Runnable reset;
    private int value;

    public ResetControl(Runnable reset) {
        this.reset = reset;
    }

    @Override
    public synchronized int read(int offset, int size) {
        return value;
    }

    @Override
    public void write(int offset, int size, int v) {
        synchronized (this) {
            value = v & (SYS_RST | FULL_RST);
        }
        if ((v & RST_CPU) != 0) {
            reset.run();
        }
    }

    public synchronized State saveState() {
        return new State(value);
    }

    public synchronized void restoreState(State s) {
        value = s.value() & (SYS_RST | FULL_RST);
    }
}

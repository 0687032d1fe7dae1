package org.tscvm.devices;

import org.tscvm.memory.IoDevice;

/**
 * The PC's two cascaded 8259As: ISA IRQs 0-7 on the master, 8-15 on the slave, whose output
 * drives master input 2. The master's INTR output goes to {@code intr} (the BSP's local APIC
 * LINT0, programmed ExtINT); the CPU's interrupt acknowledge comes back through
 * {@link #acknowledge()}. The machine maps {@link #master()} at 0x20 and {@link #slave()} at
 * 0xA0. Thread-safe: devices raise lines from any thread.
 */
public final class PicPair implements ExtIntSource {
    /** The master input the slave's output is wired to. */
    public static final int CASCADE_INPUT = 2;
    /** When the requester vanished between INTR and INTA the PIC answers with input 7 (spurious). */
    private static final int SPURIOUS_INPUT = 7;
    /** ELCR bits that may be set: not IRQ 0-2 on the master, not IRQ 8 and 13 on the slave. */
    private static final int[] ELCR_WRITABLE = {0xf8, 0xde};

    public record State(Pic8259.State master, Pic8259.State slave) {
    }

    private final Pic8259 masterChip = new Pic8259(true);
    private final Pic8259 slaveChip = new Pic8259(false);
    private final IrqLine intr;
    private volatile boolean intrLevel;

    public PicPair(IrqLine intr) {
        this.intr = intr;
    }

    /** The line for ISA IRQ {@code irq} (0-15). */
    public IrqLine irq(int irq) {
        if (irq < 0 || irq > 15) {
            throw new IllegalArgumentException("ISA IRQ " + irq + " is not 0..15");
        }
        return high -> setIrq(irq, high);
    }

    public synchronized void setIrq(int irq, boolean high) {
        if (irq < 8) {
            masterChip.setInput(irq, high);
        } else {
            slaveChip.setInput(irq - 8, high);
        }
        update();
    }

    public IoDevice master() {
        return chipPorts(masterChip);
    }

    public IoDevice slave() {
        return chipPorts(slaveChip);
    }

    /**
     * The edge/level control registers (ELCR, ports 0x4D0/0x4D1 on a PC): offset 0 the master's
     * inputs, 1 the slave's; a set bit makes the input level-triggered. IRQ 0, 1, 2, 8 and 13 are
     * always edge-triggered (PIIX), so their bits read 0.
     */
    public IoDevice elcr() {
        return new IoDevice() {
            @Override
            public int read(int offset, int size) {
                synchronized (PicPair.this) {
                    int value = 0;
                    for (int i = 0; i < size && offset + i < 2; i++) {
                        value |= chip(offset + i).elcr << (8 * i);
                    }
                    return value;
                }
            }

            @Override
            public void write(int offset, int size, int value) {
                synchronized (PicPair.this) {
                    for (int i = 0; i < size && offset + i < 2; i++) {
                        int chipIndex = offset + i;
                        chip(chipIndex).setElcr((value >>> (8 * i)) & ELCR_WRITABLE[chipIndex]);
                    }
                    update();
                }
            }
        };
    }

    private Pic8259 chip(int index) {
        return index == 0 ? masterChip : slaveChip;
    }

    private IoDevice chipPorts(Pic8259 chip) {
        return new IoDevice() {
            @Override
            public int read(int offset, int size) {
                synchronized (PicPair.this) {
                    int v = chip.read(offset & 1);
                    update();
                    return v;
                }
            }

            @Override
            public void write(int offset, int size, int value) {
                synchronized (PicPair.this) {
                    chip.write(offset & 1, value);
                    update();
                }
            }
        };
    }

    /** True while the master's INTR output is asserted; lock-free for the vCPU's check. */
    @Override
    public boolean interruptRequested() {
        return intrLevel;
    }

    /** The vector the next INTA would return, or -1 if nothing is requested. */
    @Override
    public synchronized int pendingVector() {
        int input = masterChip.pendingInput();
        if (input < 0) {
            return -1;
        }
        if (input == CASCADE_INPUT) {
            int slaveInput = slaveChip.pendingInput();
            return slaveChip.vector(slaveInput < 0 ? SPURIOUS_INPUT : slaveInput);
        }
        return masterChip.vector(input);
    }

    /** The CPU's interrupt acknowledge cycle: returns the vector and marks it in service. */
    @Override
    public synchronized int acknowledge() {
        int input = masterChip.pendingInput();
        int vector;
        if (input < 0) {
            vector = masterChip.vector(SPURIOUS_INPUT);
        } else if (input == CASCADE_INPUT) {
            masterChip.acknowledge(CASCADE_INPUT);
            int slaveInput = slaveChip.pendingInput();
            vector = slaveInput < 0 ? slaveChip.vector(SPURIOUS_INPUT) : slaveChip.acknowledge(slaveInput);
        } else {
            vector = masterChip.acknowledge(input);
        }
        update();
        return vector;
    }

    private void update() {
        masterChip.setInput(CASCADE_INPUT, slaveChip.pendingInput() >= 0);
        boolean level = masterChip.pendingInput() >= 0;
        if (level != intrLevel) {
            intrLevel = level;
            intr.setLevel(level);
        }
    }

    public synchronized State saveState() {
        return new State(masterChip.saveState(), slaveChip.saveState());
    }

    /** Loads both chips and re-evaluates INTR, so a pending interrupt is requested again. */
    public synchronized void restoreState(State s) {
        masterChip.restoreState(s.master());
        slaveChip.restoreState(s.slave());
        intrLevel = false;
        update();
    }
}

package org.tscvm.devices;

/**
 * One 8259A programmable interrupt controller: ICW1-ICW4 initialisation, OCW1 (mask), OCW2
 * (EOI, rotation), OCW3 (IRR/ISR read, poll, special mask), fixed or rotating priority,
 * automatic EOI. Offsets 0 and 1. Edge-triggered inputs latch the rising edge; level-triggered
 * ones (ELCR) follow the line. Two of these make the PC's pair ({@link PicPair}); this class
 * is not thread-safe on its own, the pair synchronises.
 */
public final class Pic8259 {
    public static final int COMMAND = 0;
    public static final int DATA = 1;

    /** ICW1 is recognised by bit 4 on the command port. */
    private static final int ICW1 = 0x10;
    private static final int ICW1_NEED_ICW4 = 0x01;
    private static final int ICW1_SINGLE = 0x02;
    /** OCW3 has bit 3 set (and bit 4 clear); OCW2 has both clear. */
    private static final int OCW3 = 0x08;
    private static final int OCW3_READ_REGISTER = 0x02;
    private static final int OCW3_READ_ISR = 0x01;
    private static final int OCW3_POLL = 0x04;
    private static final int OCW3_SET_SPECIAL_MASK = 0x20;
    private static final int OCW3_SPECIAL_MASK_BIT = 0x40;
    private static final int ICW4_AUTO_EOI = 0x02;
    private static final int ICW4_SPECIAL_FULLY_NESTED = 0x10;

    // OCW2 commands (bits 7:5).
    private static final int OCW2_ROTATE_AUTO_EOI_CLEAR = 0;
    private static final int OCW2_NONSPECIFIC_EOI = 1;
    private static final int OCW2_SPECIFIC_EOI = 3;
    private static final int OCW2_ROTATE_AUTO_EOI_SET = 4;
    private static final int OCW2_ROTATE_NONSPECIFIC_EOI = 5;
    private static final int OCW2_SET_PRIORITY = 6;
    private static final int OCW2_ROTATE_SPECIFIC_EOI = 7;

    /** What a snapshot of one chip holds; {@code initStep} is the next ICW expected (0 = none). */
    public record State(int irr, int isr, int imr, int lineLevels, int elcr, int vectorBase,
                        int priorityBase, int initStep, boolean needIcw4, boolean single,
                        boolean autoEoi, boolean rotateOnAutoEoi, boolean readIsr, boolean poll,
                        boolean specialMask, boolean specialFullyNested) {
        public static State reset() {
            return new State(0, 0, 0, 0, 0, 0, 0, 0, false, false, false, false, false, false,
                    false, false);
        }
    }

    int irr;
    int isr;
    int imr;
    private int lineLevels;
    int elcr;
    private int vectorBase;
    /** The input with the highest priority is (priorityBase) & 7; 0 after init (fixed priority). */
    private int priorityBase;
    private int initStep;
    private boolean needIcw4;
    private boolean single;
    private boolean autoEoi;
    private boolean rotateOnAutoEoi;
    private boolean readIsr;
    private boolean poll;
    private boolean specialMask;
    private boolean specialFullyNested;
    private final boolean master;

    Pic8259(boolean master) {
        this.master = master;
    }

    void setInput(int line, boolean high) {
        int mask = 1 << line;
        if ((elcr & mask) != 0) {
            if (high) {
                irr |= mask;
            } else {
                irr &= ~mask;
            }
        } else if (high && (lineLevels & mask) == 0) {
            irr |= mask;
        }
        if (high) {
            lineLevels |= mask;
        } else {
            lineLevels &= ~mask;
        }
    }

    /** A level-triggered input's request follows its line from now on. */
    void setElcr(int value) {
        elcr = value & 0xff;
        irr = (irr & ~elcr) | (lineLevels & elcr);
    }

    /** Highest-priority bit of {@code mask} in rotation order, or 8 when {@code mask} is 0. */
    private int priorityOf(int mask) {
        if (mask == 0) {
            return 8;
        }
        int p = 0;
        while ((mask & (1 << ((p + priorityBase) & 7))) == 0) {
            p++;
        }
        return p;
    }

    /** The input that would interrupt now, or -1. */
    int pendingInput() {
        int requested = irr & ~imr;
        int p = priorityOf(requested);
        if (p == 8) {
            return -1;
        }
        int inService = isr;
        if (specialMask) {
            inService &= ~imr;
        }
        // In special fully nested mode the master lets the slave interrupt again while the
        // slave's own input is in service, so nested slave priorities work.
        if (master && specialFullyNested) {
            inService &= ~(1 << 2);
        }
        int current = priorityOf(inService);
        return p < current ? (p + priorityBase) & 7 : -1;
    }

    /** Marks {@code input} as being serviced and returns its vector. */
    int acknowledge(int input) {
        int mask = 1 << input;
        if ((elcr & mask) == 0) {
            irr &= ~mask;
        }
        if (autoEoi) {
            if (rotateOnAutoEoi) {
                priorityBase = (input + 1) & 7;
            }
        } else {
            isr |= mask;
        }
        return vectorBase + input;
    }

    int vector(int input) {
        return vectorBase + input;
    }

    int read(int offset) {
        if (offset == DATA) {
            return imr;
        }
        if (poll) {
            poll = false;
            int input = pendingInput();
            if (input < 0) {
                return 0;
            }
            acknowledge(input);
            return 0x80 | input;
        }
        return readIsr ? isr : irr;
    }

    void write(int offset, int value) {
        int v = value & 0xff;
        if (offset == COMMAND) {
            if ((v & ICW1) != 0) {
                startInit(v);
            } else if ((v & OCW3) != 0) {
                if ((v & OCW3_READ_REGISTER) != 0) {
                    readIsr = (v & OCW3_READ_ISR) != 0;
                }
                poll = (v & OCW3_POLL) != 0;
                if ((v & OCW3_SET_SPECIAL_MASK) != 0) {
                    specialMask = (v & OCW3_SPECIAL_MASK_BIT) != 0;
                }
            } else {
                ocw2(v >>> 5, v & 7);
            }
            return;
        }
        switch (initStep) {
            case 2:
                vectorBase = v & 0xf8;
                initStep = single ? (needIcw4 ? 4 : 0) : 3;
                break;
            case 3:
                // ICW3: cascade wiring. The PC's wiring is fixed (slave on master input 2).
                initStep = needIcw4 ? 4 : 0;
                break;
            case 4:
                autoEoi = (v & ICW4_AUTO_EOI) != 0;
                specialFullyNested = (v & ICW4_SPECIAL_FULLY_NESTED) != 0;
                initStep = 0;
                break;
            default:
                imr = v;
                break;
        }
    }

    private void startInit(int icw1) {
        // ICW1 clears the mask, in-service and edge latches and restores fixed priority (8259A datasheet).
        imr = 0;
        isr = 0;
        irr &= elcr;
        lineLevels = 0;
        priorityBase = 0;
        readIsr = false;
        poll = false;
        specialMask = false;
        autoEoi = false;
        rotateOnAutoEoi = false;
        specialFullyNested = false;
        needIcw4 = (icw1 & ICW1_NEED_ICW4) != 0;
        single = (icw1 & ICW1_SINGLE) != 0;
        initStep = 2;
    }

    private void ocw2(int command, int level) {
        switch (command) {
            case OCW2_ROTATE_AUTO_EOI_CLEAR -> rotateOnAutoEoi = false;
            case OCW2_ROTATE_AUTO_EOI_SET -> rotateOnAutoEoi = true;
            case OCW2_NONSPECIFIC_EOI, OCW2_ROTATE_NONSPECIFIC_EOI -> {
                int p = priorityOf(isr);
                if (p != 8) {
                    int input = (p + priorityBase) & 7;
                    isr &= ~(1 << input);
                    if (command == OCW2_ROTATE_NONSPECIFIC_EOI) {
                        priorityBase = (input + 1) & 7;
                    }
                }
            }
            case OCW2_SPECIFIC_EOI -> isr &= ~(1 << level);
            case OCW2_ROTATE_SPECIFIC_EOI -> {
                isr &= ~(1 << level);
                priorityBase = (level + 1) & 7;
            }
            case OCW2_SET_PRIORITY -> priorityBase = (level + 1) & 7;
            default -> {
                // Command 2 is "no operation" in the datasheet.
            }
        }
    }

    State saveState() {
        return new State(irr, isr, imr, lineLevels, elcr, vectorBase, priorityBase, initStep,
                needIcw4, single, autoEoi, rotateOnAutoEoi, readIsr, poll, specialMask,
                specialFullyNested);
    }

    void restoreState(State s) {
        irr = s.irr() & 0xff;
        isr = s.isr() & 0xff;
        imr = s.imr() & 0xff;
        lineLevels = s.lineLevels() & 0xff;
        elcr = s.elcr() & 0xff;
        vectorBase = s.vectorBase() & 0xf8;
        priorityBase = s.priorityBase() & 7;
        initStep = s.initStep() >= 2 && s.initStep() <= 4 ? s.initStep() : 0;
        needIcw4 = s.needIcw4();
        single = s.single();
        autoEoi = s.autoEoi();
        rotateOnAutoEoi = s.rotateOnAutoEoi();
        readIsr = s.readIsr();
        poll = s.poll();
        specialMask = s.specialMask();
        specialFullyNested = s.specialFullyNested();
    }
}

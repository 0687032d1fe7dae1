package org.tscvm.devices;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;
import org.tscvm.log.DebugLog;
import org.tscvm.memory.IoDevice;

/**
 * A 16550A UART as a register model (after rust-vmm vm-superio's serial). Transmission is
 * instantaneous: every THR byte goes straight to the sink, so THRE and TEMT always read as
 * ready. Received bytes are pushed from outside ({@link #receive}) into a FIFO and raise the
 * receive-data interrupt. Offsets 0-7; the machine maps the UART at 0x3F8 (COM1, IRQ 4).
 */
public final class Uart16550 implements IoDevice {
    // Register offsets. Offsets 0 and 1 change meaning with LCR.DLAB.
    public static final int RBR_THR = 0;
    public static final int IER = 1;
    public static final int IIR_FCR = 2;
    public static final int LCR = 3;
    public static final int MCR = 4;
    public static final int LSR = 5;
    public static final int MSR = 6;
    public static final int SCR = 7;
    /** With DLAB set, offsets 0 and 1 are the divisor latch (low, high). */
    public static final int DLL = 0;
    public static final int DLM = 1;

    public static final int IER_RX_DATA = 0x01;
    public static final int IER_THR_EMPTY = 0x02;
    /** Only the low four IER bits exist on a 16550A. */
    private static final int IER_MASK = 0x0f;

    public static final int IIR_NO_INTERRUPT = 0x01;
    public static final int IIR_THR_EMPTY = 0x02;
    public static final int IIR_RX_DATA = 0x04;
    /** IIR bits 7:6 read 11 while the FIFOs are enabled: how software tells a 16550A from a 16450. */
    public static final int IIR_FIFO_ENABLED = 0xc0;

    public static final int FCR_ENABLE_FIFO = 0x01;
    public static final int FCR_CLEAR_RX = 0x02;

    public static final int LCR_DLAB = 0x80;

    public static final int MCR_DTR = 0x01;
    public static final int MCR_RTS = 0x02;
    public static final int MCR_OUT1 = 0x04;
    public static final int MCR_OUT2 = 0x08;
    public static final int MCR_LOOP = 0x10;
    private static final int MCR_MASK = 0x1f;

    public static final int LSR_DATA_READY = 0x01;
    public static final int LSR_OVERRUN = 0x02;
    /** Always set: a THR byte is handed to the sink at once, so the holding register is always empty. */
    public static final int LSR_THRE = 0x20;
    /** Always set for the same reason: nothing ever waits in a transmit shift register. */
    public static final int LSR_TEMT = 0x40;

    public static final int MSR_CTS = 0x10;
    public static final int MSR_DSR = 0x20;
    public static final int MSR_RI = 0x40;
    public static final int MSR_DCD = 0x80;
    /** A connected, ready peer: CTS, DSR and DCD asserted (as vm-superio reports). */
    private static final int MSR_DEFAULT = MSR_CTS | MSR_DSR | MSR_DCD;

    /** Divisor 12 = 9600 baud on the 1.8432 MHz clock: the 16550's reset value in QEMU and vm-superio. */
    private static final int DEFAULT_DIVISOR = 12;
    /** LCR after reset: 8 data bits, no parity, 1 stop bit. */
    private static final int LCR_DEFAULT = 0x03;
    /** Input FIFO depth; a full FIFO refuses further bytes (the pusher retries later). */
    public static final int RX_FIFO_SIZE = 64;

    /** The registers a snapshot needs; {@code rx} is the FIFO contents, oldest first. */
    public record State(int divisor, int ier, int lcr, int mcr, int lsr, int msr, int scr,
                        boolean fifoEnabled, boolean thrEmptyPending, byte[] rx) {
        public State {
            rx = rx.clone();
        }

        @Override
        public byte[] rx() {
            return rx.clone();
        }

        public static State reset() {
            return new State(DEFAULT_DIVISOR, 0, LCR_DEFAULT, MCR_OUT2, LSR_THRE | LSR_TEMT,
                    MSR_DEFAULT, 0, false, false, new byte[0]);
        }
    }

    private final OutputStream sink;
    private final IrqLine irq;

    private int divisor;
    private int ier;
    private int lcr;
    private int mcr;
    private int lsr;
    private int msr;
    private int scr;
    private boolean fifoEnabled;
    /** The THR-empty interrupt condition; reading IIR while it is reported clears it. */
    private boolean thrEmptyPending;
    private final byte[] rx = new byte[RX_FIFO_SIZE];
    private int rxHead;
    private int rxCount;
    private long sinkErrors;
    private boolean irqLevel;

    public Uart16550(OutputStream sink, IrqLine irq) {
        this.sink = sink;
        this.irq = irq;
        restoreState(State.reset());
    }

    @Override
    public synchronized int read(int offset, int size) {
        switch (offset) {
            case RBR_THR:
                if ((lcr & LCR_DLAB) != 0) {
                    return divisor & 0xff;
                }
                return readRbr();
            case IER:
                return (lcr & LCR_DLAB) != 0 ? (divisor >>> 8) & 0xff : ier;
            case IIR_FCR: {
                int iir = interruptIdentification();
                if (iir == IIR_THR_EMPTY) {
                    thrEmptyPending = false;
                    updateIrq();
                }
                return iir | (fifoEnabled ? IIR_FIFO_ENABLED : 0);
            }
            case LCR:
                return lcr;
            case MCR:
                return mcr;
            case LSR: {
                int value = lsr;
                lsr &= ~LSR_OVERRUN;
                return value;
            }
            case MSR:
                return modemStatus();
            case SCR:
                return scr;
            default:
                return 0;
        }
    }

    @Override
    public synchronized void write(int offset, int size, int value) {
        int v = value & 0xff;
        switch (offset) {
            case RBR_THR:
                if ((lcr & LCR_DLAB) != 0) {
                    divisor = (divisor & 0xff00) | v;
                } else {
                    transmit(v);
                }
                break;
            case IER:
                if ((lcr & LCR_DLAB) != 0) {
                    divisor = (divisor & 0x00ff) | (v << 8);
                } else {
                    boolean thrIrqEnabled = (ier & IER_THR_EMPTY) == 0 && (v & IER_THR_EMPTY) != 0;
                    ier = v & IER_MASK;
                    // Enabling the THRE interrupt while THR is empty (always, here) raises it at once.
                    if (thrIrqEnabled) {
                        thrEmptyPending = true;
                    }
                    updateIrq();
                }
                break;
            case IIR_FCR:
                fifoEnabled = (v & FCR_ENABLE_FIFO) != 0;
                if ((v & FCR_CLEAR_RX) != 0 || !fifoEnabled) {
                    clearRx();
                }
                updateIrq();
                break;
            case LCR:
                lcr = v;
                break;
            case MCR:
                mcr = v & MCR_MASK;
                break;
            case SCR:
                scr = v;
                break;
            default:
                // LSR and MSR are read-only; the write is dropped as on hardware.
                if (DebugLog.guestErrors) {
                    DebugLog.Topic.GUEST_ERRORS.first("uart " + offset, String.format(
                            "16550: write of 0x%x to read-only register %d (LSR/MSR) dropped", v, offset));
                }
                break;
        }
    }

    /**
     * Pushes input bytes (from stdin, a test) into the receive FIFO. Returns how many were
     * taken; a full FIFO takes none, and the caller offers the rest later.
     */
    public synchronized int receive(byte[] data, int offset, int length) {
        if ((mcr & MCR_LOOP) != 0) {
            return 0;
        }
        int taken = 0;
        while (taken < length && rxCount < RX_FIFO_SIZE) {
            pushRx(data[offset + taken]);
            taken++;
        }
        updateIrq();
        return taken;
    }

    /** Bytes the sink refused (an IOException); the guest never sees these failures. */
    public synchronized long sinkErrors() {
        return sinkErrors;
    }

    public synchronized State saveState() {
        byte[] bytes = new byte[rxCount];
        for (int i = 0; i < rxCount; i++) {
            bytes[i] = rx[(rxHead + i) % RX_FIFO_SIZE];
        }
        return new State(divisor, ier, lcr, mcr, lsr, msr, scr, fifoEnabled, thrEmptyPending, bytes);
    }

    /** Loads {@code s} and raises the interrupt line again if the state has one pending. */
    public synchronized void restoreState(State s) {
        byte[] bytes = s.rx();
        if (bytes.length > RX_FIFO_SIZE) {
            throw new IllegalArgumentException("UART state holds " + bytes.length
                    + " received bytes; the FIFO has " + RX_FIFO_SIZE);
        }
        divisor = s.divisor() & 0xffff;
        ier = s.ier() & IER_MASK;
        lcr = s.lcr() & 0xff;
        mcr = s.mcr() & MCR_MASK;
        lsr = (s.lsr() & 0xff) | LSR_THRE | LSR_TEMT;
        msr = s.msr() & 0xff;
        scr = s.scr() & 0xff;
        fifoEnabled = s.fifoEnabled();
        thrEmptyPending = s.thrEmptyPending();
        clearRx();
        for (byte b : bytes) {
            pushRx(b);
        }
        irqLevel = false;
        updateIrq();
    }

    private int readRbr() {
        if (rxCount == 0) {
            return 0;
        }
        int b = rx[rxHead] & 0xff;
        rxHead = (rxHead + 1) % RX_FIFO_SIZE;
        rxCount--;
        if (rxCount == 0) {
            lsr &= ~LSR_DATA_READY;
        }
        updateIrq();
        return b;
    }

    private void transmit(int b) {
        if ((mcr & MCR_LOOP) != 0) {
            if (rxCount < RX_FIFO_SIZE) {
                pushRx((byte) b);
            } else {
                lsr |= LSR_OVERRUN;
            }
        } else {
            try {
                sink.write(b);
            } catch (IOException e) {
                sinkErrors++;
            }
        }
        // The byte left at once, so THR is empty again: the THRE interrupt re-arms.
        thrEmptyPending = true;
        updateIrq();
    }

    private void pushRx(byte b) {
        rx[(rxHead + rxCount) % RX_FIFO_SIZE] = b;
        rxCount++;
        lsr |= LSR_DATA_READY;
    }

    private void clearRx() {
        Arrays.fill(rx, (byte) 0);
        rxHead = 0;
        rxCount = 0;
        lsr &= ~LSR_DATA_READY;
    }

    private int modemStatus() {
        if ((mcr & MCR_LOOP) == 0) {
            return msr;
        }
        // Loopback wires the modem-control outputs back to the status inputs.
        int v = 0;
        if ((mcr & MCR_DTR) != 0) {
            v |= MSR_DSR;
        }
        if ((mcr & MCR_RTS) != 0) {
            v |= MSR_CTS;
        }
        if ((mcr & MCR_OUT1) != 0) {
            v |= MSR_RI;
        }
        if ((mcr & MCR_OUT2) != 0) {
            v |= MSR_DCD;
        }
        return v;
    }

    /** IIR bits 3:0 by priority: received data above THR empty. */
    private int interruptIdentification() {
        if ((ier & IER_RX_DATA) != 0 && (lsr & LSR_DATA_READY) != 0) {
            return IIR_RX_DATA;
        }
        if ((ier & IER_THR_EMPTY) != 0 && thrEmptyPending) {
            return IIR_THR_EMPTY;
        }
        return IIR_NO_INTERRUPT;
    }

    private void updateIrq() {
        boolean level = interruptIdentification() != IIR_NO_INTERRUPT;
        if (level != irqLevel) {
            irqLevel = level;
            irq.setLevel(level);
        }
    }
}

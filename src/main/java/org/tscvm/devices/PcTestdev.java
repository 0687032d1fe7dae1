package org.tscvm.devices;

import java.util.function.IntFunction;
import org.tscvm.memory.IoDevice;
import org.tscvm.memory.MmioDevice;

/**
 * QEMU's {@code pc-testdev}, the test device kvm-unit-tests expects (behaviour after QEMU's
 * hw/misc/pc-testdev.c, rewritten). Three windows, which the machine maps:
 * <ul>
 * <li>{@link #ports()} at 0xE0, 12 ports: a 32-bit scratch register at offsets 0-3 (any width,
 *     by byte lane), a "flush page" register at 4-7 (accepted; tscvm holds no host mapping to
 *     drop), and the same scratch register again at 8-11;</li>
 * <li>{@link #irqPorts()} at 0x2000, 24 ports: writing port 0x2000+n drives ISA IRQ n to
 *     (value != 0);</li>
 * <li>{@link #iomem()} at 0xFF000000, 64 KiB of scratch MMIO.</li>
 * </ul>
 */
public final class PcTestdev {
    public static final int PORTS_LENGTH = 12;
    public static final int IRQ_LINES = 24;
    public static final int IOMEM_SIZE = 0x10000;
    private static final int FLUSH_OFFSET = 4;
    private static final int BYTE_ALIAS_OFFSET = 8;

    public record State(int scratch, byte[] iomem) {
        public State {
            iomem = iomem.clone();
        }

        @Override
        public byte[] iomem() {
            return iomem.clone();
        }
    }

    private final IntFunction<IrqLine> isaIrq;
    private int scratch;
    private final byte[] iomem = new byte[IOMEM_SIZE];

    /** {@code isaIrq} maps an ISA IRQ number (0-23) to the line it drives. */
    public PcTestdev(IntFunction<IrqLine> isaIrq) {
        this.isaIrq = isaIrq;
    }

    public IoDevice ports() {
        return new IoDevice() {
            @Override
            public int read(int offset, int size) {
                if (offset >= FLUSH_OFFSET && offset < BYTE_ALIAS_OFFSET) {
                    return 0;
                }
                return readScratch(offset & 3, size);
            }

            @Override
            public void write(int offset, int size, int value) {
                if (offset >= FLUSH_OFFSET && offset < BYTE_ALIAS_OFFSET) {
                    return;
                }
                writeScratch(offset & 3, size, value);
            }
        };
    }

    public IoDevice irqPorts() {
        return new IoDevice() {
            @Override
            public int read(int offset, int size) {
                return 0;
            }

            @Override
            public void write(int offset, int size, int value) {
                if (offset >= 0 && offset < IRQ_LINES) {
                    isaIrq.apply(offset).setLevel((value & 0xff) != 0);
                }
            }
        };
    }

    public MmioDevice iomem() {
        return new MmioDevice() {
            @Override
            public long read(long offset, int size) {
                synchronized (PcTestdev.this) {
                    long v = 0;
                    for (int i = 0; i < size && offset + i < IOMEM_SIZE; i++) {
                        v |= (iomem[(int) offset + i] & 0xffL) << (8 * i);
                    }
                    return v;
                }
            }

            @Override
            public void write(long offset, int size, long value) {
                synchronized (PcTestdev.this) {
                    for (int i = 0; i < size && offset + i < IOMEM_SIZE; i++) {
                        iomem[(int) offset + i] = (byte) (value >>> (8 * i));
                    }
                }
            }
        };
    }

    private synchronized int readScratch(int lane, int size) {
        int shift = lane * 8;
        long mask = size >= 4 ? 0xffffffffL : (1L << (size * 8)) - 1;
        return (int) (((scratch & 0xffffffffL) >>> shift) & mask);
    }

    private synchronized void writeScratch(int lane, int size, int value) {
        int shift = lane * 8;
        long mask = (size >= 4 ? 0xffffffffL : (1L << (size * 8)) - 1) << shift;
        long v = ((value & 0xffffffffL) << shift) & mask;
        scratch = (int) ((scratch & ~mask) | v);
    }

    public synchronized State saveState() {
        return new State(scratch, iomem);
    }

    public synchronized void restoreState(State s) {
        scratch = s.scratch();
        byte[] m = s.iomem();
        System.arraycopy(m, 0, iomem, 0, Math.min(m.length, IOMEM_SIZE));
    }
}

package org.tscvm.memory;

import java.util.concurrent.atomic.AtomicLong;
import org.tscvm.TscvmException;

/**
 * Physical addresses outside RAM. Few regions exist (the APIC page is per vCPU and handled by
 * the vCPU itself), so a short array scanned linearly is faster than a map. Unassigned
 * addresses read all ones, drop writes, and are counted.
 */
public final class MmioBus {
    private long[] bases = new long[0];
    private long[] lengths = new long[0];
    private MmioDevice[] devices = new MmioDevice[0];
    private final AtomicLong unassignedAccesses = new AtomicLong();

    /** Maps {@code device} at [base, base+length). Overlaps are a host error. */
    public synchronized void map(long base, long length, MmioDevice device) {
        for (int i = 0; i < bases.length; i++) {
            if (base < bases[i] + lengths[i] && bases[i] < base + length) {
                throw new TscvmException(String.format("MMIO range 0x%x+0x%x overlaps 0x%x", base, length, bases[i]));
            }
        }
        int n = bases.length;
        long[] nb = java.util.Arrays.copyOf(bases, n + 1);
        long[] nl = java.util.Arrays.copyOf(lengths, n + 1);
        MmioDevice[] nd = java.util.Arrays.copyOf(devices, n + 1);
        nb[n] = base;
        nl[n] = length;
        nd[n] = device;
        bases = nb;
        lengths = nl;
        devices = nd;
    }

    public long read(long paddr, int size) {
        long[] b = bases;
        for (int i = 0; i < b.length; i++) {
            long off = paddr - b[i];
            if (off >= 0 && off < lengths[i]) {
                return devices[i].read(off, size);
            }
        }
        unassignedAccesses.incrementAndGet();
        return size == 8 ? -1L : (1L << (size * 8)) - 1;
    }

    public void write(long paddr, int size, long value) {
        long[] b = bases;
        for (int i = 0; i < b.length; i++) {
            long off = paddr - b[i];
            if (off >= 0 && off < lengths[i]) {
                devices[i].write(off, size, value);
                return;
            }
        }
        unassignedAccesses.incrementAndGet();
    }

    /** Accesses to addresses where neither RAM nor a device is. */
    public long unassignedAccesses() {
        return unassignedAccesses.get();
    }
}

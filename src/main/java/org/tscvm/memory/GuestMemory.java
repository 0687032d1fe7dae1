package org.tscvm.memory;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import org.tscvm.TscvmException;

/**
 * Guest physical RAM: one byte array from physical address 0. Little-endian multi-byte
 * access goes through VarHandles, which also give the atomic forms LOCKed instructions need
 * (aligned only; the CPU falls back to a lock for split atomics).
 *
 * <p>The CPU reaches {@link #array()} directly on its hot path; host-side writes (loaders,
 * snapshot restore) use {@link #load} so that cached decoded code is invalidated.
 */
public final class GuestMemory {
    public static final int PAGE_SHIFT = 12;
    public static final int PAGE_SIZE = 1 << PAGE_SHIFT;
    /** A Java array holds at most 2^31-1 bytes; RAM must also stay below the 3 GiB PCI hole. */
    public static final long MAX_BYTES = 2048L * 1024 * 1024 - PAGE_SIZE;
    public static final long MIN_BYTES = 2L * 1024 * 1024;
    /** The sizes a guest may have, for error messages: one Java array holds the RAM. */
    public static final String SIZE_RANGE = "2 MiB to 2 GiB less 4 KiB (-m 2097148K)";

    public static final VarHandle I16 = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    public static final VarHandle I32 = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    public static final VarHandle I64 = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final byte[] ram;
    /**
     * One mark per 4 KiB page: non-zero while some vCPU holds decoded code from the page. Stores
     * check it, so self-modifying and cross-modifying code invalidates the decoded blocks.
     */
    private final byte[] codePageMarks;
    /** Bumped when a marked page is written; a decoded block remembers the value it saw. */
    private final int[] codeGenerations;

    public GuestMemory(long bytes) {
        if (bytes < MIN_BYTES || bytes > MAX_BYTES) {
            throw new TscvmException(String.format(
                    "RAM size %d bytes is out of range: tscvm supports %s", bytes, SIZE_RANGE));
        }
        if ((bytes & (PAGE_SIZE - 1)) != 0) {
            throw new TscvmException("RAM size " + bytes + " is not a multiple of 4 KiB");
        }
        ram = new byte[(int) bytes];
        codePageMarks = new byte[(int) (bytes >>> PAGE_SHIFT)];
        codeGenerations = new int[(int) (bytes >>> PAGE_SHIFT)];
    }

    /** The per-page code marks, for the CPU's store fast path (non-zero: call {@link #invalidateCode}). */
    public byte[] codePageMarks() {
        return codePageMarks;
    }

    /** Marks the RAM page holding {@code paddr} as holding decoded code; returns its generation. */
    public int markCodePage(long paddr) {
        int page = (int) (paddr >>> PAGE_SHIFT);
        codePageMarks[page] = 1;
        return codeGenerations[page];
    }

    /** The generation of the page holding {@code paddr}; decoded code from an older one is stale. */
    public int codeGeneration(long paddr) {
        return codeGenerations[(int) (paddr >>> PAGE_SHIFT)];
    }

    /** A store hit the page holding {@code paddr}: decoded code from it becomes stale. */
    public void invalidateCode(long paddr) {
        int page = (int) (paddr >>> PAGE_SHIFT);
        if (codePageMarks[page] != 0) {
            codePageMarks[page] = 0;
            codeGenerations[page]++;
        }
    }

    private void invalidateCodeRange(long paddr, long length) {
        for (long p = paddr & -PAGE_SIZE; p < paddr + length; p += PAGE_SIZE) {
            invalidateCode(p);
        }
    }

    public long size() {
        return ram.length;
    }

    /** The RAM itself, for the CPU's fast path. */
    public byte[] array() {
        return ram;
    }

    /** True when [paddr, paddr+length) lies wholly in RAM. */
    public boolean isRam(long paddr, long length) {
        return paddr >= 0 && length >= 0 && paddr <= ram.length - length;
    }

    public int read8(long paddr) {
        return ram[(int) paddr] & 0xff;
    }

    public int read16(long paddr) {
        return (short) I16.get(ram, (int) paddr) & 0xffff;
    }

    public int read32(long paddr) {
        return (int) I32.get(ram, (int) paddr);
    }

    public long read64(long paddr) {
        return (long) I64.get(ram, (int) paddr);
    }

    public void write8(long paddr, int value) {
        ram[(int) paddr] = (byte) value;
        invalidateCodeRange(paddr, 1);
    }

    public void write16(long paddr, int value) {
        I16.set(ram, (int) paddr, (short) value);
        invalidateCodeRange(paddr, 2);
    }

    public void write32(long paddr, int value) {
        I32.set(ram, (int) paddr, value);
        invalidateCodeRange(paddr, 4);
    }

    public void write64(long paddr, long value) {
        I64.set(ram, (int) paddr, value);
        invalidateCodeRange(paddr, 8);
    }

    /** Host-side copy into RAM (loaders, restore). Throws if it would leave RAM. */
    public void load(long paddr, byte[] data, int offset, int length) {
        if (!isRam(paddr, length)) {
            throw new TscvmException(String.format("0x%x bytes at 0x%x do not fit in %d MiB of RAM",
                    length, paddr, ram.length >> 20));
        }
        System.arraycopy(data, offset, ram, (int) paddr, length);
        invalidateCodeRange(paddr, length);
    }

    /** Host-side copy out of RAM (snapshots). Throws if it would leave RAM. */
    public void copyOut(long paddr, byte[] dst, int offset, int length) {
        if (!isRam(paddr, length)) {
            throw new TscvmException(String.format("0x%x bytes at 0x%x do not fit in %d MiB of RAM",
                    length, paddr, ram.length >> 20));
        }
        System.arraycopy(ram, (int) paddr, dst, offset, length);
    }

    /** True when the page holding {@code paddr} holds only zero bytes (snapshots store no zero pages). */
    public boolean isZeroPage(long paddr) {
        int from = (int) (paddr & -PAGE_SIZE);
        return java.util.Arrays.mismatch(ram, from, from + PAGE_SIZE, ZERO_PAGE, 0, PAGE_SIZE) < 0;
    }

    private static final byte[] ZERO_PAGE = new byte[PAGE_SIZE];

    /** Host-side fill (bss zeroing). Throws if it would leave RAM. */
    public void fill(long paddr, long length, byte value) {
        if (!isRam(paddr, length)) {
            throw new TscvmException(String.format("0x%x bytes at 0x%x do not fit in %d MiB of RAM",
                    length, paddr, ram.length >> 20));
        }
        java.util.Arrays.fill(ram, (int) paddr, (int) (paddr + length), value);
        invalidateCodeRange(paddr, length);
    }
}

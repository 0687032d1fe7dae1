package org.tscvm.memory;

/** A device reached through memory-mapped I/O; offsets are relative to its mapped base. */
public interface MmioDevice {
    /** Reads {@code size} (1, 2, 4 or 8) bytes at {@code offset}, zero-extended. */
    long read(long offset, int size);

    /** Writes the low {@code size} (1, 2, 4 or 8) bytes of {@code value} at {@code offset}. */
    void write(long offset, int size, long value);
}

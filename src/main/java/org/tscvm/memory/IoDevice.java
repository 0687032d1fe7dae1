package org.tscvm.memory;

/**
 * A device reached through port I/O. Offsets are relative to the base port the machine
 * maps it at; the device never sees a port number. Called on the vCPU thread that executed
 * the IN/OUT, so implementations shared by several vCPUs synchronise internally.
 */
public interface IoDevice {
    /** Reads {@code size} (1, 2 or 4) bytes at {@code offset}; the result is zero-extended. */
    int read(int offset, int size);

    /** Writes the low {@code size} (1, 2 or 4) bytes of {@code value} at {@code offset}. */
    void write(int offset, int size, int value);
}

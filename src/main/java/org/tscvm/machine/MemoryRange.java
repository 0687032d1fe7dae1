package org.tscvm.machine;

/** A range of guest-physical addresses, [base, base + length). */
public record MemoryRange(long base, long length) {
    public MemoryRange {
        if (base < 0 || length <= 0) {
            throw new IllegalArgumentException(String.format("bad memory range 0x%x+0x%x", base, length));
        }
    }

    public long end() {
        return base + length;
    }
}

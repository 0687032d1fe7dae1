package org.tscvm.cpu;

/**
 * What a debugger asks the CPU to stop for: instruction breakpoints (linear addresses; the CPU
 * stops before executing an instruction that starts there, and guest memory is never changed)
 * and data watchpoints (linear ranges; the CPU stops after the instruction that accessed them).
 * Immutable: the vCPU installs a new one with {@link Cpu#setDebugTraps} between slices.
 *
 * <p>While traps are installed the CPU runs one instruction at a time, interpreted; without
 * them its run loop pays one null check per block.
 */
public final class DebugTraps {
    /** Watchpoint kinds, as a bit set: which accesses stop the CPU. */
    public static final int WATCH_WRITE = 1, WATCH_READ = 2, WATCH_ACCESS = WATCH_WRITE | WATCH_READ;

    private final long[] breakpoints;
    private final long[] watchStart;
    private final long[] watchLength;
    private final int[] watchKind;
    /** While stepping, maskable interrupts wait (QEMU's gdbstub default), so a step stays in the code it steps. */
    final boolean masksInterrupts;

    /**
     * @param breakpoints     linear addresses of instruction breakpoints
     * @param watchStart      linear start of each watched range
     * @param watchLength     its length in bytes (at least 1)
     * @param watchKind       its {@code WATCH_*} kind
     * @param masksInterrupts true while single-stepping: maskable interrupts are not taken
     *                        unless the CPU is halted
     */
    public DebugTraps(long[] breakpoints, long[] watchStart, long[] watchLength, int[] watchKind,
                      boolean masksInterrupts) {
        if (watchStart.length != watchLength.length || watchStart.length != watchKind.length) {
            throw new IllegalArgumentException("watchpoint arrays differ in length");
        }
        this.breakpoints = breakpoints.clone();
        this.watchStart = watchStart.clone();
        this.watchLength = watchLength.clone();
        this.watchKind = watchKind.clone();
        this.masksInterrupts = masksInterrupts;
    }

    boolean breakpointAt(long linear) {
        for (long b : breakpoints) {
            if (b == linear) {
                return true;
            }
        }
        return false;
    }

    boolean watches() {
        return watchStart.length > 0;
    }

    /** Whether a watched range touches the 4 KiB page holding {@code linear} (kept out of the TLB). */
    boolean watchesPage(long linear) {
        long page = linear >>> 12;
        for (int i = 0; i < watchStart.length; i++) {
            if (Long.compareUnsigned(watchStart[i] >>> 12, page) <= 0
                    && Long.compareUnsigned(page, (watchStart[i] + watchLength[i] - 1) >>> 12) <= 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * The index of the first watchpoint of a kind in {@code kinds} that {@code size} bytes at
     * {@code linear} overlap, or -1.
     */
    int watchHit(long linear, int size, int kinds) {
        for (int i = 0; i < watchStart.length; i++) {
            // The ranges overlap when either one starts inside the other.
            boolean overlaps = Long.compareUnsigned(linear - watchStart[i], watchLength[i]) < 0
                    || Long.compareUnsigned(watchStart[i] - linear, size) < 0;
            if ((watchKind[i] & kinds) != 0 && overlaps) {
                return i;
            }
        }
        return -1;
    }

    long watchStart(int i) {
        return watchStart[i];
    }

    int watchKind(int i) {
        return watchKind[i];
    }
}

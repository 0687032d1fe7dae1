package org.tscvm.vm;

import org.tscvm.cpu.CpuFault;

/**
 * Intel architectural performance monitoring, version 2 (SDM Vol. 3B, "Architectural
 * Performance Monitoring" versions 1 and 2; CPUID leaf 0xA): four general-purpose counters IA32_PMC0-3 with their IA32_PERFEVTSEL0-3, the three
 * fixed counters IA32_FIXED_CTR0-2 with IA32_FIXED_CTR_CTRL, and IA32_PERF_GLOBAL_STATUS, CTRL
 * and OVF_CTRL. Full-width writes (IA32_A_PMCx) are not offered: CPUID does not report PDCM.
 *
 * <p>The interpreter retires one instruction per cycle, so instructions retired (event 0xC0),
 * unhalted core cycles (0x3C) and unhalted reference cycles (0x013C), and the fixed counters
 * that count them, all advance by one per retired instruction: counts are exact and repeat
 * run to run. Branch instructions retired (0xC4) come from the CPU's branch count, which it
 * keeps (interpreting every block) only while a counter asks for it. Nothing runs per
 * instruction otherwise: the counters are brought up to date ("folded") from the
 * retired-instruction and branch counts when they are read or written, when the privilege level
 * changes while a counter filters on it, and at the end of each run slice, whose length the
 * vCPU caps at {@link #instructionsToOverflow()} so an overflow ends the slice it happens in.
 * Events the model does not count (LLC, branch mispredicts) are marked unavailable in CPUID.0AH:EBX;
 * a counter programmed with one, or with a counter mask above 1 (never two instructions in
 * one cycle), stays where it is.
 *
 * <p>An overflow (a counter passing 2^48) sets its bit in GLOBAL_STATUS and, with the INT bit
 * of its selector (PMI bit of its FIXED_CTR_CTRL field), asks for a PMI, which the vCPU sends
 * through the local APIC's LVT performance-counter entry.
 */
final class ArchPmu {
    static final int VERSION = 2, GP_COUNTERS = 4, FIXED_COUNTERS = 3, WIDTH = 48;
    /** CPUID.0AH:EAX[31:24]: EBX describes the seven architectural events. */
    static final int EVENT_MASK_LENGTH = 7;
    /**
     * CPUID.0AH:EBX, a set bit an event not available: reference cycles (2), LLC references (3)
     * and misses (4), branch mispredicts (6). Reference cycles run at the TSC's rate on
     * hardware, and a guest may calibrate them against it (kvm-unit-tests pmu.c does); here
     * they are retired instructions while the TSC follows the host clock, so the general
     * event is withheld. Fixed counter 2 still counts them.
     */
    static final int UNAVAILABLE_EVENTS = 0x5c;

    static final int IA32_PMC0 = 0xc1, IA32_PERFEVTSEL0 = 0x186, IA32_FIXED_CTR0 = 0x309,
            IA32_FIXED_CTR_CTRL = 0x38d, IA32_PERF_GLOBAL_STATUS = 0x38e, IA32_PERF_GLOBAL_CTRL = 0x38f,
            IA32_PERF_GLOBAL_OVF_CTRL = 0x390;

    static final long SEL_USR = 1L << 16, SEL_OS = 1L << 17, SEL_INT = 1L << 20, SEL_EN = 1L << 22;
    private static final int SEL_CMASK_SHIFT = 24;
    /** PERFEVTSEL bits 63:32 and 21 (AnyThread, version 3) are reserved; with RTM, 32 and 33 are IN_TX and IN_TXCP (KVM). */
    static final long SEL_RESERVED = 0xffff_ffff_0020_0000L, SEL_TSX = 3L << 32;
    /** FIXED_CTR_CTRL per counter: OS, USR, PMI; AnyThread (bit 2) is version 3. */
    private static final long FIXED_OS = 1, FIXED_USR = 2, FIXED_PMI = 8, FIXED_FIELD = 0xb;
    /** Global bit of fixed counter 0 in GLOBAL_CTRL/STATUS/OVF_CTRL. */
    static final int FIXED_BIT = 32;
    /** GLOBAL_STATUS/OVF_CTRL bits 62 (OvfBuffer) and 63 (CondChgd) besides the counters' own. */
    private static final long STATUS_EXTRA = 3L << 62;
    /** RDPMC's ECX: bit 30 picks the fixed counters, bit 31 the fast (low 32 bits) read. */
    private static final int RDPMC_FIXED = 1 << 30, RDPMC_FAST = 1 << 31;

    private static final long MASK = (1L << WIDTH) - 1;
    private static final int SLOTS = GP_COUNTERS + FIXED_COUNTERS;
    private static final long COUNTER_BITS = ((1L << GP_COUNTERS) - 1) | (((1L << FIXED_COUNTERS) - 1) << FIXED_BIT);

    /** Counter values as of {@link #foldedAt}: slots 0-3 the PMCs, 4-6 the fixed counters. */
    private final long[] counters = new long[SLOTS];
    private final long[] eventSelects = new long[GP_COUNTERS];
    private long fixedCtrl;
    private long globalCtrl = COUNTER_BITS; // KVM's reset value: every counter globally enabled
    private long globalStatus;
    /** The retired-instruction and branch counts the counters are up to date with. */
    private long foldedAt, branchesFoldedAt;
    /** Slots counting at CPL 0 and at CPL > 0, slots whose overflow asks for a PMI, slots counting branches. */
    private int osSlots, userSlots, pmiSlots, branchSlots;
    private boolean pmiPending;

    /** True when some counter counts at some privilege level: only then does the vCPU fold and cap slices. */
    boolean active() {
        return (osSlots | userSlots) != 0;
    }

    /** True when a counter counts branches, which the CPU then counts for it. */
    boolean countsBranches() {
        return branchSlots != 0;
    }

    /** True when a privilege change matters: a counter counts at one level and not at the other. */
    boolean filtersByPrivilege() {
        return osSlots != userSlots;
    }

    /**
     * Brings the counters up to {@code retired} instructions and {@code branches} branches
     * (the CPU's counts), all retired at {@code cpl}; an overflow sets its GLOBAL_STATUS bit
     * and may ask for a PMI.
     */
    void fold(long retired, long branches, int cpl) {
        long delta = retired - foldedAt;
        long branchDelta = branches - branchesFoldedAt;
        foldedAt = retired;
        branchesFoldedAt = branches;
        int slots = cpl == 0 ? osSlots : userSlots;
        if (slots == 0) {
            return;
        }
        for (int i = 0; i < SLOTS; i++) {
            long d = (branchSlots & (1 << i)) != 0 ? branchDelta : delta;
            if ((slots & (1 << i)) != 0 && d > 0) {
                long sum = counters[i] + d;
                if (sum > MASK) {
                    globalStatus |= globalBit(i);
                    pmiPending |= (pmiSlots & (1 << i)) != 0;
                }
                counters[i] = sum & MASK;
            }
        }
    }

    /** The power-on state (KVM resets the PMU at RESET): counters and selectors zero, every counter globally enabled. */
    void reset(long retired, long branches) {
        java.util.Arrays.fill(counters, 0);
        java.util.Arrays.fill(eventSelects, 0);
        fixedCtrl = 0;
        globalCtrl = COUNTER_BITS;
        globalStatus = 0;
        pmiPending = false;
        foldedAt = retired;
        branchesFoldedAt = branches;
        reprogram();
    }

    /** Whether a fold asked for a PMI since the last call; clears the request. */
    boolean takePmi() {
        boolean p = pmiPending;
        pmiPending = false;
        return p;
    }

    /** Instructions until the first counting counter overflows (as if it counted at every level), at least 1. */
    long instructionsToOverflow() {
        int slots = osSlots | userSlots;
        long min = Long.MAX_VALUE;
        for (int i = 0; i < SLOTS; i++) {
            if ((slots & (1 << i)) != 0) {
                min = Math.min(min, MASK + 1 - counters[i]);
            }
        }
        return Math.max(1, min);
    }

    static boolean isPmuMsr(int index) {
        return (index >= IA32_PMC0 && index < IA32_PMC0 + GP_COUNTERS)
                || (index >= IA32_PERFEVTSEL0 && index < IA32_PERFEVTSEL0 + GP_COUNTERS)
                || (index >= IA32_FIXED_CTR0 && index < IA32_FIXED_CTR0 + FIXED_COUNTERS)
                || (index >= IA32_FIXED_CTR_CTRL && index <= IA32_PERF_GLOBAL_OVF_CTRL);
    }

    /** Every PMU MSR index, ascending. */
    static int[] msrIndexes() {
        int[] out = new int[2 * GP_COUNTERS + FIXED_COUNTERS + 4];
        int n = 0;
        for (int i = 0; i < GP_COUNTERS; i++) {
            out[n++] = IA32_PMC0 + i;
        }
        for (int i = 0; i < GP_COUNTERS; i++) {
            out[n++] = IA32_PERFEVTSEL0 + i;
        }
        for (int i = 0; i < FIXED_COUNTERS; i++) {
            out[n++] = IA32_FIXED_CTR0 + i;
        }
        for (int index = IA32_FIXED_CTR_CTRL; index <= IA32_PERF_GLOBAL_OVF_CTRL; index++) {
            out[n++] = index;
        }
        return out;
    }

    /** CPUID leaf 0xA into {@code out} (EAX, EBX, ECX, EDX). */
    static void cpuidLeaf(int[] out) {
        out[0] = VERSION | GP_COUNTERS << 8 | WIDTH << 16 | EVENT_MASK_LENGTH << 24;
        out[1] = UNAVAILABLE_EVENTS;
        out[2] = 0;
        out[3] = FIXED_COUNTERS | WIDTH << 5;
    }

    /** The MSR's value; the counters must have been folded. {@link #isPmuMsr} holds. */
    long read(int index) {
        if (index >= IA32_PMC0 && index < IA32_PMC0 + GP_COUNTERS) {
            return counters[index - IA32_PMC0];
        }
        if (index >= IA32_PERFEVTSEL0 && index < IA32_PERFEVTSEL0 + GP_COUNTERS) {
            return eventSelects[index - IA32_PERFEVTSEL0];
        }
        if (index >= IA32_FIXED_CTR0 && index < IA32_FIXED_CTR0 + FIXED_COUNTERS) {
            return counters[GP_COUNTERS + index - IA32_FIXED_CTR0];
        }
        return switch (index) {
            case IA32_FIXED_CTR_CTRL -> fixedCtrl;
            case IA32_PERF_GLOBAL_STATUS -> globalStatus;
            case IA32_PERF_GLOBAL_CTRL -> globalCtrl;
            default -> 0; // OVF_CTRL reads as 0
        };
    }

    /**
     * Writes the MSR (the counters folded first); false when the value sets reserved bits
     * (#GP for the guest). GLOBAL_STATUS is read-only for the guest; the host restores it.
     * A PMC written through IA32_PMCx takes bits 31:0 sign-extended (SDM, "Full-Width Writes to
     * Performance Counter Registers"); a fixed counter takes the counter's full width.
     */
    boolean write(int index, long v, boolean host, boolean rtm) {
        if (index >= IA32_PMC0 && index < IA32_PMC0 + GP_COUNTERS) {
            counters[index - IA32_PMC0] = host ? v & MASK : (long) (int) v & MASK;
            return true;
        }
        if (index >= IA32_PERFEVTSEL0 && index < IA32_PERFEVTSEL0 + GP_COUNTERS) {
            if ((v & (SEL_RESERVED & ~(rtm ? SEL_TSX : 0))) != 0) {
                return false;
            }
            eventSelects[index - IA32_PERFEVTSEL0] = v;
            reprogram();
            return true;
        }
        if (index >= IA32_FIXED_CTR0 && index < IA32_FIXED_CTR0 + FIXED_COUNTERS) {
            counters[GP_COUNTERS + index - IA32_FIXED_CTR0] = v & MASK;
            return true;
        }
        switch (index) {
            case IA32_FIXED_CTR_CTRL -> {
                long allowed = 0;
                for (int i = 0; i < FIXED_COUNTERS; i++) {
                    allowed |= FIXED_FIELD << (4 * i);
                }
                if ((v & ~allowed) != 0) {
                    return false;
                }
                fixedCtrl = v;
            }
            case IA32_PERF_GLOBAL_STATUS -> {
                if (!host || (v & ~(COUNTER_BITS | STATUS_EXTRA)) != 0) {
                    return false;
                }
                globalStatus = v;
            }
            case IA32_PERF_GLOBAL_CTRL -> {
                if ((v & ~COUNTER_BITS) != 0) {
                    return false;
                }
                globalCtrl = v;
            }
            default -> { // OVF_CTRL: a set bit clears that status bit
                if ((v & ~(COUNTER_BITS | STATUS_EXTRA)) != 0) {
                    return false;
                }
                globalStatus &= ~v;
            }
        }
        reprogram();
        return true;
    }

    /**
     * RDPMC of counter {@code ecx} (the counters folded): bit 30 selects a fixed counter, bit
     * 31 returns the low 32 bits; #GP(0) for a counter that does not exist.
     */
    long rdpmc(int ecx) {
        boolean fixed = (ecx & RDPMC_FIXED) != 0;
        int n = ecx & ~(RDPMC_FIXED | RDPMC_FAST);
        if (n >= (fixed ? FIXED_COUNTERS : GP_COUNTERS)) {
            throw CpuFault.gp0();
        }
        long v = counters[fixed ? GP_COUNTERS + n : n];
        return (ecx & RDPMC_FAST) != 0 ? v & 0xffffffffL : v;
    }

    /** Recomputes which slots count where, after a selector or control changed. */
    private void reprogram() {
        int os = 0, user = 0, pmi = 0, branch = 0;
        for (int i = 0; i < GP_COUNTERS; i++) {
            long sel = eventSelects[i];
            if ((sel & SEL_EN) == 0 || (globalCtrl & globalBit(i)) == 0 || !counted(sel)) {
                continue;
            }
            branch |= (sel & 0xffff) == BRANCHES ? 1 << i : 0;
            os |= (sel & SEL_OS) != 0 ? 1 << i : 0;
            user |= (sel & SEL_USR) != 0 ? 1 << i : 0;
            pmi |= (sel & SEL_INT) != 0 ? 1 << i : 0;
        }
        for (int j = 0; j < FIXED_COUNTERS; j++) {
            int slot = GP_COUNTERS + j;
            long field = fixedCtrl >>> (4 * j);
            if ((globalCtrl & globalBit(slot)) == 0) {
                continue;
            }
            os |= (field & FIXED_OS) != 0 ? 1 << slot : 0;
            user |= (field & FIXED_USR) != 0 ? 1 << slot : 0;
            pmi |= (field & FIXED_PMI) != 0 ? 1 << slot : 0;
        }
        osSlots = os;
        userSlots = user;
        pmiSlots = pmi;
        branchSlots = branch & (os | user);
    }

    /** Unit selects (umask, event) of the events counted: instructions, core and reference cycles, branches. */
    private static final int INSTRUCTIONS = 0x00c0, CORE_CYCLES = 0x003c, REF_CYCLES = 0x013c, BRANCHES = 0x00c4;

    /** Whether the model counts the selector's event, at a counter mask of 0 or 1. */
    private static boolean counted(long sel) {
        int unitSelect = (int) (sel & 0xffff);
        int cmask = (int) (sel >>> SEL_CMASK_SHIFT) & 0xff;
        return cmask <= 1 && (unitSelect == INSTRUCTIONS || unitSelect == CORE_CYCLES || unitSelect == REF_CYCLES
                || unitSelect == BRANCHES);
    }

    private static long globalBit(int slot) {
        return slot < GP_COUNTERS ? 1L << slot : 1L << (FIXED_BIT + slot - GP_COUNTERS);
    }
}

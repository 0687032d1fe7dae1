package org.tscvm.vm;

import java.util.List;
import java.util.Set;

/**
 * What a debugger asks of a vCPU (KVM_SET_GUEST_DEBUG): stop before instructions at
 * {@code breakpoints} (linear addresses: CS base + RIP), after accesses to the watched ranges,
 * or after one instruction ({@code singleStep}). Guest memory is never changed for a
 * breakpoint, so the guest cannot see one. A vCPU resumed at a breakpoint stops there again:
 * to go on, step it with that breakpoint removed (gdb does). Without a debugger the vCPU runs
 * with {@link #NONE}.
 *
 * <pre>{@code
 * vcpu.setGuestDebug(new GuestDebug(false, Set.of(0x100123L),
 *         List.of(new GuestDebug.Watchpoint(0x104000, 8, GuestDebug.WatchKind.WRITE))));
 * VcpuExit exit = vcpu.run();   // VcpuExit.Debug(BREAKPOINT, 0x100123) or (WATCH_WRITE, 0x104000)
 * }</pre>
 */
public record GuestDebug(boolean singleStep, Set<Long> breakpoints, List<Watchpoint> watchpoints) {
    /** No debugging: the vCPU runs at full speed. */
    public static final GuestDebug NONE = new GuestDebug(false, Set.of(), List.of());

    /** Which accesses to a watched range stop the vCPU. */
    public enum WatchKind { WRITE, READ, ACCESS }

    /** A watched range of guest-linear addresses, {@code length} bytes (at least 1) from {@code address}. */
    public record Watchpoint(long address, long length, WatchKind kind) {
        public Watchpoint {
            if (length < 1) {
                throw new IllegalArgumentException("a watchpoint covers at least one byte, not " + length);
            }
        }
    }

    public GuestDebug {
        breakpoints = Set.copyOf(breakpoints);
        watchpoints = List.copyOf(watchpoints);
    }

    /** Whether anything is asked: only then does the vCPU run instruction by instruction. */
    public boolean enabled() {
        return singleStep || !breakpoints.isEmpty() || !watchpoints.isEmpty();
    }

    /** The same breakpoints and watchpoints, stepping or not. */
    public GuestDebug withSingleStep(boolean step) {
        return new GuestDebug(step, breakpoints, watchpoints);
    }
}

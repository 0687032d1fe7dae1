package org.tscvm.trace;

import org.tscvm.tsc.HostClock;
import org.tscvm.tsc.TscMath;
import org.tscvm.tsc.TscState;

/**
 * One vCPU's track of a trace: its events, buffered and handed to the {@link Tracer}'s writer a
 * buffer at a time. A vCPU holds one only while tracing is on (otherwise null), so a hook costs
 * one null check on a final field when tracing is off.
 *
 * <p>Recording takes this track's own lock: its vCPU thread writes nearly every event, but the
 * host API (a host MSR write, a host adjust, a snapshot) may record from another thread, and an
 * uncontended lock is cheaper than routing those through the vCPU. The writer's lock is taken
 * once per {@link #CAPACITY} events. Recording allocates nothing.
 */
public final class VcpuTrack {
    /** What the track reads from its vCPU at each event. */
    public interface Probe {
        /** The vCPU's (L1) guest TSC at host reading {@code hostTsc}. */
        long guestTscAt(long hostTsc);

        /** Instructions the vCPU has retired. */
        long instructionsRetired();
    }

    /** Events held before they go to the writer. */
    static final int CAPACITY = 1024;

    private final Tracer tracer;
    private final int vcpu;
    private final HostClock clock;
    private final Probe probe;
    private final boolean[] recorded = new boolean[TraceKind.values().length];
    private final boolean recordsMsrWrites;

    // The buffer, as parallel arrays: event i's arguments are args[i * MAX_ARGS ...].
    final TraceKind[] kinds = new TraceKind[CAPACITY];
    final String[] labels = new String[CAPACITY];
    final long[] hostTscs = new long[CAPACITY];
    /** Host time of each event, converted when it happens (a later host adjust changes the conversion). */
    final long[] hostNanos = new long[CAPACITY];
    final long[] guestTscs = new long[CAPACITY];
    final long[] instructions = new long[CAPACITY];
    final long[] args = new long[CAPACITY * TraceKind.MAX_ARGS];
    int count;
    /** HLT is recorded once per halt, however often the run loop looks at the halted vCPU. */
    private boolean halted;
    private long haltedAt;

    VcpuTrack(Tracer tracer, int vcpu, HostClock clock, Probe probe, TraceConfig config) {
        this.tracer = tracer;
        this.vcpu = vcpu;
        this.clock = clock;
        this.probe = probe;
        for (TraceKind kind : TraceKind.values()) {
            recorded[kind.ordinal()] = config.records(kind);
        }
        recordsMsrWrites = records(TraceKind.MSR_WRITE) || records(TraceKind.GENERATION);
    }

    /** The vCPU index this track belongs to. */
    public int vcpu() {
        return vcpu;
    }

    /** Whether events of {@code kind} are recorded (the caller may skip computing their arguments). */
    public boolean records(TraceKind kind) {
        return recorded[kind.ordinal()];
    }

    /** The host clock the track stamps events with; callers read it once for before/after pairs. */
    public HostClock clock() {
        return clock;
    }

    // ---------------------------------------------------------------- before/after pairs around a TSC change

    private static final int MSR_TSC = 0x10;
    private static final int MSR_TSC_ADJUST = 0x3b;
    private static final int MSR_TSC_DEADLINE = 0x6e0;
    private static final int MSR_TSC_AUX = 0xc0000103;

    private long adjustBefore;
    private long offsetBefore;
    private long generationBefore;
    private long khzBefore;
    private long ratioBefore;

    /** Whether a time MSR write has anything to record: the write itself, or the generation it may change. */
    public boolean recordsMsrWrites() {
        return recordsMsrWrites;
    }

    /** The MSRs a trace records writes of: IA32_TSC, TSC_ADJUST, TSC_AUX and TSC_DEADLINE. */
    public static boolean isTimeMsr(int msr) {
        return msr == MSR_TSC || msr == MSR_TSC_ADJUST || msr == MSR_TSC_AUX || msr == MSR_TSC_DEADLINE;
    }

    /** Notes the vCPU's time state before a change (an MSR write, an offset or frequency change). */
    public synchronized void beforeTscChange(TscState tsc) {
        adjustBefore = tsc.adjust();
        offsetBefore = tsc.l1Offset();
        generationBefore = tsc.generation();
        khzBefore = tsc.virtualKhz();
        ratioBefore = tsc.l1Ratio();
    }

    /** The TSC before the change at host reading {@code hostTsc}, from the noted ratio and offset. */
    private long tscBefore(long hostTsc) {
        return TscMath.scale(hostTsc, ratioBefore) + offsetBefore;
    }

    /**
     * After a time MSR write noted by {@link #beforeTscChange}: records the write with the
     * TSC (before and after, both at one host instant just after the write), adjust and offset,
     * and the generation change a host TSC write may make (R10). {@code msrBefore} and
     * {@code msrAfter} are the MSR's own values (for IA32_TSC, the TSCs are used).
     */
    public synchronized void afterMsrWrite(TscState tsc, int msr, boolean host, long value, long msrBefore,
                                           long msrAfter) {
        long hostTsc = clock.now();
        long tscBefore = tscBefore(hostTsc);
        long tscAfter = tsc.l1GuestTsc(hostTsc);
        boolean isTsc = msr == MSR_TSC;
        msrWrite(msr, host, value, hostTsc, isTsc ? tscBefore : msrBefore, isTsc ? tscAfter : msrAfter, tscBefore,
                tscAfter, adjustBefore, tsc.adjust(), offsetBefore, tsc.l1Offset());
        generationChange(tsc, hostTsc);
    }

    /** After a host offset write noted by {@link #beforeTscChange} (R17). */
    public synchronized void afterOffsetSet(TscState tsc) {
        long hostTsc = clock.now();
        offsetSet(hostTsc, offsetBefore, tsc.l1Offset(), tscBefore(hostTsc), tsc.l1GuestTsc(hostTsc));
        generationChange(tsc, hostTsc);
    }

    /** After a frequency change noted by {@link #beforeTscChange} (R14). */
    public synchronized void afterTscKhz(TscState tsc) {
        long hostTsc = clock.now();
        tscKhz(hostTsc, khzBefore, tsc.virtualKhz(), ratioBefore, tsc.l1Ratio(), tscBefore(hostTsc),
                tsc.l1GuestTsc(hostTsc));
    }

    private void generationChange(TscState tsc, long hostTsc) {
        if (tsc.generation() != generationBefore) {
            generation(hostTsc, generationBefore, tsc.generation(), tsc.l1Offset());
        }
    }

    // ---------------------------------------------------------------- events

    /** A time MSR written; {@code host} for a host-initiated write. The TSCs are read at one host instant. */
    public synchronized void msrWrite(int msr, boolean host, long value, long hostTsc, long msrBefore, long msrAfter,
                                      long tscBefore, long tscAfter, long adjustBefore, long adjustAfter,
                                      long offsetBefore, long offsetAfter) {
        if (!records(TraceKind.MSR_WRITE)) {
            return;
        }
        int a = begin(TraceKind.MSR_WRITE, null, hostTsc);
        args[a] = msr;
        args[a + 1] = host ? 1 : 0;
        args[a + 2] = value;
        args[a + 3] = msrBefore;
        args[a + 4] = msrAfter;
        args[a + 5] = tscBefore;
        args[a + 6] = tscAfter;
        args[a + 7] = adjustBefore;
        args[a + 8] = adjustAfter;
        args[a + 9] = offsetBefore;
        args[a + 10] = offsetAfter;
        guestTscs[count] = tscAfter;
        end();
    }

    /** The vCPU was created and synchronised (R12). */
    public synchronized void vcpuCreated(long hostTsc, long generation, long offset, long khz, long hostTscAdjust) {
        if (records(TraceKind.VCPU_CREATE)) {
            put4(TraceKind.VCPU_CREATE, hostTsc, generation, offset, khz, hostTscAdjust);
        }
    }

    /** The vCPU's TSC generation changed (R10-R12). */
    public synchronized void generation(long hostTsc, long before, long after, long offset) {
        if (records(TraceKind.GENERATION)) {
            put4(TraceKind.GENERATION, hostTsc, before, after, offset, 0);
        }
    }

    /** The host set the TSC offset (R17). */
    public synchronized void offsetSet(long hostTsc, long offsetBefore, long offsetAfter, long tscBefore, long tscAfter) {
        if (records(TraceKind.OFFSET_SET)) {
            put4(TraceKind.OFFSET_SET, hostTsc, tscAfter, offsetBefore, offsetAfter, tscBefore, tscAfter);
        }
    }

    /** The host set the TSC frequency (R14). */
    public synchronized void tscKhz(long hostTsc, long khzBefore, long khzAfter, long ratioBefore, long ratioAfter,
                                    long tscBefore, long tscAfter) {
        if (!records(TraceKind.TSC_KHZ)) {
            return;
        }
        int a = begin(TraceKind.TSC_KHZ, null, hostTsc);
        args[a] = khzBefore;
        args[a + 1] = khzAfter;
        args[a + 2] = ratioBefore;
        args[a + 3] = ratioAfter;
        args[a + 4] = tscBefore;
        args[a + 5] = tscAfter;
        guestTscs[count] = tscAfter;
        end();
    }

    /** The host's own IA32_TSC_ADJUST changed (A2); the guest TSCs are at one host instant. */
    public synchronized void hostTscAdjust(long hostTsc, long before, long after, long tscBefore, long tscAfter) {
        if (records(TraceKind.HOST_TSC_ADJUST)) {
            put4(TraceKind.HOST_TSC_ADJUST, hostTsc, tscAfter, before, after, tscBefore, tscAfter);
        }
    }

    /** The APIC timer armed (mode 0 one-shot, 1 periodic, 2 TSC-deadline). */
    public synchronized void timerArm(int mode, long deadline, long dueHostTsc) {
        if (records(TraceKind.TIMER_ARM)) {
            put4(TraceKind.TIMER_ARM, clock.now(), mode, deadline, dueHostTsc, 0);
        }
    }

    /** The APIC timer expired at {@code hostTsc}. */
    public synchronized void timerFire(long hostTsc, int mode, int vector, boolean masked) {
        if (records(TraceKind.TIMER_FIRE)) {
            put4(TraceKind.TIMER_FIRE, hostTsc, mode, vector, masked ? 1 : 0, 0);
        }
    }

    public synchronized void init() {
        halted = false;
        if (records(TraceKind.INIT)) {
            put4(TraceKind.INIT, clock.now(), 0, 0, 0, 0);
        }
    }

    public synchronized void sipi(int vector) {
        if (records(TraceKind.SIPI)) {
            put4(TraceKind.SIPI, clock.now(), vector, 0, 0, 0);
        }
    }

    /**
     * HLT: recorded once per halt. A halted vCPU that comes back to the run loop without having
     * retired an instruction is still in the same halt; one that ran since had woken.
     */
    public synchronized void halt() {
        long retired = probe.instructionsRetired();
        if (halted && retired == haltedAt) {
            return;
        }
        if (halted) {
            wake();
        }
        halted = true;
        haltedAt = retired;
        if (records(TraceKind.HALT)) {
            put4(TraceKind.HALT, clock.now(), 0, 0, 0, 0);
        }
    }

    public synchronized void wake() {
        if (!halted) {
            return;
        }
        halted = false;
        if (records(TraceKind.WAKE)) {
            put4(TraceKind.WAKE, clock.now(), 0, 0, 0, 0);
        }
    }

    /**
     * {@code run()} returned the exit {@code kind}. A halted vCPU that only gives up its turn
     * ({@code paused}) is not recorded again and again.
     */
    public synchronized void exit(String kind, boolean paused) {
        if (records(TraceKind.EXIT) && !(paused && halted)) {
            begin(TraceKind.EXIT, kind, clock.now());
            end();
        }
    }

    /** A snapshot, restore or migration, as this vCPU saw it. */
    synchronized void state(TraceKind kind, long hostTsc) {
        if (records(kind)) {
            put4(kind, hostTsc, 0, 0, 0, 0);
        }
    }

    private void put4(TraceKind kind, long hostTsc, long a0, long a1, long a2, long a3) {
        int a = begin(kind, null, hostTsc);
        args[a] = a0;
        args[a + 1] = a1;
        args[a + 2] = a2;
        args[a + 3] = a3;
        end();
    }

    /** As {@link #put4}, for an event that moved the TSC: it shows {@code guestTsc}, the TSC after. */
    private void put4(TraceKind kind, long hostTsc, long guestTsc, long a0, long a1, long a2, long a3) {
        int a = begin(kind, null, hostTsc);
        args[a] = a0;
        args[a + 1] = a1;
        args[a + 2] = a2;
        args[a + 3] = a3;
        guestTscs[count] = guestTsc;
        end();
    }

    /** Starts event {@link #count}; returns where its arguments go. */
    private int begin(TraceKind kind, String label, long hostTsc) {
        kinds[count] = kind;
        labels[count] = label;
        hostTscs[count] = hostTsc;
        hostNanos[count] = clock.nanosAt(hostTsc);
        guestTscs[count] = probe.guestTscAt(hostTsc);
        instructions[count] = probe.instructionsRetired();
        return count * TraceKind.MAX_ARGS;
    }

    /** Keeps event {@link #count}, unless the trace is muted (then the next event overwrites it). */
    private void end() {
        if (tracer.muted()) {
            return;
        }
        count++;
        if (count == CAPACITY) {
            flush();
        }
    }

    /** Hands the buffer to the writer (the caller holds this track's lock). */
    void flush() {
        if (count > 0) {
            tracer.write(this);
            count = 0;
        }
    }
}

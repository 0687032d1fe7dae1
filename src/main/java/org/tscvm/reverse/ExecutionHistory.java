package org.tscvm.reverse;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.tscvm.TscvmException;
import org.tscvm.machine.Machine;
import org.tscvm.memory.DirtyLogClient;
import org.tscvm.memory.GuestMemory;
import org.tscvm.snapshot.MachineSnapshot;
import org.tscvm.snapshot.MachineState;
import org.tscvm.snapshot.RestoreTime;
import org.tscvm.trace.Tracer;
import org.tscvm.tsc.HostClock;
import org.tscvm.vm.GuestDebug;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VcpuExit;

/**
 * Reverse execution on the deterministic clock, one vCPU: while a debugger is attached the
 * runner calls {@link #beforeRun()} and {@link #afterRun()} around each run of the vCPU, and
 * this keeps in-memory checkpoints of the whole machine every {@code interval} retired
 * instructions (the oldest go when they outgrow the memory budget). Going back restores the
 * last checkpoint before the target and runs forward to it: a deterministic run repeats, and
 * each replayed stretch that ends on a checkpoint is checked against it.
 *
 * <p>A position is a count of retired instructions; the state at position k is the first
 * instruction boundary where k have retired (before a HLT that retired k-th waits). The vCPU's
 * own counter is not part of a saved state, so positions are that counter plus a bias that
 * every restore sets.
 *
 * <p>Checkpoints keep RAM incrementally, through the memory's dirty log: the first keeps every
 * non-zero page, each later one the pages stored to since the checkpoint before it (or since
 * the one last restored), as they were when it was taken. Going to a checkpoint rewrites only
 * the pages stored to since the checkpoint the RAM last matched and those the checkpoints
 * between the two kept, each from the newest checkpoint at or before the target that kept it.
 * Dropping the oldest checkpoint folds its pages under the next one's.
 *
 * <p>The guest's serial output reads as one run: each checkpoint keeps how many bytes the guest
 * had sent, going back rewinds the output to that count, and what the guest sends again up to
 * where it had been is not written twice.
 *
 * <p>A {@code --trace} reads as one run too: it is muted while the machine runs again what it
 * had already run (replays, and the way forward again up to the furthest point reached), and
 * checkpoints and the restores of going back are not snapshot or restore events in it.
 *
 * <p>Input the guest does not determine (COM1 bytes from standard input) is not replayed: when
 * it arrives ({@link #inputArrived()}), history restarts at the next stop or run. A debugger's
 * writes to registers or memory restart it too ({@link #restart()}). Either way the guest's
 * future is new, and so is the output it sends from there.
 *
 * <p>Every method runs with the vCPU stopped: the runner's thread between runs, or the
 * debugger's while the machine is held; the monitor orders them.
 */
public final class ExecutionHistory {
    /** Instructions between checkpoints: a reverse step replays at most this many. */
    public static final long DEFAULT_INTERVAL = 1_000_000;
    /** RAM the checkpoints may hold (their stored pages, uncompressed). */
    public static final long DEFAULT_BUDGET_BYTES = 256L << 20;
    /** Runs in a row that retire nothing before a replay gives up (a vCPU that cannot go on). */
    private static final int MAX_IDLE_RUNS = 10_000;

    /** Where {@link #stepBack} or {@link #continueBack} left the machine. */
    public record Landing(VcpuExit.Debug hit, boolean historyBegin) {
    }

    /** The machine at {@code position}: its state without RAM, and the RAM pages it keeps. */
    private record Checkpoint(long position, MachineState state, long serialPosition, RamPages ram) {
        long bytes() {
            return ram.bytes();
        }
    }

    private record Hit(long position, VcpuExit.Debug exit) {
    }

    private final Machine machine;
    private final Vcpu vcpu;
    private final HostClock clock;
    private final long interval;
    private final long budgetBytes;
    private final GuestMemory memory;
    /** Oldest first. */
    private final List<Checkpoint> checkpoints = new ArrayList<>();
    private long storedBytes;
    /** The checkpoint RAM matched when {@link #storedSince} was last cleared, or null before the first. */
    private Checkpoint ramBase;
    /** Pages stored to since RAM matched {@link #ramBase}, as far as synced from the dirty log. */
    private final long[] storedSince;
    /** position = the vCPU's counter + bias. */
    private long bias;
    private long nextMark;
    /** The furthest position run to in this history; up to it a run repeats the recorded one. */
    private long furthest;
    /** A debugger is attached: the runner's hooks do something. Volatile: they look without the lock first. */
    private volatile boolean recording;
    /** Why reverse execution is off for this run, or null. */
    private String refusal;
    private volatile boolean inputArrived;
    /** A reverse run is under way: {@link #interrupt} applies. */
    private volatile boolean reversing;
    /** gdb's Ctrl-C during a reverse run: the replay stops at its next vCPU exit. */
    private volatile boolean interruptRequested;

    /** A replay ended early by {@link #interrupt}: the machine stays where the replay had got to. */
    private static final class ReplayInterrupted extends RuntimeException {
        ReplayInterrupted() {
            super(null, null, false, false);
        }
    }

    /**
     * @throws TscvmException unless the machine runs one vCPU on the deterministic clock
     */
    public ExecutionHistory(Machine machine, long interval, long budgetBytes) {
        if (!supports(machine)) {
            throw new TscvmException("reverse execution needs the deterministic clock and one vCPU");
        }
        if (interval < 1 || budgetBytes < 0) {
            throw new IllegalArgumentException("interval " + interval + ", budget " + budgetBytes);
        }
        this.machine = machine;
        this.vcpu = machine.vm().vcpus().get(0);
        this.clock = machine.vm().clock();
        this.interval = interval;
        this.budgetBytes = budgetBytes;
        this.memory = machine.vm().memory();
        this.storedSince = new long[(memory.pageCount() + 63) >>> 6];
    }

    /** Whether {@code machine} can run backwards: the deterministic clock and one vCPU. */
    public static boolean supports(Machine machine) {
        return machine.vm().clock().deterministic() && machine.vm().vcpus().size() == 1;
    }

    /** Reverse execution is off for this run, for {@code why} (something else owns the input). */
    public synchronized void refuse(String why) {
        refusal = why;
        stop();
    }

    /** Whether reverse execution is available. */
    public synchronized boolean available() {
        return refusal == null;
    }

    /** The vCPU's position: instructions retired, as this history counts them. */
    public synchronized long position() {
        return vcpu.instructionsRetired() + bias;
    }

    /** The oldest position history reaches back to, or -1 before the first checkpoint. */
    public synchronized long beginning() {
        return checkpoints.isEmpty() ? -1 : checkpoints.get(0).position();
    }

    /** Bytes of RAM page contents the checkpoints hold. */
    public synchronized long storedBytes() {
        return storedBytes;
    }

    /** A debugger attached: checkpoints begin at the next run. */
    public synchronized void start() {
        recording = refusal == null;
    }

    /** The debugger left: every checkpoint goes, stores are no longer logged, and the vCPU runs without a limit. */
    public synchronized void stop() {
        recording = false;
        forget();
        if (memory.dirtyLogging(DirtyLogClient.REVERSE_EXECUTION)) {
            memory.stopDirtyLog(DirtyLogClient.REVERSE_EXECUTION);
        }
        vcpu.stopAtRetired(Long.MAX_VALUE);
    }

    /** Thread-safe: standard input reached COM1; what came before can no longer be replayed. */
    public void inputArrived() {
        inputArrived = true;
        machine.forgetSerialFuture();
    }

    /** History begins again here (the machine's state changed outside the guest's control). */
    public synchronized void restart() {
        forget();
        inputArrived = false;
        machine.forgetSerialFuture();
        checkpoint();
    }

    /** History begins here if it has no checkpoint (the first run, after a reboot) or input made it void. */
    private void beginIfNeeded() {
        if (inputArrived) {
            restart();
        } else if (checkpoints.isEmpty()) {
            checkpoint();
        }
    }

    private void forget() {
        checkpoints.clear();
        storedBytes = 0;
        ramBase = null;
        furthest = position(); // what runs from here is new
        muteTrace(false);
    }

    private void muteTrace(boolean on) {
        Tracer tracer = machine.vm().tracer();
        if (tracer != null) {
            tracer.mute(on);
        }
    }

    /** The runner, before the vCPU runs: the run is cut at the next checkpoint's position. */
    public void beforeRun() {
        if (recording) {
            prepareRun();
        }
    }

    private synchronized void prepareRun() {
        if (!recording) {
            return;
        }
        beginIfNeeded();
        boolean repeating = position() < furthest;
        muteTrace(repeating);
        // A repeat ends where the recorded run had got to: the trace records again from there.
        vcpu.stopAtRetired((repeating ? Math.min(nextMark, furthest) : nextMark) - bias);
    }

    /** The runner, after the vCPU ran: a checkpoint when it reached the mark. */
    public void afterRun() {
        if (recording) {
            takeDueCheckpoint();
        }
    }

    private synchronized void takeDueCheckpoint() {
        if (!recording) {
            return;
        }
        furthest = Math.max(furthest, position());
        muteTrace(position() < furthest);
        if (!inputArrived && position() >= nextMark) {
            checkpoint();
        }
    }

    /** The machine rebooted: history begins again at the next run (going back across a reboot is not offered). */
    public synchronized void rebooted() {
        forget();
    }

    private void checkpoint() {
        RamPages ram;
        if (ramBase == null) {
            // History begins: every page, and from here on every store is logged.
            if (!memory.dirtyLogging(DirtyLogClient.REVERSE_EXECUTION)) {
                memory.startDirtyLog(DirtyLogClient.REVERSE_EXECUTION);
            }
            memory.syncDirtyLog(DirtyLogClient.REVERSE_EXECUTION, storedSince);
            ram = RamPages.allOf(memory);
        } else {
            memory.syncDirtyLog(DirtyLogClient.REVERSE_EXECUTION, storedSince);
            ram = RamPages.of(memory, storedSince);
        }
        Arrays.fill(storedSince, 0);
        Tracer tracer = machine.vm().tracer();
        boolean muted = tracer != null && tracer.muted();
        muteTrace(true); // a checkpoint is not a snapshot the trace shows
        MachineState state;
        try {
            state = MachineSnapshot.saveWithoutRam(machine);
        } finally {
            muteTrace(muted);
        }
        Checkpoint c = new Checkpoint(position(), state, machine.serialOutputPosition(), ram);
        checkpoints.add(c);
        ramBase = c;
        storedBytes += c.bytes();
        while (storedBytes > budgetBytes && checkpoints.size() > 2) {
            // The oldest goes; the next keeps its pages too, so it can still be restored alone.
            Checkpoint oldest = checkpoints.remove(0);
            Checkpoint next = checkpoints.get(0);
            Checkpoint merged = new Checkpoint(next.position(), next.state(), next.serialPosition(),
                    oldest.ram().overlaidWith(next.ram()));
            checkpoints.set(0, merged);
            storedBytes += merged.bytes() - oldest.bytes() - next.bytes();
            if (ramBase == next) {
                ramBase = merged;
            }
        }
        nextMark = c.position() + interval;
    }

    // ---------------------------------------------------------------- going back

    /**
     * Goes back one instruction (gdb's reverse-stepi): to the position before this one, or to
     * the beginning of history when already there.
     *
     * @throws TscvmException when a replay does not repeat the recorded run (history restarts)
     */
    public synchronized Landing stepBack() {
        requireUsable();
        long now = position();
        Checkpoint first = checkpoints.get(0);
        return replaying(() -> {
            if (now <= first.position()) {
                restore(first);
                return new Landing(null, true);
            }
            long target = now - 1;
            restore(latestAtOrBefore(target));
            replay(target, GuestDebug.NONE, -1);
            return new Landing(null, false);
        });
    }

    /**
     * Goes back to the last hit of {@code debug}'s breakpoints or watchpoints before this
     * position (gdb's reverse-continue), or to the beginning of history if there is none. A
     * breakpoint lands where it stopped the vCPU; a watchpoint lands before the instruction
     * that made the access, where gdb looks for the value to change.
     *
     * @throws TscvmException when a replay does not repeat the recorded run (history restarts)
     */
    public synchronized Landing continueBack(GuestDebug debug) {
        requireUsable();
        long now = position();
        List<Checkpoint> list = new ArrayList<>(checkpoints);
        GuestDebug traps = debug.withSingleStep(false);
        return replaying(() -> {
            if (traps.enabled()) {
                for (int i = list.size() - 1; i >= 0; i--) {
                    Checkpoint from = list.get(i);
                    if (from.position() >= now) {
                        continue;
                    }
                    Checkpoint next = i + 1 < list.size() ? list.get(i + 1) : null;
                    long end = next == null ? now : Math.min(next.position(), now);
                    restore(from);
                    List<Hit> hits = replay(end, traps, -1);
                    if (next != null && end == next.position()) {
                        checkAgainst(next);
                    }
                    if (!hits.isEmpty()) {
                        return landOn(from, hits, traps);
                    }
                }
            }
            restore(list.get(0));
            return new Landing(null, true);
        });
    }

    private Landing landOn(Checkpoint from, List<Hit> hits, GuestDebug traps) {
        Hit last = hits.get(hits.size() - 1);
        if (last.exit().reason() == VcpuExit.Debug.Reason.BREAKPOINT) {
            restore(from);
            replay(Long.MAX_VALUE, traps, hits.size() - 1);
            return new Landing(last.exit(), false);
        }
        long before = last.position() - 1;
        Checkpoint start = latestAtOrBefore(before);
        if (start == null) {
            restore(checkpoints.get(0));
            return new Landing(null, true);
        }
        restore(start);
        replay(before, GuestDebug.NONE, -1);
        return new Landing(last.exit(), false);
    }

    private interface Replay {
        Landing run();
    }

    /**
     * Thread-safe, from any thread (gdb's Ctrl-C): a reverse step or continue under way stops
     * where its replay has got to, at most one checkpoint interval later, and lands there
     * without a hit. Outside a reverse run it does nothing.
     */
    public void interrupt() {
        if (reversing) {
            interruptRequested = true;
        }
    }

    /** Whether a reverse step or continue is under way (for a Ctrl-C's tests). */
    boolean reversing() {
        return reversing;
    }

    /** Runs {@code r}; afterwards the future beyond the landing is forgotten. */
    private Landing replaying(Replay r) {
        interruptRequested = false;
        reversing = true;
        muteTrace(true);
        try {
            Landing landing = r.run();
            forgetAfter(position());
            return landing;
        } catch (ReplayInterrupted e) {
            forgetAfter(position()); // a state of the recorded run: a fine place to stop
            return new Landing(null, false);
        } catch (RuntimeException e) {
            forget(); // the next run or stop begins history again
            machine.forgetSerialFuture(); // and what the guest sends from here is not known to repeat
            throw e instanceof TscvmException ? e : new TscvmException("reverse execution failed: " + e, e);
        } finally {
            muteTrace(position() < furthest);
            reversing = false;
            vcpu.stopAtRetired(Long.MAX_VALUE);
            vcpu.setGuestDebug(GuestDebug.NONE);
        }
    }

    private void requireUsable() {
        if (refusal != null) {
            throw new TscvmException("reverse execution is off: " + refusal);
        }
        beginIfNeeded();
    }

    private Checkpoint latestAtOrBefore(long position) {
        Checkpoint best = null;
        for (Checkpoint c : checkpoints) {
            if (c.position() <= position) {
                best = c;
            }
        }
        return best;
    }

    /** Drops the checkpoints past {@code position}: the runner records the future again as it goes. */
    private void forgetAfter(long position) {
        while (checkpoints.size() > 1 && last().position() > position) {
            storedBytes -= checkpoints.remove(checkpoints.size() - 1).bytes();
        }
        nextMark = Math.max(last().position() + interval, position + 1);
    }

    private int indexOf(Checkpoint c) {
        for (int i = 0; i < checkpoints.size(); i++) {
            if (checkpoints.get(i) == c) {
                return i;
            }
        }
        throw new IllegalStateException("checkpoint at " + (c == null ? "none" : c.position()) + " is not in history");
    }

    private Checkpoint last() {
        return checkpoints.get(checkpoints.size() - 1);
    }

    private void restore(Checkpoint c) {
        clock.rewindTo(c.state().time().hostTsc());
        restoreRam(c);
        MachineSnapshot.restoreOverRam(machine, c.state(), RestoreTime.PAUSED);
        machine.rewindSerialOutput(c.serialPosition());
        bias = c.position() - vcpu.instructionsRetired();
    }

    /**
     * Puts RAM as it was at {@code target}: the pages that can differ are those stored to since
     * RAM matched {@link #ramBase}, and those kept by the checkpoints between the two; each
     * comes from the newest checkpoint at or before {@code target} that kept it, else it was zero.
     */
    private void restoreRam(Checkpoint target) {
        memory.syncDirtyLog(DirtyLogClient.REVERSE_EXECUTION, storedSince);
        int to = indexOf(target);
        int from = indexOf(ramBase);
        for (int i = Math.min(from, to) + 1; i <= Math.max(from, to); i++) {
            checkpoints.get(i).ram().markIn(storedSince);
        }
        for (int w = 0; w < storedSince.length; w++) {
            for (long bits = storedSince[w]; bits != 0; bits &= bits - 1) {
                int page = (w << 6) + Long.numberOfTrailingZeros(bits);
                int k = to;
                while (k >= 0 && !checkpoints.get(k).ram().writeTo(memory, page)) {
                    k--;
                }
                if (k < 0) {
                    RamPages.writeZero(memory, page);
                }
            }
        }
        // Those writes made RAM match the target: they are not stores since it.
        memory.syncDirtyLog(DirtyLogClient.REVERSE_EXECUTION, storedSince);
        Arrays.fill(storedSince, 0);
        ramBase = target;
    }

    /** A replayed stretch ended on a checkpoint: the vCPU and the clock must be as recorded there. */
    private void checkAgainst(Checkpoint c) {
        if (clock.now() != c.state().time().hostTsc() || !vcpu.getRegs().equals(c.state().vcpus().get(0).regs())) {
            throw new TscvmException("the replay diverged from the recorded run at instruction " + c.position()
                    + ": host clock " + clock.now() + " (recorded " + c.state().time().hostTsc() + "), rip 0x"
                    + Long.toHexString(vcpu.getRegs().rip()) + " (recorded 0x"
                    + Long.toHexString(c.state().vcpus().get(0).regs().rip()) + ")");
        }
    }

    /**
     * Runs forward from the state just restored until position {@code end} with {@code debug}'s
     * breakpoints and watchpoints, stepping over each breakpoint hit as gdb does; returns the
     * hits on the way. With {@code stopAtHit} at 0 or more it stops on that hit instead.
     */
    private List<Hit> replay(long end, GuestDebug debug, int stopAtHit) {
        List<Hit> hits = new ArrayList<>();
        GuestDebug stepOver = new GuestDebug(true, Set.of(), debug.watchpoints());
        boolean onBreakpoint = false;
        int idle = 0;
        while (position() < end) {
            if (interruptRequested) {
                throw new ReplayInterrupted();
            }
            long before = position();
            vcpu.setGuestDebug(onBreakpoint ? stepOver : debug);
            vcpu.stopAtRetired(end == Long.MAX_VALUE ? Long.MAX_VALUE : end - bias);
            VcpuExit exit = vcpu.run();
            onBreakpoint = false;
            if (exit instanceof VcpuExit.Debug d && d.reason() != VcpuExit.Debug.Reason.SINGLE_STEP) {
                hits.add(new Hit(position(), d));
                if (hits.size() - 1 == stopAtHit) {
                    return hits;
                }
                onBreakpoint = d.reason() == VcpuExit.Debug.Reason.BREAKPOINT;
                idle = 0;
                continue;
            }
            switch (exit.kind()) {
                case PAUSED, IO_OUT, DEBUG -> { }
                default -> throw new TscvmException("the replay ended at instruction " + position()
                        + " with " + exit + ", which the recorded run went past");
            }
            idle = position() == before ? idle + 1 : 0;
            if (idle > MAX_IDLE_RUNS) {
                throw new TscvmException("the replay makes no progress at instruction " + position());
            }
        }
        if (stopAtHit >= 0) {
            throw new TscvmException("the replay did not meet the recorded breakpoint hit again");
        }
        return hits;
    }
}

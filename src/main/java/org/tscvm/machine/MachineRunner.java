package org.tscvm.machine;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.tscvm.gdb.GdbServer;
import org.tscvm.gdb.TargetEvent;
import org.tscvm.qmp.QmpServer;
import org.tscvm.reverse.ExecutionHistory;
import org.tscvm.tsc.HostClock;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VcpuExit;
import org.tscvm.vm.VmConfig;

/**
 * Runs a {@link Machine}'s vCPUs: one thread per vCPU on a real-time clock, all of them in turn
 * on the calling thread on a deterministic one (fixed quanta of host-clock ticks, so a run
 * repeats); the watchdog, standard input to COM1, the end-of-run detection, reboots, the gdb
 * server, and the control surface a monitor uses:
 *
 * <pre>{@code
 * MachineRunner runner = machine.runner();
 * Thread t = new Thread(runner::run);  t.start();
 * runner.pause();                      // every vCPU stopped at an instruction boundary
 * VcpuState s = machine.vm().vcpu(0).saveState();
 * runner.resume();
 * runner.requestQuit("the monitor's quit");
 * }</pre>
 *
 * <p>{@link #pause()}, {@link #resume()}, {@link #systemReset()}, {@link #requestQuit} and
 * {@link #state()} are thread-safe. While paused, no vCPU runs, so the host side of every
 * {@link Vcpu} (saveState, getRegs...) may be used from the thread that paused.
 */
public final class MachineRunner {
    /** Deterministic SMP quantum in host-clock ticks: 40 us at 2.5 GHz, short enough for IPI ping-pong. */
    static final long DETERMINISTIC_QUANTUM_TICKS = 100_000;
    /** How often and how long the real-time run watches for vCPUs that can never run again. */
    private static final long IDLE_POLL_MILLIS = 250;
    static final long IDLE_LIMIT_MILLIS = 5_000;
    /** How long a vCPU thread may take to stop before a reboot (the end of a run waits 1 s at most). */
    private static final long VCPU_STOP_MILLIS = 5_000;

    /** What the run is doing, as QMP's query-status reports it. */
    public enum RunState {
        /** {@link #run()} has not been called. */
        NOT_STARTED,
        /** The vCPUs run. */
        RUNNING,
        /** {@link #pause()} stopped every vCPU (or will, as soon as the run starts). */
        PAUSED,
        /** The run ended; {@link #run()} returned or is returning its result. */
        ENDED
    }

    private final Machine machine;
    private final MachineConfig config;
    private final HostClock clock;
    private final List<VcpuLoop> loops = new ArrayList<>();
    private final AtomicReference<RunResult> result = new AtomicReference<>();
    /** Counted down when the current boot ends (the run's end or a reboot). */
    private volatile CountDownLatch finished = new CountDownLatch(1);
    /** The result that ends a boot for a reset (guest or monitor, without -no-reboot): run() boots again. */
    private volatile RunResult rebootRequest;
    private volatile boolean timedOut;
    private volatile boolean started;
    /** True while standard input may still bring bytes to COM1 (which could wake a vCPU). */
    private volatile boolean inputOpen;
    /** All-stop debugging and the gdb server, or null without {@link MachineConfig#gdb()}. */
    private final DebugGate debugGate;
    private final GdbServer gdbServer;
    /** Reverse execution's checkpoints: with a gdb server on the deterministic clock and one vCPU, else null. */
    private final ExecutionHistory history;
    /** The QMP monitor and its server, or null without {@link MachineConfig#qmp()}. */
    private final MachineMonitor monitor;
    private final QmpServer qmpServer;
    /** Record or replay of COM1's input and the monitor's actions, or null: both then act at once. */
    private volatile InputJournal journal;
    /** Recording: monitor actions waiting for the next pass's start, the point a replay repeats. */
    private final java.util.concurrent.ConcurrentLinkedQueue<InputJournal.MonitorAction> monitorActions =
            new java.util.concurrent.ConcurrentLinkedQueue<>();
    /** Recording: what stdin brought and the UART has not taken yet (the pump adds, passes take). */
    private final PendingInput pending = new PendingInput();
    /** Round-robin passes begun, counted while journaling: the coordinate of each input event. */
    private long passes;

    // The pause gate: the vCPU loops park at it between runs while a pause is wanted.
    private final Object gate = new Object();
    private boolean pauseWanted;
    private int parked;

    MachineRunner(Machine machine, MachineConfig config) {
        this.machine = machine;
        this.config = config;
        this.clock = machine.vm().clock();
        for (Machine.VcpuLink link : machine.vcpuLinks()) {
            loops.add(new VcpuLoop(link));
        }
        MachineConfig.Gdb gdb = config.gdb();
        MachineConfig.Qmp qmp = config.qmp();
        if (qmp != null && qmp.holdAtStart()) {
            pauseWanted = true; // -S or -incoming: the run starts paused until cont or the state arrives
        }
        monitor = qmp == null ? null : new MachineMonitor(this, machine, config);
        qmpServer = qmp == null ? null : QmpServer.start(qmp.address(), monitor, qmp.pretty());
        history = gdb != null && ExecutionHistory.supports(machine)
                ? new ExecutionHistory(machine, gdb.reverseInterval(), ExecutionHistory.DEFAULT_BUDGET_BYTES)
                : null;
        if (gdb == null) {
            debugGate = null;
            gdbServer = null;
        } else {
            debugGate = new DebugGate(machine.vm().vcpus(), !deterministic(), gdb.waitForDebugger(),
                    () -> finish(new RunResult(RunResult.STATUS_KILLED, RunResult.Reason.KILLED,
                            "the debugger killed the run")), history);
            try {
                gdbServer = GdbServer.start(gdb.host(), gdb.port(), debugGate); // last: nothing after it can fail
            } catch (RuntimeException e) {
                if (qmpServer != null) {
                    qmpServer.close();
                }
                throw e;
            }
        }
    }

    /** The QMP server (its port with tcp::0, waiting for a first client), or null without -qmp. */
    public QmpServer qmpServer() {
        return qmpServer;
    }

    /** True while a debugger (gdb) holds the machine: the run state QMP calls "debug". */
    boolean heldByDebugger() {
        return debuggerHolds();
    }

    /** The host thread running vCPU {@code index} (its Linux thread id where known), as QMP reports it. */
    long vcpuThreadId(int index) {
        long tid = loops.get(index).threadId;
        return tid != 0 ? tid : ProcessHandle.current().pid();
    }

    private boolean deterministic() {
        return config.clock() == VmConfig.ClockKind.DETERMINISTIC;
    }

    /**
     * Records or replays COM1's input and the monitor's {@link #systemReset}/{@link #requestQuit}
     * through {@code j}: they then take effect only at the start of a round-robin pass (a single
     * vCPU runs in quanta too), so a replay repeats the run. Call before {@link #run()}.
     *
     * @throws IllegalStateException on a real-time clock, or once the run started
     */
    public void journalInput(InputJournal j) {
        if (!deterministic()) {
            throw new IllegalStateException("record and replay need the deterministic clock");
        }
        if (started) {
            throw new IllegalStateException("the run has started");
        }
        journal = j;
        if (history != null) {
            history.refuse("the record/replay journal owns COM1's input"); // a going back would break the journal's passes
        }
    }

    /** The port the gdb server listens on (useful with port 0), or -1 without one. */
    public int gdbPort() {
        return gdbServer == null ? -1 : gdbServer.port();
    }

    // ---------------------------------------------------------------- the control surface

    /**
     * Stops every vCPU at an instruction boundary and returns once all are stopped (at once if
     * the run has not started: it then starts paused; or has ended). Idempotent.
     *
     * @throws InterruptedException if interrupted while waiting; the pause stays requested
     */
    public void pause() throws InterruptedException {
        synchronized (gate) {
            pauseWanted = true;
        }
        if (!started) {
            return;
        }
        if (!deterministic() || loops.size() == 1) {
            // With several vCPUs on one thread, every turn ends within a quantum by itself; a
            // pause request there would skip a vCPU's next turn and change the run.
            for (VcpuLoop l : loops) {
                l.vcpu.requestPause();
                l.vcpu.wakeSignalWaiters();
            }
        }
        int participants = deterministic() ? 1 : loops.size();
        synchronized (gate) {
            // A debugger holding the machine has every vCPU stopped already (all-stop).
            while (pauseWanted && parked < participants && result.get() == null && !debuggerHolds()) {
                gate.wait(50);
            }
        }
    }

    /** Lets the vCPUs run again after {@link #pause()}. */
    public void resume() {
        synchronized (gate) {
            pauseWanted = false;
            gate.notifyAll();
        }
    }

    /**
     * A machine reset, as the guest pulling the reset line (QMP system_reset): the run reboots
     * (power-on devices, kernel loaded again), or ends with -no-reboot. A paused machine
     * reboots and stays paused; recording, the reset waits for the next pass (after a pause,
     * the pass after cont).
     *
     * @return false, and nothing happens, when the run replays a log: only the log acts on it
     */
    public boolean systemReset() {
        return monitorAction(InputJournal.MonitorAction.SYSTEM_RESET);
    }

    /**
     * Ends the run with exit status 0, as QMP's quit ends QEMU (recording: at the next pass's
     * start, at once also when paused). Replaying, the run ends at once and the replay reports
     * that it stopped short of the recording.
     */
    public void requestQuit(String why) {
        awaitRunStart();
        InputJournal j = journal;
        if (j != null && !j.replaying() && result.get() == null) {
            quitReason = why;
            monitorAction(InputJournal.MonitorAction.QUIT);
            return;
        }
        finish(new RunResult(RunResult.STATUS_SHUTDOWN, RunResult.Reason.SHUTDOWN, why));
    }

    /**
     * Opens when {@link #run()} starts. The QMP server listens from this runner's construction
     * on, so a client can ask for a reset or a quit before the machine holds its runner and
     * before a record or replay journal is in place; such a request waits for the run (at most
     * {@link #RUN_START_WAIT}, then acts as it can: a machine never run has no journal).
     */
    private final CountDownLatch runStarted = new CountDownLatch(1);
    private static final Duration RUN_START_WAIT = Duration.ofSeconds(10);

    private void awaitRunStart() {
        try {
            runStarted.await(RUN_START_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Why the monitor's recorded quit ends the run. */
    private volatile String quitReason = "quit from the monitor";

    private boolean monitorAction(InputJournal.MonitorAction action) {
        awaitRunStart();
        InputJournal j = journal;
        if (j == null) {
            apply(action);
            return true;
        }
        if (j.replaying()) {
            return false;
        }
        monitorActions.add(action);
        synchronized (gate) {
            gate.notifyAll(); // a paused run takes a quit at once
        }
        return true;
    }

    /** Does what the monitor asked: on the journaling thread at a pass's start, or at once. */
    private void apply(InputJournal.MonitorAction action) {
        switch (action) {
            case SYSTEM_RESET -> machine.reset("the monitor's system_reset");
            case QUIT -> finish(new RunResult(RunResult.STATUS_SHUTDOWN, RunResult.Reason.SHUTDOWN, quitReason));
        }
    }

    /** What the run is doing now. */
    public RunState state() {
        if (result.get() != null && result.get() != rebootRequest) {
            return RunState.ENDED;
        }
        synchronized (gate) {
            if (pauseWanted) {
                return RunState.PAUSED;
            }
        }
        return started ? RunState.RUNNING : RunState.NOT_STARTED;
    }

    /** A vCPU loop's stop between runs: parks while a pause is wanted and the run goes on. */
    private void checkpointPause() {
        synchronized (gate) {
            if (!pauseWanted) {
                return;
            }
            parked++;
            gate.notifyAll();
            try {
                while (pauseWanted && result.get() == null && !monitorActions.contains(InputJournal.MonitorAction.QUIT)) {
                    gate.wait();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                parked--;
            }
        }
    }

    private boolean paused() {
        synchronized (gate) {
            return pauseWanted;
        }
    }

    // ---------------------------------------------------------------- running

    /** Runs the guest until it ends the run (or the configured timeout passes). */
    public RunResult run() {
        started = true;
        runStarted.countDown();
        Thread watchdog = startWatchdog(config.timeout());
        Thread input = config.serial() instanceof SerialTarget.Stdio console && (journal == null || !journal.replaying())
                ? startStdinPump(console.in()) : null;
        try {
            while (true) {
                if (deterministic()) {
                    runRoundRobin(Long.MAX_VALUE);
                } else {
                    runThreaded();
                }
                RunResult ended = result.get();
                if (ended != rebootRequest) {
                    break;
                }
                if (timedOut) {
                    result.set(timeoutResult(config.timeout()));
                    break;
                }
                if (machine.suspended()) {
                    RunResult asleep = sleepInS3();
                    if (asleep != null) {
                        result.set(asleep);
                        break;
                    }
                }
                machine.reboot(); // or, after S3, the wakeup
                if (history != null) {
                    history.rebooted();
                }
                finished = new CountDownLatch(1);
                if (!result.compareAndSet(ended, null)) {
                    break; // the run was ended (quit, a debugger's kill, the watchdog) during the reboot
                }
            }
        } finally {
            if (journal != null) {
                journal.ended(point(passes));
            }
            if (watchdog != null) {
                watchdog.interrupt();
            }
            if (input != null) {
                input.interrupt();
            }
            if (gdbServer != null) {
                gdbServer.close(); // after gdb heard how the run ended
            }
            if (qmpServer != null) {
                qmpServer.close(); // after the client had the reply to quit and the SHUTDOWN event
            }
            machine.closeSerial();
            machine.closeTracer(); // after the last vCPU stopped: every event is in
            synchronized (gate) {
                gate.notifyAll(); // a pause() waiting returns: the run is over
            }
        }
        return result.get();
    }

    /**
     * ACPI S3 with every vCPU stopped: waits until the wake event (the RTC alarm) is due — on the
     * deterministic clock the clock simply jumps there — and returns null; or the result that
     * ends the run: nothing can wake the machine, or the time limit passed while it slept.
     */
    private RunResult sleepInS3() {
        long wake = machine.s3WakeHostTsc();
        if (wake == Long.MAX_VALUE) {
            return new RunResult(RunResult.STATUS_SHUTDOWN, RunResult.Reason.SHUTDOWN,
                    "the guest suspended to RAM (ACPI S3) with no wake event enabled (RTC_EN and the RTC alarm)");
        }
        if (deterministic()) {
            clock.advanceTo(wake);
            return null;
        }
        try {
            for (long now = clock.now(); now < wake && !timedOut; now = clock.now()) {
                long millis = Math.max(1, Math.min(10, (wake - now) / Math.max(1, clock.khz())));
                Thread.sleep(millis);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new RunResult(RunResult.STATUS_INTERNAL_ERROR, RunResult.Reason.INTERNAL_ERROR,
                    "interrupted while the guest slept in S3");
        }
        return timedOut ? timeoutResult(config.timeout()) : null;
    }

    /** The end of a boot for a reset: the run boots again once every vCPU stopped. */
    void rebootOn(RunResult reboot) {
        synchronized (this) {
            if (result.get() != null) {
                return; // the run is already ending, or rebooting
            }
            rebootRequest = reboot;
        }
        finish(reboot);
    }

    private void runThreaded() {
        List<Thread> threads = new ArrayList<>();
        for (VcpuLoop l : loops) {
            // concat, not +: an invokedynamic concatenation would spin method handle classes at start-up.
            Thread t = new Thread(l::runOnOwnThread, "vcpu-".concat(Integer.toString(l.vcpu.id())));
            t.setDaemon(true);
            threads.add(t);
        }
        threads.forEach(Thread::start);
        try {
            watchForIdle();
            boolean rebooting = result.get() == rebootRequest;
            for (Thread t : threads) {
                t.join(rebooting ? VCPU_STOP_MILLIS : 1000);
                if (t.isAlive() && rebooting) {
                    // A reboot needs every vCPU stopped; one that does not stop ends the run instead.
                    result.set(new RunResult(RunResult.STATUS_INTERNAL_ERROR, RunResult.Reason.INTERNAL_ERROR,
                            t.getName() + " did not stop for the guest's reset"));
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            finish(new RunResult(RunResult.STATUS_INTERNAL_ERROR, RunResult.Reason.INTERNAL_ERROR,
                    "interrupted while the guest was running"));
        }
    }

    /**
     * Waits for the run to end. With several vCPUs the run loop cannot tell a vCPU halted for
     * good from one another vCPU will wake, so this watches from outside: when no vCPU retires
     * an instruction for {@link #IDLE_LIMIT_MILLIS}, no timer is armed, no input can arrive and
     * nobody paused the machine, nothing can ever happen again and the run ends as halted.
     */
    private void watchForIdle() throws InterruptedException {
        long lastRetired = -1;
        long idleSince = System.nanoTime();
        while (!finished.await(IDLE_POLL_MILLIS, TimeUnit.MILLISECONDS)) {
            long retired = totalRetired();
            long now = System.nanoTime();
            if (retired != lastRetired || anyTimerArmed() || inputOpen || debuggerHolds() || paused()) {
                lastRetired = retired;
                idleSince = now;
            } else if (now - idleSince > TimeUnit.MILLISECONDS.toNanos(IDLE_LIMIT_MILLIS)) {
                finish(new RunResult(RunResult.STATUS_HALTED, RunResult.Reason.HALTED,
                        "no vCPU ran for " + IDLE_LIMIT_MILLIS + " ms with no timer armed and no input: "
                                + "every vCPU is halted or waiting for STARTUP"));
            }
        }
    }

    /**
     * Deterministic mode: runs round-robin passes until the host clock reads {@code hostTsc} or
     * more (checked between passes, so the stop point repeats exactly) or the run ends. The
     * machine can then be inspected or saved, and {@link #run()} continues it.
     *
     * @return true when the machine stopped at the time, false when the run ended first
     * @throws IllegalStateException on a real-time clock
     */
    public boolean runUntil(long hostTsc) {
        if (!deterministic()) {
            throw new IllegalStateException("runUntil needs the deterministic clock");
        }
        runRoundRobin(hostTsc);
        return result.get() == null;
    }

    /**
     * Deterministic mode: every vCPU on this thread, in order, each for a fixed quantum of
     * host-clock ticks (only with SMP or a journal; one vCPU otherwise runs until it exits), until the run ends
     * or the clock reaches {@code stopAtHostTsc} ({@link #runUntil}: the last quanta are cut to
     * end there, also a single vCPU's).
     */
    private void runRoundRobin(long stopAtHostTsc) {
        boolean quanta = loops.size() > 1 || journal != null;
        long tid = currentThreadId();
        for (VcpuLoop l : loops) {
            l.threadId = tid;
        }
        while (result.get() == null && clock.now() < stopAtHostTsc) {
            checkpointPause();
            if (result.get() != null) {
                break;
            }
            if (debugGate != null) {
                try {
                    debugGate.checkpointAll();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    finish(new RunResult(RunResult.STATUS_INTERNAL_ERROR, RunResult.Reason.INTERNAL_ERROR,
                            "interrupted while a debugger held the machine"));
                    break;
                }
            }
            if (journal != null && !exchangeInput()) {
                break;
            }
            boolean anyRunnable = false;
            long retiredBefore = totalRetired();
            for (VcpuLoop l : loops) {
                if (result.get() != null || debuggerHolds()) {
                    break;
                }
                if (debugGate != null && !debugGate.runs(l.vcpu)) {
                    anyRunnable = true; // the debugger keeps it stopped; another vCPU steps
                    continue;
                }
                if (!l.vcpu.takeSignals()) {
                    continue;
                }
                anyRunnable = true;
                if (quanta) {
                    l.interrupts.startQuantum(Math.min(DETERMINISTIC_QUANTUM_TICKS,
                            Math.max(1, stopAtHostTsc - clock.now())));
                } else if (stopAtHostTsc != Long.MAX_VALUE) {
                    l.interrupts.startQuantum(Math.max(1, stopAtHostTsc - clock.now()));
                }
                if (history != null) {
                    history.beforeRun(); // a checkpoint now and then while a debugger is attached
                    l.handle(l.vcpu.run());
                    history.afterRun();
                } else {
                    l.handle(l.vcpu.run());
                }
            }
            if (result.get() != null) {
                break;
            }
            if (debuggerHolds()) {
                continue;
            }
            if (!anyRunnable) {
                if (awaitInput()) {
                    continue;
                }
                finish(new RunResult(RunResult.STATUS_HALTED, RunResult.Reason.HALTED,
                        "no vCPU can run: all wait for a STARTUP IPI"));
            } else if (quanta && totalRetired() == retiredBefore) {
                long next = nextTimerHostTsc();
                if (next != Long.MAX_VALUE) {
                    // Every vCPU waits: time jumps to the first timer any of them has (A2).
                    clock.advanceTo(next);
                } else if (!debuggerAttached() && !awaitInput()) {
                    finish(new RunResult(RunResult.STATUS_HALTED, RunResult.Reason.HALTED,
                            "every vCPU halted with no timer armed and no interrupt pending: "
                                    + loops.get(0).vcpu.describe()));
                }
            }
        }
    }

    /**
     * The start of a pass while journaling: replaying, does what is due here; recording, does
     * the monitor's waiting actions and delivers what stdin brought, and logs both. False when
     * the boot or the run ended here, or the replay diverged (the run then ends).
     */
    private boolean exchangeInput() {
        InputJournal.Point p = point(passes++);
        InputJournal.MonitorAction action;
        while ((action = journal.replaying() ? journal.dueAction(p) : monitorActions.poll()) != null) {
            journal.acted(p, action);
            apply(action);
            if (result.get() != null) {
                return false; // a reset ends this boot (the next begins at the next pass), a quit the run
            }
        }
        byte[] offered = journal.replaying() ? journal.due(p) : pending.peek();
        uartRefusedInput = false;
        if (offered != null && offered.length > 0) {
            int taken = machine.uart().receive(offered, 0, offered.length);
            if (!journal.replaying()) {
                pending.drop(taken);
            }
            if (taken > 0 || journal.replaying()) {
                journal.delivered(p, java.util.Arrays.copyOf(offered, taken), offered.length);
            }
            uartRefusedInput = taken == 0;
        }
        String divergence = journal.divergence();
        if (divergence != null) {
            finish(new RunResult(RunResult.STATUS_SHUTDOWN, RunResult.Reason.SHUTDOWN, divergence));
            return false;
        }
        return true;
    }

    /** The UART took none of the input offered at this pass's start: its FIFO is full. */
    private boolean uartRefusedInput;

    private InputJournal.Point point(long pass) {
        return new InputJournal.Point(pass, clock.now(), loops.get(0).vcpu.instructionsRetired(), totalRetired());
    }

    /**
     * Every vCPU is idle with no timer: journaling, input may still wake one, at the next pass.
     * Recording waits here for stdin or the monitor (the host clock stands still meanwhile, so
     * the delivery point is still one the replay finds); replaying goes on while recorded events
     * remain.
     */
    private boolean awaitInput() {
        if (journal == null) {
            return false;
        }
        if (journal.replaying()) {
            return journal.moreInput() && journal.divergence() == null;
        }
        if (!monitorActions.isEmpty()) {
            return true;
        }
        if (!pending.isEmpty()) {
            return !uartRefusedInput; // input that came during the pass; a full FIFO nobody reads never empties
        }
        try {
            while (pending.isEmpty() && monitorActions.isEmpty() && inputOpen && result.get() == null) {
                Thread.sleep(1);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        return !pending.isEmpty() || !monitorActions.isEmpty();
    }

    /**
     * Under a debugger a round-robin pass may retire nothing (the vCPUs it keeps stopped, a
     * pause it asked for) and the run still goes on.
     */
    private boolean debuggerAttached() {
        return debugGate != null && debugGate.attached();
    }

    private boolean debuggerHolds() {
        return debugGate != null && debugGate.held();
    }

    private long totalRetired() {
        long n = 0;
        for (VcpuLoop l : loops) {
            n += l.vcpu.instructionsRetired();
        }
        return n;
    }

    /** The first timer event of any vCPU (APIC timers, the PIT), or Long.MAX_VALUE. */
    private long nextTimerHostTsc() {
        long next = Long.MAX_VALUE;
        for (VcpuLoop l : loops) {
            next = Math.min(next, l.interrupts.nextTimerHostTsc());
        }
        return next;
    }

    private boolean anyTimerArmed() {
        if (machine.pit().nextEventNanos() != Long.MAX_VALUE) {
            return true;
        }
        for (VcpuLoop l : loops) {
            if (l.link.apic().nextEventHostTsc() != Long.MAX_VALUE) {
                return true;
            }
        }
        return false;
    }

    private Thread startWatchdog(Duration timeout) {
        if (timeout == null) {
            return null;
        }
        // The limit covers the whole run, reboots included; run() interrupts the sleep when it ends.
        Thread t = new Thread(() -> {
            try {
                Thread.sleep(timeout.toMillis());
                timedOut = true;
                finish(timeoutResult(timeout));
            } catch (InterruptedException e) {
                // The run ended first.
            }
        }, "tscvm-watchdog");
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static RunResult timeoutResult(Duration timeout) {
        return new RunResult(RunResult.STATUS_TIMEOUT, RunResult.Reason.TIMEOUT,
                "the run exceeded its time limit of " + timeout.toMillis() + " ms");
    }

    /** Feeds standard input to COM1's receiver; a full FIFO makes it wait for the guest. */
    private Thread startStdinPump(InputStream in) {
        inputOpen = true;
        Thread t = new Thread(() -> {
            byte[] buf = new byte[256];
            try {
                int n;
                while (!Thread.currentThread().isInterrupted() && (n = in.read(buf)) > 0) {
                    if (journal != null) {
                        pending.add(buf, n); // the next round-robin pass delivers it
                        continue;
                    }
                    int done = 0;
                    while (done < n && !Thread.currentThread().isInterrupted()) {
                        if (history != null) {
                            history.inputArrived(); // before and after: a checkpoint between is not trusted
                        }
                        int taken = machine.uart().receive(buf, done, n - done);
                        if (history != null) {
                            history.inputArrived();
                        }
                        done += taken;
                        if (taken == 0) {
                            Thread.sleep(1);
                        }
                    }
                }
            } catch (IOException | InterruptedException e) {
                // End of input or end of the run: the UART simply receives nothing more.
            } finally {
                inputOpen = false;
            }
        }, "tscvm-stdin");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /**
     * The first result wins, except that anything else ends a run whose boot ended for a
     * reboot (a quit during the reboot is not lost); every vCPU is then asked to stop.
     */
    void finish(RunResult r) {
        RunResult current;
        do {
            current = result.get();
            if (current != null && (current != rebootRequest || r == rebootRequest)) {
                return;
            }
        } while (!result.compareAndSet(current, r));
        if (debugGate != null) {
            debugGate.end(endForDebugger(r));
        }
        if (monitor != null) {
            // Here, where this result won: a reboot may reset the result before rebootOn could look.
            if (r == rebootRequest) {
                if (!machine.suspended()) { // an S3 sleep ends in a wakeup, not a RESET
                    monitor.resetHappened();
                }
            } else {
                monitor.runEnded(r);
            }
        }
        for (VcpuLoop l : loops) {
            l.vcpu.requestPause();
            l.vcpu.wakeSignalWaiters();
        }
        synchronized (gate) {
            gate.notifyAll(); // a parked vCPU loop sees the end
        }
        finished.countDown();
    }

    /** How gdb hears of the run's end: W with the exit status, X with a signal when the machine broke. */
    private static TargetEvent.Ended endForDebugger(RunResult r) {
        return switch (r.kind()) {
            case DEBUG_EXIT, SHUTDOWN, RESET, HALTED, TIMEOUT, KILLED, MIGRATION_FAILED ->
                    new TargetEvent.Ended(r.exitStatus(), 0);
            case TRIPLE_FAULT -> new TargetEvent.Ended(r.exitStatus(), SIGSEGV);
            case INTERNAL_ERROR -> new TargetEvent.Ended(r.exitStatus(), SIGABRT);
        };
    }

    private static final int SIGABRT = 6, SIGSEGV = 11;

    /** The calling thread's Linux thread id (from /proc/thread-self), or its Java id elsewhere. */
    private static long currentThreadId() {
        try {
            return Long.parseLong(java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/thread-self"))
                    .getFileName().toString());
        } catch (java.io.IOException | RuntimeException e) {
            return Thread.currentThread().getId();
        }
    }

    /** Bytes from stdin waiting for a round-robin pass to deliver them (journaling only). */
    private static final class PendingInput {
        private byte[] bytes = new byte[0];

        synchronized void add(byte[] b, int n) {
            byte[] more = java.util.Arrays.copyOf(bytes, bytes.length + n);
            System.arraycopy(b, 0, more, bytes.length, n);
            bytes = more;
        }

        synchronized byte[] peek() {
            return bytes;
        }

        synchronized void drop(int n) {
            bytes = java.util.Arrays.copyOfRange(bytes, n, bytes.length);
        }

        synchronized boolean isEmpty() {
            return bytes.length == 0;
        }
    }

    /** One vCPU's loop: run, then act on the exit. */
    private final class VcpuLoop {
        final Machine.VcpuLink link;
        final Vcpu vcpu;
        final VcpuInterrupts interrupts;
        /** The thread running this vCPU (Linux thread id where known), 0 before the run. */
        volatile long threadId;

        VcpuLoop(Machine.VcpuLink link) {
            this.link = link;
            this.vcpu = link.vcpu();
            this.interrupts = link.interrupts();
        }

        void runOnOwnThread() {
            threadId = currentThreadId();
            try {
                while (result.get() == null) {
                    checkpointPause();
                    if (result.get() != null) {
                        break;
                    }
                    if (debugGate != null) {
                        debugGate.checkpoint(vcpu);
                        if (result.get() != null) {
                            break;
                        }
                    }
                    if (!vcpu.takeSignals()) {
                        if (result.get() == null && !paused()) {
                            vcpu.awaitSignal(100);
                        }
                        continue;
                    }
                    handle(vcpu.run());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException bug) {
                finish(new RunResult(RunResult.STATUS_INTERNAL_ERROR, RunResult.Reason.INTERNAL_ERROR,
                        "vCPU " + vcpu.id() + ": " + bug));
            }
        }

        void handle(VcpuExit exit) {
            RunResult r = switch (exit.kind()) {
                case IO_OUT -> {
                    VcpuExit.IoOut io = (VcpuExit.IoOut) exit;
                    yield io.port() >= PcBoard.PORT_DEBUG_EXIT && io.port() < PcBoard.PORT_DEBUG_EXIT + PcBoard.DEBUG_EXIT_SIZE
                            ? RunResult.debugExit(io.value()) : null;
                }
                // Journaling, COM1 input may still wake it: the pass decides (awaitInput).
                case HALT -> journal != null ? null : new RunResult(RunResult.STATUS_HALTED, RunResult.Reason.HALTED,
                        "vCPU " + vcpu.id() + " halted with nothing left to wake it: " + vcpu.describe());
                case PAUSED -> null; // a quantum ended, INIT/SIPI arrived, a pause, or the run is over
                case TRIPLE_FAULT -> new RunResult(RunResult.STATUS_TRIPLE_FAULT, RunResult.Reason.TRIPLE_FAULT,
                        "triple fault on vCPU " + vcpu.id() + ": " + ((VcpuExit.TripleFault) exit).state());
                case INTERNAL_ERROR -> new RunResult(RunResult.STATUS_INTERNAL_ERROR, RunResult.Reason.INTERNAL_ERROR,
                        ((VcpuExit.InternalError) exit).message());
                case DEBUG -> {
                    if (debugGate != null) {
                        debugGate.stopped(vcpu, (VcpuExit.Debug) exit);
                    }
                    yield null;
                }
            };
            if (r != null) {
                finish(r);
            }
        }
    }
}

package org.tscvm.machine;

import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import org.tscvm.TscvmException;
import org.tscvm.gdb.DebugTarget;
import org.tscvm.gdb.TargetEvent;
import org.tscvm.reverse.ExecutionHistory;
import org.tscvm.vm.GuestDebug;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VcpuExit;

/**
 * All-stop debugging for the runner: every thread that runs vCPUs passes {@link #checkpoint}
 * (or, round-robin, {@link #checkpointAll}) before it runs one, and waits there while a
 * debugger holds the machine. A stop (a vCPU's {@link VcpuExit.Debug}, or gdb's Ctrl-C) holds
 * the machine, asks every vCPU to pause, and is reported once the last running thread has
 * parked, so the debugger then reads and writes vCPUs that no thread runs. The monitor's
 * hand-offs order those accesses with the vCPU threads'.
 */
final class DebugGate implements DebugTarget {
    private final List<Vcpu> vcpus;
    /** Threads that park: one per vCPU on the real-time clock, the one round-robin thread otherwise. */
    private final int parties;
    private final Runnable killRun;
    /** Checkpoints for reverse execution, or null where the machine cannot run backwards. */
    private final ExecutionHistory history;

    private Consumer<TargetEvent> listener;
    private boolean held;
    private boolean ended;
    private int parked;
    /** The stop being reported, and whether the listener has it. */
    private TargetEvent.Stopped stop;
    private boolean reported;
    private Action[] actions;
    private GuestDebug debug = GuestDebug.NONE;

    /**
     * @param startHeld {@code -S}: no vCPU runs until a debugger resumes the machine
     * @param killRun   ends the run (gdb's kill)
     * @param history   reverse execution, or null
     */
    DebugGate(List<Vcpu> vcpus, boolean threaded, boolean startHeld, Runnable killRun, ExecutionHistory history) {
        this.vcpus = List.copyOf(vcpus);
        this.parties = threaded ? vcpus.size() : 1;
        this.killRun = killRun;
        this.history = history;
        this.actions = new Action[vcpus.size()];
        Arrays.fill(actions, Action.CONTINUE);
        if (startHeld) {
            held = true;
            stop = new TargetEvent.Stopped(0, null);
        }
    }

    @Override
    public List<Vcpu> vcpus() {
        return vcpus;
    }

    @Override
    public synchronized void attach(Consumer<TargetEvent> newListener) {
        listener = newListener;
        if (history != null) {
            history.start();
        }
        if (ended) {
            return;
        }
        if (!held) {
            hold(new TargetEvent.Stopped(0, null));
        } else if (parked == parties) {
            reported = true;
            listener.accept(stop); // already stopped (-S): report it now
        } else {
            reported = false; // the last thread to park reports it
        }
    }

    @Override
    public synchronized void interrupt(int vcpu) {
        if (!held && !ended) {
            hold(new TargetEvent.Stopped(vcpu, null));
        }
    }

    @Override
    public synchronized void resume(Action[] newActions, GuestDebug newDebug) {
        actions = newActions.clone();
        debug = newDebug;
        held = false;
        stop = null;
        notifyAll();
    }

    @Override
    public synchronized void detach() {
        listener = null;
        if (history != null) {
            history.stop();
        }
        debug = GuestDebug.NONE;
        Arrays.fill(actions, Action.CONTINUE);
        for (Vcpu v : vcpus) {
            v.setGuestDebug(GuestDebug.NONE); // also for vCPUs running now
        }
        held = false;
        stop = null;
        notifyAll();
    }

    @Override
    public synchronized boolean reversible() {
        return history != null && history.available();
    }

    @Override
    public synchronized void reverseStep(int vcpu) {
        requireReversible();
        landed(history.stepBack());
    }

    @Override
    public synchronized void reverseContinue(GuestDebug debugSettings) {
        requireReversible();
        landed(history.continueBack(debugSettings));
    }

    /** Not synchronized: the reverse run it stops holds this gate's lock. */
    @Override
    public void interruptReverse() {
        if (history != null) {
            history.interrupt();
        }
    }

    @Override
    public synchronized void stateWritten() {
        if (history != null && listener != null) {
            history.restart();
        }
    }

    private void requireReversible() {
        if (!reversible() || !held || ended) {
            throw new TscvmException("the machine cannot run backwards now");
        }
    }

    /** A reverse run ended (on the debugger's thread, the machine held all along): the stop is reported at once. */
    private void landed(ExecutionHistory.Landing landing) {
        stop = new TargetEvent.Stopped(0, landing.hit(), landing.historyBegin());
        reported = true;
        if (listener != null) {
            listener.accept(stop);
        }
    }

    @Override
    public void kill() {
        killRun.run();
    }

    /** The run ended: parked threads leave, and the debugger hears how ({@code null}: it needs no word). */
    synchronized void end(TargetEvent.Ended how) {
        ended = true;
        notifyAll();
        if (listener != null && how != null) {
            listener.accept(how);
        }
    }

    /** True while a debugger is attached. */
    synchronized boolean attached() {
        return listener != null;
    }

    /** True while a debugger holds the machine (no progress is expected then). */
    synchronized boolean held() {
        return held;
    }

    /** A vCPU stopped for its debug settings: the machine stops, unless another stop is already on its way. */
    synchronized void stopped(Vcpu vcpu, VcpuExit.Debug why) {
        if (!held && !ended && listener != null) {
            hold(new TargetEvent.Stopped(vcpu.id(), why));
        }
        // Else the vCPU stands before the same breakpoint or watch hit and meets it again on resume.
    }

    /** Real-time runner: waits while the machine is held or this vCPU stays stopped, then sets its debugging. */
    synchronized void checkpoint(Vcpu vcpu) throws InterruptedException {
        while (!ended && (held || actions[vcpu.id()] == Action.STAY_STOPPED)) {
            park();
        }
        vcpu.setGuestDebug(settingsFor(vcpu));
    }

    /** Round-robin runner: waits while the machine is held. */
    synchronized void checkpointAll() throws InterruptedException {
        while (!ended && held) {
            park();
        }
    }

    /** Round-robin runner: whether {@code vcpu} runs in this pass; if so, with its debugging set. */
    synchronized boolean runs(Vcpu vcpu) {
        if (held || actions[vcpu.id()] == Action.STAY_STOPPED) {
            return false;
        }
        vcpu.setGuestDebug(settingsFor(vcpu));
        return true;
    }

    private GuestDebug settingsFor(Vcpu vcpu) {
        return debug.withSingleStep(actions[vcpu.id()] == Action.STEP);
    }

    private void hold(TargetEvent.Stopped why) {
        held = true;
        stop = why;
        reported = false;
        for (Vcpu v : vcpus) {
            v.requestPause();
        }
        if (parked == parties) {
            report();
        }
    }

    private void park() throws InterruptedException {
        parked++;
        try {
            if (parked == parties && held && !reported) {
                report();
            }
            wait();
        } finally {
            parked--;
        }
    }

    private void report() {
        reported = true;
        if (listener != null) {
            listener.accept(stop);
        }
    }
}

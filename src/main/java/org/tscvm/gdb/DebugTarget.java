package org.tscvm.gdb;

import java.util.List;
import java.util.function.Consumer;
import org.tscvm.vm.GuestDebug;
import org.tscvm.vm.Vcpu;

/**
 * What the gdb stub debugs: a machine's vCPUs, stopped and resumed together (all-stop: when
 * one vCPU stops, all stop). The machine's runner implements it. The stub touches a vCPU's
 * state only between a {@link TargetEvent.Stopped} and the next {@link #resume}, when no vCPU
 * runs.
 */
public interface DebugTarget {
    /** What one vCPU does when the machine resumes. */
    enum Action { CONTINUE, STEP, STAY_STOPPED }

    /** The vCPUs; gdb's thread N is vCPU N - 1. */
    List<Vcpu> vcpus();

    /**
     * A debugger takes the machine: events go to {@code listener} from now on, and the machine
     * stops (if it runs) with a {@link TargetEvent.Stopped} without a reason.
     */
    void attach(Consumer<TargetEvent> listener);

    /** Stops every vCPU (gdb's Ctrl-C); a {@link TargetEvent.Stopped} naming {@code vcpu} follows, unless a stop is already on its way. */
    void interrupt(int vcpu);

    /** Resumes the stopped machine: vCPU i does {@code actions[i]}, every vCPU with {@code debug}'s breakpoints and watchpoints. */
    void resume(Action[] actions, GuestDebug debug);

    /** Whether the stopped machine can run backwards ({@link #reverseStep}, {@link #reverseContinue}). */
    boolean reversible();

    /**
     * The stopped machine goes back one instruction of {@code vcpu}; a
     * {@link TargetEvent.Stopped} follows (before this returns).
     *
     * @throws org.tscvm.TscvmException when it cannot (not {@link #reversible()}, a replay that diverged)
     */
    void reverseStep(int vcpu);

    /**
     * The stopped machine goes back to the last hit of {@code debug}'s breakpoints and
     * watchpoints, or to the start of its history; a {@link TargetEvent.Stopped} follows (before
     * this returns).
     *
     * @throws org.tscvm.TscvmException when it cannot (not {@link #reversible()}, a replay that diverged)
     */
    void reverseContinue(GuestDebug debug);

    /**
     * Thread-safe, called from the packet reader while the session's thread is inside
     * {@link #reverseStep} or {@link #reverseContinue} (gdb's Ctrl-C): that reverse run stops
     * where it has got to; its {@link TargetEvent.Stopped} has no reason. Otherwise nothing.
     */
    void interruptReverse();

    /** The debugger changed registers or memory: the recorded history no longer leads here. */
    void stateWritten();

    /** The debugger leaves: no more events, no breakpoints, and the machine runs on. */
    void detach();

    /** Ends the run (gdb's kill). */
    void kill();
}

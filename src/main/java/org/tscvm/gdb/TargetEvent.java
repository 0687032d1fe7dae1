package org.tscvm.gdb;

import org.tscvm.vm.VcpuExit;

/** What the machine tells the stub. */
public sealed interface TargetEvent {
    /**
     * Every vCPU has stopped; {@code vcpu} is the one that caused it, for {@code debug}'s
     * reason, or on request (attach, Ctrl-C) when {@code debug} is null. {@code historyBegin}:
     * reverse execution reached the start of the recorded history.
     */
    record Stopped(int vcpu, VcpuExit.Debug debug, boolean historyBegin) implements TargetEvent {
        public Stopped(int vcpu, VcpuExit.Debug debug) {
            this(vcpu, debug, false);
        }
    }

    /**
     * The run ended: the guest exited with {@code exitStatus} (gdb's W) when {@code signal} is
     * 0, else it was terminated (gdb's X, with that signal number).
     */
    record Ended(int exitStatus, int signal) implements TargetEvent {
    }
}

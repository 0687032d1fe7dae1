package org.tscvm.machine;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.tscvm.qmp.InfoRegisters;
import org.tscvm.qmp.MonitorTarget;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VcpuEvents;
import org.tscvm.vm.VcpuState;

/**
 * The QMP monitor's view of a {@link Machine}: stop and cont through the machine's all-stop
 * gate (the one gdb uses, so a stop waits until every vCPU stands at an instruction boundary),
 * reset and quit through the machine's own reset and end of run, and the run's end and resets
 * as events.
 */
final class MachineMonitor implements MonitorTarget {
    private final Machine machine;
    private final MachineConfig config;
    private final DebugGate gate;
    private volatile Consumer<Event> listener = e -> { };
    /** The monitor's stop holds the machine (as opposed to a debugger's stop). */
    private boolean stoppedByMonitor;
    /** -S with the monitor: held until the first cont. */
    private boolean prelaunch;
    /** Why the run is ending, when the monitor ended it; null otherwise. */
    private volatile String hostCause;
    private volatile boolean ended;

    MachineMonitor(Machine machine, MachineConfig config, DebugGate gate) {
        this.machine = machine;
        this.config = config;
        this.gate = gate;
        this.prelaunch = config.qmp().startPaused() && config.qmp().incoming() == null;
    }

    @Override
    public void setListener(Consumer<Event> newListener) {
        listener = newListener;
    }

    @Override
    public synchronized RunState runState() {
        if (ended) {
            return RunState.SHUTDOWN;
        }
        if (!gate.held()) {
            stoppedByMonitor = false;
            prelaunch = false;
            return RunState.RUNNING;
        }
        return prelaunch ? RunState.PRELAUNCH : stoppedByMonitor ? RunState.PAUSED : RunState.DEBUG;
    }

    @Override
    public synchronized boolean stop() {
        if (ended || gate.held()) {
            return false;
        }
        stoppedByMonitor = awaitStopped();
        return stoppedByMonitor;
    }

    @Override
    public synchronized boolean cont() {
        if (ended || !gate.held()) {
            return false;
        }
        stoppedByMonitor = false;
        prelaunch = false;
        gate.release();
        return true;
    }

    @Override
    public void reset() {
        hostCause = "host-qmp-system-reset";
        machine.reset("the monitor's system_reset", false);
    }

    @Override
    public void quit() {
        hostCause = "host-qmp-quit";
        machine.finish(new RunResult(RunResult.STATUS_SHUTDOWN, RunResult.Reason.SHUTDOWN, "quit from the QMP monitor"));
    }

    @Override
    public void abort(String why) {
        machine.finish(new RunResult(RunResult.STATUS_MIGRATION_FAILED, RunResult.Reason.MIGRATION_FAILED, why));
    }

    @Override
    public List<CpuInfo> cpus() {
        List<CpuInfo> list = new ArrayList<>();
        int perSocket = config.vcpusPerPackage() == 0 ? config.smp() : config.vcpusPerPackage();
        for (Vcpu v : machine.vm().vcpus()) {
            list.add(new CpuInfo(v.id(), machine.vcpuThreadId(v.id()), v.id() / perSocket, v.id() % perSocket));
        }
        return list;
    }

    @Override
    public synchronized String registers(int cpu) {
        boolean wasRunning = !gate.held();
        if (wasRunning && !awaitStopped()) {
            return "the machine has shut down\r\n";
        }
        try {
            VcpuState s = machine.vm().vcpus().get(cpu).saveState();
            return InfoRegisters.format(cpu, s.regs(), s.sregs(), s.events().mpState() == VcpuEvents.MpState.HALTED);
        } finally {
            if (wasRunning) {
                gate.release();
            }
        }
    }

    private boolean awaitStopped() {
        try {
            return gate.holdAndWait();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** The machine reset: by the guest, or by {@link #reset()}. */
    void resetHappened(boolean byGuest) {
        String cause = hostCause;
        hostCause = null;
        listener.accept(new Event.Reset(byGuest, byGuest ? "guest-reset" : cause));
    }

    /** The run ends with {@code result}; the SHUTDOWN event names QEMU's cause for it. */
    void runEnded(RunResult result) {
        ended = true;
        String cause = hostCause;
        boolean guest = cause == null;
        if (guest) {
            cause = switch (result.kind()) {
                case SHUTDOWN, DEBUG_EXIT -> "guest-shutdown";
                case RESET, TRIPLE_FAULT -> "guest-reset";
                case HALTED, INTERNAL_ERROR, TIMEOUT, KILLED, MIGRATION_FAILED -> "host-error";
            };
            guest = !cause.equals("host-error");
        }
        listener.accept(new Event.Shutdown(guest, cause));
    }
}

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
 * The QMP monitor's view of a machine: stop, cont, reset and quit through the runner's control
 * surface ({@link MachineRunner#pause()} returns once every vCPU stands at an instruction
 * boundary), and the run's resets and end as events.
 */
final class MachineMonitor implements MonitorTarget {
    private final MachineRunner runner;
    private final Machine machine;
    private final MachineConfig config;
    private volatile Consumer<Event> listener = e -> { };
    /** -S with the monitor: paused until the first cont ("prelaunch"). */
    private boolean prelaunch;
    /** Why the machine resets or the run ends when the monitor asked for it (QEMU's ShutdownCause); null otherwise. */
    private volatile String hostCause;

    MachineMonitor(MachineRunner runner, Machine machine, MachineConfig config) {
        this.runner = runner;
        this.machine = machine;
        this.config = config;
        this.prelaunch = config.qmp().startPaused() && config.qmp().incoming() == null;
    }

    @Override
    public void setListener(Consumer<Event> newListener) {
        listener = newListener;
    }

    @Override
    public synchronized RunState runState() {
        return switch (runner.state()) {
            case ENDED -> RunState.SHUTDOWN;
            case PAUSED -> prelaunch ? RunState.PRELAUNCH : RunState.PAUSED;
            case NOT_STARTED, RUNNING -> runner.heldByDebugger() ? RunState.DEBUG : RunState.RUNNING;
        };
    }

    @Override
    public synchronized boolean stop() {
        if (runner.state() != MachineRunner.RunState.RUNNING && runner.state() != MachineRunner.RunState.NOT_STARTED) {
            return false;
        }
        awaitPaused();
        return true;
    }

    @Override
    public synchronized boolean cont() {
        if (runner.state() != MachineRunner.RunState.PAUSED) {
            return false;
        }
        prelaunch = false;
        runner.resume();
        return true;
    }

    @Override
    public boolean reset() {
        hostCause = "host-qmp-system-reset";
        if (!runner.systemReset()) {
            hostCause = null;
            return false;
        }
        return true;
    }

    @Override
    public void quit() {
        hostCause = "host-qmp-quit";
        runner.requestQuit("quit from the QMP monitor");
    }

    @Override
    public void abort(String why, boolean incomplete) {
        runner.finish(new RunResult(incomplete ? RunResult.STATUS_MIGRATION_INCOMPLETE : RunResult.STATUS_MIGRATION_FAILED,
                RunResult.Reason.MIGRATION_FAILED, why));
    }

    @Override
    public List<CpuInfo> cpus() {
        List<CpuInfo> list = new ArrayList<>();
        int perSocket = config.vm().vcpusPerPackage() == 0 ? config.smp() : config.vm().vcpusPerPackage();
        for (Vcpu v : machine.vm().vcpus()) {
            list.add(new CpuInfo(v.id(), runner.vcpuThreadId(v.id()), v.id() / perSocket, v.id() % perSocket));
        }
        return list;
    }

    @Override
    public synchronized void whilePaused(Runnable action) {
        boolean wasRunning = runner.state() == MachineRunner.RunState.RUNNING;
        if (wasRunning) {
            awaitPaused();
        }
        try {
            action.run();
        } finally {
            if (wasRunning) {
                runner.resume();
            }
        }
    }

    @Override
    public synchronized String registers(int cpu) {
        boolean wasRunning = runner.state() == MachineRunner.RunState.RUNNING;
        if (wasRunning) {
            awaitPaused();
        }
        try {
            VcpuState s = machine.vm().vcpus().get(cpu).saveState();
            return InfoRegisters.format(cpu, s.regs(), s.sregs(), s.events().mpState() == VcpuEvents.MpState.HALTED);
        } finally {
            if (wasRunning) {
                runner.resume();
            }
        }
    }

    private void awaitPaused() {
        try {
            runner.pause();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The machine reset: by the guest, or by {@link #reset()}. */
    void resetHappened() {
        String cause = hostCause;
        hostCause = null;
        listener.accept(new Event.Reset(cause == null, cause == null ? "guest-reset" : cause));
    }

    /** The run ends with {@code result}; the SHUTDOWN event names QEMU's cause for it. */
    void runEnded(RunResult result) {
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

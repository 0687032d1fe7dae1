package org.tscvm.qmp;

import java.util.List;
import java.util.function.Consumer;

/**
 * What the QMP monitor controls: a machine's run state, its vCPUs and its lifetime. The
 * machine's runner implements it; the monitor knows nothing else of the machine. Every method
 * may be called from the monitor's threads while the vCPUs run.
 */
public interface MonitorTarget {
    /** QEMU's RunState names, as {@code query-status} reports them (the ones tscvm can be in). */
    enum RunState {
        RUNNING("running"), PAUSED("paused"), PRELAUNCH("prelaunch"), DEBUG("debug"), SHUTDOWN("shutdown"),
        INMIGRATE("inmigrate"), POSTMIGRATE("postmigrate"), FINISH_MIGRATE("finish-migrate");

        public final String qapiName;

        RunState(String qapiName) {
            this.qapiName = qapiName;
        }
    }

    /** One vCPU as {@code query-cpus-fast} describes it. */
    record CpuInfo(int index, long threadId, int socketId, int coreId) {
    }

    /** Something the machine did that the monitor announces (QEMU's ShutdownCause names in {@code reason}). */
    sealed interface Event {
        /** The machine reset (and runs on): QMP's RESET. */
        record Reset(boolean guest, String reason) implements Event {
        }

        /** The run ends: QMP's SHUTDOWN; the process exits after it. */
        record Shutdown(boolean guest, String reason) implements Event {
        }
    }

    /** Where events go from now on (one listener; the monitor's server). */
    void setListener(Consumer<Event> listener);

    RunState runState();

    /**
     * Stops every vCPU and returns once each has stopped at an instruction boundary (QMP's
     * stop); false if it was not running (nothing changed).
     */
    boolean stop();

    /**
     * Runs {@code action} with every vCPU stopped at an instruction boundary, then lets them
     * run on if they were running: the brief stop of a live migration's dirty-page sync. No
     * STOP or RESUME event; the run state stays what it was.
     */
    void whilePaused(Runnable action);

    /** Resumes the vCPUs (QMP's cont); false if they were already running. */
    boolean cont();

    /**
     * A reset as the reset button makes it (QMP's system_reset); a {@link Event.Reset} follows.
     * False, and nothing happens, while the run replays a recording (only the log acts on it).
     */
    boolean reset();

    /** Ends the run with status 0 (QMP's quit); a {@link Event.Shutdown} follows. */
    void quit();

    /**
     * Ends the run as a failure of the host side ({@code why} is the one line to show): an
     * incoming state that cannot be loaded, or ({@code incomplete}) whose stream ended before it
     * was whole.
     */
    void abort(String why, boolean incomplete);

    List<CpuInfo> cpus();

    /** QEMU's {@code info registers} text for one vCPU, read with the vCPUs stopped for the moment. */
    String registers(int cpu);
}

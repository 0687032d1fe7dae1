package org.tscvm.snapshot;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.tscvm.TscvmException;
import org.tscvm.Version;
import org.tscvm.machine.BoardState;
import org.tscvm.machine.Machine;
import org.tscvm.machine.MachineConfig;
import org.tscvm.snapshot.SnapshotException.Kind;
import org.tscvm.trace.TraceKind;
import org.tscvm.tsc.HostClock;
import org.tscvm.tsc.TscState;
import org.tscvm.vm.InvalidVcpuStateException;
import org.tscvm.vm.LocalInterruptController;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VcpuLapic;
import org.tscvm.vm.VcpuState;
import org.tscvm.vm.Vm;
import org.tscvm.vm.VmTscState;

/**
 * Whole-machine snapshots: the entry points. One convention holds below them: each component
 * that has state gives it as an immutable record from {@code saveState()} and takes one back
 * through {@code restoreState(State)}, which checks it before changing anything (the devices,
 * the board, {@code Cpu}, {@link Vcpu#saveState()}); the VM's TSC state is
 * {@link Vm#saveTscState()} and {@link Vm#restoreTscState}, the board's
 * {@link Machine#saveBoard()} and {@link Machine#restoreBoard}. Every vCPU must be stopped while a machine is
 * saved or restored (before {@link Machine#run()}, after {@link Machine#runUntil}, or paused by
 * the runner); the streams may be files or sockets.
 *
 * <pre>{@code
 * // save
 * try (OutputStream out = Files.newOutputStream(path)) {
 *     MachineSnapshot.write(machine, out);
 * }
 * // restore: read and check everything first, then apply
 * MachineState state = MachineSnapshot.read(path);          // SnapshotException: corrupt, truncated, ...
 * MachineSnapshot.check(state, config);                     // SnapshotException: CONFIG_MISMATCH
 * Machine fresh = new Machine(config);
 * MachineSnapshot.restore(fresh, state, RestoreTime.WALL_CLOCK);
 * fresh.run();
 * }</pre>
 */
public final class MachineSnapshot {
    private MachineSnapshot() {
    }

    /** Reads every component's state out of {@code machine} (stopped): one consistent instant. */
    public static MachineState save(Machine machine) {
        return save(machine, true);
    }

    /**
     * As {@link #save(Machine)} with no RAM in the state: the end of a pre-copy migration, whose
     * RAM went ahead page by page (docs/migration-stream.md).
     */
    public static MachineState saveWithoutRam(Machine machine) {
        return save(machine, false);
    }

    private static MachineState save(Machine machine, boolean withRam) {
        Vm vm = machine.vm();
        HostClock clock = vm.clock();
        // The TSC state first: it reads the host clock once for all vCPUs (A7).
        long hostTsc = clock.now();
        VmTscState tsc = vm.saveTscState();
        SavedTime time = new SavedTime(epochNanos(Instant.now()), clock.khz(), hostTsc, clock.tscAdjust(),
                clock.deterministic(), tsc);
        List<VcpuState> vcpus = new ArrayList<>();
        for (Vcpu vcpu : vm.vcpus()) {
            vcpus.add(vcpu.saveState());
        }
        BoardState board = machine.saveBoard();
        if (vm.tracer() != null) {
            vm.tracer().stateEvent(TraceKind.SNAPSHOT); // on every vCPU's track, at the saved instant
        }
        return new MachineState(Version.VERSION, ConfigFingerprint.of(machine.config()), time, board, vcpus,
                withRam ? RamImage.save(vm.memory()) : RamImage.of(vm.memory().size(), List.of()));
    }

    /**
     * Saves {@code machine} (stopped until this returns) to {@code out}; the stream is flushed,
     * not closed. RAM is encoded as it is written, never held whole.
     */
    public static void write(Machine machine, OutputStream out) throws IOException {
        SnapshotWriter.write(saveWithoutRam(machine), machine.vm().memory(), out);
    }

    /** Writes {@code state} to {@code out} in the format of docs/snapshot-format.md; flushed, not closed. */
    public static void write(MachineState state, OutputStream out) throws IOException {
        SnapshotWriter.write(state, out);
    }

    /** Saves {@code machine} (stopped until this returns) to the file {@code path}, replacing it. */
    public static void write(Machine machine, Path path) throws IOException {
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(path))) {
            write(machine, out);
        }
    }

    /**
     * Reads a whole snapshot from {@code in} and checks every section (lengths, CRCs, contents)
     * before returning it; reads up to the end section, not beyond.
     *
     * @throws SnapshotException with the kind and the section of the first fault
     */
    public static MachineState read(InputStream in) {
        return SnapshotReader.read(in);
    }

    /** {@link #read(InputStream)} of the file {@code path}. */
    public static MachineState read(Path path) {
        InputStream in;
        try {
            in = new BufferedInputStream(Files.newInputStream(path), 1 << 16);
        } catch (IOException | RuntimeException e) {
            throw new SnapshotException(Kind.UNREADABLE, null, "cannot open " + path + ": " + e.getMessage());
        }
        try (in) {
            return read(in);
        } catch (IOException e) {
            throw new SnapshotException(Kind.UNREADABLE, null, "cannot close " + path + ": " + e.getMessage());
        }
    }

    /**
     * Refuses {@code state} for a machine built from {@code config} unless the configuration
     * fingerprints agree; the message names every field that differs.
     *
     * @throws SnapshotException of kind {@link Kind#CONFIG_MISMATCH}
     */
    public static void check(MachineState state, MachineConfig config) {
        List<String> differences = state.config().differencesFrom(ConfigFingerprint.of(config));
        if (!differences.isEmpty()) {
            throw new SnapshotException(Kind.CONFIG_MISMATCH, SnapshotFormat.Section.CONF.displayName(),
                    "the snapshot is of another machine: " + String.join("; ", differences));
        }
    }

    /**
     * Puts {@code machine} (stopped; built from a configuration that {@link #check}s) into
     * {@code state}, with the guest's time moved on by {@code restoreTime}'s downtime. What can
     * refuse is checked or tried first, so a refusal leaves the machine as it was.
     *
     * <p>The order, and why: (1) the configuration, the sizes and the saved TSC frequencies are
     * checked; (2) every vCPU's state ({@link Vcpu#restoreState}, which checks it whole before it
     * changes anything; if one vCPU refuses, those restored before it are put back); (3) RAM;
     * (4) on a deterministic clock at the saved frequency and adjust, the clock moves forward to
     * the saved reading, so the continuation repeats the original run tick for tick; (5) the TSC
     * state of all vCPUs at one host instant ({@link Vm#restoreTscState}: frequency, then exact
     * offsets, then TSC_ADJUST, TSC_AUX and the deadline), after (2)'s per-vCPU host writes of
     * the TSC, which it overrides; (6) the board's devices, the device time moved on by the same
     * downtime (its own order: devices that raise interrupts, then the 8259 pair and the I/O
     * APIC); (7) every local APIC once more, last: its timers are kept in guest TSC cycles and
     * need (4) and (5)'s clock, frequency and offset, and (6) may have delivered into its request
     * register what the saved page already holds.
     *
     * @throws SnapshotException of kind {@link Kind#CONFIG_MISMATCH} when the machine differs or
     *         cannot run a saved TSC frequency on its host clock, of kind {@link Kind#CORRUPT}
     *         when a vCPU refuses its state
     */
    public static void restore(Machine machine, MachineState state, RestoreTime restoreTime) {
        restore(machine, state, restoreTime, true);
    }

    /**
     * As {@link #restore(Machine, MachineState, RestoreTime)}, leaving RAM as it is: the end of a
     * pre-copy migration, whose pages are already in place. The state must hold no RAM.
     */
    public static void restoreOverRam(Machine machine, MachineState state, RestoreTime restoreTime) {
        if (state.ram().storedPages() != 0) {
            throw new SnapshotException(Kind.CORRUPT, SnapshotFormat.Section.RAM.displayName(),
                    "a migration's final state holds RAM sections; its RAM comes before it, page by page");
        }
        restore(machine, state, restoreTime, false);
    }

    private static void restore(Machine machine, MachineState state, RestoreTime restoreTime, boolean applyRam) {
        check(state, machine.config());
        Vm vm = machine.vm();
        HostClock clock = vm.clock();
        List<Vcpu> vcpus = vm.vcpus();
        if (vcpus.size() != state.vcpus().size() || vm.memory().size() != state.ram().ramBytes()) {
            throw new SnapshotException(Kind.CONFIG_MISMATCH, SnapshotFormat.Section.CONF.displayName(),
                    "this machine has " + vcpus.size() + " vCPU(s) and " + vm.memory().size()
                            + " bytes of RAM; the snapshot has " + state.vcpus().size() + " and "
                            + state.ram().ramBytes());
        }
        for (VmTscState.Vcpu saved : state.time().tsc().vcpus()) {
            try {
                TscState.checkSettableKhz(saved.tscKhz(), clock.khz());
            } catch (TscvmException e) {
                throw new SnapshotException(Kind.CONFIG_MISMATCH, SnapshotFormat.Section.TIME.displayName(),
                        "this host clock (" + clock.khz() + " kHz) cannot run the guest's TSC at "
                                + saved.tscKhz() + " kHz: " + e.getMessage());
            }
        }
        long downtimeNanos = downtimeNanos(state.time(), restoreTime);

        restoreVcpus(vcpus, state.vcpus());
        if (applyRam) {
            state.ram().applyTo(vm.memory());
        }
        SavedTime time = state.time();
        if (clock.deterministic() && time.deterministic()
                && clock.khz() == time.hostKhz() && clock.tscAdjust() == time.hostTscAdjust()) {
            clock.advanceTo(time.hostTsc());
        }
        vm.restoreTscState(time.tsc(), downtimeNanos);
        BoardState board = state.board();
        machine.restoreBoard(board, board.deviceNanos() + downtimeNanos);
        for (int i = 0; i < vcpus.size(); i++) {
            LocalInterruptController controller = vcpus.get(i).interruptController();
            VcpuLapic lapic = state.vcpus().get(i).lapic();
            if (controller != null && lapic != null) {
                controller.restoreLapic(lapic);
            }
        }
        if (vm.tracer() != null) {
            vm.tracer().stateEvent(TraceKind.RESTORE);
        }
    }

    /** Every vCPU's state, or none: a vCPU that refuses puts back those restored before it. */
    private static void restoreVcpus(List<Vcpu> vcpus, List<VcpuState> states) {
        List<VcpuState> before = new ArrayList<>();
        long[] offsetsBefore = new long[vcpus.size()];
        for (int i = 0; i < vcpus.size(); i++) {
            before.add(vcpus.get(i).saveState());
            offsetsBefore[i] = vcpus.get(i).getTscOffset();
        }
        for (int i = 0; i < vcpus.size(); i++) {
            try {
                vcpus.get(i).restoreState(states.get(i));
            } catch (InvalidVcpuStateException refused) {
                for (int j = 0; j < i; j++) {
                    vcpus.get(j).restoreState(before.get(j));
                    // Its host write of the old TSC may have joined the new generation (R10); the offset is exact (R17).
                    vcpus.get(j).setTscOffset(offsetsBefore[j]);
                }
                throw new SnapshotException(Kind.CORRUPT, "vCPU " + i, refused.getMessage());
            }
        }
    }

    /** The guest time that passes across the restore: wall-clock time since the save, or none. */
    static long downtimeNanos(SavedTime time, RestoreTime restoreTime) {
        if (restoreTime == RestoreTime.PAUSED) {
            return 0;
        }
        return Math.max(0, epochNanos(Instant.now()) - time.savedAtEpochNanos());
    }

    private static long epochNanos(Instant t) {
        return t.getEpochSecond() * 1_000_000_000L + t.getNano();
    }
}

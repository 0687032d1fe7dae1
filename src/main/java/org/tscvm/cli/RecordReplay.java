package org.tscvm.cli;

import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;
import org.tscvm.Version;
import org.tscvm.machine.MachineConfig;
import org.tscvm.machine.InputJournal;
import org.tscvm.machine.SerialTarget;
import org.tscvm.replay.InputRecorder;
import org.tscvm.replay.InputReplayer;
import org.tscvm.replay.ReplayException;
import org.tscvm.replay.ReplayLog;
import org.tscvm.replay.RunFingerprint;
import org.tscvm.replay.StateDigest;
import org.tscvm.vm.VmConfig;

/**
 * {@code run --record FILE} and {@code run --replay FILE}: the run on the deterministic clock
 * with COM1's input logged, or fed back from the log and checked against it
 * (docs/replay-format.md).
 */
final class RecordReplay {
    private RecordReplay() {
    }

    static int run(CommandTable.Parsed p, MachineConfig.Builder b, InputStream in, PrintStream out, PrintStream err) {
        String record = p.value(CommandTable.RECORD);
        String replay = p.value(CommandTable.REPLAY);
        if (record != null && replay != null) {
            throw new OptionException(ExitStatus.USAGE, "--record and --replay: give one of them, not both");
        }
        String option = record != null ? CommandTable.RECORD : CommandTable.REPLAY;
        if (p.value(CommandTable.RESTORE) != null || p.value(CommandTable.INCOMING) != null) {
            throw new OptionException(ExitStatus.USAGE,
                    option + " starts at power-on: it cannot follow --restore or -incoming");
        }
        if (!p.value(CommandTable.SERIAL).equals("stdio")) {
            throw new OptionException(ExitStatus.OPTION_VALUE, option + " logs the console: it needs -serial stdio");
        }
        if (p.isGiven(CommandTable.GDB_DEFAULT) || p.isGiven(CommandTable.GDB)) {
            throw new OptionException(ExitStatus.OPTION_VALUE, option + " cannot log what a debugger does: drop -s/-gdb");
        }
        StateDigest.Hashing serial = new StateDigest.Hashing(out);
        // Replaying, the log is the only input: stdin is not read.
        b.serial(new SerialTarget.Stdio(replay != null ? InputStream.nullInputStream() : in, new PrintStream(serial, false)));
        MachineConfig config = b.build();
        if (config.clock() != VmConfig.ClockKind.DETERMINISTIC) {
            throw new OptionException(ExitStatus.USAGE, option + " needs --clock deterministic: on the real clock"
                    + " a run depends on the host's timing and cannot be replayed");
        }
        try {
            Map<String, String> fingerprint = RunFingerprint.of(config);
            return replay != null ? replay(Path.of(replay), config, fingerprint, serial, err)
                    : record(Path.of(record), config, fingerprint, serial, err);
        } catch (ReplayException e) {
            throw new OptionException(switch (e.kind()) {
                case UNREADABLE -> ExitStatus.FILE;
                case CORRUPT -> ExitStatus.REPLAY_LOG_CORRUPT;
                case CONFIG_MISMATCH -> ExitStatus.REPLAY_CONFIG_MISMATCH;
            }, e.getMessage());
        } catch (java.nio.file.InvalidPathException e) {
            throw new OptionException(ExitStatus.OPTION_VALUE, option + " " + (record != null ? record : replay)
                    + " is not a file name: " + e.getMessage());
        }
    }

    private static int record(Path path, MachineConfig config, Map<String, String> fingerprint,
                              StateDigest.Hashing serial, PrintStream err) {
        try (ReplayLog.Writer log = new ReplayLog.Writer(path, Version.VERSION, fingerprint)) {
            InputRecorder recorder = new InputRecorder(log);
            String[] state = new String[1];
            int status = boot(config, err, recorder, state);
            if (state[0] != null) {
                log.end(new ReplayLog.End(recorder.endedAt(), status, state[0], serial.hex()));
            }
            return status;
        }
    }

    private static int replay(Path path, MachineConfig config, Map<String, String> fingerprint,
                              StateDigest.Hashing serial, PrintStream err) {
        ReplayLog log = ReplayLog.read(path);
        log.checkConfig(fingerprint);
        InputReplayer replayer = new InputReplayer(log);
        String[] state = new String[1];
        int status = boot(config, err, replayer, state);
        if (state[0] == null) {
            return status; // the machine could not be built: Launcher reported why
        }
        String divergence = replayer.checkEnd(new ReplayLog.End(replayer.endedAt(), status, state[0], serial.hex()));
        if (divergence != null) {
            err.println("tscvm: " + divergence);
            return ExitStatus.REPLAY_DIVERGED;
        }
        err.println("tscvm: the replay repeated the recording: " + log.events().size() + " input events, state SHA-256 "
                + state[0]);
        return status;
    }

    /** Boots with {@code journal} attached; {@code state[0]} gets the final state digest once the run ended. */
    private static int boot(MachineConfig config, PrintStream err, InputJournal journal, String[] state) {
        return Launcher.boot(config, err, machine -> machine.runner().journalInput(journal),
                machine -> state[0] = StateDigest.of(machine));
    }
}

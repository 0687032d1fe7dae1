package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tscvm.machine.Machine;
import org.tscvm.machine.MachineConfig;
import org.tscvm.machine.SerialTarget;
import org.tscvm.snapshot.MachineSnapshot;
import org.tscvm.vm.VmConfig;

/**
 * {@code tscvm run ... --restore FILE} continues a saved machine, and refuses a file it cannot
 * use with one line naming the section and a status of its own for each kind of refusal.
 */
class RestoreOptionTest {
    @TempDir
    static Path dir;
    private static Path kernel;
    private static Path snapshot;
    private static String consoleAfterSave;

    @BeforeAll
    static void saveAMachineMidRun() throws Exception {
        kernel = Path.of(System.getProperty("tscvm.guests", "target/guests")).resolve("apic_timer.elf");
        ByteArrayOutputStream serial = new ByteArrayOutputStream();
        Machine m = new Machine(MachineConfig.builder().kernel(kernel).ramBytes(32L << 20)
                .clock(VmConfig.ClockKind.DETERMINISTIC).serial(new SerialTarget.ToStream(serial)).build());
        m.runUntil(40_000_000);
        int printed = serial.size();
        snapshot = dir.resolve("saved.tscvm");
        MachineSnapshot.write(m, snapshot);
        m.run();
        consoleAfterSave = serial.toString(StandardCharsets.ISO_8859_1).substring(printed);
        assertThat(printed).isPositive();
    }

    private static CliRun restore(Path file, String... more) {
        String[] base = {"run", "-kernel", kernel.toString(), "-m", "32", "--clock", "deterministic", "--restore",
            file.toString()};
        String[] args = Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, args, base.length, more.length);
        return CliRun.tscvm(args);
    }

    private static Path damaged(String name, byte[] bytes) throws Exception {
        return CliRun.write(dir, name, bytes);
    }

    @Test
    void restoreContinuesTheSavedMachineFromWhereItStood() {
        CliRun run = restore(snapshot);
        assertThat(run.err()).isEmpty();
        assertThat(run.out()).isEqualTo(consoleAfterSave);
        assertThat(run.out()).contains("SUMMARY: 13 tests, 0 failures");
        assertThat(run.status()).isEqualTo(1); // the guest's own verdict: isa-debug-exit 0, every check passed
        assertThat(restore(snapshot, "--restore-time", "wall").out()).contains("SUMMARY: 13 tests, 0 failures");
    }

    /** With --trace, the restore is an event on the vCPU's track, before anything the guest does after it. */
    @Test
    void aTracedRestoreMarksTheRestoreOnTheVcpuTrack() throws Exception {
        Path trace = dir.resolve("restore-trace.json");
        CliRun run = restore(snapshot, "--trace", trace.toString(), "--trace-kinds", "state,msr");
        assertThat(run.status()).as(run.err()).isEqualTo(1);
        String json = Files.readString(trace);
        assertThat(json).contains("\"RESTORE\"");
        assertThat(json).doesNotContain("\"SNAPSHOT\"");
    }

    @Test
    void onAHostClockOfAnotherRateAndAdjustTheRestoredGuestStillPassesItsTimerChecks() {
        CliRun run = restore(snapshot, "--host-khz", "3100000", "--host-tsc-adjust", "-123456789");
        assertThat(run.err()).isEmpty();
        assertThat(run.out()).contains("SUMMARY: 13 tests, 0 failures").doesNotContain("FAIL");
        assertThat(run.status()).isEqualTo(1);
    }

    @Test
    void eachKindOfRefusalHasItsOwnStatusAndOneLine() throws Exception {
        byte[] good = Files.readAllBytes(snapshot);
        byte[] version = good.clone();
        version[8] = 9;
        byte[] corrupt = good.clone();
        corrupt[good.length / 2] ^= 1;

        CliRun missing = restore(dir.resolve("absent.tscvm"));
        assertThat(missing.status()).isEqualTo(ExitStatus.FILE);
        CliRun.assertOneLine(missing, "cannot open");

        CliRun notOne = restore(damaged("kernel-not-snapshot", "ELF and more".getBytes(StandardCharsets.US_ASCII)));
        assertThat(notOne.status()).isEqualTo(ExitStatus.SNAPSHOT_NOT_A_SNAPSHOT);
        CliRun.assertOneLine(notOne, "not a tscvm snapshot");

        CliRun wrongVersion = restore(damaged("v9", version));
        assertThat(wrongVersion.status()).isEqualTo(ExitStatus.SNAPSHOT_VERSION);
        CliRun.assertOneLine(wrongVersion, "format version 9");

        CliRun truncated = restore(damaged("short", Arrays.copyOf(good, good.length - 100)));
        assertThat(truncated.status()).isEqualTo(ExitStatus.SNAPSHOT_TRUNCATED);
        CliRun.assertOneLine(truncated, "snapshot section RAM");

        CliRun flipped = restore(damaged("flipped", corrupt));
        assertThat(flipped.status()).isEqualTo(ExitStatus.SNAPSHOT_CORRUPT);
        CliRun.assertOneLine(flipped, "CRC-32C does not match");

        CliRun otherMachine = CliRun.tscvm("run", "-kernel", kernel.toString(), "-m", "32", "-smp", "2", "--clock",
                "deterministic", "--restore", snapshot.toString());
        assertThat(otherMachine.status()).isEqualTo(ExitStatus.SNAPSHOT_CONFIG_MISMATCH);
        CliRun.assertOneLine(otherMachine, "smp is 1 in the snapshot but 2 here");
        assertThat(otherMachine.out()).isEmpty(); // no machine ran

        CliRun badTime = restore(snapshot, "--restore-time", "later");
        assertThat(badTime.status()).isEqualTo(ExitStatus.OPTION_VALUE);
        CliRun.assertOneLine(badTime, "--restore-time later is not wall or paused");

        CliRun timeAlone = CliRun.tscvm("run", "-kernel", kernel.toString(), "--restore-time", "paused");
        assertThat(timeAlone.status()).isEqualTo(ExitStatus.USAGE);
        CliRun.assertOneLine(timeAlone, "--restore-time needs --restore FILE");

        assertThat(java.util.Set.of(ExitStatus.FILE, ExitStatus.SNAPSHOT_NOT_A_SNAPSHOT, ExitStatus.SNAPSHOT_VERSION,
                ExitStatus.SNAPSHOT_TRUNCATED, ExitStatus.SNAPSHOT_CORRUPT, ExitStatus.SNAPSHOT_CONFIG_MISMATCH))
                .hasSize(6);
    }

    private static CliRun incoming(Path file) {
        return CliRun.tscvm("run", "-kernel", kernel.toString(), "-m", "32", "--clock", "deterministic", "-qmp",
                "unix:" + dir.resolve(file.getFileName() + ".qmp") + ",server=on,wait=off", "-incoming", "file:" + file);
    }

    /**
     * {@code -incoming file:} takes the same file: whole, the machine continues; cut short (a
     * save that was cancelled), status 44 and one line saying so, with nothing run; damaged,
     * status 36.
     */
    @Test
    void anIncomingStateCutShortEndsWithItsOwnStatusHavingRunNothing() throws Exception {
        byte[] good = Files.readAllBytes(snapshot);
        CliRun whole = incoming(snapshot);
        assertThat(whole.out()).isEqualTo(consoleAfterSave);
        assertThat(whole.status()).as(whole.err()).isEqualTo(1);

        CliRun cut = incoming(damaged("cut", Arrays.copyOf(good, good.length / 3)));
        assertThat(cut.status()).as(cut.err()).isEqualTo(org.tscvm.machine.RunResult.STATUS_MIGRATION_INCOMPLETE);
        CliRun.assertOneLine(cut, "the stream is incomplete; nothing of it ran");
        assertThat(cut.out()).isEmpty();

        byte[] corrupt = good.clone();
        corrupt[good.length / 2] ^= 1;
        CliRun flipped = incoming(damaged("flipped-incoming", corrupt));
        assertThat(flipped.status()).isEqualTo(org.tscvm.machine.RunResult.STATUS_MIGRATION_FAILED);
        CliRun.assertOneLine(flipped, "CRC-32C does not match");
        assertThat(flipped.out()).isEmpty();
    }
}

package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * tscvm's own guest kernels (guests/, built by make into the folder in system property
 * {@code tscvm.guests}) booted through the real command line in this JVM. Each kernel reports
 * on COM1 and exits through isa-debug-exit: status 1 means every check ran and passed. A test
 * is skipped when its kernel was not built.
 */
class GuestKernelsTest {
    @TempDir
    Path dir;

    private static Path kernel(String name) {
        String folder = System.getProperty("tscvm.guests", "target/guests");
        Path p = Path.of(folder, name + ".elf");
        assumeTrue(Files.isRegularFile(p), "guest kernel " + p + " was not built");
        return p;
    }

    private record Boot(int status, String serial, String err) {
    }

    private Boot boot(String name, String... options) throws IOException {
        Path serial = dir.resolve(name + "-" + System.nanoTime() + ".txt");
        List<String> args = new ArrayList<>(List.of("run", "-kernel", kernel(name).toString(),
                "-serial", "file:" + serial, "--timeout", "120"));
        args.addAll(List.of(options));
        CliRun run = CliRun.tscvm(args.toArray(new String[0]));
        return new Boot(run.status(), Files.readString(serial), run.err());
    }

    private static void assertAllPassed(Boot b) {
        assertThat(b.status()).as(b.serial() + b.err()).isEqualTo(1);
        assertThat(b.serial()).contains("SUMMARY:").contains(" 0 failures").doesNotContain("FAIL:");
    }

    @ParameterizedTest
    @CsvSource({"boot", "tsc", "exceptions", "ring3", "smc", "demo", "apic_timer"})
    void eachKernelPassesEveryCheckOnADeterministicClock(String name) throws IOException {
        assertAllPassed(boot(name, "--clock", "deterministic", "-cpu", "max"));
    }

    @Test
    void pagingPassesWhatItChecksAndSkipsOnlyOneGibPagesWhichTscvmDoesNotAdvertise() throws IOException {
        Boot b = boot("paging", "--clock", "deterministic", "-cpu", "max");
        // 77 = SKIP: every check that ran passed; CPUID 0x80000001 EDX[26] (1 GiB pages) is off.
        assertThat(b.status()).as(b.serial()).isIn(1, 77);
        assertThat(b.serial()).contains(" 0 failures").doesNotContain("FAIL:");
    }

    @ParameterizedTest
    @CsvSource({"boot", "tsc", "apic_timer"})
    void timingKernelsAlsoPassOnTheRealClock(String name) throws IOException {
        assertAllPassed(boot(name, "--clock", "real"));
    }

    @Test
    void bootKernelSeesTheMultibootInformation() throws IOException {
        Path env = dir.resolve("env");
        Files.writeString(env, "NR_CPUS=1\n");
        Boot b = boot("boot", "--clock", "deterministic", "-append", "hello world", "-initrd", env.toString());
        assertAllPassed(b);
        assertThat(b.serial()).contains("hello world").contains("tscvm");
    }

    private static long field(String text, String name) {
        Matcher m = Pattern.compile(name + "=(\\d+)").matcher(text);
        assertThat(m.find()).as(name + " in " + text).isTrue();
        return Long.parseLong(m.group(1));
    }

    /**
     * On the real clock the guest's measurement window is exposed to host scheduling (the run
     * shares its cores; a JIT compile or a preempted thread between the guest's TSC read and
     * the PIT load skews one window), so, like Linux's own PIT calibration, it gets three tries.
     * The deterministic test below has no such noise.
     */
    @Test
    void pitCalibratedTscFrequencyMatchesCpuidWithin250PpmOnTheRealClock() throws IOException {
        long bestPpm = Long.MAX_VALUE;
        // A host stall at the end of a 50 ms window shows as a fast TSC: the best of up to 15.
        for (int attempt = 0; attempt < 5 && bestPpm > 250; attempt++) {
            Boot b = boot("pit", "--clock", "real");
            long pit = field(b.serial(), "pit_khz");
            long cpuid = field(b.serial(), "cpuid_khz");
            bestPpm = Math.min(bestPpm, Math.abs(pit - cpuid) * 1_000_000 / cpuid);
        }
        assertThat(bestPpm).isLessThanOrEqualTo(250);
    }

    @Test
    void pitCalibrationOnTheDeterministicClockIsExactAndRepeats() throws IOException {
        Boot first = boot("pit", "--clock", "deterministic");
        Boot second = boot("pit", "--clock", "deterministic");
        assertAllPassed(first);
        long pit = field(first.serial(), "pit_khz");
        long cpuid = field(first.serial(), "cpuid_khz");
        // The PIT and the TSC run off one clock that moves with every instruction (A2, A5).
        assertThat(pit).isEqualTo(cpuid);
        assertThat(second.serial()).isEqualTo(first.serial());
    }

    @Test
    void fourVcpusNeverSeeTheTscGoBackwardsOnTheRealClock() throws IOException {
        Boot b = boot("smp", "-smp", "4", "--clock", "real");
        assertAllPassed(b);
        assertThat(b.serial()).contains("cpu 3");
    }

    @Test
    void aDeterministicSmpRunRepeatsBitForBit() throws IOException {
        Boot first = boot("smp", "-smp", "4", "--clock", "deterministic");
        Boot second = boot("smp", "-smp", "4", "--clock", "deterministic");
        assertAllPassed(first);
        assertThat(second.serial()).isEqualTo(first.serial());
    }

    /**
     * The platform as an operating system finds it: RSDP by scanning, XSDT, MADT, FADT, DSDT,
     * the PIT through the I/O APIC, the PM timer against the TSC, and power-off through
     * PM1a_CNT (status 0, not isa-debug-exit). On the deterministic clock the PM timer and the
     * TSC run off one clock, so the calibration is exact.
     */
    @Test
    void acpiKernelWalksTheTablesRoutesThePitAndPowersOffThroughPm1aOnADeterministicClock() throws IOException {
        Boot b = boot("acpi", "--clock", "deterministic", "-smp", "2");
        assertThat(b.status()).as(b.serial() + b.err()).isZero();
        assertThat(b.serial()).contains("SUMMARY:").contains(" 0 failures").doesNotContain("FAIL:")
                .contains("MADT: 2 cpus").contains("powering off through PM1a_CNT");
        assertThat(field(b.serial(), "pm_khz")).isEqualTo(field(b.serial(), "cpuid_khz"));
    }

    /** On the real clock host scheduling can spoil a window, so the kernel measures three times and the test boots up to three times. */
    @Test
    void acpiKernelPassesOnTheRealClock() throws IOException {
        Boot b = null;
        for (int attempt = 0; attempt < 3 && (b == null || b.status() != 0); attempt++) {
            b = boot("acpi", "--clock", "real");
        }
        assertThat(b.status()).as(b.serial() + b.err()).isZero();
        assertThat(b.serial()).contains(" 0 failures").contains("powering off through PM1a_CNT");
    }

    /**
     * timekeeper.elf, the kernel snapshots and migrations are judged by: every CPU checks its
     * TSC (own and shared monotonicity), TSC_ADJUST, TSC_AUX, a re-armed TSC-deadline timer
     * and a memory pattern, round after round. Here on a plain run, on both clocks.
     */
    @ParameterizedTest
    @CsvSource({"deterministic", "real"})
    void timekeeperSeesNothingGoWrongOnFourVcpus(String clock) throws IOException {
        Boot b = boot("timekeeper", "-smp", "4", "-m", "128M", "--clock", clock, "-append", "rounds=3 mem=4");
        assertAllPassed(b);
        assertThat(b.serial()).contains("round 3:").contains("TSC-deadline timer");
    }

    /** The checks can fail: a vCPU whose TSC starts a second behind the others is caught. */
    @Test
    void timekeeperCatchesAVcpuWhoseTscIsBehind() throws IOException {
        Boot b = boot("timekeeper", "-smp", "2", "-m", "128M", "--clock", "deterministic",
                "--tsc-warp", "1=-1000000000", "-append", "rounds=2 mem=4");
        assertThat(b.status()).as(b.serial()).isEqualTo(3);
        assertThat(b.serial()).contains("TSC behind a value another CPU already read");
    }

    /**
     * kvmclock.elf (docs/time-rules.md R20, the checks of kvm-unit-tests' kvmclock_test and
     * more) on two vCPUs, both clocks: each structure filled in with the version protocol, one
     * kvmclock across CPUs, the master clock's stable flag, the TSC rate, the wall clock, no jump
     * across a TSC_ADJUST write, no write once disabled.
     */
    @ParameterizedTest
    @CsvSource({"deterministic", "real"})
    void kvmclockKernelPassesWithKvmclockAdvertised(String clock) throws IOException {
        Boot b = boot("kvmclock", "-smp", "2", "--clock", clock, "-cpu", "tscvm,+kvmclock,+kvmclock-stable-bit");
        assertAllPassed(b);
        assertThat(b.serial()).contains("pvclock TSC rate 2500000 kHz");
    }

    /**
     * Through tscvm-qemu, kvm-unit-tests' way: under {@code -machine accel=kvm} the default CPU
     * has QEMU's KVM defaults and the kernel passes; under accel=tcg it skips, as on QEMU TCG.
     */
    @ParameterizedTest
    @CsvSource({"kvm, 1", "tcg, 77"})
    void kvmclockKernelThroughTheQemuFrontEndFollowsTheAccelerator(String accel, int status) throws IOException {
        Path serial = dir.resolve("kvmclock-qemu-" + accel + ".txt");
        CliRun run = CliRun.qemu("-nodefaults", "-machine", "accel=" + accel, "-smp", "2", "-serial", "file:" + serial,
                "-kernel", kernel("kvmclock").toString());
        assertThat(run.status()).as(Files.readString(serial) + run.err()).isEqualTo(status);
    }

    /** The default model has no kvmclock: the kernel skips (77), as kvmclock_test does on QEMU TCG. */
    @Test
    void kvmclockKernelSkipsOnTheDefaultModel() throws IOException {
        Boot b = boot("kvmclock", "--clock", "deterministic");
        assertThat(b.status()).as(b.serial()).isEqualTo(77);
    }

    /** Its checks can fail: vCPUs in two TSC generations leave no master clock, so no stable flag. */
    @Test
    void kvmclockKernelCatchesAMissingMasterClock() throws IOException {
        Boot b = boot("kvmclock", "-smp", "2", "--clock", "deterministic", "-cpu", "tscvm,+kvmclock,+kvmclock-stable-bit",
                "--tsc-warp", "1=-1000000000");
        assertThat(b.status()).as(b.serial()).isEqualTo(3);
        assertThat(b.serial()).contains("FAIL: the TSC-stable flag is set (master clock)");
    }
}

package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tscvm.Version;
import org.tscvm.machine.RunResult;
import org.tscvm.memory.GuestMemory;

class MainTest {
    @TempDir
    Path dir;

    /** out 0x3F8 "Hi\n", then outl 0x10 to 0xF4 (status 33). */
    static final byte[] HELLO = CliRun.bytes(
            0x66, 0xba, 0xf8, 0x03,       // mov dx, 0x3f8
            0xb0, 'H', 0xee,              // mov al, 'H'; out dx, al
            0xb0, 'i', 0xee,              // mov al, 'i'; out dx, al
            0xb0, '\n', 0xee,             // mov al, '\n'; out dx, al
            0x66, 0xba, 0xf4, 0x00,       // mov dx, 0xf4
            0xb8, 0x10, 0x00, 0x00, 0x00, // mov eax, 0x10
            0xef,                         // out dx, eax
            0xf4);                        // hlt

    @Test
    void initramfsPacksBusyboxAndTheBundledInitOrSaysWhatIsMissing() throws Exception {
        Path busybox = dir.resolve("busybox");
        java.nio.file.Files.write(busybox, new byte[] {0x7f, 'E', 'L', 'F'});
        Path out = dir.resolve("initrd.gz");
        CliRun ok = CliRun.tscvm("initramfs", "--busybox", busybox.toString(), "-o", out.toString());
        assertThat(ok.status()).as(ok.err()).isZero();
        byte[] cpio;
        try (var in = new java.util.zip.GZIPInputStream(java.nio.file.Files.newInputStream(out))) {
            cpio = in.readAllBytes();
        }
        String text = new String(cpio, java.nio.charset.StandardCharsets.ISO_8859_1);
        assertThat(text).contains("bin/busybox", "dev/console", "init\0", "say \"cpus online", "TRAILER!!!");

        CliRun noOutput = CliRun.tscvm("initramfs", "--busybox", busybox.toString());
        assertThat(noOutput.status()).isEqualTo(ExitStatus.USAGE);
        CliRun.assertOneLine(noOutput, "-o FILE");
        CliRun noBusybox = CliRun.tscvm("initramfs", "--busybox", dir.resolve("nope").toString(), "-o", out.toString());
        assertThat(noBusybox.status()).isEqualTo(ExitStatus.FILE);
        CliRun.assertOneLine(noBusybox, "nope");
    }

    @Test
    void versionPrintsTheVersion() {
        CliRun run = CliRun.tscvm("--version");
        assertThat(run.status()).isZero();
        assertThat(run.out()).contains("tscvm " + Version.VERSION);
    }

    @Test
    void helpNamesTheSubcommandsAndRunHelpExplainsEachOption() {
        CliRun run = CliRun.tscvm("--help");
        assertThat(run.status()).isZero();
        assertThat(run.out()).contains("run", "demo", "cpuid");
        CliRun runHelp = CliRun.tscvm("run", "--help");
        assertThat(runHelp.out()).contains("-kernel", "-append", "-initrd", "-smp", "-m", "-cpu", "-serial",
                "--tsc-khz", "--host-tsc-adjust", "--clock", "--msr-policy", "--host-tsc", "--jit-threshold", "--vmport");
    }

    @Test
    void aFlatKernelRunsThroughTheCommandLineAndItsDebugExitIsTheStatus() throws IOException {
        Path kernel = CliRun.write(dir, "hello.bin", HELLO);
        Path serial = dir.resolve("serial.txt");
        CliRun run = CliRun.tscvm("run", "-kernel", kernel.toString(), "--flat", "0x8000",
                "-serial", "file:" + serial, "--clock", "deterministic", "-m", "16");
        assertThat(run.status()).as(run.err()).isEqualTo(33);
        assertThat(Files.readString(serial)).isEqualTo("Hi\n");
        assertThat(run.err()).isEmpty();
    }

    @Test
    void hostTscTakesStableOrUnstableAndRefusesAnythingElseWithStatus18() throws IOException {
        Path kernel = CliRun.write(dir, "hello-unstable.bin", HELLO);
        CliRun run = CliRun.tscvm("run", "-kernel", kernel.toString(), "--flat", "0x8000", "-serial", "none",
                "--clock", "deterministic", "-m", "16", "--host-tsc", "unstable");
        assertThat(run.status()).as(run.err()).isEqualTo(33);
        CliRun bad = CliRun.tscvm("run", "-kernel", kernel.toString(), "--host-tsc", "sideways");
        assertThat(bad.status()).isEqualTo(ExitStatus.OPTION_VALUE);
        assertThat(bad.err()).contains("--host-tsc sideways is not stable or unstable");
    }

    @Test
    void aMultibootKernelWithInitrdAndAppendRuns() throws IOException {
        Path kernel = CliRun.write(dir, "mb.elf", CliRun.multibootElf32(0x100000, HELLO));
        Path env = CliRun.write(dir, "env", "A=1\n".getBytes(StandardCharsets.US_ASCII));
        CliRun run = CliRun.tscvm("run", "-kernel", kernel.toString(), "-initrd", env.toString(),
                "-append", "x y", "-serial", "none", "-smp", "2", "--timeout", "30");
        assertThat(run.status()).as(run.err()).isEqualTo(33);
    }

    @Test
    void serialStdioInTheJvmWritesToTheCallersStreamAndNeverReadsSystemIn() throws IOException {
        // An in-JVM caller (a test runner) owns System.in; the guest console must not drain it.
        Path kernel = CliRun.write(dir, "mb.elf", CliRun.multibootElf32(0x100000, HELLO));
        java.io.InputStream saved = System.in;
        java.io.ByteArrayInputStream runnersInput = new java.io.ByteArrayInputStream(new byte[] {'x', 'y'});
        System.setIn(runnersInput);
        try {
            CliRun run = CliRun.tscvm("run", "-kernel", kernel.toString(), "-serial", "stdio", "--timeout", "30");
            assertThat(run.status()).as(run.err()).isEqualTo(33);
            assertThat(run.out()).contains("Hi\n");
            assertThat(runnersInput.available()).isEqualTo(2);
        } finally {
            System.setIn(saved);
        }
    }

    @Test
    void aMissingKernelFileIsOneLineAndStatus10() {
        CliRun run = CliRun.tscvm("run", "-kernel", dir.resolve("nope.elf").toString(), "-serial", "none");
        assertThat(run.status()).isEqualTo(ExitStatus.FILE);
        CliRun.assertOneLine(run, "nope.elf");
    }

    @Test
    void aMissingInitrdIsStatus10() throws IOException {
        Path kernel = CliRun.write(dir, "mb.elf", CliRun.multibootElf32(0x100000, HELLO));
        CliRun run = CliRun.tscvm("run", "-kernel", kernel.toString(), "-initrd", dir.resolve("env").toString(),
                "-serial", "none");
        assertThat(run.status()).isEqualTo(ExitStatus.FILE);
        CliRun.assertOneLine(run, "initrd");
    }

    @Test
    void aBrokenElfIsOneLineAndStatus12() throws IOException {
        byte[] elf = CliRun.multibootElf32(0x100000, HELLO);
        ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN).putInt(28, 0x40000000); // e_phoff far away
        Path kernel = CliRun.write(dir, "broken.elf", elf);
        CliRun run = CliRun.tscvm("run", "-kernel", kernel.toString(), "-serial", "none");
        assertThat(run.status()).isEqualTo(ExitStatus.KERNEL_IMAGE);
        CliRun.assertOneLine(run, "program header table");
    }

    @Test
    void aFileThatIsNotAKernelIsStatus12() throws IOException {
        Path kernel = CliRun.write(dir, "text.txt", "hello".getBytes(StandardCharsets.US_ASCII));
        CliRun run = CliRun.tscvm("run", "-kernel", kernel.toString(), "-serial", "none");
        assertThat(run.status()).isEqualTo(ExitStatus.KERNEL_IMAGE);
        CliRun.assertOneLine(run, "multiboot header");
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "1", "99999G", "abc", "12Q", "-5", "257G", "1T", "1E", "1e3", "0x10", "1.5", "4097B", ""})
    void anAbsurdMemorySizeIsOneLineAndStatus14(String size) throws IOException {
        Path kernel = CliRun.write(dir, "hello.bin", HELLO);
        CliRun run = CliRun.tscvm("run", "-kernel", kernel.toString(), "-m", size, "-serial", "none");
        assertThat(run.status()).as(run.err()).isEqualTo(ExitStatus.MEMORY_SIZE);
        CliRun.assertOneLine(run, "-m");
        if (size.endsWith("T") || size.startsWith("257")) {
            // The range it names is the range it takes.
            assertThat(run.err()).contains("2 MiB to 256 GiB");
        }
    }

    @Test
    void memorySizesAreParsedAsQemuDoes() {
        assertThat(Launcher.parseMemory("128")).isEqualTo(128L << 20);
        assertThat(Launcher.parseMemory("1G")).isEqualTo(1L << 30);
        assertThat(Launcher.parseMemory("65536k")).isEqualTo(64L << 20);
        assertThat(Launcher.parseMemory("size=256M")).isEqualTo(256L << 20);
        assertThat(Launcher.parseMemory("2048")).isEqualTo(2L << 30);
        assertThat(Launcher.parseMemory("4g")).isEqualTo(4L << 30);
        assertThat(Launcher.parseMemory("4G")).isEqualTo(4L << 30);
        assertThat(Launcher.parseMemory("size=4G")).isEqualTo(4L << 30);
        assertThat(Launcher.parseMemory("size=6G,slots=2,maxmem=8G")).isEqualTo(6L << 30);
        assertThat(Launcher.parseMemory("1.5G")).isEqualTo(3L << 29);
        assertThat(Launcher.parseMemory("64G")).isEqualTo(64L << 30);
        assertThat(Launcher.parseMemory("256G")).isEqualTo(GuestMemory.MAX_BYTES);
        assertThat(Launcher.parseMemory("2M")).isEqualTo(GuestMemory.MIN_BYTES);
        assertThat(Launcher.parseMemory("8388608B")).isEqualTo(8L << 20);
        assertThat(Launcher.parseMemory("0.25T")).isEqualTo(256L << 30);
    }

    @Test
    void anUnknownCpuFeatureIsOneLineAndStatus16() throws IOException {
        Path kernel = CliRun.write(dir, "hello.bin", HELLO);
        CliRun run = CliRun.tscvm("run", "-kernel", kernel.toString(), "-cpu", "tscvm,+frobnicate", "-serial", "none");
        assertThat(run.status()).isEqualTo(ExitStatus.CPU_MODEL);
        CliRun.assertOneLine(run, "frobnicate");
        assertThat(CliRun.tscvm("cpuid", "-cpu", "pentium").status()).isEqualTo(ExitStatus.CPU_MODEL);
    }

    @Test
    void otherBadValuesAreStatus18AndUnknownOptionsStatus2() throws IOException {
        Path kernel = CliRun.write(dir, "hello.bin", HELLO);
        CliRun smp = CliRun.tscvm("run", "-kernel", kernel.toString(), "-smp", "0", "-serial", "none");
        assertThat(smp.status()).isEqualTo(ExitStatus.OPTION_VALUE);
        CliRun.assertOneLine(smp, "-smp 0");
        CliRun clock = CliRun.tscvm("run", "-kernel", kernel.toString(), "--clock", "sundial");
        assertThat(clock.status()).isEqualTo(ExitStatus.OPTION_VALUE);
        CliRun serial = CliRun.tscvm("run", "-kernel", kernel.toString(), "-serial", "tcp:1234");
        assertThat(serial.status()).isEqualTo(ExitStatus.OPTION_VALUE);
        CliRun jit = CliRun.tscvm("run", "-kernel", kernel.toString(), "--jit-threshold", "-1", "-serial", "none");
        assertThat(jit.status()).isEqualTo(ExitStatus.OPTION_VALUE);
        CliRun.assertOneLine(jit, "--jit-threshold -1");
        CliRun unknown = CliRun.tscvm("run", "--frobnicate");
        assertThat(unknown.status()).isEqualTo(ExitStatus.USAGE);
        CliRun.assertOneLine(unknown, "frobnicate");
    }

    @Test
    void aTripleFaultPrintsTheCpuStateAndHasItsOwnStatus() throws IOException {
        Path kernel = CliRun.write(dir, "tf.bin", CliRun.bytes(
                0x0f, 0x01, 0x1d, 0x00, 0x90, 0x00, 0x00,  // lidt [0x9000] (zero limit)
                0x0f, 0x0b));                              // ud2
        CliRun run = CliRun.tscvm("run", "-kernel", kernel.toString(), "--flat", "0x8000", "-serial", "none",
                "--clock", "deterministic");
        assertThat(run.status()).isEqualTo(RunResult.STATUS_TRIPLE_FAULT);
        CliRun.assertOneLine(run, "triple fault");
        assertThat(run.err()).contains("RIP=", "CR0=", "CR3=", "CR4=", "EFER=");
    }

    @Test
    void cpuidPrintsTheModelAndItsEdits() {
        CliRun run = CliRun.tscvm("cpuid", "-cpu", "tscvm,-tsc-adjust");
        assertThat(run.status()).isZero();
        assertThat(run.out()).contains("GenuineIntel").containsPattern("- tsc-adjust");
    }

    @Test
    void demoBootsTheBundledKernelOrFallsBackToTheApiDemo() {
        CliRun run = CliRun.tscvm("demo", "-serial", "none", "--timeout", "60");
        if (Main.demoKernel() == null) {
            assertThat(run.status()).isZero();
            assertThat(run.out()).contains("API demo");
        } else {
            assertThat(run.status()).as(run.err()).isZero();
            assertThat(run.out()).contains("[host] restore-style host write", "exited with status 1");
            // R1/R24: after the guest's writes, host TSC + the one offset is exactly what the vCPU reads.
            java.util.regex.Matcher m = java.util.regex.Pattern
                    .compile("host TSC \\+ offset = (\\d+) \\(the vCPU reads (\\d+)\\)").matcher(run.out());
            assertThat(m.find()).as(run.out()).isTrue();
            assertThat(m.group(1)).isEqualTo(m.group(2));
            // R7: the host's own adjust (7e9 in the demo) is not in the guest's TSC_ADJUST.
            assertThat(run.out()).containsPattern("host read of the guest's IA32_TSC_ADJUST = [1-9]\\d*:");
        }
    }
}

package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.tscvm.Version;
import org.tscvm.vm.CpuidModel;
import org.junit.jupiter.api.io.TempDir;

class QemuMainTest {
    @TempDir
    Path dir;

    @Test
    void helpSaysQemuCompatibleAsKvmUnitTestsProbesIt() {
        CliRun run = CliRun.qemu("--help");
        assertThat(run.status()).isZero();
        assertThat(run.out()).contains("QEMU");
    }

    @Test
    void dashHFirstLineCarriesTheVersionInQemusShape() {
        CliRun run = CliRun.qemu("-h");
        String first = run.out().lines().findFirst().orElseThrow();
        assertThat(first).isEqualTo("tscvm (QEMU-compatible) version " + Version.VERSION);
        // kvm-unit-tests: IFS='[ .]' read -r _ _ _ MAJOR MINOR MICRO
        String[] fields = first.split("[ .]");
        assertThat(fields[3]).isEqualTo(Version.VERSION.split("\\.")[0]);
    }

    @Test
    void deviceQuestionMarkListsTheTestDevicesInQuotes() {
        for (String ask : new String[] {"?", "help"}) {
            CliRun run = CliRun.qemu("-device", ask);
            assertThat(run.status()).isZero();
            assertThat(run.out()).contains("\"pc-testdev\"", "\"isa-debug-exit\"").doesNotContain("pci-testdev");
        }
    }

    @Test
    void theKvmUnitTestsCommandLineRunsAndPcTestdevWorks() throws IOException {
        // Writes 0x2a to pc-testdev's scratch port 0xE0, reads it back and exits with it.
        byte[] code = CliRun.bytes(
                0x66, 0xba, 0xe0, 0x00,       // mov dx, 0xe0
                0xb8, 0x2a, 0x00, 0x00, 0x00, // mov eax, 0x2a
                0xef,                         // out dx, eax
                0x31, 0xc0,                   // xor eax, eax
                0xed,                         // in eax, dx
                0x66, 0xba, 0xf4, 0x00,       // mov dx, 0xf4
                0xef,                         // out dx, eax
                0xf4);                        // hlt
        Path kernel = dir.resolve("t.flat");
        Files.write(kernel, CliRun.multibootElf32(0x400000, code));
        Path env = dir.resolve("env");
        Files.writeString(env, "NR_CPUS=1\n");
        PrintStream stdout = System.out;
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        System.setOut(new PrintStream(console, true, StandardCharsets.UTF_8));
        CliRun run;
        try {
            run = CliRun.qemu("--no-reboot", "-nodefaults", "-global", "kvm-pit.lost_tick_policy=discard",
                    "-device", "pc-testdev", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x4", "-display", "none",
                    "-serial", "stdio", "-device", "pci-testdev", "-machine", "accel=tcg", "-kernel", kernel.toString(),
                    "-smp", "1", "-cpu", "max", "-initrd", env.toString(), "-append", "-v");
        } finally {
            System.setOut(stdout);
        }
        assertThat(run.status()).as(run.err()).isEqualTo((0x2a << 1) | 1);
        // kvm-unit-tests counts every stderr line without "warning" as a QEMU failure.
        assertThat(run.err().lines()).allMatch(line -> line.toLowerCase().contains("warning"));
    }

    @Test
    void machineVmportOnTurnsTheVmwareBackdoorOn() throws IOException {
        // GETVERSION through the backdoor port, then exits with EBX (the magic) through isa-debug-exit.
        byte[] code = CliRun.bytes(
                0x31, 0xdb,                   // xor ebx, ebx
                0xb8, 0x68, 0x58, 0x4d, 0x56, // mov eax, 0x564d5868
                0xb9, 0x0a, 0x00, 0x00, 0x00, // mov ecx, 10 (GETVERSION)
                0xba, 0x58, 0x56, 0x00, 0x00, // mov edx, 0x5658
                0xed,                         // in eax, dx
                0x89, 0xd8,                   // mov eax, ebx
                0x66, 0xba, 0xf4, 0x00,       // mov dx, 0xf4
                0xef,                         // out dx, eax
                0xf4);                        // hlt
        Path kernel = dir.resolve("vmport.flat");
        Files.write(kernel, CliRun.multibootElf32(0x400000, code));
        String[] common = {"-device", "isa-debug-exit,iobase=0xf4,iosize=0x4", "-display", "none", "-kernel",
            kernel.toString(), "-cpu", "max"};
        CliRun on = CliRun.qemu(concat(common, "-machine", "vmport=on"));
        assertThat(on.status()).as(on.err()).isEqualTo((0x564d5868 << 1) | 1);
        CliRun off = CliRun.qemu(concat(common, "-machine", "vmport=off"));
        assertThat(off.status()).as(off.err()).isEqualTo(1);
        assertThat(CliRun.qemu("-machine", "vmport=maybe").status()).isEqualTo(ExitStatus.OPTION_VALUE);
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void optionsTscvmCannotHonourAreRefusedWithStatus18() {
        assertThat(CliRun.qemu("-snapshot", "x").status()).isEqualTo(ExitStatus.OPTION_VALUE);
        assertThat(CliRun.qemu("-device", "e1000").status()).isEqualTo(ExitStatus.OPTION_VALUE);
        assertThat(CliRun.qemu("-machine", "q35").status()).isEqualTo(ExitStatus.OPTION_VALUE);
        assertThat(CliRun.qemu("-global", "kvm-pit.lost_tick_policy=slew").status()).isEqualTo(ExitStatus.OPTION_VALUE);
        assertThat(CliRun.qemu("-global", "isa-fdc.driveA=x").status()).isEqualTo(ExitStatus.OPTION_VALUE);
        assertThat(CliRun.qemu("-device", "isa-debug-exit,iobase=0x501").status()).isEqualTo(ExitStatus.OPTION_VALUE);
        CliRun chardev = CliRun.qemu("-chardev", "file,id=x,path=y");
        assertThat(chardev.status()).isEqualTo(ExitStatus.OPTION_VALUE);
        assertThat(chardev.err().lines()).hasSize(1);
    }

    @Test
    void overcommitAcceptsTheOffSettingsAndRefusesTheRest() {
        // Accepted: the run then stops only for the missing -kernel (usage).
        assertThat(CliRun.qemu("-overcommit", "mem-lock=off,cpu-pm=off").status()).isEqualTo(ExitStatus.USAGE);
        assertThat(CliRun.qemu("-overcommit", "cpu-pm=off").status()).isEqualTo(ExitStatus.USAGE);
        for (String refused : new String[] {"mem-lock=on", "cpu-pm=on", "mem-lock=on-fault", "mem-lock=off,cpu-pm=on", "x"}) {
            CliRun run = CliRun.qemu("-overcommit", refused);
            assertThat(run.status()).as(refused).isEqualTo(ExitStatus.OPTION_VALUE);
            assertThat(run.err().lines()).hasSize(1);
        }
        assertThat(CliRun.qemu("--help").out()).contains("-overcommit mem-lock=off,cpu-pm=off");
    }

    @Test
    void qemuCpuModelsMapOntoTscvmModels() {
        PrintStream err = new PrintStream(new ByteArrayOutputStream());
        assertThat(QemuMain.mapCpu("kvm64,+rdtscp", false, err)).isEqualTo("tscvm,+rdtscp");
        assertThat(QemuMain.mapCpu("max", false, err)).isEqualTo("max");
        assertThat(QemuMain.mapCpu("qemu64,+umip", false, err)).as("kvm-unit-tests umip").isEqualTo("tscvm,+umip");
        assertThat(QemuMain.mapCpu("host,tsc_adjust=on,-x2apic", false, err)).isEqualTo("max,+tsc-adjust,-x2apic");
        ByteArrayOutputStream warnings = new ByteArrayOutputStream();
        assertThat(QemuMain.mapCpu("qemu64,+avx512f", false, new PrintStream(warnings, true))).isEqualTo("tscvm");
        assertThat(warnings.toString()).contains("warning").contains("avx512f");
    }

    @Test
    void kvmclockFollowsQemusFeatureNamesAndKvmsDefaultsUnderAccelKvmOnly() {
        PrintStream err = new PrintStream(new ByteArrayOutputStream());
        // QEMU TCG's default CPU has no kvmclock; -cpu may ask for it by QEMU's names.
        assertThat(QemuMain.mapCpu("qemu64", false, err)).isEqualTo("tscvm");
        assertThat(QemuMain.mapCpu("qemu64,+kvmclock,kvmclock-stable-bit=on", false, err))
                .isEqualTo("tscvm,+kvmclock,+kvmclock-stable-bit");
        // Under KVM, kvm_default_props first; the model's own edits come after and win.
        assertThat(QemuMain.mapCpu("qemu64", true, err)).isEqualTo("tscvm,+kvmclock,+kvmclock-stable-bit");
        assertThat(CpuidModel.parse(QemuMain.mapCpu("qemu64,-kvmclock", true, err)).has(CpuidModel.Feature.KVMCLOCK))
                .isFalse();
    }

    @Test
    void qemuCpuVendorPropertySetsTheVendor() {
        PrintStream err = new PrintStream(new ByteArrayOutputStream());
        assertThat(QemuMain.mapCpu("Opteron_G1,vendor=AuthenticAMD", false, err)).isEqualTo("tscvm,vendor=AuthenticAMD");
        assertThat(QemuMain.mapCpu("max,vendor=GenuineIntel", false, err)).isEqualTo("max,vendor=GenuineIntel");
        ByteArrayOutputStream warnings = new ByteArrayOutputStream();
        assertThat(QemuMain.mapCpu("max,vendor=CyrixInstead", false, new PrintStream(warnings, true))).isEqualTo("max");
        assertThat(warnings.toString()).contains("warning").contains("vendor=CyrixInstead");
    }

    @Test
    void memorySizesInQemusFormsStartTheGuestAndNonsenseIsStatus14() throws IOException {
        Path kernel = CliRun.write(dir, "mb.elf", CliRun.multibootElf32(0x100000, MainTest.HELLO));
        for (String size : new String[] {"4g", "4G", "2048", "size=6G", "64G"}) {
            CliRun run = CliRun.qemu("-kernel", kernel.toString(), "-serial", "stdio", "-m", size);
            assertThat(run.status()).as(size + ": " + run.err()).isEqualTo(33);
            assertThat(run.out()).contains("Hi\n");
        }
        for (String size : new String[] {"0", "-1", "lots", "512T", "1K"}) {
            CliRun run = CliRun.qemu("-kernel", kernel.toString(), "-serial", "none", "-m", size);
            assertThat(run.status()).as(size).isEqualTo(ExitStatus.MEMORY_SIZE);
            CliRun.assertOneLine(run, "-m " + size);
        }
    }

    @Test
    void aMissingKernelIsStatus10AndNoKernelIsUsage() {
        assertThat(CliRun.qemu("-kernel", dir.resolve("none.flat").toString(), "-serial", "none").status())
                .isEqualTo(ExitStatus.FILE);
        assertThat(CliRun.qemu("-nodefaults").status()).isEqualTo(ExitStatus.USAGE);
    }
}

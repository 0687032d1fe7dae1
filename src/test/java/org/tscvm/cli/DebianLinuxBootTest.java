package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tscvm.boot.Initramfs;
import org.tscvm.machine.RunResult;

/**
 * Boots Debian 12's cloud kernel (linux.md section 1) far enough to print its banner, by
 * bzImage (its 64-bit entry, and its 32-bit one) and by PVH, as {@code qemu-system-x86_64 -kernel vmlinuz -initrd ... -append ...}
 * would. The kernel comes from {@link DebianGuests} (tools/fetch-debian-guests, outside
 * the repository). Each run ends by --timeout, long after the lines checked here; the last
 * test boots further, to what the PC platform (ACPI, I/O APIC, PCI) shows Linux.
 */
class DebianLinuxBootTest {
    private static final Path VMLINUZ = DebianGuests.vmlinuz();
    /** tsc_early_khz: tscvm's TSC rate, since Linux cannot calibrate against the PIT here (linux.md 4.3). */
    private static final String APPEND = "console=ttyS0 earlyprintk=serial tsc_early_khz=2500000 noapic";
    private static final String TIMEOUT_SECONDS = "12";

    @TempDir
    Path dir;

    private static byte[] vmlinuz() throws IOException {
        return Files.readAllBytes(VMLINUZ);
    }

    private CliRun boot(Path kernel, String append) throws IOException {
        Path initrd = dir.resolve("initrd.gz");
        // A real initramfs, if an empty one: Linux finds it (RAMDISK), unpacks it and frees it.
        Files.write(initrd, new Initramfs().directory("dev", 0755).toGzip());
        Path serial = dir.resolve("serial.txt");
        CliRun run = CliRun.tscvm("run", "-kernel", kernel.toString(), "-initrd", initrd.toString(),
                "-append", append, "-cpu", "max", "-m", "512M", "-serial", "file:" + serial,
                "--timeout", TIMEOUT_SECONDS);
        return new CliRun(run.status(), Files.readString(serial, StandardCharsets.ISO_8859_1), run.err());
    }

    /** The checks both bzImage entries must pass: the decompressor ran, the kernel started with our data. */
    private static void assertDecompressedAndStarted(CliRun run, String append) {
        assertThat(run.status()).as(run.err()).isEqualTo(RunResult.STATUS_TIMEOUT);
        assertThat(run.out())
                .contains("KASLR disabled: 'nokaslr' on cmdline.")
                .contains("Linux version 6.1.0-50-cloud-amd64")
                .containsPattern("Command line: " + Pattern.quote(append) + "\r?\n")
                .contains("BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable")
                .contains("BIOS-e820: [mem 0x0000000000100000-0x000000001fffffff] usable")
                .containsPattern("RAMDISK: \\[mem 0x1ff[0-9a-f]{5}-0x1fffffff\\]");
    }

    @Test
    void theBzImageEnteredIn64BitModeDecompressesItselfAndPrintsItsBannerAndOurCommandLine() throws IOException {
        vmlinuz();
        // nokaslr makes the decompressor say so on the early serial console: proof that it ran
        // (this kernel has no X86_VERBOSE_BOOTUP, so "Decompressing Linux..." is never printed).
        String append = APPEND + " nokaslr";
        assertDecompressedAndStarted(boot(VMLINUZ, append), append);
    }

    @Test
    void theSameBzImageWithoutXlfKernel64BootsThrough32BitEntry() throws IOException {
        byte[] bz = vmlinuz();
        ByteBuffer h = ByteBuffer.wrap(bz).order(ByteOrder.LITTLE_ENDIAN);
        h.putShort(0x236, (short) (h.getShort(0x236) & ~1)); // xloadflags: no XLF_KERNEL_64
        Path kernel = dir.resolve("vmlinuz-32");
        Files.write(kernel, bz);
        String append = APPEND + " nokaslr";
        assertDecompressedAndStarted(boot(kernel, append), append);
    }

    @Test
    void theVmlinuxInsideItBootsByPvh() throws IOException {
        byte[] bz = vmlinuz();
        ByteBuffer h = ByteBuffer.wrap(bz).order(ByteOrder.LITTLE_ENDIAN);
        int setupSects = bz[0x1f1] & 0xff;
        int payload = (setupSects + 1) * 512 + h.getInt(0x248); // payload_offset is from the protected-mode code
        Path vmlinux = dir.resolve("vmlinux");
        Files.write(vmlinux, Lz4Legacy.decompress(bz, payload, h.getInt(0x24c)));
        CliRun run = boot(vmlinux, APPEND);
        assertThat(run.status()).as(run.err()).isEqualTo(RunResult.STATUS_TIMEOUT);
        assertThat(run.out())
                .contains("Linux version 6.1.0-50-cloud-amd64")
                .containsPattern("Command line: " + Pattern.quote(APPEND) + "\r?\n")
                .contains("BIOS-e820: [mem 0x0000000000100000-0x000000001fffffff] usable")
                .containsPattern("RAMDISK: \\[mem 0x1ff[0-9a-f]{5}-0x1fffffff\\]");
    }

    /**
     * The PC platform as Linux finds it, without noapic or tsc_early_khz: the RSDP in the BIOS
     * area (passed in the zero page too), the MADT's I/O APIC and override, the timer through
     * the I/O APIC, the PCI host bridge from the DSDT, the TSC calibrated, no MSR Linux trips
     * on. The run ends by --timeout before any root file system is looked for.
     */
    @Test
    void theKernelFindsTheAcpiTablesTheIoApicAndThePciHostBridge() throws IOException {
        String append = "console=ttyS0 earlyprintk=serial nokaslr cryptomgr.notests";
        Path serial = dir.resolve("platform.txt");
        CliRun run = CliRun.tscvm("run", "-kernel", VMLINUZ.toString(), "-append", append, "-cpu", "max",
                "-m", "512M", "-smp", "2", "--jit-threshold", "20000", "-serial", "file:" + serial,
                "--timeout", "25");
        String log = Files.readString(serial, StandardCharsets.ISO_8859_1);
        assertThat(run.status()).as(run.err()).isEqualTo(RunResult.STATUS_TIMEOUT);
        assertThat(log)
                .contains("BIOS-e820: [mem 0x00000000000e0000-0x00000000000fffff] reserved")
                .contains("ACPI: RSDP 0x00000000000E0000 000024 (v02 TSCVM )")
                .contains("IOAPIC[0]: apic_id 0, version 17, address 0xfec00000, GSI 0-23")
                .contains("ACPI: INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2 dfl dfl)")
                .contains("..TIMER: vector=0x30 apic1=0 pin1=2")
                .contains("smp: Brought up 1 node, 2 CPUs")
                .contains("ACPI: PM: (supports S0 S5)")
                .contains("pci 0000:00:00.0: [8086:1237] type 00 class 0x060000")
                .doesNotContain("unchecked MSR access error")
                .doesNotContain("Marking TSC unstable");
    }
}

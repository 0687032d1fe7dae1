package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tscvm.boot.LinuxTestImages;

/** Linux kernels (bzImage, PVH ELF) through both front ends: the entry state and the refusals. */
class LinuxKernelCliTest {
    @TempDir
    Path dir;

    /**
     * Exits through isa-debug-exit with (ESI >> 12) + CS: a bzImage entry gives 0x10 + 0x10. The
     * bytes mean the same in 32-bit and 64-bit mode.
     */
    private static final byte[] REPORT_ESI_AND_CS = CliRun.bytes(
            0x89, 0xf0,                   // mov eax, esi
            0xc1, 0xe8, 0x0c,             // shr eax, 12
            0x8c, 0xca,                   // mov edx, cs
            0x01, 0xd0,                   // add eax, edx
            0xe7, 0xf4);                  // out 0xf4, eax
    /** Exits through isa-debug-exit with EBX >> 12: a PVH entry gives 0x10 (start_info at 0x10000). */
    private static final byte[] REPORT_EBX = CliRun.bytes(
            0x89, 0xd8,                   // mov eax, ebx
            0xc1, 0xe8, 0x0c,             // shr eax, 12
            0xe7, 0xf4);                  // out 0xf4, eax

    @Test
    void aBzImageStartsAtEitherEntryWithTheZeroPageInEsiAndBootCs() throws IOException {
        Path initrd = CliRun.write(dir, "initrd", new byte[5000]);
        Path kernel64 = CliRun.write(dir, "bzImage64", LinuxTestImages.bzImage(REPORT_ESI_AND_CS, b -> { }));
        Path kernel32 = CliRun.write(dir, "bzImage32",
                LinuxTestImages.bzImage(REPORT_ESI_AND_CS, b -> b.putShort(0x236, (short) 0))); // no XLF_KERNEL_64
        for (Path kernel : new Path[] {kernel64, kernel32}) {
            CliRun run = CliRun.tscvm("run", "-kernel", kernel.toString(), "-initrd", initrd.toString(),
                    "-append", "console=ttyS0", "-serial", "none", "--timeout", "30");
            assertThat(run.status()).as(kernel + ": " + run.err()).isEqualTo(((0x10 + 0x10) << 1) | 1);
        }
    }

    @Test
    void aPvhKernelStartsAtItsNoteEntryWithTheStartInfoInEbxAlsoThroughTheQemuFrontEnd() throws IOException {
        Path kernel = CliRun.write(dir, "vmlinux", LinuxTestImages.pvhElf(0x1000000, REPORT_EBX, 0x1000000));
        Path a = CliRun.write(dir, "a.cpio", new byte[100]);
        Path b = CliRun.write(dir, "b.cpio", new byte[200]);
        CliRun run = CliRun.qemu("-kernel", kernel.toString(), "-initrd", a + "," + b, "-append", "x",
                "-serial", "none", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x4");
        assertThat(run.status()).as(run.err()).isEqualTo((0x10 << 1) | 1);
        CliRun tscvm = CliRun.tscvm("run", "-kernel", kernel.toString(), "-serial", "none", "--timeout", "30");
        assertThat(tscvm.status()).as(tscvm.err()).isEqualTo((0x10 << 1) | 1);
    }

    @Test
    void anOldBootProtocolIsOneLineAndStatus12() throws IOException {
        Path kernel = CliRun.write(dir, "old", LinuxTestImages.bzImage(REPORT_EBX, b -> b.putShort(0x206, (short) 0x0204)));
        CliRun run = CliRun.tscvm("run", "-kernel", kernel.toString(), "-serial", "none");
        assertThat(run.status()).isEqualTo(ExitStatus.KERNEL_IMAGE);
        CliRun.assertOneLine(run, "Linux boot protocol 2.04 is too old");
    }

    @Test
    void aTruncatedSetupHeaderIsStatus12() throws IOException {
        byte[] whole = LinuxTestImages.bzImage(REPORT_EBX, b -> { });
        Path kernel = CliRun.write(dir, "cut", java.util.Arrays.copyOf(whole, 0x230));
        CliRun run = CliRun.qemu("-kernel", kernel.toString(), "-serial", "none");
        assertThat(run.status()).isEqualTo(ExitStatus.KERNEL_IMAGE);
        CliRun.assertOneLine(run, "setup header is cut off");
    }

    @Test
    void anInitSizeBeyondRamIsStatus12() throws IOException {
        Path kernel = CliRun.write(dir, "huge", LinuxTestImages.bzImage(REPORT_EBX, b -> b.putInt(0x260, 0x40000000)));
        CliRun run = CliRun.tscvm("run", "-kernel", kernel.toString(), "-serial", "none", "-m", "64M");
        assertThat(run.status()).isEqualTo(ExitStatus.KERNEL_IMAGE);
        CliRun.assertOneLine(run, "give the VM more memory (-m 1040M)");
    }

    @Test
    void aCommandLineLongerThanCmdlineSizeIsStatus12() throws IOException {
        Path kernel = CliRun.write(dir, "bz", LinuxTestImages.bzImage(REPORT_EBX, b -> { }));
        CliRun run = CliRun.tscvm("run", "-kernel", kernel.toString(), "-serial", "none",
                "-append", "x".repeat(LinuxTestImages.CMDLINE_SIZE + 1));
        assertThat(run.status()).isEqualTo(ExitStatus.KERNEL_IMAGE);
        CliRun.assertOneLine(run, "more than this kernel's cmdline_size of 2047");
    }

    @Test
    void anInitrdThatCannotFitIsStatus12() throws IOException {
        Path kernel = CliRun.write(dir, "bz", LinuxTestImages.bzImage(REPORT_EBX, b -> { }));
        Path initrd = CliRun.write(dir, "big", new byte[20 << 20]);
        CliRun run = CliRun.qemu("-kernel", kernel.toString(), "-initrd", initrd.toString(), "-m", "32",
                "-serial", "none");
        assertThat(run.status()).isEqualTo(ExitStatus.KERNEL_IMAGE);
        CliRun.assertOneLine(run, "initrd of 20971520 bytes does not fit");
    }

    @Test
    void anElfWithNeitherMultibootNorPvhSaysWhatWasLookedFor() throws IOException {
        Path kernel = CliRun.write(dir, "plain.elf", LinuxTestImages.pvhElf(0x1000000, REPORT_EBX, -1));
        CliRun run = CliRun.tscvm("run", "-kernel", kernel.toString(), "-serial", "none");
        assertThat(run.status()).isEqualTo(ExitStatus.KERNEL_IMAGE);
        CliRun.assertOneLine(run, "neither a multiboot header");
        assertThat(run.err()).contains("PVH entry note (PT_NOTE owner \"Xen\", type 18)");
    }
}

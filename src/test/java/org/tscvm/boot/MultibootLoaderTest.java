package org.tscvm.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tscvm.boot.TestImages.Segment;
import org.tscvm.memory.GuestMemory;

class MultibootLoaderTest {
    private static final long MIB = 1 << 20;
    private final GuestMemory memory = new GuestMemory(32 * MIB);
    private final MemoryMap map = MemoryMap.pc(32 * MIB, List.of());

    private String cstringAt(long addr) {
        StringBuilder s = new StringBuilder();
        for (int b; (b = memory.read8(addr)) != 0; addr++) {
            s.append((char) b);
        }
        return s.toString();
    }

    @Test
    void elf32SegmentsAreCopiedToTheirPhysicalAddressAndBssIsZeroed() {
        // Dirty the bss range first: the loader must zero it.
        memory.fill(4 * MIB + 0x1000, 0x3000, (byte) 0x55);
        byte[] text = TestImages.bytes(0x1000, 0x90);
        byte[] elf = TestImages.elf(false, 4 * MIB + 0x10, List.of(new Segment(4 * MIB, text, 0x4000)));
        EntryPoint entry = MultibootLoader.load(memory, elf, "kernel.elf", "", List.of(), map);
        assertThat(entry.ip()).isEqualTo(4 * MIB + 0x10);
        assertThat(memory.read8(4 * MIB)).isEqualTo(0x90);
        assertThat(memory.read8(4 * MIB + 0xfff)).isEqualTo(0x90);
        assertThat(memory.read32(4 * MIB + 0x1000)).isZero();
        assertThat(memory.read32(4 * MIB + 0x3ffc)).isZero();
        assertThat(entry.imageEnd()).isEqualTo(4 * MIB + 0x4000);
        assertThat(entry.ebx()).isEqualTo(MultibootLoader.MBI_ADDRESS);
    }

    @Test
    void mbiCarriesMemoryCommandLineLoaderNameModulesAndAnE820Map() {
        byte[] elf = TestImages.elf(false, 4 * MIB, List.of(new Segment(4 * MIB, TestImages.bytes(0x100, 1), 0x2345)));
        byte[] env = "NR_CPUS=1\nMEMSIZE=32\n".getBytes(StandardCharsets.US_ASCII);
        EntryPoint entry = MultibootLoader.load(memory, elf, "x86/tsc.flat", "-v fast",
                List.of(new MultibootLoader.Module("env", env)), map);
        long mbi = entry.ebx();
        int flags = memory.read32(mbi);
        assertThat(flags).isEqualTo(0x24d); // mem, cmdline, mods, mmap, boot_loader_name
        assertThat(memory.read32(mbi + 4)).isEqualTo(639);
        assertThat(memory.read32(mbi + 8)).isEqualTo(31 * 1024);
        assertThat(cstringAt(memory.read32(mbi + 16) & 0xffffffffL)).isEqualTo("x86/tsc.flat -v fast");
        assertThat(cstringAt(memory.read32(mbi + 64) & 0xffffffffL)).isEqualTo("tscvm");
        assertThat(memory.read32(mbi + 20)).isEqualTo(1);
        long mod = memory.read32(mbi + 24) & 0xffffffffL;
        long modStart = memory.read32(mod) & 0xffffffffL;
        long modEnd = memory.read32(mod + 4) & 0xffffffffL;
        // The module sits page-aligned just above the image (QEMU's placement).
        assertThat(modStart).isEqualTo(4 * MIB + 0x3000);
        assertThat(modEnd - modStart).isEqualTo(env.length);
        assertThat(memory.read8(modStart)).isEqualTo('N');
        assertThat(cstringAt(memory.read32(mod + 8) & 0xffffffffL)).isEqualTo("env");
        assertThat(entry.imageEnd()).isEqualTo(modEnd);

        int mmapLength = memory.read32(mbi + 44);
        long mmap = memory.read32(mbi + 48) & 0xffffffffL;
        assertThat(mmapLength).isEqualTo(4 * 24);
        long ramTotal = 0;
        for (long e = mmap; e < mmap + mmapLength; e += 24) {
            assertThat(memory.read32(e)).isEqualTo(20);
            if (memory.read32(e + 20) == 1) {
                ramTotal += memory.read64(e + 12);
            }
        }
        assertThat(memory.read64(mmap + 4)).isZero();
        assertThat(memory.read64(mmap + 12)).isEqualTo(0x9fc00);
        assertThat(ramTotal).isEqualTo(0x9fc00 + 31 * MIB);
    }

    @Test
    void commandLineWithoutAppendIsJustTheKernelName() {
        byte[] elf = TestImages.elf(false, 4 * MIB, List.of(new Segment(4 * MIB, TestImages.bytes(16, 1), 16)));
        EntryPoint entry = MultibootLoader.load(memory, elf, "k", "", List.of(), map);
        assertThat(cstringAt(memory.read32(entry.ebx() + 16))).isEqualTo("k");
        assertThat(memory.read32(entry.ebx() + 20)).isZero();
    }

    @Test
    void elf64IsLoadedByPhysicalAddressAndAHighEntryIsTranslated() {
        long vbase = 0xffffffff80000000L;
        byte[] elf = TestImages.elf(true, vbase + 0x20,
                List.of(new Segment(vbase, 2 * MIB, TestImages.bytes(0x800, 0xcc), 0x1000)));
        EntryPoint entry = MultibootLoader.load(memory, elf, "k64", "", List.of(), map);
        assertThat(entry.ip()).isEqualTo(2 * MIB + 0x20);
        assertThat(memory.read8(2 * MIB + 0x7ff)).isEqualTo(0xcc);
        assertThat(memory.read8(2 * MIB + 0x800)).isZero();
    }

    @Test
    void aoutKludgeLoadsByTheHeaderAddressesAndZeroesBss() {
        // File: [multiboot header with addresses][code]; header_addr = load_addr = 1 MiB.
        long load = MIB;
        byte[] code = TestImages.bytes(0x200, 0xf4);
        int headerLength = 32;
        int flags = MultibootLoader.FLAG_AOUT_KLUDGE;
        byte[] header = TestImages.multibootHeader(flags, (int) load, (int) load,
                (int) (load + headerLength + code.length), (int) (load + 0x3000), (int) (load + headerLength));
        byte[] image = ByteBuffer.allocate(headerLength + code.length).put(header).put(code).array();
        memory.fill(load + 0x1000, 0x10, (byte) 7);
        EntryPoint entry = MultibootLoader.load(memory, image, "aout", "", List.of(), map);
        assertThat(entry.ip()).isEqualTo(load + headerLength);
        assertThat(memory.read32(load)).isEqualTo(MultibootLoader.HEADER_MAGIC);
        assertThat(memory.read8(load + headerLength)).isEqualTo(0xf4);
        assertThat(memory.read8(load + 0x1000)).isZero();
        assertThat(entry.imageEnd()).isEqualTo(load + 0x3000);
    }

    @Test
    void aFileWithoutAHeaderIsRefused() {
        assertThatThrownBy(() -> MultibootLoader.load(memory, new byte[4096], "junk", "", List.of(), map))
                .isInstanceOf(KernelImageException.class)
                .hasMessageContaining("no multiboot header");
    }

    @Test
    void aBrokenElfIsRefusedNamingTheProblem() {
        byte[] elf = TestImages.elf(false, 4 * MIB, List.of(new Segment(4 * MIB, TestImages.bytes(0x100, 1), 0x100)));
        // Program header table pointing past the end of the file.
        ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN).putInt(28, 0x7fff0000);
        assertThatThrownBy(() -> MultibootLoader.load(memory, elf, "bad", "", List.of(), map))
                .isInstanceOf(KernelImageException.class)
                .hasMessageContaining("program header table");
    }

    @Test
    void aSegmentWhoseFileBytesLeaveTheFileIsRefused() {
        byte[] elf = TestImages.elf(false, 4 * MIB, List.of(new Segment(4 * MIB, TestImages.bytes(0x100, 1), 0x100)));
        ByteBuffer b = ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(52 + 16, 0x10000); // p_filesz far beyond the file
        b.putInt(52 + 20, 0x10000);
        assertThatThrownBy(() -> MultibootLoader.load(memory, elf, "bad", "", List.of(), map))
                .isInstanceOf(KernelImageException.class)
                .hasMessageContaining("segment 0").hasMessageContaining("broken");
    }

    @Test
    void overlappingSegmentsAreRefusedNamingBoth() {
        byte[] elf = TestImages.elf(false, 4 * MIB, List.of(
                new Segment(4 * MIB, TestImages.bytes(0x100, 1), 0x2000),
                new Segment(4 * MIB + 0x1000, TestImages.bytes(0x100, 2), 0x100)));
        assertThatThrownBy(() -> MultibootLoader.load(memory, elf, "k", "", List.of(), map))
                .isInstanceOf(KernelImageException.class)
                .hasMessageContaining("segment 1").hasMessageContaining("overlaps segment 0");
    }

    @Test
    void aSegmentOutsideRamIsRefused() {
        byte[] elf = TestImages.elf(false, 64 * MIB, List.of(new Segment(64 * MIB, TestImages.bytes(0x10, 1), 0x10)));
        assertThatThrownBy(() -> MultibootLoader.load(memory, elf, "k", "", List.of(), map))
                .isInstanceOf(KernelImageException.class)
                .hasMessageContaining("segment 0").hasMessageContaining("outside RAM");
    }

    @Test
    void bssRunningPastTheEndOfRamIsRefused() {
        byte[] elf = TestImages.elf(false, 4 * MIB, List.of(new Segment(4 * MIB, TestImages.bytes(0x10, 1), 40 * MIB)));
        assertThatThrownBy(() -> MultibootLoader.load(memory, elf, "k", "", List.of(), map))
                .isInstanceOf(KernelImageException.class).hasMessageContaining("outside RAM");
    }

    @Test
    void anImageCoveringTheUsualMbiAddressGetsItsMbiAboveTheImage() {
        // kvm-unit-tests' realmode.flat is linked at 0x8000 and runs past 0x9500.
        byte[] elf = TestImages.elf(false, 0x8000, List.of(new Segment(0x8000, TestImages.bytes(0x10, 1), 0x2800)));
        EntryPoint entry = MultibootLoader.load(memory, elf, "realmode", "x", List.of(), map);
        assertThat(entry.ebx()).isEqualTo(0xb000);
        assertThat(memory.read32(entry.ebx())).isEqualTo(0x24d);
        assertThat(cstringAt(memory.read32(entry.ebx() + 16))).isEqualTo("realmode x");
        assertThat(memory.read8(0x9500)).isZero(); // the image's own bss, untouched by the MBI
    }

    @Test
    void aHighKernelKeepsItsMbiAt0x9500() {
        byte[] elf = TestImages.elf(false, 4 * MIB, List.of(new Segment(4 * MIB, TestImages.bytes(0x10, 1), 0x10)));
        assertThat(MultibootLoader.load(memory, elf, "k", "", List.of(), map).ebx()).isEqualTo(0x9500);
    }

    @Test
    void aModuleThatDoesNotFitIsRefused() {
        byte[] elf = TestImages.elf(false, 4 * MIB, List.of(new Segment(4 * MIB, TestImages.bytes(0x10, 1), 0x10)));
        byte[] huge = new byte[(int) (30 * MIB)];
        assertThatThrownBy(() -> MultibootLoader.load(memory, elf, "k", "",
                List.of(new MultibootLoader.Module("big.img", huge)), map))
                .isInstanceOf(KernelImageException.class).hasMessageContaining("module 0 (big.img");
    }

    @Test
    void unknownRequiredHeaderFlagsAreRefused() {
        byte[] image = new byte[64];
        ByteBuffer.wrap(image).put(TestImages.multibootHeader(0x10));
        assertThatThrownBy(() -> MultibootLoader.load(memory, image, "k", "", List.of(), map))
                .isInstanceOf(KernelImageException.class).hasMessageContaining("requires features 0x10");
    }

    @Test
    void aMissingFileGivesABootFileExceptionNamingIt(@TempDir Path dir) {
        Path missing = dir.resolve("nope.elf");
        assertThatThrownBy(() -> BootFileException.read(missing, "kernel"))
                .isInstanceOf(BootFileException.class)
                .hasMessageContaining("kernel file").hasMessageContaining("nope.elf");
    }

    @Test
    void flatBinaryLoadsAtItsAddressAndChecksTheEntry() {
        EntryPoint e = FlatBinaryLoader.load(memory, TestImages.bytes(0x40, 0xf4), 0x7000, 0x7010);
        assertThat(e.ip()).isEqualTo(0x7010);
        assertThat(memory.read8(0x703f)).isEqualTo(0xf4);
        assertThatThrownBy(() -> FlatBinaryLoader.load(memory, new byte[16], 0x7000, 0x8000))
                .isInstanceOf(KernelImageException.class);
        assertThatThrownBy(() -> FlatBinaryLoader.load(memory, new byte[16], 32 * MIB - 8, 32 * MIB - 8))
                .isInstanceOf(KernelImageException.class).hasMessageContaining("does not fit");
    }
}

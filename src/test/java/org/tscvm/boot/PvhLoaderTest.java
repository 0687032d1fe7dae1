package org.tscvm.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tscvm.memory.GuestMemory;

class PvhLoaderTest {
    private static final long MIB = 1 << 20;
    private static final long START_INFO = 0x10000;
    private static final byte[] CODE = LinuxTestImages.HALT_LOOP;
    private final GuestMemory memory = new GuestMemory(64 * MIB);
    private final MemoryMap map = MemoryMap.pc(64 * MIB, List.of());

    @Test
    void segmentsGoToTheirPhysicalAddressAndTheEntryIsTheNotesWithEbxTheStartInfo() {
        byte[] elf = LinuxTestImages.pvhElf(16 * MIB, CODE, 16 * MIB + 1);
        assertThat(PvhLoader.pvhEntry(elf)).isEqualTo(16 * MIB + 1);
        EntryPoint e = PvhLoader.load(memory, elf, "console=ttyS0", List.of(), map, 0);
        assertThat(memory.read8(16 * MIB)).isEqualTo(0xf4);
        assertThat(e.ip()).isEqualTo(16 * MIB + 1);
        assertThat(e.ebx()).isEqualTo((int) START_INFO);
        assertThat(e.eax()).isZero();
        assertThat(e.esi()).isZero();
        assertThat(e.codeSelector()).isEqualTo(0x08);
        assertThat(e.dataSelector()).isEqualTo(0x10);
    }

    @Test
    void startInfoVersion1CarriesCommandLineModuleRsdpAndMemoryMap() {
        byte[] elf = LinuxTestImages.pvhElf(16 * MIB, CODE, 16 * MIB);
        byte[] a = new byte[3000];
        byte[] b = new byte[2000];
        java.util.Arrays.fill(a, (byte) 1);
        java.util.Arrays.fill(b, (byte) 2);
        MemoryMap withAcpi = MemoryMap.pc(64 * MIB, List.of(new MemoryMap.Entry(0xe0000, 0x10000, MemoryMap.RESERVED)));
        PvhLoader.load(memory, elf, "console=ttyS0 panic=-1",
                List.of(new MultibootLoader.Module("a", a), new MultibootLoader.Module("b", b)), withAcpi, 0xe0000);
        assertThat(memory.read32(START_INFO)).isEqualTo(0x336ec578);
        assertThat(memory.read32(START_INFO + 4)).isEqualTo(1);           // version
        assertThat(memory.read32(START_INFO + 8)).isZero();               // flags
        assertThat(memory.read32(START_INFO + 0x0c)).isEqualTo(1);        // nr_modules: the initrds as one
        assertThat(LinuxTestImages.cstringAt(memory, memory.read64(START_INFO + 0x18))).isEqualTo("console=ttyS0 panic=-1");
        assertThat(memory.read64(START_INFO + 0x20)).isEqualTo(0xe0000);  // rsdp_paddr
        assertThat(memory.read32(START_INFO + 0x34)).isZero();            // reserved

        long modlist = memory.read64(START_INFO + 0x10);
        long module = memory.read64(modlist);
        assertThat(memory.read64(modlist + 8)).isEqualTo(5000);
        assertThat(memory.read64(modlist + 16)).isZero();                 // no module command line
        assertThat(module).isEqualTo((64 * MIB - 5000) & -4096L);
        assertThat(memory.read8(module + 2999)).isEqualTo(1);
        assertThat(memory.read8(module + 3000)).isEqualTo(2);

        long memmap = memory.read64(START_INFO + 0x28);
        assertThat(memory.read32(START_INFO + 0x30)).isEqualTo(5);
        long[][] expected = {
            {0, 0x9fc00, 1}, {0x9fc00, 0x400, 2}, {0xe0000, 0x10000, 2}, {0xf0000, 0x10000, 2},
            {0x100000, 63 * MIB, 1},
        };
        for (int i = 0; i < expected.length; i++) {
            long at = memmap + 24L * i;
            assertThat(new long[] {memory.read64(at), memory.read64(at + 8), memory.read32(at + 16),
                    memory.read32(at + 20)}).as("memmap entry %d", i)
                    .containsExactly(expected[i][0], expected[i][1], expected[i][2], 0);
        }
    }

    @Test
    void withoutAnInitrdThereIsNoModule() {
        PvhLoader.load(memory, LinuxTestImages.pvhElf(16 * MIB, CODE, 16 * MIB), "", List.of(), map, 0);
        assertThat(memory.read32(START_INFO + 0x0c)).isZero();
        assertThat(memory.read64(START_INFO + 0x10)).isZero();
        assertThat(LinuxTestImages.cstringAt(memory, memory.read64(START_INFO + 0x18))).isEmpty();
    }

    @Test
    void anEntryOutsideTheSegmentsIsRefused() {
        byte[] elf = LinuxTestImages.pvhElf(16 * MIB, CODE, 32 * MIB);
        assertThatThrownBy(() -> PvhLoader.load(memory, elf, "", List.of(), map, 0))
                .isInstanceOf(KernelImageException.class)
                .hasMessageContaining("PVH entry point 0x2000000").hasMessageContaining("none of the loaded segments");
    }

    @Test
    void aSegmentOverTheStartInfoIsRefusedNamingBoth() {
        byte[] elf = LinuxTestImages.pvhElf(0x10000, CODE, 0x10000);
        assertThatThrownBy(() -> PvhLoader.load(memory, elf, "", List.of(), map, 0))
                .isInstanceOf(KernelImageException.class)
                .hasMessageContaining("start_info").hasMessageContaining("overlaps segment 0");
    }

    @Test
    void aNoteRunningPastItsSegmentIsRefused() {
        byte[] elf = LinuxTestImages.pvhElf(16 * MIB, CODE, 16 * MIB);
        ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN).putInt(64 + 2 * 56 + 4, 0x100); // descsz
        assertThatThrownBy(() -> PvhLoader.pvhEntry(elf))
                .isInstanceOf(KernelImageException.class).hasMessageContaining("runs past its segment");
    }

    @Test
    void kernelLoaderPicksBzImageThenMultibootThenPvhAndNamesWhatItLookedFor() {
        byte[] bz = LinuxTestImages.bzImage(CODE, b -> { });
        assertThat(KernelLoader.load(memory, bz, "k", "", List.of(), map, 0).esi()).isEqualTo((int) START_INFO);

        byte[] pvh = LinuxTestImages.pvhElf(16 * MIB, CODE, 16 * MIB);
        assertThat(KernelLoader.load(new GuestMemory(64 * MIB), pvh, "k", "", List.of(), map, 0).ebx())
                .isEqualTo((int) START_INFO);

        byte[] codeAndHeader = ByteBuffer.allocate(16).put(CODE).put(4, TestImages.multibootHeader(0)).array();
        byte[] multibootAndPvh = LinuxTestImages.pvhElf(16 * MIB, codeAndHeader, 16 * MIB);
        EntryPoint mb = KernelLoader.load(new GuestMemory(64 * MIB), multibootAndPvh, "k", "", List.of(), map, 0);
        assertThat(mb.eax()).isEqualTo(EntryPoint.MULTIBOOT_BOOTLOADER_MAGIC);

        byte[] plainElf = LinuxTestImages.pvhElf(16 * MIB, CODE, -1);
        assertThatThrownBy(() -> KernelLoader.load(new GuestMemory(64 * MIB), plainElf, "k", "", List.of(), map, 0))
                .isInstanceOf(KernelImageException.class)
                .hasMessageContaining("neither a multiboot header").hasMessageContaining("PVH entry note");
        assertThatThrownBy(() -> KernelLoader.load(memory, new byte[4096], "k", "", List.of(), map, 0))
                .isInstanceOf(KernelImageException.class)
                .hasMessageContaining("HdrS").hasMessageContaining("multiboot").hasMessageContaining("not an ELF");
    }
}

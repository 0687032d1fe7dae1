package org.tscvm.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tscvm.memory.GuestMemory;

class BzImageLoaderTest {
    private static final long MIB = 1 << 20;
    private static final long ZERO_PAGE = 0x10000;
    private static final byte[] CODE = LinuxTestImages.HALT_LOOP;
    private final GuestMemory memory = new GuestMemory(64 * MIB);
    private final MemoryMap map = MemoryMap.pc(64 * MIB, List.of());

    private static List<MultibootLoader.Module> initrd(int bytes, int fill) {
        byte[] b = new byte[bytes];
        java.util.Arrays.fill(b, (byte) fill);
        return List.of(new MultibootLoader.Module("initrd" + fill, b));
    }

    @Test
    void aKernelWithThe64BitEntryStartsThereInLongModeOnIdentityMappedPageTables() {
        byte[] image = LinuxTestImages.bzImage(CODE, b -> { });
        EntryPoint e = BzImageLoader.load(memory, image, "console=ttyS0", List.of(), map, 0);
        // Relocatable and the decompression area fits: loaded at pref_address, entered at +0x200.
        assertThat(memory.read8(LinuxTestImages.PREF_ADDRESS)).isEqualTo(0xf4);
        assertThat(e.mode()).isEqualTo(EntryPoint.Mode.LONG_64);
        assertThat(e.ip()).isEqualTo(LinuxTestImages.PREF_ADDRESS + 0x200);
        assertThat(e.esi()).isEqualTo((int) ZERO_PAGE);
        assertThat(e.eax()).isZero();
        assertThat(e.ebx()).isZero();
        // boot.rst: __BOOT_CS 0x10 and __BOOT_DS 0x18, flat, in a GDT; the code descriptor is 64-bit.
        assertThat(e.codeSelector()).isEqualTo(0x10);
        assertThat(e.dataSelector()).isEqualTo(0x18);
        assertThat(e.gdtLimit()).isEqualTo(31);
        assertThat(memory.read64(e.gdtBase() + 0x10)).isEqualTo(0x00af9a000000ffffL);
        assertThat(memory.read64(e.gdtBase() + 0x18)).isEqualTo(0x00cf92000000ffffL);
        // 4 GiB identity-mapped with 2 MiB pages: PML4 -> PDPT -> four page directories.
        long pml4 = e.cr3();
        long pdpt = memory.read64(pml4) & ~0xfffL;
        assertThat(memory.read64(pml4) & 0xfff).isEqualTo(0x3);
        for (int gib = 0; gib < 4; gib++) {
            long directory = memory.read64(pdpt + 8L * gib) & ~0xfffL;
            assertThat(memory.read64(directory)).isEqualTo(((long) gib << 30) | 0x83);
            assertThat(memory.read64(directory + 8 * 511)).isEqualTo(((long) gib << 30) + 511 * 2 * MIB | 0x83);
        }
        assertThat(memory.read64(pdpt + 8 * 4)).isZero();
        assertThat(e.imageEnd()).isEqualTo(LinuxTestImages.PREF_ADDRESS + LinuxTestImages.INIT_SIZE);
    }

    @Test
    void withoutXlfKernel64TheKernelStartsAtCode32StartInProtectedModeAtItsLoadAddress() {
        byte[] image = LinuxTestImages.bzImage(CODE, b -> b.putShort(0x236, (short) 0x7e));
        EntryPoint e = BzImageLoader.load(memory, image, "console=ttyS0", List.of(), map, 0);
        assertThat(e.mode()).isEqualTo(EntryPoint.Mode.PROTECTED_32);
        assertThat(e.ip()).isEqualTo(LinuxTestImages.PREF_ADDRESS);
        assertThat(memory.read32(ZERO_PAGE + 0x214)).isEqualTo((int) LinuxTestImages.PREF_ADDRESS); // code32_start
        assertThat(e.cr3()).isZero();
        assertThat(e.esi()).isEqualTo((int) ZERO_PAGE);
        assertThat(e.codeSelector()).isEqualTo(0x10);
        assertThat(e.dataSelector()).isEqualTo(0x18);
        assertThat(memory.read64(e.gdtBase() + 0x10)).isEqualTo(0x00cf9a000000ffffL);
    }

    @Test
    void xloadflagsCountOnlyFromProtocol2Point12() {
        byte[] image = LinuxTestImages.bzImage(CODE, b -> b.putShort(0x206, (short) 0x020b));
        assertThat(BzImageLoader.load(memory, image, "", List.of(), map, 0).mode())
                .isEqualTo(EntryPoint.Mode.PROTECTED_32);
    }

    @Test
    void aKernelThatIsNotRelocatableLoadsAt1MiBAndStartsAtCode32Start() {
        byte[] image = LinuxTestImages.bzImage(CODE, b -> b.put(0x234, (byte) 0).putShort(0x236, (short) 0));
        EntryPoint e = BzImageLoader.load(memory, image, "", List.of(), map, 0);
        assertThat(e.ip()).isEqualTo(0x100000);
        assertThat(memory.read8(0x100000)).isEqualTo(0xf4);
    }

    @Test
    void theZeroPageHoldsTheSetupHeaderAndWhatTheLoaderFilledIn() {
        byte[] image = LinuxTestImages.bzImage(CODE, b -> { });
        BzImageLoader.load(memory, image, "console=ttyS0 quiet", initrd(10_000, 7), map, 0xf5a40L);
        for (int off = 0x1f1; off < LinuxTestImages.HEADER_END; off++) {
            if (off == 0x210 || (off >= 0x214 && off < 0x220) || (off >= 0x228 && off < 0x22c)) {
                continue; // type_of_loader, code32_start, ramdisk and cmd_line_ptr: the loader's
            }
            assertThat(memory.read8(ZERO_PAGE + off)).as("zero page byte 0x%x", off).isEqualTo(image[off] & 0xff);
        }
        assertThat(memory.read8(ZERO_PAGE + LinuxTestImages.HEADER_END)).isZero();
        assertThat(memory.read8(ZERO_PAGE + 0x210)).isEqualTo(0xff);                  // type_of_loader
        assertThat(LinuxTestImages.cstringAt(memory, memory.read32(ZERO_PAGE + 0x228))).isEqualTo("console=ttyS0 quiet");
        assertThat(memory.read32(ZERO_PAGE + 0xc8)).isZero();                          // ext_cmd_line_ptr
        assertThat(memory.read64(ZERO_PAGE + 0x070)).isEqualTo(0xf5a40L);              // acpi_rsdp_addr
        assertThat(memory.read32(ZERO_PAGE + 0x21c)).isEqualTo(10_000);                // ramdisk_size
        assertThat(memory.read32(ZERO_PAGE + 0xc0)).isZero();                          // ext_ramdisk_image
    }

    @Test
    void theE820TableIsThePcMapWithTheMachinesReservedRanges() {
        MemoryMap withAcpi = MemoryMap.pc(64 * MIB, List.of(new MemoryMap.Entry(0x3ff0000, 0x10000, MemoryMap.ACPI)));
        BzImageLoader.load(memory, LinuxTestImages.bzImage(CODE, b -> { }), "", List.of(), withAcpi, 0x3ff0000);
        assertThat(memory.read8(ZERO_PAGE + 0x1e8)).isEqualTo(5);
        long[][] expected = {
            {0, 0x9fc00, 1}, {0x9fc00, 0x400, 2}, {0xf0000, 0x10000, 2},
            {0x100000, 0x3ff0000 - 0x100000, 1}, {0x3ff0000, 0x10000, 3},
        };
        for (int i = 0; i < expected.length; i++) {
            long at = ZERO_PAGE + 0x2d0 + 20L * i;
            assertThat(new long[] {memory.read64(at), memory.read64(at + 8), memory.read32(at + 16)})
                    .as("e820 entry %d", i).containsExactly(expected[i]);
        }
        assertThat(memory.read64(ZERO_PAGE + 0x2d0 + 20L * 5)).isZero();
    }

    @Test
    void theInitrdsAreConcatenatedAndPlacedPageAlignedAtTheTopOfRam() {
        byte[] image = LinuxTestImages.bzImage(CODE, b -> { });
        List<MultibootLoader.Module> two = List.of(initrd(5000, 1).get(0), initrd(3000, 2).get(0));
        BzImageLoader.load(memory, image, "", two, map, 0);
        long start = memory.read32(ZERO_PAGE + 0x218) & 0xffffffffL;
        assertThat(memory.read32(ZERO_PAGE + 0x21c)).isEqualTo(8000);
        assertThat(start).isEqualTo((64 * MIB - 8000) & -4096L);
        assertThat(memory.read8(start)).isEqualTo(1);
        assertThat(memory.read8(start + 4999)).isEqualTo(1);
        assertThat(memory.read8(start + 5000)).isEqualTo(2);
    }

    @Test
    void theInitrdStaysBelowInitrdAddrMax() {
        byte[] image = LinuxTestImages.bzImage(CODE, b -> b.putInt(0x22c, 0x37fffff)); // 56 MiB - 1
        BzImageLoader.load(memory, image, "", initrd(4096, 1), map, 0);
        long start = memory.read32(ZERO_PAGE + 0x218) & 0xffffffffL;
        assertThat(start + 4096).isLessThanOrEqualTo(0x37fffffL + 1);
        assertThat(start).isEqualTo(0x3800000L - 4096);
    }

    @Test
    void theInitrdGoesBelowTheKernelsDecompressionAreaWhenThatIsWhatRamTopHolds() {
        // init_size 47 MiB from 16 MiB reaches 63 MiB: a 2 MiB initrd no longer fits above it.
        byte[] image = LinuxTestImages.bzImage(CODE, b -> b.putInt(0x260, (int) (47 * MIB)));
        BzImageLoader.load(memory, image, "", initrd((int) (2 * MIB), 3), map, 0);
        long start = memory.read32(ZERO_PAGE + 0x218) & 0xffffffffL;
        assertThat(start + 2 * MIB).isLessThanOrEqualTo(LinuxTestImages.PREF_ADDRESS);
        assertThat(start).isEqualTo(LinuxTestImages.PREF_ADDRESS - 2 * MIB);
    }

    @Test
    void anInitrdThatFitsNowhereIsRefused() {
        byte[] image = LinuxTestImages.bzImage(CODE, b -> { });
        assertThatThrownBy(() -> BzImageLoader.load(memory, image, "", initrd((int) (50 * MIB), 1), map, 0))
                .isInstanceOf(KernelImageException.class)
                .hasMessageContaining("initrd of 52428800 bytes does not fit");
    }

    @Test
    void aProtocolOlderThan2Point10IsRefused() {
        byte[] image = LinuxTestImages.bzImage(CODE, b -> b.putShort(0x206, (short) 0x0206));
        assertThatThrownBy(() -> BzImageLoader.load(memory, image, "", List.of(), map, 0))
                .isInstanceOf(KernelImageException.class)
                .hasMessageContaining("protocol 2.06 is too old");
    }

    @Test
    void aHeaderCutOffBeforeInitSizeIsRefused() {
        byte[] whole = LinuxTestImages.bzImage(CODE, b -> { });
        byte[] cut = java.util.Arrays.copyOf(whole, 0x240);
        assertThat(BzImageLoader.isBzImage(cut)).isTrue();
        assertThatThrownBy(() -> BzImageLoader.load(memory, cut, "", List.of(), map, 0))
                .isInstanceOf(KernelImageException.class).hasMessageContaining("setup header is cut off");
    }

    @Test
    void setupSectorsBeyondTheFileAreRefused() {
        byte[] image = LinuxTestImages.bzImage(CODE, b -> b.put(0x1f1, (byte) 200));
        assertThatThrownBy(() -> BzImageLoader.load(memory, image, "", List.of(), map, 0))
                .isInstanceOf(KernelImageException.class).hasMessageContaining("setup_sects 200");
    }

    @Test
    void aSyssizeLargerThanTheFileIsRefusedAsCutOff() {
        byte[] image = LinuxTestImages.bzImage(CODE, b -> b.putInt(0x1f4, 0x100000));
        assertThatThrownBy(() -> BzImageLoader.load(memory, image, "", List.of(), map, 0))
                .isInstanceOf(KernelImageException.class).hasMessageContaining("syssize").hasMessageContaining("cut off");
    }

    @Test
    void anInitSizeBeyondRamIsRefusedSayingHowMuchRamItNeeds() {
        byte[] image = LinuxTestImages.bzImage(CODE, b -> b.putInt(0x260, 0x7000000)); // 112 MiB
        assertThatThrownBy(() -> BzImageLoader.load(memory, image, "", List.of(), map, 0))
                .isInstanceOf(KernelImageException.class)
                .hasMessageContaining("init_size 0x7000000").hasMessageContaining("-m 128M");
    }

    @Test
    void aCommandLineLongerThanCmdlineSizeIsRefused() {
        byte[] image = LinuxTestImages.bzImage(CODE, b -> b.putInt(0x238, 10));
        assertThatThrownBy(() -> BzImageLoader.load(memory, image, "console=ttyS0", List.of(), map, 0))
                .isInstanceOf(KernelImageException.class)
                .hasMessageContaining("13 bytes, more than this kernel's cmdline_size of 10");
    }

    @Test
    void aZImageIsRefused() {
        byte[] image = LinuxTestImages.bzImage(CODE, b -> b.put(0x211, (byte) 0));
        assertThatThrownBy(() -> BzImageLoader.load(memory, image, "", List.of(), map, 0))
                .isInstanceOf(KernelImageException.class).hasMessageContaining("zImage");
    }

    @Test
    void detectionNeedsBothTheBootFlagAndHdrS() {
        assertThat(BzImageLoader.isBzImage(LinuxTestImages.bzImage(CODE, b -> { }))).isTrue();
        assertThat(BzImageLoader.isBzImage(LinuxTestImages.bzImage(CODE, b -> b.putShort(0x1fe, (short) 0)))).isFalse();
        assertThat(BzImageLoader.isBzImage(LinuxTestImages.bzImage(CODE, b -> b.putInt(0x202, 0)))).isFalse();
        assertThat(BzImageLoader.isBzImage(new byte[0x100])).isFalse();
    }
}

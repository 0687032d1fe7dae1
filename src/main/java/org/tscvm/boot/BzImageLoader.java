package org.tscvm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.tscvm.memory.GuestMemory;

/**
 * Linux's x86 boot protocol for a bzImage (Documentation/arch/x86/boot.rst). The real-mode
 * setup code is not run (there is no BIOS for it); this loader does what it would have done:
 * it builds the zero page (boot_params) with the setup header copied from the file, the
 * command line, the initrd, the e820 map and the ACPI RSDP, and loads the protected-mode
 * kernel. A kernel that has the 64-bit entry (xloadflags XLF_KERNEL_64, protocol 2.12+)
 * starts there: 64-bit mode at the load address + 0x200 on page tables identity-mapping the
 * first 4 GiB. Any other starts at code32_start in 32-bit protected mode, paging off. Either
 * way RSI/ESI = the zero page, CS = 0x10 and the data segments = 0x18 from a GDT the loader
 * writes, IF = 0.
 *
 * <p>Why the 64-bit entry where there is one: it starts the kernel in the mode it runs in, so
 * the only code between the loader and the kernel proper is the decompressor's 64-bit part.
 * The 32-bit way also runs verify_cpu, which on a CPU model without SSE2 (-cpu tscvm,-sse2)
 * halts silently; entered in 64-bit mode, Debian's kernel instead reaches its own message
 * ("x86/fpu: Giving up, no FPU found"). Both entries boot Debian's 6.1 kernel on tscvm
 * (LinuxGuestTest boots Debian's kernel through both).
 *
 * <pre>{@code
 * EntryPoint e = BzImageLoader.load(memory, vmlinuz, "console=ttyS0", initrd, map, 0);
 * }</pre>
 */
public final class BzImageLoader {
    // Setup header fields, by file offset (boot.rst, "The real-mode kernel header").
    static final int SETUP_SECTS = 0x1f1;
    static final int SYSSIZE = 0x1f4;
    static final int BOOT_FLAG = 0x1fe;
    static final int JUMP = 0x200;
    static final int HEADER = 0x202;
    static final int VERSION = 0x206;
    static final int TYPE_OF_LOADER = 0x210;
    static final int LOADFLAGS = 0x211;
    static final int CODE32_START = 0x214;
    static final int RAMDISK_IMAGE = 0x218;
    static final int RAMDISK_SIZE = 0x21c;
    static final int CMD_LINE_PTR = 0x228;
    static final int INITRD_ADDR_MAX = 0x22c;
    static final int KERNEL_ALIGNMENT = 0x230;
    static final int RELOCATABLE_KERNEL = 0x234;
    static final int XLOADFLAGS = 0x236;
    static final int CMDLINE_SIZE = 0x238;
    static final int PREF_ADDRESS = 0x258;
    static final int INIT_SIZE = 0x260;
    /** The first byte after init_size, the last field this loader reads. */
    private static final int HEADER_FIELDS_END = 0x264;

    // Zero page (struct boot_params) fields outside the setup header.
    static final int ACPI_RSDP_ADDR = 0x070;
    static final int EXT_RAMDISK_IMAGE = 0x0c0;
    static final int EXT_CMD_LINE_PTR = 0x0c8;
    static final int E820_ENTRIES = 0x1e8;
    static final int E820_TABLE = 0x2d0;
    /** E820_MAX_ENTRIES_ZEROPAGE: the zero page's table has room for 128 entries of 20 bytes. */
    static final int E820_MAX_ENTRIES = 128;
    static final int ZERO_PAGE_SIZE = 4096;

    static final int BOOT_FLAG_MAGIC = 0xaa55;
    static final int HEADER_MAGIC = 0x53726448; // "HdrS"
    /**
     * The oldest protocol loaded: 2.10 (Linux 2.6.31) brought init_size and pref_address,
     * which tell a loader where the kernel decompresses itself, so that the initrd and boot
     * data can be kept out of the way. Older kernels are refused rather than guessed at.
     */
    static final int MIN_VERSION = 0x020a;
    /** xloadflags (protocol 2.12+) bit 0: the kernel has the 64-bit entry at its load address + 0x200. */
    static final int XLF_KERNEL_64 = 0x01;
    private static final int XLOADFLAGS_VERSION = 0x020c;
    static final long STARTUP_64_OFFSET = 0x200;
    /** loadflags bit 0: the protected-mode code is loaded at 1 MiB (a bzImage, not a zImage). */
    static final int LOADED_HIGH = 0x01;
    /** type_of_loader 0xff: a boot loader with no assigned id (boot.rst). */
    static final int LOADER_UNDEFINED = 0xff;
    /** Where a bzImage's protected-mode code goes unless it is relocatable (boot.rst: "loaded at 0x100000"). */
    static final long DEFAULT_LOAD_ADDRESS = 0x100000;

    // The GDT boot.rst's 32-bit protocol asks for: __BOOT_CS = 0x10 and __BOOT_DS = 0x18, 4 GiB flat.
    static final long GDT_ADDRESS = LinuxBoot.BOOT_STRUCTURE_ADDRESS + ZERO_PAGE_SIZE;
    static final int BOOT_CS = 0x10;
    static final int BOOT_DS = 0x18;
    private static final long FLAT_CODE32_DESCRIPTOR = 0x00cf9a000000ffffL; // base 0, limit 4 GiB, exec/read, D
    private static final long FLAT_CODE64_DESCRIPTOR = 0x00af9a000000ffffL; // the same with L instead of D
    private static final long FLAT_DATA_DESCRIPTOR = 0x00cf92000000ffffL;   // base 0, limit 4 GiB, read/write
    private static final int GDT_BYTES = 4 * 8;

    // The 64-bit entry's page tables: one PML4, one PDPT, four page directories of 2 MiB pages.
    static final long PAGE_TABLES_ADDRESS = GDT_ADDRESS + 0x1000;
    private static final int PAGE_TABLE_PAGES = 6;
    private static final long PTE_PRESENT_WRITABLE = 0x3;
    private static final long PDE_LARGE_PAGE = 0x80;
    private static final long TWO_MIB = 1 << 21;

    private BzImageLoader() {
    }

    /** True for a Linux boot image: the boot flag 0xAA55 at 0x1fe and "HdrS" at 0x202. */
    public static boolean isBzImage(byte[] image) {
        if (image.length < VERSION) {
            return false;
        }
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        return (b.getShort(BOOT_FLAG) & 0xffff) == BOOT_FLAG_MAGIC && b.getInt(HEADER) == HEADER_MAGIC;
    }

    /**
     * Loads the bzImage {@code image} and returns its entry state: 64-bit where the kernel has
     * that entry, else 32-bit.
     *
     * @param append   the kernel command line (QEMU's -append: no kernel name in front)
     * @param initrds  the -initrd files, concatenated into one ramdisk
     * @param acpiRsdp the ACPI RSDP's physical address for boot_params.acpi_rsdp_addr, 0 for none
     * @throws KernelImageException for a header tscvm cannot load or that does not fit in RAM
     */
    public static EntryPoint load(GuestMemory memory, byte[] image, String append,
                                  List<MultibootLoader.Module> initrds, MemoryMap memoryMap, long acpiRsdp) {
        ByteBuffer file = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int version = file.getShort(VERSION) & 0xffff;
        if (version < MIN_VERSION) {
            throw new KernelImageException(String.format(
                    "Linux boot protocol %d.%02d is too old: tscvm loads 2.10 (Linux 2.6.31) and later",
                    version >> 8, version & 0xff));
        }
        int headerEnd = HEADER + (image.length > JUMP + 1 ? image[JUMP + 1] & 0xff : 0);
        if (image.length < HEADER_FIELDS_END || headerEnd < HEADER_FIELDS_END || headerEnd > image.length) {
            throw new KernelImageException(String.format(
                    "the Linux setup header is cut off: protocol %d.%02d needs bytes up to 0x%x, the header says "
                            + "it ends at 0x%x and the file has %d bytes",
                    version >> 8, version & 0xff, HEADER_FIELDS_END, headerEnd, image.length));
        }
        int setupSects = image[SETUP_SECTS] & 0xff;
        long kernelOffset = ((setupSects == 0 ? 4 : setupSects) + 1) * 512L; // boot.rst: 0 means 4
        if (kernelOffset >= image.length) {
            throw new KernelImageException(String.format(
                    "setup_sects %d puts the protected-mode kernel at file offset 0x%x, past the end of the %d-byte file",
                    setupSects, kernelOffset, image.length));
        }
        if ((image[LOADFLAGS] & LOADED_HIGH) == 0) {
            throw new KernelImageException("this is a zImage (loadflags bit LOADED_HIGH clear, loaded at 0x10000): "
                    + "tscvm loads only bzImages");
        }
        long kernelBytes = image.length - kernelOffset;
        long syssizeBytes = (file.getInt(SYSSIZE) & 0xffffffffL) * 16;
        if (syssizeBytes > kernelBytes) {
            throw new KernelImageException(String.format(
                    "syssize says the protected-mode kernel has %d bytes, but the file has %d after offset 0x%x: "
                            + "the file is cut off", syssizeBytes, kernelBytes, kernelOffset));
        }
        long cmdlineSize = file.getInt(CMDLINE_SIZE) & 0xffffffffL;
        int cmdlineBytes = BootStrings.nulTerminated(append).length - 1;
        if (cmdlineBytes > cmdlineSize) {
            throw new KernelImageException(String.format(
                    "the command line has %d bytes, more than this kernel's cmdline_size of %d",
                    cmdlineBytes, cmdlineSize));
        }

        boolean relocatable = image[RELOCATABLE_KERNEL] != 0;
        long alignment = file.getInt(KERNEL_ALIGNMENT) & 0xffffffffL;
        long prefAddress = file.getLong(PREF_ADDRESS);
        long initSize = file.getInt(INIT_SIZE) & 0xffffffffL;
        if (relocatable && (alignment == 0 || (alignment & (alignment - 1)) != 0)) {
            throw new KernelImageException(String.format(
                    "a relocatable kernel with kernel_alignment 0x%x, which is not a power of two", alignment));
        }
        // Load at pref_address when the kernel may be moved and its decompression area fits there
        // (it then runs where it is loaded); else at 1 MiB, where every bzImage may go.
        long ram = memory.belowFourGiB();
        long loadAddress = relocatable && prefAddress >= DEFAULT_LOAD_ADDRESS && (prefAddress & (alignment - 1)) == 0
                && prefAddress + Math.max(kernelBytes, initSize) <= ram ? prefAddress : DEFAULT_LOAD_ADDRESS;
        // boot.rst, init_size: the kernel needs init_size bytes from its runtime start address.
        long runtimeStart = relocatable ? alignUp(Math.max(loadAddress, prefAddress), alignment) : prefAddress;
        long kernelEnd = loadAddress + kernelBytes;
        long runtimeEnd = runtimeStart + initSize;
        if (runtimeStart < 0 || runtimeEnd > ram || kernelEnd > ram) {
            throw new KernelImageException(String.format(
                    "the kernel needs RAM up to 0x%x (init_size 0x%x from 0x%x, %d bytes loaded at 0x%x) but RAM "
                            + "below 4 GiB ends at 0x%x: give the VM more memory (-m %dM)",
                    Math.max(runtimeEnd, kernelEnd), initSize, runtimeStart, kernelBytes, loadAddress, ram,
                    (Math.max(runtimeEnd, kernelEnd) + (1 << 20) - 1) >> 20));
        }
        long code32Start = file.getInt(CODE32_START) & 0xffffffffL;
        long entry32 = code32Start + (loadAddress - DEFAULT_LOAD_ADDRESS); // the same offset into the moved code
        if (entry32 < loadAddress || entry32 >= kernelEnd) {
            throw new KernelImageException(String.format(
                    "code32_start 0x%x lies outside the protected-mode kernel [0x%x, 0x%x) loaded at 0x%x",
                    code32Start, DEFAULT_LOAD_ADDRESS, DEFAULT_LOAD_ADDRESS + kernelBytes, loadAddress));
        }
        boolean entry64 = version >= XLOADFLAGS_VERSION && (file.getShort(XLOADFLAGS) & XLF_KERNEL_64) != 0;
        if (entry64 && STARTUP_64_OFFSET >= kernelBytes) {
            throw new KernelImageException(String.format(
                    "xloadflags announces a 64-bit entry at +0x%x, but the protected-mode kernel has only %d bytes",
                    STARTUP_64_OFFSET, kernelBytes));
        }
        List<MemoryMap.Entry> e820 = memoryMap.entries();
        if (e820.size() > E820_MAX_ENTRIES) {
            throw new IllegalStateException("the memory map has " + e820.size() + " entries; the zero page holds 128");
        }

        LoadedRegions regions = new LoadedRegions();
        long zeroPage = LinuxBoot.BOOT_STRUCTURE_ADDRESS;
        regions.addInRam(memory, new LoadedRegions.Region("the zero page and GDT", zeroPage,
                GDT_ADDRESS + GDT_BYTES));
        if (entry64) {
            regions.addInRam(memory, new LoadedRegions.Region("the identity page tables", PAGE_TABLES_ADDRESS,
                    PAGE_TABLES_ADDRESS + PAGE_TABLE_PAGES * 4096L));
        }
        regions.addInRam(memory, new LoadedRegions.Region("the kernel and its decompression area (init_size)",
                Math.min(loadAddress, runtimeStart), Math.max(kernelEnd, runtimeEnd)));
        memory.load(loadAddress, image, (int) kernelOffset, (int) kernelBytes);
        long cmdline = LinuxBoot.writeCommandLine(memory, regions, append);
        byte[] initrd = LinuxBoot.concatenate(initrds);
        long initrdStart = 0;
        if (initrd.length > 0) {
            long initrdAddrMax = file.getInt(INITRD_ADDR_MAX) & 0xffffffffL;
            initrdStart = LinuxBoot.placeInitrd(memory, memoryMap, regions, initrd, initrdAddrMax + 1);
        }

        memory.fill(zeroPage, ZERO_PAGE_SIZE, (byte) 0);
        memory.load(zeroPage + SETUP_SECTS, image, SETUP_SECTS, headerEnd - SETUP_SECTS);
        memory.write8(zeroPage + TYPE_OF_LOADER, LOADER_UNDEFINED);
        memory.write32(zeroPage + CODE32_START, (int) entry32);
        memory.write32(zeroPage + CMD_LINE_PTR, (int) cmdline);
        memory.write32(zeroPage + EXT_CMD_LINE_PTR, (int) (cmdline >>> 32));
        memory.write32(zeroPage + RAMDISK_IMAGE, (int) initrdStart);
        memory.write32(zeroPage + EXT_RAMDISK_IMAGE, (int) (initrdStart >>> 32));
        memory.write32(zeroPage + RAMDISK_SIZE, initrd.length);
        memory.write64(zeroPage + ACPI_RSDP_ADDR, acpiRsdp); // read by protocol 2.14+ kernels
        memory.write8(zeroPage + E820_ENTRIES, e820.size());
        for (int i = 0; i < e820.size(); i++) {
            long at = zeroPage + E820_TABLE + 20L * i;
            memory.write64(at, e820.get(i).start());
            memory.write64(at + 8, e820.get(i).length());
            memory.write32(at + 16, e820.get(i).type());
        }
        memory.write64(GDT_ADDRESS, 0);
        memory.write64(GDT_ADDRESS + 8, 0);
        memory.write64(GDT_ADDRESS + BOOT_CS, entry64 ? FLAT_CODE64_DESCRIPTOR : FLAT_CODE32_DESCRIPTOR);
        memory.write64(GDT_ADDRESS + BOOT_DS, FLAT_DATA_DESCRIPTOR);
        if (!entry64) {
            return new EntryPoint(EntryPoint.Mode.PROTECTED_32, entry32, BOOT_CS, BOOT_DS, GDT_ADDRESS,
                    GDT_BYTES - 1, 0, 0, 0, (int) zeroPage, regions.end());
        }
        writeIdentityPageTables(memory);
        return new EntryPoint(EntryPoint.Mode.LONG_64, loadAddress + STARTUP_64_OFFSET, BOOT_CS, BOOT_DS,
                GDT_ADDRESS, GDT_BYTES - 1, PAGE_TABLES_ADDRESS, 0, 0, (int) zeroPage, regions.end());
    }

    /**
     * Identity-maps [0, 4 GiB) with 2 MiB pages at {@link #PAGE_TABLES_ADDRESS}: boot.rst asks
     * for the kernel's init_size range, the zero page and the command line; all RAM tscvm can
     * have lies below 4 GiB.
     */
    private static void writeIdentityPageTables(GuestMemory memory) {
        long pml4 = PAGE_TABLES_ADDRESS;
        long pdpt = pml4 + 0x1000;
        long directories = pdpt + 0x1000;
        memory.fill(pml4, PAGE_TABLE_PAGES * 4096L, (byte) 0);
        memory.write64(pml4, pdpt | PTE_PRESENT_WRITABLE);
        for (int gib = 0; gib < 4; gib++) {
            long directory = directories + gib * 0x1000L;
            memory.write64(pdpt + 8L * gib, directory | PTE_PRESENT_WRITABLE);
            for (int i = 0; i < 512; i++) {
                long address = ((long) gib << 30) + i * TWO_MIB;
                memory.write64(directory + 8L * i, address | PDE_LARGE_PAGE | PTE_PRESENT_WRITABLE);
            }
        }
    }

    private static long alignUp(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }
}

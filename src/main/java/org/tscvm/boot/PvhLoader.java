package org.tscvm.boot;

import java.util.List;
import org.tscvm.memory.GuestMemory;

/**
 * Xen's PVH direct boot (the "HVM direct boot ABI", xen/include/public/arch-x86/hvm/start_info.h),
 * as QEMU does it for `-kernel vmlinux`: an ELF kernel whose PT_NOTE holds the note
 * owner "Xen", type 18 (XEN_ELFNOTE_PHYS32_ENTRY). Its PT_LOADs go to their physical
 * addresses; an {@code hvm_start_info} version 1 describes the command line, the initrd (one
 * module: the -initrd files concatenated, since Linux reads only the first), the ACPI RSDP and
 * the e820 map; the kernel starts at the note's address in flat 32-bit protected mode, paging
 * off, IF = 0, EBX = the start_info.
 *
 * <pre>{@code
 * EntryPoint e = PvhLoader.load(memory, vmlinux, "console=ttyS0", initrds, map, 0);
 * }</pre>
 */
public final class PvhLoader {
    /** hvm_start_info.magic: "xEn3" with the high bit of every byte flipped. */
    static final int START_INFO_MAGIC = 0x336ec578;
    /** Version 1 carries the memory map; Linux BUG()s on a version 0 start_info outside Xen. */
    static final int START_INFO_VERSION = 1;
    // hvm_start_info field offsets.
    static final int SI_MAGIC = 0x00;
    static final int SI_VERSION = 0x04;
    static final int SI_FLAGS = 0x08;
    static final int SI_NR_MODULES = 0x0c;
    static final int SI_MODLIST_PADDR = 0x10;
    static final int SI_CMDLINE_PADDR = 0x18;
    static final int SI_RSDP_PADDR = 0x20;
    static final int SI_MEMMAP_PADDR = 0x28;
    static final int SI_MEMMAP_ENTRIES = 0x30;
    static final int START_INFO_SIZE = 0x38;
    /** hvm_modlist_entry: paddr, size, cmdline_paddr, reserved (8 bytes each). */
    static final int MODLIST_ENTRY_SIZE = 32;
    /** hvm_memmap_table_entry: addr, size (8 bytes each), type, reserved (4 bytes each). */
    static final int MEMMAP_ENTRY_SIZE = 24;
    /** The entry is a 32-bit physical address, the initrd must be reachable from 32-bit code. */
    private static final long FOUR_GIB = 1L << 32;

    private PvhLoader() {
    }

    /** The PVH entry point of {@code image}, or -1 when it is not an ELF with the Xen PHYS32_ENTRY note. */
    public static long pvhEntry(byte[] image) {
        return ElfImage.hasElfMagic(image) ? ElfImage.parse(image).pvhEntry() : -1;
    }

    /**
     * Loads the PVH kernel {@code image} and returns its entry state.
     *
     * @param append   the kernel command line
     * @param initrds  the -initrd files, concatenated into the one module
     * @param acpiRsdp the ACPI RSDP's physical address for start_info.rsdp_paddr, 0 for none
     * @throws KernelImageException for an ELF tscvm cannot load, or boot data that does not fit
     */
    public static EntryPoint load(GuestMemory memory, byte[] image, String append,
                                  List<MultibootLoader.Module> initrds, MemoryMap memoryMap, long acpiRsdp) {
        ElfImage elf = ElfImage.parse(image);
        long entry = elf.pvhEntry();
        if (entry < 0) {
            throw new KernelImageException("the ELF has no PVH entry note (owner \"Xen\", type 18)");
        }
        LoadedRegions regions = new LoadedRegions();
        elf.loadSegments(memory, regions);
        if (entry >= FOUR_GIB || regions.firstOverlap(entry, entry + 1) == null) {
            throw new KernelImageException(String.format(
                    "the PVH entry point 0x%x (ELF note Xen type 18) lies in none of the loaded segments", entry));
        }
        List<MemoryMap.Entry> e820 = memoryMap.entries();
        long startInfo = LinuxBoot.BOOT_STRUCTURE_ADDRESS;
        long modlist = startInfo + START_INFO_SIZE;
        long memmap = modlist + MODLIST_ENTRY_SIZE;
        long end = memmap + (long) MEMMAP_ENTRY_SIZE * e820.size();
        regions.addInRam(memory, new LoadedRegions.Region("the PVH start_info, module list and memory map",
                startInfo, end));
        long cmdline = LinuxBoot.writeCommandLine(memory, regions, append);
        byte[] initrd = LinuxBoot.concatenate(initrds);
        long initrdStart = initrd.length > 0
                ? LinuxBoot.placeInitrd(memory, memoryMap, regions, initrd, FOUR_GIB) : 0;

        memory.fill(startInfo, end - startInfo, (byte) 0);
        memory.write32(startInfo + SI_MAGIC, START_INFO_MAGIC);
        memory.write32(startInfo + SI_VERSION, START_INFO_VERSION);
        memory.write32(startInfo + SI_FLAGS, 0);
        memory.write32(startInfo + SI_NR_MODULES, initrd.length > 0 ? 1 : 0);
        memory.write64(startInfo + SI_MODLIST_PADDR, initrd.length > 0 ? modlist : 0);
        memory.write64(startInfo + SI_CMDLINE_PADDR, cmdline);
        memory.write64(startInfo + SI_RSDP_PADDR, acpiRsdp);
        memory.write64(startInfo + SI_MEMMAP_PADDR, memmap);
        memory.write32(startInfo + SI_MEMMAP_ENTRIES, e820.size());
        memory.write64(modlist, initrdStart);
        memory.write64(modlist + 8, initrd.length);
        for (int i = 0; i < e820.size(); i++) {
            long at = memmap + (long) MEMMAP_ENTRY_SIZE * i;
            memory.write64(at, e820.get(i).start());
            memory.write64(at + 8, e820.get(i).length());
            memory.write32(at + 16, e820.get(i).type());
        }
        return EntryPoint.pvh((int) entry, (int) startInfo, regions.end());
    }
}

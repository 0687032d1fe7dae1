package org.tscvm.boot;

import java.util.List;
import org.tscvm.memory.GuestMemory;

/**
 * Chooses the loader by what the kernel file is, in QEMU's order (hw/i386/x86.c,
 * x86_load_linux): a Linux bzImage (boot flag 0xAA55 and "HdrS" in its setup header) first,
 * then a multiboot header in the first 8 KiB, then an ELF with the PVH note. QEMU tries
 * multiboot before PVH because a multiboot kernel may also be ELF; a kernel that is both
 * multiboot and PVH (tscvm's own test kernels are multiboot only) boots by multiboot.
 *
 * <pre>{@code
 * EntryPoint e = KernelLoader.load(memory, bytes, "vmlinuz", "console=ttyS0", initrds,
 *         MemoryMap.pc(memory.size(), List.of()), 0);
 * }</pre>
 */
public final class KernelLoader {
    private KernelLoader() {
    }

    /**
     * Loads {@code image} and returns its entry state.
     *
     * @param kernelName the kernel's file name (the first word of a multiboot command line)
     * @param append     the command line (-append)
     * @param initrds    the -initrd files: multiboot modules, or Linux's initrd concatenated
     * @param memoryMap  the e820 map the kernel is given
     * @param acpiRsdp   the ACPI RSDP's physical address for Linux, 0 for none
     * @throws KernelImageException when the file is none of the formats, or broken
     */
    public static EntryPoint load(GuestMemory memory, byte[] image, String kernelName, String append,
                                  List<MultibootLoader.Module> initrds, MemoryMap memoryMap, long acpiRsdp) {
        if (BzImageLoader.isBzImage(image)) {
            return BzImageLoader.load(memory, image, append, initrds, memoryMap, acpiRsdp);
        }
        if (MultibootLoader.hasHeader(image)) {
            return MultibootLoader.load(memory, image, kernelName, append, initrds, memoryMap);
        }
        if (ElfImage.hasElfMagic(image)) {
            if (ElfImage.parse(image).pvhEntry() >= 0) {
                return PvhLoader.load(memory, image, append, initrds, memoryMap, acpiRsdp);
            }
            throw new KernelImageException("an ELF kernel with neither a multiboot header (magic 0x1BADB002 with a "
                    + "valid checksum in the first 8 KiB) nor a PVH entry note (PT_NOTE owner \"Xen\", type 18): "
                    + "tscvm does not know how to start it");
        }
        throw new KernelImageException("not a kernel tscvm can boot: no Linux boot header (\"HdrS\" at 0x202 with "
                + "the boot flag 0xAA55), no multiboot header (magic 0x1BADB002 with a valid checksum in the first "
                + "8 KiB), not an ELF");
    }
}

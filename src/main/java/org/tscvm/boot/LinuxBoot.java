package org.tscvm.boot;

import java.util.List;
import org.tscvm.memory.GuestMemory;

/** What the bzImage and PVH loaders share: where the command line goes, how the initrd is placed. */
final class LinuxBoot {
    /** The boot structure (zero page or start_info) the kernel gets, in low RAM no kernel loads into. */
    static final long BOOT_STRUCTURE_ADDRESS = 0x10000;
    /** The command line, as QEMU places it for Linux; it may run up to the EBDA. */
    static final long CMDLINE_ADDRESS = 0x20000;

    private LinuxBoot() {
    }

    /** Writes {@code append} NUL-terminated at {@link #CMDLINE_ADDRESS}; returns that address. */
    static long writeCommandLine(GuestMemory memory, LoadedRegions regions, String append) {
        byte[] cmdline = BootStrings.nulTerminated(append);
        if (CMDLINE_ADDRESS + cmdline.length > MemoryMap.LOW_RAM_END) {
            throw new KernelImageException(String.format(
                    "the command line of %d bytes does not fit in low memory [0x%x, 0x%x)",
                    cmdline.length - 1, CMDLINE_ADDRESS, MemoryMap.LOW_RAM_END));
        }
        regions.addInRam(memory, new LoadedRegions.Region("the command line", CMDLINE_ADDRESS,
                CMDLINE_ADDRESS + cmdline.length));
        memory.load(CMDLINE_ADDRESS, cmdline, 0, cmdline.length);
        return CMDLINE_ADDRESS;
    }

    /** The -initrd files one after another, as QEMU hands several to Linux. */
    static byte[] concatenate(List<MultibootLoader.Module> initrds) {
        long total = 0;
        for (MultibootLoader.Module m : initrds) {
            total += m.bytes().length;
        }
        if (total > Integer.MAX_VALUE - 8) {
            throw new KernelImageException("the initrd files add up to " + total + " bytes, more than tscvm's 2 GiB of RAM");
        }
        byte[] all = new byte[(int) total];
        int at = 0;
        for (MultibootLoader.Module m : initrds) {
            System.arraycopy(m.bytes(), 0, all, at, m.bytes().length);
            at += m.bytes().length;
        }
        return all;
    }

    /**
     * Copies {@code initrd} to the highest page-aligned RAM below {@code limit} that nothing
     * placed so far uses, as QEMU and boot loaders do (the kernel unpacks it from there and
     * frees it); returns its address.
     */
    static long placeInitrd(GuestMemory memory, MemoryMap map, LoadedRegions regions, byte[] initrd, long limit) {
        long start = map.highestFreeRam(initrd.length, limit, regions);
        if (start < 0) {
            throw new KernelImageException(String.format(
                    "the initrd of %d bytes does not fit in free RAM below 0x%x (RAM below 4 GiB ends at 0x%x, the kernel and "
                            + "its boot data end at 0x%x): give the VM more memory (-m)",
                    initrd.length, limit, map.lowRamEnd(), regions.end()));
        }
        regions.add(new LoadedRegions.Region("the initrd", start, start + initrd.length));
        memory.load(start, initrd, 0, initrd.length);
        return start;
    }
}

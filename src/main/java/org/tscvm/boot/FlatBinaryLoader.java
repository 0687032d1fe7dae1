package org.tscvm.boot;

import org.tscvm.memory.GuestMemory;

/**
 * Loads a raw image at a fixed physical address, for tiny tests: no headers, no MBI. The entry
 * state is the same flat 32-bit protected mode as multiboot's, with EBX = 0.
 */
public final class FlatBinaryLoader {
    private FlatBinaryLoader() {
    }

    public static EntryPoint load(GuestMemory memory, byte[] image, long loadAddress, long entry) {
        long end = loadAddress + image.length;
        if (loadAddress < 0 || !memory.isRam(loadAddress, image.length)) {
            throw new KernelImageException(String.format(
                    "flat image of %d bytes at 0x%x does not fit in RAM %s",
                    image.length, loadAddress, memory.describeRanges()));
        }
        if (entry < loadAddress || entry >= Math.max(end, loadAddress + 1)) {
            throw new KernelImageException(String.format(
                    "flat image entry 0x%x lies outside the image [0x%x, 0x%x)", entry, loadAddress, end));
        }
        memory.load(loadAddress, image, 0, image.length);
        return EntryPoint.flat((int) entry, end);
    }
}

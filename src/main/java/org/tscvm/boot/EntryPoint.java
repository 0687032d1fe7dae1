package org.tscvm.boot;

/**
 * Where a loaded kernel starts: the multiboot entry state (platform.md section 1) is 32-bit
 * flat protected mode at {@code eip} with EAX = 0x2BADB002 and EBX = {@code mbiAddress}.
 *
 * @param eip         the physical entry address
 * @param mbiAddress  the multiboot information structure's address (0 for a flat binary)
 * @param imageEnd    the first byte above everything the loader placed (image, bss, modules)
 */
public record EntryPoint(int eip, int mbiAddress, long imageEnd) {
    /** EAX at a multiboot entry: tells the kernel a multiboot-1 loader started it. */
    public static final int MULTIBOOT_BOOTLOADER_MAGIC = 0x2BADB002;
}

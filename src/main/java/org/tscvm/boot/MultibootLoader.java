package org.tscvm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.tscvm.memory.GuestMemory;

/**
 * Multiboot-1 loader (platform.md section 1): finds the header in the first 8 KiB, loads an
 * ELF32 or ELF64 image by its program headers (zeroing bss) or an a.out-kludge image by the
 * header's addresses, places modules above the image and builds the multiboot information
 * structure (MBI) at 0x9500, as QEMU does for kernels linked high; an image that covers 0x9500
 * (a kernel linked at 0x8000) gets its MBI on the first free page above the image and modules.
 *
 * <pre>{@code
 * EntryPoint entry = MultibootLoader.load(memory, kernelBytes, "x86/tsc.flat", "-v",
 *         List.of(new MultibootLoader.Module("env", envBytes)), MemoryMap.pc(memory.size(), List.of()));
 * // entry: flat 32-bit protected mode at entry.ip(), EAX = 0x2BADB002, EBX = the MBI
 * }</pre>
 */
public final class MultibootLoader {
    public static final int HEADER_MAGIC = 0x1BADB002;
    /** The header must lie 4-byte aligned within the first 8 KiB of the file. */
    public static final int HEADER_SEARCH_BYTES = 8192;
    /** Flags bit 16: the header carries load addresses (the "a.out kludge"). */
    public static final int FLAG_AOUT_KLUDGE = 1 << 16;
    /** Required-feature bits tscvm honours: 0 page-aligned modules, 1 memory info, 2 video (ignored: no display). */
    private static final int FLAGS_REQUIRED_KNOWN = 0x7;

    /** Where QEMU puts the MBI; strings, the memory map and the module list follow it. */
    public static final int MBI_ADDRESS = 0x9500;
    private static final int MBI_SIZE = 0x80;
    private static final int PAGE = 4096;

    // MBI flags and field offsets (Multiboot 0.6.96 section 3.3).
    static final int MBI_FLAG_MEM = 1 << 0;
    static final int MBI_FLAG_CMDLINE = 1 << 2;
    static final int MBI_FLAG_MODS = 1 << 3;
    static final int MBI_FLAG_MMAP = 1 << 6;
    static final int MBI_FLAG_LOADER_NAME = 1 << 9;
    static final int MBI_FLAGS = 0;
    static final int MBI_MEM_LOWER = 4;
    static final int MBI_MEM_UPPER = 8;
    static final int MBI_CMDLINE = 16;
    static final int MBI_MODS_COUNT = 20;
    static final int MBI_MODS_ADDR = 24;
    static final int MBI_MMAP_LENGTH = 44;
    static final int MBI_MMAP_ADDR = 48;
    static final int MBI_LOADER_NAME = 64;
    public static final String LOADER_NAME = "tscvm";

    /** A module: its bytes and the string the MBI gives it (QEMU gives the file name). */
    public record Module(String name, byte[] bytes) {
    }

    private MultibootLoader() {
    }

    /**
     * Loads {@code image} into {@code memory} and returns the entry state.
     *
     * @param kernelName the kernel's file name, the first word of the MBI command line
     * @param append     the rest of the command line (may be empty)
     * @param memoryMap  the PC's e820 map, given to the kernel as the MBI's mmap
     * @throws KernelImageException for anything in the image tscvm cannot load, naming it
     */
    public static EntryPoint load(GuestMemory memory, byte[] image, String kernelName, String append,
                                  List<Module> modules, MemoryMap memoryMap) {
        int headerOffset = findHeader(image);
        ByteBuffer file = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int flags = file.getInt(headerOffset + 4);
        int unknownRequired = flags & 0xffff & ~FLAGS_REQUIRED_KNOWN;
        if (unknownRequired != 0) {
            throw new KernelImageException(String.format(
                    "multiboot header at file offset 0x%x requires features 0x%x that tscvm does not provide",
                    headerOffset, unknownRequired));
        }
        LoadedRegions regions = new LoadedRegions();
        long entry;
        if ((flags & FLAG_AOUT_KLUDGE) != 0) {
            entry = loadAout(memory, file, headerOffset, regions);
        } else {
            if (!ElfImage.hasElfMagic(image)) {
                throw new KernelImageException(
                        "multiboot header without the a.out kludge, and the file is not ELF (no \\x7fELF magic)");
            }
            entry = ElfImage.parse(image).loadSegments(memory, regions);
        }
        if (entry < 0 || entry > 0xffffffffL) {
            throw new KernelImageException(String.format(
                    "entry point 0x%x is not a 32-bit physical address a multiboot kernel can start at", entry));
        }
        long imageEnd = regions.end();
        // Modules go page-aligned just above the image, as QEMU places them.
        long next = align(imageEnd, PAGE);
        long[] moduleStarts = new long[modules.size()];
        for (int i = 0; i < modules.size(); i++) {
            Module m = modules.get(i);
            long start = next;
            long end = start + m.bytes().length;
            if (!memory.isRam(start, m.bytes().length) || end > 0xffffffffL) {
                throw new KernelImageException(String.format(
                        "module %d (%s, %d bytes) does not fit above the image at 0x%x in RAM below 4 GiB %s",
                        i, m.name(), m.bytes().length, start, memory.describeRanges()));
            }
            regions.add(new LoadedRegions.Region("module " + i + " (" + m.name() + ")", start, end));
            memory.load(start, m.bytes(), 0, m.bytes().length);
            moduleStarts[i] = start;
            next = align(end, PAGE);
            imageEnd = Math.max(imageEnd, end);
        }
        long mbi = writeMbi(memory, regions, kernelName, append, modules, moduleStarts, memoryMap);
        return EntryPoint.multiboot((int) entry, (int) mbi, imageEnd);
    }

    /** True when {@code image} has a multiboot header (magic and a valid checksum) in its first 8 KiB. */
    public static boolean hasHeader(byte[] image) {
        return headerOffset(image) >= 0;
    }

    static int findHeader(byte[] image) {
        int offset = headerOffset(image);
        if (offset < 0) {
            throw new KernelImageException(
                    "no multiboot header (magic 0x1BADB002 with a valid checksum) in the first 8 KiB: not a multiboot kernel");
        }
        return offset;
    }

    private static int headerOffset(byte[] image) {
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int limit = Math.min(image.length, HEADER_SEARCH_BYTES) - 12;
        for (int off = 0; off <= limit; off += 4) {
            if (b.getInt(off) == HEADER_MAGIC && b.getInt(off) + b.getInt(off + 4) + b.getInt(off + 8) == 0) {
                return off;
            }
        }
        return -1;
    }

    private static long loadAout(GuestMemory memory, ByteBuffer file, int headerOffset, LoadedRegions regions) {
        if (headerOffset + 32 > file.capacity()) {
            throw new KernelImageException("multiboot header with the a.out kludge is cut off at the end of the file");
        }
        long headerAddr = file.getInt(headerOffset + 12) & 0xffffffffL;
        long loadAddr = file.getInt(headerOffset + 16) & 0xffffffffL;
        long loadEndAddr = file.getInt(headerOffset + 20) & 0xffffffffL;
        long bssEndAddr = file.getInt(headerOffset + 24) & 0xffffffffL;
        long entry = file.getInt(headerOffset + 28) & 0xffffffffL;
        if (loadAddr > headerAddr) {
            throw new KernelImageException(String.format(
                    "a.out kludge: load_addr 0x%x is above header_addr 0x%x", loadAddr, headerAddr));
        }
        long fileOffset = headerOffset - (headerAddr - loadAddr);
        if (fileOffset < 0) {
            throw new KernelImageException(String.format(
                    "a.out kludge: header_addr 0x%x and load_addr 0x%x put the load start before the file start",
                    headerAddr, loadAddr));
        }
        long loadSize = loadEndAddr == 0 ? file.capacity() - fileOffset : loadEndAddr - loadAddr;
        if (loadSize < 0 || fileOffset + loadSize > file.capacity()) {
            throw new KernelImageException(String.format(
                    "a.out kludge: load_end_addr 0x%x asks for %d bytes but the file has %d after offset 0x%x",
                    loadEndAddr, loadSize, file.capacity() - fileOffset, fileOffset));
        }
        long loadEnd = loadAddr + loadSize;
        long bssEnd = bssEndAddr == 0 ? loadEnd : bssEndAddr;
        if (bssEnd < loadEnd) {
            throw new KernelImageException(String.format(
                    "a.out kludge: bss_end_addr 0x%x lies below the loaded end 0x%x", bssEndAddr, loadEnd));
        }
        regions.addInRam(memory, new LoadedRegions.Region("a.out image", loadAddr, bssEnd));
        memory.load(loadAddr, file.array(), (int) fileOffset, (int) loadSize);
        memory.fill(loadEnd, bssEnd - loadEnd, (byte) 0);
        return entry;
    }

    private static long align(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }

    /** Writes the MBI and everything it points to; returns the MBI's address. */
    private static long writeMbi(GuestMemory memory, LoadedRegions regions, String kernelName, String append,
                                 List<Module> modules, long[] moduleStarts, MemoryMap memoryMap) {
        // mem_upper: the RAM from 1 MiB up to the first hole, as QEMU's multiboot loader gives it.
        long ram = memory.belowFourGiB();
        // Everything the MBI points to follows it: command line, loader name, module list and
        // strings, memory map. Compute the size first to check it against the image.
        String cmdline = append == null || append.isEmpty() ? kernelName : kernelName + " " + append;
        byte[] cmd = BootStrings.nulTerminated(cmdline);
        byte[] loaderName = BootStrings.nulTerminated(LOADER_NAME);
        List<byte[]> moduleNames = new ArrayList<>();
        int stringBytes = cmd.length + loaderName.length;
        for (Module m : modules) {
            byte[] n = BootStrings.nulTerminated(m.name());
            moduleNames.add(n);
            stringBytes += n.length;
        }
        List<MemoryMap.Entry> mmap = memoryMap.entries();
        long size = MBI_SIZE + 16L * modules.size() + 24L * mmap.size() + stringBytes;
        long base = MBI_ADDRESS;
        if (base + size > MemoryMap.LOW_RAM_END || regions.firstOverlap(base, base + size) != null) {
            base = align(regions.end(), PAGE);
            if (!memory.isRam(base, size) || base + size > 0xffffffffL) {
                throw new KernelImageException(String.format(
                        "no room for the multiboot information (%d bytes): 0x%x is taken and RAM ends above the image",
                        size, MBI_ADDRESS));
            }
        }
        long modsAddr = base + MBI_SIZE;
        long mmapAddr = modsAddr + 16L * modules.size();
        long stringsAddr = mmapAddr + 24L * mmap.size();
        long end = stringsAddr + stringBytes;
        regions.add(new LoadedRegions.Region("the multiboot information", base, end));
        memory.fill(base, end - base, (byte) 0);

        long s = stringsAddr;
        long cmdAddr = s;
        memory.load(s, cmd, 0, cmd.length);
        s += cmd.length;
        long nameAddr = s;
        memory.load(s, loaderName, 0, loaderName.length);
        s += loaderName.length;
        for (int i = 0; i < modules.size(); i++) {
            byte[] n = moduleNames.get(i);
            long entry = modsAddr + 16L * i;
            memory.write32(entry, (int) moduleStarts[i]);
            memory.write32(entry + 4, (int) (moduleStarts[i] + modules.get(i).bytes().length));
            memory.write32(entry + 8, (int) s);
            memory.load(s, n, 0, n.length);
            s += n.length;
        }
        for (int i = 0; i < mmap.size(); i++) {
            long e = mmapAddr + 24L * i;
            memory.write32(e, 20); // size of the entry after this field
            memory.write64(e + 4, mmap.get(i).start());
            memory.write64(e + 12, mmap.get(i).length());
            memory.write32(e + 20, mmap.get(i).type());
        }
        int flags = MBI_FLAG_MEM | MBI_FLAG_CMDLINE | MBI_FLAG_MODS | MBI_FLAG_MMAP | MBI_FLAG_LOADER_NAME;
        memory.write32(base + MBI_FLAGS, flags);
        memory.write32(base + MBI_MEM_LOWER, (int) (MemoryMap.LOW_RAM_END >> 10));
        memory.write32(base + MBI_MEM_UPPER, (int) ((ram - MemoryMap.HIGH_RAM_START) >> 10));
        memory.write32(base + MBI_CMDLINE, (int) cmdAddr);
        memory.write32(base + MBI_MODS_COUNT, modules.size());
        memory.write32(base + MBI_MODS_ADDR, (int) modsAddr);
        memory.write32(base + MBI_MMAP_LENGTH, 24 * mmap.size());
        memory.write32(base + MBI_MMAP_ADDR, (int) mmapAddr);
        memory.write32(base + MBI_LOADER_NAME, (int) nameAddr);
        return base;
    }
}

package org.tscvm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
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
 *         List.of(new MultibootLoader.Module("env", envBytes)));
 * cpu.enterFlatProtectedMode(entry.eip());   // EAX = 0x2BADB002, EBX = entry.mbiAddress()
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
    /** Conventional memory ends here (639 KiB); the EBDA and legacy ROM area follow. */
    static final long LOW_RAM_END = 0x9fc00;
    private static final long HIGH_RAM_START = 0x100000;
    private static final long BIOS_AREA_START = 0xf0000;
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
    static final int E820_RAM = 1;
    static final int E820_RESERVED = 2;
    public static final String LOADER_NAME = "tscvm";

    // ELF constants.
    private static final int ELFCLASS32 = 1;
    private static final int ELFCLASS64 = 2;
    private static final int ELFDATA2LSB = 1;
    private static final int ET_EXEC = 2;
    private static final int EM_386 = 3;
    private static final int EM_X86_64 = 62;
    private static final int PT_LOAD = 1;

    /** A module: its bytes and the string the MBI gives it (QEMU gives the file name). */
    public record Module(String name, byte[] bytes) {
    }

    /** A piece of memory the loader fills: a program segment, a module, the MBI. */
    private record Region(String what, long start, long end) {
    }

    private MultibootLoader() {
    }

    /**
     * Loads {@code image} into {@code memory} and returns the entry state.
     *
     * @param kernelName the kernel's file name, the first word of the MBI command line
     * @param append     the rest of the command line (may be empty)
     * @throws KernelImageException for anything in the image tscvm cannot load, naming it
     */
    public static EntryPoint load(GuestMemory memory, byte[] image, String kernelName, String append,
                                  List<Module> modules) {
        int headerOffset = findHeader(image);
        ByteBuffer file = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int flags = file.getInt(headerOffset + 4);
        int unknownRequired = flags & 0xffff & ~FLAGS_REQUIRED_KNOWN;
        if (unknownRequired != 0) {
            throw new KernelImageException(String.format(
                    "multiboot header at file offset 0x%x requires features 0x%x that tscvm does not provide",
                    headerOffset, unknownRequired));
        }
        List<Region> regions = new ArrayList<>();
        long entry;
        if ((flags & FLAG_AOUT_KLUDGE) != 0) {
            entry = loadAout(memory, file, headerOffset, regions);
        } else {
            entry = loadElf(memory, file, regions);
        }
        if (entry < 0 || entry > 0xffffffffL) {
            throw new KernelImageException(String.format(
                    "entry point 0x%x is not a 32-bit physical address a multiboot kernel can start at", entry));
        }
        long imageEnd = 0;
        for (Region r : regions) {
            imageEnd = Math.max(imageEnd, r.end());
        }
        // Modules go page-aligned just above the image, as QEMU places them.
        long next = align(imageEnd, PAGE);
        long[] moduleStarts = new long[modules.size()];
        for (int i = 0; i < modules.size(); i++) {
            Module m = modules.get(i);
            long start = next;
            long end = start + m.bytes().length;
            if (!memory.isRam(start, m.bytes().length) || end > 0xffffffffL) {
                throw new KernelImageException(String.format(
                        "module %d (%s, %d bytes) does not fit above the image at 0x%x in %d MiB of RAM",
                        i, m.name(), m.bytes().length, start, memory.size() >> 20));
            }
            addRegion(regions, new Region("module " + i + " (" + m.name() + ")", start, end));
            memory.load(start, m.bytes(), 0, m.bytes().length);
            moduleStarts[i] = start;
            next = align(end, PAGE);
            imageEnd = Math.max(imageEnd, end);
        }
        long mbi = writeMbi(memory, regions, kernelName, append, modules, moduleStarts);
        return new EntryPoint((int) entry, (int) mbi, imageEnd);
    }

    static int findHeader(byte[] image) {
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int limit = Math.min(image.length, HEADER_SEARCH_BYTES) - 12;
        for (int off = 0; off <= limit; off += 4) {
            if (b.getInt(off) == HEADER_MAGIC && b.getInt(off) + b.getInt(off + 4) + b.getInt(off + 8) == 0) {
                return off;
            }
        }
        throw new KernelImageException(
                "no multiboot header (magic 0x1BADB002 with a valid checksum) in the first 8 KiB: not a multiboot kernel");
    }

    private static long loadAout(GuestMemory memory, ByteBuffer file, int headerOffset, List<Region> regions) {
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
        Region region = new Region("a.out image", loadAddr, bssEnd);
        checkRam(memory, region);
        addRegion(regions, region);
        memory.load(loadAddr, file.array(), (int) fileOffset, (int) loadSize);
        memory.fill(loadEnd, bssEnd - loadEnd, (byte) 0);
        return entry;
    }

    private static long loadElf(GuestMemory memory, ByteBuffer file, List<Region> regions) {
        int size = file.capacity();
        if (size < 52 || file.getInt(0) != 0x464c457f) {
            throw new KernelImageException(
                    "multiboot header without the a.out kludge, and the file is not ELF (no \\x7fELF magic)");
        }
        int elfClass = file.get(4);
        if (elfClass != ELFCLASS32 && elfClass != ELFCLASS64) {
            throw new KernelImageException("ELF class " + elfClass + " is neither 32-bit (1) nor 64-bit (2)");
        }
        if (file.get(5) != ELFDATA2LSB) {
            throw new KernelImageException("ELF data encoding " + file.get(5) + " is not little-endian (1)");
        }
        boolean is64 = elfClass == ELFCLASS64;
        int type = file.getShort(16) & 0xffff;
        int machine = file.getShort(18) & 0xffff;
        if (type != ET_EXEC) {
            throw new KernelImageException("ELF type " + type + " is not an executable (2)");
        }
        if (machine != EM_386 && machine != EM_X86_64) {
            throw new KernelImageException("ELF machine " + machine + " is neither i386 (3) nor x86-64 (62)");
        }
        if (is64 && size < 64) {
            throw new KernelImageException("ELF64 header is cut off: the file has " + size + " bytes");
        }
        long entry = is64 ? file.getLong(24) : file.getInt(24) & 0xffffffffL;
        long phoff = is64 ? file.getLong(32) : file.getInt(28) & 0xffffffffL;
        int phentsize = file.getShort(is64 ? 54 : 42) & 0xffff;
        int phnum = file.getShort(is64 ? 56 : 44) & 0xffff;
        int minEntry = is64 ? 56 : 32;
        if (phnum == 0) {
            throw new KernelImageException("ELF has no program headers: nothing to load");
        }
        if (phentsize < minEntry || phoff < 0 || phoff + (long) phentsize * phnum > size) {
            throw new KernelImageException(String.format(
                    "ELF program header table (offset 0x%x, %d entries of %d bytes) lies outside the %d-byte file",
                    phoff, phnum, phentsize, size));
        }
        long translatedEntry = -1;
        int loaded = 0;
        for (int i = 0; i < phnum; i++) {
            int ph = (int) (phoff + (long) i * phentsize);
            int pType = file.getInt(ph);
            if (pType != PT_LOAD) {
                continue;
            }
            long offset;
            long vaddr;
            long paddr;
            long filesz;
            long memsz;
            if (is64) {
                offset = file.getLong(ph + 8);
                vaddr = file.getLong(ph + 16);
                paddr = file.getLong(ph + 24);
                filesz = file.getLong(ph + 32);
                memsz = file.getLong(ph + 40);
            } else {
                offset = file.getInt(ph + 4) & 0xffffffffL;
                vaddr = file.getInt(ph + 8) & 0xffffffffL;
                paddr = file.getInt(ph + 12) & 0xffffffffL;
                filesz = file.getInt(ph + 16) & 0xffffffffL;
                memsz = file.getInt(ph + 20) & 0xffffffffL;
            }
            if (memsz == 0) {
                continue;
            }
            // Built for error messages, on every load: neither String.format (Formatter, regex and
            // locale data) nor + (each new shape of an invokedynamic concatenation spins method
            // handle classes), both of which cost a start-up milliseconds.
            String name = new StringBuilder("segment ").append(i).append(" (PT_LOAD at 0x")
                    .append(Long.toHexString(paddr)).append(", 0x").append(Long.toHexString(memsz))
                    .append(" bytes)").toString();
            if (filesz > memsz || offset < 0 || filesz < 0 || offset + filesz > size || offset + filesz < 0) {
                throw new KernelImageException(String.format(
                        "%s is broken: file bytes [0x%x, +0x%x) for a memory size of 0x%x in a %d-byte file",
                        name, offset, filesz, memsz, size));
            }
            Region region = new Region(name, paddr, paddr + memsz);
            checkRam(memory, region);
            addRegion(regions, region);
            memory.load(paddr, file.array(), (int) offset, (int) filesz);
            memory.fill(paddr + filesz, memsz - filesz, (byte) 0);
            if (entry - vaddr >= 0 && entry - vaddr < memsz) {
                translatedEntry = paddr + (entry - vaddr);
            }
            loaded++;
        }
        if (loaded == 0) {
            throw new KernelImageException("ELF has no PT_LOAD segment with a non-zero size: nothing to load");
        }
        // The entry is a virtual address; for a kernel linked above its load address use the physical one.
        return translatedEntry >= 0 ? translatedEntry : entry;
    }

    private static void checkRam(GuestMemory memory, Region region) {
        long length = region.end() - region.start();
        if (region.start() < 0 || length < 0 || !memory.isRam(region.start(), length)) {
            throw new KernelImageException(String.format(
                    "%s [0x%x, 0x%x) lies outside RAM [0, 0x%x): give the VM more memory (-m) or relink the kernel",
                    region.what(), region.start(), region.end(), memory.size()));
        }
    }

    private static void addRegion(List<Region> regions, Region region) {
        for (Region other : regions) {
            if (region.start() < other.end() && other.start() < region.end()) {
                throw new KernelImageException(String.format("%s [0x%x, 0x%x) overlaps %s [0x%x, 0x%x)",
                        region.what(), region.start(), region.end(), other.what(), other.start(), other.end()));
            }
        }
        regions.add(region);
    }

    private static boolean overlapsAny(List<Region> regions, long start, long end) {
        for (Region r : regions) {
            if (start < r.end() && r.start() < end) {
                return true;
            }
        }
        return false;
    }

    private static long align(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }

    /** Writes the MBI and everything it points to; returns the MBI's address. */
    private static long writeMbi(GuestMemory memory, List<Region> regions, String kernelName, String append,
                                 List<Module> modules, long[] moduleStarts) {
        long ram = memory.size();
        // Everything the MBI points to follows it: command line, loader name, module list and
        // strings, memory map. Compute the size first to check it against the image.
        String cmdline = append == null || append.isEmpty() ? kernelName : kernelName + " " + append;
        byte[] cmd = cstring(cmdline);
        byte[] loaderName = cstring(LOADER_NAME);
        List<byte[]> moduleNames = new ArrayList<>();
        int stringBytes = cmd.length + loaderName.length;
        for (Module m : modules) {
            byte[] n = cstring(m.name());
            moduleNames.add(n);
            stringBytes += n.length;
        }
        long[][] mmap = {
            {0, LOW_RAM_END, E820_RAM},
            {LOW_RAM_END, 0xa0000 - LOW_RAM_END, E820_RESERVED},
            {BIOS_AREA_START, HIGH_RAM_START - BIOS_AREA_START, E820_RESERVED},
            {HIGH_RAM_START, ram - HIGH_RAM_START, E820_RAM},
        };
        long size = MBI_SIZE + 16L * modules.size() + 24L * mmap.length + stringBytes;
        long base = MBI_ADDRESS;
        if (base + size > LOW_RAM_END || overlapsAny(regions, base, base + size)) {
            long top = 0;
            for (Region r : regions) {
                top = Math.max(top, r.end());
            }
            base = align(top, PAGE);
            if (!memory.isRam(base, size) || base + size > 0xffffffffL) {
                throw new KernelImageException(String.format(
                        "no room for the multiboot information (%d bytes): 0x%x is taken and RAM ends above the image",
                        size, MBI_ADDRESS));
            }
        }
        long modsAddr = base + MBI_SIZE;
        long mmapAddr = modsAddr + 16L * modules.size();
        long stringsAddr = mmapAddr + 24L * mmap.length;
        long end = stringsAddr + stringBytes;
        addRegion(regions, new Region("the multiboot information", base, end));
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
        for (int i = 0; i < mmap.length; i++) {
            long e = mmapAddr + 24L * i;
            memory.write32(e, 20); // size of the entry after this field
            memory.write64(e + 4, mmap[i][0]);
            memory.write64(e + 12, mmap[i][1]);
            memory.write32(e + 20, (int) mmap[i][2]);
        }
        int flags = MBI_FLAG_MEM | MBI_FLAG_CMDLINE | MBI_FLAG_MODS | MBI_FLAG_MMAP | MBI_FLAG_LOADER_NAME;
        memory.write32(base + MBI_FLAGS, flags);
        memory.write32(base + MBI_MEM_LOWER, (int) (LOW_RAM_END >> 10));
        memory.write32(base + MBI_MEM_UPPER, (int) ((ram - HIGH_RAM_START) >> 10));
        memory.write32(base + MBI_CMDLINE, (int) cmdAddr);
        memory.write32(base + MBI_MODS_COUNT, modules.size());
        memory.write32(base + MBI_MODS_ADDR, (int) modsAddr);
        memory.write32(base + MBI_MMAP_LENGTH, 24 * mmap.length);
        memory.write32(base + MBI_MMAP_ADDR, (int) mmapAddr);
        memory.write32(base + MBI_LOADER_NAME, (int) nameAddr);
        return base;
    }

    private static byte[] cstring(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        byte[] z = new byte[b.length + 1];
        System.arraycopy(b, 0, z, 0, b.length);
        return z;
    }
}

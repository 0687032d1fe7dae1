package org.tscvm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.tscvm.memory.GuestMemory;

/**
 * An x86 ELF executable (ELF32 or ELF64, little-endian) as a kernel: its PT_LOAD segments go
 * to their physical addresses (p_paddr) with the bss zeroed, and its PT_NOTEs may carry the
 * PVH entry point. Used by the multiboot and PVH loaders.
 */
final class ElfImage {
    private static final int ELF_MAGIC = 0x464c457f; // "\x7fELF" read little-endian
    private static final int ELFCLASS32 = 1;
    private static final int ELFCLASS64 = 2;
    private static final int ELFDATA2LSB = 1;
    private static final int ET_EXEC = 2;
    private static final int EM_386 = 3;
    private static final int EM_X86_64 = 62;
    private static final int PT_LOAD = 1;
    private static final int PT_NOTE = 4;
    /** Xen's ELF note type for the 32-bit physical entry point of a PVH kernel (xen/include/public/elfnote.h). */
    static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;

    private final ByteBuffer file;
    private final boolean is64;
    private final long entry;
    private final long phoff;
    private final int phentsize;
    private final int phnum;

    private ElfImage(ByteBuffer file, boolean is64, long entry, long phoff, int phentsize, int phnum) {
        this.file = file;
        this.is64 = is64;
        this.entry = entry;
        this.phoff = phoff;
        this.phentsize = phentsize;
        this.phnum = phnum;
    }

    static boolean hasElfMagic(byte[] image) {
        return image.length >= 4 && ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).getInt(0) == ELF_MAGIC;
    }

    /** Checks the ELF header and program header table; throws {@link KernelImageException} naming the fault. */
    static ElfImage parse(byte[] image) {
        ByteBuffer file = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int size = image.length;
        if (size < 52 || !hasElfMagic(image)) {
            throw new KernelImageException("not an ELF file (no \\x7fELF magic, or shorter than an ELF header)");
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
        if (phnum == 0) {
            throw new KernelImageException("ELF has no program headers: nothing to load");
        }
        if (phentsize < (is64 ? 56 : 32) || phoff < 0 || phoff + (long) phentsize * phnum > size) {
            throw new KernelImageException(String.format(
                    "ELF program header table (offset 0x%x, %d entries of %d bytes) lies outside the %d-byte file",
                    phoff, phnum, phentsize, size));
        }
        return new ElfImage(file, is64, entry, phoff, phentsize, phnum);
    }

    /** One program header, fields widened to long. */
    private record Phdr(int type, long offset, long vaddr, long paddr, long filesz, long memsz) {
    }

    private Phdr phdr(int i) {
        int ph = (int) (phoff + (long) i * phentsize);
        if (is64) {
            return new Phdr(file.getInt(ph), file.getLong(ph + 8), file.getLong(ph + 16), file.getLong(ph + 24),
                    file.getLong(ph + 32), file.getLong(ph + 40));
        }
        return new Phdr(file.getInt(ph), file.getInt(ph + 4) & 0xffffffffL, file.getInt(ph + 8) & 0xffffffffL,
                file.getInt(ph + 12) & 0xffffffffL, file.getInt(ph + 16) & 0xffffffffL,
                file.getInt(ph + 20) & 0xffffffffL);
    }

    private void checkFileRange(String what, long offset, long length) {
        int size = file.capacity();
        if (offset < 0 || length < 0 || offset + length > size || offset + length < 0) {
            throw new KernelImageException(String.format(
                    "%s is broken: file bytes [0x%x, +0x%x) lie outside the %d-byte file", what, offset, length, size));
        }
    }

    /**
     * Copies every PT_LOAD to its physical address, zeroes the rest of its memsz, and returns
     * the entry point translated to a physical address (e_entry as is when no segment holds it).
     */
    long loadSegments(GuestMemory memory, LoadedRegions regions) {
        long translatedEntry = -1;
        int loaded = 0;
        for (int i = 0; i < phnum; i++) {
            Phdr p = phdr(i);
            if (p.type() != PT_LOAD || p.memsz() == 0) {
                continue;
            }
            // Built for error messages, on every load: neither String.format (Formatter, regex and
            // locale data) nor + (each new shape of an invokedynamic concatenation spins method
            // handle classes), both of which cost a start-up milliseconds.
            String name = new StringBuilder("segment ").append(i).append(" (PT_LOAD at 0x")
                    .append(Long.toHexString(p.paddr())).append(", 0x").append(Long.toHexString(p.memsz()))
                    .append(" bytes)").toString();
            if (p.filesz() > p.memsz()) {
                throw new KernelImageException(String.format("%s is broken: 0x%x file bytes for a memory size of 0x%x",
                        name, p.filesz(), p.memsz()));
            }
            checkFileRange(name, p.offset(), p.filesz());
            regions.addInRam(memory, new LoadedRegions.Region(name, p.paddr(), p.paddr() + p.memsz()));
            memory.load(p.paddr(), file.array(), (int) p.offset(), (int) p.filesz());
            memory.fill(p.paddr() + p.filesz(), p.memsz() - p.filesz(), (byte) 0);
            if (entry - p.vaddr() >= 0 && entry - p.vaddr() < p.memsz()) {
                translatedEntry = p.paddr() + (entry - p.vaddr());
            }
            loaded++;
        }
        if (loaded == 0) {
            throw new KernelImageException("ELF has no PT_LOAD segment with a non-zero size: nothing to load");
        }
        // The entry is a virtual address; for a kernel linked above its load address use the physical one.
        return translatedEntry >= 0 ? translatedEntry : entry;
    }

    /**
     * The PVH entry: the value of the note owned by "Xen" of type
     * {@link #XEN_ELFNOTE_PHYS32_ENTRY} in a PT_NOTE segment (4 or 8 bytes, as Linux emits it
     * with _ASM_PTR), or -1 when there is none.
     */
    long pvhEntry() {
        for (int i = 0; i < phnum; i++) {
            Phdr p = phdr(i);
            if (p.type() != PT_NOTE) {
                continue;
            }
            checkFileRange("note segment " + i, p.offset(), p.filesz());
            long at = p.offset();
            long end = p.offset() + p.filesz();
            while (at + 12 <= end) {
                long namesz = file.getInt((int) at) & 0xffffffffL;
                long descsz = file.getInt((int) at + 4) & 0xffffffffL;
                int type = file.getInt((int) at + 8);
                long name = at + 12;
                long desc = name + align4(namesz);
                long next = desc + align4(descsz);
                if (next > end) {
                    throw new KernelImageException(String.format(
                            "note at file offset 0x%x (name %d bytes, value %d bytes) runs past its segment's end 0x%x",
                            at, namesz, descsz, end));
                }
                if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 && file.getInt((int) name) == 0x006e6558) { // "Xen\0"
                    if (descsz == 4) {
                        return file.getInt((int) desc) & 0xffffffffL;
                    }
                    if (descsz == 8) {
                        return file.getLong((int) desc);
                    }
                    throw new KernelImageException(String.format(
                            "the PVH entry note (Xen, type 18) at file offset 0x%x has a %d-byte value, not 4 or 8",
                            at, descsz));
                }
                at = next;
            }
        }
        return -1;
    }

    private static long align4(long n) {
        return (n + 3) & ~3L;
    }
}

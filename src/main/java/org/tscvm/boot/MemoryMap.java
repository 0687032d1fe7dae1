package org.tscvm.boot;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.tscvm.memory.GuestMemory;

/**
 * The PC's physical memory map in e820 form, as every loader hands it to the kernel (the
 * multiboot mmap, Linux's zero-page e820 table, PVH's memmap): RAM [0, 0x9fc00), the EBDA
 * [0x9fc00, 0xa0000) and the BIOS area [0xf0000, 0x100000) reserved, RAM [1 MiB, end of RAM
 * below 4 GiB), RAM [4 GiB, 4 GiB + RAM above 4 GiB) when there is any (the split of QEMU's pc
 * machine, {@link GuestMemory#belowFourGiB(long)}), with the ranges the machine reserves for its
 * own tables (ACPI) cut out of the RAM below 4 GiB.
 *
 * <pre>{@code
 * MemoryMap map = MemoryMap.pc(512L << 20, List.of(new MemoryMap.Entry(0x1ff0000, 0x10000, MemoryMap.ACPI)));
 * }</pre>
 */
public final class MemoryMap {
    public static final int RAM = 1;
    public static final int RESERVED = 2;
    /** ACPI tables the OS may reclaim once it has read them. */
    public static final int ACPI = 3;
    /** Conventional memory ends here (639 KiB); the EBDA and legacy ROM area follow. */
    public static final long LOW_RAM_END = 0x9fc00;
    static final long VGA_START = 0xa0000;
    static final long BIOS_AREA_START = 0xf0000;
    public static final long HIGH_RAM_START = 0x100000;
    private static final long FOUR_GIB = 1L << 32;

    /** One e820 range: [start, start + length) of {@code type} ({@link #RAM}, {@link #RESERVED}, ...). */
    public record Entry(long start, long length, int type) {
        public long end() {
            return start + length;
        }
    }

    private final long ramBytes;
    private final List<Entry> entries;

    private MemoryMap(long ramBytes, List<Entry> entries) {
        this.ramBytes = ramBytes;
        this.entries = List.copyOf(entries);
    }

    /**
     * The map of a PC with {@code ramBytes} of RAM laid out as {@link GuestMemory} lays it out,
     * and {@code reserved} (the machine's own tables below 4 GiB, any e820 type but RAM) taken
     * out of it.
     */
    public static MemoryMap pc(long ramBytes, List<Entry> reserved) {
        long low = GuestMemory.belowFourGiB(ramBytes);
        List<Entry> map = new ArrayList<>(List.of(
                new Entry(0, LOW_RAM_END, RAM),
                new Entry(LOW_RAM_END, VGA_START - LOW_RAM_END, RESERVED),
                new Entry(BIOS_AREA_START, HIGH_RAM_START - BIOS_AREA_START, RESERVED),
                new Entry(HIGH_RAM_START, low - HIGH_RAM_START, RAM)));
        if (ramBytes > low) {
            map.add(new Entry(GuestMemory.HIGH_RAM_START, ramBytes - low, RAM));
        }
        for (Entry r : reserved) {
            if (r.type() == RAM || r.length() <= 0 || r.start() < 0 || r.end() > FOUR_GIB) {
                throw new IllegalArgumentException("not a reserved range below 4 GiB: " + r);
            }
            List<Entry> cut = new ArrayList<>();
            for (Entry e : map) {
                if (e.start() < r.start()) {
                    cut.add(new Entry(e.start(), Math.min(e.end(), r.start()) - e.start(), e.type()));
                }
                if (e.end() > r.end()) {
                    long start = Math.max(e.start(), r.end());
                    cut.add(new Entry(start, e.end() - start, e.type()));
                }
            }
            cut.add(r);
            map = cut;
        }
        map.sort(Comparator.comparingLong(Entry::start));
        return new MemoryMap(ramBytes, map);
    }

    /** The entries in address order. */
    public List<Entry> entries() {
        return entries;
    }

    /** The RAM size the map was built for, below and above 4 GiB together. */
    public long ramBytes() {
        return ramBytes;
    }

    /** Where the RAM below 4 GiB ends (the PCI hole starts there). */
    public long lowRamEnd() {
        return GuestMemory.belowFourGiB(ramBytes);
    }

    /**
     * The highest page-aligned start for {@code size} bytes that lies in one RAM entry, ends at
     * or below {@code limit} and overlaps none of {@code taken}; -1 if there is none.
     */
    long highestFreeRam(long size, long limit, LoadedRegions taken) {
        for (int i = entries.size() - 1; i >= 0; i--) {
            Entry e = entries.get(i);
            if (e.type() != RAM) {
                continue;
            }
            long top = Math.min(e.end(), limit);
            while (top - size >= e.start()) {
                long start = (top - size) & -(long) GuestMemory.PAGE_SIZE;
                if (start < e.start()) {
                    break;
                }
                LoadedRegions.Region clash = taken.firstOverlap(start, start + size);
                if (clash == null) {
                    return start;
                }
                top = clash.start();
            }
        }
        return -1;
    }
}

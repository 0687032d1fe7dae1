package org.tscvm.boot;

import java.util.ArrayList;
import java.util.List;
import org.tscvm.memory.GuestMemory;

/** What a loader has placed in guest memory so far; a new piece may overlap none of them. */
final class LoadedRegions {
    /** A piece of memory the loader fills: a program segment, a module, a boot structure. */
    record Region(String what, long start, long end) {
    }

    private final List<Region> regions = new ArrayList<>();

    /** Adds {@code region}; a region that overlaps one already placed is refused, naming both. */
    void add(Region region) {
        Region other = firstOverlap(region.start(), region.end());
        if (other != null) {
            throw new KernelImageException(String.format("%s [0x%x, 0x%x) overlaps %s [0x%x, 0x%x)",
                    region.what(), region.start(), region.end(), other.what(), other.start(), other.end()));
        }
        regions.add(region);
    }

    /** {@link #add} for a region that must also lie in RAM. */
    void addInRam(GuestMemory memory, Region region) {
        long length = region.end() - region.start();
        if (region.start() < 0 || length < 0 || !memory.isRam(region.start(), length)) {
            throw new KernelImageException(String.format(
                    "%s [0x%x, 0x%x) lies outside RAM %s: give the VM more memory (-m) or relink the kernel",
                    region.what(), region.start(), region.end(), memory.describeRanges()));
        }
        add(region);
    }

    /** The first region placed that overlaps [start, end), or null. */
    Region firstOverlap(long start, long end) {
        for (Region r : regions) {
            if (start < r.end() && r.start() < end) {
                return r;
            }
        }
        return null;
    }

    /** The first byte above every region (0 when there is none). */
    long end() {
        long end = 0;
        for (Region r : regions) {
            end = Math.max(end, r.end());
        }
        return end;
    }
}

package org.tscvm.boot;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tscvm.boot.MemoryMap.Entry;

class MemoryMapTest {
    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;
    private static final List<Entry> LEGACY = List.of(
            new Entry(0, 0x9fc00, MemoryMap.RAM),
            new Entry(0x9fc00, 0x400, MemoryMap.RESERVED),
            new Entry(0xf0000, 0x10000, MemoryMap.RESERVED));

    private static List<Entry> withLegacy(Entry... rest) {
        List<Entry> all = new java.util.ArrayList<>(LEGACY);
        all.addAll(List.of(rest));
        return all;
    }

    @Test
    void smallMachinesHaveAllTheirRamBelow4Gib() {
        assertThat(MemoryMap.pc(128 * MIB, List.of()).entries())
                .isEqualTo(withLegacy(new Entry(MIB, 127 * MIB, MemoryMap.RAM)));
        assertThat(MemoryMap.pc(3 * GIB + 256 * MIB, List.of()).entries())
                .isEqualTo(withLegacy(new Entry(MIB, 3 * GIB + 255 * MIB, MemoryMap.RAM)));
    }

    @Test
    void from3AndAHalfGibTheRamAbove3GibMovesAbove4Gib() {
        assertThat(MemoryMap.pc(3 * GIB + 512 * MIB, List.of()).entries()).isEqualTo(withLegacy(
                new Entry(MIB, 3 * GIB - MIB, MemoryMap.RAM),
                new Entry(4 * GIB, 512 * MIB, MemoryMap.RAM)));
        MemoryMap six = MemoryMap.pc(6 * GIB, List.of());
        assertThat(six.entries()).isEqualTo(withLegacy(
                new Entry(MIB, 3 * GIB - MIB, MemoryMap.RAM),
                new Entry(4 * GIB, 3 * GIB, MemoryMap.RAM)));
        assertThat(six.lowRamEnd()).isEqualTo(3 * GIB);
        assertThat(six.ramBytes()).isEqualTo(6 * GIB);
        assertThat(MemoryMap.pc(64 * GIB, List.of()).entries().get(4)).isEqualTo(new Entry(4 * GIB, 61 * GIB, MemoryMap.RAM));
    }

    @Test
    void reservedTablesAreCutOutOfRamBelow4GibAndRamAboveStays() {
        MemoryMap map = MemoryMap.pc(8 * GIB, List.of(new Entry(0xbfff0000L, 0x10000, MemoryMap.ACPI)));
        assertThat(map.entries()).isEqualTo(withLegacy(
                new Entry(MIB, 0xbfff0000L - MIB, MemoryMap.RAM),
                new Entry(0xbfff0000L, 0x10000, MemoryMap.ACPI),
                new Entry(4 * GIB, 5 * GIB, MemoryMap.RAM)));
        // The highest free RAM for a 64 KiB initrd below 2 GiB ignores the RAM above 4 GiB.
        assertThat(map.highestFreeRam(0x10000, 2 * GIB, new LoadedRegions())).isEqualTo(2 * GIB - 0x10000);
    }
}

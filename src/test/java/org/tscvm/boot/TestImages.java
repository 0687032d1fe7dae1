package org.tscvm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/** Builds small multiboot kernels (ELF32, ELF64, a.out kludge) byte by byte for the tests. */
final class TestImages {
    private TestImages() {
    }

    /** One PT_LOAD: {@code data} at {@code paddr} (virtual = {@code vaddr}), {@code memsz} bytes in memory. */
    record Segment(long vaddr, long paddr, byte[] data, long memsz) {
        Segment(long paddr, byte[] data, long memsz) {
            this(paddr, paddr, data, memsz);
        }
    }

    static byte[] multibootHeader(int flags, int... extra) {
        ByteBuffer b = ByteBuffer.allocate(12 + 4 * extra.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MultibootLoader.HEADER_MAGIC).putInt(flags).putInt(-(MultibootLoader.HEADER_MAGIC + flags));
        for (int e : extra) {
            b.putInt(e);
        }
        return b.array();
    }

    /**
     * An ELF executable: header, program headers, then the segments' bytes, with the multiboot
     * header placed right after the program headers (inside the first 8 KiB).
     */
    static byte[] elf(boolean is64, long entry, List<Segment> segments) {
        int ehsize = is64 ? 64 : 52;
        int phentsize = is64 ? 56 : 32;
        int phoff = ehsize;
        int mbOff = phoff + phentsize * segments.size();
        byte[] mb = multibootHeader(0);
        int dataOff = mbOff + mb.length;
        int total = dataOff;
        List<Integer> offsets = new ArrayList<>();
        for (Segment s : segments) {
            offsets.add(total);
            total += s.data().length;
        }
        ByteBuffer b = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', (byte) (is64 ? 2 : 1), 1, 1, 0});
        b.position(16);
        b.putShort((short) 2).putShort((short) (is64 ? 62 : 3)).putInt(1);
        if (is64) {
            b.putLong(entry).putLong(phoff).putLong(0).putInt(0);
            b.putShort((short) ehsize).putShort((short) phentsize).putShort((short) segments.size());
        } else {
            b.putInt((int) entry).putInt(phoff).putInt(0).putInt(0);
            b.putShort((short) ehsize).putShort((short) phentsize).putShort((short) segments.size());
        }
        for (int i = 0; i < segments.size(); i++) {
            Segment s = segments.get(i);
            b.position(phoff + i * phentsize);
            if (is64) {
                b.putInt(1).putInt(7).putLong(offsets.get(i)).putLong(s.vaddr()).putLong(s.paddr())
                        .putLong(s.data().length).putLong(s.memsz()).putLong(0x1000);
            } else {
                b.putInt(1).putInt(offsets.get(i)).putInt((int) s.vaddr()).putInt((int) s.paddr())
                        .putInt(s.data().length).putInt((int) s.memsz()).putInt(7).putInt(0x1000);
            }
        }
        b.position(mbOff);
        b.put(mb);
        for (int i = 0; i < segments.size(); i++) {
            b.position(offsets.get(i));
            b.put(segments.get(i).data());
        }
        return b.array();
    }

    static byte[] bytes(int n, int value) {
        byte[] b = new byte[n];
        java.util.Arrays.fill(b, (byte) value);
        return b;
    }
}

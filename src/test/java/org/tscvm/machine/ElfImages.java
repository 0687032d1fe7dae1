package org.tscvm.machine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** A minimal multiboot ELF32 with one PT_LOAD holding {@code code}, entry at its start. */
final class ElfImages {
    private ElfImages() {
    }

    static byte[] multibootElf32(int paddr, byte[] code) {
        int codeOff = 0x60;
        ByteBuffer b = ByteBuffer.allocate(codeOff + code.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 1, 1, 1, 0});
        b.position(16);
        b.putShort((short) 2).putShort((short) 3).putInt(1).putInt(paddr).putInt(52).putInt(0).putInt(0);
        b.putShort((short) 52).putShort((short) 32).putShort((short) 1).putShort((short) 0).putShort((short) 0)
                .putShort((short) 0);
        b.position(52);
        b.putInt(1).putInt(codeOff).putInt(paddr).putInt(paddr).putInt(code.length).putInt(code.length)
                .putInt(5).putInt(16);
        b.position(0x54);
        int magic = 0x1BADB002;
        b.putInt(magic).putInt(0).putInt(-magic);
        b.position(codeOff);
        b.put(code);
        return b.array();
    }
}

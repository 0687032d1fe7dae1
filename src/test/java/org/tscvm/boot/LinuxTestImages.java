package org.tscvm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.Consumer;
import org.tscvm.memory.GuestMemory;

/** Minimal Linux kernels for the tests, built byte by byte: a bzImage and a PVH ELF. */
public final class LinuxTestImages {
    /** Setup sectors of the test bzImage: the protected-mode code starts at (4 + 1) * 512. */
    public static final int SETUP_SECTS = 4;
    public static final int KERNEL_OFFSET = (SETUP_SECTS + 1) * 512;
    /** The test bzImage's setup header runs to here (0x202 + the jump's displacement). */
    public static final int HEADER_END = 0x26c;
    public static final long PREF_ADDRESS = 0x1000000;
    public static final long INIT_SIZE = 0x400000;
    public static final int CMDLINE_SIZE = 2047;

    private LinuxTestImages() {
    }

    /** Kernel code that only halts: hlt; jmp $-1. */
    public static final byte[] HALT_LOOP = {(byte) 0xf4, (byte) 0xeb, (byte) 0xfd};

    /** The NUL-terminated string at {@code addr}: a command line the loader placed. */
    public static String cstringAt(GuestMemory memory, long addr) {
        StringBuilder s = new StringBuilder();
        for (int c; (c = memory.read8(addr)) != 0; addr++) {
            s.append((char) c);
        }
        return s.toString();
    }

    /** Where the 64-bit entry (startup_64) lies in the protected-mode code. */
    public static final int STARTUP_64 = 0x200;

    /**
     * A relocatable bzImage of boot protocol 2.15 with the 64-bit entry (xloadflags 0x7f, as
     * Debian's), pref_address 16 MiB, kernel_alignment 2 MiB, init_size 4 MiB, whose
     * protected-mode code holds {@code code} at both entries, offset 0 (32-bit) and 0x200
     * (64-bit); {@code edit} may change any header byte afterwards.
     */
    public static byte[] bzImage(byte[] code, Consumer<ByteBuffer> edit) {
        int codeBytes = (STARTUP_64 + code.length + 15) & ~15;
        ByteBuffer b = ByteBuffer.allocate(KERNEL_OFFSET + codeBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1f1, (byte) SETUP_SECTS);
        b.putInt(0x1f4, codeBytes / 16);                    // syssize
        b.putShort(0x1fe, (short) 0xaa55);                  // boot_flag
        b.put(0x200, (byte) 0xeb).put(0x201, (byte) (HEADER_END - 0x202)); // jmp over the header
        b.putInt(0x202, 0x53726448);                        // "HdrS"
        b.putShort(0x206, (short) 0x020f);                  // protocol 2.15
        b.put(0x211, (byte) 0x01);                          // loadflags: LOADED_HIGH
        b.putInt(0x214, 0x100000);                          // code32_start
        b.putInt(0x22c, 0x7fffffff);                        // initrd_addr_max
        b.putInt(0x230, 0x200000);                          // kernel_alignment
        b.put(0x234, (byte) 1);                             // relocatable_kernel
        b.putShort(0x236, (short) 0x7f);                    // xloadflags
        b.putInt(0x238, CMDLINE_SIZE);                      // cmdline_size
        b.putLong(0x258, PREF_ADDRESS);                     // pref_address
        b.putInt(0x260, (int) INIT_SIZE);                   // init_size
        b.put(KERNEL_OFFSET, code);
        b.put(KERNEL_OFFSET + STARTUP_64, code);
        edit.accept(b);
        return b.array();
    }

    /**
     * An ELF64 executable with one PT_LOAD of {@code code} at physical {@code paddr} and, when
     * {@code pvhEntry} is not negative, a PT_NOTE holding the note Xen / type 18 with it (8 bytes,
     * as Linux emits it).
     */
    public static byte[] pvhElf(long paddr, byte[] code, long pvhEntry) {
        boolean note = pvhEntry >= 0;
        int phnum = note ? 2 : 1;
        int noteOff = 64 + 56 * phnum;
        int noteBytes = note ? 12 + 4 + 8 : 0;
        int codeOff = (noteOff + noteBytes + 15) & ~15;
        ByteBuffer b = ByteBuffer.allocate(codeOff + code.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0});
        b.putShort(16, (short) 2).putShort(18, (short) 62).putInt(20, 1);
        b.putLong(24, 0xffffffff81000000L + (paddr & 0xffffff)); // e_entry: a virtual address, unused by PVH
        b.putLong(32, 64);                                       // e_phoff
        b.putShort(52, (short) 64).putShort(54, (short) 56).putShort(56, (short) phnum);
        int ph = 64;
        b.putInt(ph, 1).putInt(ph + 4, 5).putLong(ph + 8, codeOff).putLong(ph + 16, 0xffffffff81000000L)
                .putLong(ph + 24, paddr).putLong(ph + 32, code.length).putLong(ph + 40, code.length + 0x1000);
        if (note) {
            ph += 56;
            b.putInt(ph, 4).putLong(ph + 8, noteOff).putLong(ph + 32, noteBytes).putLong(ph + 40, noteBytes);
            b.putInt(noteOff, 4).putInt(noteOff + 4, 8).putInt(noteOff + 8, 18);
            b.put(noteOff + 12, (byte) 'X').put(noteOff + 13, (byte) 'e').put(noteOff + 14, (byte) 'n');
            b.putLong(noteOff + 16, pvhEntry);
        }
        b.put(codeOff, code);
        return b.array();
    }
}

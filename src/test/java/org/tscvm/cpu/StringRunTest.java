package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * REP MOVS and REP STOS move a page's worth of elements at once where nothing can tell
 * (StringOps' runs). Each case here has an outcome that one element at a time defines, and
 * that a block move done wrongly would change: overlapping copies, stores over code about to
 * run, a fault part-way, the chunks after which the instruction restarts.
 */
class StringRunTest {
    private static final long BUF = 0x200000;

    /** REP STOS of each size from an odd address over three pages, with a patterned and a uniform value. */
    @Test
    void repStosStoresEveryElementAcrossPagesAndNothingAround() {
        for (int size : new int[] {1, 2, 4, 8}) {
            for (long value : new long[] {0x1122334455667788L, 0, 0x5a5a5a5a5a5a5a5aL}) {
                CpuRig rig = new CpuRig().longMode();
                fill(rig, BUF - 64, 3 * 4096 + 128, 0xee);
                long start = BUF + 3;
                int count = (2 * 4096 + 700) / size;
                rig.cpu.setGpr(Cpu.RDI, start);
                rig.cpu.setGpr(Cpu.RCX, count);
                rig.cpu.setGpr(Cpu.RAX, value);
                rig.run(concat(stos(size), hex("f4")));
                assertThat(rig.reg(Cpu.RCX)).isZero();
                assertThat(rig.reg(Cpu.RDI)).isEqualTo(start + (long) count * size);
                for (long a = BUF - 64; a < BUF + 3 * 4096 + 64; a++) {
                    long k = a - start;
                    int expected = k >= 0 && k < (long) count * size ? (int) (value >>> (8 * (k % size))) & 0xff : 0xee;
                    assertThat(rig.memory.read8(a)).as("size %d value %x byte at %x", size, value, a).isEqualTo(expected);
                }
            }
        }
    }

    /**
     * REP MOVS with the destination a little above the source repeats the source's first
     * elements, as one element at a time does; below it, the copy is as a block copy's. Sizes
     * 1 and 8, distances shorter than an element included.
     */
    @Test
    void overlappingRepMovsGivesWhatOneElementAtATimeGives() {
        int[][] cases = {{1, 1}, {1, 5}, {8, 3}, {8, 8}, {8, 13}, {1, -1}, {8, -3}, {4, -4096}, {2, 4096}};
        for (int[] c : cases) {
            int size = c[0];
            int distance = c[1];
            CpuRig rig = new CpuRig().longMode();
            byte[] model = new byte[4 * 4096];
            for (int i = 0; i < model.length; i++) {
                model[i] = (byte) (i * 7 + 1);
                rig.memory.write8(BUF + i, model[i] & 0xff);
            }
            int from = 4096 + 17;
            int to = from + distance;
            int count = (4096 + 300) / size;
            for (int e = 0; e < count; e++) {
                byte[] element = new byte[size];
                System.arraycopy(model, from + e * size, element, 0, size);
                System.arraycopy(element, 0, model, to + e * size, size);
            }
            rig.cpu.setGpr(Cpu.RSI, BUF + from);
            rig.cpu.setGpr(Cpu.RDI, BUF + to);
            rig.cpu.setGpr(Cpu.RCX, count);
            rig.run(concat(movs(size), hex("f4")));
            assertThat(rig.reg(Cpu.RCX)).isZero();
            assertThat(rig.reg(Cpu.RSI)).isEqualTo(BUF + from + (long) count * size);
            assertThat(rig.reg(Cpu.RDI)).isEqualTo(BUF + to + (long) count * size);
            for (int i = 0; i < model.length; i++) {
                assertThat(rig.memory.read8(BUF + i)).as("size %d distance %d byte %d", size, distance, i)
                        .isEqualTo(model[i] & 0xff);
            }
        }
    }

    /**
     * A store over code decoded and run before runs the new code the next time, even when the
     * TLB already held the page for writing, so that the whole store could have gone as a run.
     */
    @Test
    void repStosOverCodeThatRanBeforeRunsTheNewCodeNextTime() {
        CpuRig rig = new CpuRig().longMode();
        byte[] code = new byte[0x46];
        // mov %al,CODE+0x800(%rip) (the page's write entry in the TLB); call T; mov $0x90,%al;
        // rep stosb (NOPs over T's MOV); call T; hlt
        System.arraycopy(hex("88 05 fa 07 00 00 e8 35 00 00 00 b0 90 f3 aa e8 2c 00 00 00 f4"), 0, code, 0, 21);
        // T = CODE+0x40: mov $0x200,%eax; ret
        System.arraycopy(hex("b8 00 02 00 00 c3"), 0, code, 0x40, 6);
        rig.cpu.setGpr(Cpu.RDI, CpuRig.CODE + 0x40);
        rig.cpu.setGpr(Cpu.RCX, 5);
        rig.run(code);
        assertThat(rig.haltedInVector()).as(rig.cpu.describe()).isEqualTo(-1);
        assertThat(rig.memory.read8(CpuRig.CODE + 0x44)).isEqualTo(0x90);
        assertThat(rig.reg(Cpu.RAX)).as("T's MOV ran once, not after it was overwritten").isEqualTo(0x290);
    }

    /** A fault in the third page leaves the first two pages' elements done and RCX, RSI, RDI just before it. */
    @Test
    void aFaultPartWayLeavesTheElementsBeforeItDone() {
        for (boolean move : new boolean[] {false, true}) {
            CpuRig rig = new CpuRig().longMode();
            long hole = 0x400000;
            rig.w64(0x3000 + 8 * (hole >>> 21), 0); // the 2 MiB page at 4 MiB: not present
            long start = hole - 2 * 4096 - 8;
            for (int i = 0; i < 3 * 4096; i++) {
                rig.memory.write8(0x100000 + i, i & 0xff);
            }
            rig.cpu.setGpr(Cpu.RSI, 0x100000);
            rig.cpu.setGpr(Cpu.RDI, start);
            rig.cpu.setGpr(Cpu.RCX, 3 * 4096 / 8);
            rig.cpu.setGpr(Cpu.RAX, 0x0102030405060708L);
            rig.run(concat(move ? movs(8) : stos(8), hex("f4")));
            assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
            long done = (hole - start) / 8;
            assertThat(rig.reg(Cpu.RDI)).isEqualTo(hole);
            assertThat(rig.reg(Cpu.RCX)).isEqualTo(3 * 4096 / 8 - done);
            for (long a = start; a < hole; a += 8) {
                long expected = move ? rig.r64(0x100000 + (a - start)) : 0x0102030405060708L;
                assertThat(rig.r64(a)).as("move %s at %x", move, a).isEqualTo(expected);
            }
        }
    }

    /**
     * The instruction restarts after every 4,096 elements whether or not they went as runs: a
     * forward REP STOS retires as many times as the same stores backwards, which go one by one.
     */
    @Test
    void runsKeepTheChunksTheInstructionRestartsAfter() {
        int count = 3 * 4096 + 5;
        CpuRig forward = new CpuRig().longMode();
        forward.cpu.setGpr(Cpu.RDI, BUF + 100); // runs end at pages, chunks elsewhere
        forward.cpu.setGpr(Cpu.RCX, count);
        forward.run(concat(stos(1), hex("f4")));
        CpuRig backward = new CpuRig().longMode();
        backward.cpu.setGpr(Cpu.RDI, BUF + 100 + count - 1);
        backward.cpu.setGpr(Cpu.RCX, count);
        backward.run(concat(hex("fd"), stos(1), hex("fc f4")));
        assertThat(forward.reg(Cpu.RCX)).isZero();
        assertThat(backward.reg(Cpu.RCX)).isZero();
        // std and cld are two more instructions
        assertThat(forward.cpu.instructionsRetired()).isEqualTo(backward.cpu.instructionsRetired() - 2);
    }

    /**
     * In compatibility mode (32-bit code under long mode) a flat ES takes the run path, and a
     * limited ES does not: the elements stop with #GP at the limit, mid-page, RDI and RCX just
     * before the first element past it.
     */
    @Test
    void repStosInThirtyTwoBitCodeStopsAtEsLimitAndFillsAFlatEs() {
        for (boolean limited : new boolean[] {false, true}) {
            CpuRig rig = new CpuRig().longMode();
            // GDT slot 0x20 becomes data, base 0, byte-granular limit 0xc1800, writable, DPL 0.
            rig.w64(CpuRig.GDT + 0x20, 0x004c930000001800L);
            long start = 0xc0ff0;
            long limit = 0xc1800;
            fill(rig, start - 16, 0x1100, 0xee);
            byte[] code = new byte[0x210];
            // jmp far *(CODE+0x100): to selector 0x40 (32-bit code), offset CODE+0x200
            System.arraycopy(hex("ff 2c 25 00 01 01 00"), 0, code, 0, 7);
            System.arraycopy(hex("00 02 01 00 40 00"), 0, code, 0x100, 6);
            // mov $sel,%bx; mov %ebx,%es; rep stosb; hlt
            System.arraycopy(hex("66 bb " + (limited ? "20" : "10") + " 00 8e c3 f3 aa f4"), 0, code, 0x200, 9);
            rig.cpu.setGpr(Cpu.RDI, start);
            rig.cpu.setGpr(Cpu.RCX, 0x1000);
            rig.cpu.setGpr(Cpu.RAX, 0x5a);
            rig.withCode(code);
            assertThat(rig.cpu.run(1_000_000)).isEqualTo(RunStop.HALTED);
            long end = limited ? limit + 1 : start + 0x1000;
            assertThat(rig.haltedInVector()).as("limited %s", limited).isEqualTo(limited ? CpuFault.GP : -1);
            assertThat(rig.reg(Cpu.RDI)).isEqualTo(end);
            assertThat(rig.reg(Cpu.RCX)).isEqualTo(0x1000 - (end - start));
            for (long a = start - 16; a < start + 0x1000 + 16; a++) {
                int expected = a >= start && a < end ? 0x5a : 0xee;
                assertThat(rig.memory.read8(a)).as("limited %s byte at %x", limited, a).isEqualTo(expected);
            }
        }
    }

    private static byte[] stos(int size) {
        switch (size) {
            case 1: return hex("f3 aa");
            case 2: return hex("66 f3 ab");
            case 4: return hex("f3 ab");
            default: return hex("f3 48 ab");
        }
    }

    private static byte[] movs(int size) {
        switch (size) {
            case 1: return hex("f3 a4");
            case 2: return hex("66 f3 a5");
            case 4: return hex("f3 a5");
            default: return hex("f3 48 a5");
        }
    }

    private static void fill(CpuRig rig, long from, int bytes, int value) {
        for (int i = 0; i < bytes; i++) {
            rig.memory.write8(from + i, value);
        }
    }

    private static byte[] concat(byte[]... parts) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}

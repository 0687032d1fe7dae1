package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * long double code as gcc 12 emits it for the x87 (x86-64, -mno-sse -mno-red-zone
 * -fno-math-errno -ffreestanding -fcf-protection=none, linked at 0x10000 with ld -N, .text and
 * .rodata as one flat image), at -O0 and -O2: FLDT/FSTPT, FILD, FISTP under an FNSTCW/FLDCW
 * truncation, FSTPL/FSTPS, FCOMI, FSQRT, arithmetic with memory and register operands. The same
 * C compiled natively on the host (the work function with -mno-sse) printed 29f67aeb89d06cf6;
 * the images were built once at development time, not by the test.
 *
 * <pre>
 * typedef unsigned long u64;
 * __attribute__((noinline)) u64 work(void) {
 *     long double s = 0.0L, t = 1.0L;
 *     u64 h = 0;
 *     for (int i = 1; i &lt; 200; i++) {
 *         t = t * 1.0009765625L + (long double)i / 7.0L;
 *         s += t / (i + 0.5L);
 *         if (s &gt; 1e6L) s = __builtin_sqrtl(s);
 *         long q = (long)(s * 1000.0L);
 *         h = h * 31 + (u64)q;
 *         double d = (double)(s / 3.0L);
 *         float f = (float)(t - s);
 *         u64 db; unsigned fb;
 *         __builtin_memcpy(&amp;db, &amp;d, 8);
 *         __builtin_memcpy(&amp;fb, &amp;f, 4);
 *         h ^= db + fb;
 *         if (t &lt; s) h += 7; else h -= 3;
 *         int k = (int)(t * -0.25L);
 *         h += (u64)(long)k;
 *     }
 *     long double x = 1.0L;
 *     for (int i = 0; i &lt; 70; i++) x = x * 3.0L - 1e-20L * x;
 *     u64 m; unsigned short e;
 *     __builtin_memcpy(&amp;m, &amp;x, 8);
 *     __builtin_memcpy(&amp;e, (char *)&amp;x + 8, 2);
 *     h += m ^ e;
 *     h += (u64)(long)(x / 1e30L);
 *     return h;
 * }
 *
 * typedef unsigned long u64; u64 work(void);
 * __attribute__((section(".text.start"))) void _start(void) { u64 r = work(); __asm__ volatile("mov %0, %%rax; hlt" :: "r"(r) : "rax"); for (;;) ; }
 * </pre>
 */
class X87GccCodeTest {
    static final long HOST_RESULT = 0x29f67aeb89d06cf6L;

    static final byte[] O0 = hex("55 48 89 e5 48 83 ec 10 e8 0e 00 00 00 48 89 45 f8 48 8b 55 f8 48 89 d0 f4 eb fe 55 48 89 e5 48 "
            + "81 ec 90 00 00 00 d9 ee db 7d f0 d9 e8 db 7d e0 48 c7 45 d8 00 00 00 00 c7 45 d4 01 00 00 00 d9 "
            + "bd 7e ff ff ff 0f b7 85 7e ff ff ff 80 cc 0c 66 89 85 7c ff ff ff e9 0e 01 00 00 db 6d e0 db 2d "
            + "9c 01 00 00 de c9 db 45 d4 db 2d a1 01 00 00 de f9 de c1 db 7d e0 db 45 d4 db 2d a1 01 00 00 de "
            + "c1 db 6d e0 de f1 db 6d f0 de c1 db 7d f0 db 2d 9c 01 00 00 db 6d f0 df f1 dd d8 76 08 db 6d f0 "
            + "d9 fa db 7d f0 db 6d f0 db 2d 92 01 00 00 de c9 d9 ad 7c ff ff ff df 7d c8 d9 ad 7e ff ff ff 48 "
            + "8b 55 d8 48 89 d0 48 c1 e0 05 48 29 d0 48 89 c1 48 8b 45 c8 48 01 c8 48 89 45 d8 db 6d f0 db 2d "
            + "6c 01 00 00 de f9 dd 9d 70 ff ff ff dd 85 70 ff ff ff dd 5d 98 db 6d e0 db 6d f0 de e9 d9 9d 70 "
            + "ff ff ff d9 85 70 ff ff ff d9 5d 94 48 8b 45 98 48 89 45 88 8b 45 94 89 45 84 8b 45 84 89 c2 48 "
            + "8b 45 88 48 01 d0 48 31 45 d8 db 6d e0 db 6d f0 df f1 dd d8 76 07 48 83 45 d8 07 eb 05 48 83 6d "
            + "d8 03 db 6d e0 db 2d 15 01 00 00 de c9 d9 ad 7c ff ff ff db 5d c4 d9 ad 7e ff ff ff 8b 45 c4 48 "
            + "98 48 01 45 d8 83 45 d4 01 81 7d d4 c7 00 00 00 0f 8e e5 fe ff ff d9 e8 db 7d b0 c7 45 d0 00 00 "
            + "00 00 eb 1f db 6d b0 db 2d c3 00 00 00 de c9 db 6d b0 db 2d d8 00 00 00 de c9 de e9 db 7d b0 83 "
            + "45 d0 01 83 7d d0 45 7e db 48 8b 45 b0 48 89 45 a8 48 8d 45 b0 48 83 c0 08 0f b7 00 66 89 45 a6 "
            + "0f b7 45 a6 0f b7 d0 48 8b 45 a8 48 31 d0 48 01 45 d8 db 6d b0 db 2d a5 00 00 00 de f9 d9 ad 7c "
            + "ff ff ff df bd 70 ff ff ff d9 ad 7e ff ff ff 48 8b 85 70 ff ff ff 48 01 45 d8 48 8b 45 d8 c9 c3 "
            + "00 00 00 00 00 00 20 80 ff 3f 00 00 00 00 00 00 00 00 00 00 00 00 00 e0 01 40 00 00 00 00 00 00 "
            + "00 00 00 00 00 00 00 80 fe 3f 00 00 00 00 00 00 00 00 00 00 00 00 24 f4 12 40 00 00 00 00 00 00 "
            + "00 00 00 00 00 00 00 fa 08 40 00 00 00 00 00 00 00 00 00 00 00 00 00 c0 00 40 00 00 00 00 00 00 "
            + "00 00 00 00 00 00 00 80 fd bf 00 00 00 00 00 00 eb 1a 11 92 64 08 e5 bc bc 3f 00 00 00 00 00 00 "
            + "df 4e 67 04 cd c9 f2 c9 62 40 00 00 00 00 00 00");

    static final byte[] O2 = hex("48 83 ec 08 e8 17 00 00 00 48 89 c2 48 89 d0 f4 eb fe 66 2e 0f 1f 84 00 00 00 00 00 0f 1f 40 00 "
            + "48 83 ec 28 d9 e8 b9 01 00 00 00 31 c0 d9 7c 24 1e d9 ee d9 05 47 01 00 00 d9 05 45 01 00 00 d9 "
            + "05 43 01 00 00 d9 cc 0f b7 54 24 1e 80 ce 0c 66 89 54 24 1c eb 0c 66 2e 0f 1f 84 00 00 00 00 00 "
            + "dd dc d8 ca 89 0c 24 db 04 24 d9 c0 d8 f3 de c2 d8 c5 d8 f9 de c4 d9 05 10 01 00 00 d9 cc db f4 "
            + "dd dc 76 06 d9 cb d9 fa d9 cb d9 c3 d8 0d fe 00 00 00 48 89 c6 d9 6c 24 1c df 3c 24 d9 6c 24 1e "
            + "48 c1 e6 05 48 29 c6 48 8b 14 24 48 01 f2 d9 c0 d8 e4 d9 1c 24 d9 05 d9 00 00 00 8b 04 24 89 c0 "
            + "d9 c4 d8 f1 dd 1c 24 d9 cc 48 8b 34 24 48 01 f0 48 31 d0 48 8d 50 fd 48 83 c0 07 db f1 d9 c1 d8 "
            + "0d b3 00 00 00 48 0f 46 c2 83 c1 01 d9 6c 24 1c db 1c 24 d9 6c 24 1e 48 63 14 24 48 01 d0 81 f9 "
            + "c8 00 00 00 0f 85 56 ff ff ff dd d8 dd d8 dd d8 dd d8 dd d9 d9 e8 ba 46 00 00 00 db 3c 24 db 2d "
            + "7c 00 00 00 eb 0c 66 2e 0f 1f 84 00 00 00 00 00 dd d8 db 2c 24 d8 ca db 2c 24 d8 ca de e9 d9 c0 "
            + "db 3c 24 83 ea 01 75 e8 dd d9 dd d9 db 2d 5e 00 00 00 48 8b 54 24 08 0f b7 f2 48 8b 14 24 de f9 "
            + "48 31 f2 d9 6c 24 1c df 7c 24 10 d9 6c 24 1e 48 8b 4c 24 10 48 83 c4 28 48 01 ca 48 01 d0 c3 00 "
            + "00 20 80 3f 00 00 e0 40 00 00 00 3f 00 24 74 49 00 00 7a 44 00 00 40 40 00 00 80 be 00 00 00 00 "
            + "eb 1a 11 92 64 08 e5 bc bc 3f 00 00 00 00 00 00 df 4e 67 04 cd c9 f2 c9 62 40 00 00 00 00 00 00");

    /** A 64-bit rig with the x87 as an operating system starts a process: FNINIT (FCW 037F). */
    private static CpuRig rig() {
        return new CpuRig().longMode().run(hex("db e3 f4"));
    }

    @Test
    void gccLongDoubleCodeAtO0GivesTheHostsResult() {
        assertThat(rig().run(O0).reg(Cpu.RAX)).isEqualTo(HOST_RESULT);
    }

    @Test
    void gccLongDoubleCodeAtO2GivesTheHostsResult() {
        assertThat(rig().run(O2).reg(Cpu.RAX)).isEqualTo(HOST_RESULT);
    }

    @Test
    void compiledBlocksGiveTheSameResult() {
        CpuRig rig = rig();
        rig.cpu.setCompileThreshold(1);
        assertThat(rig.run(O2).reg(Cpu.RAX)).isEqualTo(HOST_RESULT);
        assertThat(rig.cpu.compiledBlocks()).isPositive();
    }
}

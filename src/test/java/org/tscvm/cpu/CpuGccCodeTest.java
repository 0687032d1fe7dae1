package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * Freestanding code as gcc 12 emits it (x86-64, -mno-sse -mno-red-zone -mpopcnt
 * -fcf-protection=full, linked at 0x10000 with ld -N, .text and .rodata as one flat image),
 * at -O0 and -O2. The same C compiled natively on the host printed c88bd6e001902604; the
 * images were built once at development time, not by the test.
 *
 * <pre>
 * typedef unsigned long u64; typedef unsigned int u32; typedef unsigned char u8;
 * static u8 buf[4096]; static u64 arr[300];
 * static u32 crc32(const u8 *p, int n) { u32 c = ~0u; while (n--) { c ^= *p++; for (int k = 0; k &lt; 8; k++) c = (c &gt;&gt; 1) ^ (0xEDB88320u &amp; -(c &amp; 1)); } return ~c; }
 * static void isort(u64 *a, int n) { for (int i = 1; i &lt; n; i++) { u64 v = a[i]; int j = i - 1; while (j &gt;= 0 &amp;&amp; a[j] &gt; v) { a[j + 1] = a[j]; j--; } a[j + 1] = v; } }
 * static int classify(int x) { switch (x &amp; 15) { case 0: return 3; case 1: return 7; case 2: return 11; case 3: return 13; case 4: return 17; case 5: return 19; case 6: return 23; case 7: return 29; case 8: return 31; default: return x * 3; } }
 * static long sdiv(long a, long b) { return a / b + a % b; }
 * __attribute__((noinline)) u64 work(void) {
 *     u64 s = 0x12345678;
 *     for (int i = 0; i &lt; 4096; i++) buf[i] = (u8)(i * 7 + (i &gt;&gt; 3));
 *     s += crc32(buf, 4096);
 *     for (int i = 0; i &lt; 300; i++) { s = s * 6364136223846793005ul + 1442695040888963407ul; arr[i] = s &gt;&gt; 17; }
 *     isort(arr, 300);
 *     for (int i = 0; i &lt; 300; i += 7) s ^= arr[i] + __builtin_popcountl(arr[i]) + __builtin_clzl(arr[i] | 1) + __builtin_ctzl(arr[i] | 0x100);
 *     for (int i = -50; i &lt; 50; i++) s += classify(i) + (i ? sdiv((long)s &gt;&gt; 3, i) : 0) + (u64)(s % (u64)(i + 100));
 *     __builtin_memset(buf, 0x5a, 1000); __builtin_memcpy(buf + 2000, buf + 10, 500);
 *     s += crc32(buf, 4096);
 *     u64 hi = (u64)(((unsigned __int128)s * 0x9E3779B97F4A7C15ul) &gt;&gt; 64); s ^= hi;
 *     return s;
 * }
 *
 * typedef unsigned long u64; u64 work(void);
 * __attribute__((section(".text.start"))) void _start(void) { u64 r = work(); __asm__ volatile("mov %0, %%rax; hlt" :: "r"(r) : "rax"); for (;;) ; }
 * </pre>
 */
class CpuGccCodeTest {
    static final long HOST_RESULT = 0xc88bd6e001902604L;

    static final byte[] O0 = hex("f3 0f 1e fa 55 48 89 e5 48 83 ec 10 e8 f5 01 00 00 48 89 45 f8 48 8b 55 f8 48 89 d0 f4 eb fe f3 "
            + "0f 1e fa 55 48 89 e5 48 83 ec 20 48 89 7d e8 89 75 e4 c7 45 fc ff ff ff ff eb 41 48 8b 45 e8 48 "
            + "8d 50 01 48 89 55 e8 0f b6 00 0f b6 c0 31 45 fc c7 45 f8 00 00 00 00 eb 1d 8b 45 fc d1 e8 89 c2 "
            + "8b 45 fc 83 e0 01 f7 d8 25 20 83 b8 ed 31 d0 89 45 fc 83 45 f8 01 83 7d f8 07 7e dd 8b 45 e4 8d "
            + "50 ff 89 55 e4 85 c0 75 b2 8b 45 fc f7 d0 c9 c3 f3 0f 1e fa 55 48 89 e5 48 83 ec 20 48 89 7d e8 "
            + "89 75 e4 c7 45 fc 01 00 00 00 e9 a3 00 00 00 8b 45 fc 48 98 48 8d 14 c5 00 00 00 00 48 8b 45 e8 "
            + "48 01 d0 48 8b 00 48 89 45 f0 8b 45 fc 83 e8 01 89 45 f8 eb 37 8b 45 f8 48 98 48 8d 14 c5 00 00 "
            + "00 00 48 8b 45 e8 48 01 d0 8b 55 f8 48 63 d2 48 83 c2 01 48 8d 0c d5 00 00 00 00 48 8b 55 e8 48 "
            + "01 ca 48 8b 00 48 89 02 83 6d f8 01 83 7d f8 00 78 1d 8b 45 f8 48 98 48 8d 14 c5 00 00 00 00 48 "
            + "8b 45 e8 48 01 d0 48 8b 00 48 39 45 f0 72 a6 8b 45 f8 48 98 48 83 c0 01 48 8d 14 c5 00 00 00 00 "
            + "48 8b 45 e8 48 01 c2 48 8b 45 f0 48 89 02 83 45 fc 01 8b 45 fc 3b 45 e4 0f 8c 51 ff ff ff 90 90 "
            + "c9 c3 f3 0f 1e fa 55 48 89 e5 48 83 ec 08 89 7d fc 8b 45 fc 83 e0 0f 83 f8 08 77 4c 89 c0 48 8b "
            + "04 c5 88 04 01 00 3e ff e0 b8 03 00 00 00 eb 41 b8 07 00 00 00 eb 3a b8 0b 00 00 00 eb 33 b8 0d "
            + "00 00 00 eb 2c b8 11 00 00 00 eb 25 b8 13 00 00 00 eb 1e b8 17 00 00 00 eb 17 b8 1d 00 00 00 eb "
            + "10 b8 1f 00 00 00 eb 09 8b 55 fc 89 d0 01 c0 01 d0 c9 c3 f3 0f 1e fa 55 48 89 e5 48 83 ec 10 48 "
            + "89 7d f8 48 89 75 f0 48 8b 45 f8 48 99 48 f7 7d f0 48 89 c1 48 8b 45 f8 48 99 48 f7 7d f0 48 89 "
            + "d0 48 01 c8 c9 c3 f3 0f 1e fa 55 48 89 e5 41 55 41 54 53 48 83 ec 28 48 c7 45 d8 78 56 34 12 c7 "
            + "45 d4 00 00 00 00 eb 25 8b 45 d4 89 c1 89 c8 c1 e0 03 29 c8 89 c2 8b 45 d4 c1 f8 03 01 c2 8b 45 "
            + "d4 48 98 88 90 c0 05 01 00 83 45 d4 01 81 7d d4 ff 0f 00 00 7e d2 be 00 10 00 00 bf c0 05 01 00 "
            + "e8 ba fd ff ff 89 c0 48 01 45 d8 c7 45 d0 00 00 00 00 eb 3f 48 8b 45 d8 48 ba 2d 7f 95 4c 2d f4 "
            + "51 58 48 0f af c2 48 ba 4f 81 67 f7 7e 7b 05 14 48 01 d0 48 89 45 d8 48 8b 45 d8 48 c1 e8 11 48 "
            + "89 c2 8b 45 d0 48 98 48 89 14 c5 c0 15 01 00 83 45 d0 01 81 7d d0 2b 01 00 00 7e b8 be 2c 01 00 "
            + "00 bf c0 15 01 00 e8 c5 fd ff ff c7 45 cc 00 00 00 00 eb 64 8b 45 cc 48 98 48 8b 14 c5 c0 15 01 "
            + "00 8b 45 cc 48 98 48 8b 04 c5 c0 15 01 00 f3 48 0f b8 c0 48 98 48 01 c2 8b 45 cc 48 98 48 8b 04 "
            + "c5 c0 15 01 00 48 83 c8 01 48 0f bd c0 48 83 f0 3f 48 98 48 01 c2 8b 45 cc 48 98 48 8b 04 c5 c0 "
            + "15 01 00 80 cc 01 f3 48 0f bc c0 48 98 48 01 d0 48 31 45 d8 83 45 cc 07 81 7d cc 2b 01 00 00 7e "
            + "93 c7 45 c8 ce ff ff ff eb 5b 8b 45 c8 89 c7 e8 0e fe ff ff 48 63 d8 83 7d c8 00 74 1a 8b 45 c8 "
            + "48 98 48 8b 55 d8 48 c1 fa 03 48 89 c6 48 89 d7 e8 5e fe ff ff eb 05 b8 00 00 00 00 48 01 d8 48 "
            + "89 c6 8b 45 c8 83 c0 64 48 63 c8 48 8b 45 d8 ba 00 00 00 00 48 f7 f1 48 89 d0 48 01 f0 48 01 45 "
            + "d8 83 45 c8 01 83 7d c8 31 7e 9f be c0 05 01 00 48 b8 5a 5a 5a 5a 5a 5a 5a 5a ba 7d 00 00 00 48 "
            + "89 f7 48 89 d1 f3 48 ab ba ca 05 01 00 b8 90 0d 01 00 b9 f4 01 00 00 48 8b 32 48 89 30 89 ce 48 "
            + "01 c6 48 8d 7e 08 89 ce 48 01 d6 48 83 c6 08 48 8b 76 f0 48 89 77 f0 48 8d 78 08 48 83 e7 f8 48 "
            + "29 f8 48 29 c2 01 c1 83 e1 f8 89 c8 c1 e8 03 89 c0 48 89 d6 48 89 c1 f3 48 a5 be 00 10 00 00 bf "
            + "c0 05 01 00 e8 f6 fb ff ff 89 c0 48 01 45 d8 48 8b 45 d8 49 89 c4 41 bd 00 00 00 00 48 b8 15 7c "
            + "4a 7f b9 79 37 9e 49 0f af c5 48 89 c2 49 6b c4 00 48 8d 0c 02 48 b8 15 7c 4a 7f b9 79 37 9e 49 "
            + "f7 e4 48 01 d1 48 89 ca 48 89 d0 31 d2 48 89 45 c0 48 8b 45 c0 48 31 45 d8 48 8b 45 d8 48 83 c4 "
            + "28 5b 41 5c 41 5d 5d c3 89 01 01 00 00 00 00 00 90 01 01 00 00 00 00 00 97 01 01 00 00 00 00 00 "
            + "9e 01 01 00 00 00 00 00 a5 01 01 00 00 00 00 00 ac 01 01 00 00 00 00 00 b3 01 01 00 00 00 00 00 "
            + "ba 01 01 00 00 00 00 00 c1 01 01 00 00 00 00 00");

    static final byte[] O2 = hex("f3 0f 1e fa 48 83 ec 08 e8 13 00 00 00 48 89 c2 48 89 d0 f4 eb fe 66 2e 0f 1f 84 00 00 00 00 00 "
            + "f3 0f 1e fa 31 c9 31 c0 0f 1f 84 00 00 00 00 00 89 c2 48 83 c0 01 c1 fa 03 01 ca 83 c1 07 88 90 "
            + "9f 0c 01 00 48 3d 00 10 00 00 75 e4 41 b8 a0 0c 01 00 be ff ff ff ff 4c 89 c1 66 0f 1f 44 00 00 "
            + "0f b6 01 48 83 c1 01 31 c6 b8 08 00 00 00 66 90 89 f2 83 e6 01 f7 de d1 ea 81 e6 20 83 b8 ed 31 "
            + "d6 83 e8 01 75 ea 48 81 f9 a0 1c 01 00 75 d1 f7 d6 b9 40 03 01 00 41 ba a0 0c 01 00 49 b9 2d 7f "
            + "95 4c 2d f4 51 58 48 81 c6 78 56 34 12 48 89 c8 48 bf 4f 81 67 f7 7e 7b 05 14 66 0f 1f 44 00 00 "
            + "49 0f af f1 48 83 c0 08 48 01 fe 48 89 f2 48 c1 ea 11 48 89 50 f8 49 39 c2 75 e5 45 31 c9 66 90 "
            + "4a 8b 3c cd 48 03 01 00 4c 89 c8 eb 18 0f 1f 00 48 89 14 c5 48 03 01 00 48 83 e8 01 83 f8 ff 0f "
            + "84 9b 01 00 00 48 8b 14 c5 40 03 01 00 48 39 d7 72 de 83 c0 01 48 98 48 8d 04 c5 40 03 01 00 49 "
            + "83 c1 01 48 89 38 49 81 f9 2b 01 00 00 75 b1 90 4c 8b 09 31 c0 4c 89 ca 4c 89 cf f3 49 0f b8 c1 "
            + "48 81 cf 00 01 00 00 48 83 ca 01 f3 48 0f bc ff 48 0f bd d2 48 83 c1 38 83 f2 3f 48 01 d0 48 63 "
            + "d7 48 01 d0 4c 01 c8 48 31 c6 48 81 f9 a8 0c 01 00 75 bd 48 c7 c7 ce ff ff ff 49 b9 c3 f5 28 5c "
            + "8f c2 f5 28 0f 1f 40 00 89 f8 83 e0 0f 83 f8 08 7f 49 48 63 0c 85 c0 02 01 00 85 ff 75 41 48 89 "
            + "f2 48 83 c7 01 48 c1 ea 02 48 89 d0 49 f7 e1 48 89 d0 48 83 e2 fc 48 c1 e8 02 48 01 c2 48 89 f0 "
            + "48 8d 14 92 48 c1 e2 02 48 29 d0 48 01 c8 48 01 c6 89 f8 83 e0 0f 83 f8 08 7e b7 48 8d 0c 7f 48 "
            + "89 f0 4c 8d 57 64 48 c1 f8 03 48 99 48 f7 ff 48 83 c7 01 48 01 d0 31 d2 48 01 c1 48 89 f0 49 f7 "
            + "f2 48 01 d1 48 01 ce 48 83 ff 32 0f 85 77 ff ff ff b9 7d 00 00 00 4c 89 c7 ba 70 14 01 00 48 b8 "
            + "5a 5a 5a 5a 5a 5a 5a 5a f3 48 ab b9 3e 00 00 00 48 89 d7 f3 48 ab b8 ff ff ff ff c7 07 5a 5a 5a "
            + "5a bf a0 0c 01 00 66 2e 0f 1f 84 00 00 00 00 00 0f b6 17 48 83 c7 01 31 d0 ba 08 00 00 00 66 90 "
            + "89 c1 83 e0 01 f7 d8 d1 e9 25 20 83 b8 ed 31 c8 83 ea 01 75 eb 48 81 ff a0 1c 01 00 75 d2 f7 d0 "
            + "48 8d 0c 30 48 b8 15 7c 4a 7f b9 79 37 9e 48 f7 e1 48 89 c8 48 31 d0 c3 0f 1f 84 00 00 00 00 00 "
            + "b8 40 03 01 00 e9 75 fe ff ff 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
            + "03 00 00 00 07 00 00 00 0b 00 00 00 0d 00 00 00 11 00 00 00 13 00 00 00 17 00 00 00 1d 00 00 00 "
            + "1f 00 00 00");

    private static void runsToTheHostResult(byte[] image) {
        CpuRig rig = new CpuRig().longMode().run(image);
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(HOST_RESULT);
        assertThat(rig.cpu.unimplementedOpcodes()).isEmpty();
    }

    @Test
    void gccO0CodeComputesWhatTheHostComputes() {
        runsToTheHostResult(O0);
    }

    @Test
    void gccO2CodeComputesWhatTheHostComputes() {
        runsToTheHostResult(O2);
    }
}

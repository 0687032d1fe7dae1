package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * The TLB flushes of SDM 4.10.4.1: each test caches a translation of 0x801000 (the 2 MiB page
 * at 0x800000, PDE at 0x3020), points that PDE at 0xa00000 and reads 0x801000 again after the
 * operation that must drop the old translation. Without the flush the second read returns the
 * old page's 0x1111.
 */
class TlbInvalidationTest {
    private static CpuRig rig(long pde) {
        CpuRig rig = new CpuRig().longMode();
        rig.w64(0x3020, pde);
        rig.memory.write32(0x801000, 0x1111);
        rig.memory.write32(0xa01000, 0x2222);
        return rig;
    }

    @Test
    void movCr3DropsNonGlobalTranslations() {
        CpuRig rig = rig(0x800087).run(
                // 10000: 8b 1c 25 00 10 80 00  mov    0x801000,%ebx
                // 10007: 48 c7 04 25 20 30 00  movq   $0xa00087,0x3020
                // 1000e: 00 87 00 a0 00
                // 10013: 0f 20 d8              mov    %cr3,%rax
                // 10016: 0f 22 d8              mov    %rax,%cr3
                // 10019: 8b 0c 25 00 10 80 00  mov    0x801000,%ecx
                // 10020: f4                    hlt
                hex("8b 1c 25 00 10 80 00 48 c7 04 25 20 30 00 00 87 00 a0 00 0f 20 d8 0f 22 d8 8b 0c 25 00 10 80 00 f4 "));
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0x1111);
        assertThat(rig.reg(Cpu.RCX)).as("read through the new PDE").isEqualTo(0x2222);
    }

    @Test
    void togglingCr4PgeDropsGlobalTranslations() {
        CpuRig rig = rig(0x800187).run(
                // 10000: 0f 20 e0              mov    %cr4,%rax
                // 10003: 48 0d 80 00 00 00     or     $0x80,%rax
                // 10009: 0f 22 e0              mov    %rax,%cr4
                // 1000c: 8b 1c 25 00 10 80 00  mov    0x801000,%ebx
                // 10013: 48 c7 04 25 20 30 00  movq   $0xa00187,0x3020
                // 1001a: 00 87 01 a0 00
                // 1001f: 0f 20 e0              mov    %cr4,%rax
                // 10022: 48 25 7f ff ff ff     and    $0xffffffffffffff7f,%rax
                // 10028: 0f 22 e0              mov    %rax,%cr4
                // 1002b: 48 0d 80 00 00 00     or     $0x80,%rax
                // 10031: 0f 22 e0              mov    %rax,%cr4
                // 10034: 8b 0c 25 00 10 80 00  mov    0x801000,%ecx
                // 1003b: f4                    hlt
                hex("0f 20 e0 48 0d 80 00 00 00 0f 22 e0 8b 1c 25 00 10 80 00 48 c7 04 25 20 30 00 00 87 01 a0 00 0f 20 "
                        + "e0 48 25 7f ff ff ff 0f 22 e0 48 0d 80 00 00 00 0f 22 e0 8b 0c 25 00 10 80 00 f4 "));
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0x1111);
        assertThat(rig.reg(Cpu.RCX)).as("read through the new PDE").isEqualTo(0x2222);
    }

    @Test
    void invlpgDropsAGlobalLargePageKeptOverMovCr3() {
        // The global entry survives MOV CR3; INVLPG of another slice of its page must still find it.
        CpuRig rig = rig(0x800187).run(
                // 10000: 0f 20 e0              mov    %cr4,%rax
                // 10003: 48 0d 80 00 00 00     or     $0x80,%rax
                // 10009: 0f 22 e0              mov    %rax,%cr4
                // 1000c: 8b 1c 25 00 10 80 00  mov    0x801000,%ebx
                // 10013: 0f 20 d8              mov    %cr3,%rax
                // 10016: 0f 22 d8              mov    %rax,%cr3
                // 10019: 48 c7 04 25 20 30 00  movq   $0xa00187,0x3020
                // 10020: 00 87 01 a0 00
                // 10025: 0f 01 3c 25 00 00 80  invlpg 0x800000
                // 1002c: 00
                // 1002d: 8b 0c 25 00 10 80 00  mov    0x801000,%ecx
                // 10034: f4                    hlt
                hex("0f 20 e0 48 0d 80 00 00 00 0f 22 e0 8b 1c 25 00 10 80 00 0f 20 d8 0f 22 d8 48 c7 04 25 20 30 00 00 "
                        + "87 01 a0 00 0f 01 3c 25 00 00 80 00 8b 0c 25 00 10 80 00 f4 "));
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0x1111);
        assertThat(rig.reg(Cpu.RCX)).as("read through the new PDE").isEqualTo(0x2222);
    }
}

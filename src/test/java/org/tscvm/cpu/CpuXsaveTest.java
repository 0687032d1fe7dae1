package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.CODE;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * XSAVE with the x87 and SSE components (SDM chapter 13): CR4.OSXSAVE only with CPUID.1:ECX.XSAVE,
 * OSXSAVE mirrored in CPUID, XSETBV/XGETBV and XCR0's rules, XSAVE/XRSTOR of the standard form
 * (FXSAVE's legacy region, XSTATE_BV in the header), their alignment and header checks.
 */
class CpuXsaveTest {
    private static final int XSAVE = 1 << 26, OSXSAVE = 1 << 27;
    private static final long AREA = 0x200000;

    private static CpuRig rig() {
        CpuRig rig = new CpuRig().longMode();
        rig.bus.leaf1Ecx |= XSAVE;
        rig.cpu.setCr(4, rig.cpu.getCr(4) | CpuState.CR4_OSFXSR);
        return rig;
    }

    @Test
    void xsetbvThenXgetbvReadsXcr0BackAndCpuidMirrorsCr4Osxsave() {
        CpuRig rig = rig();
        rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 04 00        or     $0x40000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: b8 01 00 00 00           mov    $0x1,%eax
                // 10011: 0f a2                    cpuid
                // 10013: 41 89 c8                 mov    %ecx,%r8d
                // 10016: 31 c9                    xor    %ecx,%ecx
                // 10018: b8 03 00 00 00           mov    $0x3,%eax
                // 1001d: 31 d2                    xor    %edx,%edx
                // 1001f: 0f 01 d1                 xsetbv
                // 10022: 31 c0                    xor    %eax,%eax
                // 10024: 31 c9                    xor    %ecx,%ecx
                // 10026: 0f 01 d0                 xgetbv
                // 10029: 41 89 c1                 mov    %eax,%r9d
                // 1002c: 41 89 d2                 mov    %edx,%r10d
                // 1002f: f4                       hlt
                hex("0f 20 e0 48 0d 00 00 04 00 0f 22 e0 b8 01 00 00 00 0f a2 41 89 c8 31 c9 b8 03 00 00 00 31 d2 0f "
                        + "01 d1 31 c0 31 c9 0f 01 d0 41 89 c1 41 89 d2 f4 "));
        assertThat(rig.reg(8) & (XSAVE | OSXSAVE)).as("CPUID.1:ECX after CR4.OSXSAVE").isEqualTo(XSAVE | OSXSAVE);
        assertThat(rig.reg(9)).as("XCR0").isEqualTo(3);
        assertThat(rig.reg(10)).isEqualTo(0);
        assertThat(rig.cpu.getRip()).isEqualTo(CODE + 0x30);
    }

    private static CpuRig xsetbv(long ecx, long eax) {
        CpuRig rig = rig();
        rig.cpu.setGpr(11, ecx);
        rig.cpu.setGpr(12, eax);
        rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 04 00        or     $0x40000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: 44 89 d9                 mov    %r11d,%ecx
                // 1000f: 44 89 e0                 mov    %r12d,%eax
                // 10012: 31 d2                    xor    %edx,%edx
                // 10014: 0f 01 d1                 xsetbv
                // 10017: f4                       hlt
                hex("0f 20 e0 48 0d 00 00 04 00 0f 22 e0 44 89 d9 44 89 e0 31 d2 0f 01 d1 f4 "));
        return rig;
    }

    @Test
    void xsetbvFaultsForXcr0WithoutX87OrWithUnsupportedBitsOrAnotherXcr() {
        assertThat(xsetbv(0, 3).haltedInVector()).as("x87|SSE").isEqualTo(-1);
        assertThat(xsetbv(0, 1).haltedInVector()).as("x87 alone").isEqualTo(-1);
        for (long[] bad : new long[][] {{0, 2}, {0, 7}, {0, 5}, {1, 3}}) {
            CpuRig rig = xsetbv(bad[0], bad[1]);
            assertThat(rig.haltedInVector()).as("ecx %d eax %d", bad[0], bad[1]).isEqualTo(CpuFault.GP);
            assertThat(rig.stack(1)).isEqualTo(CODE + 0x14);
        }
    }

    @Test
    void xgetbvRunsInUserModeButXsetbvIsGeneralProtectionThere() {
        CpuRig rig = rig();
        rig.load(0x400000,
                // 400000: 31 c9                    xor    %ecx,%ecx
                // 400002: 0f 01 d0                 xgetbv
                // 400005: 41 89 c1                 mov    %eax,%r9d
                // 400008: 0f 01 d1                 xsetbv
                // 40000b: f4                       hlt
                hex("31 c9 0f 01 d0 41 89 c1 0f 01 d1 f4"));
        rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 04 00        or     $0x40000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: 6a 23                    push   $0x23
                // 1000e: 68 00 f0 47 00           push   $0x47f000
                // 10013: 9c                       pushf
                // 10014: 6a 2b                    push   $0x2b
                // 10016: 68 00 00 40 00           push   $0x400000
                // 1001b: 48 cf                    iretq
                hex("0f 20 e0 48 0d 00 00 04 00 0f 22 e0 6a 23 68 00 f0 47 00 9c 6a 2b 68 00 00 40 00 48 cf"));
        assertThat(rig.reg(9)).as("XCR0 read at CPL 3").isEqualTo(1);
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(0)).isEqualTo(0);
        assertThat(rig.stack(1)).isEqualTo(0x400008);
    }

    @Test
    void xgetbvIsUndefinedWhileCr4OsxsaveIsClear() {
        CpuRig rig = rig();
        rig.run(
                // 10000: 31 c9                    xor    %ecx,%ecx
                // 10002: 0f 01 d0                 xgetbv
                // 10005: f4                       hlt
                hex("31 c9 0f 01 d0 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(rig.stack(0)).isEqualTo(CODE + 2);
    }

    @Test
    void cr4OsxsaveCannotBeSetWithoutCpuidXsave() {
        CpuRig rig = new CpuRig().longMode();
        rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 04 00        or     $0x40000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: f4                       hlt
                hex("0f 20 e0 48 0d 00 00 04 00 0f 22 e0 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(1)).isEqualTo(CODE + 9);
        assertThat(xsetbv(0, 3).cpu.getCr(4) & (1 << 18)).as("allowed with CPUID.1:ECX.XSAVE").isNotZero();
    }

    @Test
    void xrstorRestoresX87AndSseStateThatXsaveSaved() {
        CpuRig rig = rig();
        rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 04 00        or     $0x40000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: 31 c9                    xor    %ecx,%ecx
                // 1000e: b8 03 00 00 00           mov    $0x3,%eax
                // 10013: 31 d2                    xor    %edx,%edx
                // 10015: 0f 01 d1                 xsetbv
                // 10018: db e3                    fninit
                // 1001a: d9 e8                    fld1
                // 1001c: d9 eb                    fldpi
                // 1001e: bb 78 56 34 12           mov    $0x12345678,%ebx
                // 10023: 66 0f 6e db              movd   %ebx,%xmm3
                // 10027: 66 44 0f 6e e3           movd   %ebx,%xmm12
                // 1002c: bf 00 00 20 00           mov    $0x200000,%edi
                // 10031: b8 03 00 00 00           mov    $0x3,%eax
                // 10036: 0f ae 27                 xsave  (%rdi)
                // 10039: db e3                    fninit
                // 1003b: 66 0f ef db              pxor   %xmm3,%xmm3
                // 1003f: 66 45 0f ef e4           pxor   %xmm12,%xmm12
                // 10044: 0f ae 2f                 xrstor (%rdi)
                // 10047: 66 0f 7e de              movd   %xmm3,%esi
                // 1004b: 66 45 0f 7e e5           movd   %xmm12,%r13d
                // 10050: db 1c 25 00 00 30 00     fistpl 0x300000
                // 10057: db 1c 25 04 00 30 00     fistpl 0x300004
                // 1005e: f4                       hlt
                hex("0f 20 e0 48 0d 00 00 04 00 0f 22 e0 31 c9 b8 03 00 00 00 31 d2 0f 01 d1 db e3 d9 e8 d9 eb bb 78 "
                        + "56 34 12 66 0f 6e db 66 44 0f 6e e3 bf 00 00 20 00 b8 03 00 00 00 0f ae 27 db e3 66 0f ef db 66 "
                        + "45 0f ef e4 0f ae 2f 66 0f 7e de 66 45 0f 7e e5 db 1c 25 00 00 30 00 db 1c 25 04 00 30 00 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.reg(Cpu.RSI)).as("XMM3").isEqualTo(0x12345678L);
        assertThat(rig.reg(13)).as("XMM12").isEqualTo(0x12345678L);
        assertThat(rig.memory.read32(0x300000)).as("ST(0) = pi").isEqualTo(3);
        assertThat(rig.memory.read32(0x300004)).as("ST(1) = 1").isEqualTo(1);
        assertThat(rig.r64(AREA + 512)).as("XSTATE_BV").isEqualTo(3);
        assertThat(rig.memory.read32(AREA + 24)).as("MXCSR").isEqualTo(0x1f80);
        assertThat(rig.memory.read32(AREA + 160 + 16 * 3)).as("XMM3 in the legacy region").isEqualTo(0x12345678);
    }

    @Test
    void xrstorInitializesSseWhenItsXstateBvBitIsClear() {
        CpuRig rig = rig();
        rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 04 00        or     $0x40000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: 31 c9                    xor    %ecx,%ecx
                // 1000e: b8 03 00 00 00           mov    $0x3,%eax
                // 10013: 31 d2                    xor    %edx,%edx
                // 10015: 0f 01 d1                 xsetbv
                // 10018: db e3                    fninit
                // 1001a: d9 e8                    fld1
                // 1001c: bb 78 56 34 12           mov    $0x12345678,%ebx
                // 10021: 66 0f 6e db              movd   %ebx,%xmm3
                // 10025: bf 00 00 20 00           mov    $0x200000,%edi
                // 1002a: b8 03 00 00 00           mov    $0x3,%eax
                // 1002f: 0f ae 27                 xsave  (%rdi)
                // 10032: 48 c7 04 25 00 02 20     movq   $0x1,0x200200
                // 10039: 00 01 00 00 00
                // 1003e: db e3                    fninit
                // 10040: 0f ae 2f                 xrstor (%rdi)
                // 10043: 66 0f 7e de              movd   %xmm3,%esi
                // 10047: db 1c 25 00 00 30 00     fistpl 0x300000
                // 1004e: f4                       hlt
                hex("0f 20 e0 48 0d 00 00 04 00 0f 22 e0 31 c9 b8 03 00 00 00 31 d2 0f 01 d1 db e3 d9 e8 bb 78 56 34 "
                        + "12 66 0f 6e db bf 00 00 20 00 b8 03 00 00 00 0f ae 27 48 c7 04 25 00 02 20 00 01 00 00 00 db e3 "
                        + "0f ae 2f 66 0f 7e de db 1c 25 00 00 30 00 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.reg(Cpu.RSI)).as("XMM3 initialized").isEqualTo(0);
        assertThat(rig.memory.read32(0x300000)).as("x87 restored: ST(0) = 1").isEqualTo(1);
    }

    @Test
    void xrstorInitializesX87WhenItsXstateBvBitIsClear() {
        CpuRig rig = rig();
        rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 04 00        or     $0x40000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: 31 c9                    xor    %ecx,%ecx
                // 1000e: b8 03 00 00 00           mov    $0x3,%eax
                // 10013: 31 d2                    xor    %edx,%edx
                // 10015: 0f 01 d1                 xsetbv
                // 10018: db e3                    fninit
                // 1001a: d9 e8                    fld1
                // 1001c: bb 34 12 00 00           mov    $0x1234,%ebx
                // 10021: 66 0f 6e db              movd   %ebx,%xmm3
                // 10025: bf 00 00 20 00           mov    $0x200000,%edi
                // 1002a: b8 03 00 00 00           mov    $0x3,%eax
                // 1002f: 0f ae 27                 xsave  (%rdi)
                // 10032: 48 c7 04 25 00 02 20     movq   $0x2,0x200200
                // 10039: 00 02 00 00 00
                // 1003e: 66 0f ef db              pxor   %xmm3,%xmm3
                // 10042: 66 c7 04 25 08 00 30     movw   $0x27f,0x300008
                // 10049: 00 7f 02
                // 1004c: d9 2c 25 08 00 30 00     fldcw  0x300008
                // 10053: d9 eb                    fldpi
                // 10055: 0f ae 2f                 xrstor (%rdi)
                // 10058: 66 0f 7e de              movd   %xmm3,%esi
                // 1005c: d9 3c 25 00 00 30 00     fnstcw 0x300000
                // 10063: dd 3c 25 02 00 30 00     fnstsw 0x300002
                // 1006a: f4                       hlt
                hex("0f 20 e0 48 0d 00 00 04 00 0f 22 e0 31 c9 b8 03 00 00 00 31 d2 0f 01 d1 db e3 d9 e8 bb 34 12 00 "
                        + "00 66 0f 6e db bf 00 00 20 00 b8 03 00 00 00 0f ae 27 48 c7 04 25 00 02 20 00 02 00 00 00 66 0f "
                        + "ef db 66 c7 04 25 08 00 30 00 7f 02 d9 2c 25 08 00 30 00 d9 eb 0f ae 2f 66 0f 7e de d9 3c 25 00 "
                        + "00 30 00 dd 3c 25 02 00 30 00 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.reg(Cpu.RSI)).as("XMM3 restored").isEqualTo(0x1234);
        assertThat(rig.memory.read16(0x300000)).as("FCW initialized").isEqualTo(0x37f);
        assertThat(rig.memory.read16(0x300002)).as("FSW initialized, TOP 0").isEqualTo(0);
    }

    @Test
    void xsaveOfAnAreaNotAlignedTo64BytesIsGeneralProtection() {
        CpuRig rig = rig();
        rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 04 00        or     $0x40000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: 31 c9                    xor    %ecx,%ecx
                // 1000e: b8 03 00 00 00           mov    $0x3,%eax
                // 10013: 31 d2                    xor    %edx,%edx
                // 10015: 0f 01 d1                 xsetbv
                // 10018: bf 10 00 20 00           mov    $0x200010,%edi
                // 1001d: b8 03 00 00 00           mov    $0x3,%eax
                // 10022: 0f ae 27                 xsave  (%rdi)
                // 10025: f4                       hlt
                hex("0f 20 e0 48 0d 00 00 04 00 0f 22 e0 31 c9 b8 03 00 00 00 31 d2 0f 01 d1 bf 10 00 20 00 b8 03 00 "
                        + "00 00 0f ae 27 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x22);
        assertThat(rig.r64(0x200010 + 512)).as("nothing written").isEqualTo(0);
    }

    @Test
    void xrstorWithNonZeroHeaderReservedBytesIsGeneralProtection() {
        CpuRig rig = rig();
        rig.cpu.setGpr(11, 1L << 63); // XCOMP_BV's compacted-form bit
        rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 04 00        or     $0x40000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: 31 c9                    xor    %ecx,%ecx
                // 1000e: b8 03 00 00 00           mov    $0x3,%eax
                // 10013: 31 d2                    xor    %edx,%edx
                // 10015: 0f 01 d1                 xsetbv
                // 10018: bf 00 00 20 00           mov    $0x200000,%edi
                // 1001d: b8 03 00 00 00           mov    $0x3,%eax
                // 10022: 0f ae 27                 xsave  (%rdi)
                // 10025: 4c 89 1c 25 08 02 20     mov    %r11,0x200208
                // 1002c: 00
                // 1002d: 0f ae 2f                 xrstor (%rdi)
                // 10030: f4                       hlt
                hex("0f 20 e0 48 0d 00 00 04 00 0f 22 e0 31 c9 b8 03 00 00 00 31 d2 0f 01 d1 bf 00 00 20 00 b8 03 00 "
                        + "00 00 0f ae 27 4c 89 1c 25 08 02 20 00 0f ae 2f f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x2d);
    }

    @Test
    void xrstorWithAnXstateBvBitOutsideXcr0IsGeneralProtection() {
        CpuRig rig = rig();
        rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 04 00        or     $0x40000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: 31 c9                    xor    %ecx,%ecx
                // 1000e: b8 01 00 00 00           mov    $0x1,%eax
                // 10013: 31 d2                    xor    %edx,%edx
                // 10015: 0f 01 d1                 xsetbv
                // 10018: bf 00 00 20 00           mov    $0x200000,%edi
                // 1001d: b8 03 00 00 00           mov    $0x3,%eax
                // 10022: 0f ae 27                 xsave  (%rdi)
                // 10025: 48 c7 04 25 00 02 20     movq   $0x3,0x200200
                // 1002c: 00 03 00 00 00
                // 10031: 0f ae 2f                 xrstor (%rdi)
                // 10034: f4                       hlt
                hex("0f 20 e0 48 0d 00 00 04 00 0f 22 e0 31 c9 b8 01 00 00 00 31 d2 0f 01 d1 bf 00 00 20 00 b8 03 00 "
                        + "00 00 0f ae 27 48 c7 04 25 00 02 20 00 03 00 00 00 0f ae 2f f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x31);
    }
}

package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.CODE;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * Protection keys (SDM 4.6.2): PKRU for user-mode addresses (CR4.PKE, RDPKRU/WRPKRU), IA32_PKRS
 * for supervisor-mode ones (CR4.PKS), the key in bits 62:59 of the leaf entry, #PF bit 5 (PK).
 * The rig's first 2 MiB (code, stacks, tables, handlers) are made supervisor-only; 2..4 MiB is
 * one 2 MiB page with key 5 (user) or key 3 (supervisor); 4..6 MiB keeps key 0.
 */
class CpuProtectionKeyTest {
    private static final int PKU = 1 << 3, PKS = 1 << 31;

    private static CpuRig userKeyRig() {
        CpuRig rig = new CpuRig().longMode();
        rig.bus.leaf7Ecx |= PKU;
        rig.w64(0x3000, 0x83);
        rig.w64(0x3008, (1L << 21) | 0x87 | (5L << 59));
        rig.memory.write32(0x200000, 0x5151);
        rig.memory.write32(0x400000, 0x4040);
        return rig;
    }

    @Test
    void writeDisableStopsSupervisorWritesOnlyWithCr0WpAndOspkeFollowsCr4Pke() {
        CpuRig rig = userKeyRig();
        rig.run(
                // 10000: b8 07 00 00 00           mov    $0x7,%eax
                // 10005: 31 c9                    xor    %ecx,%ecx
                // 10007: 0f a2                    cpuid
                // 10009: 41 89 c8                 mov    %ecx,%r8d
                // 1000c: 0f 20 e0                 mov    %cr4,%rax
                // 1000f: 48 0d 00 00 40 00        or     $0x400000,%rax
                // 10015: 0f 22 e0                 mov    %rax,%cr4
                // 10018: b8 07 00 00 00           mov    $0x7,%eax
                // 1001d: 31 c9                    xor    %ecx,%ecx
                // 1001f: 0f a2                    cpuid
                // 10021: 41 89 c9                 mov    %ecx,%r9d
                // 10024: 31 c9                    xor    %ecx,%ecx
                // 10026: 31 d2                    xor    %edx,%edx
                // 10028: b8 00 08 00 00           mov    $0x800,%eax
                // 1002d: 0f 01 ef                 wrpkru
                // 10030: 0f 01 ee                 rdpkru
                // 10033: 41 89 c2                 mov    %eax,%r10d
                // 10036: 8b 1c 25 00 00 20 00     mov    0x200000,%ebx
                // 1003d: c7 04 25 00 00 20 00     movl   $0x77,0x200000
                // 10044: 77 00 00 00
                // 10048: 0f 20 c0                 mov    %cr0,%rax
                // 1004b: 48 0d 00 00 01 00        or     $0x10000,%rax
                // 10051: 0f 22 c0                 mov    %rax,%cr0
                // 10054: c7 04 25 00 00 20 00     movl   $0x88,0x200000
                // 1005b: 88 00 00 00
                // 1005f: f4                       hlt
                hex("b8 07 00 00 00 31 c9 0f a2 41 89 c8 0f 20 e0 48 0d 00 00 40 00 0f 22 e0 b8 07 00 00 00 31 c9 0f a2 "
                        + "41 89 c9 31 c9 31 d2 b8 00 08 00 00 0f 01 ef 0f 01 ee 41 89 c2 8b 1c 25 00 00 20 00 c7 04 25 00 "
                        + "00 20 00 77 00 00 00 0f 20 c0 48 0d 00 00 01 00 0f 22 c0 c7 04 25 00 00 20 00 88 00 00 00 f4 "));
        assertThat(rig.reg(8) & 0x18).as("PKU, no OSPKE before CR4.PKE").isEqualTo(0x08);
        assertThat(rig.reg(9) & 0x18).as("PKU and OSPKE").isEqualTo(0x18);
        assertThat(rig.reg(10)).as("RDPKRU").isEqualTo(0x800);
        assertThat(rig.reg(Cpu.RBX)).as("write-disable allows reads").isEqualTo(0x5151);
        assertThat(rig.memory.read32(0x200000)).as("CR0.WP clear: supervisor write allowed").isEqualTo(0x77);
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.stack(0)).as("present, write, supervisor, PK").isEqualTo(0x23);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x54);
        assertThat(rig.cpu.getCr(2)).isEqualTo(0x200000);
    }

    @Test
    void accessDisableWrittenAfterAPageWasReadTakesEffectAtOnce() {
        // The first read must not leave the page in the TLB without the key check.
        CpuRig rig = userKeyRig();
        rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 40 00        or     $0x400000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: 8b 1c 25 00 00 20 00     mov    0x200000,%ebx
                // 10013: 31 c9                    xor    %ecx,%ecx
                // 10015: 31 d2                    xor    %edx,%edx
                // 10017: b8 00 04 00 00           mov    $0x400,%eax
                // 1001c: 0f 01 ef                 wrpkru
                // 1001f: 8b 34 25 00 00 40 00     mov    0x400000,%esi
                // 10026: 8b 3c 25 00 00 20 00     mov    0x200000,%edi
                // 1002d: f4                       hlt
                hex("0f 20 e0 48 0d 00 00 40 00 0f 22 e0 8b 1c 25 00 00 20 00 31 c9 31 d2 b8 00 04 00 00 0f 01 ef 8b 34 "
                        + "25 00 00 40 00 8b 3c 25 00 00 20 00 f4 "));
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0x5151);
        assertThat(rig.reg(Cpu.RSI)).as("key 0 keeps its rights").isEqualTo(0x4040);
        assertThat(rig.reg(Cpu.RDI)).isZero();
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.stack(0)).as("present, read, supervisor, PK").isEqualTo(0x21);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x26);
    }

    @Test
    void accessDisableStopsAUserModeRead() {
        CpuRig rig = userKeyRig();
        rig.load(0x400000,
                // 400000: 8b 04 25 00 00 20 00     mov    0x200000,%eax
                // 400007: f4                       hlt
                hex("8b 04 25 00 00 20 00 f4 "));
        rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 40 00        or     $0x400000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: 31 c9                    xor    %ecx,%ecx
                // 1000e: 31 d2                    xor    %edx,%edx
                // 10010: b8 00 04 00 00           mov    $0x400,%eax
                // 10015: 0f 01 ef                 wrpkru
                // 10018: 6a 23                    push   $0x23
                // 1001a: 68 00 f0 47 00           push   $0x47f000
                // 1001f: 9c                       pushf
                // 10020: 6a 2b                    push   $0x2b
                // 10022: 68 00 00 40 00           push   $0x400000
                // 10027: 48 cf                    iretq
                hex("0f 20 e0 48 0d 00 00 40 00 0f 22 e0 31 c9 31 d2 b8 00 04 00 00 0f 01 ef 6a 23 68 00 f0 47 00 9c 6a "
                        + "2b 68 00 00 40 00 48 cf "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.stack(0)).as("present, read, user, PK").isEqualTo(0x25);
        assertThat(rig.stack(1)).isEqualTo(0x400000);
    }

    @Test
    void rdpkruIsUdWhileCr4PkeIsClear() {
        CpuRig rig = userKeyRig();
        rig.run(
                // 10000: 0f 01 ee                 rdpkru
                // 10003: f4                       hlt
                hex("0f 01 ee f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(rig.stack(0)).isEqualTo(CODE);
    }

    @Test
    void wrpkruWithEdxSetIsGp() {
        CpuRig rig = userKeyRig();
        rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 40 00        or     $0x400000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: 0f 01 ee                 rdpkru
                // 1000f: 89 c3                    mov    %eax,%ebx
                // 10011: 31 c9                    xor    %ecx,%ecx
                // 10013: ba 01 00 00 00           mov    $0x1,%edx
                // 10018: 0f 01 ef                 wrpkru
                // 1001b: f4                       hlt
                hex("0f 20 e0 48 0d 00 00 40 00 0f 22 e0 0f 01 ee 89 c3 31 c9 ba 01 00 00 00 0f 01 ef f4 "));
        assertThat(rig.reg(Cpu.RBX)).as("PKRU after reset").isZero();
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(0)).isZero();
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x18);
    }

    @Test
    void cr4PkeWithoutCpuidPkuIsGp() {
        CpuRig rig = new CpuRig().longMode();
        rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 40 00        or     $0x400000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: f4                       hlt
                hex("0f 20 e0 48 0d 00 00 40 00 0f 22 e0 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(1)).isEqualTo(CODE + 9);
    }

    @Test
    void pkrsAccessDisableStopsSupervisorReadsOfASupervisorPageWithThatKey() {
        CpuRig rig = new CpuRig().longMode();
        rig.bus.leaf7Ecx |= PKS;
        rig.w64(0x3000, 0x83);
        rig.w64(0x3008, (1L << 21) | 0x83 | (3L << 59));
        rig.w64(0x3010, (2L << 21) | 0x83);
        rig.memory.write32(0x400000, 0x4040);
        rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 00 01        or     $0x1000000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: b9 e1 06 00 00           mov    $0x6e1,%ecx
                // 10011: 31 d2                    xor    %edx,%edx
                // 10013: b8 40 00 00 00           mov    $0x40,%eax
                // 10018: 0f 30                    wrmsr
                // 1001a: 8b 34 25 00 00 40 00     mov    0x400000,%esi
                // 10021: 8b 3c 25 00 00 20 00     mov    0x200000,%edi
                // 10028: f4                       hlt
                hex("0f 20 e0 48 0d 00 00 00 01 0f 22 e0 b9 e1 06 00 00 31 d2 b8 40 00 00 00 0f 30 8b 34 25 00 00 40 00 "
                        + "8b 3c 25 00 00 20 00 f4 "));
        assertThat(rig.cpu.readMsr(Msr.IA32_PKRS)).isEqualTo(0x40);
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(0x4040);
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.stack(0)).as("present, read, supervisor, PK").isEqualTo(0x21);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x21);
    }
    @Test
    void pkrsAccessDisableWrittenAfterAPageWasReadTakesEffectAtOnce() {
        // The first read caches the page with the rights of PKRS 0; WRMSR must drop that entry.
        CpuRig rig = new CpuRig().longMode();
        rig.bus.leaf7Ecx |= PKS;
        rig.w64(0x3000, 0x83);
        rig.w64(0x3008, (1L << 21) | 0x83 | (3L << 59));
        rig.memory.write32(0x200000, 0x3333);
        rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 00 01        or     $0x1000000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: 8b 1c 25 00 00 20 00     mov    0x200000,%ebx
                // 10013: b9 e1 06 00 00           mov    $0x6e1,%ecx
                // 10018: 31 d2                    xor    %edx,%edx
                // 1001a: b8 40 00 00 00           mov    $0x40,%eax
                // 1001f: 0f 30                    wrmsr
                // 10021: 8b 3c 25 00 00 20 00     mov    0x200000,%edi
                // 10028: f4                       hlt
                hex("0f 20 e0 48 0d 00 00 00 01 0f 22 e0 8b 1c 25 00 00 20 00 b9 e1 06 00 00 31 d2 b8 40 00 00 00 0f 30 "
                        + "8b 3c 25 00 00 20 00 f4 "));
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0x3333);
        assertThat(rig.reg(Cpu.RDI)).isZero();
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.stack(0)).as("present, read, supervisor, PK").isEqualTo(0x21);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x21);
    }
}

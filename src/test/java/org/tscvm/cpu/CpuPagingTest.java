package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Memory protection: 32-bit (4 MiB pages) and PAE paging with CR0.WP, SMAP/SMEP, segment limits and #NP. */
class CpuPagingTest {
    /** Protected-mode machine: flat GDT (08 code, 10 data), IDT at 0x4000 with #PF -> 0x8e00 (hlt). */
    private static CpuRig protectedRig() {
        CpuRig rig = new CpuRig();
        rig.w64(0x508, 0x00cf9a000000ffffL);
        rig.w64(0x510, 0x00cf92000000ffffL);
        rig.memory.write16(0x600, 0x17);
        rig.memory.write32(0x602, 0x500);
        rig.memory.write16(0x610, 0x7ff);
        rig.memory.write32(0x612, 0x4000);
        rig.w64(0x4000 + 14 * 8, 0x8e00 | (0x08L << 16) | (0x8eL << 40));
        rig.memory.write8(0x8e00, 0xf4);
        rig.memory.write32(0x300000, 0xcafe);
        return rig;
    }

    @Test
    void thirtyTwoBitPagingWithA4MiBPageAnd4KiBPagesHonoursWriteProtect() {
        CpuRig rig = protectedRig();
        rig.memory.write32(0x40000, 0x87);                 // PDE[0]: 4 MiB page at 0
        rig.memory.write32(0x40004, 0x41000 | 7);          // PDE[1] -> page table
        rig.memory.write32(0x41000, 0x300000 | 7);         // 0x400000 -> 0x300000
        rig.memory.write32(0x41004, 0x301000 | 1);         // 0x401000: read-only, supervisor
        rig.load(0x20000,
                // 20000: 0f 01 15 00 06 00 00     lgdtl 0x600
                // 20007: 0f 01 1d 10 06 00 00     lidtl 0x610
                // 2000e: bc 00 00 08 00           mov $0x80000,%esp
                // 20013: 0f 20 e0                 mov %cr4,%eax
                // 20016: 83 c8 10                 or $0x10,%eax
                // 20019: 0f 22 e0                 mov %eax,%cr4
                // 2001c: b8 00 00 04 00           mov $0x40000,%eax
                // 20021: 0f 22 d8                 mov %eax,%cr3
                // 20024: 0f 20 c0                 mov %cr0,%eax
                // 20027: 0d 00 00 01 80           or $0x80010000,%eax
                // 2002c: 0f 22 c0                 mov %eax,%cr0
                // 2002f: 8b 1d 00 00 40 00        mov 0x400000,%ebx
                // 20035: c7 05 00 10 40 00 99     movl $0x99,0x401000
                //         00 00 00
                hex("0f 01 15 00 06 00 00 0f 01 1d 10 06 00 00 bc 00 00 08 00 0f 20 e0 83 c8 10 0f 22 e0 b8 00 00 04 "
                        + "00 0f 22 d8 0f 20 c0 0d 00 00 01 80 0f 22 c0 8b 1d 00 00 40 00 c7 05 00 10 40 00 99 00 00 00 "));
        rig.cpu.enterFlatProtectedMode(0x20000);
        assertThat(rig.cpu.run(1000)).as(rig.cpu.describe()).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.getRip()).isEqualTo(0x8e01);
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0xcafe);
        assertThat(rig.cpu.getCr(2)).isEqualTo(0x401000);
        long esp = rig.reg(Cpu.RSP);
        assertThat(rig.memory.read32(esp)).as("present + write").isEqualTo(3);
        assertThat(rig.memory.read32(esp + 8)).as("CS").isEqualTo(0x08);
        assertThat(rig.memory.read32(0x40000) & 0x20).as("PDE accessed").isEqualTo(0x20);
        assertThat(rig.memory.read32(0x41000) & 0x60).as("PTE accessed, clean").isEqualTo(0x20);
    }

    @Test
    void paePagingWalksThePdptAndMaps2MiBAnd4KiBPages() {
        CpuRig rig = protectedRig();
        rig.w64(0x42000, 0x43000 | 1);                     // PDPTE[0]
        rig.w64(0x43000, 0x83);                            // PDE[0]: 2 MiB page at 0
        rig.w64(0x43008, 0x44000 | 7);                     // PDE[1] -> page table
        rig.w64(0x44000, 0x300000 | 7);                    // 0x200000 -> 0x300000
        rig.load(0x20000,
                // 20000: 0f 01 15 00 06 00 00     lgdtl 0x600
                // 20007: 0f 01 1d 10 06 00 00     lidtl 0x610
                // 2000e: bc 00 00 08 00           mov $0x80000,%esp
                // 20013: 0f 20 e0                 mov %cr4,%eax
                // 20016: 83 c8 20                 or $0x20,%eax
                // 20019: 0f 22 e0                 mov %eax,%cr4
                // 2001c: b8 00 20 04 00           mov $0x42000,%eax
                // 20021: 0f 22 d8                 mov %eax,%cr3
                // 20024: 0f 20 c0                 mov %cr0,%eax
                // 20027: 0d 00 00 00 80           or $0x80000000,%eax
                // 2002c: 0f 22 c0                 mov %eax,%cr0
                // 2002f: 8b 1d 00 00 20 00        mov 0x200000,%ebx
                // 20035: c7 05 04 00 20 00 77     movl $0x77,0x200004
                //         00 00 00
                // 2003f: 8b 0d 00 f0 3f 00        mov 0x3ff000,%ecx
                // 20045: f4                       hlt
                hex("0f 01 15 00 06 00 00 0f 01 1d 10 06 00 00 bc 00 00 08 00 0f 20 e0 83 c8 20 0f 22 e0 b8 00 20 04 "
                        + "00 0f 22 d8 0f 20 c0 0d 00 00 00 80 0f 22 c0 8b 1d 00 00 20 00 c7 05 04 00 20 00 77 00 00 00 8b "
                        + "0d 00 f0 3f 00 f4 "));
        rig.cpu.enterFlatProtectedMode(0x20000);
        assertThat(rig.cpu.run(1000)).as(rig.cpu.describe()).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.getRip()).as("the #PF handler").isEqualTo(0x8e01);
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0xcafe);
        assertThat(rig.memory.read32(0x300004)).isEqualTo(0x77);
        assertThat(rig.cpu.getCr(2)).isEqualTo(0x3ff000);
        assertThat(rig.r64(0x44000) & 0x60).as("accessed and dirty").isEqualTo(0x60);
    }
    /** Enters PAE paging with CR3 = 0x42000 (as the test above), then runs {@code more} and HLT. */
    private static final String ENTER_PAE = "0f 01 15 00 06 00 00 0f 01 1d 10 06 00 00 bc 00 00 08 00 0f 20 e0 83 c8 20 "
            + "0f 22 e0 b8 00 20 04 00 0f 22 d8 0f 20 c0 0d 00 00 00 80 0f 22 c0 ";

    @Test
    void paePagingUsesThePdpteRegistersUntilCr3IsLoadedAgain() {
        // SDM 4.4.1: the four PDPTEs are loaded into registers by MOV to CR3 (and CR0/CR4);
        // a later change to the PDPT in memory is not seen, not even after INVLPG, until then.
        CpuRig rig = protectedRig();
        rig.w64(0x42000, 0x43000 | 1);
        rig.w64(0x43000, 0x83);                            // 0..2 MiB identity
        rig.w64(0x43008, 0x44000 | 7);
        rig.w64(0x44000, 0x300000 | 7);                    // 0x200000 -> 0x300000 (0xcafe)
        rig.w64(0x45000, 0x83);
        rig.w64(0x45008, 0x46000 | 7);
        rig.w64(0x46000, 0x310000 | 7);                    // 0x200000 -> 0x310000 (0xbeef)
        rig.memory.write32(0x310000, 0xbeef);
        rig.load(0x20000, hex(ENTER_PAE
                + "c7 05 00 20 04 00 01 50 04 00 "   // movl $0x45001,0x42000: PDPTE[0] -> 0x45000, in memory
                + "0f 01 3d 00 00 20 00 "            // invlpg 0x200000
                + "8b 1d 00 00 20 00 "               // mov 0x200000,%ebx: the PDPTE register still says 0x43000
                + "0f 20 d8 0f 22 d8 "               // mov %cr3,%eax; mov %eax,%cr3: load the registers again
                + "8b 0d 00 00 20 00 f4"));          // mov 0x200000,%ecx; hlt
        rig.cpu.enterFlatProtectedMode(0x20000);
        assertThat(rig.cpu.run(1000)).as(rig.cpu.describe()).isEqualTo(RunStop.HALTED);
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0xcafe);
        assertThat(rig.reg(Cpu.RCX)).isEqualTo(0xbeef);
    }

    @Test
    void aPdpteWithAReservedBitMakesMovToCr3GpAndLeavesCr3() {
        CpuRig rig = protectedRig();
        rig.w64(0x4000 + 13 * 8, 0x8d00 | (0x08L << 16) | (0x8eL << 40));
        rig.memory.write8(0x8d00, 0xf4);
        rig.w64(0x42000, 0x43000 | 1);
        rig.w64(0x43000, 0x83);
        rig.w64(0x47000, 0x43000 | 1);
        rig.w64(0x47008, 0x48000 | 3);                     // bit 1 (R/W) is reserved in a PDPTE
        rig.load(0x20000, hex(ENTER_PAE + "b8 00 70 04 00 0f 22 d8 f4")); // mov $0x47000,%eax; mov %eax,%cr3
        rig.cpu.enterFlatProtectedMode(0x20000);
        assertThat(rig.cpu.run(1000)).as(rig.cpu.describe()).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.getRip()).as("the #GP handler").isEqualTo(0x8d01);
        assertThat(rig.cpu.getCr(3)).isEqualTo(0x42000);
    }

    /** protectedRig with a #GP handler (HLT at 0x8d00) and a PDPT at 0x47000 whose PDPTE[1] is {@code pdpte1}. */
    private static CpuRig rigWithPdpte1(long pdpte1) {
        CpuRig rig = protectedRig();
        rig.w64(0x4000 + 13 * 8, 0x8d00 | (0x08L << 16) | (0x8eL << 40));
        rig.memory.write8(0x8d00, 0xf4);
        rig.w64(0x42000, 0x43000 | 1);
        rig.w64(0x43000, 0x83);
        rig.w64(0x47000, 0x43000 | 1);
        rig.w64(0x47008, pdpte1);
        return rig;
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 5, 6, 7, 8, 36, 51, 52, 55, 62, 63})
    void everyReservedBitOfAPresentPdpteMakesMovToCr3Gp(int bit) {
        // SDM table 4-8: in a PAE PDPTE bits 2:1, 8:5 and 63:MAXPHYADDR are reserved (MAXPHYADDR
        // 36 here: the rig's CPUID has no leaf 0x80000008).
        CpuRig rig = rigWithPdpte1(0x48000 | 1 | (1L << bit));
        rig.load(0x20000, hex(ENTER_PAE + "b8 00 70 04 00 0f 22 d8 f4")); // mov $0x47000,%eax; mov %eax,%cr3
        rig.cpu.enterFlatProtectedMode(0x20000);
        assertThat(rig.cpu.run(1000)).as(rig.cpu.describe()).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.getRip()).as("the #GP handler").isEqualTo(0x8d01);
        assertThat(rig.cpu.getCr(3)).isEqualTo(0x42000);
    }

    @Test
    void aNotPresentPdpteMayHoldAnything() {
        CpuRig rig = rigWithPdpte1(-2L);
        rig.load(0x20000, hex(ENTER_PAE + "b8 00 70 04 00 0f 22 d8 f4"));
        rig.cpu.enterFlatProtectedMode(0x20000);
        assertThat(rig.cpu.run(1000)).as(rig.cpu.describe()).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.getRip()).as("the HLT after the MOV").isEqualTo(0x20000 + ENTER_PAE.length() / 3 + 9);
        assertThat(rig.cpu.getCr(3)).isEqualTo(0x47000);
    }

    @Test
    void enablingPaePagingWithABadPdpteMakesMovToCr0GpAndLeavesPagingOff() {
        CpuRig rig = rigWithPdpte1(0x48000 | 1 | (1L << 7));
        // ENTER_PAE with CR3 = 0x47000: the MOV to CR0 that sets PG loads the bad PDPTE
        rig.load(0x20000, hex(ENTER_PAE.replace("b8 00 20 04 00", "b8 00 70 04 00") + "f4"));
        rig.cpu.enterFlatProtectedMode(0x20000);
        assertThat(rig.cpu.run(1000)).as(rig.cpu.describe()).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.getRip()).as("the #GP handler").isEqualTo(0x8d01);
        assertThat(rig.cpu.getCr(0) & 0x80000000L).as("CR0.PG").isZero();
    }

    @Test
    void movToCr4ChangingPgeLoadsThePdptesAgainAndMovToCr0ChangingTsDoesNot() {
        // SDM 4.4.1: MOV to CR0 loads them only when it changes PG, CD or NW; MOV to CR4 when it
        // changes PAE, PGE, PSE or SMEP.
        CpuRig rig = protectedRig();
        rig.w64(0x42000, 0x43000 | 1);
        rig.w64(0x43000, 0x83);
        rig.w64(0x43008, 0x44000 | 7);
        rig.w64(0x44000, 0x300000 | 7);                    // 0x200000 -> 0x300000 (0xcafe)
        rig.w64(0x45000, 0x83);
        rig.w64(0x45008, 0x46000 | 7);
        rig.w64(0x46000, 0x310000 | 7);                    // 0x200000 -> 0x310000 (0xbeef)
        rig.memory.write32(0x310000, 0xbeef);
        rig.load(0x20000, hex(ENTER_PAE
                + "c7 05 00 20 04 00 01 50 04 00 "   // movl $0x45001,0x42000: PDPTE[0] -> 0x45000, in memory
                + "0f 20 c0 83 c8 08 0f 22 c0 "      // mov %cr0,%eax; or $8,%eax; mov %eax,%cr0 (TS)
                + "0f 01 3d 00 00 20 00 "            // invlpg 0x200000
                + "8b 1d 00 00 20 00 "               // mov 0x200000,%ebx: still 0x43000
                + "0f 20 e0 0d 80 00 00 00 0f 22 e0 " // mov %cr4,%eax; or $0x80,%eax; mov %eax,%cr4 (PGE)
                + "8b 0d 00 00 20 00 f4"));          // mov 0x200000,%ecx; hlt
        rig.cpu.enterFlatProtectedMode(0x20000);
        assertThat(rig.cpu.run(1000)).as(rig.cpu.describe()).isEqualTo(RunStop.HALTED);
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0xcafe);
        assertThat(rig.reg(Cpu.RCX)).isEqualTo(0xbeef);
    }

    @Test
    void smapBlocksSupervisorDataAccessToUserPagesUnlessAcAndSmepBlocksExecution() {
        CpuRig rig = new CpuRig().longMode();
        rig.w64(0x3000, 0x83);                             // first 2 MiB: supervisor only
        rig.memory.write32(0x200000, 0x5151);              // 2..4 MiB stay user pages
        rig.run(
                // 10000: 0f 20 e0                 mov %cr4,%rax
                // 10003: 48 0d 00 00 30 00        or $0x300000,%rax
                // 10009: 0f 22 e0                 mov %rax,%cr4
                // 1000c: 0f 01 cb                 stac
                // 1000f: 8b 1c 25 00 00 20 00     mov 0x200000,%ebx
                // 10016: 0f 01 ca                 clac
                // 10019: 8b 0c 25 00 00 20 00     mov 0x200000,%ecx
                hex("0f 20 e0 48 0d 00 00 30 00 0f 22 e0 0f 01 cb 8b 1c 25 00 00 20 00 0f 01 ca 8b 0c 25 00 00 20 00 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0x5151);
        assertThat(rig.reg(Cpu.RCX)).isZero();
        assertThat(rig.stack(0)).as("present, read, supervisor").isEqualTo(1);

        CpuRig smep = new CpuRig().longMode();
        smep.w64(0x3000, 0x83);
        smep.run(
                // 10000: 0f 20 e0                 mov %cr4,%rax
                // 10003: 48 0d 00 00 10 00        or $0x100000,%rax
                // 10009: 0f 22 e0                 mov %rax,%cr4
                // 1000c: b8 00 00 20 00           mov $0x200000,%eax
                // 10011: ff e0                    jmp *%rax
                hex("0f 20 e0 48 0d 00 00 10 00 0f 22 e0 b8 00 00 20 00 ff e0 "));
        assertThat(smep.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(smep.stack(0)).as("present, instruction fetch, supervisor").isEqualTo(0x11);
        assertThat(smep.cpu.getCr(2)).isEqualTo(0x200000);
    }
    @Test
    void protectedModeSegmentLimitsAndNotPresentSegmentsFault() {
        CpuRig rig = protectedRig();
        rig.w64(0x518, 0x00409203_00000fffL);              // 18: data, base 0x30000, limit 0xfff
        rig.w64(0x520, 0x00cf12000000ffffL);              // 20: data, not present
        rig.memory.write16(0x600, 0x27);
        rig.w64(0x4000 + 13 * 8, 0x8d00 | (0x08L << 16) | (0x8eL << 40));
        rig.w64(0x4000 + 11 * 8, 0x8b00 | (0x08L << 16) | (0x8eL << 40));
        rig.memory.write8(0x8d00, 0xf4);
        rig.memory.write8(0x8b00, 0xf4);
        rig.memory.write32(0x30ffc, 0x1234);
        rig.load(0x20000,
                // 20000: 0f 01 15 00 06 00 00     lgdtl 0x600
                // 20007: 0f 01 1d 10 06 00 00     lidtl 0x610
                // 2000e: bc 00 00 08 00           mov $0x80000,%esp
                // 20013: 66 b8 18 00              mov $0x18,%ax
                // 20017: 8e c0                    mov %eax,%es
                // 20019: 26 a1 fc 0f 00 00        mov %es:0xffc,%eax
                // 2001f: 26 8b 1d fd 0f 00 00     mov %es:0xffd,%ebx
                hex("0f 01 15 00 06 00 00 0f 01 1d 10 06 00 00 bc 00 00 08 00 66 b8 18 00 8e c0 26 a1 fc 0f 00 00 26 "
                        + "8b 1d fd 0f 00 00 "));
        rig.cpu.enterFlatProtectedMode(0x20000);
        assertThat(rig.cpu.run(1000)).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.getRip()).as("#GP handler").isEqualTo(0x8d01);
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(0x1234);
        assertThat(rig.memory.read32(rig.reg(Cpu.RSP))).as("error code").isZero();

        rig.load(0x20000,
                // 20000: bc 00 00 08 00           mov $0x80000,%esp
                // 20005: 66 b8 20 00              mov $0x20,%ax
                // 20009: 8e d8                    mov %eax,%ds
                hex("bc 00 00 08 00 66 b8 20 00 8e d8 "));
        rig.cpu.setRip(0x20000);
        assertThat(rig.cpu.run(1000)).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.getRip()).as("#NP handler").isEqualTo(0x8b01);
        assertThat(rig.memory.read32(rig.reg(Cpu.RSP))).as("error code: the selector").isEqualTo(0x20);
    }
}

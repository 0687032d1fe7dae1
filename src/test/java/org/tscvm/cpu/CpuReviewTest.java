package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.CODE;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Paths the differential test cannot reach (faults part-way through an instruction, far
 * transfers, privilege checks, legacy modes), each pinned by a snippet after a review of the
 * interpreter against the SDM. Snippets are hand-assembled as in {@link CpuTest}.
 */
class CpuReviewTest {
    static final long CF = 1;

    @Test
    void anAdcWhoseStoreFaultsLeavesTheCarryItWillRestartWith() {
        // SDM 6.5: a fault is reported before the instruction changes state, so the #PF frame
        // holds the flags from before the ADC and its restart adds the same carry.
        CpuRig rig = new CpuRig().longMode();
        rig.w64(0x3000 + 8 * 8, (8L << 21) | 0x85); // 16 MiB: read-only
        rig.run(
                // 10000: 0f 20 c0              mov    %cr0,%rax
                // 10003: 0d 00 00 01 00        or     $0x10000,%eax
                // 10008: 0f 22 c0              mov    %rax,%cr0
                // 1000b: bb 00 00 00 01        mov    $0x1000000,%ebx
                // 10010: 31 c0                 xor    %eax,%eax
                // 10012: f9                    stc
                // 10013: 11 03                 adc    %eax,(%rbx)
                // 10015: f4                    hlt
                hex("0f 20 c0 0d 00 00 01 00 0f 22 c0 bb 00 00 00 01 31 c0 f9 11 03 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.stack(0)).as("present, write").isEqualTo(3);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x13);
        assertThat(rig.stack(3) & CF).as("CF in the pushed RFLAGS").isEqualTo(CF);
    }

    /**
     * A 64-bit rig that runs {@code code32} at CODE + 0xc in compatibility mode (CS 0x40), with
     * 2..4 MiB not present and #PF on the IST1 stack, so a fault on the stack can be delivered.
     */
    private static CpuRig compatibilityModeWithAHoleAt2MiB(byte[] code32) {
        CpuRig rig = new CpuRig().longMode();
        rig.w64(0x3000 + 8, 0);
        rig.setGate(CpuFault.PF, CpuRig.HANDLERS + 14 * 16, 0xe, 0, 1);
        rig.load(CODE + 0xc, code32);
        return rig.run(
                // 10000: 6a 40                 push   $0x40
                // 10002: 48 8d 05 03 00 00 00  lea    0x3(%rip),%rax        # 0x1000c
                // 10009: 50                    push   %rax
                // 1000a: 48 cb                 lretq
                hex("6a 40 48 8d 05 03 00 00 00 50 48 cb "));
    }

    @Test
    void aPushaThatFaultsHalfWayLeavesEspAsItWas() {
        // SDM 6.5: the #PF frame must let PUSHA restart, so ESP is the value before it.
        CpuRig rig = compatibilityModeWithAHoleAt2MiB(
                // 1000c: bc 10 00 40 00        mov    $0x400010,%esp
                // 10011: 60                    pusha
                // 10012: f4                    hlt
                hex("bc 10 00 40 00 60 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.cpu.getCr(2)).isEqualTo(0x3ffffc);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x11);
        assertThat(rig.stack(4)).as("pushed RSP").isEqualTo(0x400010);
    }

    @Test
    void aPopaThatFaultsHalfWayChangesNoRegister() {
        CpuRig rig = compatibilityModeWithAHoleAt2MiB(
                // 1000c: bc f0 ff 1f 00        mov    $0x1ffff0,%esp
                // 10011: bf 11 00 00 00        mov    $0x11,%edi
                // 10016: be 22 00 00 00        mov    $0x22,%esi
                // 1001b: bd 33 00 00 00        mov    $0x33,%ebp
                // 10020: 61                    popa
                // 10021: f4                    hlt
                hex("bc f0 ff 1f 00 bf 11 00 00 00 be 22 00 00 00 bd 33 00 00 00 61 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.cpu.getCr(2)).isEqualTo(0x200000);
        assertThat(rig.stack(4)).as("pushed RSP").isEqualTo(0x1ffff0);
        assertThat(rig.reg(Cpu.RDI)).isEqualTo(0x11);
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(0x22);
        assertThat(rig.reg(Cpu.RBP)).isEqualTo(0x33);
    }

    @Test
    void aFarCallWhoseSecondPushFaultsLeavesEspAsItWas() {
        CpuRig rig = compatibilityModeWithAHoleAt2MiB(
                // 1000c: bc 04 00 40 00        mov    $0x400004,%esp
                // 10011: 9a 20 00 01 00 40 00  lcall  $0x40,$0x10020
                // 10018: f4                    hlt
                hex("bc 04 00 40 00 9a 20 00 01 00 40 00 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.cpu.getCr(2)).isEqualTo(0x3ffffc);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x11);
        assertThat(rig.stack(4)).as("pushed RSP").isEqualTo(0x400004);
    }

    @Test
    void aFarReturnToRing3WithABadStackSelectorFaultsBeforeItLeavesRing0() {
        // SDM RET: the SS checks of a return to an outer level come before CS is loaded, so
        // the #GP is raised at CPL 0 on the ring-0 stack with the RETF's address.
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 6a 20                 push   $0x20
                // 10002: 54                    push   %rsp
                // 10003: 6a 2b                 push   $0x2b
                // 10005: 48 8d 05 02 00 00 00  lea    0x2(%rip),%rax        # 0x1000e
                // 1000c: 50                    push   %rax
                // 1000d: 48 cb                 lretq
                // 1000f: f4                    hlt
                hex("6a 20 54 6a 2b 48 8d 05 02 00 00 00 50 48 cb f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(0)).as("error code: SS RPL 0 is not the new CPL").isEqualTo(0x20);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0xd);
        assertThat(rig.stack(2)).as("CS").isEqualTo(0x08);
    }

    @Test
    void aFarReturnToANonCanonicalRipFaultsAtTheReturn() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 6a 08                 push   $0x8
                // 10002: 48 b8 00 00 00 00 00  movabs $0x800000000000,%rax
                // 10009: 80 00 00
                // 1000c: 50                    push   %rax
                // 1000d: 48 cb                 lretq
                hex("6a 08 48 b8 00 00 00 00 00 80 00 00 50 48 cb "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(0)).isZero();
        assertThat(rig.stack(1)).as("RIP of the LRETQ").isEqualTo(CODE + 0xd);
    }

    @Test
    void clacAtCpl3IsUdNotGp() {
        // SDM CLAC/STAC: #UD if CPL > 0. Ring 0 code and stacks sit on a supervisor page so
        // that SMAP lets delivery write them; the ring-3 code runs at 4 MiB.
        CpuRig rig = new CpuRig().longMode();
        rig.w64(0x3000, 0x83);
        rig.load(0x400000,
                // 400000: 0f 01 ca              clac
                hex("0f 01 ca "));
        rig.run(
                // 10000: 0f 20 e0              mov    %cr4,%rax
                // 10003: 0d 00 00 20 00        or     $0x200000,%eax
                // 10008: 0f 22 e0              mov    %rax,%cr4
                // 1000b: 6a 23                 push   $0x23
                // 1000d: 68 00 f0 47 00        push   $0x47f000
                // 10012: 9c                    pushf
                // 10013: 6a 2b                 push   $0x2b
                // 10015: 68 00 00 40 00        push   $0x400000
                // 1001a: 48 cf                 iretq
                hex("0f 20 e0 0d 00 00 20 00 0f 22 e0 6a 23 68 00 f0 47 00 9c 6a 2b 68 00 00 40 00 48 cf "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(rig.stack(0)).isEqualTo(0x400000);
    }

    @Test
    void stacAndClacRunWithCr4SmapClearWhenCpuidReportsSmap() {
        // SDM CLAC/STAC: #UD only if CPL > 0 or CPUID.(EAX=7,ECX=0):EBX.SMAP[bit 20] = 0;
        // kvm-unit-tests' smap calls CLAC before it sets CR4.SMAP.
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 0f 01 cb              stac
                // 10003: 9c                    pushf
                // 10004: 0f 01 ca              clac
                // 10007: 9c                    pushf
                // 10008: f4                    hlt
                hex("0f 01 cb 9c 0f 01 ca 9c f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.stack(1) & (1 << 18)).as("AC after STAC").isNotZero();
        assertThat(rig.stack(0) & (1 << 18)).as("AC after CLAC").isZero();
    }

    @Test
    void clacWithoutCpuidSmapIsUd() {
        CpuRig rig = new CpuRig().longMode();
        rig.bus.leaf7Ebx = 0;
        rig.run(
                // 10000: 0f 01 ca              clac
                hex("0f 01 ca "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(rig.stack(0)).isEqualTo(CODE);
    }

    @Test
    void sysexitToANonCanonicalRipFaultsInRing0() {
        // SDM SYSEXIT: with REX.W, a non-canonical RCX or RDX is #GP(0) before the switch.
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: b9 74 01 00 00        mov    $0x174,%ecx
                // 10005: b8 08 00 00 00        mov    $0x8,%eax
                // 1000a: 31 d2                 xor    %edx,%edx
                // 1000c: 0f 30                 wrmsr
                // 1000e: 48 ba 00 00 00 00 00  movabs $0x800000000000,%rdx
                // 10015: 80 00 00
                // 10018: 48 89 e1              mov    %rsp,%rcx
                // 1001b: 48 0f 35              sysexitq
                hex("b9 74 01 00 00 b8 08 00 00 00 31 d2 0f 30 48 ba 00 00 00 00 00 80 00 00 48 89 e1 48 0f 35 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x1b);
        assertThat(rig.stack(2)).as("CS").isEqualTo(0x08);
    }

    @Test
    void strAndSldtToA32BitRegisterZeroExtend() {
        // SDM STR/SLDT: a 32-bit register destination gets the selector zero-extended.
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 48 c7 c0 ff ff ff ff  mov    $0xffffffffffffffff,%rax
                // 10007: 0f 00 c8              str    %eax
                // 1000a: 48 c7 c3 ff ff ff ff  mov    $0xffffffffffffffff,%rbx
                // 10011: 0f 00 c3              sldt   %ebx
                // 10014: f4                    hlt
                hex("48 c7 c0 ff ff ff ff 0f 00 c8 48 c7 c3 ff ff ff ff 0f 00 c3 f4 "));
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(0x30);
        assertThat(rig.reg(Cpu.RBX)).isZero();
    }

    @Test
    void larRefusesAnInterruptGateInProtectedMode() {
        // SDM LAR table 3-52: interrupt and trap gates are not valid types (call gates are).
        CpuRig rig = new CpuRig();
        rig.w64(0x508, 0x00cf9a000000ffffL);
        rig.w64(0x510, 0x00cf92000000ffffL);
        rig.w64(0x518, 0x00008e0000089000L); // 32-bit interrupt gate, DPL 0
        rig.memory.write16(0x600, 0x1f);
        rig.memory.write32(0x602, 0x500);
        rig.load(0x20000,
                // 20000: 0f 01 15 00 06 00 00  lgdtl  0x600
                // 20007: b8 18 00 00 00        mov    $0x18,%eax
                // 2000c: bb 78 56 34 12        mov    $0x12345678,%ebx
                // 20011: 0f 02 d8              lar    %eax,%ebx
                // 20014: 0f 94 c1              sete   %cl
                // 20017: ba 10 00 00 00        mov    $0x10,%edx
                // 2001c: 0f 02 f2              lar    %edx,%esi
                // 2001f: 0f 94 c5              sete   %ch
                // 20022: f4                    hlt
                hex("0f 01 15 00 06 00 00 b8 18 00 00 00 bb 78 56 34 12 0f 02 d8 0f 94 c1 ba 10 00 00 00 0f 02 f2 "
                        + "0f 94 c5 f4 "));
        rig.cpu.enterFlatProtectedMode(0x20000);
        assertThat(rig.cpu.run(100)).isEqualTo(RunStop.HALTED);
        assertThat(rig.reg(Cpu.RCX) & 0xffff).as("gate refused, data segment accepted").isEqualTo(0x0100);
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0x12345678);
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(0x00cf9200L);
    }

    @Test
    void larInRealModeIsUd() {
        // SDM LAR/LSL: "#UD: The LAR instruction is not recognized in real-address mode."
        CpuRig rig = new CpuRig();
        rig.memory.write32(CpuFault.UD * 4, 0x0200_0000); // IVT[6] = 0200:0000, a hlt
        rig.memory.write8(0x2000, 0xf4);
        rig.load(0x1000,
                // 0: 0f 02 d8              lar    %ax,%bx
                // 3: f4                    hlt
                hex("0f 02 d8 f4 "));
        rig.cpu.init();
        rig.cpu.startup(0x01);
        assertThat(rig.cpu.run(100)).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.saveState().segSelectors()[1]).as("CS of the #UD handler").isEqualTo(0x200);
    }

    @Test
    void settingCr0PeWithARealModeCsWhoseLowBitsAreSetLeavesCplAtZero() {
        // The CPL is not CS's RPL until a far transfer loads CS: right after MOV CR0 sets PE,
        // real mode's CPL 0 holds (SDM 9.9.1), so loading SS with an RPL-0 selector works even
        // when the real-mode CS value was 0x0103.
        CpuRig rig = protectedRig();
        rig.load(0x1000, hex("ea 05 00 03 01 ")); // ljmp $0x0103,$0x0005 (base 0x1030)
        rig.load(0x1035,
                // 0f 01 16 00 06   lgdtw 0x600
                // 0f 20 c0         mov %cr0,%eax
                // 0c 01            or $1,%al
                // 0f 22 c0         mov %eax,%cr0
                // b8 10 00         mov $0x10,%ax
                // 8e d0            mov %ax,%ss
                // f4               hlt
                hex("0f 01 16 00 06 0f 20 c0 0c 01 0f 22 c0 b8 10 00 8e d0 f4 "));
        rig.cpu.init();
        rig.cpu.startup(0x01);
        assertThat(rig.cpu.run(100)).as(rig.cpu.describe()).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.getRip()).as("the HLT after the SS load").isEqualTo(0x1035 - 0x1030 + 19);
        assertThat(rig.cpu.saveState().segSelectors()[2]).as("SS").isEqualTo(0x10);
    }

    @Test
    void aStateSavedBetweenSettingCr0PeAndTheFarJumpRestoresAtCplZero() {
        // The window of the test above, saved and restored on a fresh CPU: CS still holds the
        // real-mode 0x0103, and the CPL must still be 0 (KVM's state has it as SS.DPL).
        CpuRig rig = protectedRig();
        rig.load(0x1000, hex("ea 05 00 03 01 ")); // ljmp $0x0103,$0x0005 (base 0x1030)
        // lgdtw 0x600; mov %cr0,%eax; or $1,%al; mov %eax,%cr0; mov $0x10,%ax; mov %ax,%ss; hlt
        rig.load(0x1035, hex("0f 01 16 00 06 0f 20 c0 0c 01 0f 22 c0 b8 10 00 8e d0 f4 "));
        rig.cpu.init();
        rig.cpu.startup(0x01);
        assertThat(rig.cpu.run(5)).isEqualTo(RunStop.BUDGET_EXHAUSTED); // ljmp .. mov %eax,%cr0
        assertThat(rig.cpu.getCr(0) & 1).isEqualTo(1);
        Cpu.State window = rig.cpu.saveState();
        CpuRig copy = new CpuRig(rig.memory);
        copy.cpu.restoreState(window);
        assertThat(copy.cpu.run(100)).as(copy.cpu.describe()).isEqualTo(RunStop.HALTED);
        assertThat(copy.cpu.getRip()).as("the HLT after the SS load").isEqualTo(0x1035 - 0x1030 + 19);
        assertThat(copy.cpu.saveState().segSelectors()[2]).as("SS").isEqualTo(0x10);
    }

    @Test
    void anIstSlotBeyondTheTssLimitIsTsWithTheTrSelector() {
        // SDM 6.14.5: the stack pointer read from the TSS for an interrupt must lie within TR's
        // limit, else #TS(TSS selector). TR is reloaded with a limit of 0x2b: RSP0-2 and IST1 fit,
        // IST2 (0x2c-0x33) does not.
        CpuRig rig = new CpuRig().longMode();
        rig.w64(CpuRig.GDT + 0x30, 0x2b | ((CpuRig.TSS & 0xffffff) << 16) | (0x89L << 40));
        rig.setGate(0x31, CpuRig.HANDLERS + 0x31 * 16, 0xe, 0, 2);
        rig.setGate(0x32, CpuRig.HANDLERS + 0x32 * 16, 0xe, 0, 1);
        byte[] ltr = hex("66 b8 30 00 0f 00 d8 "); // mov $0x30,%ax; ltr %ax
        rig.run(concat(ltr, hex("cd 32 f4"))); // int $0x32 (IST1): within the limit
        assertThat(rig.haltedInVector()).isEqualTo(0x32);
        assertThat(rig.reg(Cpu.RSP)).isEqualTo(CpuRig.IST1 - 40);

        rig = new CpuRig().longMode();
        rig.w64(CpuRig.GDT + 0x30, 0x2b | ((CpuRig.TSS & 0xffffff) << 16) | (0x89L << 40));
        rig.setGate(0x31, CpuRig.HANDLERS + 0x31 * 16, 0xe, 0, 2);
        rig.run(concat(ltr, hex("cd 31 f4"))); // int $0x31 (IST2): beyond it
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.TS);
        assertThat(rig.stack(0)).as("error code: the TSS selector, EXT clear (INT n)").isEqualTo(0x30);
    }

    @ParameterizedTest
    @CsvSource({"0x13, false", "0x12, true"})
    void rsp1BeyondTheTssLimitIsTsOnAnInterruptFromRing3ToRing1(int trLimit, boolean ts) {
        // SDM 6.14.5 (64-bit IDT gate, IST 0): RSPn at 4 + 8n must end within TR's limit, else
        // #TS(TSS selector). Ring 1 so that the #TS itself, to ring 0, finds RSP0 within the limit.
        CpuRig rig = new CpuRig().longMode();
        rig.w64(CpuRig.GDT + 0x48, 0x00afba000000ffffL); // 48: code64 DPL1
        rig.cpu.setGdtr(CpuRig.GDT, 0x4f);
        rig.w64(CpuRig.GDT + 0x30, trLimit | ((CpuRig.TSS & 0xffffff) << 16) | (0x89L << 40));
        rig.w64(CpuRig.TSS + 0xc, 0x98000); // RSP1
        rig.w64(CpuRig.IDT + 0x80 * 16, CpuRig.gate64(CpuRig.HANDLERS + 0x80 * 16, 0x48, 0xe, 3, 0));
        rig.run(
                // 10000: 66 b8 30 00 0f 00 d8  mov $0x30,%ax; ltr %ax
                // 10007: 48 89 e0              mov %rsp,%rax
                // 1000a: 6a 23 50 9c 6a 2b     push $0x23; push %rax; pushfq; push $0x2b
                // 10010: 68 17 00 01 00        push $0x10017
                // 10015: 48 cf                 iretq
                // 10017: cd 80                 int $0x80 (ring 3)
                hex("66 b8 30 00 0f 00 d8 48 89 e0 6a 23 50 9c 6a 2b 68 17 00 01 00 48 cf cd 80 f4"));
        if (ts) {
            assertThat(rig.haltedInVector()).isEqualTo(CpuFault.TS);
            assertThat(rig.stack(0)).as("error code: the TSS selector").isEqualTo(0x30);
            assertThat(rig.stack(1)).as("a fault on the INT").isEqualTo(CODE + 0x17);
            assertThat(rig.stack(2)).as("from ring 3").isEqualTo(0x2b);
        } else {
            // The ring-1 handler's HLT is privileged: #GP, whose frame shows where it ran.
            assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
            assertThat(rig.stack(1)).isEqualTo(CpuRig.HANDLERS + 0x80 * 16);
            assertThat(rig.stack(2)).as("CS, ring 1").isEqualTo(0x49);
            assertThat(rig.stack(4)).as("RSP below RSP1's frame").isEqualTo(0x98000 - 40);
        }
    }

    @ParameterizedTest
    @CsvSource({"0x11, false, false", "0x10, true, false", "0x0e, true, false", "0x11, false, true",
        "0x10, true, true"})
    void ss1Esp1BeyondThe32BitTssLimitIsTsOnAPrivilegeChangeFromRing3ToRing1(int trLimit, boolean ts,
            boolean callGate) {
        // SDM 6.12.1 and CALL (32-bit TSS): ESPn at 4 + 8n and SSn after it, six bytes that must
        // end within TR's limit, else #TS(TSS selector); through an interrupt gate (INT n) or a
        // call gate (far CALL).
        CpuRig rig = new CpuRig();
        // GDT: 08 code32 DPL0, 10 data DPL0, 18 code32 DPL3, 20 data DPL3, 28 TSS32, 30 code32 DPL1,
        // 38 data DPL1, 40 call gate DPL3 to 0x30:0x8800
        rig.w64(0x508, 0x00cf9a000000ffffL);
        rig.w64(0x510, 0x00cf92000000ffffL);
        rig.w64(0x518, 0x00cffa000000ffffL);
        rig.w64(0x520, 0x00cff2000000ffffL);
        rig.w64(0x528, trLimit | (0x5000L << 16) | (0x89L << 40));
        rig.w64(0x530, 0x00cfba000000ffffL);
        rig.w64(0x538, 0x00cfb2000000ffffL);
        rig.w64(0x540, 0x8800 | (0x30L << 16) | (0xecL << 40));
        rig.memory.write16(0x600, 0x47);
        rig.memory.write32(0x602, 0x500);
        rig.memory.write16(0x610, 0x7ff);
        rig.memory.write32(0x612, 0x4000);
        // IDT[0x80]: interrupt gate, DPL 3, to 0x30:0x8800; #TS to 0x08:0x8a00, #GP to 0x08:0x8d00
        rig.w64(0x4000 + 0x80 * 8, 0x8800 | (0x30L << 16) | (0xeeL << 40));
        rig.w64(0x4000 + CpuFault.TS * 8, 0x8a00 | (0x08L << 16) | (0x8eL << 40));
        rig.w64(0x4000 + CpuFault.GP * 8, 0x8d00 | (0x08L << 16) | (0x8eL << 40));
        rig.memory.write8(0x8800, 0xf4);
        rig.memory.write8(0x8a00, 0xf4);
        rig.memory.write8(0x8d00, 0xf4);
        rig.memory.write32(0x5004, 0x90000); // ESP0
        rig.memory.write32(0x5008, 0x10);    // SS0
        rig.memory.write32(0x500c, 0x98000); // ESP1
        rig.memory.write32(0x5010, 0x39);    // SS1
        rig.load(0x20000,
                // 20000: 0f 01 15 00 06 00 00     lgdtl 0x600
                // 20007: 0f 01 1d 10 06 00 00     lidtl 0x610
                // 2000e: 66 b8 28 00 0f 00 d8     mov $0x28,%ax; ltr %ax
                // 20015: 6a 23 68 00 f0 07 00 9c  push $0x23; push $0x7f000; pushf
                // 2001d: 6a 1b 68 25 00 02 00 cf  push $0x1b; push $0x20025; iret
                // 20025: 90 cd 80                 nop; int $0x80 (ring 3)
                // 20025: 90 9a 00 00 00 00 43 00  nop; lcall $0x43,$0 (ring 3)
                hex("0f 01 15 00 06 00 00 0f 01 1d 10 06 00 00 66 b8 28 00 0f 00 d8 6a 23 68 00 f0 07 00 9c 6a 1b 68 "
                        + "25 00 02 00 cf 90 " + (callGate ? "9a 00 00 00 00 43 00" : "cd 80")));
        rig.cpu.enterFlatProtectedMode(0x20000);
        rig.cpu.setGpr(Cpu.RSP, 0x80000);
        assertThat(rig.cpu.run(1000)).as(rig.cpu.describe()).isEqualTo(RunStop.HALTED);
        long esp = rig.reg(Cpu.RSP);
        if (ts) {
            assertThat(rig.cpu.getRip()).as("the #TS handler").isEqualTo(0x8a01);
            assertThat(rig.memory.read32(esp)).as("error code: the TSS selector").isEqualTo(0x28);
            assertThat(rig.memory.read32(esp + 4)).as("a fault on the INT or CALL").isEqualTo(0x20026);
        } else {
            // The ring-1 handler's HLT is privileged: #GP, whose frame shows where it ran.
            assertThat(rig.cpu.getRip()).as("the #GP handler").isEqualTo(0x8d01);
            assertThat(rig.memory.read32(esp + 4)).isEqualTo(0x8800);
            assertThat(rig.memory.read32(esp + 8)).as("CS, ring 1").isEqualTo(0x31);
            assertThat(rig.memory.read32(esp + 16)).as("ESP below ESP1's frame")
                    .isEqualTo(0x98000 - (callGate ? 16 : 20));
            assertThat(rig.memory.read32(esp + 20)).as("SS1").isEqualTo(0x39);
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Test
    void aSameLevelIretThatFaultsOnTheAccessedBitLeavesEspAsItWas() {
        // IRET to CS 0x48, whose descriptor is not yet accessed, in a GDT that CR0.WP makes
        // read-only: the accessed-bit write faults (SDM 3.4.5.1) and the #PF frame must hold
        // the ESP of the IRET, not ESP + 12. #PF runs on IST1 in a writable page.
        CpuRig rig = new CpuRig().longMode();
        rig.w64(CpuRig.GDT + 0x08, 0x00af9b000000ffffL); // accessed: #PF delivery loads it
        rig.w64(CpuRig.GDT + 0x48, 0x00cf9a000000ffffL);
        rig.memory.write16(0x600, 0x4f);
        rig.w64(0x3000, 0x81); // 0..2 MiB: read-only, supervisor
        rig.w64(CpuRig.TSS + 0x24, 0x4a0000);
        rig.setGate(CpuFault.PF, CpuRig.HANDLERS + 14 * 16, 0xe, 0, 1);
        rig.load(CODE + 0x14,
                // 10014: 0f 20 c0              mov    %cr0,%eax
                // 10017: 0d 00 00 01 00        or     $0x10000,%eax
                // 1001c: 0f 22 c0              mov    %eax,%cr0
                // 1001f: bc 00 00 48 00        mov    $0x480000,%esp
                // 10024: 9c                    pushf
                // 10025: 6a 48                 push   $0x48
                // 10027: 68 40 00 01 00        push   $0x10040
                // 1002c: cf                    iret
                hex("0f 20 c0 0d 00 00 01 00 0f 22 c0 bc 00 00 48 00 9c 6a 48 68 40 00 01 00 cf "));
        rig.run(
                // 10000: 0f 01 14 25 00 06 00  lgdt   0x600
                // 10007: 00
                // 10008: 6a 40                 push   $0x40
                // 1000a: 48 8d 05 03 00 00 00  lea    0x3(%rip),%rax        # 0x10014
                // 10011: 50                    push   %rax
                // 10012: 48 cb                 lretq
                hex("0f 01 14 25 00 06 00 00 6a 40 48 8d 05 03 00 00 00 50 48 cb "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.cpu.getCr(2)).isEqualTo(CpuRig.GDT + 0x48 + 5);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x2c);
        assertThat(rig.stack(4)).as("pushed RSP").isEqualTo(0x480000 - 12);
    }

    /** Protected mode, flat GDT (08 code, 10 data), IDT at 0x4000 with #GP at 0x8d00 (a hlt). */
    private static CpuRig protectedRig() {
        CpuRig rig = new CpuRig();
        rig.w64(0x508, 0x00cf9a000000ffffL);
        rig.w64(0x510, 0x00cf92000000ffffL);
        rig.memory.write16(0x600, 0x17);
        rig.memory.write32(0x602, 0x500);
        rig.memory.write16(0x610, 0x7ff);
        rig.memory.write32(0x612, 0x4000);
        rig.w64(0x4000 + 13 * 8, 0x8d00 | (0x08L << 16) | (0x8eL << 40));
        rig.memory.write8(0x8d00, 0xf4);
        return rig;
    }

    @Test
    void aStoreThroughAFlatCodeSegmentRaisesGp() {
        // SDM 5.4.1: a write to a code segment is #GP(0), even when the segment is flat.
        CpuRig rig = protectedRig();
        rig.load(0x20000,
                // 20000: 0f 01 15 00 06 00 00  lgdtl  0x600
                // 20007: 0f 01 1d 10 06 00 00  lidtl  0x610
                // 2000e: bc 00 00 08 00        mov    $0x80000,%esp
                // 20013: 2e c7 05 00 00 03 00  movl   $0x1,%cs:0x30000
                // 2001a: 01 00 00 00
                // 2001e: f4                    hlt
                hex("0f 01 15 00 06 00 00 0f 01 1d 10 06 00 00 bc 00 00 08 00 2e c7 05 00 00 03 00 01 00 00 00 f4 "));
        rig.cpu.enterFlatProtectedMode(0x20000);
        assertThat(rig.cpu.run(100)).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.getRip()).as("#GP handler").isEqualTo(0x8d01);
        assertThat(rig.memory.read32(rig.reg(Cpu.RSP) + 4)).as("EIP").isEqualTo(0x20013);
        assertThat(rig.memory.read32(0x30000)).isZero();
    }

    @Test
    void aFetchFaultUnder32BitPagingHasNoInstructionBitEvenWithEferNxe() {
        // SDM 4.7: the I/D bit needs SMEP, or PAE/4-level paging with EFER.NXE; 32-bit
        // paging has no execute-disable, so with NXE alone the bit stays 0.
        CpuRig rig = protectedRig();
        rig.w64(0x4000 + 14 * 8, 0x8e00 | (0x08L << 16) | (0x8eL << 40));
        rig.memory.write8(0x8e00, 0xf4);
        rig.memory.write32(0x40000, 0x87); // PDE[0]: a 4 MiB page at 0; PDE[1] not present
        rig.load(0x20000,
                // 20000: 0f 01 15 00 06 00 00  lgdtl  0x600
                // 20007: 0f 01 1d 10 06 00 00  lidtl  0x610
                // 2000e: bc 00 00 08 00        mov    $0x80000,%esp
                // 20013: b9 80 00 00 c0        mov    $0xc0000080,%ecx
                // 20018: 0f 32                 rdmsr
                // 2001a: 0d 00 08 00 00        or     $0x800,%eax
                // 2001f: 0f 30                 wrmsr
                // 20021: 0f 20 e0              mov    %cr4,%eax
                // 20024: 83 c8 10              or     $0x10,%eax
                // 20027: 0f 22 e0              mov    %eax,%cr4
                // 2002a: b8 00 00 04 00        mov    $0x40000,%eax
                // 2002f: 0f 22 d8              mov    %eax,%cr3
                // 20032: 0f 20 c0              mov    %cr0,%eax
                // 20035: 0d 00 00 00 80        or     $0x80000000,%eax
                // 2003a: 0f 22 c0              mov    %eax,%cr0
                // 2003d: b8 00 00 40 00        mov    $0x400000,%eax
                // 20042: ff e0                 jmp    *%eax
                hex("0f 01 15 00 06 00 00 0f 01 1d 10 06 00 00 bc 00 00 08 00 b9 80 00 00 c0 0f 32 0d 00 08 00 00 0f "
                        + "30 0f 20 e0 83 c8 10 0f 22 e0 b8 00 00 04 00 0f 22 d8 0f 20 c0 0d 00 00 00 80 0f 22 c0 b8 00 "
                        + "00 40 00 ff e0 "));
        rig.cpu.enterFlatProtectedMode(0x20000);
        assertThat(rig.cpu.run(100)).as(rig.cpu.describe()).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.getRip()).as("#PF handler").isEqualTo(0x8e01);
        assertThat(rig.cpu.getCr(2)).isEqualTo(0x400000);
        assertThat(rig.memory.read32(rig.reg(Cpu.RSP))).as("error code: not present, supervisor read").isZero();
    }

    @Test
    void invlpgDropsEveryCachedPartOfALargePage() {
        // SDM INVLPG / 4.10.4.1: it invalidates the translation of the whole page that maps
        // the address, a 2 MiB page here, not only the 4 KiB slice the address falls in.
        CpuRig rig = new CpuRig().longMode();
        rig.memory.write32(0x801000, 0x1111);
        rig.memory.write32(0xa01000, 0x2222);
        rig.run(
                // 10000: 8b 04 25 00 00 80 00  mov    0x800000,%eax
                // 10007: 8b 1c 25 00 10 80 00  mov    0x801000,%ebx
                // 1000e: 48 c7 04 25 20 30 00  movq   $0xa00087,0x3020
                // 10015: 00 87 00 a0 00
                // 1001a: 0f 01 3c 25 00 00 80  invlpg 0x800000
                // 10021: 00
                // 10022: 8b 0c 25 00 10 80 00  mov    0x801000,%ecx
                // 10029: f4                    hlt
                hex("8b 04 25 00 00 80 00 8b 1c 25 00 10 80 00 48 c7 04 25 20 30 00 00 87 00 a0 00 0f 01 3c 25 00 00 "
                        + "80 00 8b 0c 25 00 10 80 00 f4 "));
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0x1111);
        assertThat(rig.reg(Cpu.RCX)).as("read through the new PDE").isEqualTo(0x2222);
    }

    @Test
    void anIdtEntryWithTheSegmentBitSetIsNoGate() {
        // SDM 6.14.1: an IDT entry must be a system descriptor (S = 0) of an interrupt or trap
        // gate type; a type-E code descriptor is not one: #GP(vector * 8 + 2).
        CpuRig rig = new CpuRig().longMode();
        long gate = CpuRig.gate64(CpuRig.HANDLERS + 0x40 * 16, 0x08, 0xe, 0, 0);
        rig.w64(CpuRig.IDT + 0x40 * 16, gate | (1L << 44));
        rig.run(
                // 10000: cd 40                 int    $0x40
                hex("cd 40 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(0)).isEqualTo(0x40 * 8 + 2);
    }

    @Test
    void ltrInLongModeNeedsTheWholeSixteenByteDescriptorInsideTheGdt() {
        // SDM LTR: in IA-32e mode the TSS descriptor is 16 bytes; one that ends past the GDT
        // limit is #GP(selector), as for any descriptor outside its table.
        CpuRig rig = new CpuRig().longMode();
        rig.w64(CpuRig.GDT + 0x48, 0x67 | ((CpuRig.TSS & 0xffffff) << 16) | (0x89L << 40));
        rig.memory.write16(0x600, 0x4f); // the upper half, at 0x50, is past the limit
        rig.run(
                // 10000: 0f 01 14 25 00 06 00  lgdt   0x600
                // 10007: 00
                // 10008: 66 b8 48 00           mov    $0x48,%ax
                // 1000c: 0f 00 d8              ltr    %ax
                // 1000f: f4                    hlt
                hex("0f 01 14 25 00 06 00 00 66 b8 48 00 0f 00 d8 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(0)).isEqualTo(0x48);
    }

    @Test
    void aLongModeGateToANonCanonicalHandlerRaisesGp() {
        // SDM INT n (IA-32e mode): a non-canonical RIP from the gate is #GP(EXT), 0 for INT n.
        CpuRig rig = new CpuRig().longMode();
        rig.setGate(0x40, 0x0000800000000000L, 0xe, 0, 0);
        rig.run(
                // 10000: cd 40                 int    $0x40
                hex("cd 40 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(0)).isZero();
        assertThat(rig.stack(1)).isEqualTo(CODE);
    }

    @Test
    void ud1IsADeliberateUdNotAnUnimplementedOpcode() {
        // UD1 (0F B9 /r) is the defined invalid opcode Linux's UBSAN traps use, like UD2.
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 0f b9 c8              ud1    %eax,%ecx
                hex("0f b9 c8 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(rig.stack(0)).isEqualTo(CODE);
        assertThat(rig.cpu.unimplementedOpcodes()).isEmpty();
    }

    @Test
    void cr4SmepWithoutCpuidSmepRaisesGp() {
        // SDM MOV CR4: setting a bit of a feature CPUID does not report is #GP(0) (as KVM's
        // __cr4_reserved_bits for SMEP, SMAP, FSGSBASE, UMIP); Linux reads CPUID first.
        CpuRig rig = new CpuRig().longMode();
        rig.bus.leaf7Ebx = 0;
        rig.run(
                // 10000: 0f 20 e0              mov    %cr4,%rax
                // 10003: 0d 00 00 10 00        or     $0x100000,%eax
                // 10008: 0f 22 e0              mov    %rax,%cr4
                // 1000b: f4                    hlt
                hex("0f 20 e0 0d 00 00 10 00 0f 22 e0 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(1)).isEqualTo(CODE + 8);
        assertThat(rig.cpu.getCr(4) & (1L << 20)).isZero();
    }

    @Test
    void aPagingEntryWithAnAddressBitAboveMaxphyaddrRaisesAReservedBitPageFault() {
        // SDM 4.5: bits 51:MAXPHYADDR of a paging entry are reserved, #PF with RSVD. FakeBus
        // has no CPUID leaf 0x80000008, so MAXPHYADDR is 36 (SDM CPUID); bit 36 is reserved.
        CpuRig rig = new CpuRig().longMode();
        rig.w64(0x3000 + 8 * 8, (8L << 21) | 0x87 | (1L << 36));
        rig.run(
                // 10000: 8b 04 25 00 00 00 01  mov    0x1000000,%eax
                // 10007: f4                    hlt
                hex("8b 04 25 00 00 00 01 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.stack(0)).as("present, reserved bit").isEqualTo(9);
        assertThat(rig.cpu.getCr(2)).isEqualTo(0x1000000);
    }

    @Test
    void anIretToRing3NullsAKernelGsSelectorButKeepsItsBase() {
        // SDM IRET (return to outer level): a data segment register the new CPL may not use
        // gets a null selector; only the selector changes, and in 64-bit mode the GS base
        // stays in use. kvm-unit-tests' run_in_user() leaves GS = KERNEL_DS over a user run.
        CpuRig rig = new CpuRig().longMode();
        rig.memory.write32(0x30000, 0x5eed);
        rig.run(
                // 10000: b8 10 00 00 00        mov    $0x10,%eax
                // 10005: 8e e8                 mov    %eax,%gs
                // 10007: b9 01 01 00 c0        mov    $0xc0000101,%ecx
                // 1000c: b8 00 00 03 00        mov    $0x30000,%eax
                // 10011: 31 d2                 xor    %edx,%edx
                // 10013: 0f 30                 wrmsr
                // 10015: 6a 23                 push   $0x23
                // 10017: 68 00 f0 07 00        push   $0x7f000
                // 1001c: 9c                    pushf
                // 1001d: 6a 2b                 push   $0x2b
                // 1001f: 48 8d 05 03 00 00 00  lea    0x3(%rip),%rax        # 0x10029
                // 10026: 50                    push   %rax
                // 10027: 48 cf                 iretq
                // 10029: 65 8b 1c 25 00 00 00  mov    %gs:0x0,%ebx
                // 10030: 00
                // 10031: f4                    hlt
                hex("b8 10 00 00 00 8e e8 b9 01 01 00 c0 b8 00 00 03 00 31 d2 0f 30 6a 23 68 00 f0 07 00 9c 6a 2b 48 "
                        + "8d 05 03 00 00 00 50 48 cf 65 8b 1c 25 00 00 00 00 f4 "));
        assertThat(rig.haltedInVector()).as("HLT at CPL 3").isEqualTo(CpuFault.GP);
        assertThat(rig.cpu.saveState().segSelectors()[5]).as("GS selector").isZero();
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0x5eed);
        assertThat(rig.cpu.readMsr(Msr.IA32_GS_BASE)).isEqualTo(0x30000);
    }

    @Test
    void anInsWhoseStoreCrossesIntoAMissingPageFaultsBeforeReadingThePort() {
        // SDM 6.5: the #PF must come before the port read, or the restarted INS loses a datum.
        CpuRig rig = new CpuRig().longMode();
        rig.w64(0x3000 + 8, 0); // 2..4 MiB not present
        rig.run(
                // 10000: bf fe ff 1f 00        mov    $0x1ffffe,%edi
                // 10005: ba 60 00 00 00        mov    $0x60,%edx
                // 1000a: 6d                    insl   (%dx),%es:(%rdi)
                // 1000b: f4                    hlt
                hex("bf fe ff 1f 00 ba 60 00 00 00 6d f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.cpu.getCr(2)).isEqualTo(0x200000);
        assertThat(rig.bus.log).noneMatch(line -> line.startsWith("in "));
    }

    // ---- paths found correct in the review, pinned against regressions ----

    @Test
    void aRepMovsbThatFaultsHalfWayReportsItsProgressAndRestartsFromItself() {
        // SDM REP: a fault between iterations leaves RCX, RSI, RDI at the state after the last
        // completed one and RIP at the REP instruction, so the handler can resume it.
        CpuRig rig = new CpuRig().longMode();
        rig.w64(0x3000 + 8, 0); // 2..4 MiB not present
        rig.run(
                // 10000: be 00 00 10 00        mov    $0x100000,%esi
                // 10005: bf f0 ff 1f 00        mov    $0x1ffff0,%edi
                // 1000a: b9 64 00 00 00        mov    $0x64,%ecx
                // 1000f: f3 a4                 rep movsb %ds:(%rsi),%es:(%rdi)
                // 10011: f4                    hlt
                hex("be 00 00 10 00 bf f0 ff 1f 00 b9 64 00 00 00 f3 a4 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.cpu.getCr(2)).isEqualTo(0x200000);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0xf);
        assertThat(rig.reg(Cpu.RCX)).isEqualTo(100 - 16);
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(0x100010);
        assertThat(rig.reg(Cpu.RDI)).isEqualTo(0x200000);
    }

    @Test
    void intNFromRing3ThroughADpl0GateRaisesGpWithTheIdtErrorCode() {
        // SDM INT n: gate DPL < CPL is #GP(vector * 8 + 2), EXT clear; delivered on RSP0.
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 6a 23                 push   $0x23
                // 10002: 68 00 f0 07 00        push   $0x7f000
                // 10007: 9c                    pushf
                // 10008: 6a 2b                 push   $0x2b
                // 1000a: 48 8d 05 03 00 00 00  lea    0x3(%rip),%rax        # 0x10014
                // 10011: 50                    push   %rax
                // 10012: 48 cf                 iretq
                // 10014: cd 0d                 int    $0xd
                hex("6a 23 68 00 f0 07 00 9c 6a 2b 48 8d 05 03 00 00 00 50 48 cf cd 0d "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.reg(Cpu.RSP)).isEqualTo(CpuRig.RSP0 - 48);
        assertThat(rig.stack(0)).isEqualTo(13 * 8 + 2);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x14);
        assertThat(rig.stack(2)).isEqualTo(0x2b);
    }

    @Test
    void sysretToANonCanonicalRipFaultsInRing0() {
        // SDM SYSRET: a non-canonical RCX is #GP(0) at CPL 0 (Intel), before any state changes.
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.writeMsr(Msr.IA32_EFER, rig.cpu.readMsr(Msr.IA32_EFER) | 1);
        rig.run(
                // 10000: 48 b9 00 00 00 00 00  movabs $0x800000000000,%rcx
                // 10007: 80 00 00
                // 1000a: 48 0f 07              sysretq
                hex("48 b9 00 00 00 00 00 80 00 00 48 0f 07 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0xa);
        assertThat(rig.stack(2)).as("CS").isEqualTo(0x08);
    }

    @Test
    void realModeSixteenBitAddressingUsesSsForBpWrapsAt64KAndFaultsPastTheLimit() {
        CpuRig rig = new CpuRig();
        rig.memory.write32(CpuFault.GP * 4, 0x0200_0000); // IVT[13] = 0200:0000, a hlt
        rig.memory.write8(0x2000, 0xf4);
        rig.memory.write16(0x12352, 0xbeef); // SS:BP+SI = 1234:0012
        rig.memory.write16(0x0002, 0xcafe);  // DS:(DI+3) wraps to 0000:0002
        rig.load(0x1000,
                // 0: b8 34 12              mov    $0x1234,%ax
                // 3: 8e d0                 mov    %ax,%ss
                // 5: bd 10 00              mov    $0x10,%bp
                // 8: be 02 00              mov    $0x2,%si
                // b: 8b 1a                 mov    (%bp,%si),%bx
                // d: bf ff ff              mov    $0xffff,%di
                // 10: 8b 4d 03              mov    0x3(%di),%cx
                // 13: 8b 16 ff ff           mov    -0x1,%dx
                // 17: f4                    hlt
                hex("b8 34 12 8e d0 bd 10 00 be 02 00 8b 1a bf ff ff 8b 4d 03 8b 16 ff ff f4 "));
        rig.cpu.init();
        rig.cpu.startup(0x01);
        assertThat(rig.cpu.run(100)).isEqualTo(RunStop.HALTED);
        assertThat(rig.reg(Cpu.RBX) & 0xffff).isEqualTo(0xbeef);
        assertThat(rig.reg(Cpu.RCX) & 0xffff).isEqualTo(0xcafe);
        assertThat(rig.cpu.saveState().segSelectors()[1]).as("a word at DS:FFFF is #GP").isEqualTo(0x200);
    }
}

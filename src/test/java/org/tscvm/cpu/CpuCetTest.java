package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.tscvm.cpu.CpuRig.HANDLERS;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * CET (SDM Vol. 1 ch. 17): CR4.CET and its MSRs, the shadow stack of near and far CALL/RET,
 * events and IRET at the same level and across CPL 3/0, shadow-stack pages in the walk, the
 * shadow-stack instructions, indirect-branch tracking, and compiled code that must not skip
 * any of it. Listings are GNU as output; programs start at CODE (0x10000), user code (entered
 * by the IRETQ of {@link #USER_ENTRY}) at 0x10100.
 *
 * <p>Shadow-stack pages: 0x600000-0x7fffff supervisor, 0x800000-0x9fffff user (2 MiB leaves
 * with R/W=0, D=1); the supervisor token of IA32_PL0_SSP is at 0x7ff000.
 */
class CpuCetTest {
    private static final long WP = 1L << 16, CR4_CET = 1L << 23;
    private static final long SH_STK_EN = 1, ENDBR_EN = 4, NO_TRACK_EN = 16, SUPPRESS = 1 << 10, TRACKER = 1 << 11;
    private static final long TOKEN = 0x7ff000, USER_SSP = 0x900000;
    private static final int CP = 21;

    /**
     * CPL 0 to user code at 0x10100 with RSP 0x70000:
     * 10000: 6a 23 push $0x23; 68 00 00 07 00 push $0x70000; 6a 02 push $0x2; 6a 2b push $0x2b;
     * 68 00 01 01 00 push $0x10100; 48 cf iretq
     */
    private static final byte[] USER_ENTRY = hex("6a 23 68 00 00 07 00 6a 02 6a 2b 68 00 01 01 00 48 cf");

    /** A 64-bit rig whose CPUID reports CET_SS and CET_IBT, with the shadow-stack pages and CR0.WP, CR4.CET set. */
    private static CpuRig cetRig() {
        CpuRig rig = new CpuRig();
        rig.bus.leaf7Ecx |= 1 << 7;
        rig.bus.leaf7Edx |= 1 << 20;
        rig.longMode();
        rig.w64(0x3000 + 3 * 8, 0x600000 | 0xe1); // P, A, D, PS: R/W=0 supervisor
        rig.w64(0x3000 + 4 * 8, 0x800000 | 0xe5); // the same, user
        rig.w64(TOKEN, TOKEN);
        rig.cpu.setCr(0, rig.cpu.getCr(0) | WP);
        rig.cpu.setCr(4, rig.cpu.getCr(4) | CR4_CET);
        return rig;
    }

    private static CpuRig runUser(CpuRig rig, byte[] user) {
        rig.load(0x10100, user);
        return rig.run(USER_ENTRY);
    }

    private static long errorCode(CpuRig rig) {
        return rig.stack(0);
    }

    // ---- enumeration and control ----

    @Test
    void cr4CetIsReservedWithoutCpuidAndNeedsCr0Wp() {
        // 10000: 0f 20 e0  mov %cr4,%rax; 0d 00 00 80 00  or $0x800000,%eax; 0f 22 e0  mov %rax,%cr4; f4 hlt
        byte[] setCet = hex("0f 20 e0 0d 00 00 80 00 0f 22 e0 f4");
        assertThat(new CpuRig().longMode().run(setCet).haltedInVector()).as("no CET in CPUID").isEqualTo(13);
        CpuRig noWp = new CpuRig();
        noWp.bus.leaf7Ecx |= 1 << 7;
        assertThat(noWp.longMode().run(setCet).haltedInVector()).as("CR0.WP clear").isEqualTo(13);
        CpuRig ok = new CpuRig();
        ok.bus.leaf7Edx |= 1 << 20; // IBT alone is enough for CR4.CET
        ok.longMode();
        ok.cpu.setCr(0, ok.cpu.getCr(0) | WP);
        assertThat(ok.run(setCet).haltedInVector()).isEqualTo(-1);
        assertThat(ok.cpu.getCr(4) & CR4_CET).isNotZero();
        // 10000: 0f 20 c0  mov %cr0,%rax; 25 ff ff fe ff  and $0xfffeffff,%eax; 0f 22 c0  mov %rax,%cr0; f4 hlt
        assertThat(ok.run(hex("0f 20 c0 25 ff ff fe ff 0f 22 c0 f4")).haltedInVector())
                .as("clearing CR0.WP while CR4.CET is set").isEqualTo(13);
        assertThat(ok.cpu.getCr(0) & WP).isNotZero();
    }

    @Test
    void cetMsrsCheckReservedBitsCanonicalAndAlignment() {
        CpuRig rig = cetRig();
        // 10000: b9 a7 06 00 00  mov $0x6a7,%ecx; b8 01 00 00 00  mov $0x1,%eax; 31 d2  xor %edx,%edx;
        // 1000c: 0f 30  wrmsr; f4 hlt
        assertThat(rig.run(hex("b9 a7 06 00 00 b8 01 00 00 00 31 d2 0f 30 f4")).haltedInVector())
                .as("IA32_PL3_SSP = 1: not 4-byte aligned").isEqualTo(13);
        Cpu cpu = rig.cpu;
        assertThatThrownBy(() -> cpu.writeMsr(Msr.IA32_PL0_SSP, 0x0000_8000_0000_0000L)).isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> cpu.writeMsr(Msr.IA32_U_CET, 1L << 6)).as("reserved bit 6").isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> cpu.writeMsr(Msr.IA32_S_CET, SUPPRESS | TRACKER)).isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> cpu.writeMsr(Msr.IA32_U_CET, 0x0000_8000_0000_0000L)).as("bitmap base not canonical")
                .isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> cpu.writeMsr(Msr.IA32_INTERRUPT_SSP_TABLE_ADDR, 1L << 60)).isInstanceOf(CpuFault.class);
        cpu.writeMsr(Msr.IA32_PL3_SSP, 0x7ffc);
        cpu.writeMsr(Msr.IA32_U_CET, SH_STK_EN | ENDBR_EN | 0xabc000);
        cpu.writeMsr(Msr.IA32_INTERRUPT_SSP_TABLE_ADDR, 0x1234);
        assertThat(cpu.readMsr(Msr.IA32_PL3_SSP)).isEqualTo(0x7ffc);
        assertThat(cpu.readMsr(Msr.IA32_U_CET)).isEqualTo(SH_STK_EN | ENDBR_EN | 0xabc000);
        assertThat(cpu.readMsr(Msr.IA32_INTERRUPT_SSP_TABLE_ADDR)).isEqualTo(0x1234);

        CpuRig ibtOnly = new CpuRig();
        ibtOnly.bus.leaf7Edx |= 1 << 20;
        ibtOnly.longMode();
        assertThatThrownBy(() -> ibtOnly.cpu.writeMsr(Msr.IA32_U_CET, SH_STK_EN)).as("shadow stacks not in CPUID")
                .isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> ibtOnly.cpu.readMsr(Msr.IA32_PL0_SSP)).isInstanceOf(CpuFault.class);
        ibtOnly.cpu.writeMsr(Msr.IA32_U_CET, ENDBR_EN);
        CpuRig none = new CpuRig().longMode();
        assertThatThrownBy(() -> none.cpu.readMsr(Msr.IA32_U_CET)).isInstanceOf(CpuFault.class);
    }

    // ---- shadow stacks ----

    @Test
    void nearCallAndRetKeepTheReturnAddressOnTheShadowStack() {
        CpuRig rig = cetRig().run(
                // 10000: b9 a4 06 00 00  mov $0x6a4,%ecx; b8 00 f0 7f 00  mov $0x7ff000,%eax; 31 d2  xor %edx,%edx
                // 1000c: 0f 30  wrmsr (IA32_PL0_SSP)
                // 1000e: b9 a2 06 00 00  mov $0x6a2,%ecx; b8 01 00 00 00  mov $0x1,%eax; 0f 30  wrmsr (S_CET.SH_STK_EN)
                // 1001a: f3 0f 01 e8     setssbsy
                // 1001e: f3 48 0f 1e cb  rdsspq %rbx
                // 10023: e8 06 00 00 00  call 1002e <f>
                // 10028: f3 48 0f 1e ce  rdsspq %rsi
                // 1002d: f4              hlt
                // 1002e: f3 48 0f 1e cf  rdsspq %rdi   (f)
                // 10033: 4c 8b 07        mov (%rdi),%r8
                // 10036: c3              ret
                hex("b9 a4 06 00 00 b8 00 f0 7f 00 31 d2 0f 30 b9 a2 06 00 00 b8 01 00 00 00 0f 30 f3 0f 01 e8 f3 48 "
                        + "0f 1e cb e8 06 00 00 00 f3 48 0f 1e ce f4 f3 48 0f 1e cf 4c 8b 07 c3"));
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.reg(Cpu.RBX)).as("SETSSBSY loads IA32_PL0_SSP").isEqualTo(TOKEN);
        assertThat(rig.r64(TOKEN)).as("the token is busy").isEqualTo(TOKEN | 1);
        assertThat(rig.reg(Cpu.RDI)).isEqualTo(TOKEN - 8);
        assertThat(rig.reg(8)).as("the return address on the shadow stack").isEqualTo(0x10028);
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(TOKEN);
    }

    @Test
    void aTamperedReturnAddressIsCpNearRetAndTheHandlerGetsAShadowStackFrame() {
        CpuRig rig = cetRig().run(
                // 10000: (IA32_PL0_SSP, S_CET.SH_STK_EN, setssbsy as above)
                // 1001e: e8 01 00 00 00  call 10024 <f>
                // 10023: f4              hlt
                // 10024: 48 ff 04 24     incq (%rsp)   (f)
                // 10028: c3              ret
                hex("b9 a4 06 00 00 b8 00 f0 7f 00 31 d2 0f 30 b9 a2 06 00 00 b8 01 00 00 00 0f 30 f3 0f 01 e8 e8 01 "
                        + "00 00 00 f4 48 ff 04 24 c3"));
        assertThat(rig.haltedInVector()).isEqualTo(CP);
        assertThat(errorCode(rig)).as("NEAR-RET").isEqualTo(1);
        assertThat(rig.stack(1)).as("the RET faults").isEqualTo(0x10028);
        // The event stays at CPL 0: CS, LIP and the old SSP go on the current shadow stack.
        long oldSsp = TOKEN - 8;
        assertThat(rig.cpu.getSsp()).isEqualTo(oldSsp - 24);
        assertThat(rig.r64(oldSsp - 8)).isEqualTo(0x08);
        assertThat(rig.r64(oldSsp - 16)).isEqualTo(0x10028);
        assertThat(rig.r64(oldSsp - 24)).isEqualTo(oldSsp);
    }

    @Test
    void farCallAndRetCheckCsAndTheLinearReturnAddress() {
        CpuRig rig = cetRig().run(
                // 10000: (IA32_PL0_SSP, S_CET.SH_STK_EN, setssbsy as above)
                // 1001e: f3 48 0f 1e cb  rdsspq %rbx
                // 10023: ff 1c 25 40 00 01 00  lcall *0x10040   (f: lretl)
                // 1002a: f3 48 0f 1e ce  rdsspq %rsi
                // 1002f: ff 1c 25 48 00 01 00  lcall *0x10048   (f2: incl (%rsp); lretl)
                // 10036: f4              hlt
                // 10037: cb              lret   (f)
                // 10038: ff 04 24        incl (%rsp)   (f2)
                // 1003b: cb              lret
                // 10040: 37 00 01 00 08 00   far pointer 0008:00010037; 10048: 0008:00010038
                hex("b9 a4 06 00 00 b8 00 f0 7f 00 31 d2 0f 30 b9 a2 06 00 00 b8 01 00 00 00 0f 30 f3 0f 01 e8 f3 48 "
                        + "0f 1e cb ff 1c 25 40 00 01 00 f3 48 0f 1e ce ff 1c 25 48 00 01 00 f4 cb ff 04 24 cb 0f 1f 40 "
                        + "00 37 00 01 00 08 00 66 90 38 00 01 00 08 00"));
        assertThat(rig.reg(Cpu.RSI)).as("a matching far RET pops the frame").isEqualTo(rig.reg(Cpu.RBX));
        assertThat(rig.haltedInVector()).isEqualTo(CP);
        assertThat(errorCode(rig)).as("FAR-RET/IRET").isEqualTo(2);
        assertThat(rig.stack(1)).isEqualTo(0x1003b);
        // The far CALL's frame: CS, the return's linear address, the SSP before it.
        assertThat(rig.r64(TOKEN - 8)).isEqualTo(0x08);
        assertThat(rig.r64(TOKEN - 16)).isEqualTo(0x10036);
        assertThat(rig.r64(TOKEN - 24)).isEqualTo(TOKEN);
    }

    @Test
    void iretWithinALevelPopsAndChecksTheEventsFrame() {
        CpuRig rig = cetRig();
        rig.load(HANDLERS + 0x31 * 16, hex("48 cf")); // iretq
        rig.load(HANDLERS + 0x32 * 16, hex("48 ff 04 24 48 cf")); // incq (%rsp); iretq
        rig.run(
                // 10000: (IA32_PL0_SSP, S_CET.SH_STK_EN, setssbsy as above)
                // 1001e: f3 48 0f 1e cb  rdsspq %rbx
                // 10023: cd 31           int $0x31
                // 10025: f3 48 0f 1e ce  rdsspq %rsi
                // 1002a: cd 32           int $0x32
                // 1002c: f4              hlt
                hex("b9 a4 06 00 00 b8 00 f0 7f 00 31 d2 0f 30 b9 a2 06 00 00 b8 01 00 00 00 0f 30 f3 0f 01 e8 f3 48 "
                        + "0f 1e cb cd 31 f3 48 0f 1e ce cd 32 f4"));
        assertThat(rig.reg(Cpu.RSI)).as("IRETQ popped the frame").isEqualTo(rig.reg(Cpu.RBX));
        assertThat(rig.haltedInVector()).isEqualTo(CP);
        assertThat(errorCode(rig)).as("a tampered IRET frame is FAR-RET/IRET").isEqualTo(2);
        assertThat(rig.stack(1)).isEqualTo(HANDLERS + 0x32 * 16 + 4);
    }

    @Test
    void anRtmAbortPutsSspBack() {
        CpuRig rig = cetRig();
        rig.bus.rtm = CpuBus.RTM_RUNS;
        rig.run(
                // 10000: (IA32_PL0_SSP, S_CET.SH_STK_EN, setssbsy as above)
                // 1001e: f3 48 0f 1e cb  rdsspq %rbx
                // 10023: c7 f8 05 00 00 00  xbegin 1002e <fallback>
                // 10029: e8 06 00 00 00  call 10034 <f>
                // 1002e: f3 48 0f 1e ce  rdsspq %rsi   (fallback)
                // 10033: f4              hlt
                // 10034: c6 f8 01        xabort $0x1   (f)
                hex("b9 a4 06 00 00 b8 00 f0 7f 00 31 d2 0f 30 b9 a2 06 00 00 b8 01 00 00 00 0f 30 f3 0f 01 e8 f3 48 "
                        + "0f 1e cb c7 f8 05 00 00 00 e8 06 00 00 00 f3 48 0f 1e ce f4 c6 f8 01"));
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.reg(Cpu.RAX) & 0xff000001L).as("XABORT 1").isEqualTo(0x01000001L);
        assertThat(rig.reg(Cpu.RSI)).as("SSP as at XBEGIN").isEqualTo(rig.reg(Cpu.RBX));
    }

    @Test
    void userShadowStackComesFromPl3SspAndGoesBackThereOnAnEvent() {
        CpuRig rig = cetRig();
        rig.cpu.writeMsr(Msr.IA32_U_CET, SH_STK_EN);
        rig.cpu.writeMsr(Msr.IA32_PL3_SSP, USER_SSP);
        runUser(rig, hex(
                // 10100: f3 48 0f 1e cb  rdsspq %rbx
                // 10105: e8 01 00 00 00  call 1010b <g>
                // 1010a: f4              hlt
                // 1010b: 48 ff 04 24     incq (%rsp)   (g)
                // 1010f: c3              ret
                "f3 48 0f 1e cb e8 01 00 00 00 f4 48 ff 04 24 c3"));
        assertThat(rig.reg(Cpu.RBX)).as("IRET to CPL 3 loads IA32_PL3_SSP").isEqualTo(USER_SSP);
        assertThat(rig.haltedInVector()).isEqualTo(CP);
        assertThat(errorCode(rig)).isEqualTo(1);
        assertThat(rig.cpu.readMsr(Msr.IA32_PL3_SSP)).as("the event saves SSP").isEqualTo(USER_SSP - 8);
        assertThat(rig.r64(USER_SSP - 8)).isEqualTo(0x1010a);
    }

    @Test
    void supervisorShadowStacksTakeAndReleaseTheTokenAcrossPrivilegeChanges() {
        CpuRig rig = cetRig();
        rig.cpu.writeMsr(Msr.IA32_U_CET, SH_STK_EN);
        rig.cpu.writeMsr(Msr.IA32_S_CET, SH_STK_EN);
        rig.cpu.writeMsr(Msr.IA32_PL0_SSP, TOKEN);
        rig.cpu.writeMsr(Msr.IA32_PL3_SSP, USER_SSP);
        rig.setGate(0x40, 0x10200, 0xe, 3, 0);
        // 10200: f3 48 0f 1e cb  rdsspq %rbx; 48 8b 0c 25 00 f0 7f 00  mov 0x7ff000,%rcx; 48 cf  iretq
        rig.load(0x10200, hex("f3 48 0f 1e cb 48 8b 0c 25 00 f0 7f 00 48 cf"));
        // 10100: cd 40  int $0x40; f3 48 0f 1e ca  rdsspq %rdx; f4  hlt (#GP at CPL 3)
        rig.load(0x10100, hex("cd 40 f3 48 0f 1e ca f4"));
        // 10000: f3 0f 01 e8  setssbsy (the kernel takes its stack), then USER_ENTRY's IRETQ releases it
        byte[] entry = new byte[4 + USER_ENTRY.length];
        System.arraycopy(hex("f3 0f 01 e8"), 0, entry, 0, 4);
        System.arraycopy(USER_ENTRY, 0, entry, 4, USER_ENTRY.length);
        rig.run(entry);
        assertThat(rig.reg(Cpu.RBX)).as("the handler's SSP is IA32_PL0_SSP").isEqualTo(TOKEN);
        assertThat(rig.reg(Cpu.RCX)).as("its token busy meanwhile").isEqualTo(TOKEN | 1);
        assertThat(rig.reg(Cpu.RDX)).as("IRET back loads IA32_PL3_SSP").isEqualTo(USER_SSP);
        // The #GP of the user HLT takes the token again: IRET released it.
        assertThat(rig.haltedInVector()).isEqualTo(13);
        assertThat(rig.cpu.getSsp()).isEqualTo(TOKEN);
        assertThat(rig.r64(TOKEN)).isEqualTo(TOKEN | 1);
    }

    @Test
    void aCallGateToCpl0TakesTheSupervisorTokenAndFarRetToCpl3ReleasesIt() {
        CpuRig rig = cetRig();
        rig.cpu.writeMsr(Msr.IA32_U_CET, SH_STK_EN);
        rig.cpu.writeMsr(Msr.IA32_S_CET, SH_STK_EN);
        rig.cpu.writeMsr(Msr.IA32_PL0_SSP, TOKEN);
        rig.cpu.writeMsr(Msr.IA32_PL3_SSP, USER_SSP);
        // GDT 0x48: a 64-bit call gate, DPL 3, to 0008:0000000000010200.
        rig.w64(CpuRig.GDT + 0x48, 0x0001_ec00_0008_0200L);
        rig.w64(CpuRig.GDT + 0x50, 0);
        rig.cpu.setGdtr(CpuRig.GDT, 0x57);
        rig.load(0x10180, hex("00 00 00 00 4b 00")); // the far pointer: the gate (the offset is ignored)
        // 10200: f3 48 0f 1e cb  rdsspq %rbx; 48 8b 0c 25 00 f0 7f 00  mov 0x7ff000,%rcx; 48 cb  lretq
        rig.load(0x10200, hex("f3 48 0f 1e cb 48 8b 0c 25 00 f0 7f 00 48 cb"));
        // 10100: ff 1c 25 80 01 01 00  lcall *0x10180; f3 48 0f 1e ca  rdsspq %rdx; f4  hlt (#GP at CPL 3)
        rig.load(0x10100, hex("ff 1c 25 80 01 01 00 f3 48 0f 1e ca f4"));
        // 10000: f3 0f 01 e8  setssbsy, then USER_ENTRY's IRETQ releases the token
        byte[] entry = new byte[4 + USER_ENTRY.length];
        System.arraycopy(hex("f3 0f 01 e8"), 0, entry, 0, 4);
        System.arraycopy(USER_ENTRY, 0, entry, 4, USER_ENTRY.length);
        rig.run(entry);
        assertThat(rig.reg(Cpu.RBX)).as("the gate's CPL 0 code runs on IA32_PL0_SSP").isEqualTo(TOKEN);
        assertThat(rig.reg(Cpu.RCX)).isEqualTo(TOKEN | 1);
        assertThat(rig.reg(Cpu.RDX)).as("RETF to CPL 3 loads IA32_PL3_SSP").isEqualTo(USER_SSP);
        assertThat(rig.haltedInVector()).as("the token was released: the #GP takes it again").isEqualTo(13);
        assertThat(rig.r64(TOKEN)).isEqualTo(TOKEN | 1);
    }

    @Test
    void shadowStackAccessesNeedShadowStackPagesAndOrdinaryWritesToThemFault() {
        CpuRig ordinary = cetRig();
        ordinary.cpu.writeMsr(Msr.IA32_U_CET, SH_STK_EN);
        ordinary.cpu.writeMsr(Msr.IA32_PL3_SSP, 0x300000); // an ordinary writable user page
        // 10100: e8 00 00 00 00  call 10105; f4 hlt
        runUser(ordinary, hex("e8 00 00 00 00 f4"));
        assertThat(ordinary.haltedInVector()).isEqualTo(14);
        assertThat(errorCode(ordinary)).as("P, W, U and SS").isEqualTo(0x47);
        assertThat(ordinary.cpu.getCr(2)).isEqualTo(0x300000 - 8);

        CpuRig supervisorPage = cetRig();
        supervisorPage.cpu.writeMsr(Msr.IA32_U_CET, SH_STK_EN);
        supervisorPage.cpu.writeMsr(Msr.IA32_PL3_SSP, 0x700000);
        runUser(supervisorPage, hex("e8 00 00 00 00 f4"));
        assertThat(supervisorPage.haltedInVector()).isEqualTo(14);
        assertThat(errorCode(supervisorPage)).as("a supervisor shadow-stack page from CPL 3").isEqualTo(0x47);

        CpuRig store = cetRig();
        // 10100: 48 c7 04 25 00 f0 8f 00 01 00 00 00  movq $0x1,0x8ff000; f4 hlt
        runUser(store, hex("48 c7 04 25 00 f0 8f 00 01 00 00 00 f4"));
        assertThat(store.haltedInVector()).isEqualTo(14);
        assertThat(errorCode(store)).as("a write to a read-only page: no SS").isEqualTo(0x07);
    }

    @Test
    void theShadowStackInstructions() {
        CpuRig rig = cetRig().run(
                // 10000: (IA32_PL0_SSP as above)
                // 1000e: b9 a2 06 00 00  mov $0x6a2,%ecx; b8 03 00 00 00  mov $0x3,%eax; 0f 30  wrmsr (SH_STK_EN, WR_SHSTK_EN)
                // 1001a: f3 0f 01 e8     setssbsy
                // 1001e: 48 c7 c0 01 e0 7f 00  mov $0x7fe001,%rax
                // 10025: 48 c7 c7 f8 df 7f 00  mov $0x7fdff8,%rdi
                // 1002c: 48 0f 38 f6 07  wrssq %rax,(%rdi)   (a restore token for a stack at 0x7fe000)
                // 10031: f3 0f 01 2f     rstorssp (%rdi)
                // 10035: 41 0f 92 c4     setb %r12b
                // 10039: f3 49 0f 1e c8  rdsspq %r8
                // 1003e: f3 0f 01 ea     saveprevssp
                // 10042: f3 49 0f 1e c9  rdsspq %r9
                // 10047: e8 2f 00 00 00  call 1007b <h>
                // 1004c: f3 49 0f 1e ca  rdsspq %r10
                // 10051: 48 c7 c7 f8 ef 7f 00  mov $0x7feff8,%rdi
                // 10058: f3 0f 01 2f     rstorssp (%rdi)   (back to the first stack)
                // 1005c: f3 49 0f 1e cb  rdsspq %r11
                // 10061: f3 48 0f ae e8  incsspq %rax
                // 10066: 48 c7 c7 00 f0 7f 00  mov $0x7ff000,%rdi
                // 1006d: f3 0f ae 37     clrssbsy (%rdi)
                // 10071: 41 0f 92 c5     setb %r13b
                // 10075: f3 49 0f 1e ce  rdsspq %r14
                // 1007a: f4              hlt
                // 1007b: b8 01 00 00 00  mov $0x1,%eax   (h)
                // 10080: f3 48 0f ae e8  incsspq %rax
                // 10085: 59              pop %rcx
                // 10086: ff e1           jmp *%rcx
                hex("b9 a4 06 00 00 b8 00 f0 7f 00 31 d2 0f 30 b9 a2 06 00 00 b8 03 00 00 00 0f 30 f3 0f 01 e8 48 c7 "
                        + "c0 01 e0 7f 00 48 c7 c7 f8 df 7f 00 48 0f 38 f6 07 f3 0f 01 2f 41 0f 92 c4 f3 49 0f 1e c8 f3 "
                        + "0f 01 ea f3 49 0f 1e c9 e8 2f 00 00 00 f3 49 0f 1e ca 48 c7 c7 f8 ef 7f 00 f3 0f 01 2f f3 49 "
                        + "0f 1e cb f3 48 0f ae e8 48 c7 c7 00 f0 7f 00 f3 0f ae 37 41 0f 92 c5 f3 49 0f 1e ce f4 b8 01 "
                        + "00 00 00 f3 48 0f ae e8 59 ff e1"));
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.reg(8)).as("RSTORSSP switches to the token's slot").isEqualTo(0x7fdff8);
        assertThat(rig.reg(12) & 0xff).as("no alignment hole").isZero();
        assertThat(rig.reg(9)).as("SAVEPREVSSP pops the previous-ssp token").isEqualTo(0x7fe000);
        assertThat(rig.reg(10)).as("INCSSP popped the CALL's entry").isEqualTo(0x7fe000);
        assertThat(rig.reg(11)).isEqualTo(0x7feff8);
        assertThat(rig.r64(0x7feff8)).as("RSTORSSP left a previous-ssp token").isEqualTo(0x7fe000 | 3);
        assertThat(rig.reg(13) & 0xff).as("CLRSSBSY found a busy token").isZero();
        assertThat(rig.reg(14)).as("CLRSSBSY zeroes SSP").isZero();
        assertThat(rig.r64(TOKEN)).as("and frees the token").isEqualTo(TOKEN);
    }

    @Test
    void withCetOffTheHintSpaceStaysNopsAndTheOthersAreUd() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: bb 05 00 00 00  mov $0x5,%ebx
                // 10005: f3 48 0f 1e cb  rdsspq %rbx
                // 1000a: f3 0f 1e fa     endbr64
                // 1000e: f3 0f 1e fb     endbr32
                // 10012: 0f 1f 00        nopl (%rax)
                // 10015: f4              hlt
                hex("bb 05 00 00 00 f3 48 0f 1e cb f3 0f 1e fa f3 0f 1e fb 0f 1f 00 f4"));
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(5);
        // 10000: f3 48 0f ae e8  incsspq %rax; f4 hlt
        assertThat(cetRig().run(hex("f3 48 0f ae e8 f4")).haltedInVector()).as("INCSSP without shadow stacks")
                .isEqualTo(6);
    }

    // ---- indirect-branch tracking ----

    @Test
    void anIndirectJmpToSomethingOtherThanEndbr64IsCpEndbranch() {
        CpuRig rig = cetRig();
        rig.cpu.writeMsr(Msr.IA32_U_CET, ENDBR_EN | NO_TRACK_EN);
        runUser(rig, hex(
                // 10100: 48 8d 05 02 00 00 00  lea 0x2(%rip),%rax
                // 10107: ff e0           jmp *%rax
                // 10109: 90              nop
                // 1010a: f4              hlt
                "48 8d 05 02 00 00 00 ff e0 90 f4"));
        assertThat(rig.haltedInVector()).isEqualTo(CP);
        assertThat(errorCode(rig)).as("ENDBRANCH").isEqualTo(3);
        assertThat(rig.stack(1)).as("at the target").isEqualTo(0x10109);
        assertThat(rig.cpu.readMsr(Msr.IA32_U_CET) & TRACKER).as("the tracker still waits, in the MSR").isNotZero();
    }

    @Test
    void endbr64AndNotrackSatisfyTheTrackerAndIndirectCallsAreTrackedToo() {
        CpuRig rig = cetRig();
        rig.cpu.writeMsr(Msr.IA32_U_CET, ENDBR_EN | NO_TRACK_EN);
        runUser(rig, hex(
                // 10100: 48 8d 05 02 00 00 00  lea 0x2(%rip),%rax
                // 10107: ff e0           jmp *%rax
                // 10109: f3 0f 1e fa     endbr64
                // 1010d: 48 8d 05 03 00 00 00  lea 0x3(%rip),%rax
                // 10114: 3e ff e0        notrack jmp *%rax
                // 10117: 48 8d 05 02 00 00 00  lea 0x2(%rip),%rax
                // 1011e: ff d0           call *%rax
                // 10120: 90              nop
                // 10121: f4              hlt
                "48 8d 05 02 00 00 00 ff e0 f3 0f 1e fa 48 8d 05 03 00 00 00 3e ff e0 48 8d 05 02 00 00 00 ff d0 90 f4"));
        assertThat(rig.haltedInVector()).isEqualTo(CP);
        assertThat(errorCode(rig)).isEqualTo(3);
        assertThat(rig.stack(1)).as("the CALL's target, past the ENDBR64 and the notrack JMP").isEqualTo(0x10120);
    }

    @Test
    void eventsMakeTheHandlerStartWithEndbr64() {
        CpuRig good = cetRig();
        good.load(HANDLERS + 0x31 * 16, hex("f3 0f 1e fa f4")); // endbr64; hlt
        // 10000: b9 a2 06 00 00  mov $0x6a2,%ecx; b8 04 00 00 00  mov $0x4,%eax; 31 d2  xor %edx,%edx;
        // 1000c: 0f 30  wrmsr (S_CET.ENDBR_EN); cd 31  int $0x31
        good.run(hex("b9 a2 06 00 00 b8 04 00 00 00 31 d2 0f 30 cd 31"));
        assertThat(good.cpu.getRip()).isEqualTo(HANDLERS + 0x31 * 16 + 5);
        assertThat(good.cpu.readMsr(Msr.IA32_S_CET) & TRACKER).isZero();

        CpuRig bad = cetRig();
        bad.load(HANDLERS + CP * 16, hex("f3 0f 1e fa f4"));
        // 10000: (S_CET.ENDBR_EN as above); cd 30  int $0x30 (its handler is a bare HLT)
        bad.run(hex("b9 a2 06 00 00 b8 04 00 00 00 31 d2 0f 30 cd 30"));
        assertThat(bad.cpu.getRip()).isEqualTo(HANDLERS + CP * 16 + 5);
        assertThat(errorCode(bad)).isEqualTo(3);
        assertThat(bad.stack(1)).isEqualTo(HANDLERS + 0x30 * 16);
    }

    // ---- compiled code ----

    /**
     * 10000: (IA32_PL0_SSP as above)
     * 1000e: 31 db           xor %ebx,%ebx
     * 10010: bd 2c 01 00 00  mov $0x12c,%ebp
     * 10015: e8 26 00 00 00  call 10040 <g>   (loop)
     * 1001a: ff cd           dec %ebp
     * 1001c: 75 f7           jne 10015
     * 1001e: b9 a2 06 00 00  mov $0x6a2,%ecx; b8 01 00 00 00  mov $0x1,%eax; 31 d2  xor %edx,%edx; 0f 30  wrmsr
     * 1002c: f3 0f 01 e8     setssbsy
     * 10030: e8 0b 00 00 00  call 10040 <g>
     * 10035: bb 01 00 00 00  mov $0x1,%ebx
     * 1003a: e8 01 00 00 00  call 10040 <g>
     * 1003f: f4              hlt
     * 10040: 48 01 1c 24     add %rbx,(%rsp)   (g)
     * 10044: c3              ret
     */
    private static final byte[] LOOP_THEN_TAMPER = hex("b9 a4 06 00 00 b8 00 f0 7f 00 31 d2 0f 30 31 db bd 2c 01 00 00 e8 "
            + "26 00 00 00 ff cd 75 f7 b9 a2 06 00 00 b8 01 00 00 00 31 d2 0f 30 f3 0f 01 e8 e8 0b 00 00 00 bb 01 00 00 "
            + "00 e8 01 00 00 00 f4 48 01 1c 24 c3");

    @Test
    void blocksCompiledBeforeCetWasOnGiveTheSameCpAsInterpretedOnes() {
        CpuRig compiled = cetRig();
        compiled.cpu.setCompileThreshold(2);
        compiled.run(LOOP_THEN_TAMPER);
        assertThat(compiled.cpu.compiledBlocks()).as("the loop and g were compiled").isGreaterThanOrEqualTo(2);
        CpuRig interpreted = cetRig();
        interpreted.cpu.setCompileThreshold(0);
        interpreted.run(LOOP_THEN_TAMPER);
        for (CpuRig rig : new CpuRig[] {compiled, interpreted}) {
            assertThat(rig.haltedInVector()).isEqualTo(CP);
            assertThat(errorCode(rig)).isEqualTo(1);
            assertThat(rig.stack(1)).isEqualTo(0x10044);
            assertThat(rig.reg(Cpu.RBP)).isZero();
        }
        assertThat(compiled.cpu.getSsp()).isEqualTo(interpreted.cpu.getSsp());
    }
}

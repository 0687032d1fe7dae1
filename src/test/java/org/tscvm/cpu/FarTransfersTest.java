package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;

/**
 * The {@link FarTransfers} on its own: the CPU's state set directly (tables from
 * {@link CpuRig}, descriptors added past its GDT entries), far JMPs, CALLs and RETFs made by
 * calling the part, no decoder or run loop.
 */
class FarTransfersTest {
    private static final long USER_RIP = 0x400123, USER_RSP = 0x7f008;
    /** Free GDT slots past CpuRig's: a call gate (16 bytes in IA-32e mode) and a conforming segment. */
    private static final int GATE = 0x48, CONFORMING = 0x58;

    private final CpuRig rig = new CpuRig();
    private final Cpu cpu = rig.cpu;

    /** 64-bit mode at CPL 3 (CS 0x2b, SS 0x23) at {@link #USER_RIP}, with room in the GDT for more descriptors. */
    private void userMode() {
        rig.longMode();
        cpu.enterFlatLongMode(USER_RIP, 0x1000, 3);
        cpu.setGdtr(CpuRig.GDT, 0xff);
        cpu.regs[Cpu.RSP] = USER_RSP;
    }

    /** A call gate to {@code cs:target}: type 0xC, present unless {@code present} is false. */
    private static long callGate(int cs, long target, int dpl, int params, boolean present) {
        return (target & 0xffff) | ((long) cs << 16) | ((long) params << 32) | (0xcL << 40) | ((long) dpl << 45)
                | (present ? 1L << 47 : 0) | (((target >>> 16) & 0xffff) << 48);
    }

    private void setLongModeGate(long target, int dpl, boolean present) {
        rig.w64(CpuRig.GDT + GATE, callGate(0x08, target, dpl, 0, present));
        rig.w64(CpuRig.GDT + GATE + 8, target >>> 32);
    }

    private void loadFromGdt(int seg, int sel) {
        long d = rig.r64(CpuRig.GDT + (sel & 0xfff8));
        cpu.setSeg(seg, sel, Segmentation.descBase(d), Segmentation.descLimit(d), Segmentation.descAttr(d) | 1);
    }

    private static CpuFault faultOf(ThrowingCallable transfer) {
        CpuFault f = catchThrowableOfType(CpuFault.class, transfer);
        assertThat(f).as("a fault").isNotNull();
        return f;
    }

    @Test
    void aFarJmpToAConformingSegmentKeepsCplAndToAMorePrivilegedNonConformingOneIsGp() {
        userMode();
        rig.w64(CpuRig.GDT + CONFORMING, 0x00af9e000000ffffL); // 64-bit code, DPL 0, conforming, not accessed

        cpu.far.jumpOrCall(CONFORMING, 0x12345678, 4, false);

        assertThat(cpu.cpl).as("a conforming segment runs at the caller's CPL").isEqualTo(3);
        assertThat(cpu.segSel[Cpu.CS]).as("RPL becomes the CPL").isEqualTo(CONFORMING | 3);
        assertThat(cpu.rip).isEqualTo(0x12345678);
        assertThat(cpu.regs[Cpu.RSP]).as("a JMP pushes nothing").isEqualTo(USER_RSP);
        assertThat((rig.r64(CpuRig.GDT + CONFORMING) >>> 40) & 1).as("accessed bit").isEqualTo(1);

        CpuFault f = faultOf(() -> cpu.far.jumpOrCall(0x08, 0x1000, 4, false));

        assertThat(f.vector()).isEqualTo(CpuFault.GP);
        assertThat(f.errorCode()).as("the selector").isEqualTo(0x08);
        assertThat(cpu.segSel[Cpu.CS]).isEqualTo(CONFORMING | 3);
    }

    @Test
    void aCallThroughALongModeGateFromCpl3SwitchesToTheTssStackAndRetfReturnsToCpl3() {
        userMode();
        long target = 0x1_0000_2000L; // above 4 GiB: the gate's upper 8 bytes hold bits 63:32
        setLongModeGate(target, 3, true);

        cpu.far.jumpOrCall(GATE | 3, 0xdead, 8, true);

        long rsp = CpuRig.RSP0 - 32;
        assertThat(cpu.cpl).isZero();
        assertThat(cpu.segSel[Cpu.CS]).isEqualTo(0x08);
        assertThat(cpu.rip).isEqualTo(target);
        assertThat(cpu.segSel[Cpu.SS]).as("a null SS of the new CPL").isZero();
        assertThat(cpu.regs[Cpu.RSP]).as("RSP0 less four quadwords").isEqualTo(rsp);
        assertThat(rig.r64(rsp)).as("RIP").isEqualTo(USER_RIP);
        assertThat(rig.r64(rsp + 8)).as("CS").isEqualTo(0x2b);
        assertThat(rig.r64(rsp + 16)).as("RSP").isEqualTo(USER_RSP);
        assertThat(rig.r64(rsp + 24)).as("SS").isEqualTo(0x23);

        cpu.segments.loadSegment(Cpu.DS, 0x10); // a ring-0 data segment ring 3 may not keep
        cpu.far.ret(8, 0);

        assertThat(cpu.cpl).isEqualTo(3);
        assertThat(cpu.segSel[Cpu.CS]).isEqualTo(0x2b);
        assertThat(cpu.rip).isEqualTo(USER_RIP);
        assertThat(cpu.segSel[Cpu.SS]).isEqualTo(0x23);
        assertThat(cpu.regs[Cpu.RSP]).isEqualTo(USER_RSP);
        assertThat(cpu.segSel[Cpu.DS]).as("DS nulled on the return to the outer level").isZero();
        assertThat(cpu.segAttr[Cpu.DS] & CpuState.A_UNUSABLE).isNotZero();
    }

    /** 32-bit protected mode without paging at CPL 3: CS 0x1b, SS 0x23; a 32-bit TSS at 0x6000 (SS0:ESP0 0x10:0x9000). */
    private void protectedModeCpl3() {
        rig.longMode();
        cpu.cr0 = CpuState.CR0_PE | CpuState.CR0_ET;
        cpu.cr4 = 0;
        cpu.efer = 0;
        cpu.setGdtr(CpuRig.GDT, 0xff);
        loadFromGdt(Cpu.CS, 0x1b);
        loadFromGdt(Cpu.SS, 0x23);
        cpu.updateMode();
        cpu.mmu.flushTlb(false);
        cpu.trSel = 0x50;
        cpu.trBase = 0x6000;
        cpu.trLimit = 0x67;
        cpu.trAttr = CpuState.A_P | CpuState.T_TSS_BUSY;
        rig.memory.write32(0x6004, 0x9000); // ESP0
        rig.memory.write16(0x6008, 0x10); // SS0
    }

    @Test
    void aCallThroughA32BitGateCopiesItsParametersToTheInnerStackAndRetfImmReleasesThemFromBoth() {
        protectedModeCpl3();
        rig.w64(CpuRig.GDT + GATE, callGate(0x40, 0x2345, 3, 2, true));
        rig.memory.write32(0x7000, 0x11111111);
        rig.memory.write32(0x7004, 0x22222222);
        cpu.regs[Cpu.RSP] = 0x7000;
        cpu.rip = 0x1000;
        assertThat(cpu.cpl).isEqualTo(3);

        cpu.far.jumpOrCall(GATE | 3, 0, 4, true);

        assertThat(cpu.cpl).isZero();
        assertThat(cpu.segSel[Cpu.CS]).isEqualTo(0x40);
        assertThat(cpu.rip).isEqualTo(0x2345);
        assertThat(cpu.segSel[Cpu.SS]).as("SS0").isEqualTo(0x10);
        assertThat(cpu.regs[Cpu.RSP]).isEqualTo(0x9000 - 24);
        assertThat(rig.memory.read32(0x9000 - 4)).as("SS").isEqualTo(0x23);
        assertThat(rig.memory.read32(0x9000 - 8)).as("ESP").isEqualTo(0x7000);
        assertThat(rig.memory.read32(0x9000 - 12)).as("second parameter").isEqualTo(0x22222222);
        assertThat(rig.memory.read32(0x9000 - 16)).as("first parameter").isEqualTo(0x11111111);
        assertThat(rig.memory.read32(0x9000 - 20)).as("CS").isEqualTo(0x1b);
        assertThat(rig.memory.read32(0x9000 - 24)).as("EIP").isEqualTo(0x1000);

        cpu.far.ret(4, 8);

        assertThat(cpu.cpl).isEqualTo(3);
        assertThat(cpu.segSel[Cpu.CS]).isEqualTo(0x1b);
        assertThat(cpu.rip).isEqualTo(0x1000);
        assertThat(cpu.segSel[Cpu.SS]).isEqualTo(0x23);
        assertThat(cpu.regs[Cpu.RSP]).as("the parameters released from the outer stack too").isEqualTo(0x7008);
    }

    @Test
    void aCallThroughA32BitGateToAnInnerLevelChecksSs0FromTheTssBeforeAnythingChanges() {
        protectedModeCpl3();
        rig.w64(CpuRig.GDT + GATE, callGate(0x40, 0x2345, 3, 0, true));
        rig.w64(CpuRig.GDT + CONFORMING, 0x00cf12000000ffffL); // writable data, DPL 0, not present
        cpu.regs[Cpu.RSP] = 0x7000;
        cpu.rip = 0x1000;
        // SS0 and the fault it gives: a null selector, RPL 1, a DPL 3 segment, a code segment
        // are #TS; a segment that is not present is #SS; all with the selector and no EXT.
        int[][] cases = {{0, CpuFault.TS}, {0x11, CpuFault.TS}, {0x20, CpuFault.TS}, {0x40, CpuFault.TS},
                {CONFORMING, CpuFault.SS}};
        for (int[] k : cases) {
            rig.memory.write16(0x6008, k[0]);

            CpuFault f = faultOf(() -> cpu.far.jumpOrCall(GATE | 3, 0, 4, true));

            assertThat(f.vector()).as("SS0 0x%x", k[0]).isEqualTo(k[1]);
            assertThat(f.errorCode()).as("SS0 0x%x", k[0]).isEqualTo(k[0] & 0xfffc);
            assertThat(cpu.cpl).isEqualTo(3);
            assertThat(cpu.segSel[Cpu.SS]).isEqualTo(0x23);
            assertThat(cpu.regs[Cpu.RSP]).isEqualTo(0x7000);
            assertThat(cpu.rip).isEqualTo(0x1000);
        }
    }

    @Test
    void aGateBelowTheCplIsGpAndANotPresentGateIsNpBothWithTheGateSelector() {
        userMode();
        setLongModeGate(0x2000, 0, true);

        CpuFault gp = faultOf(() -> cpu.far.jumpOrCall(GATE | 3, 0, 8, true));

        assertThat(gp.vector()).isEqualTo(CpuFault.GP);
        assertThat(gp.errorCode()).isEqualTo(GATE);

        setLongModeGate(0x2000, 3, false);

        CpuFault np = faultOf(() -> cpu.far.jumpOrCall(GATE | 3, 0, 8, true));

        assertThat(np.vector()).isEqualTo(CpuFault.NP);
        assertThat(np.errorCode()).isEqualTo(GATE);
        assertThat(cpu.cpl).isEqualTo(3);
        assertThat(cpu.rip).isEqualTo(USER_RIP);
        assertThat(cpu.regs[Cpu.RSP]).isEqualTo(USER_RSP);
    }

    @Test
    void aFarCallToANonCanonicalTargetFaultsAfterItsPushesWithRspAsBefore() {
        userMode();

        CpuFault f = faultOf(() -> cpu.far.jumpOrCall(0x2b, 0x0000_8000_0000_0000L, 8, true));

        assertThat(f.vector()).isEqualTo(CpuFault.GP);
        assertThat(f.errorCode()).isZero();
        assertThat(rig.r64(USER_RSP - 16)).as("the return RIP was pushed").isEqualTo(USER_RIP);
        assertThat(cpu.regs[Cpu.RSP]).as("so the CALL can restart").isEqualTo(USER_RSP);
        assertThat(cpu.rip).isEqualTo(USER_RIP);
    }
}

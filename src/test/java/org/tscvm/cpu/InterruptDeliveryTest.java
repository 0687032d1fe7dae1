package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import org.junit.jupiter.api.Test;

/**
 * The {@link InterruptDelivery} on its own: the CPU's state set directly (tables from
 * {@link CpuRig}), events delivered and IRETs run by calling the part, no decoder or run loop.
 */
class InterruptDeliveryTest {
    private static final long USER_RIP = 0x400123, USER_RSP = 0x7f008;

    private final CpuRig rig = new CpuRig();
    private final Cpu cpu = rig.cpu;

    /** 64-bit mode at CPL 3 (CS 0x2b, SS 0x23), IF and CF set, about to fault at {@link #USER_RIP}. */
    private void userModeAboutToFault() {
        rig.longMode();
        cpu.enterFlatLongMode(USER_RIP, 0x1000, 3);
        cpu.loadFlags(2 | CpuState.IF | CpuState.CF);
        cpu.regs[Cpu.RSP] = USER_RSP;
        cpu.prevRip = USER_RIP;
        cpu.rip = USER_RIP + 3;
    }

    private void markNotPresent(int vector) {
        long gate = CpuRig.IDT + vector * 16L;
        rig.w64(gate, rig.r64(gate) & ~(1L << 47));
    }

    private static long handler(int vector) {
        return CpuRig.HANDLERS + vector * 16L;
    }

    @Test
    void realModeInterruptPushesFlagsCsIpAndLoadsCsIpFromTheIvtAndIretReturns() {
        rig.memory.write32(0x21 * 4, 0x0200_0034); // IVT[0x21] = 0200:0034
        cpu.segments.loadSegment(Cpu.CS, 0x1000);
        cpu.segments.loadSegment(Cpu.SS, 0);
        cpu.regs[Cpu.RSP] = 0x3000;
        cpu.loadFlags(2 | CpuState.IF | CpuState.TF | CpuState.CF);

        cpu.interrupts.deliver(0x21, -1, true, false, 0x0105);

        assertThat(cpu.regs[Cpu.RSP]).isEqualTo(0x2ffa);
        assertThat(rig.memory.read16(0x2ffa)).as("IP").isEqualTo(0x0105);
        assertThat(rig.memory.read16(0x2ffc)).as("CS").isEqualTo(0x1000);
        assertThat(rig.memory.read16(0x2ffe)).as("FLAGS").isEqualTo(0x0303);
        assertThat(cpu.segSel[Cpu.CS]).isEqualTo(0x0200);
        assertThat(cpu.segBase[Cpu.CS]).isEqualTo(0x2000);
        assertThat(cpu.rip).isEqualTo(0x34);
        assertThat(cpu.rflags() & (CpuState.IF | CpuState.TF | CpuState.CF)).as("IF, TF cleared")
                .isEqualTo(CpuState.CF);

        cpu.interrupts.iret(2);

        assertThat(cpu.segSel[Cpu.CS]).isEqualTo(0x1000);
        assertThat(cpu.rip).isEqualTo(0x0105);
        assertThat(cpu.regs[Cpu.RSP]).isEqualTo(0x3000);
        assertThat(cpu.rflags() & 0xffff).isEqualTo(0x0303);
    }

    @Test
    void aGeneralProtectionFaultAtCpl3GoesThroughTheIdtGateToRing0OnTheTssStackAndIretqReturns() {
        userModeAboutToFault();

        cpu.interrupts.deliverException(CpuFault.GP, 0x18);

        long rsp = CpuRig.RSP0 - 48;
        assertThat(cpu.regs[Cpu.RSP]).as("RSP0 less the frame and the error code").isEqualTo(rsp);
        assertThat(rig.r64(rsp)).as("error code").isEqualTo(0x18);
        assertThat(rig.r64(rsp + 8)).as("RIP of the faulting instruction").isEqualTo(USER_RIP);
        assertThat(rig.r64(rsp + 16)).as("CS").isEqualTo(0x2b);
        assertThat(rig.r64(rsp + 24)).as("RFLAGS, RF set for a fault")
                .isEqualTo(2 | CpuState.IF | CpuState.CF | CpuState.RF);
        assertThat(rig.r64(rsp + 32)).as("RSP").isEqualTo(USER_RSP);
        assertThat(rig.r64(rsp + 40)).as("SS").isEqualTo(0x23);
        assertThat(cpu.rip).isEqualTo(handler(CpuFault.GP));
        assertThat(cpu.cpl).isZero();
        assertThat(cpu.segSel[Cpu.CS]).isEqualTo(0x08);
        assertThat(cpu.segSel[Cpu.SS]).as("a null SS of the new CPL").isZero();
        assertThat(cpu.rflags() & (CpuState.IF | CpuState.RF)).as("an interrupt gate clears IF").isZero();
        assertThat(cpu.lastVector).isEqualTo(CpuFault.GP);

        cpu.regs[Cpu.RSP] += 8; // the handler drops the error code
        cpu.interrupts.iret(8);

        assertThat(cpu.cpl).isEqualTo(3);
        assertThat(cpu.segSel[Cpu.CS]).isEqualTo(0x2b);
        assertThat(cpu.segSel[Cpu.SS]).isEqualTo(0x23);
        assertThat(cpu.regs[Cpu.RSP]).isEqualTo(USER_RSP);
        assertThat(cpu.rip).isEqualTo(USER_RIP);
        assertThat(cpu.rflags()).isEqualTo(2 | CpuState.IF | CpuState.CF | CpuState.RF);
    }

    @Test
    void aSameLevelDeliveryAlignsTheStackAndAnIstGateSwitchesStacksEvenAtTheSameLevel() {
        rig.longMode();
        cpu.regs[Cpu.RSP] = 0x7fff8;

        cpu.interrupts.deliver(0x40, -1, false, true, 0x10005);

        assertThat(cpu.regs[Cpu.RSP]).as("aligned down to 16, then five quadwords").isEqualTo(0x7fff0 - 40);
        assertThat(rig.r64(0x7fff0 - 40)).isEqualTo(0x10005);
        assertThat(rig.r64(0x7fff0 - 8)).as("SS").isEqualTo(0x10);
        assertThat(rig.r64(0x7fff0 - 16)).as("RSP").isEqualTo(0x7fff8);

        rig.setGate(0x41, handler(0x41), 0xe, 0, 1);
        cpu.interrupts.deliver(0x41, -1, false, true, 0x20007);

        assertThat(cpu.regs[Cpu.RSP]).isEqualTo(CpuRig.IST1 - 40);
        assertThat(rig.r64(CpuRig.IST1 - 40)).isEqualTo(0x20007);
        assertThat(cpu.rip).isEqualTo(handler(0x41));
    }

    @Test
    void aProtectedModeInterruptToRing0ChecksSs0FromTheTssWithExtForAnExternalEvent() {
        rig.longMode();
        // 32-bit protected mode without paging at CPL 3 (CS 0x1b, SS 0x23); IDT[0x80] an
        // interrupt gate of DPL 3 to 0x40:0x2345; a 32-bit TSS at 0x6000 with ESP0 0x9000.
        cpu.cr0 = CpuState.CR0_PE | CpuState.CR0_ET;
        cpu.cr4 = 0;
        cpu.efer = 0;
        cpu.setGdtr(CpuRig.GDT, 0xff);
        for (int[] seg : new int[][] {{Cpu.CS, 0x1b}, {Cpu.SS, 0x23}}) {
            long d = rig.r64(CpuRig.GDT + (seg[1] & 0xfff8));
            cpu.setSeg(seg[0], seg[1], Segmentation.descBase(d), Segmentation.descLimit(d), Segmentation.descAttr(d) | 1);
        }
        cpu.updateMode();
        cpu.mmu.flushTlb(false);
        cpu.idtrBase = 0x7800;
        cpu.idtrLimit = 0x7ff;
        rig.w64(0x7800 + 0x80 * 8, 0x2345 | (0x40L << 16) | (0xeeL << 40));
        cpu.trSel = 0x50;
        cpu.trBase = 0x6000;
        cpu.trLimit = 0x67;
        cpu.trAttr = CpuState.A_P | CpuState.T_TSS_BUSY;
        rig.memory.write32(0x6004, 0x9000);
        rig.w64(CpuRig.GDT + 0x58, 0x00cf12000000ffffL); // writable data, DPL 0, not present
        cpu.regs[Cpu.RSP] = 0x7000;
        // SS0 and the fault it gives: RPL 1 or a DPL 3 segment is #TS, one not present #SS.
        int[][] cases = {{0x11, CpuFault.TS}, {0x20, CpuFault.TS}, {0x58, CpuFault.SS}};
        for (int[] k : cases) {
            rig.memory.write16(0x6008, k[0]);
            for (boolean external : new boolean[] {false, true}) {
                CpuFault f = catchThrowableOfType(CpuFault.class,
                        () -> cpu.interrupts.deliver(0x80, -1, !external, external, 0x1000));

                assertThat(f).as("SS0 0x%x", k[0]).isNotNull();
                assertThat(f.vector()).as("SS0 0x%x", k[0]).isEqualTo(k[1]);
                assertThat(f.errorCode()).as("SS0 0x%x, external %s", k[0], external)
                        .isEqualTo((k[0] & 0xfffc) | (external ? 1 : 0));
                assertThat(cpu.cpl).isEqualTo(3);
                assertThat(cpu.segSel[Cpu.SS]).isEqualTo(0x23);
                assertThat(cpu.regs[Cpu.RSP]).isEqualTo(0x7000);
            }
        }
    }

    @Test
    void aContributoryFaultWhileDeliveringAContributoryOneIsADoubleFault() {
        userModeAboutToFault();
        markNotPresent(CpuFault.GP);

        cpu.interrupts.deliverException(CpuFault.GP, 0);

        assertThat(cpu.rip).isEqualTo(handler(CpuFault.DF));
        assertThat(cpu.regs[Cpu.RSP]).isEqualTo(CpuRig.RSP0 - 48);
        assertThat(rig.r64(CpuRig.RSP0 - 48)).as("#DF's error code").isZero();
        assertThat(cpu.lastVector).isEqualTo(CpuFault.DF);
        assertThat(cpu.shutdown).isFalse();
    }

    @Test
    void aFaultWhileDeliveringABenignExceptionIsDeliveredInsteadOfADoubleFault() {
        userModeAboutToFault();
        markNotPresent(CpuFault.UD);

        cpu.interrupts.deliverException(CpuFault.UD, CpuFault.NO_ERROR_CODE);

        assertThat(cpu.rip).isEqualTo(handler(CpuFault.NP));
        assertThat(rig.r64(cpu.regs[Cpu.RSP])).as("#NP(IDT entry 6, IDT, EXT)").isEqualTo(CpuFault.UD * 8 + 2 + 1);
        assertThat(cpu.lastVector).isEqualTo(CpuFault.NP);
    }

    @Test
    void aFaultWhileDeliveringTheDoubleFaultShutsTheCpuDown() {
        userModeAboutToFault();
        markNotPresent(CpuFault.GP);
        markNotPresent(CpuFault.DF);

        cpu.interrupts.deliverException(CpuFault.GP, 0);

        assertThat(cpu.shutdown).isTrue();
        assertThat(cpu.segSel[Cpu.CS]).as("nothing delivered").isEqualTo(0x2b);
        assertThat(cpu.regs[Cpu.RSP]).isEqualTo(USER_RSP);
    }
}

package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * Hardware task switches in 32-bit protected mode (SDM vol. 3A 7.3): an exception through a
 * task gate and IRET back with NT, a far JMP to a TSS and back, a far CALL through a task gate,
 * switches to and from a 16-bit TSS, the T flag's #DB, faults after the commit point, and the
 * checks that refuse a switch.
 *
 * <pre>
 * GDT 0x500: 08 code32, 10 data32, 28 TSS "main" at 0x5000, 30 TSS "B" at 0x5100,
 *            38 task gate to 30, 40 TSS with a limit of 0x60 at 0x5200, 48 16-bit TSS "C" at 0x5300
 * IDT 0x4000: #GP through a task gate to B (or, for the refusals, interrupt gates to HLTs at 0x8800 + 16 * vector)
 * main code at 0x20000, B's code at 0x21000, results from 0x7000
 * </pre>
 */
class TaskSwitchTest {
    private static final int MAIN = 0x28, B = 0x30, GATE = 0x38, SMALL = 0x40, C16 = 0x48;
    private static final long NT = 1 << 14;

    private static CpuRig rig(boolean gpThroughTaskGate) {
        CpuRig rig = new CpuRig();
        rig.w64(0x508, 0x00cf9a000000ffffL);
        rig.w64(0x510, 0x00cf92000000ffffL);
        rig.w64(0x500 + MAIN, tss(0x5000, 0x67));
        rig.w64(0x500 + B, tss(0x5100, 0x67));
        rig.w64(0x500 + GATE, ((long) B << 16) | (0x85L << 40));
        rig.w64(0x500 + SMALL, tss(0x5200, 0x60));
        rig.w64(0x500 + C16, tss(0x5300, 0x2b) & ~(8L << 40)); // type 1: a 16-bit TSS, available
        rig.memory.write16(0x600, 0x4f);
        rig.memory.write32(0x602, 0x500);
        rig.memory.write16(0x610, 0x7ff);
        rig.memory.write32(0x612, 0x4000);
        for (int v = 0; v < 32; v++) {
            long handler = 0x8800 + 16L * v;
            rig.memory.write8(handler, 0xf4);
            rig.w64(0x4000 + 8L * v, (handler & 0xffff) | (0x08L << 16) | (0x8eL << 40));
        }
        if (gpThroughTaskGate) {
            rig.w64(0x4000 + 8L * CpuFault.GP, ((long) B << 16) | (0x85L << 40));
        }
        // B's initial state: EIP, EFLAGS, ESP, and flat selectors.
        rig.memory.write32(0x5120, 0x21000);
        rig.memory.write32(0x5124, 2);
        rig.memory.write32(0x5138, 0x70000);
        for (int i = 0; i < 6; i++) {
            rig.memory.write32(0x5148 + 4L * i, i == 1 ? 0x08 : 0x10);
        }
        return rig;
    }

    private static long tss(long base, int limit) {
        return limit | ((base & 0xffffff) << 16) | (0x89L << 40) | ((base >>> 24) << 56);
    }

    private static void run(CpuRig rig, String main, String b) {
        rig.load(0x20000, hex(main));
        rig.load(0x21000, hex(b));
        rig.cpu.enterFlatProtectedMode(0x20000);
        rig.cpu.setGpr(Cpu.RSP, 0x80000);
        assertThat(rig.cpu.run(10_000)).as(rig.cpu.describe()).isEqualTo(RunStop.HALTED);
    }

    /** lgdt 0x600; lidt 0x610; ltr MAIN; flat data segments; ljmp $0x08 to the next instruction (0x2002a). */
    private static final String SETUP = "0f 01 15 00 06 00 00 0f 01 1d 10 06 00 00 66 b8 28 00 0f 00 d8 66 b8 10 00 "
            + "8e d8 8e d0 8e e0 8e e8 8e c0 ea 2a 00 02 00 08 00 ";

    @Test
    void anExceptionThroughATaskGateAJmpToATssAndACallThroughATaskGateEachSwitchAndComeBack() {
        CpuRig rig = rig(true);
        run(rig,
                SETUP
                        // 2a: mov $0x1111,%ecx; mov $0x1234,%eax; mov %eax,%es (#GP(0x1234) through the task gate)
                        + "b9 11 11 00 00 b8 34 12 00 00 8e c0 "
                        // 36: mov %ecx,0x7000; str %ax; mov %eax,0x7004; pushf; pop %eax; mov %eax,0x7008
                        + "89 0d 00 70 00 00 66 0f 00 c8 a3 04 70 00 00 9c 58 a3 08 70 00 00 "
                        // 4c: ljmp $0x30,$0; movl $1,0x702c; lcall $0x38,$0; movl $2,0x7030
                        + "ea 00 00 00 00 30 00 c7 05 2c 70 00 00 01 00 00 00 9a 00 00 00 00 38 00 "
                        + "c7 05 30 70 00 00 02 00 00 00 "
                        // 6e: mov %cr0,%eax; mov %eax,0x7034; pushf; pop %eax; mov %eax,0x7038; hlt
                        + "0f 20 c0 a3 34 70 00 00 9c 58 a3 38 70 00 00 f4",
                // B, first entry (the #GP): pop the error code, note TR, its back link and flags, skip
                // main's faulting instruction (main's TSS EIP += 2), iret
                "58 a3 10 70 00 00 66 0f 00 cb 89 1d 14 70 00 00 a1 00 51 00 00 a3 18 70 00 00 9c 58 a3 1c 70 00 00 "
                        + "83 05 20 50 00 00 02 cf "
                        // second entry (the ljmp): movl $0xabcd,0x7020; pushf; pop %eax; mov %eax,0x7024; ljmp $0x28,$0
                        + "c7 05 20 70 00 00 cd ab 00 00 9c 58 a3 24 70 00 00 ea 00 00 00 00 28 00 "
                        // third entry (the lcall): movl $0xbeef,0x7028; iret; hlt
                        + "c7 05 28 70 00 00 ef be 00 00 cf f4");
        var m = rig.memory;
        assertThat(m.read32(0x7010)).as("the error code, on B's stack").isEqualTo(0x1234);
        assertThat(m.read32(0x7014) & 0xffff).as("TR in B").isEqualTo(B);
        assertThat(m.read32(0x7018) & 0xffff).as("B's back link").isEqualTo(MAIN);
        assertThat(m.read32(0x701c) & NT).as("NT in B after an exception").isEqualTo(NT);
        assertThat(m.read32(0x7000)).as("ECX came back from main's TSS").isEqualTo(0x1111);
        assertThat(m.read32(0x7004) & 0xffff).as("TR back in main").isEqualTo(MAIN);
        assertThat(m.read32(0x7008) & NT).as("main's NT after the IRET").isZero();
        assertThat(m.read32(0x7020)).as("B entered by JMP").isEqualTo(0xabcd);
        assertThat(m.read32(0x7024) & NT).as("a JMP sets no NT").isZero();
        assertThat(m.read32(0x702c)).as("main again after B's JMP back").isEqualTo(1);
        assertThat(m.read32(0x7028)).as("B entered by CALL through the gate").isEqualTo(0xbeef);
        assertThat(m.read32(0x7030)).as("main again after B's IRET").isEqualTo(2);
        assertThat(m.read32(0x7034) & CpuState.CR0_TS).as("CR0.TS after a switch").isNotZero();
        assertThat(m.read32(0x7038) & NT).isZero();
        assertThat(m.read8(0x500 + MAIN + 5) & 0xf).as("main's TSS busy").isEqualTo(0xb);
        assertThat(m.read8(0x500 + B + 5) & 0xf).as("B's TSS available again").isEqualTo(0x9);
        assertThat(m.read32(0x5100) & 0xffff).as("the CALL wrote B's back link").isEqualTo(MAIN);
        assertThat(m.read32(0x5120)).as("B's saved EIP: after its last IRET").isEqualTo(0x21000 + 0x4c);
    }

    @Test
    void aSwitchToABusyTssIsGpAndToATssBelowTheMinimumLimitIsTs() {
        CpuRig rig = rig(false);
        run(rig, SETUP + "9a 00 00 00 00 28 00", "f4"); // lcall $0x28,$0: main's own, busy TSS
        assertThat(rig.cpu.getRip()).as(rig.cpu.describe()).isEqualTo(0x8800 + 16L * CpuFault.GP + 1);
        assertThat(rig.memory.read32(rig.cpu.getGpr(Cpu.RSP))).as("error code").isEqualTo(MAIN);
        assertThat(rig.memory.read32(rig.cpu.getGpr(Cpu.RSP) + 4)).as("the faulting CALL").isEqualTo(0x2002a);

        rig = rig(false);
        run(rig, SETUP + "ea 00 00 00 00 40 00", "f4"); // ljmp $0x40,$0: limit 0x60
        assertThat(rig.cpu.getRip()).isEqualTo(0x8800 + 16L * CpuFault.TS + 1);
        assertThat(rig.memory.read32(rig.cpu.getGpr(Cpu.RSP))).isEqualTo(SMALL);
        assertThat(rig.memory.read8(0x500 + B + 5) & 0xf).isEqualTo(0x9);
        assertThat(rig.memory.read32(0x5020)).as("nothing saved in main's TSS").isZero();
    }

    @Test
    void aCallToA16BitTssAndFromItThroughATaskGateSaveAndLoadTheSixteenBitLayout() {
        CpuRig rig = rig(false);
        // C's initial state: IP, FLAGS, AX, SP, and ES, CS, SS, DS (16-bit TSS, figure 7-10)
        var m = rig.memory;
        m.write16(0x530e, 0xa000);
        m.write16(0x5310, 2);
        m.write16(0x5312, 0x5555);
        m.write16(0x531a, 0xf000);
        m.write16(0x5322, 0x10);
        m.write16(0x5324, 0x08);
        m.write16(0x5326, 0x10);
        m.write16(0x5328, 0x10);
        // C at 0xa000: mov %eax,0x7010; mov %fs,%ebx; mov %ebx,0x7014; str %ebx; mov %ebx,0x7018;
        // pushf; pop %ebx; mov %ebx,0x701c; mov $0x12346666,%eax; lcall $0x38,$0 (B);
        // 2a: mov %eax,0x7020; iret; 30: hlt
        rig.load(0xa000, hex("a3 10 70 00 00 8c e3 89 1d 14 70 00 00 0f 00 cb 89 1d 18 70 00 00 9c 5b 89 1d 1c 70 00 00 "
                + "b8 66 66 34 12 9a 00 00 00 00 38 00 a3 20 70 00 00 cf f4"));
        run(rig,
                // mov $0x11112222,%ecx; lcall $0x48,$0 (C); mov %ecx,0x7000; mov %fs,%eax; mov %eax,0x7004; hlt
                SETUP + "b9 22 22 11 11 9a 00 00 00 00 48 00 89 0d 00 70 00 00 8c e0 a3 04 70 00 00 f4",
                // B: mov 0x5100,%eax (its back link); mov %eax,0x7030; pushf; pop %eax; mov %eax,0x7034; iret
                "a1 00 51 00 00 a3 30 70 00 00 9c 58 a3 34 70 00 00 cf f4");
        assertThat(m.read32(0x7010)).as("EAX from a 16-bit TSS: AX, upper word not kept").isEqualTo(0xffff5555);
        assertThat(m.read32(0x7014) & 0xffff).as("FS is null in a 16-bit task").isZero();
        assertThat(m.read32(0x7018)).as("TR in C").isEqualTo(C16);
        assertThat(m.read32(0x701c) & NT).as("NT in C after the CALL").isEqualTo(NT);
        assertThat(m.read16(0x5300)).as("C's 16-bit back link").isEqualTo(MAIN);
        assertThat(m.read32(0x7030) & 0xffff).as("B's back link: the 16-bit task").isEqualTo(C16);
        assertThat(m.read32(0x7034) & NT).isEqualTo(NT);
        assertThat(m.read32(0x7020)).as("EAX reloaded from C's TSS after B's IRET").isEqualTo(0xffff6666);
        assertThat(m.read32(0x7000)).as("ECX back from main's 32-bit TSS").isEqualTo(0x11112222);
        assertThat(m.read32(0x7004) & 0xffff).as("main's FS back").isEqualTo(0x10);
        assertThat(m.read16(0x530e)).as("C's saved IP: past its IRET").isEqualTo(0xa030);
        assertThat(m.read16(0x5312)).as("C's saved AX").isEqualTo(0x6666);
        assertThat(m.read16(0x5310) & NT).as("IRET saves C's flags with NT clear").isZero();
        assertThat(m.read16(0x5324)).as("C's saved CS").isEqualTo(0x08);
        assertThat(m.read8(0x500 + C16 + 5) & 0xf).as("C's TSS available again, 16-bit").isEqualTo(0x1);
        assertThat(m.read8(0x500 + B + 5) & 0xf).isEqualTo(0x9);
    }

    @Test
    void aTssWithTheTrapFlagRaisesADebugTrapBeforeTheNewTasksFirstInstruction() {
        CpuRig rig = rig(false);
        rig.memory.write16(0x5164, 1); // B's T flag
        run(rig, SETUP + "ea 00 00 00 00 30 00", "c7 05 00 70 00 00 01 00 00 00 f4"); // B: movl $1,0x7000; hlt
        assertThat(rig.cpu.getRip()).as(rig.cpu.describe()).isEqualTo(0x8800 + 16L * CpuFault.DB + 1);
        assertThat(rig.memory.read32(rig.cpu.getGpr(Cpu.RSP))).as("the #DB returns to B's first instruction")
                .isEqualTo(0x21000);
        assertThat(rig.memory.read32(0x7000)).as("B ran nothing").isZero();
        Cpu.State state = rig.cpu.saveState();
        assertThat(state.trSelector()).isEqualTo(B);
        assertThat(state.debugRegisters()[6] & (1 << 15)).as("DR6.BT").isNotZero();
    }

    @Test
    void aFaultLoadingTheNewTasksSegmentsIsTheNewTasksOwnExceptionNotADoubleFault() {
        CpuRig rig = rig(true);
        rig.memory.write32(0x5154, 0x1238); // B's DS: past the GDT's limit
        run(rig, SETUP + "b8 34 12 00 00 8e c0", "f4"); // mov $0x1234,%eax; mov %eax,%es: #GP to B's gate
        assertThat(rig.cpu.getRip()).as(rig.cpu.describe()).isEqualTo(0x8800 + 16L * CpuFault.TS + 1);
        long esp = rig.cpu.getGpr(Cpu.RSP);
        assertThat(rig.memory.read32(esp)).as("#TS(DS) with EXT: it arose delivering the #GP").isEqualTo(0x1239);
        assertThat(rig.memory.read32(esp + 4)).as("in B, at its first instruction").isEqualTo(0x21000);
        assertThat(esp).as("on B's stack").isEqualTo(0x70000 - 16); // error code, EIP, CS, EFLAGS
        assertThat(rig.cpu.saveState().trSelector()).isEqualTo(B);
    }

    @Test
    void aBadCodeSegmentInTheNewTssFaultsThroughTheNewTasksRingZeroStack() {
        CpuRig rig = rig(false);
        rig.memory.write32(0x514c, 0x10); // B's CS: a data segment
        rig.memory.write32(0x5104, 0x60000); // B's ESP0, SS0
        rig.memory.write32(0x5108, 0x10);
        run(rig, SETUP + "ea 00 00 00 00 30 00", "f4"); // ljmp $0x30,$0
        assertThat(rig.cpu.getRip()).as(rig.cpu.describe()).isEqualTo(0x8800 + 16L * CpuFault.TS + 1);
        long esp = rig.cpu.getGpr(Cpu.RSP);
        assertThat(esp).as("CPL 3 until CS loads: the frame is on B's ring-0 stack, with SS:ESP")
                .isEqualTo(0x60000 - 24);
        assertThat(rig.memory.read32(esp)).as("#TS(CS)").isEqualTo(0x10);
        assertThat(rig.memory.read32(esp + 4)).as("B's first instruction").isEqualTo(0x21000);
        assertThat(rig.memory.read32(esp + 16)).as("B's ESP").isEqualTo(0x70000);
        assertThat(rig.cpu.saveState().trSelector()).isEqualTo(B);
    }
}

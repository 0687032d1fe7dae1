package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.CODE;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The guest's own debug registers (SDM Vol. 3B chapter 17): DR0-DR3 instruction and data
 * breakpoints under DR7, DR6's status bits, general detect, single-step with TF (POPF, MOV SS,
 * INT n) and INT1. The gdb stub's host breakpoints ({@link DebugTraps}) stay apart.
 */
class GuestDebugRegistersTest {
    static final long COUNT = 0x32000, RIPS = 0x32100, DR6S = 0x32200, HANDLER = 0x13000;
    static final long B0 = 1, B1 = 2, BD = 1 << 13, BS = 1 << 14, DR6_FIXED = 0xffff0ff0L;

    /**
     * A long-mode rig whose #DB handler records the pushed RIP and DR6 of each #DB, counts
     * them, and returns with RF set in the pushed RFLAGS (so an instruction breakpoint lets its
     * instruction run):
     * <pre>
     *   push %rax; push %rbx; mov 0x32000,%rbx; mov 0x10(%rsp),%rax; mov %rax,0x32100(,%rbx,8)
     *   mov %dr6,%rax; mov %rax,0x32200(,%rbx,8); incq 0x32000; btsq $0x10,0x20(%rsp)
     *   pop %rbx; pop %rax; iretq
     * </pre>
     */
    private static CpuRig rig() {
        CpuRig rig = new CpuRig().longMode();
        rig.load(HANDLER, hex("50 53 48 8b 1c 25 00 20 03 00 48 8b 44 24 10 48 89 04 dd 00 21 03 00 0f 21 f0 48 89 04 dd "
                + "00 22 03 00 48 ff 04 25 00 20 03 00 48 0f ba 6c 24 20 10 5b 58 48 cf"));
        rig.setGate(CpuFault.DB, HANDLER, 0xe, 0, 0);
        return rig;
    }

    private static long count(CpuRig rig) {
        return rig.r64(COUNT);
    }

    private static long rip(CpuRig rig, int i) {
        return rig.r64(RIPS + 8L * i);
    }

    private static long dr6(CpuRig rig, int i) {
        return rig.r64(DR6S + 8L * i);
    }

    /** mov $0x10100,%eax; mov %rax,%dr0; mov $DR7,%eax; mov %rax,%dr7; jmp 0x10100  (10100: nop; nop; hlt) */
    private static CpuRig instructionBreakpointRig(int dr7) {
        CpuRig rig = rig();
        rig.load(CODE + 0x100, hex("90 90 f4"));
        byte[] code = hex("b8 00 01 01 00 0f 23 c0 b8 78 56 34 12 0f 23 f8 e9 eb 00 00 00");
        rig.load(CODE, code);
        rig.memory.write32(CODE + 9, dr7);
        return rig;
    }

    @Test
    void anEnabledInstructionBreakpointFaultsBeforeTheInstructionAndRfLetsItRunOnce() {
        CpuRig rig = instructionBreakpointRig(0x401); // L0, R/W0 = 00 (execute), LEN0 = 00
        assertThat(rig.cpu.run(1000)).isEqualTo(RunStop.HALTED);
        assertThat(count(rig)).isEqualTo(1);
        assertThat(rip(rig, 0)).as("fault: RIP of the instruction").isEqualTo(CODE + 0x100);
        assertThat(dr6(rig, 0)).isEqualTo(DR6_FIXED | B0);
        assertThat(rig.cpu.getRip()).isEqualTo(CODE + 0x103);
        assertThat(rig.cpu.getRflags() & (1 << 16)).as("RF cleared after the instruction").isZero();
    }

    static final long RF = 1 << 16;

    /** mov $dr0,%eax; mov %rax,%dr0; mov $0x401,%eax; mov %rax,%dr7 (L0, execute) */
    private static String breakAt(long dr0) {
        return String.format("b8 %02x %02x %02x 00 0f 23 c0 b8 01 04 00 00 0f 23 f8 ", dr0 & 0xff, (dr0 >> 8) & 0xff,
                (dr0 >> 16) & 0xff);
    }

    /** Pushes an IRETQ frame to CS 0x08 at {@code rip} with RFLAGS 0x10002 (RF) and the RSP of before. */
    private static String iretFrameWithRf(long rip) {
        // mov %rsp,%rax; push $0x10; push %rax; push $0x10002; push $0x08; push $rip
        return String.format("48 89 e0 6a 10 50 68 02 00 01 00 6a 08 68 %02x %02x %02x 00 ", rip & 0xff,
                (rip >> 8) & 0xff, (rip >> 16) & 0xff);
    }

    @Test
    void rfLetsThroughOnlyTheInstructionItReturnsToAndTheNextBreaksAgain() {
        CpuRig rig = rig();
        // DR0 = 0x10100, DR1 = 0x10101, DR7 = L0 | L1; jmp 0x10100   (10100: nop; 10101: nop; hlt)
        rig.load(CODE + 0x100, hex("90 90 f4"));
        rig.run(hex("b8 00 01 01 00 0f 23 c0 b8 01 01 01 00 0f 23 c8 b8 05 04 00 00 0f 23 f8 e9 e3 00 00 00"));
        assertThat(count(rig)).isEqualTo(2);
        assertThat(rip(rig, 0)).isEqualTo(CODE + 0x100);
        assertThat(dr6(rig, 0)).isEqualTo(DR6_FIXED | B0);
        assertThat(rip(rig, 1)).isEqualTo(CODE + 0x101);
        assertThat(dr6(rig, 1)).isEqualTo(DR6_FIXED | B1);
    }

    @Test
    void popfCannotSetRfAndPushfStoresItClear() {
        // SDM POPF: RF is cleared; PUSHF: RF is stored clear. The breakpoint after the POPF fires,
        // and the PUSHF that the handler's RF lets run stores RF clear.
        CpuRig rig = rig();
        // 10010: pushfq; 10011: orq $0x10000,(%rsp); 10019: popfq; 1001a: pushfq (DR0); pop %rax; hlt
        rig.run(hex(breakAt(CODE + 0x1a) + "9c 48 81 0c 24 00 00 01 00 9d 9c 58 f4"));
        assertThat(count(rig)).isEqualTo(1);
        assertThat(rip(rig, 0)).isEqualTo(CODE + 0x1a);
        assertThat(rig.reg(Cpu.RAX) & RF).isZero();
        assertThat(rig.cpu.getRflags() & RF).isZero();
    }

    @Test
    void intNPushesRfClearEvenWhenItBeganWithRfSet() {
        // SDM 17.3.1.1: RF is cleared at the start of an instruction, so a software interrupt
        // pushes it as 0 and its handler's IRET does not mask the next instruction's breakpoint.
        CpuRig rig = new CpuRig().longMode();
        rig.load(CODE + 0x100, hex("cd 32")); // int $0x32
        rig.run(hex(iretFrameWithRf(CODE + 0x100) + "48 cf"));
        assertThat(rig.haltedInVector()).isEqualTo(0x32);
        assertThat(rig.stack(0)).isEqualTo(CODE + 0x102);
        assertThat(rig.stack(2) & RF).as("RF in the pushed RFLAGS").isZero();
    }

    @Test
    void anIretThatBeganWithRfSetLeavesTheRfItPopped() {
        // SDM 17.3.1.1: IRETQ transfers RF from the stack image. An IRETQ returned to with RF set
        // (after a fault on it, say) that pops RF = 1 masks the breakpoint at its target.
        CpuRig rig = rig();
        rig.load(CODE + 0x100, hex("48 cf")); // iretq
        rig.load(CODE + 0x200, hex("90 f4")); // nop (DR0); hlt
        rig.run(hex(breakAt(CODE + 0x200) + iretFrameWithRf(CODE + 0x200) + iretFrameWithRf(CODE + 0x100) + "48 cf"));
        assertThat(count(rig)).isZero();
        assertThat(rig.cpu.getRip()).isEqualTo(CODE + 0x202);
        assertThat(rig.cpu.getRflags() & RF).isZero();
    }

    @Test
    void aRepStringWithAnInstructionBreakpointBreaksOnceThoughItRunsInChunks() {
        // The #DB handler returns with RF set; the REP STOSB then runs in several chunks
        // (REP_CHUNK elements each) without faulting on its breakpoint again.
        CpuRig rig = rig();
        rig.load(CODE + 0x100, hex("f3 aa f4")); // rep stosb; hlt
        // mov $10000,%rcx; mov $0x200000,%edi; xor %eax,%eax; jmp 0x10100
        rig.run(hex(breakAt(CODE + 0x100) + "48 c7 c1 10 27 00 00 bf 00 00 20 00 31 c0 e9 dd 00 00 00"));
        assertThat(count(rig)).isEqualTo(1);
        assertThat(rig.reg(Cpu.RCX)).isZero();
        assertThat(rig.reg(Cpu.RDI)).isEqualTo(0x200000 + 10000);
        assertThat(rig.cpu.getRip()).isEqualTo(CODE + 0x103);
    }

    @Test
    void anInterruptBetweenTheChunksOfARepStringPushesRfSet() {
        // SDM 17.3.1.1: an interrupt after any iteration of a REP string but the last pushes RF = 1,
        // so the IRET back to it does not fault on a breakpoint at the string instruction again.
        CpuRig rig = new CpuRig().longMode();
        // 10000: sti; mov $10000,%rcx; mov $0x200000,%edi; xor %eax,%eax; 1000f: rep stosb; hlt
        rig.load(CODE, hex("fb 48 c7 c1 10 27 00 00 bf 00 00 20 00 31 c0 f3 aa f4"));
        rig.cpu.setRip(CODE);
        assertThat(rig.cpu.run(4)).isEqualTo(RunStop.BUDGET_EXHAUSTED);
        assertThat(rig.cpu.run(1)).isEqualTo(RunStop.BUDGET_EXHAUSTED); // one chunk
        assertThat(rig.reg(Cpu.RCX)).isEqualTo(10000 - CpuExec.REP_CHUNK);
        rig.bus.raise(0x40);
        assertThat(rig.cpu.run(100)).isEqualTo(RunStop.HALTED);
        assertThat(rig.haltedInVector()).isEqualTo(0x40);
        assertThat(rig.stack(0)).isEqualTo(CODE + 0xf);
        assertThat(rig.stack(2) & RF).as("RF in the pushed RFLAGS").isEqualTo(RF);
    }

    @Test
    void aDisabledBreakpointDoesNothing() {
        CpuRig rig = instructionBreakpointRig(0x400);
        assertThat(rig.cpu.run(1000)).isEqualTo(RunStop.HALTED);
        assertThat(count(rig)).isZero();
    }

    @Test
    void theGdbStubsBreakpointsStayApartFromTheGuestsDebugRegisters() {
        CpuRig rig = instructionBreakpointRig(0x402); // G0
        rig.cpu.setDebugTraps(new DebugTraps(new long[] {CODE + 0x100}, new long[0], new long[0], new int[0], false));
        assertThat(rig.cpu.run(1000)).isEqualTo(RunStop.BREAKPOINT);
        assertThat(rig.cpu.getRip()).isEqualTo(CODE + 0x100);
        assertThat(count(rig)).as("the host's stop is no guest #DB").isZero();
        rig.cpu.setDebugTraps(null);
        assertThat(rig.cpu.run(1000)).isEqualTo(RunStop.HALTED);
        assertThat(count(rig)).isEqualTo(1);
        assertThat(dr6(rig, 0)).isEqualTo(DR6_FIXED | B0);
    }

    /**
     * DR1 = 0x30008 with R/W1 and LEN1 from the parameters, then (the RIP after each):
     * <pre>
     * 10010: movb $1,0x30007  no      10018: movb $1,0x30008  always (10020)
     * 10020: movb $1,0x30009  len>=2 (10028)   10028: movb $1,0x3000b  len>=4 (10030)
     * 10030: movb $1,0x3000f  len 8 (10038)    10038: movb $1,0x30010  never
     * 10040: mov 0x30008,%al  R/W 11 only (10047)   10047: movq $0,0x30000  never
     * 10053: movl $0,0x30006  always (1005e)   1005e: hlt
     * </pre>
     */
    @ParameterizedTest
    @CsvSource({"1,1", "2,1", "4,1", "8,1", "1,3", "2,3", "4,3", "8,3"})
    void dataBreakpointsTrapAfterAMatchingAccessForEachLengthAndKind(int length, int rw) {
        int lenBits = length == 1 ? 0 : length == 2 ? 1 : length == 8 ? 2 : 3;
        int dr7 = 0x400 | 0x8 | (rw << 20) | (lenBits << 22); // G1
        CpuRig rig = rig();
        // mov $0x30008,%eax; mov %rax,%dr1; mov $DR7,%eax; mov %rax,%dr7; then the accesses above
        rig.load(CODE, hex("b8 08 00 03 00 0f 23 c8 b8 78 56 34 12 0f 23 f8 c6 04 25 07 00 03 00 01 c6 04 25 08 00 03 00 01 "
                + "c6 04 25 09 00 03 00 01 c6 04 25 0b 00 03 00 01 c6 04 25 0f 00 03 00 01 c6 04 25 10 00 03 00 01 "
                + "8a 04 25 08 00 03 00 48 c7 04 25 00 00 03 00 00 00 00 00 c7 04 25 06 00 03 00 00 00 00 00 f4"));
        rig.memory.write32(CODE + 9, dr7);
        rig.cpu.setRip(CODE);
        assertThat(rig.cpu.run(1000)).isEqualTo(RunStop.HALTED);
        java.util.List<Long> expected = new java.util.ArrayList<>();
        expected.add(CODE + 0x20);
        if (length >= 2) {
            expected.add(CODE + 0x28);
        }
        if (length >= 4) {
            expected.add(CODE + 0x30);
        }
        if (length == 8) {
            expected.add(CODE + 0x38);
        }
        if (rw == 3) {
            expected.add(CODE + 0x47);
        }
        expected.add(CODE + 0x5e);
        assertThat(count(rig)).isEqualTo(expected.size());
        for (int i = 0; i < expected.size(); i++) {
            assertThat(rip(rig, i)).as("trap %d", i).isEqualTo(expected.get(i));
            assertThat(dr6(rig, i)).isEqualTo(DR6_FIXED | B1);
        }
    }

    @Test
    void singleStepTrapsAfterEachInstructionThatBeganWithTfIncludingThePopfThatClearsIt() {
        CpuRig rig = rig();
        // 10000: pushf; pop %rax; or $0x100,%rax; push %rax; popf   (sets TF: no trap after it)
        // 1000a: nop; 1000b: and $~0x100,%rax; 10011: push %rax; 10012: popf (clears TF); 10013: nop; hlt
        rig.run(hex("9c 58 48 0d 00 01 00 00 50 9d 90 48 25 ff fe ff ff 50 9d 90 f4"));
        assertThat(count(rig)).isEqualTo(4);
        long[] rips = {CODE + 0xb, CODE + 0x11, CODE + 0x12, CODE + 0x13};
        for (int i = 0; i < 4; i++) {
            assertThat(rip(rig, i)).isEqualTo(rips[i]);
            assertThat(dr6(rig, i)).isEqualTo(DR6_FIXED | BS);
        }
    }

    @Test
    void movSsSuppressesTheSingleStepTrapAfterIt() {
        CpuRig rig = rig();
        // pushf; pop %rax; or $0x100,%rax; push %rax; mov %ss,%bx; popf; 1000d: mov %ebx,%ss
        // 1000f: nop; 10010: and $~0x100,%rax; 10016: push %rax; 10017: popf; 10018: hlt
        rig.run(hex("9c 58 48 0d 00 01 00 00 50 66 8c d3 9d 8e d3 90 48 25 ff fe ff ff 50 9d f4"));
        assertThat(count(rig)).isEqualTo(4);
        assertThat(rip(rig, 0)).as("none after MOV SS").isEqualTo(CODE + 0x10);
        assertThat(rip(rig, 3)).isEqualTo(CODE + 0x18);
    }

    @Test
    void intNClearsTfWithNoSingleStepTrapAfterIt() {
        CpuRig rig = rig();
        // pushf; pop %rax; or $0x100,%rax; push %rax; popf; 1000a: nop; 1000b: int $0x80
        rig.run(hex("9c 58 48 0d 00 01 00 00 50 9d 90 cd 80"));
        assertThat(count(rig)).isEqualTo(1);
        assertThat(rip(rig, 0)).isEqualTo(CODE + 0xb);
        assertThat(rig.haltedInVector()).isEqualTo(0x80);
    }

    @ParameterizedTest
    @CsvSource({"false,0", "true,1"})
    void anInstructionBreakpointAfterMovSsIsInhibitedOnIntelAndTakenOnAmd(boolean amd, int expected) {
        CpuRig rig = rig();
        rig.bus.amd = amd;
        // 10000: mov $0x10015,%eax; mov %rax,%dr0; mov $0x401,%eax; mov %rax,%dr7
        // 10010: mov %ss,%bx; 10013: mov %ebx,%ss; 10015: nop (DR0); 10016: hlt
        rig.run(hex("b8 15 00 01 00 0f 23 c0 b8 01 04 00 00 0f 23 f8 66 8c d3 8e d3 90 f4"));
        assertThat(count(rig)).isEqualTo(expected);
        if (amd) {
            assertThat(rip(rig, 0)).isEqualTo(CODE + 0x15);
        }
    }

    @Test
    void generalDetectFaultsOnMovDrSetsBdAndClearsGd() {
        CpuRig rig = rig();
        // 10000: mov $0x2400,%eax; 10005: mov %rax,%dr7; 10008: mov %dr0,%rax; 1000b: mov %dr7,%rbx; hlt
        rig.run(hex("b8 00 24 00 00 0f 23 f8 0f 21 c0 0f 21 fb f4"));
        assertThat(count(rig)).isEqualTo(1);
        assertThat(rip(rig, 0)).as("fault: the MOV DR again").isEqualTo(CODE + 8);
        assertThat(dr6(rig, 0)).isEqualTo(DR6_FIXED | BD);
        assertThat(rig.reg(Cpu.RBX)).as("GD cleared by the #DB").isEqualTo(0x400);
    }

    @Test
    void int1IsATrapLikeDbThatClearsB0ToB3() {
        CpuRig rig = rig();
        // mov $0xf,%eax; mov %rax,%dr6; 10008: int1; 10009: hlt
        rig.run(hex("b8 0f 00 00 00 0f 23 f0 f1 f4"));
        assertThat(count(rig)).isEqualTo(1);
        assertThat(rip(rig, 0)).isEqualTo(CODE + 9);
        assertThat(dr6(rig, 0)).isEqualTo(DR6_FIXED);
    }
}

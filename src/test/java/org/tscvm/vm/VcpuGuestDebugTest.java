package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.tscvm.memory.GuestMemory;

/**
 * The debugger's side of the vCPU (KVM_GET_REGS/SREGS, KVM_TRANSLATE, KVM_SET_GUEST_DEBUG) on
 * a 64-bit loop that the block compiler has already compiled: breakpoints, steps and
 * watchpoints must still be exact.
 */
class VcpuGuestDebugTest {
    private static final long CODE = 0x10000, PML4 = 0x1000, PT = 0x4000, DATA_PHYS = 0x5000;
    /** Linear 0x400000 maps through a 4 KiB page to {@link #DATA_PHYS}. */
    private static final long DATA = 0x400000;
    /**
     * <pre>
     * 10000: 48 ff c0                   inc rax
     * 10003: 48 89 04 25 00 00 40 00    mov [0x400000], rax
     * 1000b: 48 39 d8                   cmp rax, rbx
     * 1000e: 75 f0                      jne 10000
     * 10010: f4                         hlt
     * </pre>
     */
    private static final byte[] LOOP = {0x48, (byte) 0xff, (byte) 0xc0, 0x48, (byte) 0x89, 0x04, 0x25, 0, 0, 0x40, 0,
        0x48, 0x39, (byte) 0xd8, 0x75, (byte) 0xf0, (byte) 0xf4};

    private final TestVms t = TestVms.create(VmConfig.builder().compileThreshold(2));
    private final Vcpu vcpu = t.vm.createVcpu();
    private final GuestMemory memory = t.vm.memory();

    @BeforeEach
    void compileTheLoop() {
        memory.write64(PML4, 0x2000 | 7);
        memory.write64(0x2000, 0x3000 | 7);
        memory.write64(0x3000, 0x87);         // 0-2 MiB: one large page, identity
        memory.write64(0x3000 + 2 * 8, PT | 7); // 4-6 MiB: a page table
        memory.write64(PT, DATA_PHYS | 3);      // 0x400000 -> 0x5000, accessed bit clear
        memory.load(CODE, LOOP, 0, LOOP.length);
        LongModeGuest.enter(vcpu, CODE, PML4);
        LongModeGuest.set(vcpu, "rsp", 0x80000);
        LongModeGuest.set(vcpu, "rbx", 100);
        assertThat(vcpu.run()).isInstanceOf(VcpuExit.Halt.class);
        assertThat(vcpu.compiledBlocks()).isPositive();
        restartLoop(1000);
    }

    private void restartLoop(long iterations) {
        VcpuRegs r = vcpu.getRegs();
        vcpu.setRegs(new VcpuRegs(0, iterations, r.rcx(), r.rdx(), r.rsi(), r.rdi(), r.rsp(), r.rbp(), r.r8(), r.r9(),
                r.r10(), r.r11(), r.r12(), r.r13(), r.r14(), r.r15(), CODE, r.rflags()));
    }

    @Test
    void aBreakpointStopsBeforeItsInstructionEvenInACompiledLoopAndAStepRunsExactlyOne() {
        vcpu.setGuestDebug(new GuestDebug(false, Set.of(CODE + 0xb), List.of()));
        long retired = vcpu.instructionsRetired();

        assertThat(vcpu.run()).isEqualTo(new VcpuExit.Debug(VcpuExit.Debug.Reason.BREAKPOINT, CODE + 0xb));
        assertThat(vcpu.getRegs().rax()).isEqualTo(1);
        assertThat(memory.read64(DATA_PHYS)).isEqualTo(1);
        assertThat(vcpu.instructionsRetired() - retired).isEqualTo(2);
        // Resumed at its breakpoint, a vCPU stops there again: a debugger steps over it without it.
        assertThat(vcpu.run()).isEqualTo(new VcpuExit.Debug(VcpuExit.Debug.Reason.BREAKPOINT, CODE + 0xb));

        vcpu.setGuestDebug(new GuestDebug(true, Set.of(), List.of()));
        assertThat(vcpu.run()).isEqualTo(new VcpuExit.Debug(VcpuExit.Debug.Reason.SINGLE_STEP, CODE + 0xe));
        assertThat(vcpu.instructionsRetired() - retired).isEqualTo(3);

        vcpu.setGuestDebug(GuestDebug.NONE);
        assertThat(vcpu.run()).isInstanceOf(VcpuExit.Halt.class);
        assertThat(vcpu.getRegs().rax()).isEqualTo(1000);
    }

    @Test
    void aWriteWatchpointOnAVirtualAddressStopsAfterTheStoreThoughThePageWasInTheTlb() {
        vcpu.setGuestDebug(new GuestDebug(false, Set.of(),
                List.of(new GuestDebug.Watchpoint(DATA + 4, 1, GuestDebug.WatchKind.WRITE))));

        assertThat(vcpu.run()).isEqualTo(new VcpuExit.Debug(VcpuExit.Debug.Reason.WATCH_WRITE, DATA + 4));
        assertThat(vcpu.getRegs().rip()).as("after the store").isEqualTo(CODE + 0xb);
        assertThat(memory.read64(DATA_PHYS)).isEqualTo(1);

        vcpu.setGuestDebug(new GuestDebug(false, Set.of(),
                List.of(new GuestDebug.Watchpoint(DATA + 8, 8, GuestDebug.WatchKind.ACCESS))));
        assertThat(vcpu.run()).as("nothing touches the next quadword").isInstanceOf(VcpuExit.Halt.class);
    }

    @Test
    void registersRoundTripAndTranslateFollowsThePageTablesWithoutSettingAccessedBits() {
        VcpuRegs regs = vcpu.getRegs();
        vcpu.setRegs(regs);
        assertThat(vcpu.getRegs()).isEqualTo(regs);

        VcpuSregs sregs = vcpu.getSregs();
        assertThat(sregs.cs().selector()).isEqualTo(0x08);
        assertThat(sregs.cr3()).isEqualTo(PML4);
        assertThat(sregs.efer() & (1 << 10)).as("EFER.LMA").isNotZero();
        vcpu.setSregs(sregs.withSegmentBases(0x1234, 0x5678));
        assertThat(vcpu.getSregs()).isEqualTo(sregs.withSegmentBases(0x1234, 0x5678));

        long pteBefore = memory.read64(PT);
        assertThat(vcpu.translate(DATA)).isEqualTo(DATA_PHYS);
        assertThat(vcpu.translate(DATA + 0xfff)).isEqualTo(DATA_PHYS + 0xfff);
        assertThat(vcpu.translate(DATA + 0x1000)).as("no entry").isEqualTo(-1);
        assertThat(vcpu.translate(CODE)).as("the identity large page").isEqualTo(CODE);
        assertThat(vcpu.translate(0x0000_8000_0000_0000L)).as("not canonical").isEqualTo(-1);
        assertThat(memory.read64(PT)).as("the PTE, untouched").isEqualTo(pteBefore);
    }
}

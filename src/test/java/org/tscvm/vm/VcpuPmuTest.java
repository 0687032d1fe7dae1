package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tscvm.TscvmException;
import org.tscvm.cpu.CpuBus;
import org.tscvm.cpu.CpuFault;
import org.tscvm.memory.GuestMemory;

/**
 * The architectural PMU of {@code -cpu max} and the VMware backdoor, seen from 64-bit guest
 * code on a vCPU whose blocks compile after two runs: counts are exact to the instruction, the
 * privilege filter holds, an overflow raises its PMI on the instruction that overflowed, and
 * the backdoor port answers GETVERSION.
 */
class VcpuPmuTest {
    private static final long CODE = 0x10000, PML4 = 0x1000;
    private static final int PMC0 = 0xc1, PERFEVTSEL0 = 0x186, FIXED_CTR0 = 0x309, FIXED_CTR_CTRL = 0x38d,
            GLOBAL_STATUS = 0x38e, GLOBAL_CTRL = 0x38f;
    /** PERFEVTSEL: instructions retired (0xC0), USR, OS, INT, EN. */
    private static final long INSTRUCTIONS = 0xc0, USR = 1 << 16, OS = 1 << 17, INT = 1 << 20, EN = 1 << 22;

    /** A vCPU with the identity-mapped first 2 MiB, its blocks compiled after two runs. */
    private static final class Guest {
        final TestVms t;
        final Vcpu vcpu;
        final GuestMemory memory;

        Guest(VmConfig.Builder config) {
            t = TestVms.create(config.compileThreshold(2));
            vcpu = t.vm.createVcpu();
            memory = t.vm.memory();
            memory.write64(PML4, 0x2000 | 7);
            memory.write64(0x2000, 0x3000 | 7);
            memory.write64(0x3000, 0x87); // 0-2 MiB: one large page, identity
        }

        VcpuExit run(String code, long rbx) {
            byte[] bytes = hex(code);
            memory.load(CODE, bytes, 0, bytes.length);
            LongModeGuest.enter(vcpu, CODE, PML4);
            LongModeGuest.set(vcpu, "rsp", 0x80000);
            LongModeGuest.set(vcpu, "rbx", rbx);
            return vcpu.run();
        }
    }

    private final Guest max = new Guest(VmConfig.builder().cpuid(CpuidModel.named("max")));
    private final Vcpu vcpu = max.vcpu;

    private static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replace(" ", ""));
    }

    /**
     * Enables PERFEVTSEL0 with the selector in EAX, loops RBX times, disables it and reads PMC0:
     * <pre>
     * b9 86 01 00 00     mov ecx, 0x186
     * b8 xx xx xx xx     mov eax, SELECTOR
     * 31 d2              xor edx, edx
     * 0f 30              wrmsr              (counts: it retires with the counter on)
     * 48 ff cb     1:    dec rbx
     * 75 fb              jnz 1b
     * 31 c0              xor eax, eax
     * 0f 30              wrmsr              (does not count: it turned the counter off)
     * b9 c1 00 00 00     mov ecx, 0xc1
     * 0f 32              rdmsr
     * f4                 hlt
     * </pre>
     */
    private static String countLoop(long selector) {
        StringBuilder imm = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            imm.append(String.format(" %02x", (selector >>> (8 * i)) & 0xff));
        }
        return "b9 86 01 00 00 b8" + imm + " 31 d2 0f 30 48 ff cb 75 fb 31 c0 0f 30 b9 c1 00 00 00 0f 32 f4";
    }

    @Test
    void instructionsRetiredCountExactlyThroughACompiledLoopFromTheEnablingWrmsrToTheDisablingOne() {
        vcpu.setMsr(FIXED_CTR_CTRL, 0x3); // fixed counter 0 (instructions), OS and USR, from the host
        long before = vcpu.instructionsRetired();

        assertThat(max.run(countLoop(EN | OS | USR | INSTRUCTIONS), 1000)).isInstanceOf(VcpuExit.Halt.class);

        assertThat(vcpu.compiledBlocks()).isPositive();
        assertThat(vcpu.getRegs().rax()).as("wrmsr + 2000 loop instructions + xor").isEqualTo(2002);
        assertThat(vcpu.getMsr(PMC0)).isEqualTo(2002);
        assertThat(vcpu.getMsr(FIXED_CTR0)).as("every instruction of the run, HLT included")
                .isEqualTo(vcpu.instructionsRetired() - before);
        assertThat(vcpu.getMsr(GLOBAL_STATUS)).isZero();
    }

    @Test
    void aCounterForUserModeOnlyCountsNothingAtCpl0AndCoreCyclesFollowInstructions() {
        assertThat(max.run(countLoop(EN | USR | INSTRUCTIONS), 1000)).isInstanceOf(VcpuExit.Halt.class);
        assertThat(vcpu.getRegs().rax()).isZero();

        assertThat(max.run(countLoop(EN | OS | 0x3c), 1000)).isInstanceOf(VcpuExit.Halt.class);
        assertThat(vcpu.getRegs().rax()).as("unhalted core cycles: one per instruction").isEqualTo(2002);

        vcpu.setMsr(PMC0, 0);
        assertThat(max.run(countLoop(EN | OS | USR | 0x2000000L | INSTRUCTIONS), 1000)).isInstanceOf(VcpuExit.Halt.class);
        assertThat(vcpu.getRegs().rax()).as("counter mask 2: never two instructions a cycle").isZero();
    }

    /**
     * Kernel code that enables PERFEVTSEL0 for user mode only (PERFEVTSEL1, set by the host,
     * counts kernel mode only) and IRETs to a user loop whose HLT is #GP, which without an IDT
     * shuts the vCPU down:
     * <pre>
     * b9 86 01 00 00 b8 c0 00 41 00 31 d2 0f 30   mov ecx, 0x186; mov eax, EN|USR|0xC0; xor edx, edx; wrmsr
     * 6a 23 68 00 00 07 00 6a 02 6a 2b            push 0x23; push 0x70000; push 2; push 0x2b
     * 68 00 01 01 00 48 cf                        push 0x10100; iretq
     * 10100: 48 ff cb 75 fb f4                    1: dec rbx; jnz 1b; hlt (#GP at CPL 3)
     * </pre>
     */
    @Test
    void usrAndOsCountersSplitTheInstructionsAtThePrivilegeChangeOfAnIret() {
        long gdt = 0x500;
        max.memory.write64(gdt + 0x08, 0x00af9a000000ffffL); // 64-bit code, DPL 0
        max.memory.write64(gdt + 0x10, 0x00cf92000000ffffL); // data, DPL 0
        max.memory.write64(gdt + 0x20, 0x00cff2000000ffffL); // data, DPL 3
        max.memory.write64(gdt + 0x28, 0x00affa000000ffffL); // 64-bit code, DPL 3
        byte[] user = hex("48 ff cb 75 fb f4");
        max.memory.load(0x10100, user, 0, user.length);
        byte[] kernel = hex("b9 86 01 00 00 b8 c0 00 41 00 31 d2 0f 30 6a 23 68 00 00 07 00 6a 02 6a 2b"
                + " 68 00 01 01 00 48 cf");
        max.memory.load(CODE, kernel, 0, kernel.length);
        LongModeGuest.enter(vcpu, CODE, PML4, gdt, 0x2f, 0);
        LongModeGuest.set(vcpu, "rsp", 0x80000);
        LongModeGuest.set(vcpu, "rbx", 1000);
        vcpu.setMsr(PERFEVTSEL0 + 1, EN | OS | INSTRUCTIONS);

        assertThat(vcpu.run()).isInstanceOf(VcpuExit.TripleFault.class);

        assertThat(vcpu.getMsr(PMC0)).as("user: the IRET that arrived there, and the loop").isEqualTo(1 + 2000);
        assertThat(vcpu.getMsr(PMC0 + 1)).as("kernel: up to the IRET").isEqualTo(9);
    }

    @Test
    void branchesRetiredCountEveryJccTakenOrNotWhileTheLoopWouldOtherwiseRunCompiled() {
        assertThat(max.run(countLoop(EN | OS | USR | INSTRUCTIONS), 1000)).isInstanceOf(VcpuExit.Halt.class);
        long compiled = vcpu.compiledBlocks();
        assertThat(compiled).isPositive();

        vcpu.setMsr(PMC0, 0);
        assertThat(max.run(countLoop(EN | OS | USR | 0xc4), 1000)).isInstanceOf(VcpuExit.Halt.class);
        assertThat(vcpu.getRegs().rax()).as("999 taken jnz and the last, not taken").isEqualTo(1000);
    }

    /** Records when each PMI came, in retired instructions. */
    private static final class PmiController extends VcpuPlatformTest.FakeController {
        final List<Long> pmis = new ArrayList<>();
        Vcpu vcpu;

        @Override
        public void performanceCounterOverflow() {
            pmis.add(vcpu.instructionsRetired());
        }
    }

    @Test
    void anOverflowSetsItsStatusBitAndRaisesThePmiOnTheInstructionThatOverflowed() {
        PmiController controller = new PmiController();
        controller.vcpu = vcpu;
        vcpu.setInterruptController(controller);
        vcpu.setMsr(PMC0, (1L << 48) - 10);
        vcpu.setMsr(PERFEVTSEL0, EN | OS | USR | INT | INSTRUCTIONS);
        long before = vcpu.instructionsRetired();

        // 48 ff cb  1: dec rbx; 75 fb jnz 1b; f4 hlt
        assertThat(max.run("48 ff cb 75 fb f4", 1000)).isInstanceOf(VcpuExit.Halt.class);

        assertThat(controller.pmis).containsExactly(before + 10);
        assertThat(vcpu.getMsr(GLOBAL_STATUS)).isEqualTo(1);
        assertThat(vcpu.getMsr(PMC0)).isEqualTo(2001 - 10);
    }

    @Test
    void thePmuTravelsInASavedStateWithoutCountingAcrossRestoresAndResetClearsIt() {
        PmiController controller = new PmiController();
        controller.vcpu = vcpu;
        vcpu.setInterruptController(controller);
        vcpu.setMsr(PERFEVTSEL0, EN | OS | USR | INT | INSTRUCTIONS);
        VcpuState early = vcpu.saveState();
        assertThat(max.run("48 ff cb 75 fb f4", 1000)).isInstanceOf(VcpuExit.Halt.class);
        VcpuState late = vcpu.saveState();
        assertThat(late.msrs().value(PMC0)).hasValue(2001);

        vcpu.restoreState(early);
        vcpu.setMsr(PMC0, (1L << 48) - 5); // five instructions from an overflow
        vcpu.restoreState(late);             // 2001 instructions later, none of them run here

        assertThat(controller.pmis).isEmpty();
        assertThat(vcpu.getMsr(PMC0)).isEqualTo(2001);
        assertThat(vcpu.getMsr(GLOBAL_STATUS)).isZero();

        vcpu.reset();
        assertThat(vcpu.getMsr(PMC0)).isZero();
        assertThat(vcpu.getMsr(PERFEVTSEL0)).isZero();
        assertThat(vcpu.getMsr(GLOBAL_CTRL)).isEqualTo(0xf | 7L << 32);
    }

    @Test
    void rdpmcInACompiledLoopReadsTheCountAtItsOwnInstruction() {
        vcpu.setMsr(PERFEVTSEL0, EN | OS | USR | INSTRUCTIONS);
        vcpu.setMsr(PMC0, 0);
        // 31 c9  xor ecx, ecx;  0f 33  1: rdpmc;  48 ff cb  dec rbx;  75 f9  jnz 1b;  f4  hlt
        assertThat(max.run("31 c9 0f 33 48 ff cb 75 f9 f4", 100)).isInstanceOf(VcpuExit.Halt.class);

        assertThat(vcpu.compiledBlocks()).isPositive();
        assertThat(vcpu.getRegs().rax()).as("the 100th RDPMC: xor and 99 rounds of three before it").isEqualTo(1 + 3 * 99);
        assertThat(vcpu.getRegs().rdx()).isZero();
    }

    @Test
    void aCounterOffInGlobalCtrlDoesNotCount() {
        vcpu.setMsr(GLOBAL_CTRL, 0);
        assertThat(max.run(countLoop(EN | OS | USR | INSTRUCTIONS), 1000)).isInstanceOf(VcpuExit.Halt.class);
        assertThat(vcpu.getRegs().rax()).isZero();
    }

    @Test
    void leafAIsTheArchitecturalPmuInMaxOnlyAndAbsentForAmdAndTheDefaultModel() {
        int[] out = new int[4];
        vcpu.cpuid(0xA, 0, out);
        assertThat(out).as("ref cycles, LLC events and branch mispredicts unavailable")
                .containsExactly(2 | 4 << 8 | 48 << 16 | 7 << 24, 0x5c, 0, 3 | 48 << 5);

        vcpu.setCpuid(CpuidModel.parse("max,vendor=AuthenticAMD"));
        vcpu.cpuid(0xA, 0, out);
        assertThat(out).containsOnly(0);

        vcpu.setCpuid(CpuidModel.tscvm());
        vcpu.cpuid(0xA, 0, out);
        assertThat(out).containsOnly(0);
        assertThatThrownBy(() -> vcpu.guest().rdpmc(0)).isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> vcpu.guest().rdmsr(PMC0)).isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> vcpu.getMsr(PMC0)).isInstanceOf(TscvmException.class);
    }

    @Test
    void reservedBitsAndReadOnlyStatusAreGpForTheGuest() {
        CpuBus guest = vcpu.guest();
        assertThatThrownBy(() -> guest.wrmsr(PERFEVTSEL0, 1L << 40)).isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> guest.wrmsr(GLOBAL_CTRL, 1L << 4)).isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> guest.wrmsr(GLOBAL_STATUS, 1)).isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> guest.rdpmc(4)).isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> guest.rdpmc(3 | 1 << 30)).isInstanceOf(CpuFault.class);
        guest.wrmsr(PMC0, 0xff_8000_0001L);
        assertThat(guest.rdpmc(0)).as("bits 31:0 sign-extended to 48 bits").isEqualTo(0xffff_8000_0001L);
        assertThat(guest.rdpmc(0 | 1 << 31)).as("fast read: the low 32 bits").isEqualTo(0x8000_0001L);
    }

    /**
     * <pre>
     * b8 68 58 4d 56     mov eax, 0x564d5868   (the magic)
     * b9 xx 00 00 00     mov ecx, COMMAND
     * ba 58 56 00 00     mov edx, 0x5658
     * ed                 in eax, dx
     * f4                 hlt
     * </pre>
     */
    private static String backdoor(int command) {
        return String.format("b8 68 58 4d 56 b9 %02x %02x 00 00 ba 58 56 00 00 ed f4", command & 0xff, command >>> 8);
    }

    @Test
    void theBackdoorAnswersGetversionAndLeavesEaxForAnUnknownCommand() {
        Guest on = new Guest(VmConfig.builder().vmwareBackdoor(true));
        assertThat(on.run(backdoor(0x0a), 0)).isInstanceOf(VcpuExit.Halt.class);
        VcpuRegs r = on.vcpu.getRegs();
        assertThat(r.rax()).as("version").isEqualTo(6);
        assertThat(r.rbx()).as("magic").isEqualTo(0x564d5868L);
        assertThat(r.rcx()).as("VMX type").isEqualTo(2);

        assertThat(on.run(backdoor(0xfff), 0xdeadbeefL)).isInstanceOf(VcpuExit.Halt.class);
        assertThat(on.vcpu.getRegs().rax()).isEqualTo(0x564d5868L);
        assertThat(on.vcpu.getRegs().rbx()).isEqualTo(0xdeadbeefL);

        Guest off = new Guest(VmConfig.builder());
        assertThat(off.run(backdoor(0x0a), 0)).isInstanceOf(VcpuExit.Halt.class);
        assertThat(off.vcpu.getRegs().rbx()).as("no backdoor: an empty port").isZero();
    }

    @Test
    void pseudoPmcsAreTheHostTscItsNanosecondsAndThoseSinceKvmclockStarted() {
        Guest on = new Guest(VmConfig.builder().vmwareBackdoor(true));
        on.t.clock.advance(2_500_000);
        CpuBus guest = on.vcpu.guest();
        long hostTsc = on.t.clock.now();
        assertThat(guest.vmwarePseudoPmc(CpuBus.VMWARE_PMC_HOST_TSC)).isEqualTo(hostTsc);
        long real = guest.vmwarePseudoPmc(CpuBus.VMWARE_PMC_REAL_TIME);
        assertThat(real).isEqualTo(on.t.clock.nanosAt(hostTsc));
        assertThat(real - guest.vmwarePseudoPmc(CpuBus.VMWARE_PMC_APPARENT_TIME))
                .as("kvmclock's offset: the host ns when the VM was created")
                .isEqualTo(on.t.clock.nanosAt(1_000_000_000L));
    }
}

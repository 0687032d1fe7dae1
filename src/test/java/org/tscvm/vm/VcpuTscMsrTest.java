package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tscvm.cpu.CpuBus;
import org.tscvm.cpu.CpuFault;
import org.tscvm.cpu.Msr;

/** The TSC MSRs through the API, one test per rule of tsc-semantics.md. */
class VcpuTscMsrTest {
    private final TestVms t = TestVms.create();
    private final Vcpu vcpu = t.vm.createVcpu();
    private final CpuBus guest = vcpu.guest();

    @Test
    void guestRdtscAndRdmsrOfTscReturnScaledHostTscPlusOffsetR1R2() {
        t.clock.advance(5_000);
        assertThat(guest.rdtsc()).isEqualTo(5_000);
        assertThat(guest.rdmsr(Msr.IA32_TSC)).isEqualTo(5_000);
        vcpu.setTscKhz(5_000_000); // ratio 2.0, offset kept (R14)
        long hostTsc = t.clock.now();
        assertThat(guest.rdtsc()).isEqualTo(2 * hostTsc + vcpu.getTscOffset());
        assertThat(guest.rdtsc()).isEqualTo(vcpu.guestTscAt(hostTsc));
    }

    @Test
    void hostReadOfTscReturnsL1sTscR3() {
        t.clock.advance(1_234);
        assertThat(vcpu.getMsr(Msr.IA32_TSC)).isEqualTo(1_234).isEqualTo(guest.rdmsr(Msr.IA32_TSC));
    }

    @Test
    void guestWriteToTscMovesTscAdjustByTheDeltaR4() {
        t.clock.advance(1_000);
        guest.wrmsr(Msr.IA32_TSC, 50_000);
        assertThat(guest.rdmsr(Msr.IA32_TSC_ADJUST)).isEqualTo(49_000);
        assertThat(guest.rdtsc()).isEqualTo(50_000);
        t.clock.advance(10);
        assertThat(guest.rdtsc()).isEqualTo(50_010);
    }

    @Test
    void guestWriteToTscUpdatesTscAdjustEvenWithoutTheCpuidBitR4() {
        vcpu.setCpuid(CpuidModel.parse("tscvm,-tsc-adjust"));
        t.clock.advance(1_000);
        guest.wrmsr(Msr.IA32_TSC, 0);
        assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).isEqualTo(-1_000);
    }

    @Test
    void guestWriteToTscAdjustMovesTheTscByTheDifferenceR6() {
        t.clock.advance(100);
        guest.wrmsr(Msr.IA32_TSC_ADJUST, 1_000_000);
        assertThat(guest.rdtsc()).isEqualTo(1_000_100);
        guest.wrmsr(Msr.IA32_TSC_ADJUST, 400);
        assertThat(guest.rdtsc()).isEqualTo(500);
        assertThat(guest.rdmsr(Msr.IA32_TSC_ADJUST)).isEqualTo(400);
    }

    @Test
    void guestWriteToTscAdjustWithoutTheCpuidBitIsDroppedUnderTheKvmPolicyR6A4() {
        vcpu.setCpuid(CpuidModel.parse("tscvm,-tsc-adjust"));
        guest.wrmsr(Msr.IA32_TSC_ADJUST, 1_000_000);
        assertThat(guest.rdtsc()).isZero();
        assertThat(guest.rdmsr(Msr.IA32_TSC_ADJUST)).isZero();
    }

    @Test
    void guestReadOfTscAdjustReturnsTheValueWhateverCpuidSaysR7() {
        guest.wrmsr(Msr.IA32_TSC, 777); // A = 777
        vcpu.setCpuid(CpuidModel.parse("tscvm,-tsc-adjust"));
        assertThat(guest.rdmsr(Msr.IA32_TSC_ADJUST)).isEqualTo(777);
    }

    @Test
    void strictPolicyRaisesGpForGuestAccessToTscAdjustWithoutTheCpuidBitA4() {
        TestVms strict = TestVms.create(VmConfig.builder().msrPolicy(MsrPolicy.STRICT)
                .cpuid(CpuidModel.parse("tscvm,-tsc-adjust")));
        Vcpu v = strict.vm.createVcpu();
        assertThatThrownBy(() -> v.guest().rdmsr(Msr.IA32_TSC_ADJUST)).isInstanceOfSatisfying(CpuFault.class,
                f -> assertThat(f.vector()).isEqualTo(CpuFault.GP));
        assertThatThrownBy(() -> v.guest().wrmsr(Msr.IA32_TSC_ADJUST, 5)).isInstanceOfSatisfying(CpuFault.class,
                f -> assertThat(f.errorCode()).isZero());
        // The host is not the guest: R8 applies (dropped), and reads return A.
        v.setMsr(Msr.IA32_TSC_ADJUST, 5);
        assertThat(v.getMsr(Msr.IA32_TSC_ADJUST)).isZero();
        // With the CPUID bit, strict behaves like KVM.
        v.setCpuid(CpuidModel.tscvm());
        v.guest().wrmsr(Msr.IA32_TSC_ADJUST, 5);
        assertThat(v.guest().rdmsr(Msr.IA32_TSC_ADJUST)).isEqualTo(5);
    }

    @Test
    void hostWriteToTscAdjustNeverMovesTheTscR8() {
        t.clock.advance(9_000);
        vcpu.setMsr(Msr.IA32_TSC_ADJUST, 123_456L << 30);
        assertThat(guest.rdtsc()).isEqualTo(9_000);
        assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).isEqualTo(123_456L << 30);
        assertThat(guest.rdmsr(Msr.IA32_TSC_ADJUST)).isEqualTo(123_456L << 30);
    }

    @Test
    void hostWriteToTscAdjustWithoutTheCpuidBitIsDroppedSilentlyR8() {
        vcpu.setCpuid(CpuidModel.parse("tscvm,-tsc-adjust"));
        vcpu.setMsr(Msr.IA32_TSC_ADJUST, 42);
        assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).isZero();
    }

    @Test
    void hostWriteToTscLeavesTscAdjustAloneR9() {
        guest.wrmsr(Msr.IA32_TSC_ADJUST, 8);
        vcpu.setMsr(Msr.IA32_TSC, 72_000_000_000L);
        assertThat(guest.rdtsc()).isEqualTo(72_000_000_000L);
        assertThat(guest.rdmsr(Msr.IA32_TSC_ADJUST)).isEqualTo(8);
    }

    @Test
    void hostTscAdjustIsVisibleInRdtscButNotInRdmsrTscAdjustA2() {
        t.clock.advance(1_000);
        guest.wrmsr(Msr.IA32_TSC_ADJUST, 300);
        assertThat(guest.rdtsc()).isEqualTo(1_300);
        t.vm.setHostTscAdjust(1_000_000);
        assertThat(guest.rdtsc()).isEqualTo(1_001_300);
        assertThat(guest.rdtsc()).isEqualTo(t.clock.now() + vcpu.getTscOffset());
        assertThat(guest.rdmsr(Msr.IA32_TSC_ADJUST)).isEqualTo(300);
        assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).isEqualTo(300);
        assertThat(t.vm.hostTscAdjust()).isEqualTo(1_000_000);
    }

    @Test
    void hostTscAdjustFromTheConfigIsInTheHostTscA2() {
        TestVms adjusted = TestVms.create(VmConfig.builder().hostTscAdjust(5_000));
        assertThat(adjusted.clock.now()).isEqualTo(1_000_005_000L);
        Vcpu v = adjusted.vm.createVcpu();
        assertThat(v.guest().rdtsc()).isZero(); // R12: TSC 0 at creation, the offset absorbs both
        assertThat(v.getTscOffset()).isEqualTo(-1_000_005_000L);
    }

    @Test
    void tscOffsetIncludesTheGuestsTscAdjustWritesR24() {
        long before = vcpu.getTscOffset();
        guest.wrmsr(Msr.IA32_TSC_ADJUST, 1L << 40);
        assertThat(vcpu.getTscOffset() - before).isEqualTo(1L << 40);
    }

    @Test
    void tscAuxNeedsRdtscpOrRdpidForTheGuestR21() {
        guest.wrmsr(Msr.IA32_TSC_AUX, 0x100);
        assertThat(guest.tscAux()).isEqualTo(0x100);
        assertThat(guest.rdmsr(Msr.IA32_TSC_AUX)).isEqualTo(0x100);
        vcpu.setCpuid(CpuidModel.parse("tscvm,-rdtscp"));
        guest.wrmsr(Msr.IA32_TSC_AUX, 7); // RDPID alone is enough
        vcpu.setCpuid(CpuidModel.parse("tscvm,-rdtscp,-rdpid"));
        assertThatThrownBy(() -> guest.wrmsr(Msr.IA32_TSC_AUX, 1)).isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> guest.rdmsr(Msr.IA32_TSC_AUX)).isInstanceOf(CpuFault.class);
        // The host skips the CPUID check.
        vcpu.setMsr(Msr.IA32_TSC_AUX, 9);
        assertThat(vcpu.getMsr(Msr.IA32_TSC_AUX)).isEqualTo(9);
    }

    @Test
    void tscAuxRefusesBits63To32ForAnIntelModelFromGuestAndHostR21() {
        assertThatThrownBy(() -> guest.wrmsr(Msr.IA32_TSC_AUX, 1L << 32)).isInstanceOfSatisfying(CpuFault.class,
                f -> assertThat(f.vector()).isEqualTo(CpuFault.GP));
        assertThatThrownBy(() -> vcpu.setMsr(Msr.IA32_TSC_AUX, 1L << 32)).isInstanceOf(MsrAccessException.class)
                .hasMessageContaining("0xc0000103").hasMessageContaining("0x100000000");
        assertThat(guest.tscAux()).isZero();
        guest.wrmsr(Msr.IA32_TSC_AUX, 0xffff_ffffL);
        assertThat(guest.tscAux()).isEqualTo(-1);
    }

    @Test
    void unknownMsrIsGpForTheGuestAndANamedErrorForTheHostA4() {
        assertThatThrownBy(() -> guest.rdmsr(0x12345)).isInstanceOfSatisfying(CpuFault.class,
                f -> assertThat(f.vector()).isEqualTo(CpuFault.GP));
        assertThatThrownBy(() -> guest.wrmsr(0x12345, 1)).isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> vcpu.getMsr(0x12345)).isInstanceOfSatisfying(UnknownMsrException.class,
                e -> assertThat(e.index()).isEqualTo(0x12345)).hasMessageContaining("0x12345");
        assertThatThrownBy(() -> vcpu.setMsr(0x12345, 1)).isInstanceOf(UnknownMsrException.class);
        // x2APIC registers without an interrupt controller are unknown too.
        assertThatThrownBy(() -> guest.rdmsr(0x802)).isInstanceOf(CpuFault.class);
    }

    @Test
    void tscDeadlineWithoutALocalApicReadsZeroAndDropsWritesAsKvmsLapicCodeR23() {
        guest.wrmsr(Msr.IA32_TSC_DEADLINE, 99_999); // no #GP, nothing stored
        assertThat(guest.rdmsr(Msr.IA32_TSC_DEADLINE)).isZero();
        vcpu.setMsr(Msr.IA32_TSC_DEADLINE, 12_345);
        assertThat(vcpu.getMsr(Msr.IA32_TSC_DEADLINE)).isZero();
    }

    @Test
    void miscEnableAndApicBaseHaveSensibleDefaults() {
        assertThat(guest.rdmsr(Msr.IA32_MISC_ENABLE)).isEqualTo(Vcpu.MISC_ENABLE_DEFAULT);
        guest.wrmsr(Msr.IA32_MISC_ENABLE, 1);
        assertThat(vcpu.getMsr(Msr.IA32_MISC_ENABLE)).isEqualTo(1);
        assertThat(guest.rdmsr(Msr.IA32_APIC_BASE)).isEqualTo(0xFEE00900L);
        assertThat(t.vm.createVcpu().guest().rdmsr(Msr.IA32_APIC_BASE)).isEqualTo(0xFEE00800L);
    }

    @Test
    void tscDeadlineArmingConvertsGuestTscToTheFirstHostTickThatReachesItR23() {
        t.clock.advance(1_000);
        long hostNow = t.clock.now();
        assertThat(vcpu.hostTscForGuestTsc(6_000)).isEqualTo(hostNow + 5_000);
        assertThat(vcpu.hostTscForGuestTsc(500)).isEqualTo(hostNow); // already passed
        vcpu.setTscKhz(1_000_000); // ratio 0.4 (rounded down)
        long deadline = vcpu.guestTscAt(hostNow) + 1_000_000;
        long armed = vcpu.hostTscForGuestTsc(deadline);
        assertThat(vcpu.guestTscAt(armed)).isGreaterThanOrEqualTo(deadline);
        assertThat(vcpu.guestTscAt(armed - 1)).isLessThan(deadline);
        for (long distance = 1; distance < 2_000; distance += 7) {
            long target = vcpu.guestTscAt(hostNow) + distance;
            long tick = vcpu.hostTscForGuestTsc(target);
            assertThat(vcpu.guestTscAt(tick)).isGreaterThanOrEqualTo(target);
            assertThat(vcpu.guestTscAt(tick - 1)).isLessThan(target);
        }
    }
}

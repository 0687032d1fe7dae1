package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tscvm.TscvmException;
import org.tscvm.cpu.Msr;
import org.tscvm.tsc.TscMath;

/** Frequency (R14-R16, A5, A6) and synchronisation (R10-R12, R17) through the API. */
class TscScalingAndSyncTest {
    private static final long HOST_KHZ = 2_500_000;
    private static final long ONE_SECOND = HOST_KHZ * 1000;

    private final TestVms t = TestVms.create();

    private static int cpuidTscKhz(Vcpu vcpu) {
        int[] regs = new int[4];
        vcpu.guest().cpuid(CpuidModel.HYPERVISOR_TIMING_LEAF, 0, regs);
        return regs[0];
    }

    @Test
    void scaledGuestTscRunsAtTheRequestedRateRoundedDownR14() {
        Vcpu vcpu = t.vm.createVcpu();
        vcpu.setTscKhz(1_000_000); // ratio floor(0.4 * 2^48)
        vcpu.setMsr(Msr.IA32_TSC, 0);
        long start = vcpu.guest().rdtsc();
        t.clock.advance(ONE_SECOND);
        long ratio = TscMath.ratioForKhz(1_000_000, HOST_KHZ);
        assertThat(ratio).isEqualTo(112_589_990_684_262L);
        long host = t.clock.now();
        assertThat(vcpu.guest().rdtsc()).isEqualTo(TscMath.scale(host, ratio) + vcpu.getTscOffset());
        // One second of host time is one guest second at 1 GHz, give or take the rounded-down ratio.
        assertThat(vcpu.guest().rdtsc() - start).isBetween(999_999_999L, 1_000_000_000L);
        assertThat(vcpu.getTscKhz()).isEqualTo(1_000_000);
    }

    @Test
    void frequencyWithinTheWindowKeepsRatioOneAndCpuidReportsTheTrueRateR14A5() {
        Vcpu vcpu = t.vm.createVcpu();
        vcpu.setTscKhz(2_500_600); // inside 250 ppm: the guest runs at the host rate
        assertThat(vcpu.getTscKhz()).isEqualTo(2_500_600); // R16 reports the request
        assertThat(cpuidTscKhz(vcpu)).isEqualTo(2_500_000); // A5 reports the truth
        t.clock.advance(ONE_SECOND);
        assertThat(vcpu.guest().rdtsc()).isEqualTo(ONE_SECOND);
        vcpu.setTscKhz(1_000_000);
        assertThat(cpuidTscKhz(vcpu)).isEqualTo(1_000_000);
        vcpu.setTscKhz(3_333_333);
        assertThat(cpuidTscKhz(vcpu)).isEqualTo(3_333_333);
    }

    @Test
    void settingTheFrequencyDoesNotRecomputeTheOffsetR14A6() {
        Vcpu vcpu = t.vm.createVcpu();
        t.clock.advance(4_000);
        long offset = vcpu.getTscOffset();
        assertThat(vcpu.guest().rdtsc()).isEqualTo(4_000);
        vcpu.setTscKhz(5_000_000); // ratio 2.0: the TSC jumps to 2 x host TSC + the old offset
        assertThat(vcpu.getTscOffset()).isEqualTo(offset);
        assertThat(vcpu.guest().rdtsc()).isEqualTo(2 * t.clock.now() + offset);
    }

    @Test
    void frequencyLimitsAreRefusedWithTheValueR14R15() {
        Vcpu vcpu = t.vm.createVcpu();
        assertThatThrownBy(() -> vcpu.setTscKhz(0x7fffffffL)).isInstanceOf(TscvmException.class)
                .hasMessageContaining("2147483647");
        assertThatThrownBy(() -> vcpu.setTscKhz(-1)).isInstanceOf(TscvmException.class);
        vcpu.setTscKhz(0);
        assertThat(vcpu.getTscKhz()).isEqualTo(HOST_KHZ);
    }

    @Test
    void defaultTscKhzIsSetBeforeAnyVcpuAndThenRefusedR15R16() {
        assertThat(t.vm.getDefaultTscKhz()).isEqualTo(HOST_KHZ);
        t.vm.setDefaultTscKhz(2_345_678);
        assertThat(t.vm.getDefaultTscKhz()).isEqualTo(2_345_678);
        Vcpu vcpu = t.vm.createVcpu();
        assertThat(vcpu.getTscKhz()).isEqualTo(2_345_678);
        assertThat(cpuidTscKhz(vcpu)).isEqualTo(2_345_678);
        assertThatThrownBy(() -> t.vm.setDefaultTscKhz(1_000_000)).isInstanceOf(TscvmException.class)
                .hasMessageContaining("1000000 kHz").hasMessageContaining("1 vCPU");
        assertThatThrownBy(() -> TestVms.create().vm.setDefaultTscKhz(0x7fffffffL)).isInstanceOf(TscvmException.class);
    }

    @Test
    void vcpusCreatedTogetherAtOneKhzReadOneTscR10R12() {
        t.vm.setDefaultTscKhz(2_345_678); // as tsc_scaling_sync (vector 2.5)
        Vcpu first = t.vm.createVcpu();
        t.clock.advance(3 * ONE_SECOND);
        Vcpu second = t.vm.createVcpu();
        t.clock.advance(ONE_SECOND);
        Vcpu third = t.vm.createVcpu();
        long host = t.clock.now();
        assertThat(second.guestTscAt(host)).isEqualTo(first.guestTscAt(host)).isEqualTo(third.guestTscAt(host))
                .isNotZero();
        assertThat(t.vm.tscSync().generation()).isEqualTo(1);
        assertThat(t.vm.tscSync().allMatched(3)).isTrue();
        assertThat(third.tscGeneration()).isEqualTo(1);
        VmClock clock = t.vm.getClock();
        assertThat(clock.hostTsc()).isEqualTo(host);
        assertThat(clock.guestTscs()).containsOnly(first.guestTscAt(host));
    }

    @Test
    void aVcpuAtAnotherKhzStartsANewGenerationR10() {
        Vcpu first = t.vm.createVcpu();
        t.clock.advance(1_000);
        Vcpu second = t.vm.createVcpu();
        second.setTscKhz(1_000_000);
        t.clock.advance(1_000);
        second.setMsr(Msr.IA32_TSC, 0); // a "hotplug" write of 0, but at another kHz: new generation, TSC 0
        assertThat(t.vm.tscSync().generation()).isEqualTo(2);
        assertThat(second.guest().rdtsc()).isZero();
        assertThat(first.guest().rdtsc()).isEqualTo(2_000);
        // The last write was at 1 GHz, so a vCPU created at the default 2.5 GHz opens generation 3.
        Vcpu third = t.vm.createVcpu();
        assertThat(t.vm.tscSync().generation()).isEqualTo(3);
        assertThat(third.guest().rdtsc()).isZero();
    }

    @Test
    void aHostWriteOfZeroSnapsToTheRunningTscR10R13() {
        Vcpu first = t.vm.createVcpu();
        Vcpu second = t.vm.createVcpu();
        t.clock.advance(5 * ONE_SECOND);
        second.setMsr(Msr.IA32_TSC, 0);
        assertThat(second.guest().rdtsc()).isEqualTo(5 * ONE_SECOND).isEqualTo(first.guest().rdtsc());
    }

    @Test
    void aNonZeroHostWriteIsMatchedOnlyAfterAUserWriteR10R11c() {
        Vcpu first = t.vm.createVcpu();
        Vcpu second = t.vm.createVcpu();
        t.clock.advance(ONE_SECOND);
        // No user write yet: a value 1000 cycles off is applied exactly (Like Xu's 2023 fix).
        second.setMsr(Msr.IA32_TSC, ONE_SECOND + 1_000);
        assertThat(second.guest().rdtsc()).isEqualTo(ONE_SECOND + 1_000);
        assertThat(first.guest().rdtsc()).isEqualTo(ONE_SECOND);
        assertThat(t.vm.tscSync().generation()).isEqualTo(2);
        // Now userspace has written: a write within a second of the extrapolated last write snaps.
        t.clock.advance(1_000);
        first.setMsr(Msr.IA32_TSC, ONE_SECOND + 5_000);
        assertThat(first.guest().rdtsc()).isEqualTo(second.guest().rdtsc()).isEqualTo(ONE_SECOND + 2_000);
        assertThat(t.vm.tscSync().generation()).isEqualTo(2);
        assertThat(t.vm.tscSync().allMatched(2)).isTrue();
    }

    @Test
    void tscOffsetIsAppliedExactlyAndEqualOffsetsShareAGenerationR17() {
        Vcpu first = t.vm.createVcpu();
        Vcpu second = t.vm.createVcpu();
        first.setTscOffset(-500);
        assertThat(first.getTscOffset()).isEqualTo(-500);
        assertThat(first.guest().rdtsc()).isEqualTo(t.clock.now() - 500);
        second.setTscOffset(-500);
        assertThat(t.vm.tscSync().generation()).isEqualTo(2);
        assertThat(t.vm.tscSync().allMatched(2)).isTrue();
        assertThat(second.guest().rdtsc()).isEqualTo(first.guest().rdtsc());
    }

    /** KVM's debugfs tsc-scaling-ratio and tsc-scaling-ratio-frac-bits, per vCPU (R14, R15). */
    @Test
    void eachVcpusScalingRatioAndItsFractionalBitsAreReadableR14R15() {
        Vcpu host = t.vm.createVcpu();
        Vcpu scaled = t.vm.createVcpu();
        scaled.setTscKhz(1_000_000);
        assertThat(host.getTscScalingRatio()).isEqualTo(1L << 48);
        assertThat(scaled.getTscScalingRatio()).isEqualTo(112_589_990_684_262L); // floor(0.4 * 2^48)
        assertThat(scaled.getTscScalingRatioFracBits()).isEqualTo(48);
        scaled.setTscKhz(HOST_KHZ + 100); // inside the 250 ppm window: back to 1.0
        assertThat(scaled.getTscScalingRatio()).isEqualTo(1L << 48);
    }
}

package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.tscvm.cpu.Msr;

/**
 * KVM's branches for an unstable host TSC (VmConfig.hostTscUnstable, {@code --host-tsc unstable}):
 * the catch-up of a host write by elapsed time (R10), the guest TSC resumed and caught up at each
 * vCPU load (R25), no kvmclock master clock (R20); and a host TSC seen going backwards making a
 * stable host unstable (R25).
 */
class UnstableHostTscTest {
    private static final long ONE_SECOND = 2_500_000L * 1000;

    private static TestVms vms(boolean unstable) {
        return TestVms.create(VmConfig.builder().hostTscUnstable(unstable).cpuid(CpuidModel.parse("tscvm,+kvmclock")));
    }


    @Test
    void aVcpuCreatedLaterIsCaughtUpByTheElapsedTimeAndThereIsNoMasterClockR10R20() {
        TestVms t = vms(true);
        Vcpu first = t.vm.createVcpu();
        t.clock.advance(4 * ONE_SECOND);
        Vcpu second = t.vm.createVcpu();
        assertThat(second.getMsr(Msr.IA32_TSC)).isEqualTo(4 * ONE_SECOND).isEqualTo(first.getMsr(Msr.IA32_TSC));
        assertThat(t.vm.tscSync().matchedVcpus()).isEqualTo(1);
        assertThat(t.vm.kvmClock().usesMasterClock()).isFalse();
        assertThat(t.vm.getKvmClock().flags()).isZero();
        assertThat(vms(false).vm.getKvmClock().flags()).isZero(); // no vCPU yet: nothing matched
    }

    /**
     * A guest that wrote its TSC back (R4) keeps it on a stable host; on an unstable one each
     * vCPU load resumes the TSC at its last value and catches it up to where its generation
     * says it should be (kvm_arch_vcpu_load, then compute_guest_tsc in the clock update).
     */
    @Test
    void eachVcpuLoadResumesAndCatchesTheGuestTscUpToItsGenerationR25() {
        for (boolean unstable : new boolean[] {false, true}) {
            TestVms t = vms(unstable);
            Vcpu vcpu = t.vm.createVcpu();
            t.clock.advance(10 * ONE_SECOND);
            TestVms.runOnce(vcpu);
            vcpu.guest().wrmsr(Msr.IA32_TSC, 1_000); // the guest moves its TSC back by 10 s
            TestVms.runOnce(vcpu);
            t.clock.advance(ONE_SECOND); // the vCPU does not run: time passes on the host only
            TestVms.runOnce(vcpu);
            long tsc = vcpu.guest().rdtsc();
            if (unstable) {
                // Resumed at the last guest TSC, then caught up to 0 + 11 s of the generation.
                assertThat(tsc).isEqualTo(vcpu.tscState().extrapolatedGuestTsc(t.clock.nanosAt(t.clock.now())))
                        .isEqualTo(11 * ONE_SECOND);
            } else {
                assertThat(tsc).isEqualTo(1_000 + ONE_SECOND);
            }
            assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).isEqualTo(1_000 - 10 * ONE_SECOND); // R4, both ways
        }
    }

    /** R25: a vCPU load that sees the host TSC below its value at the last put marks it unstable. */
    @Test
    void aHostTscThatWentBackwardsMakesTheHostUnstableAndTheGuestTscDoesNotFollowItR25() {
        TestVms t = vms(false);
        Vcpu vcpu = t.vm.createVcpu();
        t.clock.advance(20 * ONE_SECOND);
        TestVms.runOnce(vcpu);
        long before = vcpu.guest().rdtsc();
        assertThat(t.vm.kvmClock().usesMasterClock()).isTrue();
        t.vm.setHostTscAdjust(-10 * ONE_SECOND); // the host TSC steps back 10 s
        assertThat(vcpu.guest().rdtsc()).isEqualTo(before - 10 * ONE_SECOND); // until the vCPU is loaded again
        TestVms.runOnce(vcpu);
        assertThat(t.vm.tscSync().hostTscUnstable()).isTrue();
        assertThat(vcpu.guest().rdtsc()).isEqualTo(before);
        t.vm.createVcpu(); // the next master-clock update finds the host unstable
        assertThat(t.vm.kvmClock().usesMasterClock()).isFalse();
    }
}

package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tscvm.TscvmException;
import org.tscvm.cpu.Msr;
import org.tscvm.tsc.DeterministicHostClock;

/** A7: saving and restoring the VM's time state, on the same host and across hosts (R17, R19). */
class VmTscStateTest {
    private static final long U = 1L << 30;

    /** A VM with {@code n} vCPUs that have run a while and made guest TSC/adjust writes. */
    private static TestVms busyVm(int n) {
        TestVms t = TestVms.create();
        for (int i = 0; i < n; i++) {
            t.vm.createVcpu();
        }
        t.clock.advance(5 * U);
        Vcpu v0 = t.vm.vcpus().get(0);
        v0.setMsr(Msr.IA32_TSC, 100 * U); // host write of a running VM's TSC: R10 ...
        for (Vcpu v : t.vm.vcpus().subList(1, n)) {
            v.setMsr(Msr.IA32_TSC, 100 * U); // ... matched by the other vCPUs: one generation
        }
        for (Vcpu v : t.vm.vcpus()) {
            v.guest().wrmsr(Msr.IA32_TSC_ADJUST, 3 * U); // R6: each moves its own TSC by 3U
            v.setMsr(Msr.IA32_TSC_AUX, 40 + v.id());
        }
        t.clock.advance(U);
        return t;
    }

    @Test
    void aRestoreContinuesEveryGuestTscFromItsSavedValue() {
        TestVms t = busyVm(2);
        VmTscState saved = t.vm.saveTscState();
        long[] savedTsc = {saved.vcpus().get(0).guestTsc(), saved.vcpus().get(1).guestTsc()};
        t.clock.advance(50 * U); // the VM is stopped for a while
        t.vm.restoreTscState(saved, 0);
        for (Vcpu v : t.vm.vcpus()) {
            assertThat(v.getMsr(Msr.IA32_TSC)).isEqualTo(savedTsc[v.id()]);
            assertThat(v.getMsr(Msr.IA32_TSC_ADJUST)).isEqualTo(3 * U);
            assertThat(v.getMsr(Msr.IA32_TSC_AUX)).isEqualTo(40 + v.id());
        }
    }

    @Test
    void migrationToAHostWithAnotherRateOriginAndAdjustKeepsTimeMonotonicAndTheFrequency() {
        TestVms source = busyVm(3);
        for (Vcpu v : source.vm.vcpus()) {
            v.setTscKhz(1_000_000); // a 1 GHz guest on the 2.5 GHz source host
        }
        source.clock.advance(U);
        VmTscState saved = source.vm.saveTscState();

        DeterministicHostClock destinationClock = new DeterministicHostClock(3_000_000);
        destinationClock.advance(7 * U);
        Vm destination = Vm.create(VmConfig.builder().hostClock(destinationClock).hostTscAdjust(-11 * U)
                .ramBytes(4L << 20).build());
        for (int i = 0; i < 3; i++) {
            destination.createVcpu();
        }
        destination.restoreTscState(saved, 2_000_000); // 2 ms of downtime: 2,000,000 cycles at 1 GHz

        for (Vcpu v : destination.vcpus()) {
            long expected = saved.vcpus().get(v.id()).guestTsc() + 2_000_000;
            assertThat(v.guest().rdtsc()).isEqualTo(expected);
            assertThat(v.getTscKhz()).isEqualTo(1_000_000);
            assertThat(v.effectiveTscKhz()).isEqualTo(1_000_000); // A5: CPUID tells the true rate
        }
        // The guest TSC runs at the saved rate on the new host: 3e6 host ticks = 1 ms = 1e6 cycles.
        long before = destination.vcpus().get(0).guest().rdtsc();
        destinationClock.advance(3_000_000);
        assertThat(destination.vcpus().get(0).guest().rdtsc() - before).isEqualTo(1_000_000);
    }

    @Test
    void vcpusThatSharedOneTscShareOneOffsetAndGenerationAfterARestore() {
        // The failure of Firecracker PR #6200: per-vCPU restores drifting apart.
        TestVms t = busyVm(4);
        VmTscState saved = t.vm.saveTscState();
        assertThat(saved.vcpus()).extracting(VmTscState.Vcpu::guestTsc).containsOnly(saved.vcpus().get(0).guestTsc());
        t.clock.advance(9 * U);
        t.vm.restoreTscState(saved, 0);
        List<Vcpu> vcpus = t.vm.vcpus();
        assertThat(vcpus).extracting(Vcpu::getTscOffset).containsOnly(vcpus.get(0).getTscOffset());
        assertThat(vcpus).extracting(Vcpu::tscGeneration).containsOnly(vcpus.get(0).tscGeneration());
        assertThat(t.vm.getClock().guestTscs()).containsOnly(t.vm.getClock().guestTsc(0));
    }

    @Test
    void theAdjustIsRestoredOnlyWhereCpuidAlreadyAdvertisesItAsKvmDoes() {
        // R8: a host write of 0x3b without CPUID.(7,0):EBX[1] is dropped, so CPUID goes first.
        TestVms source = busyVm(1);
        VmTscState saved = source.vm.saveTscState();
        TestVms destination = TestVms.create();
        Vcpu v = destination.vm.createVcpu();
        v.setCpuid(CpuidModel.parse("tscvm,-tsc-adjust"));
        destination.vm.restoreTscState(saved, 0);
        assertThat(v.getMsr(Msr.IA32_TSC_ADJUST)).isZero();
        assertThat(v.getMsr(Msr.IA32_TSC)).isEqualTo(saved.vcpus().get(0).guestTsc()); // the TSC itself is restored
    }

    @Test
    void aStateThatDoesNotFitChangesNothingAndSaysWhy() {
        TestVms source = busyVm(2);
        VmTscState saved = source.vm.saveTscState();
        TestVms destination = TestVms.create();
        Vcpu only = destination.vm.createVcpu();
        long tscBefore = only.getMsr(Msr.IA32_TSC);
        assertThatThrownBy(() -> destination.vm.restoreTscState(saved, 0))
                .isInstanceOf(TscvmException.class).hasMessageContaining("2 vCPU(s)").hasMessageContaining("has 1");
        destination.vm.createVcpu();
        assertThatThrownBy(() -> destination.vm.restoreTscState(saved, -1))
                .isInstanceOf(TscvmException.class).hasMessageContaining("negative");
        VmTscState absurd = new VmTscState(List.of(new VmTscState.Vcpu(Long.MAX_VALUE / 2, 0, 0, 0, 0),
                new VmTscState.Vcpu(1_000_000, 0, 0, 0, 0)));
        assertThatThrownBy(() -> destination.vm.restoreTscState(absurd, 0))
                .isInstanceOf(TscvmException.class).hasMessageContaining("cannot be set");
        assertThat(only.getMsr(Msr.IA32_TSC)).isEqualTo(tscBefore);
        assertThat(only.getTscKhz()).isEqualTo(destination.vm.clock().khz());
        assertThatThrownBy(() -> new VmTscState.Vcpu(0, 0, 0, 0, 0)).isInstanceOf(TscvmException.class);
    }
}

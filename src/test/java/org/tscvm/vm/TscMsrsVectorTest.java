package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.tscvm.cpu.CpuBus;
import org.tscvm.cpu.Msr;
import org.tscvm.tsc.DeterministicHostClock;
import org.tscvm.tsc.RealTimeHostClock;

/**
 * Test vector 2.1 (KVM selftest tsc_msrs_test) end to end through the API: host steps through
 * {@link Vcpu#getMsr}/{@link Vcpu#setMsr}, guest steps through {@link Vcpu#guest()}.
 */
class TscMsrsVectorTest {
    private static final long U = 1L << 30;
    /** Host ticks between two steps of the exact run. */
    private static final long STEP = 1_000;

    private DeterministicHostClock clock;
    private long creationTick;

    /** Advances to {@code step * STEP} ticks after vCPU creation. */
    private void at(int step) {
        clock.advanceTo(creationTick + step * STEP);
    }

    @Test
    void tscMsrsTestWithExactValuesOnADeterministicClock() {
        clock = new DeterministicHostClock();
        clock.advance(123_456_789);
        Vm vm = Vm.create(VmConfig.builder().hostClock(clock).ramBytes(4L << 20).build());
        Vcpu vcpu = vm.createVcpu();
        CpuBus guest = vcpu.guest();
        creationTick = clock.now();

        // 1. Host, just after creation: TSC = 0, ADJ = 0 (R12).
        assertThat(vcpu.getMsr(Msr.IA32_TSC)).isZero();
        assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).isZero();
        // 2. Guest: TSC, ADJ; WRMSR TSC = 4U moves ADJ by 4U minus the 3 steps already counted (R4).
        at(1);
        assertThat(guest.rdmsr(Msr.IA32_TSC)).isEqualTo(STEP);
        assertThat(guest.rdmsr(Msr.IA32_TSC_ADJUST)).isZero();
        at(3);
        guest.wrmsr(Msr.IA32_TSC, 4 * U);
        at(4);
        assertThat(guest.rdmsr(Msr.IA32_TSC)).isEqualTo(4 * U + STEP);
        assertThat(guest.rdmsr(Msr.IA32_TSC_ADJUST)).isEqualTo(4 * U - 3 * STEP);
        // 3. Host sees the same.
        at(6);
        assertThat(vcpu.getMsr(Msr.IA32_TSC)).isEqualTo(4 * U + 3 * STEP);
        assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).isEqualTo(4 * U - 3 * STEP);
        // 4. Guest WRMSR ADJ = 8U: TSC = elapsed + 8U, the SDM's invariant (R6).
        at(7);
        guest.wrmsr(Msr.IA32_TSC_ADJUST, 8 * U);
        at(8);
        assertThat(guest.rdmsr(Msr.IA32_TSC)).isEqualTo(8 * U + 8 * STEP);
        assertThat(guest.rdmsr(Msr.IA32_TSC_ADJUST)).isEqualTo(8 * U);
        at(9);
        assertThat(vcpu.getMsr(Msr.IA32_TSC)).isEqualTo(8 * U + 9 * STEP);
        assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).isEqualTo(8 * U);
        // 5. Host WRMSR TSC = 72U: applied exactly (no user write before, R10), ADJ unchanged (R9).
        at(10);
        vcpu.setMsr(Msr.IA32_TSC, 72 * U);
        at(11);
        assertThat(vcpu.getMsr(Msr.IA32_TSC)).isEqualTo(72 * U + STEP);
        assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).isEqualTo(8 * U);
        // 6. Guest agrees.
        at(12);
        assertThat(guest.rdmsr(Msr.IA32_TSC)).isEqualTo(72 * U + 2 * STEP);
        assertThat(guest.rdmsr(Msr.IA32_TSC_ADJUST)).isEqualTo(8 * U);
        // 7. Host WRMSR ADJ = 123456U: the TSC does not move; ADJ exactly 123456U (R8).
        at(13);
        vcpu.setMsr(Msr.IA32_TSC_ADJUST, 123_456 * U);
        at(14);
        assertThat(vcpu.getMsr(Msr.IA32_TSC)).isEqualTo(72 * U + 4 * STEP);
        assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).isEqualTo(123_456 * U);
        // 8. Host WRMSR ADJ = 8U.
        at(15);
        vcpu.setMsr(Msr.IA32_TSC_ADJUST, 8 * U);
        at(16);
        assertThat(vcpu.getMsr(Msr.IA32_TSC)).isEqualTo(72 * U + 6 * STEP);
        assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).isEqualTo(8 * U);
        // 9. Guest WRMSR ADJ = 12U: TSC moves by 4U, the host's 64U offset kept (R6).
        at(17);
        guest.wrmsr(Msr.IA32_TSC_ADJUST, 12 * U);
        at(18);
        assertThat(guest.rdmsr(Msr.IA32_TSC)).isEqualTo(76 * U + 8 * STEP);
        assertThat(guest.rdmsr(Msr.IA32_TSC_ADJUST)).isEqualTo(12 * U);
        at(19);
        assertThat(vcpu.getMsr(Msr.IA32_TSC)).isEqualTo(76 * U + 9 * STEP);
        assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).isEqualTo(12 * U);
        // 10. Guest WRMSR TSC = 16U: ADJ = 16U - (76U + 10 steps) + 12U = -48U - 10 steps (R4).
        at(20);
        guest.wrmsr(Msr.IA32_TSC, 16 * U);
        at(21);
        assertThat(guest.rdmsr(Msr.IA32_TSC)).isEqualTo(16 * U + STEP);
        assertThat(guest.rdmsr(Msr.IA32_TSC_ADJUST)).isEqualTo(-48 * U - 10 * STEP);
        at(22);
        assertThat(vcpu.getMsr(Msr.IA32_TSC)).isEqualTo(16 * U + 2 * STEP);
        assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).isEqualTo(-48 * U - 10 * STEP);
    }

    /** The selftest's rounding to the nearest multiple of 2^30 (tolerates < 2^29 cycles of drift). */
    private static long round(long x) {
        return (x + U / 2) & ~(U - 1);
    }

    @Test
    void tscMsrsTestOnARealTimeClockWithTheSelftestsRounding() {
        Vm vm = Vm.create(VmConfig.builder().hostClock(new RealTimeHostClock()).ramBytes(4L << 20).build());
        Vcpu vcpu = vm.createVcpu();
        CpuBus guest = vcpu.guest();

        assertThat(round(vcpu.getMsr(Msr.IA32_TSC))).isZero();
        assertThat(round(vcpu.getMsr(Msr.IA32_TSC_ADJUST))).isZero();
        assertThat(round(guest.rdmsr(Msr.IA32_TSC))).isZero();
        guest.wrmsr(Msr.IA32_TSC, 4 * U);
        assertThat(round(guest.rdmsr(Msr.IA32_TSC))).isEqualTo(4 * U);
        assertThat(round(guest.rdmsr(Msr.IA32_TSC_ADJUST))).isEqualTo(4 * U);
        assertThat(round(vcpu.getMsr(Msr.IA32_TSC))).isEqualTo(4 * U);
        assertThat(round(vcpu.getMsr(Msr.IA32_TSC_ADJUST))).isEqualTo(4 * U);
        guest.wrmsr(Msr.IA32_TSC_ADJUST, 8 * U);
        assertThat(round(guest.rdmsr(Msr.IA32_TSC))).isEqualTo(8 * U);
        assertThat(round(guest.rdmsr(Msr.IA32_TSC_ADJUST))).isEqualTo(8 * U);
        vcpu.setMsr(Msr.IA32_TSC, 72 * U);
        assertThat(round(vcpu.getMsr(Msr.IA32_TSC))).isEqualTo(72 * U);
        assertThat(round(vcpu.getMsr(Msr.IA32_TSC_ADJUST))).isEqualTo(8 * U);
        assertThat(round(guest.rdmsr(Msr.IA32_TSC))).isEqualTo(72 * U);
        vcpu.setMsr(Msr.IA32_TSC_ADJUST, 123_456 * U);
        assertThat(round(vcpu.getMsr(Msr.IA32_TSC))).isEqualTo(72 * U);
        assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).isEqualTo(123_456 * U);
        vcpu.setMsr(Msr.IA32_TSC_ADJUST, 8 * U);
        assertThat(round(vcpu.getMsr(Msr.IA32_TSC))).isEqualTo(72 * U);
        guest.wrmsr(Msr.IA32_TSC_ADJUST, 12 * U);
        assertThat(round(guest.rdmsr(Msr.IA32_TSC))).isEqualTo(76 * U);
        assertThat(round(vcpu.getMsr(Msr.IA32_TSC_ADJUST))).isEqualTo(12 * U);
        guest.wrmsr(Msr.IA32_TSC, 16 * U);
        assertThat(round(guest.rdmsr(Msr.IA32_TSC))).isEqualTo(16 * U);
        assertThat(round(guest.rdmsr(Msr.IA32_TSC_ADJUST))).isEqualTo(16 * U - 64 * U);
        assertThat(round(vcpu.getMsr(Msr.IA32_TSC_ADJUST))).isEqualTo(-48 * U);
    }
}

package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.tscvm.cpu.CpuBus;
import org.tscvm.cpu.Msr;

/** Test vectors 2.3 (tsc_adjust.c) and 2.4 (tsc.c) through the guest-side interface. */
class KvmUnitTestsVectorTest {
    private static final long E11 = 100_000_000_000L;
    /** Host ticks one guest instruction takes here. */
    private static final long INSN = 3;

    private final TestVms t = TestVms.create();
    private final Vcpu vcpu = t.vm.createVcpu();
    private final CpuBus guest = vcpu.guest();

    private long rdtsc() {
        t.clock.advance(INSN);
        return guest.rdtsc();
    }

    private long rdmsr(int index) {
        t.clock.advance(INSN);
        return guest.rdmsr(index);
    }

    private void wrmsr(int index, long value) {
        t.clock.advance(INSN);
        guest.wrmsr(index, value);
    }

    @Test
    void tscAdjustTestPassesWithExactValuesVector23() {
        int[] regs = new int[4];
        guest.cpuid(7, 0, regs);
        assertThat(regs[1] & (1 << 1)).as("CPUID.(7,0):EBX[1]").isNotZero();
        // 1) the adjust starts at 0.
        assertThat(rdmsr(Msr.IA32_TSC_ADJUST)).isZero();
        // 2) raising the adjust by 1e11 raises the TSC by 1e11.
        long t1 = rdtsc();
        wrmsr(Msr.IA32_TSC_ADJUST, E11);
        long t2 = rdtsc();
        assertThat(rdmsr(Msr.IA32_TSC_ADJUST)).isEqualTo(E11);
        assertThat(t2 - t1).isGreaterThanOrEqualTo(E11).isEqualTo(E11 + 2 * INSN);
        // 3) back to 0.
        wrmsr(Msr.IA32_TSC_ADJUST, 0);
        assertThat(rdmsr(Msr.IA32_TSC_ADJUST)).isZero();
        // 4) writing the TSC leaves in the adjust the delta from the TSC just before the write.
        t1 = rdtsc();
        wrmsr(Msr.IA32_TSC, E11);
        t2 = rdtsc();
        long t5 = rdmsr(Msr.IA32_TSC_ADJUST);
        assertThat(t1).isLessThanOrEqualTo(E11 - t5);
        assertThat(E11 - t5).isEqualTo(t1 + INSN); // the TSC at the write, exactly
        assertThat(t2).isGreaterThanOrEqualTo(E11).isEqualTo(E11 + INSN);
        // The old version's check: 1e11 - t5 - t1 <= 2 (t2 - 1e11).
        assertThat(E11 - t5 - t1).isLessThanOrEqualTo(2 * (t2 - E11));
    }

    @Test
    void tscTestWritesTheTscAndReadsTscAuxThroughRdtscpAndRdpidVector24() {
        wrmsr(Msr.IA32_TSC, 0);
        assertThat(rdtsc()).isEqualTo(INSN);
        wrmsr(Msr.IA32_TSC, E11);
        assertThat(rdtsc()).isEqualTo(E11 + INSN);

        int[] regs = new int[4];
        guest.cpuid(0x80000001, 0, regs);
        assertThat(regs[3] & (1 << 27)).as("RDTSCP").isNotZero();
        guest.cpuid(7, 0, regs);
        assertThat(regs[2] & (1 << 22)).as("RDPID").isNotZero();
        for (int aux : new int[] {0, 10, 0x100}) {
            wrmsr(Msr.IA32_TSC_AUX, aux);
            assertThat(guest.tscAux()).as("RDTSCP ECX / RDPID").isEqualTo(aux);
        }
    }
}

package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tscvm.cpu.CpuBus;
import org.tscvm.cpu.Msr;

/**
 * Seeded random sequences of TSC and TSC_ADJUST writes. A failure names its seed; rerun that
 * seed alone to reproduce it.
 */
class TscWriteSequencePropertyTest {
    private static final int STEPS = 2_000;

    /**
     * The SDM's invariant (R4, R6): after guest writes only, TSC - TSC_ADJUST is the TSC the
     * vCPU would show had the guest never written either MSR. A twin vCPU, created with it and
     * never written, shows exactly that.
     */
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5, 6})
    void guestWritesKeepTscMinusTscAdjustOnTheUnwrittenTimeline(long seed) {
        Random random = new Random(seed);
        TestVms t = TestVms.create();
        Vcpu written = t.vm.createVcpu();
        Vcpu twin = t.vm.createVcpu();
        if (seed % 2 == 0) {
            long khz = 1 + random.nextInt(10_000_000);
            written.setTscKhz(khz); // both at one odd frequency: the invariant holds under scaling too
            twin.setTscKhz(khz);
        }
        CpuBus guest = written.guest();
        for (int step = 0; step < STEPS; step++) {
            t.clock.advance(random.nextInt(1_000_000));
            long value = randomValue(random);
            if (random.nextBoolean()) {
                guest.wrmsr(Msr.IA32_TSC, value);
                assertThat(guest.rdtsc()).as("seed %d step %d", seed, step).isEqualTo(value);
            } else {
                guest.wrmsr(Msr.IA32_TSC_ADJUST, value);
                assertThat(guest.rdmsr(Msr.IA32_TSC_ADJUST)).isEqualTo(value);
            }
            assertThat(guest.rdtsc() - guest.rdmsr(Msr.IA32_TSC_ADJUST))
                    .as("seed %d step %d", seed, step)
                    .isEqualTo(twin.guest().rdtsc());
        }
    }

    /**
     * Mixed guest and host writes: a host write of 0x3b never moves the TSC (R8), a host write
     * of 0x10 never changes TSC_ADJUST (R9), and guest writes keep TSC - TSC_ADJUST where the
     * last host write left it (R4, R6).
     */
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {11, 12, 13, 14})
    void hostWritesOfTscAdjustNeverMoveTheTsc(long seed) {
        Random random = new Random(seed);
        TestVms t = TestVms.create();
        Vcpu vcpu = t.vm.createVcpu();
        CpuBus guest = vcpu.guest();
        long invariant = guest.rdtsc() - guest.rdmsr(Msr.IA32_TSC_ADJUST) - t.clock.now();
        for (int step = 0; step < STEPS; step++) {
            t.clock.advance(random.nextInt(1_000_000));
            long value = randomValue(random);
            long tscBefore = guest.rdtsc();
            long adjustBefore = vcpu.getMsr(Msr.IA32_TSC_ADJUST);
            int kind = random.nextInt(4);
            switch (kind) {
                case 0:
                    vcpu.setMsr(Msr.IA32_TSC_ADJUST, value);
                    assertThat(guest.rdtsc()).as("seed %d step %d", seed, step).isEqualTo(tscBefore);
                    assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).isEqualTo(value);
                    break;
                case 1:
                    vcpu.setMsr(Msr.IA32_TSC, value);
                    assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).as("seed %d step %d", seed, step).isEqualTo(adjustBefore);
                    break;
                case 2:
                    guest.wrmsr(Msr.IA32_TSC, value);
                    break;
                default:
                    guest.wrmsr(Msr.IA32_TSC_ADJUST, value);
                    break;
            }
            long now = guest.rdtsc() - guest.rdmsr(Msr.IA32_TSC_ADJUST) - t.clock.now();
            if (kind >= 2) { // a guest write
                assertThat(now).as("seed %d step %d", seed, step).isEqualTo(invariant);
            }
            invariant = now;
        }
    }

    /** Small, large, negative and wrapping values alike. */
    private static long randomValue(Random random) {
        switch (random.nextInt(3)) {
            case 0:
                return random.nextInt(1 << 30);
            case 1:
                return -random.nextInt(1 << 30);
            default:
                return random.nextLong();
        }
    }
}

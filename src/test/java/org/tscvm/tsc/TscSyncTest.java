package org.tscvm.tsc;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class TscSyncTest {
    private static final long KHZ = 2_500_000;
    private static final long ONE_SECOND = KHZ * 1000;

    private final TscSync sync = new TscSync();

    private static TscState vcpu() {
        TscState state = new TscState();
        state.applyKhz(KHZ, KHZ);
        return state;
    }

    /** Host TSC t read with no host adjust: nanoseconds are t / 2.5. */
    private static long nanos(long hostTsc) {
        return TscMath.cyclesToNanos(hostTsc, KHZ);
    }

    private void create(TscState state, long hostTsc) {
        sync.synchronize(state, false, 0, hostTsc, nanos(hostTsc));
    }

    private void hostWrite(TscState state, long value, long hostTsc) {
        sync.synchronize(state, true, value, hostTsc, nanos(hostTsc));
    }

    @Test
    void firstVcpuStartsGenerationOneAtTscZeroR12() {
        TscState first = vcpu();
        create(first, 1_000);
        assertThat(sync.generation()).isEqualTo(1);
        assertThat(first.generation()).isEqualTo(1);
        assertThat(first.guestTsc(1_000)).isZero();
        assertThat(sync.userSetTsc()).isFalse();
    }

    @Test
    void laterVcpusAtTheSameKhzTakeTheGenerationOffsetWhateverTheDelayR10R12() {
        TscState first = vcpu();
        create(first, 1_000);
        TscState second = vcpu();
        create(second, 1_000 + 10 * ONE_SECOND); // data 0 always synchronises, however late
        assertThat(second.guestTsc(50 * ONE_SECOND)).isEqualTo(first.guestTsc(50 * ONE_SECOND));
        assertThat(sync.generation()).isEqualTo(1);
        assertThat(sync.matchedVcpus()).isEqualTo(1);
        assertThat(sync.allMatched(2)).isTrue();
    }

    @Test
    void aVcpuAtAnotherKhzStartsANewGenerationR10() {
        TscState first = vcpu();
        create(first, 1_000);
        TscState other = new TscState();
        other.applyKhz(1_000_000, KHZ);
        create(other, 5_000);
        assertThat(sync.generation()).isEqualTo(2);
        assertThat(other.guestTsc(5_000)).isZero();
        assertThat(sync.matchedVcpus()).isZero();
    }

    @Test
    void nonZeroHostWritesAreMatchedOnlyAfterAUserWriteR10R11c() {
        TscState a = vcpu();
        TscState b = vcpu();
        create(a, 0);
        create(b, 0);
        // The first user write is not matched even though it is within a second of the last write.
        hostWrite(a, 1_000, 2_000);
        assertThat(sync.generation()).isEqualTo(2);
        assertThat(a.guestTsc(2_000)).isEqualTo(1_000);
        assertThat(sync.userSetTsc()).isTrue();
        // Now a write within one second of the extrapolated last write (1_000 + elapsed) is matched:
        // b takes the generation offset, not its own value.
        hostWrite(b, 5_000, 3_000);
        assertThat(sync.generation()).isEqualTo(2);
        assertThat(b.guestTsc(3_000)).isEqualTo(2_000).isEqualTo(a.guestTsc(3_000));
        // The last write recorded is the value asked for (5_000), not the snapped TSC: a write one
        // second or more beyond it starts a new generation and is applied exactly.
        hostWrite(b, 5_000 + ONE_SECOND, 3_000);
        assertThat(sync.generation()).isEqualTo(3);
        assertThat(b.guestTsc(3_000)).isEqualTo(5_000 + ONE_SECOND);
    }

    @Test
    void theOneSecondWindowUsesWrappingUnsignedComparesR10() {
        TscState a = vcpu();
        TscState b = vcpu();
        create(a, 0);
        create(b, 0);
        hostWrite(a, 1_000, 100);
        hostWrite(b, 1_500, 100); // 500 cycles away: matched
        assertThat(sync.generation()).isEqualTo(2);
        hostWrite(a, -100L, 100); // last write 2^64-100
        assertThat(sync.generation()).isEqualTo(3);
        // 2^64-50 is 50 cycles past the last write, but last + 1 s wraps to a small u64, so KVM's
        // "data < expected + hz" fails and it starts a new generation; signed compares would match.
        hostWrite(b, -50L, 100);
        assertThat(sync.generation()).isEqualTo(4);
        assertThat(b.guestTsc(100)).isEqualTo(-50L);
    }

    @Test
    void hostWriteOfZeroSnapsToTheGenerationOffsetR10R13() {
        TscState a = vcpu();
        TscState b = vcpu();
        create(a, 0);
        create(b, 0);
        hostWrite(b, 0, 7 * ONE_SECOND);
        assertThat(b.guestTsc(7 * ONE_SECOND)).isEqualTo(7 * ONE_SECOND);
        assertThat(sync.generation()).isEqualTo(1);
    }

    @Test
    void setOffsetAppliesTheValueExactlyAndMatchesEqualOffsetsR17() {
        TscState a = vcpu();
        TscState b = vcpu();
        create(a, 0);
        create(b, 0);
        sync.setOffset(a, 123_456, 1_000, nanos(1_000));
        assertThat(a.l1Offset()).isEqualTo(123_456);
        assertThat(sync.generation()).isEqualTo(2);
        sync.setOffset(b, 123_456, 2_000, nanos(2_000));
        assertThat(b.l1Offset()).isEqualTo(123_456);
        assertThat(sync.generation()).isEqualTo(2);
        assertThat(sync.allMatched(2)).isTrue();
        sync.setOffset(b, 99, 3_000, nanos(3_000));
        assertThat(b.l1Offset()).isEqualTo(99);
        assertThat(sync.generation()).isEqualTo(3);
        assertThat(sync.userSetTsc()).isTrue();
    }

    /**
     * R10's window edge, to the cycle: KVM extrapolates the last write with nsec_to_cycles, the
     * pvclock fixed point (virtual_tsc_mult/shift), which at 2,345,678 kHz gives 221 cycles fewer
     * in 1000 s than an exact division. A write one cycle inside the exact window but past the
     * pvclock one starts a new generation, as in KVM.
     */
    @Test
    void theOneSecondWindowEdgeFallsWhereKvmsFixedPointPutsItR10() {
        long khz = 2_345_678;
        long hz = khz * 1000;
        long thousandSeconds = khz * 1_000_000; // host ticks in 1000 s at the same rate
        long pvclockCycles = 2_345_677_999_779L;
        long exactCycles = 2_345_678_000_000L;
        long written = 5_000_000_000_000L;
        for (long delta : new long[] {exactCycles + hz - 1, pvclockCycles + hz - 1}) {
            TscSync vmSync = new TscSync();
            TscState state = new TscState();
            state.applyKhz(khz, khz);
            vmSync.synchronize(state, false, 0, 0, 0);
            vmSync.synchronize(state, true, written, 0, 0); // userspace write: a new generation
            long generation = vmSync.generation();
            long nanos = TscMath.cyclesToNanos(thousandSeconds, khz);
            assertThat(nanos).isEqualTo(1_000_000_000_000L);
            vmSync.synchronize(state, true, written + delta, thousandSeconds, nanos);
            boolean matched = vmSync.generation() == generation;
            assertThat(matched).as("write %d cycles after the extrapolated last one", delta)
                    .isEqualTo(delta == pvclockCycles + hz - 1);
        }
    }

    @Test
    void anUnstableHostCatchesAHostWriteUpByTheElapsedTimeInsteadOfTakingTheOffsetR10() {
        TscSync unstable = new TscSync();
        unstable.markHostTscUnstable();
        TscState first = vcpu();
        unstable.synchronize(first, false, 0, 1_000, nanos(1_000));
        long later = 1_000 + 4 * ONE_SECOND;
        TscState second = vcpu();
        unstable.synchronize(second, false, 0, later, nanos(later)); // data 0 synchronises
        // Not the generation's offset: 0 plus the 4 s since the last write, in pvclock cycles.
        assertThat(second.guestTsc(later)).isEqualTo(second.nanosToCycles(nanos(later) - nanos(1_000)));
        assertThat(second.guestTsc(later)).isEqualTo(4 * ONE_SECOND);
        assertThat(unstable.generation()).isEqualTo(1);
        assertThat(unstable.matchedVcpus()).isEqualTo(1);
        TscSync stable = new TscSync();
        TscState a = vcpu();
        stable.synchronize(a, false, 0, 1_000, nanos(1_000));
        TscState b = vcpu();
        stable.synchronize(b, false, 0, later, nanos(later));
        assertThat(b.l1Offset()).isEqualTo(a.l1Offset()); // the stable branch takes cur_tsc_offset
    }
}

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
}

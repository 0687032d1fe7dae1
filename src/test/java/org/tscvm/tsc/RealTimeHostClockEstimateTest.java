package org.tscvm.tsc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;
import org.tscvm.TscvmException;

/**
 * The real-time clock's cheap guest reads (A2, A5): vCPU readers estimate from retired
 * instructions between nanoTime reads, yet the host TSC never goes backwards on one reader or
 * across readers and threads, never runs more than the bound ahead of real time, and keeps the
 * clock's rate (R14's 250 ppm). Most tests drive "real time" by hand, so machine load cannot
 * make them fail; the threaded ones check only what holds whatever the scheduler does.
 */
class RealTimeHostClockEstimateTest {
    private static final long KHZ = 2_500_000;
    private static final long PPM = 1_000_000;

    /** A nanosecond source the test moves by hand, counting how often the clock reads it. */
    private static final class ManualNanos implements LongSupplier {
        long nanos = 1_000_000_000L;
        long reads;

        @Override
        public long getAsLong() {
            reads++;
            return nanos;
        }

        long ticks(RealTimeHostClock clock) {
            return RealTimeHostClock.ticksForNanos(nanos - 1_000_000_000L, clock.khz());
        }
    }

    @Test
    void estimatesNeverRunAheadOfRealTimeByTheBoundWhateverTheInstructionSpeed() {
        ManualNanos time = new ManualNanos();
        RealTimeHostClock clock = new RealTimeHostClock(KHZ, 250, time);
        VcpuEstimator reader = (VcpuEstimator) clock.vcpuReader();
        Random random = new Random(42);
        long instructions = 0;
        long previous = Long.MIN_VALUE;
        long readsSinceRealRead = 0;
        for (int i = 0; i < 200_000; i++) {
            // Speeds from 0.05 to 50 ns per instruction, changing at random; now and then the
            // thread "is descheduled" for up to 10 ms inside an interval.
            double nanosPerInstruction = switch (random.nextInt(4)) {
                case 0 -> 0.05;
                case 1 -> 5;
                case 2 -> 50;
                default -> 0.5 + random.nextDouble() * 10;
            };
            int step = 1 + random.nextInt(40);
            instructions += step;
            time.nanos += Math.max(1, (long) (step * nanosPerInstruction));
            if (random.nextInt(1000) == 0) {
                time.nanos += random.nextInt(10_000_000);
            }
            long realReadsBefore = time.reads;
            long value = reader.now(instructions);
            long real = time.ticks(clock);
            assertThat(value).as("read %d", i).isLessThan(real + clock.estimateBoundTicks()).isGreaterThanOrEqualTo(previous);
            readsSinceRealRead = time.reads == realReadsBefore ? readsSinceRealRead + 1 : 0;
            assertThat(readsSinceRealRead).isLessThanOrEqualTo(RealTimeHostClock.MAX_ESTIMATES_PER_ANCHOR);
            assertThat(value).isGreaterThanOrEqualTo(reader.anchorTicks());
            previous = value;
        }
    }

    @Test
    void aSteadyGuestKeepsTheRateWithin250PpmOverOneMillisecondWindowsWithFewRealReads() {
        ManualNanos time = new ManualNanos();
        RealTimeHostClock clock = new RealTimeHostClock(KHZ, RealTimeHostClock.DEFAULT_ESTIMATE_BOUND_NANOS, time);
        HostClock.VcpuReader reader = clock.vcpuReader();
        Random random = new Random(7);
        long instructions = 0;
        // The bench loop: 9 instructions per RDTSC at about 6 ns each, each iteration 20% faster
        // or slower at random.
        List<long[]> samples = new ArrayList<>(); // {real ticks, reading}
        long reads = 0;
        while (time.nanos < 1_000_000_000L + 50_000_000L) {
            instructions += 9;
            time.nanos += 54 + random.nextInt(22) - 11;
            long value = reader.now(instructions);
            reads++;
            samples.add(new long[] {time.ticks(clock), value});
        }
        long ticksPerMilli = clock.khz();
        int windows = 0;
        for (int start = 0, end = 0; start < samples.size(); start += 997) {
            while (end < samples.size() && samples.get(end)[0] - samples.get(start)[0] < ticksPerMilli) {
                end++;
            }
            if (end == samples.size()) {
                break;
            }
            long realTicks = samples.get(end)[0] - samples.get(start)[0];
            long guestTicks = samples.get(end)[1] - samples.get(start)[1];
            assertThat(Math.abs(guestTicks - realTicks) * PPM / realTicks).as("window at sample %d", start).isLessThanOrEqualTo(250);
            windows++;
        }
        assertThat(windows).isGreaterThan(40);
        // The point of it: at most a third of the reads touch System.nanoTime.
        assertThat(time.reads * 3).isLessThan(reads);
    }

    @Test
    void aReaderThatRanAheadHoldsBackEveryLaterReadingOfTheClock() {
        ManualNanos time = new ManualNanos();
        RealTimeHostClock clock = new RealTimeHostClock(KHZ, 1_000, time);
        HostClock.VcpuReader fast = clock.vcpuReader();
        HostClock.VcpuReader other = clock.vcpuReader();
        // Calibrate "fast" at 10 ns per instruction, then let it retire instructions with no
        // time passing: its estimates run ahead of real time (never by the bound or more).
        long n = 0;
        for (int i = 0; i < 200; i++) {
            n += 10;
            time.nanos += 100;
            fast.now(n);
        }
        fast.resync();
        long anchored = fast.now(n);
        long realReads = time.reads;
        long ahead = fast.now(n + 80);
        assertThat(time.reads).as("an estimate").isEqualTo(realReads);
        assertThat(ahead).isGreaterThan(anchored).isGreaterThan(time.ticks(clock))
                .isLessThan(time.ticks(clock) + clock.estimateBoundTicks());
        // Everything read after it, a real read on another vCPU or the host, is not smaller.
        assertThat(other.now(0)).isGreaterThanOrEqualTo(ahead);
        assertThat(clock.now()).isGreaterThanOrEqualTo(ahead);
        clock.setTscAdjust(1_000);
        assertThat(clock.now()).isGreaterThanOrEqualTo(ahead + 1_000);
        assertThat(fast.now(n + 91)).isGreaterThanOrEqualTo(ahead + 1_000);
    }

    @Test
    void aHostReadingHoldsBackTheEstimatesOfEveryReader() {
        ManualNanos time = new ManualNanos();
        RealTimeHostClock clock = new RealTimeHostClock(KHZ, 1_000, time);
        HostClock.VcpuReader reader = clock.vcpuReader();
        long n = 0;
        for (int i = 0; i < 20; i++) {
            n += 100;
            time.nanos += 10;
            reader.now(n);
        }
        reader.resync();
        reader.now(n);
        // The reader calibrated at 0.1 ns per instruction; now one instruction took 10 us.
        time.nanos += 10_000;
        long host = clock.now();
        long realReads = time.reads;
        assertThat(reader.now(n + 1)).isGreaterThanOrEqualTo(host);
        assertThat(time.reads).as("an estimate").isEqualTo(realReads);
    }

    @Test
    void resyncAndAnInstructionCountThatWentBackMakeTheNextReadReal() {
        ManualNanos time = new ManualNanos();
        RealTimeHostClock clock = new RealTimeHostClock(KHZ, 1_000, time);
        HostClock.VcpuReader reader = clock.vcpuReader();
        long n = 0;
        for (int i = 0; i < 20; i++) {
            n += 10;
            time.nanos += 20;
            reader.now(n);
        }
        reader.resync();
        reader.now(n);
        long realReads = time.reads;
        reader.now(n + 1);
        assertThat(time.reads).as("an estimate").isEqualTo(realReads);
        reader.resync();
        reader.now(n + 2);
        assertThat(time.reads).as("after resync").isEqualTo(realReads + 1);
        reader.now(n + 3);
        assertThat(time.reads).as("an estimate again").isEqualTo(realReads + 1);
        reader.now(5); // a restored CPU counts from an older value
        assertThat(time.reads).isEqualTo(realReads + 2);
    }

    @Test
    void aReaderWhoseInstructionsDoNotAdvanceStillReadsRealTimeEverySeventeenthRead() {
        ManualNanos time = new ManualNanos();
        RealTimeHostClock clock = new RealTimeHostClock(KHZ, 1_000, time);
        HostClock.VcpuReader reader = clock.vcpuReader(); // as a host thread calling the guest side
        int period = RealTimeHostClock.MAX_ESTIMATES_PER_ANCHOR + 1;
        long lastReal = 0;
        for (int i = 0; i < 10 * period; i++) {
            time.nanos += 1_000;
            long value = reader.now(42);
            if (i % period == 0) {
                lastReal = time.ticks(clock); // a real read; the next 16 repeat it
            }
            assertThat(value).isEqualTo(lastReal);
        }
        assertThat(time.reads - 1).isEqualTo(10); // creation reads the source once
    }

    @Test
    void aZeroBoundMakesEveryGuestReadReal() {
        ManualNanos time = new ManualNanos();
        RealTimeHostClock clock = new RealTimeHostClock(KHZ, 0, time);
        HostClock.VcpuReader reader = clock.vcpuReader();
        for (int i = 1; i <= 100; i++) {
            time.nanos += 7;
            assertThat(reader.now(i * 10L)).isEqualTo(time.ticks(clock));
        }
        assertThatThrownBy(() -> new RealTimeHostClock(KHZ, -1)).isInstanceOf(TscvmException.class).hasMessageContaining("-1 ns");
    }

    @Test
    void readersBeyondTheSlotLimitStillNeverGoBackwards() {
        ManualNanos time = new ManualNanos();
        RealTimeHostClock clock = new RealTimeHostClock(KHZ, 1_000, time);
        List<HostClock.VcpuReader> readers = new ArrayList<>();
        for (int i = 0; i < RealTimeHostClock.MAX_SLOTTED_READERS + 3; i++) {
            readers.add(clock.vcpuReader());
        }
        Random random = new Random(3);
        long[] instructions = new long[readers.size()];
        long previous = 0;
        for (int i = 0; i < 50_000; i++) {
            int r = random.nextInt(readers.size());
            instructions[r] += 1 + random.nextInt(100);
            time.nanos += random.nextInt(3);
            long value = readers.get(r).now(instructions[r]);
            assertThat(value).isGreaterThanOrEqualTo(previous).isLessThan(time.ticks(clock) + clock.estimateBoundTicks());
            previous = value;
        }
    }

    @Test
    void deterministicClockReadersReadTheClockItself() {
        DeterministicHostClock clock = new DeterministicHostClock();
        HostClock.VcpuReader reader = clock.vcpuReader();
        clock.advance(1_234);
        assertThat(reader.now(999_999)).isEqualTo(1_234).isEqualTo(clock.now());
        reader.resync();
        assertThat(reader.now(0)).isEqualTo(1_234);
    }

    /**
     * Several vCPU threads and a host thread read one clock on real time. Each reading records
     * the shared sequence before it starts and after it returns; a reading that started after
     * another returned must not be smaller. The bound is the largest allowed (1 ms), so
     * estimates run far ahead and only the high-water mark keeps the order.
     */
    @Test
    void readingsNeverGoBackwardsOnOneThreadOrAcrossThreadsUnderLoad() throws Exception {
        RealTimeHostClock clock = new RealTimeHostClock(KHZ, 1_000_000);
        int vcpus = 3;
        int readsPerThread = 100_000;
        AtomicLong sequence = new AtomicLong();
        long[][] starts = new long[vcpus + 1][readsPerThread];
        long[][] values = new long[vcpus + 1][readsPerThread];
        long[][] ends = new long[vcpus + 1][readsPerThread];
        CyclicBarrier go = new CyclicBarrier(vcpus + 1);
        List<Thread> threads = new ArrayList<>();
        List<Throwable> failures = new ArrayList<>();
        for (int t = 0; t <= vcpus; t++) {
            int id = t;
            HostClock.VcpuReader reader = id < vcpus ? clock.vcpuReader() : null;
            Thread thread = new Thread(() -> {
                try {
                    go.await();
                    long instructions = 0;
                    for (int i = 0; i < readsPerThread; i++) {
                        instructions += 5 + (i % 7) * (id + 1) * 20; // each thread its own speed
                        starts[id][i] = sequence.get();
                        values[id][i] = reader == null ? clock.now() : reader.now(instructions);
                        ends[id][i] = sequence.incrementAndGet();
                    }
                } catch (Throwable e) {
                    synchronized (failures) {
                        failures.add(e);
                    }
                }
            });
            threads.add(thread);
            thread.start();
        }
        for (Thread thread : threads) {
            thread.join();
        }
        assertThat(failures).isEmpty();
        int total = (vcpus + 1) * readsPerThread;
        // maxEndedBy[s]: the largest value of a reading whose end sequence is <= s.
        long[] maxEndedBy = new long[total + 1];
        Arrays.fill(maxEndedBy, Long.MIN_VALUE);
        for (int t = 0; t <= vcpus; t++) {
            for (int i = 0; i < readsPerThread; i++) {
                int end = (int) ends[t][i];
                maxEndedBy[end] = Math.max(maxEndedBy[end], values[t][i]);
                if (i > 0) {
                    assertThat(values[t][i]).as("thread %d read %d", t, i).isGreaterThanOrEqualTo(values[t][i - 1]);
                }
            }
        }
        for (int s = 1; s <= total; s++) {
            maxEndedBy[s] = Math.max(maxEndedBy[s], maxEndedBy[s - 1]);
        }
        for (int t = 0; t <= vcpus; t++) {
            for (int i = 0; i < readsPerThread; i++) {
                long before = maxEndedBy[(int) starts[t][i]];
                assertThat(values[t][i]).as("thread %d read %d started after a reading of %d ended", t, i, before)
                        .isGreaterThanOrEqualTo(before);
            }
        }
    }

    /**
     * Real time, one reader in a tight loop: each reading, bracketed by real readings taken
     * just before and just after, is below the bound ahead of the later one, and not behind
     * the one taken before the read 16 reads earlier (an anchor comes at least that often).
     * The rate over 40 ms windows is then checked against the real readings taken just after
     * the window's ends, using as ends only readings whose "after" is within 4 us of the
     * reader's anchor: a reading is in [anchor, after + bound), so each end is off by at most
     * 4.25 us, and 250 ppm of 40 ms is 10 us. Readings whose thread was descheduled since its
     * anchor are skipped as ends, never failed, so machine load cannot fail the test.
     */
    @Test
    void rateOverFortyMillisecondWindowsStaysWithin250PpmOfTheClockOnRealTime() {
        RealTimeHostClock clock = new RealTimeHostClock(KHZ);
        VcpuEstimator reader = (VcpuEstimator) clock.vcpuReader();
        int history = RealTimeHostClock.MAX_ESTIMATES_PER_ANCHOR + 1;
        long[] before = new long[history];
        long windowTicks = 40 * clock.khz();
        long maxSpanTicks = 4 * clock.khz() / 1_000;
        long instructions = 0;
        long startValue = 0;
        long startAfter = 0;
        boolean started = false;
        int checked = 0;
        long deadline = System.nanoTime() + 10_000_000_000L;
        for (long i = 0; checked < 3 && System.nanoTime() < deadline; i++) {
            instructions += 9;
            long b = clock.realTicks();
            long value = reader.now(instructions);
            long a = clock.realTicks();
            before[(int) (i % history)] = b;
            assertThat(value).isLessThan(a + clock.estimateBoundTicks()).isGreaterThanOrEqualTo(reader.anchorTicks());
            if (i >= history) {
                assertThat(value).isGreaterThanOrEqualTo(before[(int) ((i + 1) % history)]);
            }
            if (a - reader.anchorTicks() >= maxSpanTicks) {
                continue;
            }
            if (!started) {
                started = true;
                startValue = value;
                startAfter = a;
            } else if (a - startAfter >= windowTicks) {
                long real = a - startAfter;
                long guest = value - startValue;
                assertThat(Math.abs(guest - real) * PPM / real).as("ppm over %d ticks", real).isLessThanOrEqualTo(250);
                checked++;
                started = false;
            }
        }
        assertThat(checked).as("40 ms windows with prompt ends within 10 s").isGreaterThan(0);
    }
}

package org.tscvm.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;
import org.tscvm.memory.GuestMemory;

/**
 * Guest physical memory access through {@link GuestMemory}: the floor under every guest
 * load and store once the TLB has translated the address. The read/write benchmarks touch
 * 1024 addresses spread over {@code spanMiB} (they stay in the host's caches: the access
 * path's own cost); {@link #chase} follows a random cycle through the whole span, as the
 * ptrchase workload does, so at 64 MiB it pays the host's cache and TLB misses too.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class GuestMemoryBenchmark {
    private static final int ADDRESSES = 1024;
    private static final long RAM_BYTES = 128L << 20;

    @Param({"1", "64"})
    public int spanMiB;

    private GuestMemory memory;
    private static final int NODE_BYTES = 64;
    private static final int CHASE_STEPS = 1024;

    /** Aligned 8-byte addresses, precomputed so the loop measures only the access. */
    private final long[] addresses = new long[ADDRESSES];
    private long chasePosition;

    @Setup
    public void setUp() {
        memory = new GuestMemory(RAM_BYTES);
        SplittableRandom random = new SplittableRandom(42);
        long span = (long) spanMiB << 20;
        for (int i = 0; i < ADDRESSES; i++) {
            addresses[i] = random.nextLong(span) & ~7L;
            memory.write64(addresses[i], random.nextLong());
        }
        // Sattolo's shuffle: one cycle through every 64-byte node of the span.
        int nodes = (int) (span / NODE_BYTES);
        int[] next = new int[nodes];
        for (int i = 0; i < nodes; i++) {
            next[i] = i;
        }
        for (int i = nodes - 1; i > 0; i--) {
            int j = random.nextInt(i);
            int t = next[i];
            next[i] = next[j];
            next[j] = t;
        }
        for (int i = 0; i < nodes; i++) {
            memory.write64((long) i * NODE_BYTES, (long) next[i] * NODE_BYTES);
        }
    }

    /** Dependent loads: each address is the value the previous load returned. */
    @Benchmark
    @OperationsPerInvocation(CHASE_STEPS)
    public long chase() {
        long p = chasePosition;
        for (int i = 0; i < CHASE_STEPS; i++) {
            p = memory.read64(p);
        }
        chasePosition = p;
        return p;
    }

    @Benchmark
    @OperationsPerInvocation(ADDRESSES)
    public long read64() {
        long sum = 0;
        for (long a : addresses) {
            sum += memory.read64(a);
        }
        return sum;
    }

    @Benchmark
    @OperationsPerInvocation(ADDRESSES)
    public int read32() {
        int sum = 0;
        for (long a : addresses) {
            sum += memory.read32(a);
        }
        return sum;
    }

    @Benchmark
    @OperationsPerInvocation(ADDRESSES)
    public void write64(Blackhole blackhole) {
        long value = 0x0123456789abcdefL;
        for (long a : addresses) {
            memory.write64(a, value);
            value = value * 31 + 1;
        }
        blackhole.consume(value);
    }

    /** The CPU's fast path once its TLB holds the chunk: a VarHandle on the chunk, no bounds logic. */
    @Benchmark
    @OperationsPerInvocation(ADDRESSES)
    public long read64ThroughChunk() {
        long sum = 0;
        for (long a : addresses) {
            sum += (long) GuestMemory.I64.get(memory.writtenChunk(a), (int) a & (GuestMemory.CHUNK_SIZE - 1));
        }
        return sum;
    }
}

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
 * load and store once the TLB has translated the address. {@code spanMiB} = 1 stays in the
 * host's caches; 64 matches the pointer-chase workload's working set.
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
    /** Aligned 8-byte addresses, precomputed so the loop measures only the access. */
    private final long[] addresses = new long[ADDRESSES];

    @Setup
    public void setUp() {
        memory = new GuestMemory(RAM_BYTES);
        SplittableRandom random = new SplittableRandom(42);
        long span = (long) spanMiB << 20;
        for (int i = 0; i < ADDRESSES; i++) {
            addresses[i] = random.nextLong(span) & ~7L;
            memory.write64(addresses[i], random.nextLong());
        }
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

    /** The CPU's fast path: the array and a VarHandle, without the method call. */
    @Benchmark
    @OperationsPerInvocation(ADDRESSES)
    public long read64ThroughArray() {
        byte[] ram = memory.array();
        long sum = 0;
        for (long a : addresses) {
            sum += (long) GuestMemory.I64.get(ram, (int) a);
        }
        return sum;
    }
}

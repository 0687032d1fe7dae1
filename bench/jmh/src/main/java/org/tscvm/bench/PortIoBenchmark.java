package org.tscvm.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.tscvm.memory.IoDevice;
import org.tscvm.memory.PortIoBus;

/**
 * The port I/O bus side of an OUT: what the pio workload's OUT to 0x80 costs once the CPU
 * has decoded it. Unclaimed ports count every access; a mapped port calls its device.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PortIoBenchmark {
    private static final int POST_PORT = 0x80;
    private static final int DEVICE_PORT = 0x3f8;

    /** A device that takes writes and remembers the last one, as a POST latch would. */
    private static final class Latch implements IoDevice {
        int last;

        @Override
        public int read(int offset, int size) {
            return last;
        }

        @Override
        public void write(int offset, int size, int value) {
            last = value;
        }
    }

    private PortIoBus bus;
    private int value;

    @Setup
    public void setUp() {
        bus = new PortIoBus();
        bus.map(DEVICE_PORT, 8, new Latch());
    }

    @Benchmark
    public boolean outToUnclaimedPort() {
        return bus.out(POST_PORT, 1, value++);
    }

    @Benchmark
    public boolean outToMappedDevice() {
        return bus.out(DEVICE_PORT, 1, value++);
    }

    @Benchmark
    public int inFromUnclaimedPort() {
        return bus.in(POST_PORT, 1);
    }
}

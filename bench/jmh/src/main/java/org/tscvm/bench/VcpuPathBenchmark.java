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
import org.tscvm.cpu.CpuBus;
import org.tscvm.cpu.Msr;
import org.tscvm.tsc.RealTimeHostClock;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.Vm;
import org.tscvm.vm.VmConfig;

/**
 * The platform side of RDTSC, RDMSR/WRMSR and OUT as the interpreter calls it: a real vCPU's
 * {@link CpuBus} ({@code Vcpu.guest()}), real-time clock. {@code nanoTime} and
 * {@code hostClockNow} show how much of an RDTSC is the host clock read itself.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class VcpuPathBenchmark {
    private static final int POST_PORT = 0x80;

    private CpuBus guest;
    private RealTimeHostClock clock;
    private int value;

    @Setup
    public void setUp() {
        Vm vm = Vm.create(VmConfig.builder().ramBytes(16L << 20).build());
        Vcpu vcpu = vm.createVcpu();
        guest = vcpu.guest();
        clock = new RealTimeHostClock();
    }

    @Benchmark
    public long nanoTime() {
        return System.nanoTime();
    }

    @Benchmark
    public long hostClockNow() {
        return clock.now();
    }

    /**
     * The guest's RDTSC: the vCPU's clock reader, scale (skipped at ratio 1.0), offset. No
     * instruction retires between calls, so 16 of every 17 are estimates equal to the last
     * real read; {@code InterpreterBenchmark.rdtscLoopIteration} is the realistic figure.
     */
    @Benchmark
    public long rdtsc() {
        return guest.rdtsc();
    }

    /** The msr workload's pair: WRMSR then RDMSR of IA32_TSC_AUX. */
    @Benchmark
    public long wrmsrRdmsrTscAux() {
        guest.wrmsr(Msr.IA32_TSC_AUX, value++ & 0xffffffffL);
        return guest.rdmsr(Msr.IA32_TSC_AUX);
    }

    /** RDMSR of IA32_TSC (0x10): a clock read plus the switch over MSR indexes. */
    @Benchmark
    public long rdmsrTsc() {
        return guest.rdmsr(Msr.IA32_TSC);
    }

    /** The pio workload's OUT to 0x80, which nothing claims, through the vCPU's exit check. */
    @Benchmark
    public int outToUnclaimedPort() {
        guest.ioOut(POST_PORT, 1, value++);
        return value;
    }
}

package org.tscvm.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.tscvm.cpu.CpuBus;
import org.tscvm.cpu.Msr;
import org.tscvm.trace.TraceConfig;
import org.tscvm.trace.TraceKind;
import org.tscvm.trace.Tracer;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.Vm;
import org.tscvm.vm.VmConfig;

/**
 * The trace hooks on the guest's RDTSC and WRMSR paths: {@code off} is a VM without a tracer
 * (the hooks' null checks only), {@code filtered} traces only the cpu category (the MSR hook
 * runs but records nothing), {@code on} records every time MSR write. Compare {@code off}
 * with {@link VcpuPathBenchmark} on a jar without the hooks for their cost when tracing is off.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(1)
public class TraceHookBenchmark {
    @Param({"off", "filtered", "on"})
    public String tracing;

    private CpuBus guest;
    private Tracer tracer;
    private Path file;
    private long value;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        Vm vm = Vm.create(VmConfig.builder().ramBytes(16L << 20).build());
        if (!tracing.equals("off")) {
            file = Files.createTempFile("tscvm-trace", ".json");
            EnumSet<TraceKind.Category> kinds = tracing.equals("on")
                    ? EnumSet.allOf(TraceKind.Category.class) : EnumSet.of(TraceKind.Category.CPU);
            tracer = Tracer.open(new TraceConfig(file, kinds), vm.clock());
            vm.setTracer(tracer);
        }
        Vcpu vcpu = vm.createVcpu();
        guest = vcpu.guest();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        if (tracer != null) {
            tracer.close();
            Files.deleteIfExists(file);
        }
    }

    /** The guest's RDTSC: no hook on this path at all. */
    @Benchmark
    public long rdtsc() {
        return guest.rdtsc();
    }

    /** A guest WRMSR of IA32_TSC_AUX, a time MSR the trace records. */
    @Benchmark
    public void wrmsrTscAux() {
        guest.wrmsr(Msr.IA32_TSC_AUX, value++ & 0xffffffffL);
    }

    /** A guest WRMSR of IA32_TSC_ADJUST (R6: the offset moves too). */
    @Benchmark
    public void wrmsrTscAdjust() {
        guest.wrmsr(Msr.IA32_TSC_ADJUST, value++ & 0xffff);
    }
}

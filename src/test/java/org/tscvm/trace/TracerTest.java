package org.tscvm.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tscvm.TscvmException;
import org.tscvm.cpu.Msr;
import org.tscvm.json.Json;
import org.tscvm.memory.GuestMemory;
import org.tscvm.tsc.DeterministicHostClock;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.Vm;
import org.tscvm.vm.VmConfig;

/** The trace of the KVM-shaped API on a hand-driven clock: exact values, origins and before/after. */
class TracerTest {
    @TempDir
    Path dir;

    private final DeterministicHostClock clock = new DeterministicHostClock();

    private Vm tracedVm(Tracer tracer) {
        Vm vm = Vm.create(VmConfig.builder().hostClock(clock).ramBytes(GuestMemory.MIN_BYTES).build());
        vm.setTracer(tracer);
        return vm;
    }

    /** The instant events of the trace in {@code file}, in file order. */
    static List<Map<?, ?>> instants(Path file) throws IOException {
        Map<?, ?> root = (Map<?, ?>) Json.parse(Files.readString(file));
        List<Map<?, ?>> events = new ArrayList<>();
        for (Object e : (List<?>) root.get("traceEvents")) {
            Map<?, ?> event = (Map<?, ?>) e;
            if ("i".equals(event.get("ph"))) {
                events.add(event);
            }
        }
        return events;
    }

    static Map<?, ?> args(Map<?, ?> event) {
        return (Map<?, ?>) event.get("args");
    }

    static long arg(Map<?, ?> event, String name) {
        return Json.decimal((Number) args(event).get(name)).longValueExact();
    }

    @Test
    void guestAndHostWritesAreRecordedWithOriginAndTheStateBeforeAndAfter() throws IOException {
        Path file = dir.resolve("t.json");
        Tracer tracer = Tracer.open(TraceConfig.all(file), clock);
        Vm vm = tracedVm(tracer);
        Vcpu vcpu = vm.createVcpu();
        clock.advance(1000);
        vcpu.setMsr(Msr.IA32_TSC_ADJUST, 77); // R8: the TSC does not move
        clock.advance(1000);
        vcpu.guest().wrmsr(Msr.IA32_TSC_ADJUST, 1077); // R6: the TSC moves by 1000
        clock.advance(1000);
        vcpu.guest().wrmsr(Msr.IA32_TSC, 50_000); // R4: TSC and adjust move by the same delta
        clock.advance(1000);
        vcpu.setMsr(Msr.IA32_TSC, 9_000_000); // R9/R10: a new generation, the adjust stays
        tracer.close();

        List<Map<?, ?>> events = instants(file);
        assertThat(events).extracting(e -> (String) args(e).get("kind")).containsExactly(
                "VCPU_CREATE", "MSR_WRITE", "MSR_WRITE", "MSR_WRITE", "MSR_WRITE", "GENERATION");
        assertThat(events).allMatch(e -> ((Number) e.get("tid")).intValue() == 1);

        Map<?, ?> hostAdjust = events.get(1);
        assertThat(hostAdjust.get("name")).isEqualTo("WRMSR IA32_TSC_ADJUST (host)");
        assertThat(args(hostAdjust).get("origin")).isEqualTo("host");
        assertThat(arg(hostAdjust, "adjust_before")).isZero();
        assertThat(arg(hostAdjust, "adjust_after")).isEqualTo(77);
        assertThat(arg(hostAdjust, "tsc_before")).isEqualTo(1000).isEqualTo(arg(hostAdjust, "tsc_after"));

        Map<?, ?> guestAdjust = events.get(2);
        assertThat(args(guestAdjust).get("origin")).isEqualTo("guest");
        assertThat(arg(guestAdjust, "tsc_before")).isEqualTo(2000);
        assertThat(arg(guestAdjust, "tsc_after")).isEqualTo(3000);
        assertThat(arg(guestAdjust, "offset_after") - arg(guestAdjust, "offset_before")).isEqualTo(1000);

        Map<?, ?> guestTsc = events.get(3);
        assertThat(guestTsc.get("name")).isEqualTo("WRMSR IA32_TSC (guest)");
        assertThat(arg(guestTsc, "value")).isEqualTo(50_000);
        assertThat(arg(guestTsc, "tsc_before")).isEqualTo(4000);
        assertThat(arg(guestTsc, "tsc_after")).isEqualTo(50_000);
        assertThat(arg(guestTsc, "adjust_after") - arg(guestTsc, "adjust_before")).isEqualTo(46_000);

        Map<?, ?> hostTsc = events.get(4);
        assertThat(args(hostTsc).get("origin")).isEqualTo("host");
        assertThat(arg(hostTsc, "tsc_after")).isEqualTo(9_000_000);
        assertThat(arg(hostTsc, "adjust_after")).isEqualTo(arg(hostTsc, "adjust_before")).isEqualTo(47_077);
        assertThat(arg(events.get(5), "generation_before")).isEqualTo(1);
        assertThat(arg(events.get(5), "generation_after")).isEqualTo(2);

        // Host time: 1000 ticks at 2.5 GHz are 0.4 µs apart.
        double t1 = ((Number) events.get(1).get("ts")).doubleValue();
        double t2 = ((Number) events.get(2).get("ts")).doubleValue();
        assertThat(t2 - t1).isCloseTo(0.4, org.assertj.core.data.Offset.offset(1e-9));
    }

    @Test
    void offsetFrequencyHostAdjustAndStateEventsAreRecorded() throws IOException {
        Path file = dir.resolve("t.json");
        Tracer tracer = Tracer.open(TraceConfig.all(file), clock);
        Vm vm = tracedVm(tracer);
        Vcpu a = vm.createVcpu();
        Vcpu b = vm.createVcpu();
        a.setTscOffset(a.getTscOffset() + 5000);
        b.setTscKhz(1_000_000);
        vm.setHostTscAdjust(123);
        tracer.stateEvent(TraceKind.RESTORE);
        tracer.close();
        List<Map<?, ?>> events = instants(file);
        Map<?, ?> offset = events.stream().filter(e -> "OFFSET_SET".equals(args(e).get("kind"))).findFirst().orElseThrow();
        assertThat(arg(offset, "tsc_after") - arg(offset, "tsc_before")).isEqualTo(5000);
        Map<?, ?> khz = events.stream().filter(e -> "TSC_KHZ".equals(args(e).get("kind"))).findFirst().orElseThrow();
        assertThat(((Number) khz.get("tid")).intValue()).isEqualTo(2);
        assertThat(arg(khz, "khz_after")).isEqualTo(1_000_000);
        List<Map<?, ?>> hostAdjust = events.stream().filter(e -> "HOST_TSC_ADJUST".equals(args(e).get("kind"))).toList();
        assertThat(hostAdjust).hasSize(2).allSatisfy(e -> assertThat(arg(e, "host_adjust_after")).isEqualTo(123));
        // A2: each guest TSC moves with the host's, through its own ratio (vCPU 1 runs at 1 GHz of 2.5).
        assertThat(arg(hostAdjust.get(0), "tsc_after") - arg(hostAdjust.get(0), "tsc_before")).isEqualTo(123);
        assertThat(arg(hostAdjust.get(1), "tsc_after") - arg(hostAdjust.get(1), "tsc_before")).isEqualTo(49);
        assertThat(events.stream().filter(e -> "RESTORE".equals(args(e).get("kind"))))
                .extracting(e -> ((Number) e.get("tid")).intValue()).containsExactlyInAnyOrder(1, 2);
        assertThatThrownBy(() -> tracer.stateEvent(TraceKind.HALT)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void onlyTheChosenCategoriesAreRecorded() throws IOException {
        Path file = dir.resolve("t.json");
        Tracer tracer = Tracer.open(new TraceConfig(file, EnumSet.of(TraceKind.Category.SYNC)), clock);
        Vcpu vcpu = tracedVm(tracer).createVcpu();
        vcpu.guest().wrmsr(Msr.IA32_TSC_ADJUST, 5);
        vcpu.setMsr(Msr.IA32_TSC, 1_000_000);
        tracer.close();
        assertThat(instants(file)).extracting(e -> (String) args(e).get("kind")).containsExactly("VCPU_CREATE", "GENERATION");
        assertThat(instants(file)).allMatch(e -> "sync".equals(e.get("cat")));
    }

    @Test
    void manyEventsGoThroughSeveralBuffersAndStayValidJson() throws IOException {
        Path file = dir.resolve("t.json");
        Tracer tracer = Tracer.open(TraceConfig.all(file), clock);
        Vcpu vcpu = tracedVm(tracer).createVcpu();
        int writes = VcpuTrack.CAPACITY * 3 + 7;
        for (int i = 0; i < writes; i++) {
            clock.advance(10);
            vcpu.guest().wrmsr(Msr.IA32_TSC_AUX, i);
        }
        tracer.close();
        List<Map<?, ?>> events = instants(file);
        assertThat(events).hasSize(writes + 1);
        assertThat(arg(events.get(writes), "msr_before")).isEqualTo(writes - 2);
        assertThat(arg(events.get(writes), "msr_after")).isEqualTo(writes - 1);
    }

    @Test
    void aTraceFileThatCannotBeWrittenIsAClearError() {
        Path file = dir.resolve("no-such-dir").resolve("t.json");
        assertThatThrownBy(() -> Tracer.open(TraceConfig.all(file), clock)).isInstanceOf(TraceFileException.class)
                .hasMessageContaining("cannot write the trace file");
    }

    @Test
    void unknownCategoriesAreRefusedByName() {
        assertThat(TraceConfig.parseCategories("msr, timer")).containsExactlyInAnyOrder(
                TraceKind.Category.MSR, TraceKind.Category.TIMER);
        assertThat(TraceConfig.parseCategories("all")).hasSize(TraceKind.Category.values().length);
        assertThatThrownBy(() -> TraceConfig.parseCategories("msr,bogus")).isInstanceOf(TscvmException.class)
                .hasMessageContaining("'bogus'").hasMessageContaining("msr,sync");
    }

    @Test
    void vcpusCreatedBeforeTheTracerAreRefused() {
        Vm vm = Vm.create(VmConfig.builder().hostClock(clock).ramBytes(GuestMemory.MIN_BYTES).build());
        vm.createVcpu();
        assertThatThrownBy(() -> vm.setTracer(null)).isInstanceOf(TscvmException.class);
    }
}

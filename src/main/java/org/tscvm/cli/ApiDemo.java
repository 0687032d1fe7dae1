package org.tscvm.cli;

import java.io.PrintStream;
import org.tscvm.cpu.CpuBus;
import org.tscvm.cpu.Msr;
import org.tscvm.memory.GuestMemory;
import org.tscvm.tsc.DeterministicHostClock;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.Vm;
import org.tscvm.vm.VmConfig;

/**
 * The founding scenario of tscvm ("Emulate IA32_TSC_ADJUST MSR") with real numbers, on a
 * deterministic host clock so every run prints the same values. Until the interpreter runs
 * guest code, the "guest" steps call the vCPU's guest-side interface ({@link Vcpu#guest()})
 * exactly as the interpreter will for RDTSC, RDMSR and WRMSR.
 */
public final class ApiDemo {
    /** Host ticks that pass between two steps, as if the guest ran some instructions. */
    static final long TICKS_BETWEEN_STEPS = 1_000;
    static final long HOST_TSC_ADJUST = 1_000_000;
    static final long GUEST_TSC_ADJUST = 5_000_000;
    static final long GUEST_TSC_WRITE = 100_000_000_000L;
    static final long HOST_TSC_WRITE = 200_000_000_000L;

    private ApiDemo() {
    }

    public static void run(PrintStream out) {
        DeterministicHostClock clock = new DeterministicHostClock();
        clock.advance(10_000_000); // the host has been up for a while
        Vm vm = Vm.create(VmConfig.builder().hostClock(clock).ramBytes(GuestMemory.MIN_BYTES).build());
        Vcpu vcpu = vm.createVcpu();
        CpuBus guest = vcpu.guest();

        out.println("tscvm API demo: a guest's TSC on a host that sets IA32_TSC_ADJUST");
        out.printf("Host clock: deterministic, %d kHz; %d host ticks pass between steps.%n",
                clock.khz(), TICKS_BETWEEN_STEPS);
        out.println("No interpreter runs yet: the \"guest\" steps call the vCPU's guest-side interface"
                + " (RDTSC, RDMSR, WRMSR) directly, as the interpreter will.");
        out.println();
        out.printf("1. vCPU 0 created at host TSC %d: guest TSC starts at 0, offset %d (R12).%n",
                clock.now(), vcpu.getTscOffset());

        clock.advance(TICKS_BETWEEN_STEPS);
        vm.setHostTscAdjust(HOST_TSC_ADJUST);
        out.printf("2. The host sets its own IA32_TSC_ADJUST = %d: host TSC now %d (A2).%n",
                HOST_TSC_ADJUST, clock.now());

        clock.advance(TICKS_BETWEEN_STEPS);
        guest.wrmsr(Msr.IA32_TSC_ADJUST, GUEST_TSC_ADJUST);
        out.printf("3. Guest WRMSR IA32_TSC_ADJUST (0x3b) = %d: the offset moves by the same amount,"
                + " now %d (R6).%n", GUEST_TSC_ADJUST, vcpu.getTscOffset());

        clock.advance(TICKS_BETWEEN_STEPS);
        long hostTsc = clock.now();
        long guestTsc = guest.rdtsc();
        out.printf("4. Guest RDTSC = %d = host TSC %d (including the host adjust %d)"
                        + " + offset %d (including the guest adjust %d) (R1, A2).%n",
                guestTsc, hostTsc, HOST_TSC_ADJUST, vcpu.getTscOffset(), GUEST_TSC_ADJUST);

        clock.advance(TICKS_BETWEEN_STEPS);
        out.printf("5. Guest RDMSR IA32_TSC_ADJUST (0x3b) = %d: only the guest's own value;"
                + " the host's %d stays hidden (R7).%n", guest.rdmsr(Msr.IA32_TSC_ADJUST), HOST_TSC_ADJUST);

        clock.advance(TICKS_BETWEEN_STEPS);
        long adjustBefore = guest.rdmsr(Msr.IA32_TSC_ADJUST);
        long tscBefore = guest.rdtsc();
        guest.wrmsr(Msr.IA32_TSC, GUEST_TSC_WRITE);
        long adjustAfter = guest.rdmsr(Msr.IA32_TSC_ADJUST);
        out.printf("6. Guest WRMSR IA32_TSC (0x10) = %d while the TSC read %d:"
                        + " IA32_TSC_ADJUST moves by the same delta, %d -> %d (R4, the SDM's rule).%n",
                GUEST_TSC_WRITE, tscBefore, adjustBefore, adjustAfter);

        clock.advance(TICKS_BETWEEN_STEPS);
        vcpu.setMsr(Msr.IA32_TSC, HOST_TSC_WRITE);
        out.printf("7. Host (restore-style) write IA32_TSC = %d: guest RDTSC %d, IA32_TSC_ADJUST stays %d"
                + " (R9: host writes leave TSC_ADJUST alone).%n",
                HOST_TSC_WRITE, guest.rdtsc(), guest.rdmsr(Msr.IA32_TSC_ADJUST));

        clock.advance(TICKS_BETWEEN_STEPS);
        long tscBeforeHostAdjust = guest.rdtsc();
        vcpu.setMsr(Msr.IA32_TSC_ADJUST, 0);
        out.printf("8. Host (restore-style) write IA32_TSC_ADJUST = 0: guest RDTSC %d before, %d after,"
                + " IA32_TSC_ADJUST now %d (R8: host writes of 0x3b never move the TSC).%n",
                tscBeforeHostAdjust, guest.rdtsc(), guest.rdmsr(Msr.IA32_TSC_ADJUST));
    }
}

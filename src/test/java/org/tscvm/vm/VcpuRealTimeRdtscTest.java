package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.tscvm.cpu.Msr;
import org.tscvm.memory.GuestMemory;
import org.tscvm.tsc.RealTimeHostClock;

/**
 * Guest RDTSC through the interpreter and the run loop on a real-time clock, where most reads
 * are estimates between nanoTime reads (A2, R1/R2): the guest never sees its TSC go back, and
 * the host's readings afterwards (the clock, a host RDMSR of 0x10, R3) are never behind the
 * last value the guest saw.
 */
class VcpuRealTimeRdtscTest {
    private static final long PML4 = 0x1000;
    private static final long CODE = 0x10000;

    /**
     * The bench rdtsc loop, then HLT (no interrupt controller: the run returns Halt):
     * <pre>
     * 10000: 0f 31          rdtsc
     * 10002: 48 89 cf       mov %rcx,%rdi
     * 10005: 48 c1 e2 20    shl $0x20,%rdx
     * 10009: 89 c1          mov %eax,%ecx
     * 1000b: 48 09 d1       or %rdx,%rcx
     * 1000e: 48 39 f9       cmp %rdi,%rcx
     * 10011: 48 83 d3 00    adc $0x0,%rbx      (counts readings below the previous one)
     * 10015: 48 83 ee 01    sub $0x1,%rsi
     * 10019: 75 e5          jne 10000
     * 1001b: f4             hlt
     * </pre>
     */
    private static final byte[] RDTSC_LOOP = bytes(
            "0f 31 48 89 cf 48 c1 e2 20 89 c1 48 09 d1 48 39 f9 48 83 d3 00 48 83 ee 01 75 e5 f4");

    @Test
    void guestRdtscLoopNeverSeesTheTscGoBackAndTheHostNeverLagsItOnTheRealClock() {
        // A 1 ms bound: estimates may run far ahead, so only the clock's mark keeps the host's
        // readings from falling behind the guest's.
        RealTimeHostClock clock = new RealTimeHostClock(2_500_000, 1_000_000);
        Vm vm = Vm.create(VmConfig.builder().hostClock(clock).ramBytes(4L << 20).build());
        GuestMemory memory = vm.memory();
        memory.write64(PML4, 0x2000 | 7);
        memory.write64(0x2000, 0x3000 | 7);
        memory.write64(0x3000, 0x87); // one 2 MiB page at 0
        memory.load(CODE, RDTSC_LOOP, 0, RDTSC_LOOP.length);
        Vcpu vcpu = vm.createVcpu();
        LongModeGuest.enter(vcpu, CODE, PML4);
        LongModeGuest.set(vcpu, "rsp", 0x80000);
        LongModeGuest.set(vcpu, "rsi", 300_000);
        long hostBefore = clock.now();
        LongModeGuest.set(vcpu, "rcx", vcpu.getMsr(Msr.IA32_TSC)); // the first compare is against a real reading

        VcpuExit exit = vcpu.run();

        long lastGuestTsc = vcpu.getRegs().rcx();
        long hostMsrAfter = vcpu.getMsr(Msr.IA32_TSC);
        long hostAfter = clock.now();
        assertThat(exit).isInstanceOf(VcpuExit.Halt.class);
        assertThat(vcpu.getRegs().rbx()).as("readings below the previous one").isZero();
        assertThat(lastGuestTsc).isGreaterThan(vcpu.guestTscAt(hostBefore));
        assertThat(hostMsrAfter).isGreaterThanOrEqualTo(lastGuestTsc);
        assertThat(vcpu.guestTscAt(hostAfter)).isGreaterThanOrEqualTo(lastGuestTsc);
    }

    private static byte[] bytes(String hex) {
        String[] parts = hex.trim().split("\\s+");
        byte[] b = new byte[parts.length];
        for (int i = 0; i < parts.length; i++) {
            b[i] = (byte) Integer.parseInt(parts[i], 16);
        }
        return b;
    }
}

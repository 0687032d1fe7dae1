package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ApiDemoTest {
    private static String runDemo() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ApiDemo.run(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void demoShowsTheFoundingScenarioWithRealNumbers() {
        String out = runDemo();
        assertThat(out).contains("call the vCPU's guest-side interface");
        // Host TSC 10_000_000 at creation; host adjust 1_000_000 set one step later.
        assertThat(out).contains("host TSC now 11001000 (A2)");
        // RDTSC = host TSC (with host adjust) + offset (-10_000_000 + guest adjust 5_000_000).
        assertThat(out).contains("Guest RDTSC = 6003000 = host TSC 11003000 (including the host adjust 1000000)"
                + " + offset -5000000 (including the guest adjust 5000000)");
        assertThat(out).contains("Guest RDMSR IA32_TSC_ADJUST (0x3b) = 5000000: only the guest's own value");
        // Guest write of 1e11 while the TSC read 6_005_000: the adjust grows by the delta.
        assertThat(out).contains("5000000 -> 99998995000");
        assertThat(out).contains("guest RDTSC 200000000000, IA32_TSC_ADJUST stays 99998995000");
        assertThat(out).contains("guest RDTSC 200000001000 before, 200000001000 after, IA32_TSC_ADJUST now 0");
    }

    @Test
    void demoRepeatsBitForBit() {
        assertThat(runDemo()).isEqualTo(runDemo());
    }
}

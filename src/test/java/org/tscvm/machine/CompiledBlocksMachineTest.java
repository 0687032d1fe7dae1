package org.tscvm.machine;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VmConfig;

/**
 * Whole guest kernels (gcc-built, in every mode they switch through) on the deterministic
 * clock, once with every block compiled on its first run and once never compiled: a
 * deterministic run repeats exactly, so the serial output, the exit status and every vCPU's
 * retired-instruction count must be the same both ways.
 */
class CompiledBlocksMachineTest {
    private static final Path GUESTS = Path.of(System.getProperty("tscvm.guests", "target/guests"));

    private record Outcome(String serial, int status, List<Long> retired, long compiled) {
    }

    private static Outcome boot(String guest, int vcpus, int compileThreshold) throws Exception {
        ByteArrayOutputStream serial = new ByteArrayOutputStream();
        Machine machine = new Machine(MachineConfig.builder()
                .kernel(GUESTS.resolve(guest + ".elf"))
                .smp(vcpus)
                .serial(new SerialTarget.ToStream(serial))
                .clock(VmConfig.ClockKind.DETERMINISTIC)
                .timeout(Duration.ofSeconds(60))
                .compileThreshold(compileThreshold)
                .build());
        RunResult result = machine.run();
        List<Long> retired = new ArrayList<>();
        long compiled = 0;
        for (Vcpu vcpu : machine.vm().vcpus()) {
            retired.add(vcpu.instructionsRetired());
            compiled += vcpu.compiledBlocks();
        }
        return new Outcome(serial.toString(StandardCharsets.US_ASCII), result.exitStatus(), retired, compiled);
    }

    @ParameterizedTest
    @CsvSource({"boot,1", "tsc,1", "exceptions,1", "paging,1", "ring3,1", "smc,1", "apic_timer,1", "pit,1", "smp,4"})
    void aDeterministicRunIsTheSameWithEveryBlockCompiledAsWithNone(String guest, int vcpus) throws Exception {
        assertThat(Files.exists(GUESTS.resolve(guest + ".elf"))).as("guest kernels are built into " + GUESTS).isTrue();
        Outcome interpreted = boot(guest, vcpus, 0);
        Outcome compiled = boot(guest, vcpus, 1);
        assertThat(interpreted.compiled()).isZero();
        assertThat(compiled.compiled()).as("blocks compiled").isPositive();
        assertThat(compiled.serial()).isEqualTo(interpreted.serial());
        assertThat(compiled.status()).isEqualTo(interpreted.status());
        assertThat(compiled.retired()).isEqualTo(interpreted.retired());
        assertThat(interpreted.serial()).contains("PASS");
    }
}

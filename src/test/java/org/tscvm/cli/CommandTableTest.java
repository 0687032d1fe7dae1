package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CommandTableTest {
    private static CommandTable.Parsed picocli(String... args) {
        PrintStream sink = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        PicocliFront.Outcome outcome = PicocliFront.parse(args, sink, sink);
        assertThat(outcome.parsed()).as("picocli parses %s", List.of(args)).isNotNull();
        return outcome.parsed();
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "run -kernel k.elf -serial stdio -m 256M",
        "run -kernel k.elf -initrd a,b -initrd c -append console=ttyS0 --timeout 5 --clock deterministic",
        "run -smp 2 -cpu max,+rdpid --tsc-khz 1000000 --host-khz 3000000 --host-tsc-adjust 7 --msr-policy strict",
        "run -cpu tscvm,+kvmclock,+kvmclock-stable-bit --host-tsc unstable",
        "run --flat 0x100000,0x100010 -kernel raw.bin",
        "run -smp 4,sockets=4 --tsc-adjust 0=5000 --tsc-adjust 2=0x10 --tsc-warp 1=-2500000",
        "demo -m 64M --host-tsc-adjust 5",
        "run -kernel k.elf -s -S",
        "run -S -gdb tcp:localhost:0 -kernel k.elf -m 64M",
        "cpuid -cpu tscvm,-tsc-adjust",
        "run",
    })
    void thePlainFormReadsEveryCommandLineAsPicocliDoes(String line) {
        String[] args = line.split(" ");
        CommandTable.Parsed plain = CommandTable.parsePlain(args);
        assertThat(plain).isNotNull().isEqualTo(picocli(args));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "", "--help", "--version", "run --help", "help run", "run -V",
        "run -m=256M", "run -m256M", "run --frobnicate 1", "run -kernel", "run -m 1 -m 2",
        "run --host-tsc-adjust -5", "run -append -m", "run -kernel @args", "frobnicate", "run -- -kernel",
        "run -s -s", "run -gdb"
    })
    void everyOtherFormIsLeftToPicocli(String line) {
        String[] args = line.isEmpty() ? new String[0] : line.split(" ");
        assertThat(CommandTable.parsePlain(args)).isNull();
    }

    @Test
    void formsBeyondThePlainOneStillRunThroughPicocli() {
        assertThat(picocli("run", "-m=256M", "--timeout=5").value(CommandTable.MEMORY)).isEqualTo("256M");
        assertThat(picocli("run", "--host-tsc-adjust", "-5").value(CommandTable.HOST_TSC_ADJUST)).isEqualTo("-5");
    }

    @Test
    void anOptionNotGivenHasTheTablesDefault() {
        CommandTable.Parsed p = CommandTable.parsePlain(new String[] {"run", "-kernel", "k"});
        assertThat(p.value(CommandTable.MEMORY)).isEqualTo("128");
        assertThat(p.value(CommandTable.TIMEOUT)).isNull();
        assertThat(p.values(CommandTable.INITRD)).isEmpty();
        assertThat(p.isGiven(CommandTable.KERNEL)).isTrue();
    }

    @Test
    void picocliHelpListsEveryOptionOfTheTable() {
        CliRun help = CliRun.tscvm("demo", "--help");
        assertThat(help.status()).isZero();
        for (CommandTable.Option o : CommandTable.DEMO.options()) {
            assertThat(help.out()).contains(o.isFlag() ? "  " + o.name() + " " : o.name() + "=" + o.paramLabel());
        }
    }
}

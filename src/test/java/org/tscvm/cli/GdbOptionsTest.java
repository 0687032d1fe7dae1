package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tscvm.machine.MachineConfig;

/** -s, -gdb and -S in both front ends: what they configure and how bad values are refused. */
class GdbOptionsTest {
    @TempDir
    Path dir;

    /** 100000 EB FE: jmp $ (never reached: every run here fails before the guest runs). */
    private Path kernel() throws IOException {
        return Files.write(dir.resolve("k.elf"), CliRun.multibootElf32(0x100000, CliRun.bytes(0xEB, 0xFE)));
    }

    @Test
    void sIsTcpPort1234OnLoopbackAndGdbTakesAHostAndPort() {
        assertThat(Launcher.parseGdb(true, null, false)).isEqualTo(new MachineConfig.Gdb("127.0.0.1", 1234, false));
        assertThat(Launcher.parseGdb(false, "tcp::4321", true)).isEqualTo(new MachineConfig.Gdb("127.0.0.1", 4321, true));
        assertThat(Launcher.parseGdb(false, "tcp:localhost:0", false)).isEqualTo(new MachineConfig.Gdb("localhost", 0, false));
        assertThat(Launcher.parseGdb(false, null, false)).isNull();
    }

    @ParameterizedTest
    @ValueSource(strings = {"tcp::", "tcp::65536", "tcp::12a", "udp::1234", "1234", "tcp:1234", "tcp:no.such.host.invalid:1234"})
    void aBadGdbValueIsOneLineAndStatus18InBothFrontEnds(String value) throws IOException {
        String k = kernel().toString();
        for (CliRun run : new CliRun[] {CliRun.tscvm("run", "-kernel", k, "-gdb", value),
            CliRun.qemu("-kernel", k, "-gdb", value)}) {
            assertThat(run.status()).as(run.err()).isEqualTo(ExitStatus.OPTION_VALUE);
            assertThat(run.err()).startsWith("tscvm: -gdb " + value + ": ").hasLineCount(1);
        }
    }

    @Test
    void waitingForADebuggerWithoutAServerOrTwoServersAreRefused() throws IOException {
        String k = kernel().toString();
        assertThat(CliRun.tscvm("run", "-kernel", k, "-S").err()).contains("-S waits for a debugger");
        assertThat(CliRun.tscvm("run", "-kernel", k, "-S").status()).isEqualTo(ExitStatus.OPTION_VALUE);
        assertThat(CliRun.qemu("-kernel", k, "-S").status()).isEqualTo(ExitStatus.OPTION_VALUE);
        assertThat(CliRun.qemu("-kernel", k, "-s", "-gdb", "tcp::1").err()).contains("not both");
        // picocli's reading of the same flags (an attached value sends the line there).
        CliRun picocli = CliRun.tscvm("run", "-kernel=" + k, "-S");
        assertThat(picocli.status()).as(picocli.err()).isEqualTo(ExitStatus.OPTION_VALUE);
        assertThat(picocli.err()).contains("-S waits for a debugger");
    }

    @Test
    void theReverseIntervalGoesToTheGdbServerOnlyWhereTheMachineCanRunBackwards() throws IOException {
        assertThat(Launcher.withReverseInterval(new MachineConfig.Gdb("127.0.0.1", 1234, false), "500", true, 1))
                .isEqualTo(new MachineConfig.Gdb("127.0.0.1", 1234, false, 500));
        String k = kernel().toString();
        for (String[] line : new String[][] {
            {"-s", "--clock", "deterministic", "--reverse-interval", "0"},
            {"-s", "--clock", "deterministic", "--reverse-interval", "many"},
            {"--clock", "deterministic", "--reverse-interval", "1000"},
            {"-s", "--reverse-interval", "1000"},
            {"-s", "--clock", "deterministic", "-smp", "2", "--reverse-interval", "1000"}}) {
            String[] args = new String[line.length + 3];
            args[0] = "run";
            args[1] = "-kernel";
            args[2] = k;
            System.arraycopy(line, 0, args, 3, line.length);
            CliRun run = CliRun.tscvm(args);
            assertThat(run.status()).as(String.join(" ", line) + ": " + run.err()).isEqualTo(ExitStatus.OPTION_VALUE);
            assertThat(run.err()).startsWith("tscvm: --reverse-interval ").hasLineCount(1);
        }
    }

    @Test
    void aPortInUseIsAClearHostError() throws IOException {
        String k = kernel().toString();
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            String spec = "tcp::" + taken.getLocalPort();
            for (CliRun run : new CliRun[] {CliRun.tscvm("run", "-kernel", k, "-gdb", spec, "-S"),
                CliRun.qemu("-kernel", k, "-gdb", spec, "-S")}) {
                assertThat(run.status()).as(run.err()).isEqualTo(ExitStatus.HOST_ERROR);
                assertThat(run.err()).startsWith("tscvm: cannot listen for gdb on tcp:127.0.0.1:" + taken.getLocalPort())
                        .hasLineCount(1);
            }
        }
    }
}

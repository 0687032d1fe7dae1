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
import org.tscvm.qmp.QmpAddress;

/** -qmp and -qmp-pretty in both front ends: what they configure and how bad values are refused. */
class QmpOptionsTest {
    @TempDir
    Path dir;

    /** 100000 EB FE: jmp $ (never reached: every run here fails before the guest runs). */
    private Path kernel() throws IOException {
        return Files.write(dir.resolve("k.elf"), CliRun.multibootElf32(0x100000, CliRun.bytes(0xEB, 0xFE)));
    }

    @Test
    void qemusSpellingsConfigureTheMonitor() {
        assertThat(Launcher.parseQmp("unix:/tmp/q.sock,server=on,wait=off", null, false))
                .isEqualTo(new MachineConfig.Qmp(new QmpAddress(Path.of("/tmp/q.sock"), null, 0, false), false, false, null));
        assertThat(Launcher.parseQmp(null, "tcp::4444,server,nowait", true))
                .isEqualTo(new MachineConfig.Qmp(new QmpAddress(null, "127.0.0.1", 4444, false), true, true, null));
        // QEMU's default is wait=on: the guest starts when the first client connects.
        assertThat(Launcher.parseQmp("tcp:localhost:0,server=on", null, false).address().waitForClient()).isTrue();
        assertThat(Launcher.parseQmp(null, null, false)).isNull();
    }

    @ParameterizedTest
    @ValueSource(strings = {"unix:/tmp/x.sock", "unix:,server=on", "tcp::99999,server=on", "tcp:host,server=on",
        "udp::1234,server=on", "unix:/tmp/x.sock,server=on,telnet=on", "stdio"})
    void aBadQmpValueIsOneLineAndStatus18InBothFrontEnds(String value) throws IOException {
        String k = kernel().toString();
        for (CliRun run : new CliRun[] {CliRun.tscvm("run", "-kernel", k, "-qmp", value),
            CliRun.qemu("-kernel", k, "-qmp", value)}) {
            assertThat(run.status()).as(run.err()).isEqualTo(ExitStatus.OPTION_VALUE);
            assertThat(run.err()).startsWith("tscvm: -qmp " + value + ": ").hasLineCount(1);
        }
    }

    @Test
    void incomingNeedsTheMonitorAndAStateStream() throws IOException {
        String k = kernel().toString();
        for (CliRun run : new CliRun[] {CliRun.tscvm("run", "-kernel", k, "-incoming", "tcp::0"),
            CliRun.qemu("-kernel", k, "-incoming", "tcp::0")}) {
            assertThat(run.status()).isEqualTo(ExitStatus.OPTION_VALUE);
            assertThat(run.err()).contains("give -qmp too").hasLineCount(1);
        }
        String qmp = "unix:" + dir.resolve("q.sock") + ",server=on,wait=off";
        CliRun bad = CliRun.qemu("-kernel", k, "-qmp", qmp, "-incoming", "ftp:host");
        assertThat(bad.status()).isEqualTo(ExitStatus.HOST_ERROR);
        assertThat(bad.err()).contains("-incoming ftp:host: ").contains("valid migration protocol");
    }

    @ParameterizedTest
    @ValueSource(strings = {"chardev=m", "chardev=m,mode=readline", "chardev=other,mode=control", "mode=control"})
    void aMonitorTscvmCannotBeIsRefused(String mon) throws IOException {
        CliRun run = CliRun.qemu("-kernel", kernel().toString(), "-chardev",
                "socket,id=m,path=" + dir.resolve("m.sock") + ",server=on,wait=off", "-mon", mon);
        assertThat(run.status()).as(run.err()).isEqualTo(ExitStatus.OPTION_VALUE);
        assertThat(run.err()).startsWith("tscvm: -mon ").hasLineCount(1);
        CliRun pty = CliRun.qemu("-kernel", kernel().toString(), "-chardev", "pty,id=m", "-mon", "chardev=m,mode=control");
        assertThat(pty.status()).isEqualTo(ExitStatus.OPTION_VALUE);
        assertThat(pty.err()).contains("socket chardevs only");
    }

    @Test
    void twoMonitorsAreRefused() throws IOException {
        String k = kernel().toString();
        CliRun run = CliRun.qemu("-kernel", k, "-qmp", "tcp::1,server=on", "-qmp-pretty", "tcp::2,server=on");
        assertThat(run.status()).isEqualTo(ExitStatus.OPTION_VALUE);
        assertThat(run.err()).contains("one QMP monitor");
    }

    @Test
    void aPortInUseOrAFileInTheWayIsAClearHostError() throws IOException {
        String k = kernel().toString();
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            String spec = "tcp::" + taken.getLocalPort() + ",server=on,wait=off";
            for (CliRun run : new CliRun[] {CliRun.tscvm("run", "-kernel", k, "-qmp", spec),
                CliRun.qemu("-kernel", k, "-qmp", spec)}) {
                assertThat(run.status()).as(run.err()).isEqualTo(ExitStatus.HOST_ERROR);
                assertThat(run.err()).startsWith("tscvm: cannot listen for QMP on tcp:127.0.0.1:" + taken.getLocalPort())
                        .hasLineCount(1);
            }
        }
        Path file = Files.writeString(dir.resolve("notes.txt"), "keep me");
        CliRun run = CliRun.tscvm("run", "-kernel", k, "-qmp", "unix:" + file + ",server=on,wait=off");
        assertThat(run.status()).isEqualTo(ExitStatus.HOST_ERROR);
        assertThat(run.err()).contains("exists and is not a socket");
        assertThat(file).hasContent("keep me");
    }
}

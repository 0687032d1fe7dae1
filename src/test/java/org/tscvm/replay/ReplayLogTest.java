package org.tscvm.replay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tscvm.machine.InputJournal.MonitorAction;

/** The log's event lines: monitor actions beside COM1's input, their order within a pass, format 1. */
class ReplayLogTest {
    private static final String HEADER = "tscvm-version 0.1.0\nconfig smp=1\n";
    private static final String END = "end 9 900 900 900 exit=0 state-sha256=aa serial-sha256=bb\n";

    @TempDir
    Path dir;

    @Test
    void monitorLinesAndSerialInputReadInOrder() throws Exception {
        ReplayLog log = read("tscvm-replay 2\n" + HEADER + "monitor 3 300 300 300 system_reset\n"
                + "serial-in 3 300 300 300 6869\n" + "monitor 5 500 500 500 system_reset\n"
                + "monitor 5 500 500 500 quit\n" + END);
        assertThat(log.events()).hasSize(4);
        assertThat(log.events().get(0)).isEqualTo(new ReplayLog.Monitor(log.events().get(0).at(), MonitorAction.SYSTEM_RESET));
        assertThat(log.events().get(1)).isInstanceOf(ReplayLog.SerialIn.class);
        assertThat(((ReplayLog.Monitor) log.events().get(3)).action()).isEqualTo(MonitorAction.QUIT);
    }

    @Test
    void aMonitorLineAfterItsPassesSerialInputOrAnUnknownCommandIsCorrupt() throws Exception {
        assertThatThrownBy(() -> read("tscvm-replay 2\n" + HEADER + "serial-in 3 300 300 300 6869\n"
                + "monitor 3 300 300 300 quit\n" + END)).hasMessageContaining("line 5: a monitor action out of order");
        assertThatThrownBy(() -> read("tscvm-replay 2\n" + HEADER + "monitor 3 300 300 300 savevm\n" + END))
                .hasMessageContaining("'savevm' is not a monitor action");
        assertThatThrownBy(() -> read("tscvm-replay 2\n" + HEADER + "monitor 3 300 300 quit\n" + END))
                .hasMessageContaining("a monitor line needs");
    }

    @Test
    void formatOneStillReadsAndHoldsNoMonitorLines() throws Exception {
        ReplayLog log = read("tscvm-replay 1\n" + HEADER + "not-recorded monitor-commands\n"
                + "serial-in 3 300 300 300 6869\n" + END);
        assertThat(log.events()).hasSize(1);
        assertThatThrownBy(() -> read("tscvm-replay 1\n" + HEADER + "monitor 3 300 300 300 quit\n" + END))
                .hasMessageContaining("a monitor line in a format 1 log");
        assertThatThrownBy(() -> read("tscvm-replay 2\n" + HEADER + "not-recorded monitor-commands\n" + END))
                .hasMessageContaining("a not-recorded line in a format 2 log");
    }

    private ReplayLog read(String text) throws Exception {
        Path p = dir.resolve("r.log");
        Files.writeString(p, text);
        return ReplayLog.read(p);
    }
}

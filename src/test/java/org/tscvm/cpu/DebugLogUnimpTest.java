package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.tscvm.log.DebugLog;

/** {@code -d unimp}: the first use of each unimplemented opcode is logged once; nothing when off. */
class DebugLogUnimpTest {
    private final ByteArrayOutputStream log = new ByteArrayOutputStream();
    private final PrintStream err = new PrintStream(log, true, StandardCharsets.UTF_8);

    @AfterEach
    void off() {
        DebugLog.configure(Set.of(), err);
    }

    /** 0F 04 is no instruction (UnimplementedOpcodeSweepTest): #UD, counted as unimplemented. */
    private static CpuRig runUndefinedTwice() {
        CpuRig rig = new CpuRig().longMode();
        for (int i = 0; i < 2; i++) {
            rig.run(CpuRig.hex("0f 04"));
            assertThat(rig.haltedInVector()).isEqualTo(CpuFault.UD);
        }
        assertThat(rig.cpu.unimplementedOpcodes()).containsValue(2L);
        return rig;
    }

    @Test
    void unimpLogsTheFirstOccurrenceOfAnUnimplementedOpcodeExactlyOnce() {
        DebugLog.configure(EnumSet.of(DebugLog.Topic.UNIMP), err);
        runUndefinedTwice();
        String text = log.toString(StandardCharsets.UTF_8);
        assertThat(text.lines()).hasSize(1);
        assertThat(text).startsWith("tscvm: unimp: unimplemented opcode ").contains("0f 04").contains("#UD")
                .contains("RIP 0x" + Long.toHexString(CpuRig.CODE));
    }

    @Test
    void nothingIsLoggedWhenUnimpIsOff() {
        DebugLog.configure(EnumSet.of(DebugLog.Topic.GUEST_ERRORS), err); // another topic on: unimp stays quiet
        runUndefinedTwice();
        DebugLog.configure(Set.of(), err);
        runUndefinedTwice();
        assertThat(log.toString(StandardCharsets.UTF_8)).isEmpty();
    }
}

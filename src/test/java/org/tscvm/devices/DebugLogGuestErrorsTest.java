package org.tscvm.devices;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.tscvm.log.DebugLog;

/** {@code -d guest_errors}: a write to a read-only device register is logged once per register. */
class DebugLogGuestErrorsTest {
    private final ByteArrayOutputStream log = new ByteArrayOutputStream();
    private final PrintStream err = new PrintStream(log, true, StandardCharsets.UTF_8);
    private final Uart16550 uart = new Uart16550(OutputStream.nullOutputStream(), IrqLine.NONE);

    @AfterEach
    void off() {
        DebugLog.configure(Set.of(), err);
    }

    @Test
    void writesToTheUartsLineStatusRegisterAreLoggedOnceWhenOn() {
        DebugLog.configure(EnumSet.of(DebugLog.Topic.GUEST_ERRORS), err);
        uart.write(Uart16550.LSR, 1, 0x12);
        uart.write(Uart16550.LSR, 1, 0x34);
        uart.write(0, 1, 'x'); // THR: an ordinary write, nothing to log
        assertThat(log.toString(StandardCharsets.UTF_8).lines()).containsExactly(
                "tscvm: guest_errors: 16550: write of 0x12 to read-only register 5 (LSR/MSR) dropped");
    }

    @Test
    void nothingIsLoggedWhenOff() {
        uart.write(Uart16550.LSR, 1, 0x12);
        assertThat(log.toString(StandardCharsets.UTF_8)).isEmpty();
    }
}

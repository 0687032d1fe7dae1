package org.tscvm.devices;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class I8042Test {
    private int resets;
    private final I8042 controller = new I8042(() -> resets++);

    private int command(int c) {
        controller.command().write(0, 1, c);
        return controller.command().read(0, 1);
    }

    @Test
    void statusShowsTheSystemFlagAndAnEmptyBufferWithNoKeyboard() {
        assertThat(controller.command().read(0, 1) & I8042.STATUS_OUTPUT_FULL).isZero();
        assertThat(controller.command().read(0, 1) & I8042.STATUS_SYSTEM).isNotZero();
    }

    @Test
    void selfTestAnswers55AndTheConfigurationByteReadsBackWhatWasWritten() {
        assertThat(command(I8042.CMD_SELF_TEST) & I8042.STATUS_OUTPUT_FULL).isNotZero();
        assertThat(controller.data().read(0, 1)).isEqualTo(0x55);
        assertThat(controller.command().read(0, 1) & I8042.STATUS_OUTPUT_FULL).isZero();
        command(I8042.CMD_WRITE_CONFIG);
        controller.data().write(0, 1, 0x65);
        command(I8042.CMD_READ_CONFIG);
        assertThat(controller.data().read(0, 1)).isEqualTo(0x65);
        command(I8042.CMD_TEST_KEYBOARD);
        assertThat(controller.data().read(0, 1)).isZero();
    }

    @Test
    void commandFePulsesResetAndSoDoesAnOutputPortWriteWithBit0Clear() {
        command(I8042.CMD_PULSE_RESET);
        assertThat(resets).isEqualTo(1);
        command(I8042.CMD_WRITE_OUTPUT_PORT);
        controller.data().write(0, 1, 0x03);
        assertThat(resets).isEqualTo(1);
        command(I8042.CMD_WRITE_OUTPUT_PORT);
        controller.data().write(0, 1, 0x02);
        assertThat(resets).isEqualTo(2);
    }

    @Test
    void bytesForTheAbsentKeyboardDoNothing() {
        controller.data().write(0, 1, 0xff);
        assertThat(resets).isZero();
        assertThat(controller.command().read(0, 1) & I8042.STATUS_OUTPUT_FULL).isZero();
    }
}

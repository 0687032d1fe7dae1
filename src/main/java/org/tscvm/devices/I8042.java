package org.tscvm.devices;

import org.tscvm.memory.IoDevice;

/**
 * The 8042 keyboard controller with nothing plugged in, enough for an operating system to
 * find it and to reset the machine through it: {@link #data()} (0x60) and {@link #command()}
 * (0x64, status on read). It answers the controller commands firmware and Linux use: read and
 * write the configuration byte (0x20/0x60), self-test (0xAA: 0x55), port tests (0xAB/0xA9: 0,
 * no fault), port enable/disable, read and write the output port (0xD0/0xD1), and reset
 * (0xFE, or an output-port write with bit 0 clear, pulses the CPU reset line). Bytes written
 * to the keyboard go nowhere: no device answers.
 */
public final class I8042 {
    // Status register bits.
    public static final int STATUS_OUTPUT_FULL = 0x01;
    /** System flag: set once the self-test passed, as firmware leaves it. */
    public static final int STATUS_SYSTEM = 0x04;
    /** The last write was a command (port 0x64), not data. */
    public static final int STATUS_COMMAND = 0x08;

    public static final int CMD_READ_CONFIG = 0x20;
    public static final int CMD_WRITE_CONFIG = 0x60;
    public static final int CMD_TEST_AUX = 0xa9;
    public static final int CMD_SELF_TEST = 0xaa;
    public static final int CMD_TEST_KEYBOARD = 0xab;
    public static final int CMD_READ_OUTPUT_PORT = 0xd0;
    public static final int CMD_WRITE_OUTPUT_PORT = 0xd1;
    public static final int CMD_PULSE_RESET = 0xfe;

    private static final int SELF_TEST_OK = 0x55;
    /** Output port bit 0: the CPU reset line, active low. */
    private static final int OUTPUT_PORT_RESET_RELEASED = 0x01;
    /** Output port bit 1: A20, enabled (tscvm has no A20 gate). */
    private static final int OUTPUT_PORT_A20 = 0x02;
    /** Configuration byte after firmware: both ports' interrupts on, translation on, system flag. */
    private static final int CONFIG_DEFAULT = 0x47;
    private static final int CONFIG_SYSTEM = 0x04;

    public record State(int config, int outputPort, int pendingCommand, int output, boolean outputFull,
                        boolean lastWasCommand) {
    }

    private final Runnable reset;
    private int config = CONFIG_DEFAULT;
    private int outputPort = OUTPUT_PORT_RESET_RELEASED | OUTPUT_PORT_A20;
    /** A command waiting for its data byte on port 0x60, or 0. */
    private int pendingCommand;
    private int output;
    private boolean outputFull;
    private boolean lastWasCommand;

    /** @param reset pulses the machine's reset line */
    public I8042(Runnable reset) {
        this.reset = reset;
    }

    public IoDevice data() {
        return new IoDevice() {
            @Override
            public int read(int offset, int size) {
                return readData();
            }

            @Override
            public void write(int offset, int size, int value) {
                if (writeData(value & 0xff)) {
                    reset.run();
                }
            }
        };
    }

    public IoDevice command() {
        return new IoDevice() {
            @Override
            public int read(int offset, int size) {
                return readStatus();
            }

            @Override
            public void write(int offset, int size, int value) {
                if (writeCommand(value & 0xff)) {
                    reset.run();
                }
            }
        };
    }

    private synchronized int readData() {
        outputFull = false;
        return output;
    }

    private synchronized int readStatus() {
        return (outputFull ? STATUS_OUTPUT_FULL : 0) | (config & CONFIG_SYSTEM)
                | (lastWasCommand ? STATUS_COMMAND : 0);
    }

    private void reply(int value) {
        output = value;
        outputFull = true;
    }

    /** Returns true when the command resets the machine. */
    private synchronized boolean writeCommand(int command) {
        lastWasCommand = true;
        pendingCommand = 0;
        switch (command) {
            case CMD_READ_CONFIG -> reply(config);
            case CMD_WRITE_CONFIG, CMD_WRITE_OUTPUT_PORT -> pendingCommand = command;
            case CMD_SELF_TEST -> reply(SELF_TEST_OK);
            case CMD_TEST_KEYBOARD, CMD_TEST_AUX -> reply(0);
            case CMD_READ_OUTPUT_PORT -> reply(outputPort);
            case CMD_PULSE_RESET -> {
                return true;
            }
            default -> {
                // Port enable/disable (0xA7/0xA8/0xAD/0xAE) and the rest change nothing observable here.
            }
        }
        return false;
    }

    private synchronized boolean writeData(int value) {
        lastWasCommand = false;
        int command = pendingCommand;
        pendingCommand = 0;
        if (command == CMD_WRITE_CONFIG) {
            config = value;
        } else if (command == CMD_WRITE_OUTPUT_PORT) {
            outputPort = value | OUTPUT_PORT_A20;
            return (value & OUTPUT_PORT_RESET_RELEASED) == 0;
        }
        // Otherwise a byte for the keyboard, which is not there.
        return false;
    }

    public synchronized State saveState() {
        return new State(config, outputPort, pendingCommand, output, outputFull, lastWasCommand);
    }

    public synchronized void restoreState(State s) {
        config = s.config() & 0xff;
        outputPort = (s.outputPort() & 0xff) | OUTPUT_PORT_A20;
        pendingCommand = s.pendingCommand() == CMD_WRITE_CONFIG || s.pendingCommand() == CMD_WRITE_OUTPUT_PORT
                ? s.pendingCommand() : 0;
        output = s.output() & 0xff;
        outputFull = s.outputFull();
        lastWasCommand = s.lastWasCommand();
    }
}

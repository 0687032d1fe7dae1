package org.tscvm.devices;

import org.tscvm.memory.IoDevice;

/**
 * The POST diagnostic port (0x80). Guests write progress codes or use it as a short I/O delay;
 * writes are accepted and dropped, and reads return 0xFF as QEMU's does.
 */
public final class PostPort implements IoDevice {
    @Override
    public int read(int offset, int size) {
        return size == 4 ? -1 : (1 << (size * 8)) - 1;
    }

    @Override
    public void write(int offset, int size, int value) {
        // Deliberately ignored: nothing on a PC listens to POST codes.
    }
}

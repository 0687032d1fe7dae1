package org.tscvm.devices;

import org.tscvm.memory.IoDevice;

/**
 * The Bochs/QEMU power-off port (0x8900): writing the bytes of "Shutdown" one after another
 * powers the machine off. Any other byte restarts the match, so stray writes do nothing.
 */
public final class ShutdownPort implements IoDevice {
    private static final byte[] MAGIC = {'S', 'h', 'u', 't', 'd', 'o', 'w', 'n'};

    public record State(int matched) {
    }

    private final Runnable powerOff;
    private int matched;

    public ShutdownPort(Runnable powerOff) {
        this.powerOff = powerOff;
    }

    @Override
    public int read(int offset, int size) {
        return 0;
    }

    @Override
    public synchronized void write(int offset, int size, int value) {
        byte b = (byte) value;
        if (b == MAGIC[matched]) {
            matched++;
            if (matched == MAGIC.length) {
                matched = 0;
                powerOff.run();
            }
        } else {
            matched = b == MAGIC[0] ? 1 : 0;
        }
    }

    public synchronized State saveState() {
        return new State(matched);
    }

    public synchronized void restoreState(State s) {
        matched = Math.floorMod(s.matched(), MAGIC.length);
    }
}

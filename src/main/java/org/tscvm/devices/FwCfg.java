package org.tscvm.devices;

import java.nio.charset.StandardCharsets;
import org.tscvm.log.DebugLog;
import org.tscvm.memory.IoDevice;

/**
 * QEMU's firmware configuration device, port interface only (no DMA). Offset 0 is the 16-bit
 * selector, offset 1 the data byte: a read returns the next byte of the selected item and 0
 * past its end or for an unknown key, as QEMU does. The machine maps it at 0x510.
 *
 * <p>kvm-unit-tests reads the signature, the RAM size and the CPU counts (lib/x86/fwcfg.c);
 * a wrong CPU count hangs its SMP bring-up.
 */
public final class FwCfg implements IoDevice {
    public static final int SELECTOR = 0;
    public static final int DATA = 1;

    public static final int KEY_SIGNATURE = 0x00;
    public static final int KEY_ID = 0x01;
    public static final int KEY_RAM_SIZE = 0x03;
    public static final int KEY_NOGRAPHIC = 0x04;
    public static final int KEY_NB_CPUS = 0x05;
    public static final int KEY_MAX_CPUS = 0x0f;
    /** The file directory: a big-endian count, here 0 (tscvm exposes no named files). */
    public static final int KEY_FILE_DIR = 0x19;

    /** ID bit 0: the traditional port interface; bit 1 (DMA) stays clear because there is none. */
    private static final int ID_TRADITIONAL = 1;
    private static final int KEY_COUNT = 0x20;

    public record State(int selector, int offset) {
    }

    private final byte[][] items = new byte[KEY_COUNT][];
    private int selector;
    private int offset;

    public FwCfg(long ramBytes, int cpus, int maxCpus) {
        items[KEY_SIGNATURE] = "QEMU".getBytes(StandardCharsets.US_ASCII);
        items[KEY_ID] = le(ID_TRADITIONAL, 4);
        items[KEY_RAM_SIZE] = le(ramBytes, 8);
        items[KEY_NOGRAPHIC] = le(1, 2);
        items[KEY_NB_CPUS] = le(cpus, 2);
        items[KEY_MAX_CPUS] = le(maxCpus, 2);
        items[KEY_FILE_DIR] = new byte[4];
    }

    private static byte[] le(long value, int bytes) {
        byte[] b = new byte[bytes];
        for (int i = 0; i < bytes; i++) {
            b[i] = (byte) (value >>> (8 * i));
        }
        return b;
    }

    @Override
    public synchronized int read(int off, int size) {
        if (off != DATA) {
            return 0;
        }
        // Wider reads of the data port return consecutive bytes, little-endian (QEMU's behaviour).
        int value = 0;
        for (int i = 0; i < size; i++) {
            value |= nextByte() << (8 * i);
        }
        return value;
    }

    private int nextByte() {
        byte[] item = selector < KEY_COUNT ? items[selector] : null;
        if (item == null || offset >= item.length) {
            return 0;
        }
        return item[offset++] & 0xff;
    }

    @Override
    public synchronized void write(int off, int size, int value) {
        if (off == SELECTOR) {
            selector = value & 0xffff;
            offset = 0;
        }
        // The data port is read-only in QEMU since 2.4; writes are dropped.
        if (off != SELECTOR && DebugLog.guestErrors) {
            DebugLog.Topic.GUEST_ERRORS.first("fw_cfg data", "fw_cfg: write to the read-only data port dropped");
        }
    }

    public synchronized State saveState() {
        return new State(selector, offset);
    }

    public synchronized void restoreState(State s) {
        selector = s.selector() & 0xffff;
        offset = Math.max(0, s.offset());
    }
}

package org.tscvm.devices;

import org.tscvm.memory.IoDevice;

/**
 * PCI configuration mechanism #1 with one device on bus 0: the i440FX host bridge (vendor
 * 8086, device 1237, class 06 00 00) at 00:00.0, as on QEMU's {@code pc}, so an operating
 * system finds a PCI bus. Offsets 0-3 are CONFIG_ADDRESS (a 32-bit register: enable bit 31,
 * bus, device, function, register), offsets 4-7 CONFIG_DATA, byte lanes selected by the
 * offset. Every other function reads all ones; the bridge's registers are read-only.
 */
public final class PciHost implements IoDevice {
    public static final int CONFIG_ADDRESS = 0;
    public static final int CONFIG_DATA = 4;
    public static final int ENABLE = 1 << 31;
    /** Bus, device, function and the dword-aligned register of CONFIG_ADDRESS. */
    private static final int ADDRESS_BITS = 0x00ff_fffc;
    private static final int CONFIG_SPACE_SIZE = 256;

    public static final int VENDOR_INTEL = 0x8086;
    public static final int DEVICE_I440FX = 0x1237;
    /** Class 06 (bridge), subclass 00 (host bridge), programming interface 00. */
    public static final int CLASS_HOST_BRIDGE = 0x060000;
    private static final int REVISION = 0x02;

    /** The one register a guest changes: CONFIG_ADDRESS (the bridge's registers are read-only). */
    public record State(int address) {
    }

    private final byte[] hostBridge = new byte[CONFIG_SPACE_SIZE];
    private int address;

    public PciHost() {
        put16(0x00, VENDOR_INTEL);
        put16(0x02, DEVICE_I440FX);
        put16(0x04, 0x0006); // command: memory and bus-master enabled, as firmware leaves it
        hostBridge[0x08] = REVISION;
        put16(0x0a, CLASS_HOST_BRIDGE >>> 8);
        hostBridge[0x09] = (byte) CLASS_HOST_BRIDGE;
        // Header type 0x00 (single-function, type 0) at 0x0E is already zero.
    }

    private void put16(int offset, int value) {
        hostBridge[offset] = (byte) value;
        hostBridge[offset + 1] = (byte) (value >>> 8);
    }

    @Override
    public synchronized int read(int offset, int size) {
        if (offset < CONFIG_DATA) {
            return offset == CONFIG_ADDRESS && size == 4 ? address : -1 >>> (32 - 8 * size);
        }
        int value = 0;
        for (int i = 0; i < size; i++) {
            value |= readConfigByte(offset - CONFIG_DATA + i) << (8 * i);
        }
        return value;
    }

    private int readConfigByte(int lane) {
        // Bus 0, device 0, function 0 only; the enable bit must be set for a configuration cycle.
        if ((address & ENABLE) == 0 || (address & 0x00ff_ff00) != 0) {
            return 0xff;
        }
        return hostBridge[((address & 0xfc) + lane) & 0xff] & 0xff;
    }

    @Override
    public synchronized void write(int offset, int size, int value) {
        // Only a 32-bit write latches the address (byte accesses there reach other devices on a PC).
        if (offset == CONFIG_ADDRESS && size == 4) {
            address = value & (ENABLE | ADDRESS_BITS);
        }
        // CONFIG_DATA writes: the host bridge's registers are read-only here.
    }

    public synchronized State saveState() {
        return new State(address);
    }

    public synchronized void restoreState(State s) {
        address = s.address() & (ENABLE | ADDRESS_BITS);
    }
}

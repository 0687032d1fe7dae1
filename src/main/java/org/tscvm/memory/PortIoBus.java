package org.tscvm.memory;

import java.util.concurrent.atomic.AtomicLongArray;
import org.tscvm.TscvmException;
import org.tscvm.log.DebugLog;

/**
 * The 64 KiB port space. The machine maps devices onto port ranges; a port may instead be an
 * <em>exit port</em>, whose OUTs are handed to the run-loop caller as a VM exit (as KVM hands
 * every PIO to userspace). Unassigned ports read all ones, drop writes, and are counted per port.
 */
public final class PortIoBus {
    public static final int PORTS = 0x10000;

    private final IoDevice[] deviceByPort = new IoDevice[PORTS];
    private final int[] baseByPort = new int[PORTS];
    private final boolean[] exitPort = new boolean[PORTS];
    private final AtomicLongArray unassignedAccesses = new AtomicLongArray(PORTS);

    /** Maps {@code device} at ports [base, base+length). Overlaps are a host error. */
    public void map(int base, int length, IoDevice device) {
        checkFree(base, length);
        for (int p = base; p < base + length; p++) {
            deviceByPort[p] = device;
            baseByPort[p] = base;
        }
    }

    /** Makes OUTs to [base, base+length) end the vCPU's run with an IoOut exit. */
    public void mapExit(int base, int length) {
        checkFree(base, length);
        for (int p = base; p < base + length; p++) {
            exitPort[p] = true;
        }
    }

    private void checkFree(int base, int length) {
        if (base < 0 || length <= 0 || base + length > PORTS) {
            throw new TscvmException(String.format("port range 0x%x+%d is outside 0..0xffff", base, length));
        }
        for (int p = base; p < base + length; p++) {
            if (deviceByPort[p] != null || exitPort[p]) {
                throw new TscvmException(String.format("port 0x%x is already mapped", p));
            }
        }
    }

    /** IN: the device's value, or all ones (for the access size) where nothing is mapped. */
    public int in(int port, int size) {
        IoDevice d = deviceByPort[port];
        if (d != null) {
            return d.read(port - baseByPort[port], size);
        }
        if (unassignedAccesses.incrementAndGet(port) == 1 && DebugLog.guestErrors) {
            DebugLog.Topic.GUEST_ERRORS.log(String.format("IN from port 0x%x, which no device claims: reads all ones", port));
        }
        return size == 4 ? -1 : (1 << (size * 8)) - 1;
    }

    /**
     * OUT. Returns true when the port is an exit port and the caller must hand the access to
     * the run-loop caller; false when a device took it or it was dropped (and counted).
     */
    public boolean out(int port, int size, int value) {
        IoDevice d = deviceByPort[port];
        if (d != null) {
            d.write(port - baseByPort[port], size, value);
            return false;
        }
        if (exitPort[port]) {
            return true;
        }
        if (unassignedAccesses.incrementAndGet(port) == 1 && DebugLog.guestErrors) {
            DebugLog.Topic.GUEST_ERRORS.log(String.format("OUT 0x%x to port 0x%x, which no device claims: dropped", value, port));
        }
        return false;
    }

    /** How many accesses went to {@code port} while nothing was mapped there. */
    public long unassignedAccesses(int port) {
        return unassignedAccesses.get(port);
    }
}

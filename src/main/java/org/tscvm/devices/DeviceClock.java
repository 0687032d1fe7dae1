package org.tscvm.devices;

/**
 * The time a device sees, in nanoseconds of the VM's host clock (real or deterministic). It is
 * handed to the device by the machine, never read from the system, so tests drive it by hand
 * and deterministic runs repeat exactly.
 */
@FunctionalInterface
public interface DeviceClock {
    long nanos();
}

package org.tscvm.devices;

/**
 * A device's interrupt output (vm-superio's {@code Trigger}). The machine connects it to an
 * input of the PIC or of a local APIC. A device drives the level; edge-triggered inputs latch
 * the rising edge themselves.
 */
@FunctionalInterface
public interface IrqLine {
    /** An unconnected line. */
    IrqLine NONE = high -> { };

    void setLevel(boolean high);

    /** A rising then falling edge: one interrupt on an edge-triggered input. */
    default void pulse() {
        setLevel(true);
        setLevel(false);
    }
}

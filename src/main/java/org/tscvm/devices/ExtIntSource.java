package org.tscvm.devices;

/**
 * An external interrupt controller behind a local APIC's LINT0 in ExtINT mode (the 8259 pair
 * on a PC): the APIC passes its request through and forwards the acknowledge, and the vector
 * comes from the PIC, as on real hardware.
 */
public interface ExtIntSource {
    /** True while INTR is asserted; cheap and lock-free (the vCPU polls it). */
    boolean interruptRequested();

    /** The vector an acknowledge would return now, or -1. */
    int pendingVector();

    /** The interrupt acknowledge cycle: returns the vector and marks it in service. */
    int acknowledge();
}

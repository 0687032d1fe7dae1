package org.tscvm.devices;

import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The wire between the local APICs and the I/O APIC: routes an interrupt message to the APICs
 * its shorthand or destination selects, and a local APIC's EOI of a level-triggered vector to
 * the I/O APIC (the EOI broadcast). Lowest-priority delivery goes to the first matching APIC
 * (a legal choice: the SDM leaves the arbitration to the implementation).
 */
public final class ApicBus {
    /** An 8-bit destination of all ones: every APIC, in xAPIC and x2APIC mode alike. */
    static final int BROADCAST = 0xff;

    private final CopyOnWriteArrayList<LocalApic> apics = new CopyOnWriteArrayList<>();
    private volatile IoApic ioApic;

    void register(LocalApic apic) {
        apics.add(apic);
    }

    void connect(IoApic ioApic) {
        this.ioApic = ioApic;
    }

    /** Delivers to the APIC whose id is {@code apicId}; returns 1 if one exists, else 0. */
    int sendPhysical(int apicId, int mode, int vector, boolean levelAssert, boolean levelTriggered) {
        for (LocalApic target : apics) {
            if (target.id() == apicId) {
                target.accept(mode, vector, levelAssert, levelTriggered);
                return 1;
            }
        }
        return 0;
    }

    void send(LocalApic source, int shorthand, boolean logical, int destination, int mode,
              int vector, boolean levelAssert, boolean levelTriggered) {
        for (LocalApic target : apics) {
            boolean selected = switch (shorthand) {
                case LocalApic.SHORTHAND_SELF -> target == source;
                case LocalApic.SHORTHAND_ALL -> true;
                case LocalApic.SHORTHAND_ALL_BUT_SELF -> target != source;
                default -> target.matches(logical, destination);
            };
            if (selected) {
                target.accept(mode, vector, levelAssert, levelTriggered);
                if (mode == LocalApic.DM_LOWEST && shorthand == LocalApic.SHORTHAND_NONE) {
                    return;
                }
            }
        }
    }

    /**
     * A message from the I/O APIC: its destination field is 8 bits, and 0xFF addresses every
     * APIC even in x2APIC mode (KVM's kvm_apic_mda does the same widening).
     */
    void sendFromIoApic(boolean logical, int destination, int mode, int vector, boolean levelTriggered) {
        int widened = destination == BROADCAST ? -1 : destination;
        send(null, LocalApic.SHORTHAND_NONE, logical, widened, mode, vector, true, levelTriggered);
    }

    /** Opens the ExtINT route on the APICs the destination selects and closes it on the rest. */
    void routeExtInt(boolean open, boolean logical, int destination) {
        int widened = destination == BROADCAST ? -1 : destination;
        for (LocalApic target : apics) {
            target.setExtIntFromIoApic(open && target.matches(logical, widened));
        }
    }

    void broadcastEoi(int vector) {
        IoApic target = ioApic;
        if (target != null) {
            target.endOfInterrupt(vector);
        }
    }
}

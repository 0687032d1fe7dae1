package org.tscvm.devices;

import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The wire between local APICs: routes an IPI to the APICs its shorthand or destination
 * selects. Lowest-priority delivery goes to the first matching APIC (a legal choice: the SDM
 * leaves the arbitration to the implementation).
 */
public final class ApicBus {
    private final CopyOnWriteArrayList<LocalApic> apics = new CopyOnWriteArrayList<>();

    void register(LocalApic apic) {
        apics.add(apic);
    }

    /** Delivers to the APIC whose id is {@code apicId}; returns 1 if one exists, else 0. */
    int sendPhysical(int apicId, int mode, int vector, boolean levelAssert) {
        for (LocalApic target : apics) {
            if (target.id() == apicId) {
                target.accept(mode, vector, levelAssert);
                return 1;
            }
        }
        return 0;
    }

    void send(LocalApic source, int shorthand, boolean logical, int destination, int mode,
              int vector, boolean levelAssert) {
        for (LocalApic target : apics) {
            boolean selected = switch (shorthand) {
                case LocalApic.SHORTHAND_SELF -> target == source;
                case LocalApic.SHORTHAND_ALL -> true;
                case LocalApic.SHORTHAND_ALL_BUT_SELF -> target != source;
                default -> target.matches(logical, destination);
            };
            if (selected) {
                target.accept(mode, vector, levelAssert);
                if (mode == LocalApic.DM_LOWEST && shorthand == LocalApic.SHORTHAND_NONE) {
                    return;
                }
            }
        }
    }
}

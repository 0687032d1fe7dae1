package org.tscvm.cpu;

/**
 * A set of TLB slot indices without allocation: the slots that may hold some kind of entry
 * (a large page's slice, a keyed entry), so that an invalidation of that kind visits these
 * instead of every slot. A slot stays listed after it is refilled with another kind of entry;
 * the visitor checks the slot itself and drops it from the list then.
 */
final class TlbSlots {
    final int[] slots;
    final boolean[] member;
    int count;

    TlbSlots(int capacity) {
        slots = new int[capacity];
        member = new boolean[capacity];
    }

    /** Adds {@code slot} when {@code condition} holds and it is not listed yet. */
    void addIf(boolean condition, int slot) {
        if (condition && !member[slot]) {
            member[slot] = true;
            slots[count++] = slot;
        }
    }

    void clear() {
        for (int n = 0; n < count; n++) {
            member[slots[n]] = false;
        }
        count = 0;
    }
}

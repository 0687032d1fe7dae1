package org.tscvm.vm;

import java.util.Arrays;
import org.tscvm.TscvmException;

/**
 * One vCPU's MSR dispatch: each MSR index has exactly one owner (the CPU's architectural
 * state, the TSC, the vCPU's own storage, the machine-check banks, the MTRRs, the local
 * interrupt controller), which registers its indexes here. The guest's RDMSR/WRMSR and the
 * host's get/set reach the owner through {@link #owner}, an open-addressing lookup that neither
 * allocates nor locks. An index registered as <em>saved</em> is state a snapshot carries
 * (KVM's msrs_to_save); the others (MTRRcap, the x2APIC registers, the segment bases) are
 * read-only, write-only or travel in another part of the state.
 */
final class MsrTable {
    /** What owns a set of MSRs; refusals follow {@link Vcpu}'s rule (#GP for the guest, an exception for the host). */
    interface Owner {
        long read(int index, MsrOrigin origin);

        void write(int index, long value, MsrOrigin origin);
    }

    private static final int EMPTY = 0xdead_beef; // not an MSR index any owner uses
    private static final int CAPACITY = 1024; // power of two, a little over twice the MSRs a vCPU has

    private final int[] keys = new int[CAPACITY];
    private final Owner[] owners = new Owner[CAPACITY];
    private final boolean[] saved = new boolean[CAPACITY];
    private int size;

    MsrTable() {
        Arrays.fill(keys, EMPTY);
    }

    /**
     * Registers {@code owner} for {@code index}.
     *
     * @throws TscvmException if another owner already has the index (one owner per MSR)
     */
    void register(int index, Owner owner, boolean isSaved) {
        if (index == EMPTY) {
            throw new TscvmException(String.format("MSR index 0x%x is reserved by the table", index));
        }
        int slot = slot(index);
        if (keys[slot] == index) {
            throw new TscvmException(String.format("MSR 0x%x already has an owner (%s); one owner per MSR",
                    index, owners[slot].getClass().getSimpleName()));
        }
        if (size >= CAPACITY / 2) {
            throw new TscvmException("the MSR table is full (" + size + " MSRs)");
        }
        keys[slot] = index;
        owners[slot] = owner;
        saved[slot] = isSaved;
        size++;
    }

    /** Removes every index {@code owner} registered (an interrupt controller taking over APIC_BASE). */
    void removeOwner(Owner owner) {
        // Rebuild without them: open addressing has no simple delete.
        int[] oldKeys = keys.clone();
        Owner[] oldOwners = owners.clone();
        boolean[] oldSaved = saved.clone();
        Arrays.fill(keys, EMPTY);
        Arrays.fill(owners, null);
        Arrays.fill(saved, false);
        size = 0;
        for (int i = 0; i < CAPACITY; i++) {
            if (oldKeys[i] != EMPTY && oldOwners[i] != owner) {
                register(oldKeys[i], oldOwners[i], oldSaved[i]);
            }
        }
    }

    /** The owner of {@code index}, or null. */
    Owner owner(int index) {
        int slot = slot(index);
        return keys[slot] == index ? owners[slot] : null;
    }

    boolean isSaved(int index) {
        int slot = slot(index);
        return keys[slot] == index && saved[slot];
    }

    /** The saved indexes, ascending. */
    int[] savedIndexes() {
        int[] out = new int[size];
        int n = 0;
        for (int i = 0; i < CAPACITY; i++) {
            if (keys[i] != EMPTY && saved[i]) {
                out[n++] = keys[i];
            }
        }
        out = Arrays.copyOf(out, n);
        Arrays.sort(out);
        return out;
    }

    /** The slot holding {@code index}, or the empty slot where it would go (linear probing). */
    private int slot(int index) {
        int h = index * 0x9E3779B1; // Fibonacci hashing spreads the clustered MSR ranges
        int slot = (h ^ (h >>> 16)) & (CAPACITY - 1);
        while (keys[slot] != EMPTY && keys[slot] != index) {
            slot = (slot + 1) & (CAPACITY - 1);
        }
        return slot;
    }
}

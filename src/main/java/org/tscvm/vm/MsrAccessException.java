package org.tscvm.vm;

import org.tscvm.TscvmException;

/** A host-side MSR access that tscvm refuses, e.g. a value with reserved bits set (R21). */
public final class MsrAccessException extends TscvmException {
    private final int index;

    public MsrAccessException(int index, String reason) {
        super(String.format("MSR 0x%x: %s", index, reason));
        this.index = index;
    }

    public int index() {
        return index;
    }
}

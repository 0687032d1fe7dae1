package org.tscvm.vm;

import org.tscvm.TscvmException;

/** A host-side access to an MSR tscvm does not implement (tsc-semantics A4). */
public final class UnknownMsrException extends TscvmException {
    private final int index;

    public UnknownMsrException(int index) {
        super(String.format("MSR 0x%x is not implemented by tscvm; the host cannot read or write it", index));
        this.index = index;
    }

    public int index() {
        return index;
    }
}

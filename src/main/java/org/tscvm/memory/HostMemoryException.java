package org.tscvm.memory;

import org.tscvm.TscvmException;

/**
 * The host could not back a page of guest RAM the guest touched (the Java heap is full). The
 * vCPU's run ends with it as an internal error whose message says how much RAM was in use and
 * what to change; the guest sees nothing, as it would not on a host that ran out of memory.
 */
public final class HostMemoryException extends TscvmException {
    public HostMemoryException(String message) {
        super(message);
    }
}

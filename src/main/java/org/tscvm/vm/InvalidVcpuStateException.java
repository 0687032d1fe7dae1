package org.tscvm.vm;

/**
 * A {@link VcpuState} (or one of its parts) that {@link Vcpu#restoreState} or a setter
 * refuses; the message names the value and the rule it broke. The vCPU is unchanged.
 */
public final class InvalidVcpuStateException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public InvalidVcpuStateException(String message) {
        super(message);
    }

    public InvalidVcpuStateException(String message, Throwable cause) {
        super(message, cause);
    }
}

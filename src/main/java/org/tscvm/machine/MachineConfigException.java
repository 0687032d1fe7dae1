package org.tscvm.machine;

import org.tscvm.TscvmException;

/** A machine option out of range (vCPU count, RAM size, frequency); the message names it. */
public final class MachineConfigException extends TscvmException {
    public MachineConfigException(String message) {
        super(message);
    }
}

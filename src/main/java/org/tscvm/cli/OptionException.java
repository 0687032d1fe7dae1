package org.tscvm.cli;

import org.tscvm.TscvmException;

/** A command-line value tscvm refuses, with the exit status that kind of mistake gets. */
final class OptionException extends TscvmException {
    private final int status;

    OptionException(int status, String message) {
        super(message);
        this.status = status;
    }

    int status() {
        return status;
    }
}

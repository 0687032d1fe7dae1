package org.tscvm.trace;

import org.tscvm.TscvmException;

/** The trace file could not be written (the command line reports it with the file status). */
public final class TraceFileException extends TscvmException {
    public TraceFileException(String message) {
        super(message);
    }
}

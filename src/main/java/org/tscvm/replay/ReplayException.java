package org.tscvm.replay;

import org.tscvm.TscvmException;

/** A replay log tscvm cannot use: unreadable, corrupt, or of another machine. */
public final class ReplayException extends TscvmException {
    public enum Kind {
        /** The file cannot be read or written. */
        UNREADABLE,
        /** Not a replay log, a version this tscvm does not read, a malformed or missing line. */
        CORRUPT,
        /** The log was recorded on a machine configured otherwise (the message names each field). */
        CONFIG_MISMATCH
    }

    private final Kind kind;

    public ReplayException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}

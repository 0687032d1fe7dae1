package org.tscvm.snapshot;

import org.tscvm.TscvmException;

/**
 * A snapshot file (or stream) tscvm refuses, and why: the {@link Kind} (the command line maps
 * each to its own exit status) and the section it was found in. Thrown before anything is
 * restored: a refused file changes no machine.
 */
public final class SnapshotException extends TscvmException {
    /** Why a snapshot is refused; each kind has its own exit status on the command line. */
    public enum Kind {
        /** The file cannot be opened or read (the operating system said no). */
        UNREADABLE,
        /** Not a tscvm snapshot: the magic is wrong. */
        NOT_A_SNAPSHOT,
        /** A format version this tscvm does not read. */
        VERSION,
        /** The file ends before a section (or the header) does. */
        TRUNCATED,
        /** A checksum fails, or a section's contents break the format's rules. */
        CORRUPT,
        /** The snapshot was taken of a machine configured differently from this one. */
        CONFIG_MISMATCH
    }

    private final Kind kind;
    private final String section;

    public SnapshotException(Kind kind, String section, String message) {
        super("snapshot " + (section == null ? "" : "section " + section + ": ") + message);
        this.kind = kind;
        this.section = section;
    }

    public Kind kind() {
        return kind;
    }

    /** The section's name ({@link SnapshotFormat}), or null for the file as a whole. */
    public String section() {
        return section;
    }
}

package org.tscvm.qmp;

/**
 * A command's failure as QMP reports it: {@code {"error": {"class": ..., "desc": ...}}}. The
 * classes are QEMU's ErrorClass names; almost everything is {@link #GENERIC}.
 */
public final class QmpError extends Exception {
    public static final String GENERIC = "GenericError";
    /** An unknown command, or any command but qmp_capabilities before negotiation. */
    public static final String COMMAND_NOT_FOUND = "CommandNotFound";

    private final String errorClass;

    public QmpError(String errorClass, String desc) {
        super(desc, null, false, false);
        this.errorClass = errorClass;
    }

    public static QmpError generic(String desc) {
        return new QmpError(GENERIC, desc);
    }

    public String errorClass() {
        return errorClass;
    }
}

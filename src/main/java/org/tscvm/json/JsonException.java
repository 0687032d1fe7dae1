package org.tscvm.json;

import org.tscvm.TscvmException;

/**
 * Text that is not JSON. The message keeps QEMU's "JSON parse error, ..." wording (QMP clients
 * see it as the error's desc) and names the offset where reading stopped.
 */
public final class JsonException extends TscvmException {
    private final int offset;

    JsonException(String what, int offset) {
        super("JSON parse error, " + what + " at offset " + offset);
        this.offset = offset;
    }

    /** Where in the text reading stopped (0-based, in chars). */
    public int offset() {
        return offset;
    }
}

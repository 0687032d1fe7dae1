package org.tscvm;

/**
 * Host-side misuse of tscvm: a bad option, a broken kernel file, an MSR the host may not
 * write. Guest-caused conditions never use this; they become architectural behaviour
 * (#GP, #UD, #PF, triple fault). The message says what was wrong and what to do.
 */
public class TscvmException extends RuntimeException {
    public TscvmException(String message) {
        super(message);
    }

    public TscvmException(String message, Throwable cause) {
        super(message, cause);
    }
}

package org.tscvm.cpu;

/**
 * A guest-visible exception raised while executing an instruction (#GP, #PF, #UD ...). It is
 * control flow, not an error: it carries no stack trace, and the CPU's run loop catches it
 * once and delivers it through the IDT.
 */
public final class CpuFault extends RuntimeException {
    public static final int DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8,
            TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18, XM = 19,
            /** Control protection (CET): a shadow-stack mismatch or a missing ENDBR. */
            CP = 21;

    /** Marks a fault without an error code. */
    public static final int NO_ERROR_CODE = -1;

    private int vector;
    private int errorCode;

    public CpuFault(int vector, int errorCode) {
        super(null, null, false, false);
        this.vector = vector;
        this.errorCode = errorCode;
    }

    /** Re-arms a preallocated fault: the CPU keeps one instance, as a guest fault is control flow. */
    CpuFault set(int vector, int errorCode) {
        this.vector = vector;
        this.errorCode = errorCode;
        return this;
    }

    public int vector() {
        return vector;
    }

    /** The error code pushed with the exception, or {@link #NO_ERROR_CODE}. */
    public int errorCode() {
        return errorCode;
    }

    /** #GP(0), the answer to an MSR access the guest may not make. */
    public static CpuFault gp0() {
        return new CpuFault(GP, 0);
    }
}

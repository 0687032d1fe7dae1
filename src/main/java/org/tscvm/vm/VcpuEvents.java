package org.tscvm.vm;

/**
 * The vCPU's event state (KVM_GET_VCPU_EVENTS plus KVM_GET_MP_STATE): an exception or external
 * interrupt taken but not yet delivered ({@code -1}: none), NMIs latched and not yet delivered
 * (0-2, as KVM's {@code nmi.pending}), whether NMIs are blocked (an NMI handler runs until its
 * IRET), the interrupt shadow ({@link #SHADOW_MOV_SS}, {@link #SHADOW_STI}, KVM's bits) and
 * the multiprocessor state.
 *
 * <p>tscvm delivers an exception or interrupt within the instruction that raises or accepts it,
 * so a saved state never holds one, and {@link Vcpu#restoreState} refuses one.
 */
public record VcpuEvents(int exceptionVector, boolean exceptionHasErrorCode, int exceptionErrorCode,
                         int interruptVector, int nmiPending, boolean nmiBlocked, int interruptShadow,
                         MpState mpState) {
    /** KVM_X86_SHADOW_INT_MOV_SS: the instruction after MOV SS/POP SS. */
    public static final int SHADOW_MOV_SS = 1;
    /** KVM_X86_SHADOW_INT_STI: the instruction after an STI that set IF. */
    public static final int SHADOW_STI = 2;

    /** KVM's mp_state for x86: what the vCPU does when it next runs. */
    public enum MpState {
        /** Executing instructions. */
        RUNNABLE,
        /** In HLT until an interrupt, NMI or INIT wakes it. */
        HALTED,
        /** After INIT: waiting for a STARTUP IPI (KVM_MP_STATE_INIT_RECEIVED, the SDM's wait-for-SIPI). */
        INIT_RECEIVED
    }

    /** Nothing pending, nothing blocked, runnable. */
    public static VcpuEvents runnable() {
        return new VcpuEvents(-1, false, 0, -1, 0, false, 0, MpState.RUNNABLE);
    }

    /** The same events in another multiprocessor state. */
    public VcpuEvents withMpState(MpState state) {
        return new VcpuEvents(exceptionVector, exceptionHasErrorCode, exceptionErrorCode, interruptVector, nmiPending,
                nmiBlocked, interruptShadow, state);
    }
}

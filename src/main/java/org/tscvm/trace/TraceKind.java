package org.tscvm.trace;

import java.util.Locale;

/**
 * What a trace records: the guest-visible time events of tsc-semantics, each in one
 * {@link Category} that {@code --trace-kinds} selects. Each kind names its arguments in the
 * order {@link VcpuTrack} stores them.
 */
public enum TraceKind {
    /** WRMSR of IA32_TSC, TSC_ADJUST, TSC_AUX or TSC_DEADLINE, with its origin and what moved (R4-R9, R21, R23). */
    MSR_WRITE(Category.MSR, "msr", "origin", "value", "msr_before", "msr_after", "tsc_before", "tsc_after",
            "adjust_before", "adjust_after", "offset_before", "offset_after"),
    /** vCPU creation and its post-create synchronisation (R12). */
    VCPU_CREATE(Category.SYNC, "generation", "offset", "khz", "host_tsc_adjust"),
    /** The vCPU moved to another TSC generation (R10-R12). */
    GENERATION(Category.SYNC, "generation_before", "generation_after", "offset"),
    /** A host write of the TSC offset (KVM_VCPU_TSC_OFFSET, R17). */
    OFFSET_SET(Category.SYNC, "offset_before", "offset_after", "tsc_before", "tsc_after"),
    /** A host change of the vCPU's TSC frequency (KVM_SET_TSC_KHZ, R14). */
    TSC_KHZ(Category.SCALE, "khz_before", "khz_after", "ratio_before", "ratio_after", "tsc_before", "tsc_after"),
    /** The host's own IA32_TSC_ADJUST changed: every guest TSC moves, no guest RDMSR 0x3b shows it (A2). */
    HOST_TSC_ADJUST(Category.HOST, "host_adjust_before", "host_adjust_after", "tsc_before", "tsc_after"),
    /** The local APIC timer armed: mode 0 one-shot, 1 periodic, 2 TSC-deadline; the deadline in guest TSC (R23). */
    TIMER_ARM(Category.TIMER, "mode", "deadline", "due_host_tsc"),
    /** The local APIC timer expired. */
    TIMER_FIRE(Category.TIMER, "mode", "vector", "masked"),
    /** INIT reached the vCPU: it waits for a STARTUP IPI. */
    INIT(Category.CPU),
    /** STARTUP reached the vCPU: it starts at vector * 0x1000. */
    SIPI(Category.CPU, "vector"),
    /** HLT with nothing pending: the vCPU waits. */
    HALT(Category.CPU),
    /** The halted vCPU woke (interrupt, NMI, INIT). */
    WAKE(Category.CPU),
    /** {@code Vcpu.run()} returned to its caller; the label is the exit kind. */
    EXIT(Category.EXIT),
    /** The machine's state was saved. */
    SNAPSHOT(Category.STATE),
    /** The machine's state was restored. */
    RESTORE(Category.STATE),
    /** The machine's state arrived by migration. */
    MIGRATION(Category.STATE);

    /** The groups {@code --trace-kinds} names. */
    public enum Category {
        MSR, SYNC, SCALE, HOST, TIMER, CPU, EXIT, STATE;

        /** The name on the command line and in the trace's "cat" field. */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** The most arguments any kind has. */
    static final int MAX_ARGS = 11;

    private final Category category;
    private final String[] argNames;

    TraceKind(Category category, String... argNames) {
        this.category = category;
        this.argNames = argNames;
    }

    public Category category() {
        return category;
    }

    /** The argument names, in the order the values are stored. */
    String argName(int i) {
        return argNames[i];
    }

    int argCount() {
        return argNames.length;
    }
}

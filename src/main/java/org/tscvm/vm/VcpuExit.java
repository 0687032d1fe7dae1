package org.tscvm.vm;

/**
 * Why {@link Vcpu#run()} returned: only when the host must act (DESIGN section 2). Switch on
 * it without a {@code default}, so that a new kind is a compile error.
 */
public sealed interface VcpuExit {
    /** The kinds, for counting ({@link Vcpu#exitCount}). */
    enum Kind { IO_OUT, HALT, PAUSED, TRIPLE_FAULT, INTERNAL_ERROR, DEBUG }

    Kind kind();

    /** An OUT to an exit port ({@link org.tscvm.memory.PortIoBus#mapExit}), e.g. isa-debug-exit. */
    record IoOut(int port, int size, int value) implements VcpuExit {
        @Override
        public Kind kind() {
            return Kind.IO_OUT;
        }
    }

    /** HLT with nothing that could ever wake the vCPU. */
    record Halt() implements VcpuExit {
        @Override
        public Kind kind() {
            return Kind.HALT;
        }
    }

    /** {@link Vcpu#requestPause()} was honoured; {@link Vcpu#run()} resumes where it stopped. */
    record Paused() implements VcpuExit {
        @Override
        public Kind kind() {
            return Kind.PAUSED;
        }
    }

    /** The processor shut down; {@code state} is the CPU's one-line description (RIP, CRs, EFER, last exception). */
    record TripleFault(String state) implements VcpuExit {
        @Override
        public Kind kind() {
            return Kind.TRIPLE_FAULT;
        }
    }

    /** A bug in tscvm itself surfaced while running the guest; the message names it. */
    record InternalError(String message) implements VcpuExit {
        @Override
        public Kind kind() {
            return Kind.INTERNAL_ERROR;
        }
    }

    /**
     * A debugger's request stopped the vCPU (KVM_EXIT_DEBUG, {@link Vcpu#setGuestDebug}):
     * before the instruction at a breakpoint, after a single step, or after an instruction that
     * accessed a watched range. {@code address} is RIP for the first two and the start of the
     * watched range for a watchpoint.
     */
    record Debug(Reason reason, long address) implements VcpuExit {
        public enum Reason { BREAKPOINT, SINGLE_STEP, WATCH_WRITE, WATCH_READ, WATCH_ACCESS }

        @Override
        public Kind kind() {
            return Kind.DEBUG;
        }
    }
}

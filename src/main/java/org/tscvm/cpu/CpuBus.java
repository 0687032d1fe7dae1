package org.tscvm.cpu;

/**
 * Everything the interpreter needs from outside itself: the narrow platform interface of
 * DESIGN.md section 1. The {@code vm} package implements it once per vCPU, which is where the
 * TSC, MSR and CPUID rules live; unit tests implement it with a fake.
 *
 * <p>RAM is not here: the CPU reads and writes {@link org.tscvm.memory.GuestMemory} directly on
 * its fast path, and only physical addresses outside RAM come through {@link #mmioRead} and
 * {@link #mmioWrite}.
 *
 * <p>Methods that model guest-visible failures throw {@link CpuFault} (for example #GP from an
 * unknown MSR); the CPU delivers it as an exception to the guest.
 */
public interface CpuBus {
    /** A read of {@code size} (1, 2, 4, 8) bytes at a physical address outside RAM. */
    long mmioRead(long paddr, int size);

    void mmioWrite(long paddr, int size, long value);

    /** IN of {@code size} (1, 2, 4) bytes; the result is zero-extended. */
    int ioIn(int port, int size);

    /** OUT. May ask the CPU to stop (through {@link Cpu#requestStop()}) to hand an exit to the host. */
    void ioOut(int port, int size, int value);

    /** Guest RDMSR. Throws {@link CpuFault} (#GP(0)) for an MSR the guest may not read. */
    long rdmsr(int index);

    /** Guest WRMSR. Throws {@link CpuFault} (#GP(0)) for an MSR or value the guest may not write. */
    void wrmsr(int index, long value);

    /** CPUID: fills {@code out[0..3]} with EAX, EBX, ECX, EDX for the leaf and subleaf. */
    void cpuid(int leaf, int subleaf, int[] out);

    /** The guest TSC now, as RDTSC, RDTSCP and RDMSR(0x10) see it (tsc-semantics R1, R2). */
    long rdtsc();

    /** IA32_TSC_AUX[31:0], as RDTSCP loads into ECX and RDPID returns (R21). */
    int tscAux();

    /**
     * The vector of the highest-priority maskable interrupt ready for this vCPU, or -1. Does
     * not acknowledge it; the CPU calls this only when RFLAGS.IF=1 and no interrupt shadow.
     */
    int pendingInterrupt();

    /** Acknowledges the interrupt {@link #pendingInterrupt()} reported and returns its vector. */
    int acknowledgeInterrupt();

    /** {@link #rtm()}: the CPU model has no RTM (XBEGIN, XEND, XABORT, XTEST are #UD). */
    int RTM_ABSENT = 0;
    /** {@link #rtm()}: RTM exists but every XBEGIN aborts at once (IA32_TSX_CTRL.RTM_DISABLE). */
    int RTM_ABORTS = 1;
    /** {@link #rtm()}: transactions run and may commit. */
    int RTM_RUNS = 2;

    /**
     * Whether RTM transactions exist and may run, asked at each XBEGIN, XEND, XABORT and
     * XTEST. The default model has no RTM.
     */
    default int rtm() {
        return RTM_ABSENT;
    }

    /** KVM's -KVM_ENOSYS: the hypercall number is unknown. */
    long KVM_ENOSYS = -1000;
    /** KVM's -KVM_EPERM: a hypercall from CPL above 0. */
    long KVM_EPERM = -1;

    /**
     * VMCALL, taken as a KVM hypercall (Linux Documentation/virt/kvm/x86/hypercalls.rst):
     * returns the new RAX. The default knows no hypercall.
     */
    default long hypercall(long nr, long a0, long a1, long a2, long a3, int cpl, boolean longMode) {
        return cpl != 0 ? KVM_EPERM : KVM_ENOSYS;
    }

    /** The VMware backdoor's command port and its RPC port (QEMU hw/i386/vmport.c, KVM emulate.c). */
    int VMWARE_PORT = 0x5658, VMWARE_PORT_RPC = 0x5659;
    /** VMware's pseudo-PMCs for RDPMC: host TSC, real time and apparent (guest) time in ns. */
    int VMWARE_PMC_HOST_TSC = 0x10000, VMWARE_PMC_REAL_TIME = 0x10001, VMWARE_PMC_APPARENT_TIME = 0x10002;

    /**
     * RDPMC of counter {@code index} (ECX as given, bit 30 selecting a fixed counter), after
     * the CPU's CR4.PCE check; throws {@link CpuFault} #GP(0) for an index the platform has
     * no counter for. The default has no performance counters.
     */
    default long rdpmc(int index) {
        throw CpuFault.gp0();
    }

    /**
     * Called before CPL changes while {@link Cpu#setPrivilegeWatch} is on, with the old CPL
     * still in place: performance counters that filter on CPL count up to here.
     */
    default void privilegeLevelChanging() {
    }

    /** RDPMC of a VMware pseudo-PMC ({@code VMWARE_PMC_*}), asked only with the backdoor on. */
    default long vmwarePseudoPmc(int index) {
        throw CpuFault.gp0();
    }

    /**
     * MOV from CR8: the local APIC's TPR[7:4] (SDM Vol. 3A 10.8.6.1). {@code cpuCopy} is the
     * CPU's own CR8, returned when no APIC backs CR8.
     */
    default long readCr8(long cpuCopy) {
        return cpuCopy;
    }

    /** MOV to CR8 of an already checked value 0..15: sets TPR[7:4] to it and TPR[3:0] to 0. */
    default void writeCr8(long value) {
    }
}

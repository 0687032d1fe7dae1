package org.tscvm.vm;

import org.tscvm.cpu.Cpu;
import org.tscvm.cpu.CpuBus;
import org.tscvm.memory.MmioBus;
import org.tscvm.memory.PortIoBus;
import org.tscvm.tsc.HostClock;
import org.tscvm.tsc.TscState;

/**
 * The guest side of one vCPU (A3): everything guest code does that leaves the interpreter.
 * MSR accesses carry origin GUEST into the vCPU's one MSR dispatch. RDTSC takes no lock and
 * allocates nothing: at most one host clock read (the vCPU's {@link HostClock.VcpuReader},
 * which may estimate from the retired instructions instead), the multiply skipped at ratio
 * 1.0 (R1). Every access to another time source or device (port I/O, MMIO, the local APIC,
 * MSRs) makes the reader's next read a real one: a device may block (the serial output), and a
 * guest that measures the TSC against the PIT, the APIC timer or RDMSR then compares real
 * readings, so the estimate never enters a calibration against another clock.
 */
final class VcpuBus implements CpuBus {
    private final Vcpu vcpu;
    private final TscState tsc;
    private final HostClock.VcpuReader tscReader;
    private final PortIoBus ioBus;
    private final MmioBus mmioBus;
    /** The interpreter this bus serves, whose retired-instruction count the TSC reader takes. */
    private Cpu cpu;

    VcpuBus(Vcpu vcpu, TscState tsc, HostClock clock, PortIoBus ioBus, MmioBus mmioBus) {
        this.vcpu = vcpu;
        this.tsc = tsc;
        this.tscReader = clock.vcpuReader();
        this.ioBus = ioBus;
        this.mmioBus = mmioBus;
    }

    /** Called once by the vCPU right after it built its interpreter on this bus. */
    void attach(Cpu interpreter) {
        this.cpu = interpreter;
    }

    /** The vCPU stops or resumes interpreting: the TSC reader's next read is a real one. */
    void resyncClock() {
        tscReader.resync();
    }

    /** The local interrupt controller's page first (the xAPIC), then the VM's MMIO bus. */
    @Override
    public long mmioRead(long paddr, int size) {
        tscReader.resync();
        LocalInterruptController c = vcpu.interruptController();
        if (c != null && c.claimsMmio(paddr)) {
            return c.readMmio(paddr, size);
        }
        return mmioBus.read(paddr, size);
    }

    @Override
    public void mmioWrite(long paddr, int size, long value) {
        tscReader.resync();
        LocalInterruptController c = vcpu.interruptController();
        if (c != null && c.claimsMmio(paddr)) {
            c.writeMmio(paddr, size, value);
            return;
        }
        mmioBus.write(paddr, size, value);
    }

    /** Port I/O; with the VMware backdoor on, a 32-bit IN from its command port runs a backdoor command. */
    @Override
    public int ioIn(int port, int size) {
        tscReader.resync();
        if (port == VMWARE_PORT && size == 4 && vcpu.vmwareBackdoor()) {
            return VmwareBackdoor.in(cpu);
        }
        return ioBus.in(port, size);
    }

    /** An OUT to an exit port stops the CPU and becomes {@link VcpuExit.IoOut}. */
    @Override
    public void ioOut(int port, int size, int value) {
        tscReader.resync();
        if (ioBus.out(port, size, value)) {
            vcpu.exitOnIoOut(port, size, value);
        }
    }

    /** Guest RDMSR: R2 (0x10), R7/A4 (0x3b), R21 (TSC_AUX); #GP(0) for an unknown MSR (A4). */
    @Override
    public long rdmsr(int index) {
        tscReader.resync();
        return vcpu.readMsr(index, MsrOrigin.GUEST);
    }

    /** Guest WRMSR: R4 (0x10), R6/A4 (0x3b), R21 (TSC_AUX); #GP(0) for an unknown MSR (A4). */
    @Override
    public void wrmsr(int index, long value) {
        tscReader.resync();
        vcpu.writeMsrAndTrace(index, value, MsrOrigin.GUEST);
    }

    /** RDPMC (after the CPU's CR4.PCE check): the vCPU's performance counters. */
    @Override
    public long rdpmc(int index) {
        return vcpu.rdpmc(index);
    }

    @Override
    public void privilegeLevelChanging() {
        vcpu.privilegeLevelChanging();
    }

    /**
     * VMware's pseudo-PMCs (KVM kvm_pmu_rdpmc_vmware): the host TSC, the host's monotonic
     * nanoseconds, and those nanoseconds plus kvmclock's offset (the guest's apparent time).
     */
    @Override
    public long vmwarePseudoPmc(int index) {
        tscReader.resync();
        long hostTsc = tscReader.now(cpu.instructionsRetired());
        return switch (index) {
            case VMWARE_PMC_HOST_TSC -> hostTsc;
            case VMWARE_PMC_REAL_TIME -> vcpu.hostClock().nanosAt(hostTsc);
            default -> vcpu.apparentNanosAt(hostTsc);
        };
    }

    @Override
    public int rtm() {
        return vcpu.rtm();
    }

    /** CPUID from the vCPU's model; leaf 0x40000010 reports the TSC's true rate (A5). */
    @Override
    public void cpuid(int leaf, int subleaf, int[] out) {
        vcpu.cpuid(leaf, subleaf, out);
    }

    /** R1/R2: scale(host TSC, ratio) + offset, the host TSC including the host adjust (A2). */
    @Override
    public long rdtsc() {
        return tsc.guestTsc(tscReader.now(cpu.instructionsRetired()));
    }

    /** R21: TSC_AUX[31:0], for RDTSCP's ECX and RDPID. */
    @Override
    public int tscAux() {
        return (int) tsc.tscAux();
    }

    @Override
    public int pendingInterrupt() {
        LocalInterruptController c = vcpu.interruptController();
        return c == null ? -1 : c.pendingInterrupt();
    }

    @Override
    public int acknowledgeInterrupt() {
        LocalInterruptController c = vcpu.interruptController();
        return c == null ? -1 : c.acknowledgeInterrupt();
    }

    @Override
    public long hypercall(long nr, long a0, long a1, long a2, long a3, int cpl, boolean longMode) {
        return vcpu.hypercall(nr, a0, a1, a2, a3, cpl, longMode);
    }

    @Override
    public long readCr8(long cpuCopy) {
        LocalInterruptController c = vcpu.interruptController();
        int apicCr8 = c == null ? -1 : c.cr8();
        return apicCr8 < 0 ? cpuCopy : apicCr8;
    }

    @Override
    public void writeCr8(long value) {
        LocalInterruptController c = vcpu.interruptController();
        if (c != null) {
            c.setCr8((int) value);
        }
    }
}

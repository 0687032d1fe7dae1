package org.tscvm.vm;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import org.tscvm.TscvmException;
import org.tscvm.cpu.Cpu;
import org.tscvm.cpu.CpuBus;
import org.tscvm.cpu.CpuFault;
import org.tscvm.cpu.DebugTraps;
import org.tscvm.cpu.Msr;
import org.tscvm.cpu.RunStop;
import org.tscvm.log.DebugLog;
import org.tscvm.tsc.HostClock;
import org.tscvm.tsc.TscMath;
import org.tscvm.tsc.TscState;
import org.tscvm.trace.VcpuTrack;

/**
 * A virtual CPU, shaped like a KVM vCPU file descriptor. The methods here are the HOST side:
 * the Java API, the command line, snapshot restore. What guest code does (RDTSC, RDMSR,
 * WRMSR, CPUID, I/O) reaches tscvm through {@link #guest()}, a separate {@link CpuBus}, so a
 * host call can never be taken for a guest one (tsc-semantics A3).
 *
 * <p>Host calls other than {@link #requestPause()} and {@link #kick()} are made while the vCPU
 * is not running (KVM's vcpu mutex gives the same guarantee).
 *
 * <pre>{@code
 * Vcpu vcpu = vm.createVcpu();
 * vcpu.setTscKhz(1_000_000);             // first the frequency (R14: the offset is not recomputed)
 * vcpu.setMsr(Msr.IA32_TSC, savedTsc);   // then the TSC (R9)
 * VcpuExit exit = vcpu.run();
 * }</pre>
 */
public final class Vcpu {
    /** IA32_MISC_ENABLE at reset: fast strings on, BTS and PEBS unavailable (no PMU). */
    public static final long MISC_ENABLE_DEFAULT = (1L << 0) | (1L << 11) | (1L << 12);
    /**
     * IA32_UCODE_REV (IA32_BIOS_SIGN_ID). Its number is kept here, as MachineCheckBanks and
     * Mtrrs keep theirs: these MSRs are vCPU storage, not CPU state.
     */
    static final int IA32_UCODE_REV = 0x8b;
    /** KVM's reset value: microcode revision 1 in bits 63:32 (kvm_vcpu_reset). */
    public static final long DEFAULT_MICROCODE_REVISION = 1L << 32;
    /** IA32_APIC_BASE without an interrupt controller: 0xFEE00000, enabled, BSP flag on vCPU 0. */
    public static final long APIC_BASE_DEFAULT = 0xFEE00000L | (1L << 11);
    private static final long APIC_BASE_BSP = 1L << 8;
    private static final long APIC_BASE_ENABLE = 1L << 11;
    private static final int CPUID_1_EDX_APIC = 1 << 9;
    private static final int CPUID_7_EBX_HLE = 1 << 4, CPUID_7_EBX_RTM = 1 << 11;

    /** Instructions per run slice on a real-time clock: well under a millisecond of interpretation. */
    static final long REAL_TIME_SLICE = 50_000;
    /**
     * The one Paused exit: it carries nothing, and a halted vCPU on a shared deterministic clock
     * returns it on every round-robin turn, so it is not allocated each time.
     */
    private static final VcpuExit PAUSED = new VcpuExit.Paused();
    /** The longest slice on a deterministic clock when no timer is due. */
    static final long DETERMINISTIC_SLICE = 1_000_000;
    /** A parked vCPU re-checks its wake conditions at least this often. */
    private static final long MAX_PARK_NANOS = 50_000_000;

    private final Vm vm;
    private final int id;
    private final HostClock clock;
    private final MsrPolicy msrPolicy;
    private final TscState tsc = new TscState();
    private final KvmClock.VcpuTime time = new KvmClock.VcpuTime();
    private final VcpuBus bus;
    private final Cpu cpu;
    /** The run loop's view of {@link #cpu}; replaced only by run-loop unit tests. */
    private Interpreter interpreter;
    /** The interpreter's retired-instruction count, for a deterministic clock's slices. */
    private final LongSupplier retiredCounter = () -> interpreter.instructionsRetired();
    private volatile CpuidModel cpuid;
    private volatile LocalInterruptController controller;

    private long miscEnable = MISC_ENABLE_DEFAULT;
    private long apicBase;
    private final MachineCheckBanks machineCheck = new MachineCheckBanks();
    /** The architectural PMU's counters; the guest reaches them where the model has {@link CpuidModel.Feature#PMU}. */
    private final ArchPmu pmu = new ArchPmu();
    private final Mtrrs mtrrs = new Mtrrs(CpuidModel.PHYS_ADDR_BITS);
    /** Every MSR this vCPU has, each with its one owner. */
    private final MsrTable msrTable = new MsrTable();
    private final MsrTable.Owner noController = new NoControllerMsrs();
    /** The owner standing for the interrupt controller's MSRs, or null. */
    private MsrTable.Owner controllerMsrs;
    /**
     * AMD's legacy performance MSRs, PerfEvtSel0-3 (0xC0010000-3) and PerfCtr0-3
     * (0xC0010004-7), which every AMD64 processor has (APM Vol. 2, 13.2): present with an
     * AuthenticAMD model, stored, and never counting (tscvm has no performance monitoring).
     */
    private final long[] amdPerf = new long[8];
    static final int AMD_PERF_EVTSEL0 = 0xC0010000;
    /** IA32_UCODE_REV: the microcode revision in bits 63:32, set by the host only (KVM). */
    private long microcodeRevision = DEFAULT_MICROCODE_REVISION;
    /**
     * IA32_ARCH_CAPABILITIES: an interpreter does not speculate, so none of the side channels
     * these bits rule out exists (RDCL_NO, SSB_NO, MDS_NO, PSCHANGE_MC_NO, TAA_NO); with RTM,
     * bit 7 says IA32_TSX_CTRL exists. The host may clear bits (KVM_SET_MSRS), not add any.
     */
    private long archCapabilities = -1;
    static final long ARCH_CAP_NO_SIDE_CHANNELS = 1 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 8;
    static final long ARCH_CAP_TSX_CTRL_MSR = 1 << 7;
    /** IA32_TSX_CTRL: bit 0 RTM_DISABLE, bit 1 TSX_CPUID_CLEAR; 0 at reset. */
    private long tsxCtrl;
    static final long TSX_CTRL_RTM_DISABLE = 1, TSX_CTRL_CPUID_CLEAR = 2;

    private VcpuExit pendingExit;
    /** INIT and STARTUP arrive from other threads and wait here for the vCPU's own (the Cpu is not thread-safe). */
    private final Object signals = new Object();
    private boolean pendingInit;
    private int pendingSipi = -1;
    private final AtomicBoolean pauseRequested = new AtomicBoolean();
    private final AtomicBoolean running = new AtomicBoolean();
    private volatile boolean kicked;
    /** KVM_SET_GUEST_DEBUG: read once per slice by the run loop. */
    private volatile GuestDebug guestDebug = GuestDebug.NONE;
    /** {@link #run()} returns once {@link #instructionsRetired()} reaches this (reverse execution). */
    private volatile long retireLimit = Long.MAX_VALUE;
    /** The guest-debug request the CPU's traps were last built from (vCPU thread only). */
    private GuestDebug appliedDebug = GuestDebug.NONE;
    private volatile Thread runThread;
    private final AtomicLongArray exitCounts = new AtomicLongArray(VcpuExit.Kind.values().length);
    /** This vCPU's trace track, or null when the VM is not traced (each hook is one null check). */
    private final VcpuTrack trace;

    Vcpu(Vm vm, int id) {
        this.vm = vm;
        this.id = id;
        this.clock = vm.clock();
        this.msrPolicy = vm.config().msrPolicy();
        this.cpuid = vm.config().cpuid();
        this.apicBase = APIC_BASE_DEFAULT | (id == 0 ? APIC_BASE_BSP : 0);
        this.bus = new VcpuBus(this, tsc, clock, vm.ioBus(), vm.mmioBus());
        this.cpu = new Cpu(vm.memory(), bus);
        cpu.setCompileThreshold(vm.config().compileThreshold());
        // Unless the clock promises a repeatable run, blocks compile off this thread.
        cpu.setBackgroundCompile(!clock.deterministic());
        cpu.setVmwareBackdoor(vm.config().vmwareBackdoor());
        bus.attach(cpu);
        this.interpreter = Interpreter.of(cpu);
        registerMsrs();
        this.trace = vm.tracer() == null ? null : vm.tracer().track(id, new TraceProbe());
    }

    /** What a trace event reads from this vCPU: its L1 TSC and instructions retired. */
    private final class TraceProbe implements VcpuTrack.Probe {
        @Override
        public long guestTscAt(long hostTsc) {
            return tsc.l1GuestTsc(hostTsc);
        }

        @Override
        public long instructionsRetired() {
            return interpreter.instructionsRetired();
        }
    }

    /** This vCPU's trace track (the machine records INIT, SIPI and its APIC timer there), or null when not tracing. */
    public VcpuTrack trace() {
        return trace;
    }

    /** The seam the run-loop tests use to script the interpreter. */
    void setInterpreter(Interpreter scripted) {
        interpreter = scripted;
    }

    /** The vCPU index, which is also its APIC id (CPUID leaf 1 EBX[31:24], leaf 0xB EDX). */
    public int id() {
        return id;
    }

    /** The VM this vCPU belongs to. */
    public Vm vm() {
        return vm;
    }


    /**
     * The guest side (A3): what the interpreter calls for RDTSC/RDTSCP (R1, R2, R21), RDMSR and
     * WRMSR with origin GUEST, CPUID, I/O, MMIO and interrupt acknowledge. Tests use it to act
     * as guest code would.
     */
    public CpuBus guest() {
        return bus;
    }

    TscState tscState() {
        return tsc;
    }

    KvmClock.VcpuTime time() {
        return time;
    }

    // ---------------------------------------------------------------- host API: MSRs

    /**
     * Host-initiated RDMSR (KVM_GET_MSRS). 0x10 returns L1's TSC (R3); 0x3b returns A whatever
     * CPUID says (R7); TSC_AUX skips the CPUID check (R21).
     *
     * @throws UnknownMsrException for an MSR tscvm does not implement (A4)
     * @throws MsrAccessException if the MSR's owner refuses the read
     */
    public long getMsr(int index) {
        try {
            return readMsr(index, MsrOrigin.HOST);
        } catch (CpuFault fault) {
            throw new MsrAccessException(index, "read refused with #GP by its owner");
        }
    }

    /**
     * Host-initiated WRMSR (KVM_SET_MSRS). 0x10 goes through R10's synchronisation (R9; A
     * unchanged); 0x3b sets A without moving the TSC, and only if CPUID.(7,0):EBX[1] is set,
     * else it is dropped silently (R8: install CPUID before restoring 0x3b); TSC_AUX skips the
     * CPUID check but not the bits 63:32 check (R21).
     *
     * @throws UnknownMsrException for an MSR tscvm does not implement (A4)
     * @throws MsrAccessException for a value the MSR refuses
     */
    public void setMsr(int index, long value) {
        try {
            writeMsrAndTrace(index, value, MsrOrigin.HOST);
        } catch (CpuFault fault) {
            throw new MsrAccessException(index, String.format("write of 0x%x refused with #GP by its owner", value));
        }
    }

    // ---------------------------------------------------------------- host API: CPUID, frequency, offset

    /** The CPUID model the guest sees (KVM_GET_CPUID2). */
    public CpuidModel getCpuid() {
        return cpuid;
    }

    /** Installs a CPUID model (KVM_SET_CPUID2); it gates R6/R8 (tsc-adjust) and R21 (rdtscp/rdpid). */
    public void setCpuid(CpuidModel model) {
        if (model == null) {
            throw new TscvmException("the CPUID model must not be null");
        }
        cpuid = model;
    }

    /** R16, KVM_GET_TSC_KHZ: the requested kHz (even where the 250 ppm window kept ratio 1.0). */
    public long getTscKhz() {
        return tsc.virtualKhz();
    }

    /**
     * R14, KVM_SET_TSC_KHZ: within 250 ppm of the host frequency the ratio stays 1.0, else
     * {@code floor(2^48 * khz / hostKhz)}; 0 means the host frequency. The offset is NOT
     * recomputed (A6), so the guest TSC jumps when the ratio changes: set the frequency first,
     * then write the TSC or offset.
     *
     * @throws TscvmException if {@code khz} is negative or not below R15's maximum
     */
    public void setTscKhz(long khz) {
        if (trace != null) trace.beforeTscChange(tsc);
        tsc.setTscKhz(khz, clock.khz());
        guestTscChanged();
        time.updateRequested = true; // the pvclock scale follows the new rate before the vCPU runs (R20)
        if (trace != null) trace.afterTscKhz(tsc);
    }

    /**
     * A5: the rate this vCPU's TSC really runs at, in kHz, as CPUID leaf 0x40000010 reports it:
     * the host frequency at ratio 1.0 (also inside R14's window), else host kHz x ratio, rounded
     * to the nearest kHz.
     */
    public long effectiveTscKhz() {
        long ratio = tsc.l1Ratio();
        if (ratio == TscMath.IDENTITY_RATIO) {
            return clock.khz();
        }
        long khz = clock.khz();
        long fraction = (khz * ratio) & (TscMath.IDENTITY_RATIO - 1);
        return TscMath.mulDiv(khz, ratio, TscMath.IDENTITY_RATIO) + (fraction >= TscMath.IDENTITY_RATIO >>> 1 ? 1 : 0);
    }

    /**
     * R17, KVM_VCPU_TSC_OFFSET GET: the L1 offset, which includes every guest TSC and
     * TSC_ADJUST write (R24: there is no separate hypervisor-only offset).
     */
    public long getTscOffset() {
        return tsc.l1Offset();
    }

    /**
     * R17, KVM_VCPU_TSC_OFFSET SET: applies {@code offset} exactly; the VM's generation
     * bookkeeping notes whether it matches the last write (same offset on every vCPU = one
     * generation, as R19's migration recipe wants).
     */
    public void setTscOffset(long offset) {
        long hostTsc = clock.now();
        if (trace != null) trace.beforeTscChange(tsc);
        vm.tscSync().setOffset(tsc, offset, hostTsc, clock.nanosAt(hostTsc));
        guestTscChanged();
        vm.kvmClock().tscSynchronized();
        if (trace != null) trace.afterOffsetSet(tsc);
    }

    /** The R10 generation this vCPU last synchronised into. */
    public long tscGeneration() {
        return tsc.generation();
    }

    /**
     * The L1 TSC scaling ratio in force, a fixed-point number with
     * {@link #getTscScalingRatioFracBits()} fractional bits (KVM's debugfs tsc-scaling-ratio):
     * 1 &lt;&lt; 48 at the host rate (R1, R14).
     */
    public long getTscScalingRatio() {
        return tsc.l1Ratio();
    }

    /** The ratio's fractional bits, VMX's 48 (KVM's debugfs tsc-scaling-ratio-frac-bits, R15). */
    public int getTscScalingRatioFracBits() {
        return TscMath.FRAC_BITS;
    }

    /**
     * This vCPU's pvclock structure as KVM last computed it (vcpu->arch.hv_clock, R20); written
     * to the guest only while MSR_KVM_SYSTEM_TIME(_NEW) enables it.
     */
    public PvclockTimeInfo getPvclockTimeInfo() {
        return time.info();
    }

    // ---------------------------------------------------------------- host API: time conversions

    /**
     * L1's TSC at host reading {@code hostTsc} (R1 with L1's ratio and offset, the domain of
     * TSC-deadline values, R23).
     */
    public long guestTscAt(long hostTsc) {
        return tsc.l1GuestTsc(hostTsc);
    }

    /**
     * The first host-clock reading at which {@link #guestTscAt} reaches {@code guestTsc}, for
     * arming a TSC-deadline timer (R23): now if the deadline is not in the future, else the
     * first host tick at which the guest TSC is at or past it (never early). Saturates at
     * {@link Long#MAX_VALUE}. A later change of the guest TSC is reported through
     * {@link LocalInterruptController#onGuestTscChanged()}, so the controller re-arms.
     */
    public long hostTscForGuestTsc(long guestTsc) {
        long hostNow = clock.now();
        long distance = guestTsc - tsc.l1GuestTsc(hostNow);
        if (distance <= 0) {
            return hostNow;
        }
        long ticks = TscMath.hostTicksUntil(hostNow, distance, tsc.l1Ratio());
        long hostTsc = hostNow + ticks;
        return hostTsc < hostNow ? Long.MAX_VALUE : hostTsc;
    }

    // ---------------------------------------------------------------- host API: interrupt controller

    /**
     * Attaches the local interrupt controller (the machine's local APIC). It then receives the
     * MSRs it {@link LocalInterruptController#handlesMsr claims} (APIC_BASE, x2APIC, TSC
     * deadline), its MMIO page, interrupt acknowledge and the run loop's timer calls.
     */
    public void setInterruptController(LocalInterruptController newController) {
        registerInterruptControllerMsrs(newController);
        controller = newController;
    }

    /** The attached local interrupt controller, or null. */
    public LocalInterruptController interruptController() {
        return controller;
    }

    void guestTscChanged() {
        LocalInterruptController c = controller;
        if (c != null) {
            c.onGuestTscChanged();
        }
    }

    // ---------------------------------------------------------------- the MSR table (guest and host)

    /**
     * The one MSR dispatch of this vCPU (A3, A4): the owner the table names. Refusals become
     * #GP(0) for the guest and a {@link TscvmException} for the host. The CPU's own MSRs reach
     * the table only from the host: the CPU serves the guest's accesses to them itself.
     */
    long readMsr(int index, MsrOrigin origin) {
        MsrTable.Owner owner = msrTable.owner(index);
        if (owner == null) {
            throw unknown(index, origin);
        }
        return owner.read(index, origin);
    }

    void writeMsr(int index, long value, MsrOrigin origin) {
        MsrTable.Owner owner = msrTable.owner(index);
        if (owner == null) {
            throw unknown(index, origin);
        }
        owner.write(index, value, origin);
    }

    /** Every owner but the interrupt controller registers here, once, at creation. */
    private void registerMsrs() {
        MsrTable.Owner cpuOwner = new CpuMsrs();
        for (int index : Cpu.ownedMsrs()) {
            // FS/GS bases travel in the segment registers (KVM_GET_SREGS), as in KVM's lists; XSS is always 0.
            msrTable.register(index, cpuOwner,
                    index != Msr.IA32_FS_BASE && index != Msr.IA32_GS_BASE && index != Msr.IA32_XSS);
        }
        msrTable.register(Msr.TSCVM_GUEST_SSP, new GuestSsp(), true);
        MsrTable.Owner tscOwner = new TscMsrs();
        msrTable.register(Msr.IA32_TSC, tscOwner, true);
        msrTable.register(Msr.IA32_TSC_ADJUST, tscOwner, true);
        msrTable.register(Msr.IA32_TSC_AUX, tscOwner, true);
        MsrTable.Owner stored = new StoredMsrs();
        msrTable.register(Msr.IA32_MISC_ENABLE, stored, true);
        msrTable.register(IA32_UCODE_REV, stored, true);
        MsrTable.Owner tsx = new TsxMsrs();
        msrTable.register(Msr.IA32_ARCH_CAPABILITIES, tsx, true);
        msrTable.register(Msr.IA32_TSX_CTRL, tsx, true);
        for (int i = 0; i < amdPerf.length; i++) {
            msrTable.register(AMD_PERF_EVTSEL0 + i, stored, true);
        }
        MsrTable.Owner pmuOwner = new PmuMsrs();
        for (int index : ArchPmu.msrIndexes()) {
            msrTable.register(index, pmuOwner, true);
        }
        MsrTable.Owner mceOwner = new MachineCheckMsrs();
        msrTable.register(MachineCheckBanks.MCG_CAP, mceOwner, true);
        msrTable.register(MachineCheckBanks.MCG_STATUS, mceOwner, true);
        msrTable.register(MachineCheckBanks.MCG_CTL, mceOwner, true);
        for (int i = 0; i < 4 * MachineCheckBanks.MAX_BANKS; i++) {
            msrTable.register(MachineCheckBanks.MC0_CTL + i, mceOwner, true);
        }
        MsrTable.Owner mtrrOwner = new MtrrMsrs();
        for (int index = 0; index < 0x300; index++) {
            if (Mtrrs.isMtrrMsr(index)) {
                msrTable.register(index, mtrrOwner, index != Mtrrs.MTRR_CAP); // MTRRcap is read-only
            }
        }
        MsrTable.Owner kvmClockOwner = new KvmClockMsrs();
        for (int index : KvmClock.MSRS) {
            msrTable.register(index, kvmClockOwner, true); // saved where the model has kvmclock, as KVM's emulated_msrs
        }
        registerInterruptControllerMsrs(null);
    }

    /**
     * APIC_BASE, TSC_DEADLINE and the x2APIC range go to the controller for the indexes it
     * claims; without a controller the vCPU stores APIC_BASE and TSC_DEADLINE itself.
     */
    private void registerInterruptControllerMsrs(LocalInterruptController c) {
        msrTable.removeOwner(noController);
        if (controllerMsrs != null) {
            msrTable.removeOwner(controllerMsrs);
            controllerMsrs = null;
        }
        MsrTable.Owner owner = c == null ? null : new ControllerMsrs(c);
        for (int index : new int[] {Msr.IA32_APIC_BASE, Msr.IA32_TSC_DEADLINE}) {
            msrTable.register(index, owner != null && c.handlesMsr(index) ? owner : noController, true);
        }
        if (owner != null) {
            // The x2APIC registers are the LAPIC page's (KVM_GET_LAPIC), not saved MSRs.
            for (int index = Msr.X2APIC_FIRST; index <= Msr.X2APIC_LAST; index++) {
                if (c.handlesMsr(index)) {
                    msrTable.register(index, owner, false);
                }
            }
        }
        controllerMsrs = owner;
    }

    /**
     * The MSRs a snapshot carries (KVM_GET_MSR_INDEX_LIST with KVM's probe): the saved indexes
     * of the MSR table that this vCPU's model has, i.e. that a host read does not refuse (PKRS
     * needs CPUID PKS, the AMD performance MSRs an AMD model, a machine-check bank MCG_CAP's
     * count). Ascending.
     */
    public int[] msrIndexList() {
        int[] saved = msrTable.savedIndexes();
        int[] out = new int[saved.length];
        int n = 0;
        for (int index : saved) {
            try {
                readMsr(index, MsrOrigin.HOST);
                out[n++] = index;
            } catch (TscvmException | CpuFault absent) {
                // Not present on this model.
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** The CPU's architectural MSRs, for the host; the guest's RDMSR/WRMSR of them never leave the CPU. */
    private final class CpuMsrs implements MsrTable.Owner {
        @Override
        public long read(int index, MsrOrigin origin) {
            return cpu.readMsr(index);
        }

        @Override
        public void write(int index, long value, MsrOrigin origin) {
            cpu.writeMsr(index, value);
        }
    }

    /**
     * SSP under {@link Msr#TSCVM_GUEST_SSP}, so snapshots and migration carry it with the CET
     * MSRs: the host's only, where the model has CET shadow stacks.
     */
    private final class GuestSsp implements MsrTable.Owner {
        @Override
        public long read(int index, MsrOrigin origin) {
            requireHostAndShadowStacks(index, origin);
            return cpu.getSsp();
        }

        @Override
        public void write(int index, long value, MsrOrigin origin) {
            requireHostAndShadowStacks(index, origin);
            try {
                cpu.setSsp(value);
            } catch (TscvmException e) {
                throw refuse(index, origin, e.getMessage());
            }
        }

        private void requireHostAndShadowStacks(int index, MsrOrigin origin) {
            if (origin == MsrOrigin.GUEST || !cpuid.has(CpuidModel.Feature.CET_SS)) {
                throw unknown(index, origin);
            }
        }
    }

    /** TSC, TSC_ADJUST, TSC_AUX: the rules of tsc-semantics R2-R9 and R21. */
    private final class TscMsrs implements MsrTable.Owner {
        @Override
        public long read(int index, MsrOrigin origin) {
            switch (index) {
                case Msr.IA32_TSC: {
                    long hostTsc = clock.now();
                    // R2: the guest sees the offset and ratio in force; R3: the host sees L1's.
                    return origin == MsrOrigin.GUEST ? tsc.guestTsc(hostTsc) : tsc.l1GuestTsc(hostTsc);
                }
                case Msr.IA32_TSC_ADJUST:
                    // R7: any read returns A, whatever CPUID says; A4 strict: #GP for the guest without the bit.
                    if (origin == MsrOrigin.GUEST && msrPolicy == MsrPolicy.STRICT
                            && !cpuid.has(CpuidModel.Feature.TSC_ADJUST)) {
                        throw refuse(index, origin, "");
                    }
                    return tsc.adjust();
                default: // IA32_TSC_AUX
                    if (origin == MsrOrigin.GUEST && !guestMayAccessTscAux()) {
                        throw refuse(index, origin, "");
                    }
                    return tsc.tscAux();
            }
        }

        @Override
        public void write(int index, long value, MsrOrigin origin) {
            switch (index) {
                case Msr.IA32_TSC: {
                    long hostTsc = clock.now();
                    if (origin == MsrOrigin.GUEST) {
                        tsc.guestWriteTsc(value, hostTsc); // R4
                    } else {
                        vm.tscSync().synchronize(tsc, true, value, hostTsc, clock.nanosAt(hostTsc)); // R9, R10
                        vm.kvmClock().tscSynchronized();
                    }
                    guestTscChanged();
                    return;
                }
                case Msr.IA32_TSC_ADJUST:
                    if (!cpuid.has(CpuidModel.Feature.TSC_ADJUST)) {
                        // R6/R8: dropped silently without the CPUID bit; A4 strict: #GP for the guest.
                        if (origin == MsrOrigin.GUEST && msrPolicy == MsrPolicy.STRICT) {
                            throw refuse(index, origin, "");
                        }
                        return;
                    }
                    if (origin == MsrOrigin.GUEST) {
                        tsc.guestWriteTscAdjust(value); // R6
                        guestTscChanged();
                        vm.kvmClock().updateGuestTime(Vcpu.this); // R6: the pvclock's tsc_timestamp follows (d9130a2dfdd4)
                    } else {
                        tsc.hostWriteTscAdjust(value); // R8: the TSC does not move
                    }
                    return;
                default: // IA32_TSC_AUX
                    if (origin == MsrOrigin.GUEST && !guestMayAccessTscAux()) {
                        throw refuse(index, origin, "");
                    }
                    if ((value >>> 32) != 0) {
                        // R21: bits 63:32 are refused, host writes included (as an Intel model; kept for AMD too).
                        throw refuse(index, origin, String.format(
                                "value 0x%x has bits 63:32 set, which an Intel CPU model refuses (R21)", value));
                    }
                    tsc.setTscAux(value);
            }
        }
    }

    /** {@link #writeMsr}, and when tracing, what a time MSR write changed (origin, before and after). */
    void writeMsrAndTrace(int index, long value, MsrOrigin origin) {
        VcpuTrack t = trace;
        if (t == null || !t.recordsMsrWrites() || !VcpuTrack.isTimeMsr(index)) {
            writeMsr(index, value, origin);
            return;
        }
        t.beforeTscChange(tsc);
        long msrBefore = index == Msr.IA32_TSC ? 0 : readMsr(index, MsrOrigin.HOST);
        writeMsr(index, value, origin); // a refused write throws and changes nothing: nothing to record
        t.afterMsrWrite(tsc, index, origin == MsrOrigin.HOST, value, msrBefore,
                index == Msr.IA32_TSC ? 0 : readMsr(index, MsrOrigin.HOST));
    }

    /** MSRs that are plain vCPU storage: MISC_ENABLE, UCODE_REV and AMD's legacy performance MSRs. */
    private final class StoredMsrs implements MsrTable.Owner {
        @Override
        public long read(int index, MsrOrigin origin) {
            if (index == Msr.IA32_MISC_ENABLE) {
                return miscEnable;
            }
            if (index == IA32_UCODE_REV) {
                return microcodeRevision;
            }
            requireAmd(index, origin);
            return amdPerf[index - AMD_PERF_EVTSEL0];
        }

        @Override
        public void write(int index, long value, MsrOrigin origin) {
            if (index == Msr.IA32_MISC_ENABLE) {
                miscEnable = value;
            } else if (index == IA32_UCODE_REV) {
                // Linux writes 0 and then runs CPUID to make the processor load the revision;
                // KVM drops guest writes and takes the revision from the host (kvm_set_msr_common).
                if (origin == MsrOrigin.HOST) {
                    microcodeRevision = value;
                }
            } else {
                requireAmd(index, origin);
                amdPerf[index - AMD_PERF_EVTSEL0] = value;
            }
        }

        /** The AMD performance MSRs exist only with an AuthenticAMD model. */
        private void requireAmd(int index, MsrOrigin origin) {
            if (!cpuid.isAmd()) {
                throw unknown(index, origin);
            }
        }
    }

    /** The architectural PMU's MSRs, present with an Intel model that has the PMU. */
    private final class PmuMsrs implements MsrTable.Owner {
        @Override
        public long read(int index, MsrOrigin origin) {
            requirePmu(index, origin);
            foldPmu();
            return pmu.read(index);
        }

        @Override
        public void write(int index, long value, MsrOrigin origin) {
            requirePmu(index, origin);
            foldPmu();
            if (!pmu.write(index, value, origin == MsrOrigin.HOST, cpuid.has(CpuidModel.Feature.RTM))) {
                throw refuse(index, origin, String.format("0x%x sets reserved bits of this PMU MSR", value));
            }
            cpu.setPrivilegeWatch(pmu.filtersByPrivilege());
            cpu.setBranchCounting(pmu.countsBranches());
            if (origin == MsrOrigin.GUEST && pmu.active()) {
                interpreter.requestStop(); // the run loop caps the next slice at the new overflow point
            }
        }

        private void requirePmu(int index, MsrOrigin origin) {
            if (!hasPmu()) {
                throw unknown(index, origin);
            }
        }
    }

    private boolean hasPmu() {
        return cpuid.has(CpuidModel.Feature.PMU) && !cpuid.isAmd();
    }

    /**
     * Brings the PMU's counters up to the instructions retired so far (at the current CPL) and
     * sends the PMI an overflow asked for through the LVT performance-counter entry.
     */
    private void foldPmu() {
        pmu.fold(interpreter.instructionsRetired(), cpu.branchesRetired(), cpu.privilegeLevel());
        if (pmu.takePmi()) {
            LocalInterruptController c = controller;
            if (c != null) {
                c.performanceCounterOverflow();
            }
        }
    }

    /** The CPU's privilege level is about to change while a counter filters on it: count up to here at the old one. */
    void privilegeLevelChanging() {
        foldPmu();
    }

    /** RDPMC (CpuBus#rdpmc): #GP(0) without a PMU or for a counter it does not have. */
    long rdpmc(int index) {
        if (!hasPmu()) {
            throw CpuFault.gp0();
        }
        foldPmu();
        return pmu.rdpmc(index);
    }

    boolean vmwareBackdoor() {
        return vm.config().vmwareBackdoor();
    }

    HostClock hostClock() {
        return clock;
    }

    /** VMware's apparent time at {@code hostTsc}: the host's ns plus kvmclock's offset. */
    long apparentNanosAt(long hostTsc) {
        return vm.kvmClock().apparentNanosAt(hostTsc);
    }

    /**
     * IA32_ARCH_CAPABILITIES (read-only for the guest) where the model has the feature, and
     * IA32_TSX_CTRL where it says so, with KVM's rules (vmx_set_msr, kvm_set_msr_common).
     */
    private final class TsxMsrs implements MsrTable.Owner {
        @Override
        public long read(int index, MsrOrigin origin) {
            if (index == Msr.IA32_ARCH_CAPABILITIES) {
                requireArchCapabilities(index, origin);
                return archCapabilities();
            }
            requireTsxCtrl(index, origin);
            return tsxCtrl;
        }

        @Override
        public void write(int index, long value, MsrOrigin origin) {
            if (index == Msr.IA32_ARCH_CAPABILITIES) {
                requireArchCapabilities(index, origin);
                if (origin == MsrOrigin.GUEST || (value & ~defaultArchCapabilities()) != 0) {
                    throw refuse(index, origin, String.format(
                            "0x%x: the guest cannot write it, the host only clear bits of 0x%x", value,
                            defaultArchCapabilities()));
                }
                archCapabilities = value;
                return;
            }
            requireTsxCtrl(index, origin);
            if ((value & ~(TSX_CTRL_RTM_DISABLE | TSX_CTRL_CPUID_CLEAR)) != 0) {
                throw refuse(index, origin, String.format("0x%x sets bits other than 1:0", value));
            }
            tsxCtrl = value;
        }

        private void requireArchCapabilities(int index, MsrOrigin origin) {
            if (!cpuid.has(CpuidModel.Feature.ARCH_CAPABILITIES)) {
                throw unknown(index, origin);
            }
        }

        private void requireTsxCtrl(int index, MsrOrigin origin) {
            // KVM: the guest sees TSX_CTRL only while ARCH_CAPABILITIES says it exists.
            boolean present = cpuid.has(CpuidModel.Feature.RTM) && (origin == MsrOrigin.HOST
                    || (cpuid.has(CpuidModel.Feature.ARCH_CAPABILITIES)
                            && (archCapabilities() & ARCH_CAP_TSX_CTRL_MSR) != 0));
            if (!present) {
                throw unknown(index, origin);
            }
        }
    }

    private long defaultArchCapabilities() {
        return ARCH_CAP_NO_SIDE_CHANNELS | (cpuid.has(CpuidModel.Feature.RTM) ? ARCH_CAP_TSX_CTRL_MSR : 0);
    }

    private long archCapabilities() {
        return archCapabilities == -1 ? defaultArchCapabilities() : archCapabilities;
    }

    /** What XBEGIN finds (CpuBus#rtm): absent, aborting (TSX_CTRL.RTM_DISABLE, or other vCPUs share memory), running. */
    int rtm() {
        if (!cpuid.has(CpuidModel.Feature.RTM)) {
            return CpuBus.RTM_ABSENT;
        }
        return (tsxCtrl & TSX_CTRL_RTM_DISABLE) != 0 || vm.vcpuCount() > 1 ? CpuBus.RTM_ABORTS : CpuBus.RTM_RUNS;
    }

    /** MCG_CAP, MCG_STATUS, MCG_CTL and the banks, with KVM's set_msr_mce rules. */
    private final class MachineCheckMsrs implements MsrTable.Owner {
        @Override
        public long read(int index, MsrOrigin origin) {
            if (!machineCheck.readable(index)) {
                throw refuse(index, origin, "machine-check bank or MCG_CTL not present");
            }
            return machineCheck.read(index);
        }

        @Override
        public void write(int index, long value, MsrOrigin origin) {
            if (!machineCheck.write(index, value, origin == MsrOrigin.HOST)) {
                throw refuse(index, origin, String.format(
                        "machine-check MSR refuses 0x%x (KVM set_msr_mce rules)", value));
            }
        }
    }

    private final class MtrrMsrs implements MsrTable.Owner {
        @Override
        public long read(int index, MsrOrigin origin) {
            return mtrrs.read(index);
        }

        @Override
        public void write(int index, long value, MsrOrigin origin) {
            if (!mtrrs.write(index, value)) {
                throw refuse(index, origin, String.format(
                        "0x%x is not a valid MTRR value here (MTRRcap is read-only; KVM kvm_mtrr_valid rules)", value));
            }
        }
    }

    /**
     * APIC_BASE and TSC_DEADLINE while no interrupt controller claims them: APIC_BASE is stored;
     * TSC_DEADLINE reads 0 and drops writes, as KVM's without a local APIC (R23, lapic.c
     * kvm_get/set_lapic_tscdeadline_msr).
     */
    private final class NoControllerMsrs implements MsrTable.Owner {
        @Override
        public long read(int index, MsrOrigin origin) {
            return index == Msr.IA32_APIC_BASE ? apicBase : 0;
        }

        @Override
        public void write(int index, long value, MsrOrigin origin) {
            if (index == Msr.IA32_APIC_BASE) {
                apicBase = value;
            }
        }
    }

    /** kvmclock's MSRs (R20): present only when the CPUID model has {@code kvmclock}. */
    private final class KvmClockMsrs implements MsrTable.Owner {
        @Override
        public long read(int index, MsrOrigin origin) {
            if (!cpuid.has(CpuidModel.Feature.KVMCLOCK)) {
                throw unknown(index, origin);
            }
            return vm.kvmClock().readMsr(time, index);
        }

        @Override
        public void write(int index, long value, MsrOrigin origin) {
            if (!cpuid.has(CpuidModel.Feature.KVMCLOCK)) {
                throw unknown(index, origin);
            }
            vm.kvmClock().writeMsr(Vcpu.this, index, value, origin);
        }
    }

    /** The MSRs the local interrupt controller claims. */
    private static final class ControllerMsrs implements MsrTable.Owner {
        private final LocalInterruptController controller;

        ControllerMsrs(LocalInterruptController controller) {
            this.controller = controller;
        }

        @Override
        public long read(int index, MsrOrigin origin) {
            return controller.readMsr(index, origin);
        }

        @Override
        public void write(int index, long value, MsrOrigin origin) {
            controller.writeMsr(index, value, origin);
        }
    }

    /** R21: the guest reaches TSC_AUX only with CPUID RDTSCP or RDPID. */
    private boolean guestMayAccessTscAux() {
        CpuidModel model = cpuid;
        return model.has(CpuidModel.Feature.RDTSCP) || model.has(CpuidModel.Feature.RDPID);
    }

    private static RuntimeException refuse(int index, MsrOrigin origin, String reason) {
        return origin == MsrOrigin.GUEST ? CpuFault.gp0() : new MsrAccessException(index, reason);
    }

    private static RuntimeException unknown(int index, MsrOrigin origin) {
        if (origin == MsrOrigin.GUEST && DebugLog.unimp) {
            DebugLog.Topic.UNIMP.first("msr " + index, String.format("guest access to MSR 0x%x, which tscvm does not implement: #GP", index));
        }
        return origin == MsrOrigin.GUEST ? CpuFault.gp0() : new UnknownMsrException(index);
    }

    /** KVM_HC_VAPIC_POLL_IRQ: a no-op that returns 0. */
    static final long KVM_HC_VAPIC_POLL_IRQ = 1;
    /** KVM_HC_SEND_IPI: fixed IPIs to a bitmap of APIC ids; returns how many were delivered. */
    static final long KVM_HC_SEND_IPI = 10;
    /** KVM_HC_SCHED_YIELD: a hint; returns 0. */
    static final long KVM_HC_SCHED_YIELD = 11;

    /**
     * A guest VMCALL, as KVM's kvm_emulate_hypercall answers it: -KVM_EPERM from CPL above 0,
     * -KVM_ENOSYS for a number tscvm does not implement.
     */
    long hypercall(long nr, long a0, long a1, long a2, long a3, int cpl, boolean longMode) {
        if (cpl != 0) {
            return CpuBus.KVM_EPERM;
        }
        if (nr == KVM_HC_VAPIC_POLL_IRQ || nr == KVM_HC_SCHED_YIELD) {
            return 0;
        }
        if (nr == KVM_HC_SEND_IPI) {
            LocalInterruptController c = controller;
            return c == null ? CpuBus.KVM_ENOSYS : c.sendPvIpi(a0, a1, a2, a3, longMode);
        }
        return CpuBus.KVM_ENOSYS;
    }

    /** CPUID for the guest: the model with this vCPU's APIC id and true TSC rate (A5). */
    void cpuid(int leaf, int subleaf, int[] out) {
        VmConfig config = vm.config();
        int packageVcpus = config.vcpusPerPackage() == 0 ? vm.vcpuCount() : config.vcpusPerPackage();
        cpuid.query(leaf, subleaf, id, packageVcpus, config.coreIdBits(), effectiveTscKhz(), out);
        if (leaf == 1 && (readMsr(Msr.IA32_APIC_BASE, MsrOrigin.HOST) & APIC_BASE_ENABLE) == 0) {
            // KVM updates CPUID.1:EDX.APIC at runtime to follow IA32_APIC_BASE.EN (SDM 10.4.3).
            out[3] &= ~CPUID_1_EDX_APIC;
        }
        if (leaf == 7 && subleaf == 0 && (tsxCtrl & TSX_CTRL_CPUID_CLEAR) != 0) {
            out[1] &= ~(CPUID_7_EBX_HLE | CPUID_7_EBX_RTM); // TSX_CTRL hides them (the instructions stay)
        }
    }

    /** An OUT to an exit port: hand it to {@link #run()}'s caller. */
    void exitOnIoOut(int port, int size, int value) {
        pendingExit = new VcpuExit.IoOut(port, size, value);
        interpreter.requestStop();
    }

    // ---------------------------------------------------------------- host API: registers and debugging

    /** The general registers, RIP and RFLAGS (KVM_GET_REGS). */
    public VcpuRegs getRegs() {
        return new VcpuRegs(cpu.getGpr(Cpu.RAX), cpu.getGpr(Cpu.RBX), cpu.getGpr(Cpu.RCX), cpu.getGpr(Cpu.RDX),
                cpu.getGpr(Cpu.RSI), cpu.getGpr(Cpu.RDI), cpu.getGpr(Cpu.RSP), cpu.getGpr(Cpu.RBP),
                cpu.getGpr(8), cpu.getGpr(9), cpu.getGpr(10), cpu.getGpr(11), cpu.getGpr(12), cpu.getGpr(13),
                cpu.getGpr(14), cpu.getGpr(15), cpu.getRip(), cpu.getRflags());
    }

    /** Sets the general registers, RIP and RFLAGS (KVM_SET_REGS). */
    public void setRegs(VcpuRegs r) {
        long[] gprs = {r.rax(), r.rcx(), r.rdx(), r.rbx(), r.rsp(), r.rbp(), r.rsi(), r.rdi(),
                r.r8(), r.r9(), r.r10(), r.r11(), r.r12(), r.r13(), r.r14(), r.r15()};
        for (int i = 0; i < gprs.length; i++) {
            cpu.setGpr(i, gprs[i]);
        }
        cpu.setRflags(r.rflags());
        if (r.rip() != cpu.getRip()) {
            cpu.setRip(r.rip());
        }
    }

    /** Segment registers, descriptor tables, control registers and EFER (KVM_GET_SREGS). */
    public VcpuSregs getSregs() {
        Cpu.State s = cpu.saveState();
        return new VcpuSregs(segment(s, CS), segment(s, DS), segment(s, ES), segment(s, FS), segment(s, GS),
                segment(s, SS), new VcpuSregs.Segment(s.trBase(), s.trLimit(), s.trSelector(), s.trAttributes()),
                new VcpuSregs.Segment(s.ldtrBase(), s.ldtrLimit(), s.ldtrSelector(), s.ldtrAttributes()),
                new VcpuSregs.DescriptorTable(s.gdtrBase(), s.gdtrLimit()),
                new VcpuSregs.DescriptorTable(s.idtrBase(), s.idtrLimit()),
                s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer());
    }

    /**
     * Sets segment registers, descriptor tables, control registers and EFER as given, with no
     * checks (KVM_SET_SREGS: the host is trusted); the TLB and decoded blocks start afresh.
     */
    public void setSregs(VcpuSregs r) {
        Cpu.State s = cpu.saveState();
        cpu.restoreState(compose(s, null, r, null, null));
    }

    /** The x87, MMX, SSE state, PKRU and XCR0 (KVM_GET_FPU, PKRU from KVM_GET_XSAVE, KVM_GET_XCRS). */
    public VcpuFpu getFpu() {
        return fpu(cpu.saveState());
    }

    /**
     * Sets the x87, MMX, SSE state, PKRU and XCR0 (KVM_SET_FPU, KVM_SET_XCRS).
     *
     * @throws InvalidVcpuStateException for MXCSR reserved bits, or an XCR0 XSETBV would refuse;
     *         nothing changes then
     */
    public void setFpu(VcpuFpu f) {
        Cpu.State s = compose(cpu.saveState(), null, null, f, null);
        String bad = cpu.checkState(s);
        if (bad != null) {
            throw new InvalidVcpuStateException("vCPU " + id + ": " + bad);
        }
        cpu.restoreState(s);
    }

    private static VcpuFpu fpu(Cpu.State s) {
        byte[] image = s.fxRegisters();
        byte[] st = java.util.Arrays.copyOfRange(image, FX_ST, FX_ST + VcpuFpu.ST_BYTES);
        for (int i = 0; i < 8; i++) {
            // The CPU keeps sign and exponent zero-extended to 64 bits; FXSAVE has 16 of them.
            java.util.Arrays.fill(st, 16 * i + 10, 16 * i + 16, (byte) 0);
        }
        long[] xmm = new long[VcpuFpu.XMM_QUADWORDS];
        for (int i = 0; i < xmm.length; i++) {
            xmm[i] = le64(image, FX_XMM + 8 * i);
        }
        return new VcpuFpu(s.fpuControl(), s.fpuStatus(), s.fpuTag(), le16(image, FX_FOP) & 0x7ff,
                le64(image, FX_FIP), le64(image, FX_FDP), le16(image, FX_FCS), le16(image, FX_FDS), st, xmm,
                s.mxcsr(), s.pkru(), s.xcr0());
    }

    /** Where Cpu.State's FXSAVE-shaped image keeps each field (its javadoc). */
    private static final int FX_FCS = 0, FX_FDS = 2, FX_FOP = 6, FX_FIP = 8, FX_FDP = 16, FX_ST = 32, FX_XMM = 160;

    private static int le16(byte[] b, int at) {
        return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8;
    }

    private static long le64(byte[] b, int at) {
        long v = 0;
        for (int i = 7; i >= 0; i--) {
            v = (v << 8) | (b[at + i] & 0xff);
        }
        return v;
    }

    private static void put(byte[] b, int at, long v, int bytes) {
        for (int i = 0; i < bytes; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }

    /**
     * {@code s} with the parts that are not null replaced: the one place that maps the
     * KVM-shaped records onto the interpreter's state.
     */
    private static Cpu.State compose(Cpu.State s, VcpuRegs regs, VcpuSregs r, VcpuFpu f, VcpuEvents events) {
        long[] gprs = s.gprs();
        long rip = s.rip(), rflags = s.rflags();
        if (regs != null) {
            gprs = new long[] {regs.rax(), regs.rcx(), regs.rdx(), regs.rbx(), regs.rsp(), regs.rbp(), regs.rsi(),
                    regs.rdi(), regs.r8(), regs.r9(), regs.r10(), regs.r11(), regs.r12(), regs.r13(), regs.r14(),
                    regs.r15()};
            rip = regs.rip();
            rflags = regs.rflags();
        }
        int[] selectors = s.segSelectors();
        long[] bases = s.segBases();
        long[] limits = s.segLimits();
        int[] attributes = s.segAttributes();
        int ldtSel = s.ldtrSelector(), ldtAttr = s.ldtrAttributes(), trSel = s.trSelector(), trAttr = s.trAttributes();
        long ldtBase = s.ldtrBase(), ldtLimit = s.ldtrLimit(), trBase = s.trBase(), trLimit = s.trLimit();
        long gdtBase = s.gdtrBase(), idtBase = s.idtrBase();
        int gdtLimit = s.gdtrLimit(), idtLimit = s.idtrLimit();
        long cr0 = s.cr0(), cr2 = s.cr2(), cr3 = s.cr3(), cr4 = s.cr4(), cr8 = s.cr8(), efer = s.efer();
        if (r != null) {
            VcpuSregs.Segment[] segs = new VcpuSregs.Segment[6];
            segs[ES] = r.es();
            segs[CS] = r.cs();
            segs[SS] = r.ss();
            segs[DS] = r.ds();
            segs[FS] = r.fs();
            segs[GS] = r.gs();
            for (int i = 0; i < 6; i++) {
                selectors[i] = segs[i].selector();
                bases[i] = segs[i].base();
                limits[i] = segs[i].limit();
                attributes[i] = segs[i].attributes();
            }
            ldtSel = r.ldt().selector();
            ldtBase = r.ldt().base();
            ldtLimit = r.ldt().limit();
            ldtAttr = r.ldt().attributes();
            trSel = r.tr().selector();
            trBase = r.tr().base();
            trLimit = r.tr().limit();
            trAttr = r.tr().attributes();
            gdtBase = r.gdt().base();
            gdtLimit = r.gdt().limit();
            idtBase = r.idt().base();
            idtLimit = r.idt().limit();
            cr0 = r.cr0();
            cr2 = r.cr2();
            cr3 = r.cr3();
            cr4 = r.cr4();
            cr8 = r.cr8();
            efer = r.efer();
        }
        int fcw = s.fpuControl(), fsw = s.fpuStatus(), ftw = s.fpuTag(), mxcsr = s.mxcsr(), pkru = s.pkru();
        long xcr0 = s.xcr0();
        byte[] image = s.fxRegisters();
        if (f != null) {
            fcw = f.fcw();
            fsw = f.fsw();
            ftw = f.ftw();
            mxcsr = f.mxcsr();
            pkru = f.pkru();
            xcr0 = f.xcr0();
            put(image, FX_FCS, f.fcs(), 2);
            put(image, FX_FDS, f.fds(), 2);
            put(image, FX_FOP, f.fop(), 2);
            put(image, FX_FIP, f.fip(), 8);
            put(image, FX_FDP, f.fdp(), 8);
            byte[] st = f.st();
            for (int i = 0; i < 8; i++) {
                System.arraycopy(st, 16 * i, image, FX_ST + 16 * i, 10);
                java.util.Arrays.fill(image, FX_ST + 16 * i + 10, FX_ST + 16 * i + 16, (byte) 0);
            }
            for (int i = 0; i < VcpuFpu.XMM_QUADWORDS; i++) {
                put(image, FX_XMM + 8 * i, f.xmm(i / 2, i % 2), 8);
            }
        }
        boolean halted = s.halted(), waitingForSipi = s.waitingForSipi(), shutdown = s.shutdown();
        boolean stiShadow = s.interruptShadow(), movSsShadow = s.movSsShadow(), nmiBlocked = s.nmiBlocked();
        int pendingNmis = s.pendingNmis();
        if (events != null) {
            halted = events.mpState() == VcpuEvents.MpState.HALTED;
            waitingForSipi = events.mpState() == VcpuEvents.MpState.INIT_RECEIVED;
            shutdown = false;
            movSsShadow = (events.interruptShadow() & VcpuEvents.SHADOW_MOV_SS) != 0;
            stiShadow = events.interruptShadow() != 0;
            nmiBlocked = events.nmiBlocked();
            pendingNmis = events.nmiPending();
        }
        return new Cpu.State(gprs, rip, rflags, selectors, bases, limits, attributes, ldtSel, ldtBase, ldtLimit,
                ldtAttr, trSel, trBase, trLimit, trAttr, gdtBase, gdtLimit, idtBase, idtLimit, cr0, cr2, cr3, cr4,
                cr8, efer, s.debugRegisters(), s.kernelGsBase(), s.star(), s.lstar(), s.cstar(), s.fmask(),
                s.sysenterCs(), s.sysenterEsp(), s.sysenterEip(), s.pat(), fcw, fsw, ftw, mxcsr, image, halted,
                waitingForSipi, shutdown, stiShadow, s.instructionsRetired(), movSsShadow, nmiBlocked, pendingNmis,
                pkru, xcr0);
    }

    // ---------------------------------------------------------------- host API: the whole state

    /**
     * Everything the vCPU needs to go on elsewhere (KVM_GET_REGS, _SREGS, _FPU, _MSRS over
     * {@link #msrIndexList()}, _LAPIC, _VCPU_EVENTS, _MP_STATE). Host side, vCPU not running.
     * INIT and STARTUP signals that arrived are taken first, as KVM_GET_MP_STATE does
     * (kvm_apic_accept_events), so the state says what the vCPU will do when it runs.
     *
     * @throws TscvmException if the vCPU is running, or is in shutdown after a triple fault
     */
    public VcpuState saveState() {
        requireStopped("save its state");
        takeSignals();
        Cpu.State s = cpu.saveState();
        if (s.shutdown()) {
            throw new TscvmException("vCPU " + id + " is in shutdown after a triple fault: there is no state to go on from");
        }
        int[] indexes = msrIndexList();
        long[] values = new long[indexes.length];
        for (int i = 0; i < indexes.length; i++) {
            values[i] = getMsr(indexes[i]);
        }
        LocalInterruptController c = controller;
        VcpuEvents.MpState mp = s.waitingForSipi() ? VcpuEvents.MpState.INIT_RECEIVED
                : s.halted() ? VcpuEvents.MpState.HALTED : VcpuEvents.MpState.RUNNABLE;
        int shadow = s.movSsShadow() ? VcpuEvents.SHADOW_MOV_SS : s.interruptShadow() ? VcpuEvents.SHADOW_STI : 0;
        return new VcpuState(getRegs(), getSregs(), fpu(s), new VcpuMsrs(indexes, values),
                c == null ? null : c.saveLapic(),
                new VcpuEvents(-1, false, 0, -1, s.pendingNmis(), s.nmiBlocked(), shadow, mp));
    }

    /**
     * Loads {@code state} (host side, vCPU not running). The whole record is checked first:
     * reserved CR0/CR4/EFER bits, mode and segment consistency, RFLAGS, MXCSR, every MSR index
     * (it must have an owner here), EFER given twice alike, the LAPIC against the controller,
     * and events tscvm cannot hold (an exception or interrupt already taken); a refused state
     * changes nothing. An MSR value its owner refuses is found only while loading: the vCPU is
     * then put back as it was before the call, and the exception says so.
     *
     * <p>Order: registers, segment and control registers, FPU and events into the interpreter;
     * then TSC_ADJUST and TSC as host writes (R8, R9), in the order QEMU's kvm_put_msrs puts
     * them (TSC_ADJUST first; neither host write moves the other's value here: R8 leaves the
     * TSC alone and R9 leaves A alone), so a TSC restored on every vCPU within KVM's one-second
     * window joins one generation (R10), as after a KVM migration; then the other MSRs
     * ascending (MCG_CAP before the banks it sizes, APIC_BASE before the LAPIC page); then the
     * LAPIC, whose timer needs the TSC (its TSC deadline is the one that counts).
     *
     * @throws InvalidVcpuStateException naming the part and the rule it broke
     * @throws TscvmException if the vCPU is running
     */
    public void restoreState(VcpuState state) {
        requireStopped("restore a state");
        Cpu.State target = validate(state);
        VcpuState before = saveState();
        long offsetBefore = tsc.l1Offset();
        try {
            load(state, target);
        } catch (RuntimeException refused) {
            load(before, validate(before));
            // A host write of the old TSC may join the new generation (R10); the offset is exact (R17).
            setTscOffset(offsetBefore);
            throw new InvalidVcpuStateException("vCPU " + id + ": the state was refused while loading ("
                    + refused.getMessage() + "); the vCPU is as it was", refused);
        }
    }

    private Cpu.State validate(VcpuState state) {
        if (state == null) {
            throw new InvalidVcpuStateException("vCPU " + id + ": the state is null");
        }
        VcpuEvents e = state.events();
        if (e.exceptionVector() != -1) {
            throw new InvalidVcpuStateException(String.format("vCPU %d: exception %d is pending; tscvm delivers an "
                    + "exception within the instruction that raises it, so no state of its has one", id,
                    e.exceptionVector()));
        }
        if (e.interruptVector() != -1) {
            throw new InvalidVcpuStateException(String.format("vCPU %d: interrupt 0x%x is taken but not delivered; "
                    + "tscvm keeps a pending interrupt in the local APIC's IRR", id, e.interruptVector()));
        }
        if ((e.interruptShadow() & ~(VcpuEvents.SHADOW_MOV_SS | VcpuEvents.SHADOW_STI)) != 0) {
            throw new InvalidVcpuStateException("vCPU " + id + ": interrupt shadow " + e.interruptShadow()
                    + " has bits other than MOV_SS (1) and STI (2)");
        }
        if (e.mpState() == null) {
            throw new InvalidVcpuStateException("vCPU " + id + ": the MP state is null");
        }
        Cpu.State target = compose(cpu.saveState(), state.regs(), state.sregs(), state.fpu(), e);
        String bad = cpu.checkState(target);
        if (bad != null) {
            throw new InvalidVcpuStateException("vCPU " + id + ": " + bad);
        }
        int[] indexes = state.msrs().indexes();
        long[] values = state.msrs().values();
        for (int i = 0; i < indexes.length; i++) {
            if (msrTable.owner(indexes[i]) == null) {
                throw new InvalidVcpuStateException(String.format("vCPU %d: MSR 0x%x is not an MSR of this vCPU", id,
                        indexes[i]));
            }
            if (indexes[i] == Msr.IA32_EFER && values[i] != state.sregs().efer()) {
                throw new InvalidVcpuStateException(String.format("vCPU %d: EFER is 0x%x among the MSRs but 0x%x in "
                        + "the special registers", id, values[i], state.sregs().efer()));
            }
        }
        LocalInterruptController c = controller;
        if ((c == null) != (state.lapic() == null)) {
            throw new InvalidVcpuStateException("vCPU " + id + (c == null
                    ? ": the state has a local APIC but this vCPU has no interrupt controller"
                    : ": the state has no local APIC but this vCPU's interrupt controller needs one"));
        }
        if (c != null) {
            String badLapic = c.checkLapic(state.lapic());
            if (badLapic != null) {
                throw new InvalidVcpuStateException("vCPU " + id + ": local APIC: " + badLapic);
            }
        }
        return target;
    }

    /** Loads a validated state in the order {@link #restoreState} documents. */
    private void load(VcpuState state, Cpu.State target) {
        synchronized (signals) {
            pendingInit = false; // the state says what the vCPU does next
            pendingSipi = -1;
        }
        // So does the pause a signal requested only to be taken: left set, it would cost the
        // restored vCPU its next run, and a deterministic run would not repeat the saved one.
        pauseRequested.set(false);
        cpu.restoreState(target);
        int[] indexes = state.msrs().indexes();
        long[] values = state.msrs().values();
        writeMsrsIf(indexes, values, i -> i == Msr.IA32_TSC_ADJUST);
        writeMsrsIf(indexes, values, i -> i == Msr.IA32_TSC);
        int[] order = indexes.clone();
        java.util.Arrays.sort(order);
        for (int index : order) {
            if (index != Msr.IA32_TSC_ADJUST && index != Msr.IA32_TSC && index != Msr.IA32_EFER) {
                writeMsrsIf(indexes, values, i -> i == index);
            }
        }
        LocalInterruptController c = controller;
        if (c != null) {
            c.restoreLapic(state.lapic());
        }
        interpreter.notifyInterrupt(); // a restored IRR or NMI is looked at before the first instruction
    }

    private void writeMsrsIf(int[] indexes, long[] values, java.util.function.IntPredicate which) {
        for (int i = 0; i < indexes.length; i++) {
            if (which.test(indexes[i])) {
                setMsr(indexes[i], values[i]);
            }
        }
    }

    private void requireStopped(String what) {
        if (running.get()) {
            throw new TscvmException("vCPU " + id + " is running: pause it before you " + what);
        }
    }

    // ---------------------------------------------------------------- host API: INIT, STARTUP, NMI, reset

    /**
     * Thread-safe: an INIT signal (an INIT IPI, or the host's KVM_SET_MP_STATE-like request).
     * Taken on the vCPU's own thread before it next runs: the CPU goes to its INIT state and
     * waits for a STARTUP IPI (SDM 10.4.7.3). A running vCPU stops at the next instruction
     * boundary to take it.
     */
    public void deliverInit() {
        synchronized (signals) {
            pendingInit = true;
            signals.notifyAll();
        }
        requestPause();
    }

    /** Thread-safe: a STARTUP IPI with {@code vector}; ignored unless the vCPU waits for one. */
    public void deliverStartup(int vector) {
        synchronized (signals) {
            pendingSipi = vector & 0xff;
            signals.notifyAll();
        }
        requestPause();
    }

    /** Thread-safe: the NMI input (KVM_NMI); wakes a halted vCPU whatever RFLAGS.IF. */
    public void injectNmi() {
        cpu.raiseNmi();
        kick();
    }

    /**
     * Host side, vCPU not running: takes the INIT and STARTUP signals that arrived, and tells
     * whether the vCPU can run (false while it waits for a STARTUP IPI). The round-robin and
     * the vCPU threads call it before {@link #run()}.
     */
    public boolean takeSignals() {
        synchronized (signals) {
            if (pendingInit) {
                pendingInit = false;
                cpu.init();
                vm.kvmClock().resetVcpu(time); // kvm_vcpu_reset: kvmclock off on INIT too
                if (trace != null) trace.init();
            }
            if (pendingSipi >= 0) {
                int vector = pendingSipi;
                pendingSipi = -1;
                boolean waiting = cpu.waitingForSipi();
                cpu.startup(vector); // ignored unless waiting for SIPI
                if (trace != null && waiting) trace.sipi(vector);
            }
            return !cpu.waitingForSipi();
        }
    }

    /**
     * Waits up to {@code millis} for an INIT or STARTUP signal (a vCPU thread whose vCPU waits
     * for SIPI), or until {@link #wakeSignalWaiters()}.
     */
    public void awaitSignal(long millis) throws InterruptedException {
        synchronized (signals) {
            if (!pendingInit && pendingSipi < 0) {
                signals.wait(millis);
            }
        }
    }

    /** Thread-safe: wakes a thread in {@link #awaitSignal}. */
    public void wakeSignalWaiters() {
        synchronized (signals) {
            signals.notifyAll();
        }
    }

    /**
     * Host side, vCPU not running: the CPU at power-on (RESET: real mode at F000:FFF0, every
     * register and CPU-owned MSR at its reset value; the application processors then wait for
     * SIPI through {@link #deliverInit()}), and the PMU at its power-on state as KVM resets it.
     * The TSC, the MTRRs and the other vCPU-stored MSRs are the caller's to reset (a
     * machine-level reset, A7).
     */
    public void reset() {
        requireStopped("reset it");
        synchronized (signals) {
            pendingInit = false;
            pendingSipi = -1;
        }
        // A pause asked of the stopped vCPU (the end of the boot before this reset) would cost
        // the reset vCPU its first run, as in load().
        pauseRequested.set(false);
        tsxCtrl = 0;
        cpu.reset();
        pmu.reset(interpreter.instructionsRetired(), cpu.branchesRetired());
        cpu.setPrivilegeWatch(false);
        cpu.setBranchCounting(false);
        vm.kvmClock().resetVcpu(time);
    }

    /** Instructions this vCPU retired since it was created (the deterministic clock's driver). */
    public long instructionsRetired() {
        return interpreter.instructionsRetired();
    }

    /** How many blocks the compiler turned into JVM bytecode so far. */
    public long compiledBlocks() {
        return cpu.compiledBlocks();
    }

    /** One line for a report: RIP, CS, CPL, control registers, RSP and the last exception. */
    public String describe() {
        return cpu.describe();
    }

    private static final int ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;

    private static VcpuSregs.Segment segment(Cpu.State s, int i) {
        return new VcpuSregs.Segment(s.segBases()[i], s.segLimits()[i], s.segSelectors()[i], s.segAttributes()[i]);
    }

    /**
     * The guest-physical address that guest-linear {@code linear} maps to through this vCPU's
     * paging now, or -1 where nothing is mapped (KVM_TRANSLATE). Sets no accessed or dirty bit.
     */
    public long translate(long linear) {
        return cpu.translateForDebugger(linear);
    }

    /**
     * Thread-safe (KVM_SET_GUEST_DEBUG): breakpoints, watchpoints and single-stepping, taken up
     * at the next run slice. {@link #run()} then returns {@link VcpuExit.Debug} when one of them
     * stops the vCPU; {@link GuestDebug#NONE} gives back full speed.
     */
    public void setGuestDebug(GuestDebug debug) {
        guestDebug = debug;
    }

    /**
     * Thread-safe: {@link #run()} returns {@link VcpuExit.Paused} at the first instruction
     * boundary where {@link #instructionsRetired()} is {@code count} or more (at once if it is
     * already), before a HLT it retired waits; {@code Long.MAX_VALUE} lifts the limit. A
     * deterministic run cut there continues exactly as it would have without the cut.
     */
    public void stopAtRetired(long count) {
        retireLimit = count;
    }

    /** The CPU's traps for {@code debug}, rebuilt only when the request changed. */
    private void applyGuestDebug(GuestDebug debug) {
        if (debug == appliedDebug) {
            return;
        }
        appliedDebug = debug;
        if (!debug.enabled()) {
            cpu.setDebugTraps(null);
            return;
        }
        long[] breakpoints = debug.breakpoints().stream().mapToLong(Long::longValue).toArray();
        int n = debug.watchpoints().size();
        long[] start = new long[n];
        long[] length = new long[n];
        int[] kind = new int[n];
        for (int i = 0; i < n; i++) {
            GuestDebug.Watchpoint w = debug.watchpoints().get(i);
            start[i] = w.address();
            length[i] = w.length();
            kind[i] = switch (w.kind()) {
                case WRITE -> DebugTraps.WATCH_WRITE;
                case READ -> DebugTraps.WATCH_READ;
                case ACCESS -> DebugTraps.WATCH_ACCESS;
            };
        }
        cpu.setDebugTraps(new DebugTraps(breakpoints, start, length, kind, debug.singleStep()));
    }

    private VcpuExit.Debug watchpointExit() {
        VcpuExit.Debug.Reason reason = switch (cpu.lastWatchKind()) {
            case DebugTraps.WATCH_WRITE -> VcpuExit.Debug.Reason.WATCH_WRITE;
            case DebugTraps.WATCH_READ -> VcpuExit.Debug.Reason.WATCH_READ;
            default -> VcpuExit.Debug.Reason.WATCH_ACCESS;
        };
        return new VcpuExit.Debug(reason, cpu.lastWatchAddress());
    }

    // ---------------------------------------------------------------- running

    /**
     * Runs the guest until the host must act (KVM_RUN). Never throws for anything the guest
     * does: a tscvm bug surfacing here becomes {@link VcpuExit.InternalError}. Each exit is
     * counted ({@link #exitCount}). The loop: run a slice of instructions (up to the
     * controller's next timer event on a deterministic clock, which advances by the
     * instructions retired), fire due timers, then act on why the CPU stopped: HLT waits for
     * a wake-up (a deterministic clock jumps to the next timer event when this is the VM's only
     * vCPU; with several, it returns {@link VcpuExit.Paused} and the caller, which runs them in
     * turn, moves the shared clock once every vCPU waits; a real clock parks until the event or
     * a {@link #kick()}) or returns {@link VcpuExit.Halt} if nothing can ever wake it: no
     * interrupt controller; or one vCPU with RFLAGS.IF=0; or, on a deterministic clock, no
     * timer event and no other vCPU. (On a deterministic clock every time source, the PIT
     * included, must surface through {@link LocalInterruptController#nextEventHostTsc()}.)
     *
     * @throws TscvmException if another thread is already running this vCPU
     */
    public VcpuExit run() {
        if (!running.compareAndSet(false, true)) {
            throw new TscvmException("vCPU " + id + " is already running on another thread");
        }
        runThread = Thread.currentThread();
        VcpuExit exit;
        try {
            vm.kvmClock().vcpuLoad(this);
            exit = runLoop();
        } catch (RuntimeException | StackOverflowError bug) {
            exit = new VcpuExit.InternalError("vCPU " + id + ": " + bug);
        } finally {
            vm.kvmClock().vcpuPut(this);
            runThread = null;
            running.set(false);
        }
        exitCounts.incrementAndGet(exit.kind().ordinal());
        if (trace != null) trace.exit(exit.kind().name(), exit == PAUSED);
        return exit;
    }

    /**
     * What the run loop does next (Firecracker's VcpuRunState): it starts from the CPU's own
     * state and moves only at the transitions commented in {@link #runLoop()}.
     */
    enum RunState {
        /** Interpreting instructions in slices. */
        RUNNING,
        /** In HLT: waiting for an interrupt, NMI or INIT (or a timer it can jump to). */
        HALTED,
        /** After INIT: waiting for a STARTUP IPI. */
        WAITING_FOR_SIPI,
        /** The host asked for the vCPU back: {@link #run()} returns {@link VcpuExit.Paused}. */
        PAUSED
    }

    private VcpuExit runLoop() {
        RunState state = cpu.waitingForSipi() ? RunState.WAITING_FOR_SIPI : RunState.RUNNING;
        // A pending interrupt that did not wake the CPU (IF=0) cannot wake it again.
        boolean ignorePending = false;
        while (true) {
            if (pauseRequested.getAndSet(false)) {
                state = RunState.PAUSED; // any state -> PAUSED: the host's request wins
            }
            switch (state) {
                case PAUSED:
                    return PAUSED;
                case WAITING_FOR_SIPI: {
                    // -> RUNNING once STARTUP arrives (taken by the host through takeSignals, as
                    // INIT, so both are handled in one place); -> PAUSED on a pause request.
                    VcpuExit exit = parkUntilKicked();
                    if (exit != null) {
                        return exit;
                    }
                    state = cpu.waitingForSipi() ? RunState.WAITING_FOR_SIPI : RunState.RUNNING;
                    break;
                }
                case HALTED: {
                    // -> RUNNING when something may have woken the CPU; or an exit (nothing can wake it, a pause).
                    if (trace != null) trace.halt();
                    VcpuExit exit = waitWhileHalted(ignorePending);
                    if (exit != null) {
                        return exit;
                    }
                    if (trace != null) trace.wake();
                    state = RunState.RUNNING;
                    ignorePending = true;
                    break;
                }
                case RUNNING: {
                    if (time.updateRequested) {
                        vm.kvmClock().updateGuestTime(this); // KVM_REQ_CLOCK_UPDATE, before guest code runs again
                    }
                    long before = interpreter.instructionsRetired();
                    long limit = retireLimit;
                    if (before >= limit) {
                        return PAUSED;
                    }
                    LocalInterruptController c = controller;
                    GuestDebug debug = guestDebug;
                    applyGuestDebug(debug);
                    long budget = debug.singleStep() ? 1 : Math.min(sliceBudget(c), limit - before);
                    if (pmu.active()) {
                        foldPmu();
                        budget = Math.min(budget, pmu.instructionsToOverflow()); // an overflow ends its slice
                    }
                    bus.resyncClock(); // the time since the last slice was not interpretation
                    RunStop stop;
                    // On a counting clock, RDTSC and device reads inside the slice see every retired instruction (A2).
                    clock.beginSlice(retiredCounter);
                    try {
                        stop = interpreter.run(budget);
                    } finally {
                        clock.endSlice();
                    }
                    long retired = interpreter.instructionsRetired() - before;
                    if (pmu.active()) {
                        foldPmu();
                    }
                    fireDueTimers(c);
                    switch (stop) {
                        case BUDGET_EXHAUSTED:
                            if (debug.singleStep()) {
                                // One instruction retired, or an exception delivered: RIP is where it went.
                                return new VcpuExit.Debug(VcpuExit.Debug.Reason.SINGLE_STEP, cpu.getRip());
                            }
                            ignorePending = false;
                            break;
                        case STOP_REQUESTED: {
                            VcpuExit exit = pendingExit;
                            if (exit != null) {
                                pendingExit = null;
                                return exit;
                            }
                            break; // a pause request is honoured at the top of the loop
                        }
                        case HALTED:
                            if (debug.singleStep() && retired > 0) {
                                return new VcpuExit.Debug(VcpuExit.Debug.Reason.SINGLE_STEP, cpu.getRip()); // the step was HLT
                            }
                            if (before + retired >= limit) {
                                return PAUSED; // the limit falls on the HLT: stop before its wait
                            }
                            // -> HALTED; a pending interrupt that did not wake it is ignored unless
                            // an instruction ran since it last woke.
                            ignorePending = ignorePending && retired == 0;
                            state = RunState.HALTED;
                            break;
                        case TRIPLE_FAULT:
                            return new VcpuExit.TripleFault(interpreter.describe());
                        case WAIT_FOR_SIPI:
                            state = RunState.WAITING_FOR_SIPI; // INIT came in through the interpreter's state
                            break;
                        case BREAKPOINT:
                            return new VcpuExit.Debug(VcpuExit.Debug.Reason.BREAKPOINT, cpu.getRip());
                        case WATCHPOINT:
                            return watchpointExit();
                    }
                    break;
                }
            }
        }
    }

    /** Instructions for the next slice: up to the next timer event on a deterministic clock. */
    private long sliceBudget(LocalInterruptController c) {
        long perInstruction = clock.ticksPerInstruction();
        if (perInstruction == 0) {
            return REAL_TIME_SLICE;
        }
        long next = c == null ? Long.MAX_VALUE : c.nextEventHostTsc();
        if (next == Long.MAX_VALUE) {
            return DETERMINISTIC_SLICE;
        }
        long ticks = next - clock.now();
        if (ticks <= 0) {
            return 1;
        }
        return Math.min(DETERMINISTIC_SLICE, ticks / perInstruction + (ticks % perInstruction == 0 ? 0 : 1));
    }

    private void fireDueTimers(LocalInterruptController c) {
        if (c != null) {
            long now = clock.now();
            if (now >= c.nextEventHostTsc()) {
                c.onTime(now);
            }
        }
    }

    /**
     * HLT: returns null once something may have woken the CPU (it was told through
     * {@link Cpu#notifyInterrupt()}), or the exit to return.
     */
    private VcpuExit waitWhileHalted(boolean ignorePending) {
        while (true) {
            if (pauseRequested.getAndSet(false)) {
                return PAUSED;
            }
            LocalInterruptController c = controller;
            if (c == null) {
                return nothingCanWake(); // nothing can deliver an interrupt
            }
            if (kicked && cpu.nmiPending()) {
                kicked = false; // an NMI wakes the CPU whatever RFLAGS.IF (SDM 6.7.1)
                interpreter.notifyInterrupt();
                return null;
            }
            if (vm.vcpuCount() == 1 && !interpreter.interruptsEnabled()) {
                return nothingCanWake(); // IF=0, and no other vCPU to send NMI or INIT
            }
            fireDueTimers(c);
            if (kicked || (!ignorePending && c.pendingInterrupt() >= 0)) {
                kicked = false;
                interpreter.notifyInterrupt();
                return null;
            }
            long next = c.nextEventHostTsc();
            boolean deterministic = clock.deterministic();
            if (next != Long.MAX_VALUE) {
                if (deterministic) {
                    if (vm.vcpuCount() > 1) {
                        // The clock is shared: a halted vCPU gives up its turn instead of moving
                        // time for the others; the round-robin jumps it once every vCPU waits.
                        return PAUSED;
                    }
                    clock.advanceTo(next); // jump over the halt to the timer (A2)
                    ignorePending = false;
                    continue;
                }
                long nanos = TscMath.cyclesToNanos(Math.max(1, next - clock.now()), clock.khz());
                LockSupport.parkNanos(this, Math.min(nanos, MAX_PARK_NANOS));
                ignorePending = false;
                continue;
            }
            // No timer: only another vCPU (IPI) or, on a real clock, a device with IF=1 can wake it.
            boolean otherWakers = vm.vcpuCount() > 1 || (!deterministic && interpreter.interruptsEnabled());
            if (!otherWakers) {
                return nothingCanWake();
            }
            LockSupport.parkNanos(this, MAX_PARK_NANOS);
        }
    }

    /**
     * The halted CPU can never wake: {@link VcpuExit.Halt}, unless a pause was asked for since
     * the wait last looked (the timers it fired may ask, as the end of a deterministic quantum
     * does). The pause is then the exit: left pending behind a Halt, it would end the next
     * {@link #run()} at once, before the CPU saw whatever the host did in between.
     */
    private VcpuExit nothingCanWake() {
        return pauseRequested.getAndSet(false) ? PAUSED : new VcpuExit.Halt();
    }

    /** WAIT_FOR_SIPI: parks until {@link #kick()} (a STARTUP IPI) or a pause request. */
    private VcpuExit parkUntilKicked() {
        while (!kicked) {
            if (pauseRequested.getAndSet(false)) {
                return PAUSED;
            }
            LockSupport.parkNanos(this, MAX_PARK_NANOS);
        }
        kicked = false;
        return null;
    }

    /**
     * Thread-safe: asks {@link #run()} to return {@link VcpuExit.Paused} at the next
     * instruction boundary (or at once if the vCPU is halted or waiting for SIPI).
     */
    public void requestPause() {
        pauseRequested.set(true);
        interpreter.requestStop();
        LockSupport.unpark(runThread);
    }

    /**
     * Thread-safe: an interrupt, INIT or STARTUP may be waiting for this vCPU (devices and IPIs
     * call it): a halted or parked vCPU re-checks at once.
     */
    public void kick() {
        kicked = true;
        interpreter.notifyInterrupt();
        LockSupport.unpark(runThread);
    }

    /** How many times {@link #run()} returned an exit of {@code kind}. */
    public long exitCount(VcpuExit.Kind kind) {
        return exitCounts.get(kind.ordinal());
    }
}

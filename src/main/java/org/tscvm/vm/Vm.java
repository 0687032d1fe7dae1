package org.tscvm.vm;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.tscvm.TscvmException;
import org.tscvm.cpu.Msr;
import org.tscvm.memory.GuestMemory;
import org.tscvm.memory.MmioBus;
import org.tscvm.memory.PortIoBus;
import org.tscvm.tsc.HostClock;
import org.tscvm.tsc.TscMath;
import org.tscvm.tsc.TscState;
import org.tscvm.tsc.TscSync;
import org.tscvm.trace.Tracer;
import org.tscvm.trace.VcpuTrack;

/**
 * A virtual machine, shaped like a KVM VM file descriptor: it owns guest memory, the port and
 * MMIO buses, the host clock and the VM-wide TSC synchronisation state (tsc-semantics R10-R12),
 * and creates the vCPUs.
 *
 * <pre>{@code
 * Vm vm = Vm.create(VmConfig.defaults());
 * Vcpu vcpu = vm.createVcpu();              // guest TSC 0 at this instant (R12)
 * vcpu.setMsr(Msr.IA32_TSC, 1_000_000);     // host write, through R10 (R9)
 * long tsc = vcpu.getMsr(Msr.IA32_TSC);     // host read, L1's TSC (R3)
 * }</pre>
 */
public final class Vm {
    private final VmConfig config;
    private final GuestMemory memory;
    private final PortIoBus ioBus = new PortIoBus();
    private final MmioBus mmioBus = new MmioBus();
    private final HostClock clock;
    private final TscSync tscSync = new TscSync();
    private final KvmClock kvmClock;
    private final List<Vcpu> vcpus = new CopyOnWriteArrayList<>();
    private long defaultTscKhz;
    private volatile Tracer tracer;

    private Vm(VmConfig config) {
        this.config = config;
        this.memory = new GuestMemory(config.ramBytes());
        this.clock = config.createClock();
        clock.setTscAdjust(config.hostTscAdjust());
        // KVM: default_tsc_khz = max_tsc_khz ?: tsc_khz (R12), unless the config asks for another.
        this.defaultTscKhz = config.defaultTscKhz() == 0 ? clock.khz() : config.defaultTscKhz();
        if (config.hostTscUnstable()) {
            tscSync.markHostTscUnstable();
        }
        this.kvmClock = new KvmClock(this, clock, tscSync, memory);
    }

    /**
     * Creates a VM (KVM_CREATE_VM). The host clock's IA32_TSC_ADJUST is set to
     * {@link VmConfig#hostTscAdjust()} (A2), also when the config brought its own clock.
     *
     * @throws TscvmException for a RAM size or frequency out of range
     */
    public static Vm create(VmConfig config) {
        return new Vm(config);
    }

    /**
     * Creates the next vCPU, with id and APIC id = the number of vCPUs before it
     * (KVM_CREATE_VCPU, R12): its frequency is the VM's default kHz (a ratio the default cannot
     * have is ignored, as kvm_arch_vcpu_create ignores it, R15), A = 0, then post-create
     * synchronisation with no user value: the first vCPU, or one at a frequency other than the
     * last write's, starts a new generation with guest TSC 0 now; the others take the
     * generation's offset and read the same running TSC (R10).
     */
    public synchronized Vcpu createVcpu() {
        Vcpu vcpu = new Vcpu(this, vcpus.size());
        TscState tsc = vcpu.tscState();
        try {
            tsc.applyKhz(defaultTscKhz, clock.khz());
        } catch (TscvmException ignored) {
            // R15: a default the ratio cannot express leaves ratio 1.0 while reporting the default kHz.
        }
        long hostTsc = clock.now();
        tscSync.synchronize(tsc, false, 0, hostTsc, clock.nanosAt(hostTsc));
        if (vcpu.trace() != null) vcpu.trace().vcpuCreated(hostTsc, tsc.generation(), tsc.l1Offset(), tsc.virtualKhz(), clock.tscAdjust());
        vcpus.add(vcpu); // online before post-create's kvm_track_tsc_matching counts it
        kvmClock.tscSynchronized();
        return vcpu;
    }

    /** The vCPUs in creation order; index = {@link Vcpu#id()}. */
    public List<Vcpu> vcpus() {
        return vcpus;
    }

    int vcpuCount() {
        return vcpus.size();
    }

    /**
     * R15, the VM ioctl KVM_SET_TSC_KHZ: stores the kHz new vCPUs start at; 0 means the host
     * frequency. Only before any vCPU exists.
     *
     * @throws TscvmException if a vCPU exists, or {@code khz} is not below R15's maximum
     */
    public synchronized void setDefaultTscKhz(long khz) {
        long max = TscState.maxGuestKhz(clock.khz());
        if (khz < 0 || khz >= max) {
            throw new TscvmException(String.format(
                    "default TSC frequency %d kHz is out of range: use 1 to %d kHz, or 0 for the host's %d kHz (R15)",
                    khz, max - 1, clock.khz()));
        }
        if (!vcpus.isEmpty()) {
            throw new TscvmException(String.format(
                    "cannot set the default TSC frequency to %d kHz: %d vCPU(s) exist already; set it before "
                            + "createVcpu(), or use Vcpu.setTscKhz (R15)", khz, vcpus.size()));
        }
        defaultTscKhz = khz == 0 ? clock.khz() : khz;
    }

    /** R16, the VM ioctl KVM_GET_TSC_KHZ: the default kHz. */
    public synchronized long getDefaultTscKhz() {
        return defaultTscKhz;
    }

    /**
     * The host TSC and every vCPU's TSC at one instant: R20's KVM_CLOCK_HOST_TSC reading (raw
     * host TSC including the host adjust, unscaled, no offset) and, at that same host TSC, each
     * vCPU's TSC as a host read of MSR 0x10 returns it (R3). This is what R19's migration
     * recipe needs. Call it while the vCPUs are paused for a consistent set.
     */
    public VmClock getClock() {
        long hostTsc = clock.now();
        List<Long> guestTscs = new ArrayList<>();
        for (Vcpu vcpu : vcpus) {
            guestTscs.add(vcpu.tscState().l1GuestTsc(hostTsc));
        }
        return new VmClock(hostTsc, clock.nanosAt(hostTsc), guestTscs);
    }

    /**
     * KVM_GET_CLOCK (R20): kvmclock now, in nanoseconds since the VM was created (plus any
     * {@link #setKvmClock}). Under the master clock (stable host TSC, every vCPU in one TSC
     * generation, {@link KvmClock#usesMasterClock()}) the flags are TSC_STABLE, REALTIME and
     * HOST_TSC, with the host's real time and raw host TSC read at the same instant as the clock
     * (what R19's migration recipe needs); without it, flags 0 and only the clock.
     */
    public KvmClockData getKvmClock() {
        return kvmClock.get();
    }

    /**
     * KVM_SET_CLOCK (R20): makes kvmclock read {@code data.clock()} now; with
     * {@link KvmClockData#REALTIME}, plus the host real time elapsed since {@code data.realtime()}
     * (never minus: kvmclock does not step back). The master clock is re-read first, and every
     * vCPU's pvclock structure is refreshed before it next runs. No vCPU's TSC offset or
     * TSC_ADJUST changes. R19's migration recipe, on the destination:
     *
     * <pre>{@code
     * KvmClockData src = source.getKvmClock();              // and each vCPU's getTscOffset(), getTscKhz()
     * destination.setKvmClock(KvmClockData.atRealtime(src.clock(), src.realtime()));
     * KvmClockData dst = destination.getKvmClock();
     * // offset[i] = srcOffset[i] - (src.clock() - dst.clock()) * khz / 10^6 + (src.hostTsc() - dst.hostTsc())
     * destination.vcpus().get(i).setTscOffset(offset[i]);
     * }</pre>
     *
     * @throws TscvmException for a flag outside TSC_STABLE, REALTIME and HOST_TSC
     */
    public void setKvmClock(KvmClockData data) {
        kvmClock.set(data);
    }

    /** The VM's kvmclock: master clock, MSRs, pvclock updates (R20, R25). */
    public KvmClock kvmClock() {
        return kvmClock;
    }

    /**
     * A7: the time state of every vCPU at one host instant, for a snapshot or a migration.
     * Call it while the vCPUs are paused. The guest TSCs are read as the host reads MSR 0x10
     * (R3), so they include every guest TSC and TSC_ADJUST write (R24).
     */
    public synchronized VmTscState saveTscState() {
        VmClock now = getClock();
        List<VmTscState.Vcpu> saved = new ArrayList<>();
        for (Vcpu vcpu : vcpus) {
            saved.add(new VmTscState.Vcpu(vcpu.getTscKhz(), now.guestTsc(vcpu.id()),
                    vcpu.getMsr(Msr.IA32_TSC_ADJUST), vcpu.getMsr(Msr.IA32_TSC_AUX),
                    vcpu.getMsr(Msr.IA32_TSC_DEADLINE)));
        }
        return new VmTscState(saved);
    }

    /**
     * A7, R17, R19: restores a saved time state into this VM's vCPUs so that each guest TSC
     * continues from its saved value plus {@code elapsedNanos} of guest time (0: as if no time
     * passed; the wall-clock downtime of a migration, to keep guest time in step with the
     * world). It never goes backwards, and vCPUs that shared one TSC at the save share one
     * offset and one generation after it — the per-vCPU drift that Firecracker PR #6200 and
     * Cloud Hypervisor PR #8437 fixed. The host clock may differ from the saving host's in
     * rate, origin and host adjust.
     *
     * <p>Order, as KVM needs it: the frequency first (R14 does not recompute the offset, so it
     * must come before the offset); then every offset, computed at one host instant and applied
     * exactly through the TSC-offset attribute (R17); then TSC_ADJUST as a host write (R8: it
     * does not move the TSC, and it is dropped unless this VM's CPUID model already has
     * tsc-adjust — install the CPUID model before restoring, as KVM userspace must); then
     * TSC_AUX; the TSC deadline last, since it is in guest-TSC units (Firecracker restores
     * TSC_DEADLINE after IA32_TSC for the same reason).
     *
     * @throws TscvmException if the vCPU counts differ, {@code elapsedNanos} is negative or a
     *         saved frequency cannot be set here; checked before anything changes
     */
    public synchronized void restoreTscState(VmTscState state, long elapsedNanos) {
        if (state.vcpus().size() != vcpus.size()) {
            throw new TscvmException("the saved TSC state has " + state.vcpus().size()
                    + " vCPU(s) but this VM has " + vcpus.size() + "; create the same number first");
        }
        if (elapsedNanos < 0) {
            throw new TscvmException("elapsed time across a restore cannot be negative: " + elapsedNanos + " ns");
        }
        for (VmTscState.Vcpu saved : state.vcpus()) {
            TscState.checkSettableKhz(saved.tscKhz(), clock.khz());
        }
        for (int i = 0; i < vcpus.size(); i++) {
            vcpus.get(i).setTscKhz(state.vcpus().get(i).tscKhz());
        }
        long hostTsc = clock.now();
        for (int i = 0; i < vcpus.size(); i++) {
            Vcpu vcpu = vcpus.get(i);
            VmTscState.Vcpu saved = state.vcpus().get(i);
            long target = saved.guestTsc() + TscMath.nanosToCycles(elapsedNanos, saved.tscKhz());
            // The offset that makes L1's TSC read target at hostTsc, under the ratio now in force.
            long scaledHost = vcpu.guestTscAt(hostTsc) - vcpu.getTscOffset();
            vcpu.setTscOffset(target - scaledHost);
        }
        for (int i = 0; i < vcpus.size(); i++) {
            Vcpu vcpu = vcpus.get(i);
            VmTscState.Vcpu saved = state.vcpus().get(i);
            vcpu.setMsr(Msr.IA32_TSC_ADJUST, saved.tscAdjust());
            vcpu.setMsr(Msr.IA32_TSC_AUX, saved.tscAux());
            vcpu.setMsr(Msr.IA32_TSC_DEADLINE, saved.tscDeadline());
        }
    }

    /**
     * A2: sets the host's IA32_TSC_ADJUST. The host TSC moves by the difference, and so does
     * every guest TSC built on it, while every guest's RDMSR 0x3b still shows its own value.
     * The vCPUs' interrupt controllers are told the guest TSC changed.
     */
    public void setHostTscAdjust(long adjust) {
        long before = clock.tscAdjust();
        long hostBefore = clock.now();
        clock.setTscAdjust(adjust);
        long hostAfter = hostBefore + (adjust - before); // the same instant on the moved host TSC
        for (Vcpu vcpu : vcpus) {
            vcpu.guestTscChanged();
            VcpuTrack t = vcpu.trace();
            if (t != null) t.hostTscAdjust(hostAfter, before, adjust, vcpu.guestTscAt(hostBefore), vcpu.guestTscAt(hostAfter));
        }
    }

    /**
     * Traces this VM's guest-visible time events into {@code newTracer} (null: no trace). Only
     * before the first vCPU is created: each vCPU takes its track when it is created.
     *
     * @throws TscvmException if a vCPU exists
     */
    public synchronized void setTracer(Tracer newTracer) {
        if (!vcpus.isEmpty()) {
            throw new TscvmException("set the tracer before creating vCPUs: " + vcpus.size() + " exist");
        }
        tracer = newTracer;
    }

    /** The tracer this VM's vCPUs record into, or null. */
    public Tracer tracer() {
        return tracer;
    }

    /** A2: the host's IA32_TSC_ADJUST. */
    public long hostTscAdjust() {
        return clock.tscAdjust();
    }

    /** The VM-wide synchronisation state of R10-R12 (generation, matched vCPUs), for inspection. */
    public TscSync tscSync() {
        return tscSync;
    }

    /** Guest physical RAM, shared by every vCPU (no TSC rule). */
    public GuestMemory memory() {
        return memory;
    }

    /** The port space; an OUT to one of its exit ports ends {@link Vcpu#run()} with an IoOut exit. */
    public PortIoBus ioBus() {
        return ioBus;
    }

    /** Physical addresses outside RAM, after each vCPU's interrupt controller page. */
    public MmioBus mmioBus() {
        return mmioBus;
    }

    /** The host clock all guest TSCs are built on (A2). */
    public HostClock clock() {
        return clock;
    }

    /** The configuration this VM was created from. */
    public VmConfig config() {
        return config;
    }
}

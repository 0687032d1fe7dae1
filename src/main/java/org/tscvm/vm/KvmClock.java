package org.tscvm.vm;

import java.lang.invoke.VarHandle;
import org.tscvm.TscvmException;
import org.tscvm.memory.GuestMemory;
import org.tscvm.tsc.HostClock;
import org.tscvm.tsc.PvclockScale;
import org.tscvm.tsc.TscMath;
import org.tscvm.tsc.TscState;
import org.tscvm.tsc.TscSync;

/**
 * kvmclock as KVM keeps it (tsc-semantics R20), and KVM's per-vCPU clock update that the
 * unstable-host catch-up rides on (R25). One per VM; each vCPU holds a {@link VcpuTime}.
 *
 * <ul>
 *   <li>The VM: kvmclock_offset (kvmclock starts at 0 when the VM is created), the wall-clock
 *       address, and the master clock (pvclock_update_vm_gtod_copy): with a stable host TSC
 *       and every vCPU in one TSC generation, one (host TSC, host ns) pair read at one instant
 *       feeds every vCPU's page, whose flags then carry {@link #PVCLOCK_TSC_STABLE_BIT}.</li>
 *   <li>A vCPU (kvm_guest_time_update): its L1 guest TSC at the host TSC of that pair (or now,
 *       without a master clock) as tsc_timestamp, host ns + kvmclock_offset as system_time,
 *       the TSC-to-ns scale of the host rate times the vCPU's ratio, written to the guest's
 *       structure with the odd/even version protocol.</li>
 *   <li>The MSRs (kvm_set_msr_common): MSR_KVM_SYSTEM_TIME(_NEW) holds the structure's address
 *       with bit 0 enabling it; MSR_KVM_WALL_CLOCK(_NEW) makes KVM write the wall clock at boot
 *       (host real time less kvmclock) once, there. They exist only when the CPUID model has
 *       {@code kvmclock} (KVM with KVM_CAP_ENFORCE_PV_FEATURE_CPUID); otherwise they are unknown
 *       MSRs (A4).</li>
 * </ul>
 *
 * <p>Updates are requested (KVM_REQ_CLOCK_UPDATE) and done by the vCPU itself before it runs
 * guest code again, so a vCPU's structure is written only by its own thread while it runs.
 * KVM's 100 ms delay before the other vCPUs follow a system-time write is not modelled: they
 * are asked at once.
 */
public final class KvmClock {
    /** The old MSRs (KVM_FEATURE_CLOCKSOURCE) and the new ones (KVM_FEATURE_CLOCKSOURCE2), Documentation/virt/kvm/msr.rst. */
    public static final int MSR_KVM_WALL_CLOCK = 0x11;
    public static final int MSR_KVM_SYSTEM_TIME = 0x12;
    public static final int MSR_KVM_WALL_CLOCK_NEW = 0x4b564d00;
    public static final int MSR_KVM_SYSTEM_TIME_NEW = 0x4b564d01;
    /** The four, in the order a snapshot saves them. */
    public static final int[] MSRS = {MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_WALL_CLOCK_NEW, MSR_KVM_SYSTEM_TIME,
            MSR_KVM_WALL_CLOCK};

    /** pvclock flags: every vCPU's kvmclock is one clock (master clock in use). */
    public static final int PVCLOCK_TSC_STABLE_BIT = 1;
    /** pvclock flags: set by the host for a stopped guest, kept across KVM's rewrites. */
    public static final int PVCLOCK_GUEST_STOPPED = 2;
    private static final int WALL_CLOCK_BYTES = 12;

    private final Vm vm;
    private final HostClock clock;
    private final TscSync sync;
    private final GuestMemory memory;
    /** Host CLOCK_REALTIME less the host's monotonic ns: fixed at creation, so real time never jumps. */
    private long kvmclockOffset;
    private long wallClockAddress;
    /** Written under the lock, read without it at every vCPU load. */
    private volatile boolean useMasterClock;
    private long masterHostTsc;
    private long masterHostNanos;
    private boolean bootVcpuRunsOldKvmclock;

    KvmClock(Vm vm, HostClock clock, TscSync sync, GuestMemory memory) {
        this.vm = vm;
        this.clock = clock;
        this.sync = sync;
        this.memory = memory;
        // kvm_arch_init_vm: kvmclock_offset = -get_kvmclock_base_ns(), kvmclock counts from VM creation.
        this.kvmclockOffset = -clock.nanosAt(clock.now());
    }

    /** The kvmclock MSR numbers (which a CPUID model without {@code kvmclock} does not have). */
    public static boolean isKvmClockMsr(int index) {
        return index == MSR_KVM_WALL_CLOCK || index == MSR_KVM_SYSTEM_TIME || index == MSR_KVM_WALL_CLOCK_NEW
                || index == MSR_KVM_SYSTEM_TIME_NEW;
    }

    /** The host's CLOCK_REALTIME in ns at host reading {@code hostTsc}. */
    public long realtimeNanosAt(long hostTsc) {
        return clock.realtimeNanosAt(hostTsc);
    }

    // ---------------------------------------------------------------- MSRs

    long readMsr(VcpuTime time, int index) {
        synchronized (this) {
            return index == MSR_KVM_WALL_CLOCK || index == MSR_KVM_WALL_CLOCK_NEW ? wallClockAddress : time.systemTimeMsr;
        }
    }

    /** kvm_write_wall_clock / kvm_write_system_time. Never refuses a value (KVM does not). */
    void writeMsr(Vcpu vcpu, int index, long value, MsrOrigin origin) {
        if (index == MSR_KVM_WALL_CLOCK || index == MSR_KVM_WALL_CLOCK_NEW) {
            writeWallClock(value);
            return;
        }
        boolean oldMsr = index == MSR_KVM_SYSTEM_TIME;
        VcpuTime time = vcpu.time();
        boolean masterUpdate = false;
        synchronized (this) {
            if (vcpu.id() == 0 && origin == MsrOrigin.GUEST) {
                // A boot vCPU on the old MSR cannot use the master clock (its guests do not read the flag).
                masterUpdate = bootVcpuRunsOldKvmclock != oldMsr;
                bootVcpuRunsOldKvmclock = oldMsr;
            }
            time.systemTimeMsr = value;
            long address = value & ~1L;
            time.enabled = (value & 1) != 0 && memory.isRam(address, PvclockTimeInfo.BYTES);
        }
        if (masterUpdate) {
            updateMasterClock();
        }
        requestUpdateAll(); // KVM_REQ_GLOBAL_CLOCK_UPDATE
        if (origin == MsrOrigin.GUEST) {
            updateGuestTime(vcpu); // done before the guest runs again
        }
    }

    /**
     * kvmclock_reset, part of kvm_vcpu_reset at RESET and INIT alike: the structure is no longer
     * written and MSR_KVM_SYSTEM_TIME(_NEW) reads 0 (a guest re-enables it after INIT, as Linux's
     * APs do when they come up).
     */
    void resetVcpu(VcpuTime time) {
        synchronized (this) {
            time.systemTimeMsr = 0;
            time.enabled = false;
        }
    }

    /** kvm_write_wall_clock: version odd, {sec, nsec} of boot real time, version even. */
    private void writeWallClock(long address) {
        long hostTsc = clock.now();
        long kvmclockNanos;
        synchronized (this) {
            wallClockAddress = address;
            if (address == 0 || !memory.isRam(address, WALL_CLOCK_BYTES)) {
                return;
            }
            kvmclockNanos = kvmclockNanosAt(hostTsc);
        }
        int version = memory.read32(address);
        if ((version & 1) != 0) {
            version++; // first time: random junk
        }
        version++;
        memory.write32(address, version);
        VarHandle.storeStoreFence();
        long wallNanos = realtimeNanosAt(hostTsc) - kvmclockNanos;
        memory.write32(address + 4, (int) Long.divideUnsigned(wallNanos, TscMath.NANOS_PER_SECOND)); // overflows in 2106
        memory.write32(address + 8, (int) Long.remainderUnsigned(wallNanos, TscMath.NANOS_PER_SECOND));
        VarHandle.storeStoreFence();
        memory.write32(address, version + 1);
    }

    // ---------------------------------------------------------------- the master clock

    /**
     * pvclock_update_vm_gtod_copy: the master clock is used when the host TSC is stable, every
     * online vCPU is in the current TSC generation and the boot vCPU does not run the old MSR;
     * its (host TSC, host ns) pair is read now. Then every vCPU is asked for a clock update.
     */
    void updateMasterClock() {
        synchronized (this) {
            boolean matched = sync.allMatched(vm.vcpuCount());
            long hostTsc = clock.now();
            masterHostTsc = hostTsc;
            masterHostNanos = clock.nanosAt(hostTsc);
            useMasterClock = !sync.hostTscUnstable() && matched && !bootVcpuRunsOldKvmclock;
        }
        requestUpdateAll();
    }

    /**
     * kvm_track_tsc_matching, after every TSC synchronisation (vCPU creation, a host TSC write,
     * the TSC-offset attribute): a master clock in use, or one every vCPU now matches, is updated.
     */
    void tscSynchronized() {
        boolean update;
        synchronized (this) {
            update = useMasterClock || (!sync.hostTscUnstable() && sync.allMatched(vm.vcpuCount()));
        }
        if (update) {
            updateMasterClock();
        }
    }

    /** Whether the master clock is in use (ka->use_master_clock). */
    public boolean usesMasterClock() {
        return useMasterClock;
    }

    private void requestUpdateAll() {
        for (Vcpu v : vm.vcpus()) {
            v.time().updateRequested = true;
        }
    }

    /**
     * The host's monotonic ns at {@code hostTsc} plus kvmclock's offset: VMware's "apparent
     * time" pseudo-PMC (KVM adds kvmclock_offset to the host's boot-time ns).
     */
    synchronized long apparentNanosAt(long hostTsc) {
        return clock.nanosAt(hostTsc) + kvmclockOffset;
    }

    /** kvmclock ns at host reading {@code hostTsc} (get_kvmclock_ns). Caller holds the lock. */
    private long kvmclockNanosAt(long hostTsc) {
        if (!useMasterClock) {
            return clock.nanosAt(hostTsc) + kvmclockOffset;
        }
        PvclockScale hostScale = PvclockScale.of(TscMath.NANOS_PER_SECOND, clock.khz() * 1000);
        return masterHostNanos + kvmclockOffset + hostScale.apply(hostTsc - masterHostTsc);
    }

    // ---------------------------------------------------------------- KVM_GET_CLOCK / KVM_SET_CLOCK

    /** KVM_GET_CLOCK (R20); see {@link Vm#getKvmClock()}. */
    synchronized KvmClockData get() {
        long hostTsc = clock.now();
        if (!useMasterClock) {
            return new KvmClockData(clock.nanosAt(hostTsc) + kvmclockOffset, 0, 0, 0);
        }
        // The host clocksource is tscvm's host clock, i.e. TSC-based: real time and host TSC come with it.
        return new KvmClockData(kvmclockNanosAt(hostTsc),
                KvmClockData.TSC_STABLE | KvmClockData.REALTIME | KvmClockData.HOST_TSC,
                realtimeNanosAt(hostTsc), hostTsc);
    }

    /** KVM_SET_CLOCK (R20); see {@link Vm#setKvmClock(KvmClockData)}. */
    void set(KvmClockData data) {
        if ((data.flags() & ~KvmClockData.VALID_FLAGS) != 0) {
            throw new TscvmException(String.format("KVM_SET_CLOCK flags 0x%x have bits outside 0x%x "
                    + "(TSC_STABLE, REALTIME, HOST_TSC)", data.flags(), KvmClockData.VALID_FLAGS));
        }
        updateMasterClock();
        synchronized (this) {
            long target = data.clock();
            long hostTsc = clock.now();
            if (data.has(KvmClockData.REALTIME)) {
                long nowReal = realtimeNanosAt(hostTsc);
                if (Long.compareUnsigned(nowReal, data.realtime()) > 0) {
                    target += nowReal - data.realtime(); // never steps kvmclock backwards
                }
            }
            long nowNanos = useMasterClock ? masterHostNanos : clock.nanosAt(hostTsc);
            kvmclockOffset = target - nowNanos;
        }
        requestUpdateAll();
    }

    // ---------------------------------------------------------------- per-vCPU time

    /**
     * kvm_arch_vcpu_load's time part, at each {@link Vcpu#run()} (a vCPU thread is not pinned, so
     * each load may be on another host CPU): a host TSC below the one at the last put marks the
     * host TSC unstable ("KVM discovered backwards TSC", R25); with an unstable host TSC the guest
     * TSC resumes at its last value and catch-up is switched on; without a master clock (or on the
     * first load) the clock is updated.
     */
    void vcpuLoad(Vcpu vcpu) {
        VcpuTime time = vcpu.time();
        long hostTsc = clock.now();
        if (time.lastHostTsc != 0 && hostTsc - time.lastHostTsc < 0) {
            sync.markHostTscUnstable();
        }
        TscState tsc = vcpu.tscState();
        if (sync.hostTscUnstable()) {
            tsc.writeL1Offset(tsc.l1OffsetFor(tsc.lastGuestTsc(), hostTsc));
            time.catchup = true;
            time.updateRequested = true;
            vcpu.guestTscChanged();
        }
        if (!usesMasterClock() || !time.loaded) {
            time.updateRequested = true;
        }
        time.loaded = true;
        if (time.updateRequested) {
            updateGuestTime(vcpu);
        }
    }

    /** kvm_arch_vcpu_put and the exit path: the host TSC, and the guest TSC as last seen (R25). */
    void vcpuPut(Vcpu vcpu) {
        long hostTsc = clock.now();
        vcpu.time().lastHostTsc = hostTsc;
        vcpu.tscState().recordLastGuestTsc(vcpu.tscState().l1GuestTsc(hostTsc));
    }

    /**
     * kvm_guest_time_update: refreshes the vCPU's pvclock structure (and, with catch-up on, moves
     * its TSC forward to where its generation says it should be, R25). Called on the vCPU's own
     * thread, or by the host while the vCPU does not run.
     */
    void updateGuestTime(Vcpu vcpu) {
        VcpuTime time = vcpu.time();
        time.updateRequested = false;
        TscState tsc = vcpu.tscState();
        long hostTsc;
        long hostNanos;
        boolean master;
        long offset;
        synchronized (this) {
            master = useMasterClock;
            hostTsc = master ? masterHostTsc : clock.now();
            hostNanos = master ? masterHostNanos : clock.nanosAt(hostTsc);
            offset = kvmclockOffset;
        }
        long tscTimestamp = tsc.l1GuestTsc(hostTsc);
        if (time.catchup) {
            long caughtUp = tsc.extrapolatedGuestTsc(hostNanos);
            if (Long.compareUnsigned(caughtUp, tscTimestamp) > 0) {
                tsc.writeL1Offset(tsc.l1Offset() + (caughtUp - tscTimestamp));
                tscTimestamp = caughtUp;
                vcpu.guestTscChanged();
            }
        }
        // The TSC rate the guest sees: the host's kHz through the vCPU's ratio (kvm_scale_tsc of the kHz).
        long targetKhz = TscMath.scale(clock.khz(), tsc.l1Ratio());
        if (targetKhz != time.scaleKhz) {
            time.scale = targetKhz == 0 ? new PvclockScale(0, 0) : PvclockScale.of(TscMath.NANOS_PER_SECOND, targetKhz * 1000);
            time.scaleKhz = targetKhz;
        }
        time.tscTimestamp = tscTimestamp;
        time.systemTime = hostNanos + offset;
        tsc.recordLastGuestTsc(tscTimestamp);
        time.flags = master ? PVCLOCK_TSC_STABLE_BIT : 0;
        if (time.enabled) {
            writeTimeInfo(time.systemTimeMsr & ~1L, time);
        }
    }

    /** kvm_setup_pvclock_page: version made odd, the structure, version made even. */
    private void writeTimeInfo(long address, VcpuTime time) {
        int guestVersion = memory.read32(address + PvclockTimeInfo.VERSION);
        int guestFlags = memory.read8(address + PvclockTimeInfo.FLAGS);
        if ((guestVersion & 1) != 0) {
            guestVersion++; // first time: random junk
        }
        time.version = guestVersion + 1;
        memory.write32(address + PvclockTimeInfo.VERSION, time.version);
        VarHandle.storeStoreFence();
        time.flags |= guestFlags & PVCLOCK_GUEST_STOPPED;
        memory.write64(address + PvclockTimeInfo.TSC_TIMESTAMP, time.tscTimestamp);
        memory.write64(address + PvclockTimeInfo.SYSTEM_TIME, time.systemTime);
        memory.write32(address + PvclockTimeInfo.TSC_TO_SYSTEM_MUL, (int) time.scale.multiplier());
        memory.write8(address + PvclockTimeInfo.TSC_SHIFT, time.scale.shift());
        memory.write8(address + PvclockTimeInfo.FLAGS, time.flags);
        VarHandle.storeStoreFence();
        time.version++;
        memory.write32(address + PvclockTimeInfo.VERSION, time.version);
    }

    /**
     * One vCPU's kvmclock state (vcpu->arch.time, pv_time_enabled, hv_clock, hw_tsc_khz,
     * tsc_catchup, last_host_tsc). Owned by the vCPU; {@link #updateRequested} is set from any thread.
     */
    static final class VcpuTime {
        volatile boolean updateRequested;
        long systemTimeMsr;
        boolean enabled;
        boolean catchup;
        boolean loaded;
        long lastHostTsc;
        long scaleKhz = -1;
        PvclockScale scale = new PvclockScale(0, 0);
        int version;
        long tscTimestamp;
        long systemTime;
        int flags;

        PvclockTimeInfo info() {
            return new PvclockTimeInfo(version, tscTimestamp, systemTime, (int) scale.multiplier(), scale.shift(), flags);
        }
    }
}

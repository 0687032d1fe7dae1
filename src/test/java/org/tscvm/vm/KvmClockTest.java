package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tscvm.TscvmException;
import org.tscvm.cpu.CpuBus;
import org.tscvm.cpu.CpuFault;
import org.tscvm.cpu.Msr;
import org.tscvm.memory.GuestMemory;
import org.tscvm.tsc.DeterministicHostClock;
import org.tscvm.tsc.PvclockScale;

/** kvmclock as KVM gives it (tsc-semantics R20), on a deterministic 2.5 GHz host clock. */
class KvmClockTest {
    private static final String KVMCLOCK = "tscvm,+kvmclock,+kvmclock-stable-bit";
    private static final long PAGE = 0x3000;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    private static final long KHZ = 2_500_000;
    private static final long ONE_SECOND = KHZ * 1000;

    private final TestVms t = TestVms.create(VmConfig.builder().cpuid(CpuidModel.parse(KVMCLOCK)));
    private final GuestMemory memory = t.vm.memory();

    private static long realtimeAt(long hostNanos) {
        return DeterministicHostClock.EPOCH_SECONDS * NANOS_PER_SECOND + hostNanos;
    }

    private PvclockTimeInfo readPage(long address) {
        return new PvclockTimeInfo(memory.read32(address), memory.read64(address + 8), memory.read64(address + 16),
                memory.read32(address + 24), (byte) memory.read8(address + 28), memory.read8(address + 29));
    }


    @Test
    void theMsrsAreUnknownWithoutTheCpuidBitA4R20() {
        TestVms plain = TestVms.create();
        Vcpu vcpu = plain.vm.createVcpu();
        for (int msr : KvmClock.MSRS) {
            assertThatThrownBy(() -> vcpu.guest().wrmsr(msr, PAGE | 1)).isInstanceOf(CpuFault.class);
            assertThatThrownBy(() -> vcpu.guest().rdmsr(msr)).isInstanceOf(CpuFault.class);
            assertThatThrownBy(() -> vcpu.getMsr(msr)).isInstanceOf(UnknownMsrException.class);
        }
    }

    @Test
    void aGuestSystemTimeWriteFillsThePvclockStructureWithTheOddEvenProtocolR20() {
        Vcpu vcpu = t.vm.createVcpu();
        assertThat(t.vm.kvmClock().usesMasterClock()).isTrue(); // one vCPU: all in one generation
        memory.write32(PAGE, 7);                          // odd junk: KVM makes it even first
        memory.write8(PAGE + 29, KvmClock.PVCLOCK_GUEST_STOPPED); // the guest's stopped flag survives
        t.clock.advance(ONE_SECOND);
        vcpu.guest().wrmsr(KvmClock.MSR_KVM_SYSTEM_TIME_NEW, PAGE | 1);
        assertThat(vcpu.guest().rdmsr(KvmClock.MSR_KVM_SYSTEM_TIME_NEW)).isEqualTo(PAGE | 1);
        PvclockTimeInfo page = readPage(PAGE);
        assertThat(page.version()).isEqualTo(10); // 7 -> 8, then odd 9 while writing, even 10 after
        assertThat(page.flags()).isEqualTo(KvmClock.PVCLOCK_TSC_STABLE_BIT | KvmClock.PVCLOCK_GUEST_STOPPED);
        assertThat(page.tscToSystemMul()).isEqualTo(0xcccccccc); // 2.5 GHz: (tsc >> 1) * 0.8
        assertThat(page.tscShift()).isEqualTo(-1);
        // The master clock was read when the vCPU was created: guest TSC 0, kvmclock 0.
        assertThat(page.tscTimestamp()).isZero();
        assertThat(page.systemTime()).isZero();
        assertThat(page).isEqualTo(vcpu.getPvclockTimeInfo());
        // What the guest reads one second on is what KVM_GET_CLOCK says.
        long guestTsc = vcpu.guest().rdtsc();
        assertThat(guestTsc).isEqualTo(ONE_SECOND);
        assertThat(page.nanosAt(guestTsc)).isEqualTo(t.vm.getKvmClock().clock()).isEqualTo(999_999_999);
    }

    @Test
    void aStructureOutsideRamIsNotWrittenButTheMsrKeepsItsValueR20() {
        Vcpu vcpu = t.vm.createVcpu();
        long outside = memory.size() - 16;
        vcpu.guest().wrmsr(KvmClock.MSR_KVM_SYSTEM_TIME_NEW, outside | 1);
        assertThat(vcpu.getMsr(KvmClock.MSR_KVM_SYSTEM_TIME_NEW)).isEqualTo(outside | 1);
        assertThat(memory.read64(outside)).isZero();
        vcpu.guest().wrmsr(KvmClock.MSR_KVM_SYSTEM_TIME, PAGE); // bit 0 clear: disabled
        assertThat(memory.read32(PAGE)).isZero();
    }

    @Test
    void theMasterClockNeedsEveryVcpuInOneTscGenerationR10R20() {
        Vcpu a = t.vm.createVcpu();
        Vcpu b = t.vm.createVcpu();
        assertThat(t.vm.kvmClock().usesMasterClock()).isTrue();
        assertThat(t.vm.getKvmClock().flags())
                .isEqualTo(KvmClockData.TSC_STABLE | KvmClockData.REALTIME | KvmClockData.HOST_TSC);
        b.setMsr(Msr.IA32_TSC, 1L << 40); // far from a's TSC: a new generation that a is not in
        assertThat(t.vm.kvmClock().usesMasterClock()).isFalse();
        KvmClockData unstable = t.vm.getKvmClock();
        assertThat(unstable.flags()).isZero();
        assertThat(unstable.hostTsc()).isZero();
        b.guest().wrmsr(KvmClock.MSR_KVM_SYSTEM_TIME_NEW, PAGE | 1);
        assertThat(readPage(PAGE).flags() & KvmClock.PVCLOCK_TSC_STABLE_BIT).isZero();
        // R19's way back: one offset on every vCPU through the attribute, one generation again.
        long offset = a.getTscOffset();
        b.setTscOffset(offset);
        a.setTscOffset(offset);
        assertThat(t.vm.kvmClock().usesMasterClock()).isTrue();
        TestVms.runOnce(b);
        assertThat(readPage(PAGE).flags() & KvmClock.PVCLOCK_TSC_STABLE_BIT).isEqualTo(KvmClock.PVCLOCK_TSC_STABLE_BIT);
    }

    @Test
    void getClockReadsKvmclockRealTimeAndTheHostTscAtOneInstantR20() {
        t.vm.createVcpu();
        long created = t.clock.now();
        t.clock.advance(3 * ONE_SECOND);
        KvmClockData data = t.vm.getKvmClock();
        assertThat(data.hostTsc()).isEqualTo(t.clock.now());
        assertThat(data.clock()).isEqualTo(new PvclockScale(0xccccccccL, -1).apply(t.clock.now() - created));
        assertThat(data.realtime()).isEqualTo(realtimeAt(t.clock.nanosAt(t.clock.now())));
    }

    @Test
    void setClockMovesKvmclockAndNothingElseR20() {
        Vcpu vcpu = t.vm.createVcpu();
        long offset = vcpu.getTscOffset();
        t.vm.setKvmClock(KvmClockData.of(5 * NANOS_PER_SECOND));
        assertThat(t.vm.getKvmClock().clock()).isEqualTo(5 * NANOS_PER_SECOND);
        t.clock.advance(ONE_SECOND);
        assertThat(t.vm.getKvmClock().clock()).isEqualTo(6 * NANOS_PER_SECOND - 1); // the pvclock scale rounds down
        assertThat(vcpu.getTscOffset()).isEqualTo(offset);
        // With REALTIME, the real time since then is added; never subtracted.
        long now = t.vm.getKvmClock().realtime();
        t.vm.setKvmClock(KvmClockData.atRealtime(NANOS_PER_SECOND, now - 2 * NANOS_PER_SECOND));
        assertThat(t.vm.getKvmClock().clock()).isEqualTo(3 * NANOS_PER_SECOND);
        t.vm.setKvmClock(KvmClockData.atRealtime(NANOS_PER_SECOND, now + 60 * NANOS_PER_SECOND));
        assertThat(t.vm.getKvmClock().clock()).isEqualTo(NANOS_PER_SECOND);
        assertThatThrownBy(() -> t.vm.setKvmClock(new KvmClockData(0, 1, 0, 0)))
                .isInstanceOf(TscvmException.class).hasMessageContaining("0x1");
    }

    @Test
    void setClockReachesEveryVcpusStructureBeforeItRunsAgainR20() {
        Vcpu vcpu = t.vm.createVcpu();
        vcpu.guest().wrmsr(KvmClock.MSR_KVM_SYSTEM_TIME_NEW, PAGE | 1);
        t.vm.setKvmClock(KvmClockData.of(42 * NANOS_PER_SECOND));
        assertThat(readPage(PAGE).systemTime()).isZero(); // requested, not yet done
        TestVms.runOnce(vcpu);
        PvclockTimeInfo page = readPage(PAGE);
        assertThat(page.nanosAt(vcpu.guest().rdtsc())).isEqualTo(42 * NANOS_PER_SECOND);
        assertThat(page.version() & 1).isZero();
    }

    @Test
    void theWallClockIsRealTimeLessKvmclockAtTheWriteR20() {
        Vcpu vcpu = t.vm.createVcpu();
        long created = t.clock.now();
        t.clock.advance(7 * ONE_SECOND + 12_345);
        vcpu.guest().wrmsr(KvmClock.MSR_KVM_WALL_CLOCK_NEW, PAGE);
        assertThat(vcpu.getMsr(KvmClock.MSR_KVM_WALL_CLOCK_NEW)).isEqualTo(PAGE);
        assertThat(memory.read32(PAGE)).isEqualTo(2);
        long kvmclock = new PvclockScale(0xccccccccL, -1).apply(t.clock.now() - created);
        long wall = (memory.read32(PAGE + 4) & 0xffffffffL) * NANOS_PER_SECOND + memory.read32(PAGE + 8);
        assertThat(wall).isEqualTo(realtimeAt(t.clock.nanosAt(t.clock.now())) - kvmclock);
        // kvmclock's fixed point loses 3 ns in 7 s, so the boot time reads that much later than creation.
        assertThat(wall - realtimeAt(t.clock.nanosAt(created))).isEqualTo(3);
    }

    @Test
    void aGuestTscAdjustWriteRefreshesTheStructureSoKvmclockDoesNotJumpR6R20() {
        Vcpu vcpu = t.vm.createVcpu();
        CpuBus guest = vcpu.guest();
        guest.wrmsr(KvmClock.MSR_KVM_SYSTEM_TIME_NEW, PAGE | 1);
        t.clock.advance(ONE_SECOND);
        long before = readPage(PAGE).nanosAt(guest.rdtsc());
        guest.wrmsr(Msr.IA32_TSC_ADJUST, 1L << 40);
        PvclockTimeInfo page = readPage(PAGE);
        assertThat(page.tscTimestamp()).isEqualTo(1L << 40);
        assertThat(page.nanosAt(guest.rdtsc())).isEqualTo(before);
    }

    /**
     * R19's migration recipe (Documentation/virt/kvm/devices/vcpu.rst) written against the Java
     * API: KVM_GET_CLOCK and each vCPU's TSC offset on the source; KVM_SET_CLOCK with REALTIME,
     * KVM_GET_CLOCK and the offsets on the destination. The destination's host clock starts
     * elsewhere and has its own TSC_ADJUST; 3 s of real time pass in between.
     */
    @Test
    void kvmsMigrationRecipeKeepsTheGuestTscAndKvmclockInStepR19R20() {
        Vcpu a = t.vm.createVcpu();
        Vcpu b = t.vm.createVcpu();
        t.clock.advance(10 * ONE_SECOND);
        a.guest().wrmsr(Msr.IA32_TSC_ADJUST, 123_456_789); // guest time state the offsets carry (R24)
        b.guest().wrmsr(Msr.IA32_TSC_ADJUST, 123_456_789);
        KvmClockData source = t.vm.getKvmClock();
        long[] sourceOffsets = {a.getTscOffset(), b.getTscOffset()};
        long[] sourceTscs = {a.getMsr(Msr.IA32_TSC), b.getMsr(Msr.IA32_TSC)};
        long freq = a.getTscKhz();

        DeterministicHostClock destinationClock = new DeterministicHostClock();
        long downtime = 3 * NANOS_PER_SECOND;
        // The destination host's clock is 3 s of real time ahead of the source's.
        destinationClock.advanceTo(t.clock.now() + 3 * ONE_SECOND);
        Vm destination = Vm.create(VmConfig.builder().hostClock(destinationClock).ramBytes(4L << 20)
                .hostTscAdjust(-987_654_321).cpuid(CpuidModel.parse(KVMCLOCK)).build());
        Vcpu[] vcpus = {destination.createVcpu(), destination.createVcpu()};

        destination.setKvmClock(KvmClockData.atRealtime(source.clock(), source.realtime()));
        KvmClockData target = destination.getKvmClock();
        assertThat(target.clock() - source.clock()).isEqualTo(downtime);
        for (int i = 0; i < 2; i++) {
            long offset = sourceOffsets[i] - (source.clock() - target.clock()) * freq / 1_000_000
                    + (source.hostTsc() - target.hostTsc());
            vcpus[i].setTscOffset(offset);
        }
        long cyclesOfDowntime = downtime * freq / 1_000_000;
        for (int i = 0; i < 2; i++) {
            assertThat(vcpus[i].guestTscAt(target.hostTsc())).isEqualTo(sourceTscs[i] + cyclesOfDowntime);
        }
        assertThat(destination.kvmClock().usesMasterClock()).as("one offset, one generation").isTrue();
        // The guest's kvmclock on the destination continues from the source's plus the downtime.
        vcpus[0].guest().wrmsr(KvmClock.MSR_KVM_SYSTEM_TIME_NEW, PAGE | 1);
        PvclockTimeInfo page = new PvclockTimeInfo(destination.memory().read32(PAGE),
                destination.memory().read64(PAGE + 8), destination.memory().read64(PAGE + 16),
                destination.memory().read32(PAGE + 24), (byte) destination.memory().read8(PAGE + 28), 0);
        assertThat(page.nanosAt(vcpus[0].guest().rdtsc())).isBetween(target.clock() - 1, target.clock() + 1);
    }

    /** The vCPU's saved MSRs carry kvmclock's where the model has it, so a restored guest keeps its structure. */
    @Test
    void aSavedVcpuStateCarriesTheKvmclockMsrsAndTheRestoredVcpuWritesTheStructureR20() {
        assertThat(TestVms.create().vm.createVcpu().msrIndexList()).doesNotContain(KvmClock.MSR_KVM_SYSTEM_TIME_NEW,
                KvmClock.MSR_KVM_WALL_CLOCK_NEW, KvmClock.MSR_KVM_SYSTEM_TIME, KvmClock.MSR_KVM_WALL_CLOCK);
        Vcpu source = t.vm.createVcpu();
        assertThat(source.msrIndexList()).contains(KvmClock.MSR_KVM_SYSTEM_TIME_NEW, KvmClock.MSR_KVM_WALL_CLOCK_NEW,
                KvmClock.MSR_KVM_SYSTEM_TIME, KvmClock.MSR_KVM_WALL_CLOCK);
        source.guest().wrmsr(KvmClock.MSR_KVM_SYSTEM_TIME_NEW, PAGE | 1);
        VcpuState saved = source.saveState();
        assertThat(saved.msrs().value(KvmClock.MSR_KVM_SYSTEM_TIME_NEW)).hasValue(PAGE | 1);

        TestVms destination = TestVms.create(VmConfig.builder().cpuid(CpuidModel.parse(KVMCLOCK)));
        Vcpu target = destination.vm.createVcpu();
        target.restoreState(saved);
        assertThat(target.getMsr(KvmClock.MSR_KVM_SYSTEM_TIME_NEW)).isEqualTo(PAGE | 1);
        destination.clock.advance(ONE_SECOND);
        TestVms.runOnce(target);
        GuestMemory memory = destination.vm.memory();
        assertThat(memory.read32(PAGE)).isEqualTo(2);
        assertThat(memory.read64(PAGE + 16)).as("system_time").isEqualTo(target.getPvclockTimeInfo().systemTime());
    }

    /** The scale is the host kHz through the vCPU's ratio (kvm_scale_tsc of the kHz), as Linux reads it back. */
    @Test
    void theStructuresScaleFollowsTheVcpusTscRateR14R20() {
        Vcpu vcpu = t.vm.createVcpu();
        vcpu.guest().wrmsr(KvmClock.MSR_KVM_SYSTEM_TIME_NEW, PAGE | 1);
        vcpu.setTscKhz(1_000_000); // ratio floor(0.4 * 2^48): 2,500,000 kHz scaled is 999,999 kHz
        TestVms.runOnce(vcpu);
        PvclockScale expected = PvclockScale.of(NANOS_PER_SECOND, 999_999_000L);
        PvclockTimeInfo page = readPage(PAGE);
        assertThat(page.tscToSystemMul() & 0xffffffffL).isEqualTo(expected.multiplier());
        assertThat(page.tscShift()).isEqualTo(expected.shift());
    }

    /** kvm_vcpu_reset's kvmclock_reset, at INIT as at RESET: the structure is no longer written. */
    @Test
    void initAndResetTurnTheVcpusKvmclockOffR20() {
        Vcpu vcpu = t.vm.createVcpu();
        vcpu.guest().wrmsr(KvmClock.MSR_KVM_SYSTEM_TIME_NEW, PAGE | 1);
        vcpu.deliverInit();
        vcpu.takeSignals();
        assertThat(vcpu.getMsr(KvmClock.MSR_KVM_SYSTEM_TIME_NEW)).isZero();
        int version = memory.read32(PAGE);
        vcpu.guest().wrmsr(Msr.IA32_TSC_ADJUST, 1); // a clock update: nothing written now
        assertThat(memory.read32(PAGE)).isEqualTo(version);
        vcpu.guest().wrmsr(KvmClock.MSR_KVM_SYSTEM_TIME, PAGE | 1);
        vcpu.reset();
        assertThat(vcpu.getMsr(KvmClock.MSR_KVM_SYSTEM_TIME)).isZero();
    }
}

package org.tscvm.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tscvm.cpu.Msr;
import org.tscvm.devices.LocalApic;
import org.tscvm.machine.Machine;
import org.tscvm.machine.MachineConfig;
import org.tscvm.snapshot.SnapshotException.Kind;
import org.tscvm.tsc.TscMath;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VmConfig;

/**
 * Time across a save and a restore on the real-time clock (tsc-semantics A7, R17, R19): the
 * guest TSC continues from its saved value plus the wall-clock downtime (or none, as if
 * paused), at the guest's rate even on a host clock of another rate and adjust; vCPUs that
 * shared one offset share one again; TSC_ADJUST and TSC_AUX survive; an armed TSC deadline the
 * downtime passed fires at once.
 */
class TimeOnRestoreTest {
    private static final long KHZ = 2_500_000;
    private static final long NANOS_PER_MILLI = 1_000_000;

    private static MachineConfig.Builder realTime(int smp) {
        return Guests.deterministic("apic_timer", smp, new ByteArrayOutputStream())
                .clock(VmConfig.ClockKind.REAL_TIME);
    }

    private static MachineState roundTrip(Machine m) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        MachineSnapshot.write(m, out);
        return MachineSnapshot.read(new ByteArrayInputStream(out.toByteArray()));
    }

    private static long guestTscNow(Machine m, int vcpu) {
        return m.vm().vcpus().get(vcpu).getMsr(Msr.IA32_TSC);
    }

    @Test
    void theWallClockDowntimeIsCountedAtTheGuestsRate() throws Exception {
        Machine saved = new Machine(realTime(1).build());
        long savedAt = System.nanoTime();
        MachineState state = roundTrip(saved);
        long afterSave = System.nanoTime();
        Thread.sleep(300);
        Machine restored = new Machine(realTime(1).build());
        long beforeRestore = System.nanoTime();
        MachineSnapshot.restore(restored, state, RestoreTime.WALL_CLOCK);
        long tsc = guestTscNow(restored, 0);
        long afterRead = System.nanoTime();

        long advanced = tsc - state.time().tsc().vcpus().get(0).guestTsc();
        // At least the time between the end of the save and the start of the restore, at most the
        // time from the start of the save to the read (and a millisecond for the wall clock's grain).
        assertThat(advanced).isGreaterThanOrEqualTo(TscMath.nanosToCycles(beforeRestore - afterSave - NANOS_PER_MILLI, KHZ))
                .isLessThanOrEqualTo(TscMath.nanosToCycles(afterRead - savedAt + NANOS_PER_MILLI, KHZ));
        assertThat(advanced).isGreaterThan(TscMath.nanosToCycles(300 * NANOS_PER_MILLI, KHZ));
    }

    @Test
    void asIfPausedTheGuestTscContinuesFromTheSavedValue() throws Exception {
        Machine saved = new Machine(realTime(1).build());
        MachineState state = roundTrip(saved);
        Thread.sleep(300);
        Machine restored = new Machine(realTime(1).build());
        long beforeRestore = System.nanoTime();
        MachineSnapshot.restore(restored, state, RestoreTime.PAUSED);
        long tsc = guestTscNow(restored, 0);
        long afterRead = System.nanoTime();

        long advanced = tsc - state.time().tsc().vcpus().get(0).guestTsc();
        assertThat(advanced).isNotNegative()
                .isLessThanOrEqualTo(TscMath.nanosToCycles(afterRead - beforeRestore, KHZ));
    }

    @Test
    void onAHostClockOfAnotherRateAndAdjustTheGuestKeepsItsRate() throws Exception {
        Machine saved = new Machine(realTime(1).build());
        MachineState state = roundTrip(saved);
        Machine restored = new Machine(realTime(1).hostKhz(3_000_000).hostTscAdjust(123_456_789_000L).build());
        MachineSnapshot.restore(restored, state, RestoreTime.PAUSED);
        Vcpu vcpu = restored.vm().vcpus().get(0);
        assertThat(vcpu.getTscKhz()).isEqualTo(KHZ);

        long t0 = System.nanoTime();
        long tsc0 = guestTscNow(restored, 0);
        Thread.sleep(200);
        long tsc1 = guestTscNow(restored, 0);
        long t1 = System.nanoTime();
        assertThat(tsc0).isGreaterThanOrEqualTo(state.time().tsc().vcpus().get(0).guestTsc());
        double measuredKhz = (tsc1 - tsc0) * 1e6 / (t1 - t0);
        assertThat(measuredKhz).isBetween(KHZ * 0.97, KHZ * 1.001);
    }

    @Test
    void vcpusThatSharedOneOffsetShareOneAgainAndTscAdjustAndAuxSurvive() throws Exception {
        Machine saved = new Machine(realTime(3).tscWarps(List.of(new MachineConfig.VcpuValue(2, 5_000_000_000L)))
                .build());
        List<Vcpu> before = saved.vm().vcpus();
        assertThat(before.get(0).getTscOffset()).isEqualTo(before.get(1).getTscOffset());
        before.get(1).setMsr(Msr.IA32_TSC_ADJUST, 777);
        before.get(1).setMsr(Msr.IA32_TSC_AUX, 0x1234);
        MachineState state = roundTrip(saved);

        Machine restored = new Machine(realTime(3).hostKhz(2_000_000).build());
        MachineSnapshot.restore(restored, state, RestoreTime.WALL_CLOCK);
        List<Vcpu> after = restored.vm().vcpus();
        assertThat(after.get(0).getTscOffset()).isEqualTo(after.get(1).getTscOffset());
        assertThat(after.get(0).tscGeneration()).isEqualTo(after.get(1).tscGeneration());
        // The vCPU that was 5e9 cycles ahead is still exactly that far ahead, at one host instant.
        long host = restored.vm().clock().now();
        assertThat(after.get(2).guestTscAt(host) - after.get(0).guestTscAt(host))
                .isEqualTo(state.time().tsc().vcpus().get(2).guestTsc() - state.time().tsc().vcpus().get(0).guestTsc());
        assertThat(after.get(1).getMsr(Msr.IA32_TSC_ADJUST)).isEqualTo(777);
        assertThat(after.get(1).getMsr(Msr.IA32_TSC_AUX)).isEqualTo(0x1234);
        assertThat(after.get(0).getMsr(Msr.IA32_TSC_ADJUST)).isZero();
    }

    @Test
    void anArmedTscDeadlineThatTheDowntimePassedFiresAtOnce() throws Exception {
        Machine saved = new Machine(realTime(1).build());
        int vector = 0x51;
        armDeadline(saved, vector, 50);
        MachineState state = roundTrip(saved);
        Thread.sleep(200);

        Machine restored = new Machine(realTime(1).build());
        MachineSnapshot.restore(restored, state, RestoreTime.WALL_CLOCK);
        LocalApic apic = restored.apic(0);
        long now = restored.vm().clock().now();
        assertThat(restored.vm().vcpus().get(0).getMsr(Msr.IA32_TSC_DEADLINE))
                .isEqualTo(state.time().tsc().vcpus().get(0).tscDeadline()).isNotZero();
        assertThat(apic.nextEventHostTsc()).isLessThanOrEqualTo(now);
        apic.onTime(now);
        assertThat(apic.pendingInterrupt()).isEqualTo(vector);
    }

    @Test
    void asIfPausedAnArmedTscDeadlineStillLiesAheadByWhatWasLeft() throws Exception {
        Machine saved = new Machine(realTime(1).build());
        armDeadline(saved, 0x52, 50);
        MachineState state = roundTrip(saved);
        Thread.sleep(100);

        Machine restored = new Machine(realTime(1).build());
        MachineSnapshot.restore(restored, state, RestoreTime.PAUSED);
        long now = restored.vm().clock().now();
        long ahead = restored.apic(0).nextEventHostTsc() - now;
        assertThat(ahead).isPositive().isLessThanOrEqualTo(TscMath.nanosToCycles(50 * NANOS_PER_MILLI, KHZ));
        restored.apic(0).onTime(now);
        assertThat(restored.apic(0).pendingInterrupt()).isNegative();
    }

    /** Enables the APIC, puts its timer in TSC-deadline mode with {@code vector}, and arms it {@code millis} ahead. */
    private static void armDeadline(Machine m, int vector, long millis) {
        LocalApic apic = m.apic(0);
        apic.writeMmio(LocalApic.DEFAULT_BASE + LocalApic.REG_SVR, 4, 0x1ff);
        apic.writeMmio(LocalApic.DEFAULT_BASE + LocalApic.REG_LVT_TIMER, 4,
                vector | (LocalApic.TIMER_TSC_DEADLINE << 17));
        Vcpu vcpu = m.vm().vcpus().get(0);
        vcpu.setMsr(Msr.IA32_TSC_DEADLINE, vcpu.getMsr(Msr.IA32_TSC) + TscMath.nanosToCycles(millis * NANOS_PER_MILLI, KHZ));
    }

    @Test
    void aSnapshotOfAnotherConfigurationIsRefusedNamingEachField() throws Exception {
        MachineState state = roundTrip(new Machine(realTime(1).build()));
        assertThatThrownBy(() -> MachineSnapshot.check(state, realTime(2).ramBytes(64L << 20).cpuModel("tscvm,+rdpid")
                .vmwareBackdoor(true).build())).isInstanceOfSatisfying(SnapshotException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.CONFIG_MISMATCH);
                    assertThat(e.getMessage()).contains("smp is 1 in the snapshot but 2 here")
                            .contains("ram-bytes is 33554432 in the snapshot but 67108864 here")
                            .contains("cpu is tscvm in the snapshot but tscvm,+rdpid here")
                            .contains("vmport is not in the snapshot but is on here");
                });
        // What may differ does not count: the host clock's rate, source and adjust, the guest's kHz.
        MachineSnapshot.check(state, realTime(1).hostKhz(1_000_000).hostTscAdjust(5).tscKhz(1_000_000)
                .clock(VmConfig.ClockKind.DETERMINISTIC).build());
    }

    @Test
    void aRefusedRestoreLeavesTheMachineAsItWas() throws Exception {
        Machine source = new Machine(realTime(1).hostKhz(100_000_000).build());
        source.vm().memory().write64(0x200000, 0x1122334455667788L);
        MachineState state = roundTrip(source);
        // A 1 MHz host clock cannot scale up to the saved 100 GHz guest (R15's ratio limit, 2^16).
        Machine target = new Machine(realTime(1).hostKhz(1_000).build());
        long tscBefore = target.vm().vcpus().get(0).getTscOffset();
        long ripBefore = target.vm().vcpus().get(0).getRegs().rip();
        assertThatThrownBy(() -> MachineSnapshot.restore(target, state, RestoreTime.PAUSED))
                .isInstanceOfSatisfying(SnapshotException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.CONFIG_MISMATCH);
                    assertThat(e.section()).isEqualTo("time");
                });
        assertThat(target.vm().memory().read64(0x200000)).isZero();
        assertThat(target.vm().vcpus().get(0).getTscOffset()).isEqualTo(tscBefore);
        assertThat(target.vm().vcpus().get(0).getRegs().rip()).isEqualTo(ripBefore);
    }
}

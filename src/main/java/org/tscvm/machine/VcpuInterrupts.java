package org.tscvm.machine;

import org.tscvm.devices.LocalApic;
import org.tscvm.devices.Pit8254;
import org.tscvm.tsc.HostClock;
import org.tscvm.vm.LocalInterruptController;
import org.tscvm.vm.MsrOrigin;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VcpuLapic;

/**
 * What the machine attaches to each vCPU as its interrupt controller: the vCPU's local APIC,
 * plus the events the vCPU's run loop must also time. On the BSP that is the PIT's counter 0
 * (the run loop is the only thing that fires timers, and IRQ 0 must reach the BSP on time in
 * either clock mode). In deterministic SMP mode it is also the end of the vCPU's quantum,
 * which pauses the vCPU so the next one runs (the round-robin that makes a run repeat).
 */
final class VcpuInterrupts implements LocalInterruptController {
    private final LocalApic apic;
    private final Pit8254 pit;
    private final HostClock clock;
    private final DeviceTime deviceTime;
    private final Vcpu vcpu;
    /** Host-clock reading at which the vCPU's quantum ends; Long.MAX_VALUE: no quanta. */
    private volatile long quantumEnd = Long.MAX_VALUE;

    VcpuInterrupts(LocalApic apic, Pit8254 pit, HostClock clock, DeviceTime deviceTime, Vcpu vcpu) {
        this.apic = apic;
        this.pit = pit;
        this.clock = clock;
        this.deviceTime = deviceTime;
        this.vcpu = vcpu;
    }

    void startQuantum(long ticks) {
        quantumEnd = clock.now() + ticks;
    }

    @Override
    public boolean handlesMsr(int index) {
        return apic.handlesMsr(index);
    }

    @Override
    public long readMsr(int index, MsrOrigin origin) {
        return apic.readMsr(index, origin);
    }

    @Override
    public void writeMsr(int index, long value, MsrOrigin origin) {
        apic.writeMsr(index, value, origin);
    }

    @Override
    public boolean claimsMmio(long paddr) {
        return apic.claimsMmio(paddr);
    }

    @Override
    public long readMmio(long paddr, int size) {
        return apic.readMmio(paddr, size);
    }

    @Override
    public void writeMmio(long paddr, int size, long value) {
        apic.writeMmio(paddr, size, value);
    }

    @Override
    public void performanceCounterOverflow() {
        apic.performanceCounterOverflow();
    }

    @Override
    public int pendingInterrupt() {
        return apic.pendingInterrupt();
    }

    @Override
    public int acknowledgeInterrupt() {
        int vector = apic.acknowledgeInterrupt();
        if (pit != null && vector >= 0) {
            pit.interruptTaken(); // an owed tick follows at once (lost_tick_policy=delay)
        }
        return vector;
    }

    @Override
    public long nextEventHostTsc() {
        return Math.min(nextTimerHostTsc(), quantumEnd);
    }

    /** The next timer this vCPU fires (its APIC's, the PIT on the BSP), the quantum aside. */
    long nextTimerHostTsc() {
        long next = apic.nextEventHostTsc();
        if (pit != null) {
            long pitNanos = pit.nextEventNanos();
            if (pitNanos != Long.MAX_VALUE) {
                next = Math.min(next, deviceTime.hostTscAt(pitNanos));
            }
        }
        return next;
    }

    @Override
    public void onTime(long hostTsc) {
        if (hostTsc >= apic.nextEventHostTsc()) {
            apic.onTime(hostTsc);
        }
        if (pit != null) {
            pit.onTime();
        }
        if (hostTsc >= quantumEnd) {
            quantumEnd = Long.MAX_VALUE;
            vcpu.requestPause();
        }
    }

    @Override
    public long sendPvIpi(long bitmapLow, long bitmapHigh, long min, long icr, boolean longMode) {
        return apic.sendPvIpi(bitmapLow, bitmapHigh, min, icr, longMode);
    }

    @Override
    public int cr8() {
        return apic.cr8();
    }

    @Override
    public void setCr8(int value) {
        apic.setCr8(value);
    }

    @Override
    public VcpuLapic saveLapic() {
        return apic.saveLapic();
    }

    @Override
    public String checkLapic(VcpuLapic lapic) {
        return apic.checkLapic(lapic);
    }

    @Override
    public void restoreLapic(VcpuLapic lapic) {
        apic.restoreLapic(lapic);
    }

    @Override
    public void onGuestTscChanged() {
        apic.onGuestTscChanged();
    }
}

package org.tscvm.vm;

import org.tscvm.cpu.CpuBus;

/**
 * What a vCPU's local interrupt controller (the machine's local APIC) offers the vCPU. The
 * {@code vm} package knows nothing of APIC registers; it routes to this interface the MSRs the
 * controller claims (APIC_BASE, x2APIC 0x800-0x8ff, TSC_DEADLINE), the MMIO page it claims,
 * interrupt acknowledge, and the timer checks of the run loop.
 *
 * <p>Time is passed in: {@code hostTsc} is a reading of the VM's host clock, and the vCPU
 * converts between host and guest TSC for the controller ({@link Vcpu#guestTscAt(long)},
 * {@link Vcpu#hostTscForGuestTsc(long)}).
 */
public interface LocalInterruptController {
    /** True for the MSR indexes this controller implements. */
    boolean handlesMsr(int index);

    /** Reads an MSR; throws {@link org.tscvm.cpu.CpuFault} #GP where the SDM says so. */
    long readMsr(int index, MsrOrigin origin);

    void writeMsr(int index, long value, MsrOrigin origin);

    /** True when {@code paddr} falls in this controller's MMIO page (the xAPIC page, if enabled). */
    boolean claimsMmio(long paddr);

    long readMmio(long paddr, int size);

    void writeMmio(long paddr, int size, long value);

    /** Highest-priority deliverable vector, or -1; does not acknowledge. */
    int pendingInterrupt();

    /** Acknowledges the vector {@link #pendingInterrupt()} reported and returns it. */
    int acknowledgeInterrupt();

    /** Host-clock reading at which the controller next needs {@link #onTime}, or Long.MAX_VALUE. */
    long nextEventHostTsc();

    /** Fires whatever timers are due at {@code hostTsc}. */
    void onTime(long hostTsc);

    /**
     * CR8 as this controller sees it, TPR[7:4] (SDM Vol. 3A 10.8.6.1), or -1 when CR8 is not
     * backed by this controller (the CPU then keeps its own copy).
     */
    default int cr8() {
        return -1;
    }

    /** MOV to CR8 (0..15): TPR becomes {@code value << 4}. Ignored if CR8 is not backed here. */
    default void setCr8(int value) {
    }

    /**
     * A performance counter overflowed with its PMI enabled: the LVT performance-counter
     * entry delivers it. The default has no such entry.
     */
    default void performanceCounterOverflow() {
    }

    /**
     * KVM_HC_SEND_IPI: sends the IPI {@code icr} describes to APIC ids {@code min + i} for each
     * bit i of the bitmap (64 bits per word in 64-bit mode, else 32) and returns how many APICs
     * took it, or a negative KVM error. The default offers no PV IPIs.
     */
    default long sendPvIpi(long bitmapLow, long bitmapHigh, long min, long icr, boolean longMode) {
        return CpuBus.KVM_ENOSYS;
    }

    /**
     * The controller's state as KVM_GET_LAPIC gives it, plus the timer in guest TSC cycles
     * (host side, vCPU not running).
     */
    VcpuLapic saveLapic();

    /**
     * What is wrong with {@code lapic} for this controller, or null: checked before
     * {@link #restoreLapic} so that a refused state changes nothing.
     */
    String checkLapic(VcpuLapic lapic);

    /**
     * Loads {@code lapic} (KVM_SET_LAPIC), after the vCPU's TSC and IA32_APIC_BASE: the timer is
     * re-armed from the guest TSC now.
     */
    void restoreLapic(VcpuLapic lapic);

    /** The guest changed its TSC (WRMSR 0x10 or 0x3b, or a host write): re-derive TSC-deadline arming. */
    void onGuestTscChanged();
}

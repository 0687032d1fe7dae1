package org.tscvm.devices;

import org.tscvm.cpu.CpuFault;
import org.tscvm.cpu.Msr;
import org.tscvm.vm.LocalInterruptController;
import org.tscvm.vm.MsrOrigin;
import org.tscvm.vm.VcpuLapic;

/**
 * One vCPU's local APIC: xAPIC registers in a 4 KiB MMIO page at IA32_APIC_BASE, the same
 * registers as x2APIC MSRs 0x800-0x8FF, IPIs through an {@link ApicBus}, the LVT timer in
 * one-shot, periodic and TSC-deadline mode, and LINT0 in ExtINT mode passing the 8259's
 * interrupts through (platform.md section 4). Interrupts from the {@link IoApic} arrive over the
 * same bus; TMR records each fixed interrupt's trigger mode when it is accepted, and the EOI
 * of a vector whose TMR bit is set is broadcast to the I/O APIC.
 *
 * <p>Time: the timer counts at a 1 GHz APIC bus clock (as KVM's does: one count per ns before
 * the divider) and is armed in host-clock ticks; the TSC-deadline MSR is in guest-TSC units
 * and converted through {@link Host#hostTscForGuestTsc} (tsc-semantics R23). The run loop asks
 * {@link #nextEventHostTsc()} and calls {@link #onTime(long)}.
 *
 * <p>Threads: the owning vCPU calls everything except {@link #accept}, which other vCPUs reach
 * through the bus; methods synchronise on the APIC. {@link #pendingInterrupt()} answers "none"
 * without a lock when nothing can be pending.
 */
public final class LocalApic implements LocalInterruptController {
    /** What the APIC needs from its vCPU; the machine implements it. */
    public interface Host {
        /** The VM's host clock now. */
        long hostTscNow();

        /** The host clock's frequency in kHz (the APIC timer converts ns to host ticks with it). */
        long hostKhz();

        /** The guest TSC (offset, adjust, ratio applied) at host-clock reading {@code hostTsc}. */
        long guestTscAt(long hostTsc);

        /** The earliest host-clock reading at which the guest TSC reaches {@code guestTsc}. */
        long hostTscForGuestTsc(long guestTsc);

        /** An interrupt may have become deliverable: wake the vCPU if it halts. */
        void interruptPending();

        /** An INIT IPI arrived (the APIC has reset itself already). */
        void init();

        /** A STARTUP IPI arrived with {@code vector} (the start page number). */
        void startup(int vector);

        /** An NMI arrived. */
        void nmi();

        /** The timer armed in {@code mode} (TIMER_*), due at host reading {@code dueHostTsc}; {@code deadline} in guest TSC, 0 unless TSC-deadline (for a trace). */
        default void timerArmed(int mode, long deadline, long dueHostTsc) {
        }

        /** The timer expired at {@code hostTsc} (for a trace). */
        default void timerFired(long hostTsc, int mode, int vector, boolean masked) {
        }
    }

    public static final long DEFAULT_BASE = 0xfee0_0000L;
    public static final long PAGE_SIZE = 0x1000;

    // IA32_APIC_BASE bits.
    public static final long BASE_BSP = 1L << 8;
    public static final long BASE_EXTD = 1L << 10;
    public static final long BASE_ENABLE = 1L << 11;
    private static final long BASE_ADDRESS_MASK = ~0xfffL;

    // Register offsets in the xAPIC page; the x2APIC MSR is 0x800 + (offset >> 4).
    public static final int REG_ID = 0x020;
    public static final int REG_VERSION = 0x030;
    public static final int REG_TPR = 0x080;
    public static final int REG_APR = 0x090;
    public static final int REG_PPR = 0x0a0;
    public static final int REG_EOI = 0x0b0;
    public static final int REG_RRD = 0x0c0;
    public static final int REG_LDR = 0x0d0;
    public static final int REG_DFR = 0x0e0;
    public static final int REG_SVR = 0x0f0;
    public static final int REG_ISR = 0x100;
    public static final int REG_TMR = 0x180;
    public static final int REG_IRR = 0x200;
    public static final int REG_ESR = 0x280;
    public static final int REG_LVT_CMCI = 0x2f0;
    public static final int REG_ICR_LOW = 0x300;
    public static final int REG_ICR_HIGH = 0x310;
    public static final int REG_LVT_TIMER = 0x320;
    public static final int REG_LVT_THERMAL = 0x330;
    public static final int REG_LVT_PERF = 0x340;
    public static final int REG_LVT_LINT0 = 0x350;
    public static final int REG_LVT_LINT1 = 0x360;
    public static final int REG_LVT_ERROR = 0x370;
    public static final int REG_TIMER_INITIAL = 0x380;
    public static final int REG_TIMER_CURRENT = 0x390;
    public static final int REG_TIMER_DIVIDE = 0x3e0;
    /** x2APIC only: write a vector to send it to self. */
    public static final int REG_SELF_IPI = 0x3f0;

    /** Version 0x14 (integrated APIC, as KVM reports) with 6 LVT entries (max LVT index 5 in bits 23:16). */
    private static final int VERSION = 0x0005_0014;

    // LVT indexes in lvt[], and the bits of an LVT entry.
    private static final int LVT_CMCI = 0;
    private static final int LVT_TIMER = 1;
    private static final int LVT_THERMAL = 2;
    private static final int LVT_PERF = 3;
    private static final int LVT_LINT0 = 4;
    private static final int LVT_LINT1 = 5;
    private static final int LVT_ERROR = 6;
    private static final int LVT_COUNT = 7;
    public static final int LVT_MASKED = 1 << 16;
    private static final int LVT_VECTOR = 0xff;
    private static final int LVT_DELIVERY_MODE = 0x700;
    private static final int LVT_TIMER_MODE_SHIFT = 17;
    public static final int TIMER_ONE_SHOT = 0;
    public static final int TIMER_PERIODIC = 1;
    public static final int TIMER_TSC_DEADLINE = 2;
    /** Writable bits per LVT: vector, delivery mode, polarity, trigger, mask and (timer) mode. */
    private static final int[] LVT_WRITABLE = {0x107ff, 0x700ff, 0x107ff, 0x107ff, 0x1a7ff, 0x1a7ff, 0x100ff};

    public static final int SVR_ENABLE = 1 << 8;
    /** SVR after reset: vector 0xFF, APIC software-disabled. */
    private static final int SVR_RESET = 0xff;

    // ICR fields.
    public static final int DM_FIXED = 0;
    public static final int DM_LOWEST = 1;
    public static final int DM_SMI = 2;
    public static final int DM_NMI = 4;
    public static final int DM_INIT = 5;
    public static final int DM_STARTUP = 6;
    public static final int DM_EXTINT = 7;
    private static final int ICR_LOGICAL = 1 << 11;
    private static final int ICR_LEVEL_ASSERT = 1 << 14;
    private static final int ICR_SHORTHAND_BITS = 3 << 18;
    private static final int ICR_TRIGGER_LEVEL = 1 << 15;
    public static final int SHORTHAND_NONE = 0;
    public static final int SHORTHAND_SELF = 1;
    public static final int SHORTHAND_ALL = 2;
    public static final int SHORTHAND_ALL_BUT_SELF = 3;
    /** Writable ICR low bits; delivery status (bit 12) always reads idle. */
    private static final int ICR_LOW_WRITABLE = 0x000c_cfff;

    // ESR bits.
    private static final int ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
    private static final int ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6;

    /** The APIC bus runs at 1 GHz: one timer count per nanosecond before the divider (KVM's APIC_BUS_CYCLE_NS). */
    private static final long BUS_NANOS_PER_COUNT = 1;
    private static final long NANOS_PER_MILLI = 1_000_000L;

    /**
     * A snapshot of the APIC. The timer is saved as guest-visible quantities: the nanoseconds
     * until the next one-shot/periodic expiry (-1 when not armed) and the TSC deadline in guest
     * TSC units, never a host clock reading.
     */
    public record State(int id, long apicBase, int tpr, int ldr, int dfr, int svr, int[] isr,
                        int[] irr, int[] tmr, int esr, int pendingEsr, int icrLow, int icrHigh,
                        int[] lvt, int timerInitial, int timerDivide, long timerRemainingNanos,
                        long tscDeadline) {
        public State {
            isr = isr.clone();
            irr = irr.clone();
            tmr = tmr.clone();
            lvt = lvt.clone();
        }

        @Override
        public int[] isr() {
            return isr.clone();
        }

        @Override
        public int[] irr() {
            return irr.clone();
        }

        @Override
        public int[] tmr() {
            return tmr.clone();
        }

        @Override
        public int[] lvt() {
            return lvt.clone();
        }
    }

    private final int initialId;
    private final boolean bsp;
    private final long reservedBaseBits;
    private final Host host;
    private final ApicBus bus;
    private volatile ExtIntSource extInt;

    private int id;
    private long apicBase;
    private int tpr;
    private int ldr;
    private int dfr;
    private int svr;
    private final int[] isr = new int[8];
    private final int[] irr = new int[8];
    private final int[] tmr = new int[8];
    private int esr;
    private int pendingEsr;
    private int icrLow;
    private int icrHigh;
    private final int[] lvt = new int[LVT_COUNT];
    private int timerInitial;
    private int timerDivide;
    /** Host clock when the current one-shot/periodic count started. */
    private long timerStartHostTsc;
    /** Host clock of the next timer expiry; Long.MAX_VALUE when nothing is armed. */
    private long timerDueHostTsc = Long.MAX_VALUE;
    /** IA32_TSC_DEADLINE in guest-TSC units; 0 = disarmed. */
    private long tscDeadline;
    /** True when some IRR bit may be set: lets pendingInterrupt() skip the lock. */
    private volatile boolean irrNonEmpty;
    /**
     * True when the ExtINT path is open: LINT0 unmasked ExtINT, an unmasked ExtINT entry of the
     * I/O APIC's pin 0 aimed at this APIC, or the APIC hardware-disabled.
     */
    private volatile boolean extIntOpen;
    /** Set by the I/O APIC while its pin 0 (the 8259's INTR) is an unmasked ExtINT entry for this APIC. */
    private boolean extIntFromIoApic;
    /**
     * A level-triggered vector whose EOI must reach the I/O APIC, noted under the lock and
     * broadcast after it is released (-1: none), so the APIC never holds its lock while it
     * waits for the I/O APIC's.
     */
    private int eoiToBroadcast = -1;
    /** Set by pendingInterrupt() when it chose the ExtINT source, so acknowledge asks the PIC. */
    private boolean extIntChosen;

    /**
     * @param apicId the APIC ID (the vCPU index)
     * @param bsp true for the bootstrap processor (APIC_BASE.BSP, LINT0 ExtINT at reset)
     * @param maxPhysAddrBits CPUID 0x80000008 EAX[7:0]; APIC_BASE bits above it are reserved
     */
    public LocalApic(int apicId, boolean bsp, int maxPhysAddrBits, Host host, ApicBus bus) {
        this.initialId = apicId;
        this.bsp = bsp;
        // Reserved: bits 0-7 and 9, and every address bit at or above MAXPHYADDR.
        this.reservedBaseBits = 0x2ffL | (-1L << maxPhysAddrBits);
        this.host = host;
        this.bus = bus;
        this.id = apicId;
        this.apicBase = DEFAULT_BASE | BASE_ENABLE | (bsp ? BASE_BSP : 0);
        resetRegisters();
        bus.register(this);
    }

    /** Connects the 8259 pair behind LINT0 and the I/O APIC's ExtINT pin. */
    public void setExtIntSource(ExtIntSource source) {
        this.extInt = source;
    }

    /** The I/O APIC opens or closes its ExtINT route (pin 0, the 8259's INTR) to this APIC. */
    synchronized void setExtIntFromIoApic(boolean open) {
        extIntFromIoApic = open;
        updateExtIntOpen();
        if (extIntOpen) {
            host.interruptPending();
        }
    }

    /** True while the 8259's requests reach this APIC; lock-free, for the PIC's wake-up path. */
    public boolean receivesExtInt() {
        return extIntOpen;
    }

    public synchronized int id() {
        return id;
    }

    /** IA32_APIC_BASE.EN; CPUID.1:EDX[9] follows it on real processors and in KVM. */
    public synchronized boolean isEnabled() {
        return (apicBase & BASE_ENABLE) != 0;
    }

    public synchronized boolean isX2Apic() {
        return (apicBase & (BASE_ENABLE | BASE_EXTD)) == (BASE_ENABLE | BASE_EXTD);
    }

    private boolean softwareEnabled() {
        return (svr & SVR_ENABLE) != 0;
    }

    /** Power-up values of every register but the ID and APIC_BASE (SDM: INIT and re-enable). */
    private void resetRegisters() {
        tpr = 0;
        ldr = 0;
        dfr = -1;
        svr = SVR_RESET;
        java.util.Arrays.fill(isr, 0);
        java.util.Arrays.fill(irr, 0);
        java.util.Arrays.fill(tmr, 0);
        esr = 0;
        pendingEsr = 0;
        icrLow = 0;
        icrHigh = 0;
        java.util.Arrays.fill(lvt, LVT_MASKED);
        // QEMU (no BIOS) leaves the BSP's LINT0 in ExtINT mode, so the 8259 reaches the CPU
        // without the guest programming the APIC, as a PC BIOS would have set it.
        if (bsp) {
            lvt[LVT_LINT0] = DM_EXTINT << 8;
        }
        timerInitial = 0;
        timerDivide = 0;
        timerDueHostTsc = Long.MAX_VALUE;
        tscDeadline = 0;
        irrNonEmpty = false;
        if (isX2Apic()) {
            ldr = x2apicLdr();
        }
        updateExtIntOpen();
    }

    private int x2apicLdr() {
        return ((id >>> 4) << 16) | (1 << (id & 0xf));
    }

    private void updateExtIntOpen() {
        int lint0 = lvt[LVT_LINT0];
        extIntOpen = (apicBase & BASE_ENABLE) == 0 || extIntFromIoApic
                || ((lint0 & LVT_MASKED) == 0 && ((lint0 >>> 8) & 7) == DM_EXTINT);
    }

    // ---------------------------------------------------------------- MSRs

    @Override
    public boolean handlesMsr(int index) {
        return index == Msr.IA32_APIC_BASE || index == Msr.IA32_TSC_DEADLINE
                || (index >= Msr.X2APIC_FIRST && index <= Msr.X2APIC_LAST);
    }

    @Override
    public synchronized long readMsr(int index, MsrOrigin origin) {
        if (index == Msr.IA32_APIC_BASE) {
            return apicBase;
        }
        if (index == Msr.IA32_TSC_DEADLINE) {
            // R23: 0 unless the timer is in TSC-deadline mode.
            return timerMode() == TIMER_TSC_DEADLINE ? tscDeadline : 0;
        }
        if (!isX2Apic()) {
            throw CpuFault.gp0();
        }
        int reg = (index - Msr.X2APIC_FIRST) << 4;
        if (reg == REG_ICR_LOW) {
            return (icrLow & 0xffffffffL) | ((long) icrHigh << 32);
        }
        if (!x2apicReadable(reg)) {
            throw CpuFault.gp0();
        }
        return readRegister(reg, host.hostTscNow()) & 0xffffffffL;
    }

    @Override
    public void writeMsr(int index, long value, MsrOrigin origin) {
        Ipi ipi;
        synchronized (this) {
            ipi = writeMsrLocked(index, value, origin);
        }
        if (ipi != null) {
            ipi.send(this);
        }
        broadcastEoi();
    }

    /** Tells the I/O APIC about the EOI of a level-triggered vector (TMR set), outside the lock. */
    private void broadcastEoi() {
        int vector;
        synchronized (this) {
            vector = eoiToBroadcast;
            eoiToBroadcast = -1;
        }
        if (vector >= 0) {
            bus.broadcastEoi(vector);
        }
    }

    private Ipi writeMsrLocked(int index, long value, MsrOrigin origin) {
        if (index == Msr.IA32_APIC_BASE) {
            writeApicBase(value, origin);
            return null;
        }
        if (index == Msr.IA32_TSC_DEADLINE) {
            writeTscDeadline(value);
            return null;
        }
        if (!isX2Apic()) {
            throw CpuFault.gp0();
        }
        int reg = (index - Msr.X2APIC_FIRST) << 4;
        if (reg == REG_ICR_LOW) {
            icrLow = (int) value & ICR_LOW_WRITABLE;
            icrHigh = (int) (value >>> 32);
            return decodeIcr();
        }
        // x2APIC registers are 32 bits wide; setting the upper half is #GP (SDM 10.12.1.2).
        if ((value >>> 32) != 0 || !x2apicWritable(reg)) {
            throw CpuFault.gp0();
        }
        int v = (int) value;
        if (reg == REG_EOI && v != 0) {
            throw CpuFault.gp0();
        }
        if (reg == REG_SELF_IPI) {
            if ((v & ~0xff) != 0) {
                throw CpuFault.gp0(); // bits 31:8 are reserved (SDM 10.12.11; KVM refuses them)
            }
            acceptFixed(v);
            return null;
        }
        writeRegister(reg, v, host.hostTscNow());
        return null;
    }

    private static boolean x2apicReadable(int reg) {
        return switch (reg) {
            // No LVT CMCI: the version register reports LVT entries 0-5 only (as KVM without MCG_CMCI_P).
            case REG_ID, REG_VERSION, REG_TPR, REG_PPR, REG_LDR, REG_SVR, REG_ESR,
                    REG_LVT_TIMER, REG_LVT_THERMAL, REG_LVT_PERF, REG_LVT_LINT0, REG_LVT_LINT1,
                    REG_LVT_ERROR, REG_TIMER_INITIAL, REG_TIMER_CURRENT, REG_TIMER_DIVIDE -> true;
            default -> (reg >= REG_ISR && reg < REG_IRR + 0x80);
        };
    }

    private static boolean x2apicWritable(int reg) {
        return switch (reg) {
            case REG_TPR, REG_EOI, REG_SVR, REG_ESR, REG_LVT_TIMER, REG_LVT_THERMAL,
                    REG_LVT_PERF, REG_LVT_LINT0, REG_LVT_LINT1, REG_LVT_ERROR, REG_TIMER_INITIAL,
                    REG_TIMER_DIVIDE, REG_SELF_IPI -> true;
            default -> false;
        };
    }

    private void writeApicBase(long value, MsrOrigin origin) {
        boolean wasEnabled = (apicBase & BASE_ENABLE) != 0;
        boolean wasX2 = isX2Apic();
        boolean enable = (value & BASE_ENABLE) != 0;
        boolean x2 = enable && (value & BASE_EXTD) != 0;
        if (origin == MsrOrigin.GUEST) {
            // Reserved bits, BSP changes, EXTD without EN, x2APIC -> xAPIC and disabled -> x2APIC
            // are #GP (SDM 10.12.5 figure 10-27; KVM kvm_apic_set_base for guest writes).
            boolean invalidTransition = ((value & BASE_EXTD) != 0 && !enable)
                    || (wasX2 && enable && !x2) || (!wasEnabled && x2);
            if ((value & reservedBaseBits) != 0 || invalidTransition
                    || (value & BASE_BSP) != (apicBase & BASE_BSP)) {
                throw CpuFault.gp0();
            }
        }
        apicBase = (value & (BASE_ADDRESS_MASK | BASE_ENABLE | BASE_EXTD)) | (apicBase & BASE_BSP);
        if (!enable) {
            apicBase &= ~BASE_EXTD;
        }
        if (!wasEnabled && enable) {
            // Re-enabling after a hardware disable: power-up state, ID back to its initial value.
            id = initialId;
            resetRegisters();
        } else if (!wasX2 && x2) {
            // Entering x2APIC mode: the 32-bit ID and the derived logical ID (SDM 10.12.10).
            id = initialId;
            ldr = x2apicLdr();
        }
        if (!enable) {
            timerDueHostTsc = Long.MAX_VALUE;
        }
        updateExtIntOpen();
    }

    private void writeTscDeadline(long value) {
        // R23: ignored unless the LVT timer is in TSC-deadline mode.
        if (timerMode() != TIMER_TSC_DEADLINE) {
            return;
        }
        tscDeadline = value;
        armTscDeadline();
        long now = host.hostTscNow();
        if (timerDueHostTsc <= now) {
            // A deadline already passed expires at once, so the interrupt is pending by the
            // next instruction boundary (KVM start_sw_tscdeadline; kvm-unit-tests apic.c).
            onTime(now);
        }
    }

    private void armTscDeadline() {
        if (tscDeadline == 0) {
            timerDueHostTsc = Long.MAX_VALUE;
            return;
        }
        long now = host.hostTscNow();
        if (Long.compareUnsigned(host.guestTscAt(now), tscDeadline) >= 0) {
            timerDueHostTsc = now;
        } else {
            timerDueHostTsc = Math.max(now, host.hostTscForGuestTsc(tscDeadline));
        }
        host.timerArmed(TIMER_TSC_DEADLINE, tscDeadline, timerDueHostTsc);
    }

    // ---------------------------------------------------------------- MMIO

    @Override
    public synchronized boolean claimsMmio(long paddr) {
        return (apicBase & (BASE_ENABLE | BASE_EXTD)) == BASE_ENABLE
                && (paddr & BASE_ADDRESS_MASK) == (apicBase & BASE_ADDRESS_MASK);
    }

    @Override
    public synchronized long readMmio(long paddr, int size) {
        int offset = (int) (paddr & (PAGE_SIZE - 1));
        long now = host.hostTscNow();
        long value = 0;
        // Registers sit at 16-byte boundaries and are 32 bits wide; the rest of each slot reads 0.
        for (int i = 0; i < size; i++) {
            int at = offset + i;
            if ((at & 0xf) < 4) {
                int reg = readRegister(at & 0xff0, now);
                value |= ((long) ((reg >>> ((at & 3) * 8)) & 0xff)) << (8 * i);
            }
        }
        return value;
    }

    @Override
    public void writeMmio(long paddr, int size, long value) {
        Ipi ipi;
        synchronized (this) {
            ipi = writeMmioLocked(paddr, size, value);
        }
        if (ipi != null) {
            ipi.send(this);
        }
        broadcastEoi();
    }

    private Ipi writeMmioLocked(long paddr, int size, long value) {
        int offset = (int) (paddr & (PAGE_SIZE - 1));
        // Only aligned 32-bit (or wider, low half) writes reach a register, as in KVM.
        if ((offset & 0xf) != 0 || size < 4) {
            return null;
        }
        int reg = offset & 0xff0;
        if (reg == REG_SELF_IPI) {
            return null;
        }
        if (reg == REG_ICR_LOW) {
            icrLow = (int) value & ICR_LOW_WRITABLE;
            return decodeIcr();
        }
        writeRegister(reg, (int) value, host.hostTscNow());
        return null;
    }

    // ---------------------------------------------------------------- registers

    private int readRegister(int reg, long now) {
        if (reg >= REG_ISR && reg < REG_ISR + 0x80) {
            return isr[(reg - REG_ISR) >> 4];
        }
        if (reg >= REG_TMR && reg < REG_TMR + 0x80) {
            return tmr[(reg - REG_TMR) >> 4];
        }
        if (reg >= REG_IRR && reg < REG_IRR + 0x80) {
            return irr[(reg - REG_IRR) >> 4];
        }
        return switch (reg) {
            case REG_ID -> isX2Apic() ? id : id << 24;
            case REG_VERSION -> VERSION;
            case REG_TPR -> tpr;
            case REG_PPR -> ppr();
            case REG_LDR -> ldr;
            case REG_DFR -> dfr;
            case REG_SVR -> svr;
            case REG_ESR -> esr;
            case REG_ICR_LOW -> icrLow;
            case REG_ICR_HIGH -> icrHigh;
            case REG_LVT_CMCI -> lvt[LVT_CMCI];
            case REG_LVT_TIMER -> lvt[LVT_TIMER];
            case REG_LVT_THERMAL -> lvt[LVT_THERMAL];
            case REG_LVT_PERF -> lvt[LVT_PERF];
            case REG_LVT_LINT0 -> lvt[LVT_LINT0];
            case REG_LVT_LINT1 -> lvt[LVT_LINT1];
            case REG_LVT_ERROR -> lvt[LVT_ERROR];
            case REG_TIMER_INITIAL -> timerInitial;
            case REG_TIMER_CURRENT -> currentCount(now);
            case REG_TIMER_DIVIDE -> timerDivide;
            default -> 0;
        };
    }

    /** KVM's -KVM_EINVAL. */
    private static final long KVM_EINVAL = -22;

    /**
     * KVM_HC_SEND_IPI (KVM kvm_pv_send_ipi): a physical-destination IPI per set bit; the ICR may
     * carry neither a shorthand nor a logical destination.
     */
    @Override
    public long sendPvIpi(long bitmapLow, long bitmapHigh, long min, long icr, boolean longMode) {
        if ((icr & (ICR_LOGICAL | ICR_SHORTHAND_BITS)) != 0) {
            return KVM_EINVAL;
        }
        int mode = (int) (icr >>> 8) & 7;
        int vector = (int) icr & 0xff;
        boolean levelAssert = (icr & ICR_LEVEL_ASSERT) != 0;
        int wordBits = longMode ? 64 : 32;
        long count = 0;
        for (int i = 0; i < 2 * wordBits; i++) {
            long word = i < wordBits ? bitmapLow : bitmapHigh;
            if ((word >>> (i % wordBits) & 1) != 0 && min + i <= 0xffffffffL) {
                count += bus.sendPhysical((int) (min + i), mode, vector, levelAssert, (icr & ICR_TRIGGER_LEVEL) != 0);
            }
        }
        return count;
    }

    /** CR8 reads TPR[7:4] whatever the APIC's mode or enable state, as on KVM (SDM 10.8.6.1). */
    @Override
    public synchronized int cr8() {
        return (tpr >>> 4) & 0xf;
    }

    @Override
    public synchronized void setCr8(int value) {
        writeRegister(REG_TPR, (value & 0xf) << 4, 0);
    }

    private void writeRegister(int reg, int v, long now) {
        switch (reg) {
            case REG_ID -> {
                // The xAPIC ID is writable (KVM allows it); x2APIC's is read-only and never gets here.
                id = v >>> 24;
            }
            case REG_TPR -> {
                tpr = v & 0xff;
                // Lowering the priority may unblock a pending interrupt: the CPU must look again.
                if (irrNonEmpty) {
                    host.interruptPending();
                }
            }
            case REG_EOI -> eoi();
            case REG_LDR -> ldr = v & 0xff00_0000;
            case REG_DFR -> dfr = v | 0x0fff_ffff;
            case REG_SVR -> writeSvr(v);
            case REG_ESR -> {
                // A write latches the errors seen since the last write into the readable ESR.
                esr = pendingEsr;
                pendingEsr = 0;
            }
            case REG_ICR_HIGH -> icrHigh = v & 0xff00_0000;
            case REG_LVT_CMCI -> writeLvt(LVT_CMCI, v);
            case REG_LVT_TIMER -> writeLvtTimer(v, now);
            case REG_LVT_THERMAL -> writeLvt(LVT_THERMAL, v);
            case REG_LVT_PERF -> writeLvt(LVT_PERF, v);
            case REG_LVT_LINT0 -> writeLvt(LVT_LINT0, v);
            case REG_LVT_LINT1 -> writeLvt(LVT_LINT1, v);
            case REG_LVT_ERROR -> writeLvt(LVT_ERROR, v);
            case REG_TIMER_INITIAL -> writeTimerInitial(v, now);
            case REG_TIMER_DIVIDE -> timerDivide = v & 0xb;
            default -> {
                // Read-only and reserved registers drop writes in xAPIC mode.
            }
        }
        updateExtIntOpen();
    }

    private void writeSvr(int v) {
        svr = v & 0x3ff;
        if (irrNonEmpty) {
            host.interruptPending();
        }
        if (!softwareEnabled()) {
            // Software disable masks every LVT entry (SDM 10.4.7.2).
            for (int i = 0; i < LVT_COUNT; i++) {
                lvt[i] |= LVT_MASKED;
            }
        }
    }

    private void writeLvt(int index, int v) {
        int value = v & LVT_WRITABLE[index];
        if (!softwareEnabled()) {
            value |= LVT_MASKED;
        }
        lvt[index] = value;
    }

    private void writeLvtTimer(int v, long now) {
        if (timerDueHostTsc <= now) {
            // Expire a count that ran out under the old mode first: a one-shot that reached 0
            // stays at 0 after a switch to periodic (kvm-unit-tests apic.c test_apic_change_mode).
            onTime(now);
        }
        int oldMode = timerMode();
        writeLvt(LVT_TIMER, v);
        if (((lvt[LVT_TIMER] >>> LVT_TIMER_MODE_SHIFT) & 3) == 3) {
            // Mode 3 is reserved; keep the previous mode bits.
            lvt[LVT_TIMER] = (lvt[LVT_TIMER] & ~(3 << LVT_TIMER_MODE_SHIFT)) | (oldMode << LVT_TIMER_MODE_SHIFT);
        }
        if ((timerMode() == TIMER_TSC_DEADLINE) != (oldMode == TIMER_TSC_DEADLINE)) {
            // Entering or leaving TSC-deadline mode stops the timer and clears both counts; a
            // one-shot/periodic switch keeps the count running (KVM's apic_update_lvtt).
            timerInitial = 0;
            tscDeadline = 0;
            timerDueHostTsc = Long.MAX_VALUE;
        }
    }

    private int timerMode() {
        return (lvt[LVT_TIMER] >>> LVT_TIMER_MODE_SHIFT) & 3;
    }

    private long divisor() {
        int bits = (timerDivide & 3) | ((timerDivide >>> 1) & 4);
        return bits == 7 ? 1 : 2L << bits;
    }

    /** Exact floor(nanos * khz / 10^6) without 64-bit overflow for any timer span. */
    private long nanosToHostTsc(long nanos) {
        long khz = host.hostKhz();
        return (nanos / NANOS_PER_MILLI) * khz + (nanos % NANOS_PER_MILLI) * khz / NANOS_PER_MILLI;
    }

    private long hostTscToNanos(long ticks) {
        long khz = host.hostKhz();
        return (ticks / khz) * NANOS_PER_MILLI + (ticks % khz) * NANOS_PER_MILLI / khz;
    }

    private long periodNanos() {
        return (timerInitial & 0xffffffffL) * divisor() * BUS_NANOS_PER_COUNT;
    }

    private void writeTimerInitial(int v, long now) {
        if (timerMode() == TIMER_TSC_DEADLINE) {
            return;
        }
        timerInitial = v;
        if (v == 0) {
            timerDueHostTsc = Long.MAX_VALUE;
            return;
        }
        timerStartHostTsc = now;
        timerDueHostTsc = now + Math.max(1, nanosToHostTsc(periodNanos()));
        host.timerArmed(timerMode(), 0, timerDueHostTsc);
    }

    private int currentCount(long now) {
        if (timerMode() == TIMER_TSC_DEADLINE || timerInitial == 0 || timerDueHostTsc == Long.MAX_VALUE) {
            return 0;
        }
        long elapsedCounts = hostTscToNanos(Math.max(0, now - timerStartHostTsc)) / (divisor() * BUS_NANOS_PER_COUNT);
        long initial = timerInitial & 0xffffffffL;
        if (timerMode() == TIMER_PERIODIC) {
            return (int) (initial - elapsedCounts % initial);
        }
        return elapsedCounts >= initial ? 0 : (int) (initial - elapsedCounts);
    }

    // ---------------------------------------------------------------- timer

    @Override
    public synchronized long nextEventHostTsc() {
        return timerDueHostTsc;
    }

    @Override
    public synchronized void onTime(long hostTsc) {
        if (timerDueHostTsc == Long.MAX_VALUE || hostTsc < timerDueHostTsc) {
            return;
        }
        int mode = timerMode();
        switch (mode) {
            case TIMER_TSC_DEADLINE -> {
                if (Long.compareUnsigned(host.guestTscAt(hostTsc), tscDeadline) < 0) {
                    // Rounding put the host deadline a tick early: re-derive and wait.
                    timerDueHostTsc = Math.max(hostTsc + 1, host.hostTscForGuestTsc(tscDeadline));
                    return;
                }
                tscDeadline = 0;
                timerDueHostTsc = Long.MAX_VALUE;
            }
            case TIMER_PERIODIC -> {
                long period = Math.max(1, nanosToHostTsc(periodNanos()));
                // Late: skip the missed periods and fire once (no burst of catch-up interrupts).
                long missed = (hostTsc - timerDueHostTsc) / period;
                timerStartHostTsc = timerDueHostTsc + missed * period;
                timerDueHostTsc = timerStartHostTsc + period;
            }
            default -> timerDueHostTsc = Long.MAX_VALUE;
        }
        int entry = lvt[LVT_TIMER];
        host.timerFired(hostTsc, mode, entry & LVT_VECTOR, (entry & LVT_MASKED) != 0);
        if ((entry & LVT_MASKED) == 0) {
            acceptFixed(entry & LVT_VECTOR);
        }
    }

    /**
     * A PMI: the LVT performance-counter entry delivers it (fixed or NMI) and gets its mask bit
     * set, so the handler must unmask it again, as Intel's APIC does and KVM's
     * kvm_apic_local_deliver copies for Intel guests. A masked entry drops it.
     */
    @Override
    public void performanceCounterOverflow() {
        boolean nmi;
        synchronized (this) {
            int entry = lvt[LVT_PERF];
            if ((entry & LVT_MASKED) != 0) {
                return;
            }
            lvt[LVT_PERF] = entry | LVT_MASKED;
            nmi = ((entry >>> 8) & 7) == DM_NMI;
            if (!nmi) {
                acceptFixed(entry & LVT_VECTOR);
                return;
            }
        }
        host.nmi();
    }

    @Override
    public synchronized void onGuestTscChanged() {
        if (timerMode() == TIMER_TSC_DEADLINE && tscDeadline != 0) {
            armTscDeadline();
        }
    }

    // ---------------------------------------------------------------- delivery

    private int ppr() {
        int isrv = highestBit(isr);
        int isrClass = isrv < 0 ? 0 : isrv & 0xf0;
        return (tpr & 0xf0) >= isrClass ? tpr & 0xff : isrClass;
    }

    private static int highestBit(int[] bits) {
        for (int i = 7; i >= 0; i--) {
            if (bits[i] != 0) {
                return i * 32 + 31 - Integer.numberOfLeadingZeros(bits[i]);
            }
        }
        return -1;
    }

    private void eoi() {
        int v = highestBit(isr);
        if (v >= 0) {
            isr[v >>> 5] &= ~(1 << (v & 31));
            // TMR keeps its bit: it changes only when the next interrupt of the vector is
            // accepted (SDM 10.8.4), and a set bit makes this EOI reach the I/O APIC.
            if ((tmr[v >>> 5] & (1 << (v & 31))) != 0) {
                eoiToBroadcast = v;
            }
            host.interruptPending();
        }
    }

    /** An edge-triggered fixed interrupt from this APIC itself (timer, LVT error, self IPI). */
    private void acceptFixed(int vector) {
        acceptFixed(vector, false);
    }

    /**
     * Sets {@code vector} in IRR (a fixed interrupt arriving) and wakes the vCPU. TMR records
     * the trigger mode: set for level, cleared for edge (SDM 10.8.4).
     */
    private void acceptFixed(int vector, boolean levelTriggered) {
        if (vector < 16) {
            // Vectors 0-15 are illegal for fixed delivery: the receiver logs an error instead.
            pendingEsr |= ESR_RECEIVE_ILLEGAL_VECTOR;
            signalError();
            return;
        }
        irr[vector >>> 5] |= 1 << (vector & 31);
        if (levelTriggered) {
            tmr[vector >>> 5] |= 1 << (vector & 31);
        } else {
            tmr[vector >>> 5] &= ~(1 << (vector & 31));
        }
        irrNonEmpty = true;
        host.interruptPending();
    }

    private void signalError() {
        int entry = lvt[LVT_ERROR];
        int vector = entry & LVT_VECTOR;
        if ((entry & LVT_MASKED) == 0 && vector >= 16) {
            irr[vector >>> 5] |= 1 << (vector & 31);
            irrNonEmpty = true;
            host.interruptPending();
        }
    }

    /**
     * An interrupt message from the bus (an IPI, this APIC's own, or the I/O APIC's). INIT
     * resets the APIC's registers before telling the vCPU, as the SDM describes.
     *
     * @param levelTriggered the message's trigger mode, which a fixed interrupt records in TMR
     */
    public void accept(int deliveryMode, int vector, boolean levelAssert, boolean levelTriggered) {
        switch (deliveryMode) {
            case DM_FIXED, DM_LOWEST -> {
                synchronized (this) {
                    if ((apicBase & BASE_ENABLE) == 0) {
                        return;
                    }
                    acceptFixed(vector, levelTriggered);
                }
            }
            case DM_NMI -> host.nmi();
            case DM_INIT -> {
                if (!levelAssert) {
                    return;
                }
                synchronized (this) {
                    resetRegisters();
                }
                host.init();
            }
            case DM_STARTUP -> host.startup(vector & 0xff);
            default -> {
                // SMI and ExtINT IPIs have no target in tscvm; dropped.
            }
        }
    }

    /**
     * An IPI decoded from ICR under this APIC's lock and sent after the lock is released, so
     * two vCPUs sending to each other never hold one APIC while waiting for the other.
     */
    private record Ipi(int shorthand, boolean logical, int destination, int mode, int vector, boolean levelAssert,
                       boolean levelTriggered) {
        void send(LocalApic source) {
            source.bus.send(source, shorthand, logical, destination, mode, vector, levelAssert, levelTriggered);
        }
    }

    private Ipi decodeIcr() {
        int mode = (icrLow >>> 8) & 7;
        int vector = icrLow & 0xff;
        boolean levelAssert = (icrLow & ICR_LEVEL_ASSERT) != 0;
        // INIT level de-assert (trigger=level, level=0) only resynchronises arbitration IDs.
        if (mode == DM_INIT && !levelAssert && (icrLow & ICR_TRIGGER_LEVEL) != 0) {
            return null;
        }
        if ((mode == DM_FIXED || mode == DM_LOWEST) && vector < 16) {
            pendingEsr |= ESR_SEND_ILLEGAL_VECTOR;
            signalError();
            return null;
        }
        int shorthand = (icrLow >>> 18) & 3;
        boolean logical = (icrLow & ICR_LOGICAL) != 0;
        int destination = isX2Apic() ? icrHigh : icrHigh >>> 24;
        return new Ipi(shorthand, logical, destination, mode, vector, mode != DM_INIT || levelAssert,
                (icrLow & ICR_TRIGGER_LEVEL) != 0);
    }

    /** True when an IPI with this destination addresses this APIC. */
    synchronized boolean matches(boolean logical, int destination) {
        if (isX2Apic()) {
            if (destination == -1) {
                return true;
            }
            if (!logical) {
                return destination == id;
            }
            return (destination >>> 16) == (ldr >>> 16) && (destination & ldr & 0xffff) != 0;
        }
        int dest = destination & 0xff;
        if (dest == 0xff) {
            return true;
        }
        if (!logical) {
            return dest == (id & 0xff);
        }
        int logicalId = ldr >>> 24;
        if ((dfr >>> 28) == 0xf) {
            return (logicalId & dest) != 0;
        }
        // Cluster model: high nibble selects the cluster, low nibble is a member mask.
        return (logicalId >>> 4) == (dest >>> 4) && (logicalId & dest & 0xf) != 0;
    }

    @Override
    public int pendingInterrupt() {
        if (!irrNonEmpty) {
            ExtIntSource source = extInt;
            if (source == null || !extIntOpen || !source.interruptRequested()) {
                return -1;
            }
        }
        synchronized (this) {
            extIntChosen = false;
            int v = highestBit(irr);
            if (v < 0) {
                irrNonEmpty = false;
            }
            if (v >= 0 && (apicBase & BASE_ENABLE) != 0 && (v & 0xf0) > (ppr() & 0xf0)) {
                return v;
            }
            ExtIntSource source = extInt;
            if (source != null && extIntOpen && source.interruptRequested()) {
                int pv = source.pendingVector();
                if (pv >= 0) {
                    extIntChosen = true;
                    return pv;
                }
            }
            return -1;
        }
    }

    @Override
    public synchronized int acknowledgeInterrupt() {
        if (extIntChosen) {
            extIntChosen = false;
            return extInt.acknowledge();
        }
        int v = highestBit(irr);
        if (v < 0 || (v & 0xf0) <= (ppr() & 0xf0)) {
            // The request vanished between the check and the acknowledge: a spurious interrupt.
            return svr & 0xff;
        }
        irr[v >>> 5] &= ~(1 << (v & 31));
        isr[v >>> 5] |= 1 << (v & 31);
        irrNonEmpty = highestBit(irr) >= 0;
        return v;
    }

    // ---------------------------------------------------------------- snapshot

    public synchronized State saveState() {
        long now = host.hostTscNow();
        long remaining = -1;
        if (timerMode() != TIMER_TSC_DEADLINE && timerDueHostTsc != Long.MAX_VALUE) {
            remaining = hostTscToNanos(Math.max(0, timerDueHostTsc - now));
        }
        return new State(id, apicBase, tpr, ldr, dfr, svr, isr, irr, tmr, esr, pendingEsr, icrLow,
                icrHigh, lvt, timerInitial, timerDivide, remaining, tscDeadline);
    }

    /**
     * Loads {@code s}. Order matters for the timer: the LVT (and its mode) first, then the
     * counts, then the TSC deadline, which is converted with the vCPU's current TSC, so the
     * vCPU's TSC must be restored before the APIC (Firecracker restores 0x6E0 after 0x10).
     */
    public synchronized void restoreState(State s) {
        if (s.isr().length != 8 || s.irr().length != 8 || s.tmr().length != 8 || s.lvt().length != LVT_COUNT) {
            throw new IllegalArgumentException("APIC state arrays have the wrong length");
        }
        id = s.id();
        apicBase = s.apicBase();
        tpr = s.tpr() & 0xff;
        ldr = s.ldr();
        dfr = s.dfr();
        svr = s.svr() & 0x3ff;
        System.arraycopy(s.isr(), 0, isr, 0, 8);
        System.arraycopy(s.irr(), 0, irr, 0, 8);
        System.arraycopy(s.tmr(), 0, tmr, 0, 8);
        esr = s.esr();
        pendingEsr = s.pendingEsr();
        icrLow = s.icrLow();
        icrHigh = s.icrHigh();
        System.arraycopy(s.lvt(), 0, lvt, 0, LVT_COUNT);
        timerInitial = s.timerInitial();
        timerDivide = s.timerDivide() & 0xb;
        long now = host.hostTscNow();
        timerDueHostTsc = Long.MAX_VALUE;
        if (timerMode() == TIMER_TSC_DEADLINE) {
            tscDeadline = s.tscDeadline();
            armTscDeadline();
        } else {
            tscDeadline = 0;
            if (s.timerRemainingNanos() >= 0 && timerInitial != 0) {
                timerDueHostTsc = now + nanosToHostTsc(s.timerRemainingNanos());
                timerStartHostTsc = timerDueHostTsc - Math.max(1, nanosToHostTsc(periodNanos()));
            }
        }
        irrNonEmpty = highestBit(irr) >= 0;
        updateExtIntOpen();
        if (irrNonEmpty) {
            host.interruptPending();
        }
    }

    // ---------------------------------------------------------------- the vCPU's LAPIC state (KVM_GET/SET_LAPIC)

    /** The page offsets {@link VcpuLapic} carries, with the LVT slot each LVT register is. */
    private static final int[] LVT_REGISTERS = {REG_LVT_CMCI, REG_LVT_TIMER, REG_LVT_THERMAL, REG_LVT_PERF,
            REG_LVT_LINT0, REG_LVT_LINT1, REG_LVT_ERROR};
    private static final int[] PAGE_REGISTERS = {REG_ID, REG_VERSION, REG_TPR, REG_PPR, REG_LDR, REG_DFR, REG_SVR,
            REG_ESR, REG_ICR_LOW, REG_ICR_HIGH, REG_TIMER_INITIAL, REG_TIMER_CURRENT, REG_TIMER_DIVIDE};

    @Override
    public synchronized VcpuLapic saveLapic() {
        long now = host.hostTscNow();
        byte[] page = new byte[VcpuLapic.PAGE_BYTES];
        for (int reg : PAGE_REGISTERS) {
            putRegister(page, reg, readRegister(reg, now));
        }
        for (int reg : LVT_REGISTERS) {
            putRegister(page, reg, readRegister(reg, now));
        }
        for (int i = 0; i < 8; i++) {
            putRegister(page, REG_ISR + 16 * i, isr[i]);
            putRegister(page, REG_TMR + 16 * i, tmr[i]);
            putRegister(page, REG_IRR + 16 * i, irr[i]);
        }
        long elapsed = 0;
        long remaining = -1;
        if (timerMode() != TIMER_TSC_DEADLINE && timerDueHostTsc != Long.MAX_VALUE) {
            // Guest TSC cycles, not host readings: exact at ratio 1.0, so a deterministic run goes on bit for bit.
            long guestNow = host.guestTscAt(now);
            elapsed = guestNow - host.guestTscAt(timerStartHostTsc);
            remaining = Math.max(0, host.guestTscAt(timerDueHostTsc) - guestNow);
        }
        return new VcpuLapic(page, elapsed, remaining, timerMode() == TIMER_TSC_DEADLINE ? tscDeadline : 0,
                pendingEsr);
    }

    @Override
    public String checkLapic(VcpuLapic lapic) {
        int lvtTimer = lapic.register(REG_LVT_TIMER);
        if (((lvtTimer >>> LVT_TIMER_MODE_SHIFT) & 3) == 3) {
            return String.format("LVT timer 0x%x has the reserved timer mode 3", lvtTimer);
        }
        if (lapic.timerRemainingTsc() < -1) {
            return "the timer's remaining cycles " + lapic.timerRemainingTsc() + " are below -1 (not counting)";
        }
        if (lapic.timerElapsedTsc() < 0) {
            return "the timer's elapsed cycles " + lapic.timerElapsedTsc() + " are negative";
        }
        if ((lapic.register(REG_TIMER_DIVIDE) & ~0xb) != 0) {
            return String.format("divide configuration 0x%x sets reserved bits", lapic.register(REG_TIMER_DIVIDE));
        }
        if ((lapic.register(REG_SVR) & ~0x3ff) != 0) {
            return String.format("SVR 0x%x sets reserved bits", lapic.register(REG_SVR));
        }
        return null;
    }

    /** Loads {@code lapic} after IA32_APIC_BASE and the TSC (the timer is re-armed from the guest TSC now). */
    @Override
    public synchronized void restoreLapic(VcpuLapic lapic) {
        String bad = checkLapic(lapic);
        if (bad != null) {
            throw new IllegalArgumentException(bad);
        }
        int idRegister = lapic.register(REG_ID);
        id = isX2Apic() ? idRegister : idRegister >>> 24;
        tpr = lapic.register(REG_TPR) & 0xff;
        ldr = lapic.register(REG_LDR);
        dfr = lapic.register(REG_DFR);
        svr = lapic.register(REG_SVR) & 0x3ff;
        for (int i = 0; i < 8; i++) {
            isr[i] = lapic.register(REG_ISR + 16 * i);
            tmr[i] = lapic.register(REG_TMR + 16 * i);
            irr[i] = lapic.register(REG_IRR + 16 * i);
        }
        esr = lapic.register(REG_ESR);
        pendingEsr = lapic.pendingErrors();
        icrLow = lapic.register(REG_ICR_LOW);
        icrHigh = lapic.register(REG_ICR_HIGH);
        for (int i = 0; i < LVT_COUNT; i++) {
            lvt[i] = lapic.register(LVT_REGISTERS[i]);
        }
        timerInitial = lapic.register(REG_TIMER_INITIAL);
        timerDivide = lapic.register(REG_TIMER_DIVIDE) & 0xb;
        timerDueHostTsc = Long.MAX_VALUE;
        tscDeadline = 0;
        if (timerMode() == TIMER_TSC_DEADLINE) {
            tscDeadline = lapic.tscDeadline();
            armTscDeadline();
        } else if (lapic.timerRemainingTsc() >= 0 && timerInitial != 0) {
            long now = host.hostTscNow();
            long guestNow = host.guestTscAt(now);
            timerDueHostTsc = host.hostTscForGuestTsc(guestNow + lapic.timerRemainingTsc());
            timerStartHostTsc = now - (host.hostTscForGuestTsc(guestNow + lapic.timerElapsedTsc()) - now);
        }
        irrNonEmpty = highestBit(irr) >= 0;
        updateExtIntOpen();
        if (irrNonEmpty) {
            host.interruptPending();
        }
    }

    private static void putRegister(byte[] page, int offset, int value) {
        page[offset] = (byte) value;
        page[offset + 1] = (byte) (value >>> 8);
        page[offset + 2] = (byte) (value >>> 16);
        page[offset + 3] = (byte) (value >>> 24);
    }
}

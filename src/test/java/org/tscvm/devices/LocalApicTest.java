package org.tscvm.devices;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tscvm.cpu.CpuFault;
import org.tscvm.cpu.Msr;
import org.tscvm.vm.MsrOrigin;

class LocalApicTest {
    private static final long BASE = LocalApic.DEFAULT_BASE;

    /** A vCPU whose host clock runs at 1 GHz and whose guest TSC = host clock + offset. */
    static final class FakeVcpu implements LocalApic.Host {
        long hostTsc = 1_000_000;
        long guestOffset;
        int kicks;
        final List<String> events = new ArrayList<>();

        @Override
        public long hostTscNow() {
            return hostTsc;
        }

        @Override
        public long hostKhz() {
            return 1_000_000;
        }

        @Override
        public long guestTscAt(long host) {
            return host + guestOffset;
        }

        @Override
        public long hostTscForGuestTsc(long guestTsc) {
            return guestTsc - guestOffset;
        }

        @Override
        public void interruptPending() {
            kicks++;
        }

        @Override
        public void init() {
            events.add("INIT");
        }

        @Override
        public void startup(int vector) {
            events.add("SIPI " + Integer.toHexString(vector));
        }

        @Override
        public void nmi() {
            events.add("NMI");
        }
    }

    private final ApicBus bus = new ApicBus();
    private final FakeVcpu cpu0 = new FakeVcpu();
    private final LocalApic apic = new LocalApic(0, true, 40, cpu0, bus);

    private int read(int reg) {
        return (int) apic.readMmio(BASE + reg, 4);
    }

    private void write(int reg, int value) {
        apic.writeMmio(BASE + reg, 4, value & 0xffffffffL);
    }

    private void softwareEnable() {
        write(LocalApic.REG_SVR, 0x1ff);
    }

    @Test
    void xapicPageShowsIdVersionAndTheResetSvr() {
        assertThat(apic.claimsMmio(BASE + 0x20)).isTrue();
        assertThat(apic.claimsMmio(BASE + 0x1000)).isFalse();
        assertThat(read(LocalApic.REG_ID)).isZero();
        assertThat(read(LocalApic.REG_VERSION) & 0xff).isEqualTo(0x14);
        assertThat(read(LocalApic.REG_SVR)).isEqualTo(0xff);
        assertThat(apic.readMsr(Msr.IA32_APIC_BASE, MsrOrigin.GUEST))
                .isEqualTo(BASE | LocalApic.BASE_ENABLE | LocalApic.BASE_BSP);
    }

    @Test
    void pvSendIpiDeliversToEachApicIdOfTheBitmapAndCountsThem() {
        // KVM kvm_pv_send_ipi: bit i of the bitmap names APIC id min + i; returns the count.
        LocalApic apic1 = new LocalApic(1, false, 40, new FakeVcpu(), bus);
        apic1.writeMmio(BASE + LocalApic.REG_SVR, 4, 0x1ff);
        assertThat(apic.sendPvIpi(0b10, 0, 0, 0x41, true)).isEqualTo(1);
        assertThat(apic1.pendingInterrupt()).isEqualTo(0x41);
        assertThat(apic.sendPvIpi(-1L, 0, 0xffffffffL, 0x41, true)).isZero();
        assertThat(apic.sendPvIpi(1, 0, 0, 0x41 | (1 << 18), true)).isEqualTo(-22);
    }

    @Test
    void cr8IsTheTaskPriorityClass() {
        // SDM Vol. 3A 10.8.6.1: CR8[3:0] = TPR[7:4]; a CR8 write clears TPR[3:0].
        write(LocalApic.REG_TPR, 0x5a);
        assertThat(apic.cr8()).isEqualTo(5);
        apic.setCr8(0xf);
        assertThat(read(LocalApic.REG_TPR)).isEqualTo(0xf0);
        apic.setCr8(0);
        assertThat(read(LocalApic.REG_TPR)).isZero();
    }

    @Test
    void x2apicMsrsAreGpWhileX2apicIsOffAndWorkAfterExtd() {
        assertThatThrownBy(() -> apic.readMsr(0x802, MsrOrigin.GUEST)).isInstanceOf(CpuFault.class);
        apic.writeMsr(Msr.IA32_APIC_BASE, BASE | LocalApic.BASE_ENABLE | LocalApic.BASE_EXTD | LocalApic.BASE_BSP,
                MsrOrigin.GUEST);
        assertThat(apic.isX2Apic()).isTrue();
        assertThat(apic.claimsMmio(BASE)).isFalse();
        assertThat(apic.readMsr(0x802, MsrOrigin.GUEST)).isZero();
        assertThat(apic.readMsr(0x80d, MsrOrigin.GUEST)).isEqualTo(1); // LDR: cluster 0, bit 0
        // Going back to xAPIC directly is an invalid transition.
        assertThatThrownBy(() -> apic.writeMsr(Msr.IA32_APIC_BASE, BASE | LocalApic.BASE_ENABLE | LocalApic.BASE_BSP,
                MsrOrigin.GUEST)).isInstanceOf(CpuFault.class);
        // Writing a read-only x2APIC register, or the upper half, is #GP.
        assertThatThrownBy(() -> apic.writeMsr(0x802, 5, MsrOrigin.GUEST)).isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> apic.writeMsr(0x808, 1L << 32, MsrOrigin.GUEST)).isInstanceOf(CpuFault.class);
    }

    @Test
    void apicBaseDisableAndReEnableBringTheApicBackInItsPowerUpState() {
        softwareEnable();
        write(LocalApic.REG_TPR, 0x20);
        apic.writeMsr(Msr.IA32_APIC_BASE, BASE | LocalApic.BASE_BSP, MsrOrigin.GUEST);
        assertThat(apic.isEnabled()).isFalse();
        assertThat(apic.claimsMmio(BASE)).isFalse();
        apic.writeMsr(Msr.IA32_APIC_BASE, BASE | LocalApic.BASE_ENABLE | LocalApic.BASE_BSP, MsrOrigin.GUEST);
        assertThat(apic.claimsMmio(BASE)).isTrue();
        assertThat(read(LocalApic.REG_SVR)).isEqualTo(0xff);
        assertThat(read(LocalApic.REG_TPR)).isZero();
        // x2APIC can be entered from disabled only through xAPIC.
        apic.writeMsr(Msr.IA32_APIC_BASE, BASE | LocalApic.BASE_BSP, MsrOrigin.GUEST);
        assertThatThrownBy(() -> apic.writeMsr(Msr.IA32_APIC_BASE, BASE | LocalApic.BASE_EXTD | LocalApic.BASE_BSP,
                MsrOrigin.GUEST)).isInstanceOf(CpuFault.class);
        // SDM 10.12.5 figure 10-27: disabled -> x2APIC directly is invalid too.
        assertThatThrownBy(() -> apic.writeMsr(Msr.IA32_APIC_BASE,
                BASE | LocalApic.BASE_ENABLE | LocalApic.BASE_EXTD | LocalApic.BASE_BSP, MsrOrigin.GUEST))
                .isInstanceOf(CpuFault.class);
        assertThat(apic.isEnabled()).isFalse();
    }

    @Test
    void apicBaseReservedBitsAreGpForTheGuest() {
        assertThatThrownBy(() -> apic.writeMsr(Msr.IA32_APIC_BASE,
                BASE | LocalApic.BASE_ENABLE | LocalApic.BASE_BSP | (1L << 40), MsrOrigin.GUEST))
                .isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> apic.writeMsr(Msr.IA32_APIC_BASE,
                BASE | LocalApic.BASE_ENABLE | LocalApic.BASE_BSP | 1, MsrOrigin.GUEST))
                .isInstanceOf(CpuFault.class);
    }

    @Test
    void apicBaseRelocatesTheMmioPage() {
        apic.writeMsr(Msr.IA32_APIC_BASE, 0xfed0_0000L | LocalApic.BASE_ENABLE | LocalApic.BASE_BSP, MsrOrigin.GUEST);
        assertThat(apic.claimsMmio(BASE)).isFalse();
        assertThat(apic.claimsMmio(0xfed0_0030L)).isTrue();
        assertThat(apic.readMmio(0xfed0_0030L, 4) & 0xff).isEqualTo(0x14);
    }

    @Test
    void aFixedSelfIpiIsPendingThenInServiceUntilEoi() {
        softwareEnable();
        write(LocalApic.REG_ICR_LOW, (LocalApic.SHORTHAND_SELF << 18) | 0x41);
        assertThat(read(LocalApic.REG_IRR + 0x20) & 2).isEqualTo(2); // vector 0x41 = IRR word 2 bit 1
        assertThat(apic.pendingInterrupt()).isEqualTo(0x41);
        assertThat(apic.acknowledgeInterrupt()).isEqualTo(0x41);
        assertThat(read(LocalApic.REG_ISR + 0x20) & 2).isEqualTo(2);
        assertThat(read(LocalApic.REG_PPR)).isEqualTo(0x40);
        assertThat(apic.pendingInterrupt()).isEqualTo(-1);
        write(LocalApic.REG_EOI, 0);
        assertThat(read(LocalApic.REG_ISR + 0x20)).isZero();
        assertThat(read(LocalApic.REG_ICR_LOW) & (1 << 12)).isZero(); // delivery status idle
        assertThat(cpu0.kicks).isPositive();
    }

    @Test
    void tprHoldsBackInterruptsOfItsClassAndBelow() {
        softwareEnable();
        write(LocalApic.REG_TPR, 0x50);
        write(LocalApic.REG_ICR_LOW, (LocalApic.SHORTHAND_SELF << 18) | 0x55);
        assertThat(apic.pendingInterrupt()).isEqualTo(-1);
        write(LocalApic.REG_ICR_LOW, (LocalApic.SHORTHAND_SELF << 18) | 0x61);
        assertThat(apic.pendingInterrupt()).isEqualTo(0x61);
        assertThat(apic.acknowledgeInterrupt()).isEqualTo(0x61);
        // Lowering the TPR unblocks 0x55: the vCPU is woken to look again (eventinj's TPR test).
        int kicksBefore = cpu0.kicks;
        write(LocalApic.REG_TPR, 0);
        assertThat(cpu0.kicks).isGreaterThan(kicksBefore);
        write(LocalApic.REG_EOI, 0);
        assertThat(apic.pendingInterrupt()).isEqualTo(0x55);
    }

    @Test
    void illegalVectorsAreReportedInEsrAfterAWrite() {
        softwareEnable();
        write(LocalApic.REG_ICR_LOW, (LocalApic.SHORTHAND_SELF << 18) | 0x05);
        assertThat(apic.pendingInterrupt()).isEqualTo(-1);
        write(LocalApic.REG_ESR, 0);
        assertThat(read(LocalApic.REG_ESR) & 0x20).isEqualTo(0x20);
    }

    @Test
    void initAndStartupReachTheTargetApicAndInitDeassertIsIgnored() {
        FakeVcpu cpu1 = new FakeVcpu();
        new LocalApic(1, false, 40, cpu1, bus);
        write(LocalApic.REG_ICR_HIGH, 1 << 24);
        write(LocalApic.REG_ICR_LOW, 0x0000c500); // INIT, level assert
        write(LocalApic.REG_ICR_LOW, 0x00008500); // INIT level de-assert
        write(LocalApic.REG_ICR_LOW, 0x00000608); // STARTUP vector 8
        assertThat(cpu1.events).containsExactly("INIT", "SIPI 8");
        assertThat(cpu0.events).isEmpty();
    }

    @Test
    void shorthandsSelectSelfAllAndAllButSelf() {
        FakeVcpu cpu1 = new FakeVcpu();
        FakeVcpu cpu2 = new FakeVcpu();
        LocalApic apic1 = new LocalApic(1, false, 40, cpu1, bus);
        LocalApic apic2 = new LocalApic(2, false, 40, cpu2, bus);
        apic1.writeMmio(BASE + LocalApic.REG_SVR, 4, 0x1ff);
        apic2.writeMmio(BASE + LocalApic.REG_SVR, 4, 0x1ff);
        softwareEnable();
        write(LocalApic.REG_ICR_LOW, (LocalApic.SHORTHAND_ALL_BUT_SELF << 18) | 0x70);
        assertThat(apic.pendingInterrupt()).isEqualTo(-1);
        assertThat(apic1.pendingInterrupt()).isEqualTo(0x70);
        assertThat(apic2.pendingInterrupt()).isEqualTo(0x70);
        write(LocalApic.REG_ICR_LOW, (LocalApic.SHORTHAND_ALL << 18) | 0x80);
        assertThat(apic.pendingInterrupt()).isEqualTo(0x80);
        write(LocalApic.REG_ICR_LOW, (LocalApic.SHORTHAND_ALL << 18) | (LocalApic.DM_NMI << 8));
        assertThat(cpu1.events).containsExactly("NMI");
        // Physical destination 2 only.
        write(LocalApic.REG_ICR_HIGH, 2 << 24);
        write(LocalApic.REG_ICR_LOW, 0x90);
        assertThat(apic2.acknowledgeInterrupt()).isEqualTo(0x90);
        assertThat(apic1.acknowledgeInterrupt()).isEqualTo(0x80);
    }

    @Test
    void x2apicIcrIsOneSixtyFourBitWriteWithA32BitDestination() {
        FakeVcpu cpu1 = new FakeVcpu();
        LocalApic apic1 = new LocalApic(1, false, 40, cpu1, bus);
        apic1.writeMmio(BASE + LocalApic.REG_SVR, 4, 0x1ff);
        apic.writeMsr(Msr.IA32_APIC_BASE, BASE | LocalApic.BASE_ENABLE | LocalApic.BASE_EXTD | LocalApic.BASE_BSP,
                MsrOrigin.GUEST);
        apic.writeMsr(0x830, (1L << 32) | 0x66, MsrOrigin.GUEST);
        assertThat(apic1.pendingInterrupt()).isEqualTo(0x66);
        apic.writeMsr(0x83f, 0x77, MsrOrigin.GUEST); // SELF_IPI
        apic.writeMsr(0x80f, 0x1ff, MsrOrigin.GUEST);
        assertThat(apic.pendingInterrupt()).isEqualTo(0x77);
        // SDM 10.12.11: SELF_IPI bits 31:8 are reserved; LVT CMCI (0x82f) is absent with MAXLVT=5.
        assertThatThrownBy(() -> apic.writeMsr(0x83f, 0x100, MsrOrigin.GUEST)).isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> apic.readMsr(0x82f, MsrOrigin.GUEST)).isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> apic.writeMsr(0x82f, 0, MsrOrigin.GUEST)).isInstanceOf(CpuFault.class);
    }

    @Test
    void oneShotTimerCountsDownAndFiresOnce() {
        softwareEnable();
        write(LocalApic.REG_TIMER_DIVIDE, 0xb); // divide by 1
        write(LocalApic.REG_LVT_TIMER, 0x30);
        write(LocalApic.REG_TIMER_INITIAL, 1000);
        long start = cpu0.hostTsc;
        assertThat(apic.nextEventHostTsc()).isEqualTo(start + 1000);
        cpu0.hostTsc += 400;
        assertThat(read(LocalApic.REG_TIMER_CURRENT)).isEqualTo(600);
        apic.onTime(cpu0.hostTsc);
        assertThat(apic.pendingInterrupt()).isEqualTo(-1);
        cpu0.hostTsc = start + 1000;
        apic.onTime(cpu0.hostTsc);
        assertThat(apic.pendingInterrupt()).isEqualTo(0x30);
        assertThat(read(LocalApic.REG_TIMER_CURRENT)).isZero();
        assertThat(apic.nextEventHostTsc()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void periodicTimerReArmsAndTheDividerSlowsIt() {
        softwareEnable();
        write(LocalApic.REG_TIMER_DIVIDE, 0x3); // divide by 16
        write(LocalApic.REG_LVT_TIMER, (LocalApic.TIMER_PERIODIC << 17) | 0x31);
        write(LocalApic.REG_TIMER_INITIAL, 100);
        long start = cpu0.hostTsc;
        assertThat(apic.nextEventHostTsc()).isEqualTo(start + 1600);
        cpu0.hostTsc = start + 1600;
        apic.onTime(cpu0.hostTsc);
        assertThat(apic.acknowledgeInterrupt()).isEqualTo(0x31);
        assertThat(apic.nextEventHostTsc()).isEqualTo(start + 3200);
        cpu0.hostTsc = start + 1600 + 16 * 30;
        assertThat(read(LocalApic.REG_TIMER_CURRENT)).isEqualTo(70);
    }

    @Test
    void tscDeadlineMsrReadsZeroAndIgnoresWritesOutsideTscDeadlineModeR23() {
        softwareEnable();
        apic.writeMsr(Msr.IA32_TSC_DEADLINE, 5_000_000, MsrOrigin.GUEST);
        assertThat(apic.readMsr(Msr.IA32_TSC_DEADLINE, MsrOrigin.GUEST)).isZero();
        assertThat(apic.nextEventHostTsc()).isEqualTo(Long.MAX_VALUE);
        write(LocalApic.REG_LVT_TIMER, (LocalApic.TIMER_TSC_DEADLINE << 17) | 0x40);
        assertThat(apic.readMsr(Msr.IA32_TSC_DEADLINE, MsrOrigin.GUEST)).isZero();
        apic.writeMsr(Msr.IA32_TSC_DEADLINE, 5_000_000, MsrOrigin.GUEST);
        assertThat(apic.readMsr(Msr.IA32_TSC_DEADLINE, MsrOrigin.GUEST)).isEqualTo(5_000_000);
        // In TSC-deadline mode the initial-count register is ignored and the current count reads 0.
        write(LocalApic.REG_TIMER_INITIAL, 10);
        assertThat(read(LocalApic.REG_TIMER_INITIAL)).isZero();
    }

    @Test
    void tscDeadlineFiresWhenTheGuestTscWithItsOffsetReachesItR23() {
        softwareEnable();
        cpu0.guestOffset = 10_000_000; // guest TSC runs 10 M ahead of the host clock
        write(LocalApic.REG_LVT_TIMER, (LocalApic.TIMER_TSC_DEADLINE << 17) | 0x40);
        apic.writeMsr(Msr.IA32_TSC_DEADLINE, 12_000_000, MsrOrigin.GUEST);
        assertThat(apic.nextEventHostTsc()).isEqualTo(2_000_000);
        cpu0.hostTsc = 1_999_999;
        apic.onTime(cpu0.hostTsc);
        assertThat(apic.pendingInterrupt()).isEqualTo(-1);
        cpu0.hostTsc = 2_000_000;
        apic.onTime(cpu0.hostTsc);
        assertThat(apic.pendingInterrupt()).isEqualTo(0x40);
        // After it fires the MSR reads 0 (R23).
        assertThat(apic.readMsr(Msr.IA32_TSC_DEADLINE, MsrOrigin.GUEST)).isZero();
    }

    @Test
    void aDeadlineAlreadyPassedFiresDuringTheWrmsrR23() {
        // KVM expires a past deadline at once: the interrupt is pending before the next instruction.
        softwareEnable();
        write(LocalApic.REG_LVT_TIMER, (LocalApic.TIMER_TSC_DEADLINE << 17) | 0x40);
        apic.writeMsr(Msr.IA32_TSC_DEADLINE, cpu0.hostTsc, MsrOrigin.GUEST);
        assertThat(apic.pendingInterrupt()).isEqualTo(0x40);
        assertThat(apic.readMsr(Msr.IA32_TSC_DEADLINE, MsrOrigin.GUEST)).isZero();
        assertThat(apic.nextEventHostTsc()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void aTscAdjustWriteReArmsThePendingDeadline() {
        softwareEnable();
        write(LocalApic.REG_LVT_TIMER, (LocalApic.TIMER_TSC_DEADLINE << 17) | 0x40);
        apic.writeMsr(Msr.IA32_TSC_DEADLINE, 3_000_000, MsrOrigin.GUEST);
        assertThat(apic.nextEventHostTsc()).isEqualTo(3_000_000);
        // The guest adds 1 M to TSC_ADJUST: its TSC moves forward, so the deadline comes sooner.
        cpu0.guestOffset += 1_000_000;
        apic.onGuestTscChanged();
        assertThat(apic.nextEventHostTsc()).isEqualTo(2_000_000);
        // Moving the TSC past the deadline makes it due at once.
        cpu0.guestOffset += 5_000_000;
        apic.onGuestTscChanged();
        assertThat(apic.nextEventHostTsc()).isEqualTo(cpu0.hostTsc);
        apic.onTime(cpu0.hostTsc);
        assertThat(apic.pendingInterrupt()).isEqualTo(0x40);
    }

    @Test
    void aDeadlineInThePastFiresAtOnce() {
        softwareEnable();
        write(LocalApic.REG_LVT_TIMER, (LocalApic.TIMER_TSC_DEADLINE << 17) | 0x40);
        apic.writeMsr(Msr.IA32_TSC_DEADLINE, 1, MsrOrigin.GUEST);
        assertThat(apic.pendingInterrupt()).isEqualTo(0x40); // fired during the WRMSR
        assertThat(apic.nextEventHostTsc()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void switchingBetweenOneShotAndPeriodicKeepsCountingButTscDeadlineStopsTheTimer() {
        // KVM apic_update_lvtt: only a switch into or out of TSC-deadline mode clears TMICT.
        softwareEnable();
        write(LocalApic.REG_TIMER_DIVIDE, 0xb); // divide by 1
        write(LocalApic.REG_LVT_TIMER, 0x30);
        write(LocalApic.REG_TIMER_INITIAL, 1000);
        long start = cpu0.hostTsc;
        cpu0.hostTsc += 600;
        write(LocalApic.REG_LVT_TIMER, (LocalApic.TIMER_PERIODIC << 17) | 0x30);
        assertThat(read(LocalApic.REG_TIMER_INITIAL)).isEqualTo(1000);
        assertThat(read(LocalApic.REG_TIMER_CURRENT)).isEqualTo(400);
        assertThat(apic.nextEventHostTsc()).isEqualTo(start + 1000);
        cpu0.hostTsc = start + 1000;
        apic.onTime(cpu0.hostTsc);
        assertThat(apic.nextEventHostTsc()).as("periodic now: re-armed").isEqualTo(start + 2000);
        write(LocalApic.REG_LVT_TIMER, (LocalApic.TIMER_TSC_DEADLINE << 17) | 0x30);
        assertThat(apic.nextEventHostTsc()).isEqualTo(Long.MAX_VALUE);
        assertThat(read(LocalApic.REG_TIMER_INITIAL)).isZero();
    }

    @Test
    void aOneShotCountThatRanOutStaysZeroAfterASwitchToPeriodic() {
        // KVM: the one-shot expired (even if the run loop has not fired it yet); periodic does not restart it.
        softwareEnable();
        write(LocalApic.REG_TIMER_DIVIDE, 0xb); // divide by 1
        write(LocalApic.REG_LVT_TIMER, 0x30);
        write(LocalApic.REG_TIMER_INITIAL, 1000);
        cpu0.hostTsc += 1500;
        write(LocalApic.REG_LVT_TIMER, (LocalApic.TIMER_PERIODIC << 17) | 0x30);
        assertThat(read(LocalApic.REG_TIMER_CURRENT)).isZero();
        assertThat(apic.pendingInterrupt()).isEqualTo(0x30);
        assertThat(apic.nextEventHostTsc()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void softwareDisableMasksEveryLvt() {
        softwareEnable();
        write(LocalApic.REG_LVT_TIMER, 0x30);
        assertThat(read(LocalApic.REG_LVT_TIMER) & LocalApic.LVT_MASKED).isZero();
        write(LocalApic.REG_SVR, 0xff);
        assertThat(read(LocalApic.REG_LVT_TIMER) & LocalApic.LVT_MASKED).isEqualTo(LocalApic.LVT_MASKED);
    }

    @Test
    void lint0ExtIntPassesThePicInterruptThrough() {
        PicPair pic = new PicPair(IrqLine.NONE);
        apic.setExtIntSource(pic);
        pic.master().write(0, 1, 0x11);
        pic.master().write(1, 1, 0x20);
        pic.master().write(1, 1, 0x04);
        pic.master().write(1, 1, 0x01);
        pic.irq(0).pulse();
        assertThat(apic.pendingInterrupt()).isEqualTo(0x20);
        assertThat(apic.acknowledgeInterrupt()).isEqualTo(0x20);
        assertThat(apic.pendingInterrupt()).isEqualTo(-1);
        // Masking LINT0 closes the path.
        softwareEnable();
        write(LocalApic.REG_LVT_LINT0, LocalApic.LVT_MASKED | 0x700);
        pic.master().write(0, 1, 0x20);
        pic.irq(1).pulse();
        assertThat(apic.pendingInterrupt()).isEqualTo(-1);
    }

    @Test
    void restoreWithAPendingInterruptAndArmedDeadlineKeepsBoth() {
        softwareEnable();
        write(LocalApic.REG_LVT_TIMER, (LocalApic.TIMER_TSC_DEADLINE << 17) | 0x40);
        apic.writeMsr(Msr.IA32_TSC_DEADLINE, 4_000_000, MsrOrigin.GUEST);
        write(LocalApic.REG_ICR_LOW, (LocalApic.SHORTHAND_SELF << 18) | 0x51);
        LocalApic.State saved = apic.saveState();

        FakeVcpu other = new FakeVcpu();
        other.hostTsc = 500; // a different host: the deadline is re-derived from the guest TSC
        other.guestOffset = 1_000_000 - 500;
        LocalApic copy = new LocalApic(0, true, 40, other, new ApicBus());
        copy.restoreState(saved);
        assertThat(other.kicks).isPositive();
        assertThat(copy.pendingInterrupt()).isEqualTo(0x51);
        assertThat(copy.readMsr(Msr.IA32_TSC_DEADLINE, MsrOrigin.GUEST)).isEqualTo(4_000_000);
        assertThat(copy.nextEventHostTsc()).isEqualTo(4_000_000 - other.guestOffset);
    }
}

package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tscvm.cpu.CpuBus;
import org.tscvm.cpu.CpuFault;

/**
 * The MSRs Linux 6.1 touches at boot beyond the TSC and APIC ones (linux.md section 4.9): the
 * microcode revision and the MTRRs, with KVM's rules (arch/x86/kvm/x86.c, mtrr.c).
 */
class VcpuPlatformMsrTest {
    private final TestVms t = TestVms.create();
    private final Vcpu vcpu = t.vm.createVcpu();
    private final CpuBus guest = vcpu.guest();

    @Test
    void ucodeRevAcceptsTheGuestsWriteAndReadsTheRevisionInTheHighHalf() {
        // Linux's intel_get_microcode_revision: WRMSR 0x8b, 0; CPUID 1; RDMSR 0x8b.
        guest.wrmsr(Vcpu.IA32_UCODE_REV, 0);
        assertThat(guest.rdmsr(Vcpu.IA32_UCODE_REV)).isEqualTo(Vcpu.DEFAULT_MICROCODE_REVISION);
        assertThat(guest.rdmsr(Vcpu.IA32_UCODE_REV) >>> 32).isEqualTo(1);
        vcpu.setMsr(Vcpu.IA32_UCODE_REV, 0x2aL << 32);
        assertThat(guest.rdmsr(Vcpu.IA32_UCODE_REV)).isEqualTo(0x2aL << 32);
    }

    @Test
    void amdsLegacyPerformanceMsrsExistOnlyWithAnAmdModelAndStoreWithoutCounting() {
        // kvm-unit-tests' pmu_init on an AMD vendor zeroes PerfEvtSel0-3 and PerfCtr0-3 (0xC0010000-7).
        assertThatThrownBy(() -> guest.wrmsr(0xC0010000, 0)).as("Intel model").isInstanceOf(CpuFault.class);
        vcpu.setCpuid(CpuidModel.parse("tscvm,vendor=AuthenticAMD"));
        for (int i = 0; i < 8; i++) {
            guest.wrmsr(0xC0010000 + i, 0x10 + i);
            assertThat(guest.rdmsr(0xC0010000 + i)).isEqualTo(0x10 + i);
        }
        assertThatThrownBy(() -> guest.rdmsr(0xC0010008)).isInstanceOf(CpuFault.class);
    }

    @Test
    void mtrrCapReportsEightVariableRangesFixedRangesAndWriteCombiningAndIsReadOnly() {
        assertThat(guest.rdmsr(Mtrrs.MTRR_CAP)).isEqualTo(0x508);
        assertThatThrownBy(() -> guest.wrmsr(Mtrrs.MTRR_CAP, 0x508)).isInstanceOf(CpuFault.class);
    }

    @Test
    void mtrrsStoreWhatTheGuestWritesAndRefuseInvalidTypesAndReservedBits() {
        assertThat(guest.rdmsr(Mtrrs.DEF_TYPE)).isZero();
        guest.wrmsr(Mtrrs.DEF_TYPE, 0xc06);
        assertThat(guest.rdmsr(Mtrrs.DEF_TYPE)).isEqualTo(0xc06);
        assertThatThrownBy(() -> guest.wrmsr(Mtrrs.DEF_TYPE, 0xc02)).as("type 2 is reserved").isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> guest.wrmsr(Mtrrs.DEF_TYPE, 0x1006)).isInstanceOf(CpuFault.class);

        guest.wrmsr(Mtrrs.FIX_4K_F8000, 0x0505_0505_0505_0505L);
        assertThat(guest.rdmsr(Mtrrs.FIX_4K_F8000)).isEqualTo(0x0505_0505_0505_0505L);
        assertThatThrownBy(() -> guest.wrmsr(Mtrrs.FIX_16K_A0000, 0x0700_0000_0000_0000L)).isInstanceOf(CpuFault.class);

        guest.wrmsr(Mtrrs.PHYS_BASE_0 + 14, 0xc000_0000L);
        guest.wrmsr(Mtrrs.PHYS_BASE_0 + 15, 0xff_c000_0800L);
        assertThat(guest.rdmsr(Mtrrs.PHYS_BASE_0 + 14)).isEqualTo(0xc000_0000L);
        assertThat(guest.rdmsr(Mtrrs.PHYS_BASE_0 + 15)).isEqualTo(0xff_c000_0800L);
        assertThatThrownBy(() -> guest.wrmsr(Mtrrs.PHYS_BASE_0 + 1, 0x100_0000_0800L))
                .as("above MAXPHYADDR").isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> guest.wrmsr(Mtrrs.PHYS_BASE_0, 0x100L)).as("bits 11:8 of a base").isInstanceOf(CpuFault.class);
    }
}

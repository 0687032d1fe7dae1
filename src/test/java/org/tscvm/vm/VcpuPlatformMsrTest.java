package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tscvm.cpu.CpuBus;
import org.tscvm.cpu.CpuFault;
import org.tscvm.cpu.Msr;

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

    @Test
    void archCapabilitiesAndTsxCtrlExistWithTheirFeaturesAndTsxCtrlHidesAndDisablesRtm() {
        assertThatThrownBy(() -> guest.rdmsr(Msr.IA32_ARCH_CAPABILITIES)).as("default model").isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> guest.rdmsr(Msr.IA32_TSX_CTRL)).isInstanceOf(CpuFault.class);
        assertThat(guest.rtm()).isEqualTo(CpuBus.RTM_ABSENT);

        vcpu.setCpuid(CpuidModel.parse("tscvm,+rtm,+arch-capabilities"));
        long caps = guest.rdmsr(Msr.IA32_ARCH_CAPABILITIES);
        assertThat(caps & Vcpu.ARCH_CAP_TSX_CTRL_MSR).isNotZero();
        assertThat(caps & 1).as("RDCL_NO: an interpreter does not speculate").isEqualTo(1);
        assertThatThrownBy(() -> guest.wrmsr(Msr.IA32_ARCH_CAPABILITIES, caps)).as("read-only for the guest")
                .isInstanceOf(CpuFault.class);
        assertThat(guest.rtm()).isEqualTo(CpuBus.RTM_RUNS);
        int[] leaf7 = new int[4];
        guest.cpuid(7, 0, leaf7);
        assertThat(leaf7[1] & 1 << 11).as("CPUID RTM").isNotZero();

        guest.wrmsr(Msr.IA32_TSX_CTRL, Vcpu.TSX_CTRL_CPUID_CLEAR);
        guest.cpuid(7, 0, leaf7);
        assertThat(leaf7[1] & (1 << 11 | 1 << 4)).as("RTM and HLE hidden").isZero();
        assertThat(guest.rtm()).as("the instructions stay").isEqualTo(CpuBus.RTM_RUNS);
        guest.wrmsr(Msr.IA32_TSX_CTRL, Vcpu.TSX_CTRL_RTM_DISABLE);
        assertThat(guest.rtm()).isEqualTo(CpuBus.RTM_ABORTS);
        assertThatThrownBy(() -> guest.wrmsr(Msr.IA32_TSX_CTRL, 4)).isInstanceOf(CpuFault.class);

        // The host may clear bits of ARCH_CAPABILITIES (not add any); without TSX_CTRL_MSR the
        // guest loses IA32_TSX_CTRL, the host keeps it (KVM).
        vcpu.setMsr(Msr.IA32_ARCH_CAPABILITIES, caps & ~Vcpu.ARCH_CAP_TSX_CTRL_MSR);
        assertThatThrownBy(() -> guest.rdmsr(Msr.IA32_TSX_CTRL)).isInstanceOf(CpuFault.class);
        assertThat(vcpu.getMsr(Msr.IA32_TSX_CTRL)).isEqualTo(Vcpu.TSX_CTRL_RTM_DISABLE);
        assertThatThrownBy(() -> vcpu.setMsr(Msr.IA32_ARCH_CAPABILITIES, caps | 1 << 2))
                .isInstanceOf(MsrAccessException.class);
    }

    @Test
    void withASecondVcpuEveryTransactionAborts() {
        vcpu.setCpuid(CpuidModel.parse("tscvm,+rtm"));
        assertThat(guest.rtm()).isEqualTo(CpuBus.RTM_RUNS);
        t.vm.createVcpu();
        assertThat(guest.rtm()).as("no conflict detection between vCPUs").isEqualTo(CpuBus.RTM_ABORTS);
    }
}

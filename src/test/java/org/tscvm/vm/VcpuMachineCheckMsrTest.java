package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tscvm.cpu.CpuBus;
import org.tscvm.cpu.CpuFault;

/**
 * The machine-check MSRs with KVM's rules (arch/x86/kvm/x86.c set_msr_mce/get_msr_mce;
 * SDM Vol. 3B 16.3.1, 16.3.2), as kvm-unit-tests x86/msr.c test_mce_msrs checks them.
 */
class VcpuMachineCheckMsrTest {
    private static final long NONCANONICAL = 0xaaaa_aaaa_aaaa_aaaaL;
    private final TestVms t = TestVms.create();
    private final Vcpu vcpu = t.vm.createVcpu();
    private final CpuBus guest = vcpu.guest();

    private static int bankMsr(int bank, int which) {
        return MachineCheckBanks.MC0_CTL + 4 * bank + which;
    }

    @Test
    void mcgCapReportsTenBanksWithMcgCtlPresent() {
        long cap = guest.rdmsr(MachineCheckBanks.MCG_CAP);
        assertThat(cap & 0xff).isEqualTo(10);
        assertThat(cap & MachineCheckBanks.MCG_CTL_P).isNotZero();
        assertThatThrownBy(() -> guest.wrmsr(MachineCheckBanks.MCG_CAP, cap)).isInstanceOf(CpuFault.class);
    }

    @Test
    void bankCtlAcceptsOnlyZeroOrAllOnes() {
        int ctl = bankMsr(3, 0);
        assertThat(guest.rdmsr(ctl)).isEqualTo(-1L);
        guest.wrmsr(ctl, 0);
        assertThat(guest.rdmsr(ctl)).isZero();
        guest.wrmsr(ctl, -1L);
        assertThat(guest.rdmsr(ctl)).isEqualTo(-1L);
        assertThatThrownBy(() -> guest.wrmsr(ctl, NONCANONICAL)).isInstanceOf(CpuFault.class);
    }

    @Test
    void guestMayOnlyClearBankStatusButTheHostMayInjectAnError() {
        int status = bankMsr(0, 1);
        assertThatThrownBy(() -> guest.wrmsr(status, 1)).isInstanceOf(CpuFault.class);
        vcpu.setMsr(status, 1L << 63);
        assertThat(guest.rdmsr(status)).isEqualTo(1L << 63);
        guest.wrmsr(status, 0);
        assertThat(guest.rdmsr(status)).isZero();
    }

    @Test
    void bankAddrAndMiscTakeAnyValue() {
        guest.wrmsr(bankMsr(9, 2), NONCANONICAL);
        guest.wrmsr(bankMsr(9, 3), -1L);
        assertThat(guest.rdmsr(bankMsr(9, 2))).isEqualTo(NONCANONICAL);
        assertThat(guest.rdmsr(bankMsr(9, 3))).isEqualTo(-1L);
    }

    @Test
    void banksBeyondTheCountFaultOnReadAndWrite() {
        for (int which = 0; which < 4; which++) {
            int msr = bankMsr(10, which);
            assertThatThrownBy(() -> guest.rdmsr(msr)).isInstanceOf(CpuFault.class);
            assertThatThrownBy(() -> guest.wrmsr(msr, 0)).isInstanceOf(CpuFault.class);
        }
        assertThatThrownBy(() -> guest.rdmsr(bankMsr(31, 3))).isInstanceOf(CpuFault.class);
    }

    @Test
    void mcgCtlAcceptsOnlyZeroOrAllOnesAndMcgStatusAnything() {
        guest.wrmsr(MachineCheckBanks.MCG_CTL, 0);
        assertThat(guest.rdmsr(MachineCheckBanks.MCG_CTL)).isZero();
        assertThatThrownBy(() -> guest.wrmsr(MachineCheckBanks.MCG_CTL, 5)).isInstanceOf(CpuFault.class);
        guest.wrmsr(MachineCheckBanks.MCG_STATUS, 4);
        assertThat(guest.rdmsr(MachineCheckBanks.MCG_STATUS)).isEqualTo(4);
    }
}

package org.tscvm.machine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tscvm.vm.CpuidModel;
import org.tscvm.vm.MsrPolicy;
import org.tscvm.vm.VmConfig;

/** A MachineConfig holds the VmConfig its VM is created from, and checks with the command line's words first. */
class MachineConfigTest {
    @Test
    void theVmFieldsOfTheCommandLineLandInTheVmConfig() {
        MachineConfig c = MachineConfig.builder().kernel("k", new byte[1]).ramBytes(64L << 20)
                .clock(VmConfig.ClockKind.DETERMINISTIC).hostKhz(3_000_000).hostTscAdjust(77).tscKhz(1_000_000)
                .msrPolicy(MsrPolicy.STRICT).cpuModel("tscvm,-tsc-adjust").smp(4).sockets(2).compileThreshold(9)
                .build();
        VmConfig vm = c.vm();
        assertThat(vm.ramBytes()).isEqualTo(64L << 20).isEqualTo(c.ramBytes());
        assertThat(vm.clockKind()).isEqualTo(VmConfig.ClockKind.DETERMINISTIC).isEqualTo(c.clock());
        assertThat(vm.hostKhz()).isEqualTo(3_000_000);
        assertThat(vm.hostTscAdjust()).isEqualTo(77);
        assertThat(vm.defaultTscKhz()).isEqualTo(1_000_000);
        assertThat(vm.msrPolicy()).isEqualTo(MsrPolicy.STRICT);
        assertThat(vm.cpuid().has(CpuidModel.Feature.TSC_ADJUST)).isFalse();
        assertThat(vm.vcpusPerPackage()).isEqualTo(2);
        assertThat(vm.compileThreshold()).isEqualTo(9);
    }

    @Test
    void aBadValueIsReportedInTheCommandLinesTermsBeforeVmConfigSeesIt() {
        assertThatThrownBy(() -> MachineConfig.builder().kernel("k", new byte[1]).tscKhz(-1).build())
                .isInstanceOf(MachineConfigException.class).hasMessageContaining("--tsc-khz");
        assertThatThrownBy(() -> MachineConfig.builder().kernel("k", new byte[1]).smp(6).sockets(2).build())
                .isInstanceOf(MachineConfigException.class).hasMessageContaining("sockets");
    }
}

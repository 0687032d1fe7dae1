package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tscvm.machine.MachineConfig;

/** {@code -smp} in QEMU's forms, and the TSC presets' {@code VCPU=VALUE}. */
class SmpAndTscPresetOptionsTest {
    @Test
    void smpReadsQemusForms() {
        assertThat(Launcher.parseSmp("4")).isEqualTo(new Launcher.Smp(4, 1));
        assertThat(Launcher.parseSmp("cpus=4")).isEqualTo(new Launcher.Smp(4, 1));
        assertThat(Launcher.parseSmp("4,sockets=4")).isEqualTo(new Launcher.Smp(4, 4));
        assertThat(Launcher.parseSmp("4,sockets=2,cores=2,threads=1")).isEqualTo(new Launcher.Smp(4, 2));
        assertThat(Launcher.parseSmp("sockets=2,cores=4")).isEqualTo(new Launcher.Smp(8, 2));
        assertThat(Launcher.parseSmp("2,cores=1")).isEqualTo(new Launcher.Smp(2, 2));
        assertThat(Launcher.parseSmp("2,maxcpus=2")).isEqualTo(new Launcher.Smp(2, 1));
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "65", "x", "", "4,sockets=3", "6,sockets=2", "4,threads=2", "2,maxcpus=4",
        "4,sockets=2,cores=1", "4,frob=1", "4,sockets=", "99999999999"})
    void badSmpValuesAreOptionErrors(String text) {
        assertThatThrownBy(() -> Launcher.parseSmp(text))
                .isInstanceOfSatisfying(OptionException.class, e -> assertThat(e.status()).isEqualTo(ExitStatus.OPTION_VALUE))
                .hasMessageStartingWith("-smp " + text + ":");
    }

    @Test
    void presetsReadVcpuEqualsSignedValue() {
        assertThat(Launcher.parseVcpuValue("--tsc-warp", "1=-2500000")).isEqualTo(new MachineConfig.VcpuValue(1, -2_500_000));
        assertThat(Launcher.parseVcpuValue("--tsc-adjust", "0=0x10")).isEqualTo(new MachineConfig.VcpuValue(0, 16));
        for (String bad : new String[] {"1", "=5", "a=5", "1=", "1=x", "1234=5"}) {
            assertThatThrownBy(() -> Launcher.parseVcpuValue("--tsc-warp", bad))
                    .isInstanceOf(OptionException.class).hasMessageContaining("--tsc-warp " + bad);
        }
    }
}

package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.tscvm.cpu.Msr;

/** The Java example of README.md, kept compiling and true. */
class ReadmeExampleTest {
    @Test
    void theReadmeExampleBehavesAsItsCommentsSay() {
        Vm vm = Vm.create(VmConfig.builder().clockKind(VmConfig.ClockKind.DETERMINISTIC).build());
        Vcpu vcpu = vm.createVcpu();
        vcpu.setMsr(Msr.IA32_TSC, 72L << 30);
        assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).isZero(); // R9: host writes leave A alone
        long offset = vcpu.getTscOffset();
        vcpu.guest().wrmsr(Msr.IA32_TSC_ADJUST, 1L << 33);
        assertThat(vcpu.getTscOffset()).isEqualTo(offset + (1L << 33)); // R6, R24
        assertThat(vcpu.guest().rdmsr(Msr.IA32_TSC_ADJUST)).isEqualTo(1L << 33);
    }

    @Test
    void theReadmeKvmclockExampleBehavesAsItsCommentsSay() {
        VmConfig config = VmConfig.builder().clockKind(VmConfig.ClockKind.DETERMINISTIC)
                .cpuid(CpuidModel.parse("tscvm,+kvmclock,+kvmclock-stable-bit")).build();
        Vm vm = Vm.create(config);
        Vcpu vcpu = vm.createVcpu();
        Vm other = Vm.create(config);
        other.createVcpu();
        KvmClockData now = vm.getKvmClock();
        assertThat(now.flags()).isEqualTo(KvmClockData.TSC_STABLE | KvmClockData.REALTIME | KvmClockData.HOST_TSC);
        other.setKvmClock(KvmClockData.atRealtime(now.clock(), now.realtime()));
        assertThat(other.getKvmClock().clock()).isGreaterThanOrEqualTo(now.clock());
        vcpu.guest().wrmsr(KvmClock.MSR_KVM_SYSTEM_TIME_NEW, 0x2000 | 1);
        PvclockTimeInfo page = vcpu.getPvclockTimeInfo();
        assertThat(page.flags()).isEqualTo(KvmClock.PVCLOCK_TSC_STABLE_BIT);
        assertThat(vcpu.getTscScalingRatio()).isEqualTo(1L << vcpu.getTscScalingRatioFracBits());
    }
}

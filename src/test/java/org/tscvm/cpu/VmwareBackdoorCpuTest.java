package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * The CPU's half of KVM's enable_vmware_backdoor, at CPL 3 with IOPL 0, no I/O bitmap in the
 * TSS and CR4.PCE clear: the backdoor ports and the pseudo-PMCs pass the checks that raise
 * #GP for every other port and counter. The test code ends in UD2 (#UD, vector 6), so a #GP
 * (vector 13) shows which instruction was refused.
 */
class VmwareBackdoorCpuTest {
    private static final int UD = 6, GP = 13;

    private static CpuRig userRig(boolean backdoor, String code) {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setVmwareBackdoor(backdoor);
        rig.load(CpuRig.CODE, CpuRig.hex(code));
        rig.cpu.enterFlatLongMode(CpuRig.CODE, 0x1000, 3);
        rig.cpu.setGpr(Cpu.RSP, CpuRig.STACK_TOP);
        assertThat(rig.cpu.run(1000)).isEqualTo(RunStop.HALTED);
        return rig;
    }

    // mov edx, 0x5658; in eax, dx; ud2
    private static final String IN_BACKDOOR = "ba 58 56 00 00 ed 0f 0b";
    // mov edx, 0x5659; out dx, eax; ud2
    private static final String OUT_RPC = "ba 59 56 00 00 ef 0f 0b";
    // mov edx, 0x1234; in eax, dx; ud2
    private static final String IN_OTHER = "ba 34 12 00 00 ed 0f 0b";

    @Test
    void theBackdoorPortsPassTheIoPermissionCheckAtCpl3OnlyWithTheBackdoorOn() {
        CpuRig in = userRig(true, IN_BACKDOOR);
        assertThat(in.haltedInVector()).isEqualTo(UD);
        assertThat(in.bus.log).containsExactly("in 5658/4");
        assertThat(in.reg(Cpu.RAX)).isEqualTo(0xab);

        CpuRig out = userRig(true, OUT_RPC);
        assertThat(out.haltedInVector()).isEqualTo(UD);
        assertThat(out.bus.log).hasSize(1).first().asString().startsWith("out 5659/4=");

        CpuRig off = userRig(false, IN_BACKDOOR);
        assertThat(off.haltedInVector()).isEqualTo(GP);
        assertThat(off.bus.log).isEmpty();
    }

    @Test
    void anyOtherPortStaysRefusedAtCpl3WithTheBackdoorOn() {
        CpuRig rig = userRig(true, IN_OTHER);
        assertThat(rig.haltedInVector()).isEqualTo(GP);
        assertThat(rig.bus.log).isEmpty();
    }

    // mov ecx, 0x10001; rdpmc; ud2
    private static final String RDPMC_REAL_TIME = "b9 01 00 01 00 0f 33 0f 0b";
    // mov ecx, 1; rdpmc; ud2
    private static final String RDPMC_1 = "b9 01 00 00 00 0f 33 0f 0b";

    @Test
    void pseudoPmcsReadAtCpl3WithoutCr4PceOnlyWithTheBackdoorOn() {
        CpuRig on = userRig(true, RDPMC_REAL_TIME);
        assertThat(on.haltedInVector()).isEqualTo(UD);
        assertThat(on.reg(Cpu.RAX)).isEqualTo(0x10001);
        assertThat(on.reg(Cpu.RDX)).isEqualTo(1);
        assertThat(on.bus.log).containsExactly("pseudo-pmc 10001");

        CpuRig off = userRig(false, RDPMC_REAL_TIME);
        assertThat(off.haltedInVector()).isEqualTo(GP);
        assertThat(off.bus.log).isEmpty();
    }

    @Test
    void rdpmcOfARealCounterAtCpl3WithoutCr4PceIsGpEvenWithTheBackdoorOn() {
        CpuRig rig = userRig(true, RDPMC_1);
        assertThat(rig.haltedInVector()).isEqualTo(GP);
        assertThat(rig.bus.log).isEmpty();
    }

    @Test
    void rdpmcAtCpl0ReadsThePlatformsCounterIntoEdxEax() {
        CpuRig rig = new CpuRig().longMode().run(CpuRig.hex("b9 01 00 00 00 0f 33 f4"));
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(0x101);
        assertThat(rig.reg(Cpu.RDX)).isZero();

        CpuRig bad = new CpuRig().longMode().run(CpuRig.hex("b9 40 00 00 00 0f 33 f4"));
        assertThat(bad.haltedInVector()).as("RDPMC(64)").isEqualTo(GP);
    }
}

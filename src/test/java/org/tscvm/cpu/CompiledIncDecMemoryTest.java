package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * INC and DEC of memory in compiled code: the value, OF/SF/ZF/AF/PF from the result, CF kept
 * from before (an ADC reads it), and a fault on the destination leaving memory and flags as
 * they were, compiled as interpreted.
 */
class CompiledIncDecMemoryTest {
    private static final long UNMAPPED = 0x4000_0000L; // PDPT entry 1 is not present

    /** stc; inc qword [rbx]; dec dword [rbx+8]; adc rax, 0; inc qword [rcx]; hlt. */
    private static final String CODE = "f9 48 ff 03 ff 4b 08 48 83 d0 00 48 ff 01 f4";

    @Test
    void incAndDecOfMemoryKeepCarryAndSetTheOtherFlagsAsInterpreted() {
        CpuRig interpreted = rig(0, 0x31000);
        CpuRig compiled = rig(1, 0x31000);
        assertThat(compiled.cpu.run(100)).isEqualTo(interpreted.cpu.run(100)).isEqualTo(RunStop.HALTED);
        CpuRig.assertSameState(compiled, interpreted);
        assertThat(compiled.cpu.compiledBlocks()).isPositive();
        for (CpuRig r : new CpuRig[] {interpreted, compiled}) {
            assertThat(r.r64(0x30000)).isEqualTo(0x8000_0000_0000_0000L);
            assertThat(r.r64(0x30008) & 0xffff_ffffL).isEqualTo(0xffff_ffffL);
            assertThat(r.cpu.getGpr(Cpu.RAX)).as("ADC saw the carry STC set").isEqualTo(11);
            assertThat(r.r64(0x31000)).isEqualTo(1);
            long flags = r.cpu.rflags();
            assertThat(flags & CpuState.CF).as("CF kept through INC").isEqualTo(0);
            assertThat(flags & CpuState.ZF).isZero();
        }
    }

    @Test
    void aFaultOnTheDestinationLeavesMemoryAndFlagsAsTheyWere() {
        CpuRig interpreted = rig(0, UNMAPPED);
        CpuRig compiled = rig(1, UNMAPPED);
        assertThat(compiled.cpu.run(100)).isEqualTo(interpreted.cpu.run(100));
        CpuRig.assertSameState(compiled, interpreted);
        assertThat(compiled.haltedInVector()).as("#PF").isEqualTo(14);
        assertThat(compiled.stack(1)).as("the faulting RIP").isEqualTo(CpuRig.CODE + 0xb);
        assertThat(compiled.stack(3)).as("the flags pushed").isEqualTo(interpreted.stack(3));
        assertThat(compiled.r64(0x30000)).as("the earlier INC's store stands").isEqualTo(0x8000_0000_0000_0000L);
    }

    private static CpuRig rig(int threshold, long second) {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCompileThreshold(threshold);
        rig.cpu.setGpr(Cpu.RAX, 10);
        rig.cpu.setGpr(Cpu.RBX, 0x30000);
        rig.cpu.setGpr(Cpu.RCX, second);
        rig.w64(0x30000, 0x7fff_ffff_ffff_ffffL);
        rig.w64(0x30008, 0);
        rig.withCode(CpuRig.hex(CODE));
        return rig;
    }
}

package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Page faults of read-modify-write instructions, interpreted (threshold 0) and compiled on
 * their first run (threshold 1): the #PF error code a handler sees must be the same.
 */
class CompiledMemoryFaultTest {
    private static final long UNMAPPED = 0x4000_0000L; // PDPT entry 1 is not present

    @ParameterizedTest
    @ValueSource(ints = {0, 1})
    void anAluOpToAMissingPageFaultsAsAWriteWithTheFlagsUntouched(int compileThreshold) {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCompileThreshold(compileThreshold);
        rig.cpu.setGpr(Cpu.RBX, UNMAPPED);
        rig.cpu.setGpr(Cpu.RAX, 1);
        // xor ecx, ecx (ZF=1); add [rbx], rax; hlt
        rig.run(CpuRig.hex("31 c9 48 01 03 f4"));
        assertThat(rig.cpu.getRip()).as("the #PF handler's HLT").isEqualTo(CpuRig.HANDLERS + 14 * 16 + 1);
        long rsp = rig.cpu.getGpr(Cpu.RSP);
        assertThat(rig.r64(rsp)).as("error code: not present, write, supervisor").isEqualTo(2);
        assertThat(rig.r64(rsp + 8)).as("the faulting RIP").isEqualTo(CpuRig.CODE + 2);
        assertThat(rig.r64(rsp + 24) & 0x40).as("ZF from the XOR, untouched by the ADD").isEqualTo(0x40);
        assertThat(rig.cpu.getCr(2)).isEqualTo(UNMAPPED);
        assertThat(rig.cpu.compiledBlocks() > 0).as("blocks compiled").isEqualTo(compileThreshold != 0);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1})
    void aFaultingLoadSeesTheRegistersAndFlagsOfTheInstructionsBeforeIt(int compileThreshold) {
        // Compiled code keeps registers and flags in locals: the fault must find them written back.
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCompileThreshold(compileThreshold);
        rig.cpu.setGpr(Cpu.RBX, UNMAPPED);
        rig.cpu.setGpr(Cpu.RCX, 0xffff_ffffL);
        rig.cpu.setGpr(Cpu.RDX, 1);
        // mov eax, 0x1234; add ecx, edx (ZF=CF=1); mov rsi, [rbx]; hlt
        rig.run(CpuRig.hex("b8 34 12 00 00 01 d1 48 8b 33 f4"));
        assertThat(rig.cpu.getRip()).as("the #PF handler's HLT").isEqualTo(CpuRig.HANDLERS + 14 * 16 + 1);
        long rsp = rig.cpu.getGpr(Cpu.RSP);
        assertThat(rig.r64(rsp + 8)).as("the faulting RIP").isEqualTo(CpuRig.CODE + 7);
        assertThat(rig.cpu.getGpr(Cpu.RAX)).isEqualTo(0x1234);
        assertThat(rig.cpu.getGpr(Cpu.RCX)).isEqualTo(0);
        assertThat(rig.r64(rsp + 24) & 0x41).as("ZF and CF from the ADD").isEqualTo(0x41);
        assertThat(rig.cpu.compiledBlocks() > 0).as("blocks compiled").isEqualTo(compileThreshold != 0);
    }
}

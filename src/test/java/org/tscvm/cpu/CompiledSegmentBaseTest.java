package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * FS- and GS-relative operands in 64-bit mode (Linux's per-CPU variables are GS-relative), on
 * the flat address forms the interpreter's fast rows and compiled code share: the segment's
 * base is added to every data access and not to LEA, and a sum past the canonical range
 * faults, compiled as interpreted.
 */
class CompiledSegmentBaseTest {
    private static final long FS_BASE = 0x40000, GS_BASE = 0x50000;

    /**
     * mov rax, gs:[rbx+8]; mov fs:[rcx], rax; add rdx, gs:[0x10]; mov byte gs:[rbx], 0x5a;
     * cmp byte fs:[rcx+1], 0x80; setb r8b; lea rsi, fs:[rcx+4]; movzx edi, byte gs:[rbx+8];
     * add qword gs:[rbx+16], 3; mov r9, gs:[rip+0x20]; hlt.
     */
    private static final String CODE = "65 48 8b 43 08 64 48 89 01 65 48 03 14 25 10 00 00 00 65 c6 03 5a "
            + "64 80 79 01 80 41 0f 92 c0 64 48 8d 71 04 65 0f b6 7b 08 65 48 83 43 10 03 "
            + "65 4c 8b 0d 20 00 00 00 f4";

    @Test
    void compiledFsAndGsOperandsAddTheSegmentBaseAsTheInterpreterDoes() {
        CpuRig interpreted = rig(0, GS_BASE);
        CpuRig compiled = rig(1, GS_BASE);
        assertThat(compiled.cpu.run(100)).isEqualTo(interpreted.cpu.run(100)).isEqualTo(RunStop.HALTED);
        CpuRig.assertSameState(compiled, interpreted);
        assertThat(compiled.cpu.compiledBlocks()).isPositive();
        for (CpuRig r : new CpuRig[] {interpreted, compiled}) {
            assertThat(r.cpu.getGpr(Cpu.RAX)).isEqualTo(0x1122334455667788L);
            assertThat(r.r64(FS_BASE + 0x200)).isEqualTo(0x1122334455667788L);
            assertThat(r.cpu.getGpr(Cpu.RDX)).isEqualTo(1000 + 0x77);
            assertThat(r.r64(GS_BASE + 0x100) & 0xff).isEqualTo(0x5a);
            assertThat(r.cpu.getGpr(8) & 0xff).as("0x77, stored by the second MOV, is below 0x80: CF").isEqualTo(1);
            assertThat(r.cpu.getGpr(Cpu.RSI)).as("LEA ignores the segment").isEqualTo(0x204);
            assertThat(r.cpu.getGpr(Cpu.RDI)).isEqualTo(0x88);
            assertThat(r.r64(GS_BASE + 0x110)).isEqualTo(43);
            assertThat(r.cpu.getGpr(9)).isEqualTo(0x99);
        }
    }

    @Test
    void aGsBaseThatTakesTheAddressPastTheCanonicalRangeFaultsCompiledAsInterpreted() {
        long base = 0x0000_7fff_ffff_ff00L; // + 0x108 is not canonical
        CpuRig interpreted = rig(0, base);
        CpuRig compiled = rig(1, base);
        assertThat(compiled.cpu.run(100)).isEqualTo(interpreted.cpu.run(100));
        CpuRig.assertSameState(compiled, interpreted);
        assertThat(compiled.haltedInVector()).as("#GP").isEqualTo(13);
        assertThat(compiled.stack(1)).as("the faulting RIP").isEqualTo(CpuRig.CODE);
    }

    private static CpuRig rig(int threshold, long gsBase) {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCompileThreshold(threshold);
        rig.cpu.segBase[CpuState.FS] = FS_BASE;
        rig.cpu.segBase[CpuState.GS] = gsBase;
        rig.cpu.setGpr(Cpu.RBX, 0x100);
        rig.cpu.setGpr(Cpu.RCX, 0x200);
        rig.cpu.setGpr(Cpu.RDX, 1000);
        rig.w64(GS_BASE + 0x108, 0x1122334455667788L);
        rig.w64(GS_BASE + 0x10, 0x77);
        rig.w64(FS_BASE + 0x200, 0x0500);
        rig.w64(GS_BASE + 0x110, 40);
        rig.w64(GS_BASE + CpuRig.CODE + 0x37 + 0x20, 0x99);
        rig.withCode(CpuRig.hex(CODE));
        return rig;
    }
}

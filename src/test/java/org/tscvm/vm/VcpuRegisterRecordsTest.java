package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The with... methods of {@link VcpuRegs} and {@link VcpuSregs} change one register and keep every other. */
class VcpuRegisterRecordsTest {
    private static final VcpuRegs REGS = new VcpuRegs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x1000, 0x202);

    private static VcpuSregs.Segment segment(int n) {
        return new VcpuSregs.Segment(n * 0x100L, 0xffff, n * 8, 0x93);
    }

    private static final VcpuSregs SREGS = new VcpuSregs(segment(1), segment(2), segment(3), segment(4), segment(5),
            segment(6), segment(7), segment(8), new VcpuSregs.DescriptorTable(0x9000, 0x17),
            new VcpuSregs.DescriptorTable(0xa000, 0xfff), 0x11, 0x22, 0x33, 0x44, 0x5, 0x500);

    @Test
    void withRipAndWithRflagsChangeOnlyTheirRegister() {
        assertThat(REGS.withRip(0x8040)).isEqualTo(
                new VcpuRegs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x8040, 0x202));
        assertThat(REGS.withRflags(0x2)).isEqualTo(
                new VcpuRegs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x1000, 0x2));
    }

    @Test
    void withCsChangesOnlyCsAndWithSegmentBasesOnlyTheFsAndGsBases() {
        VcpuSregs.Segment realModeCs = new VcpuSregs.Segment(0x8000, 0xffff, 0x800, 0x9b);
        assertThat(SREGS.withCs(realModeCs)).isEqualTo(new VcpuSregs(realModeCs, segment(2), segment(3), segment(4),
                segment(5), segment(6), segment(7), segment(8), SREGS.gdt(), SREGS.idt(), 0x11, 0x22, 0x33, 0x44, 0x5, 0x500));
        VcpuSregs bases = SREGS.withSegmentBases(0x7000, 0x7100);
        assertThat(bases.fs()).isEqualTo(new VcpuSregs.Segment(0x7000, 0xffff, 32, 0x93));
        assertThat(bases.gs()).isEqualTo(new VcpuSregs.Segment(0x7100, 0xffff, 40, 0x93));
        assertThat(bases.withSegmentBases(SREGS.fs().base(), SREGS.gs().base())).isEqualTo(SREGS);
    }
}

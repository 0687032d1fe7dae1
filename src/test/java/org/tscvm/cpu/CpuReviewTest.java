package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.CODE;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * Paths the differential test cannot reach (faults part-way through an instruction, far
 * transfers, privilege checks, legacy modes), each pinned by a snippet after a review of the
 * interpreter against the SDM. Snippets are hand-assembled as in {@link CpuTest}.
 */
class CpuReviewTest {
    static final long CF = 1;

    @Test
    void anAdcWhoseStoreFaultsLeavesTheCarryItWillRestartWith() {
        // SDM 6.5: a fault is reported before the instruction changes state, so the #PF frame
        // holds the flags from before the ADC and its restart adds the same carry.
        CpuRig rig = new CpuRig().longMode();
        rig.w64(0x3000 + 8 * 8, (8L << 21) | 0x85); // 16 MiB: read-only
        rig.run(
                // 10000: 0f 20 c0              mov    %cr0,%rax
                // 10003: 0d 00 00 01 00        or     $0x10000,%eax
                // 10008: 0f 22 c0              mov    %rax,%cr0
                // 1000b: bb 00 00 00 01        mov    $0x1000000,%ebx
                // 10010: 31 c0                 xor    %eax,%eax
                // 10012: f9                    stc
                // 10013: 11 03                 adc    %eax,(%rbx)
                // 10015: f4                    hlt
                hex("0f 20 c0 0d 00 00 01 00 0f 22 c0 bb 00 00 00 01 31 c0 f9 11 03 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.stack(0)).as("present, write").isEqualTo(3);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x13);
        assertThat(rig.stack(3) & CF).as("CF in the pushed RFLAGS").isEqualTo(CF);
    }
}

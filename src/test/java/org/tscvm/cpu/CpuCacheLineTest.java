package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.CODE;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/** CLFLUSHOPT and CLWB: CLFLUSH's access check when CPUID.(7,0):EBX[23]/[24] says so, #UD otherwise. */
class CpuCacheLineTest {
    private static final int CLFLUSHOPT = 1 << 23, CLWB = 1 << 24;

    /** The rig with 8..10 MiB not present. */
    private static CpuRig rig(int leaf7Ebx) {
        CpuRig rig = new CpuRig().longMode();
        rig.bus.leaf7Ebx |= leaf7Ebx;
        rig.w64(0x3000 + 4 * 8, 0);
        return rig;
    }

    @Test
    void clflushoptRunsOnMappedMemoryAndPageFaultsLikeClflushOnUnmapped() {
        CpuRig rig = rig(CLFLUSHOPT | CLWB);
        rig.run(
                // bb 00 00 20 00     mov    $0x200000,%ebx
                // 66 0f ae 3b        clflushopt (%rbx)
                // 66 0f ae 33        clwb (%rbx)
                // 0f ae 3b           clflush (%rbx)
                // be 07 00 00 00     mov    $0x7,%esi
                // bb 00 00 80 00     mov    $0x800000,%ebx
                // 66 0f ae 3b        clflushopt (%rbx)   (at CODE + 0x1a)
                // f4                 hlt
                hex("bb 00 00 20 00 66 0f ae 3b 66 0f ae 33 0f ae 3b be 07 00 00 00 bb 00 00 80 00 66 0f ae 3b f4"));
        assertThat(rig.reg(Cpu.RSI)).as("got past the mapped flushes").isEqualTo(7);
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.stack(0)).as("not present, read, supervisor").isEqualTo(0);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x1a);
        assertThat(rig.cpu.getCr(2)).isEqualTo(0x800000);
    }

    @Test
    void clwbPageFaultsOnUnmappedMemory() {
        CpuRig rig = rig(CLWB);
        // bb 00 00 80 00 mov $0x800000,%ebx; 66 0f ae 33 clwb (%rbx); f4 hlt
        rig.run(hex("bb 00 00 80 00 66 0f ae 33 f4"));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.stack(1)).isEqualTo(CODE + 5);
        assertThat(rig.cpu.getCr(2)).isEqualTo(0x800000);
    }

    @Test
    void clflushoptIsUndefinedWhenCpuidDoesNotReportIt() {
        CpuRig rig = rig(CLWB);
        // bb 00 00 20 00 mov $0x200000,%ebx; 66 0f ae 3b clflushopt (%rbx); f4 hlt
        rig.run(hex("bb 00 00 20 00 66 0f ae 3b f4"));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(rig.stack(0)).isEqualTo(CODE + 5);
    }

    @Test
    void clwbIsUndefinedWhenCpuidDoesNotReportIt() {
        CpuRig rig = rig(CLFLUSHOPT);
        // bb 00 00 20 00 mov $0x200000,%ebx; 66 0f ae 33 clwb (%rbx); f4 hlt
        rig.run(hex("bb 00 00 20 00 66 0f ae 33 f4"));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(rig.stack(0)).isEqualTo(CODE + 5);
    }
}

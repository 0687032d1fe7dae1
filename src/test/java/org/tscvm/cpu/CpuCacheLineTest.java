package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.CODE;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * CLFLUSH checks its address as a one-byte read (#GP for a non-canonical one, #PF for a
 * not-present page, none for a read-only one) without accessing it; CLFLUSHOPT and CLWB do the
 * same when CPUID.(7,0):EBX[23]/[24] says so, and are #UD otherwise.
 */
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
    void clflushOfAReadOnlyPageOrOfMmioIsNoAccessAndANonCanonicalAddressIsGeneralProtection() {
        CpuRig rig = rig(0);
        rig.w64(0x3000 + 5 * 8, (5L << 21) | 0x85); // 10..12 MiB: present, user, read-only
        rig.cpu.setCr(0, rig.cpu.getCr(0) | 1 << 16); // CR0.WP: read-only for CPL 0 too
        rig.run(
                // 10000: bb 00 00 a0 00           mov    $0xa00000,%ebx
                // 10005: 0f ae 3b                 clflush (%rbx)
                // 10008: bb 00 00 00 02           mov    $0x2000000,%ebx
                // 1000d: 0f ae 3b                 clflush (%rbx)
                // 10010: be 07 00 00 00           mov    $0x7,%esi
                // 10015: 48 bb 00 00 00 00 00     movabs $0x800000000000,%rbx
                // 1001c: 80 00 00
                // 1001f: 0f ae 3b                 clflush (%rbx)
                // 10022: f4                       hlt
                hex("bb 00 00 a0 00 0f ae 3b bb 00 00 00 02 0f ae 3b be 07 00 00 00 48 bb 00 00 00 00 00 80 00 00 "
                        + "0f ae 3b f4"));
        assertThat(rig.reg(Cpu.RSI)).as("the read-only page and the MMIO address flushed").isEqualTo(7);
        assertThat(rig.bus.log).as("no device access at 32 MiB").isEmpty();
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x1f);
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

package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.GDT;
import static org.tscvm.cpu.CpuRig.TSS;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * LTR and LLDT in IA-32e mode read a 16-byte descriptor: a non-canonical 64-bit base or a
 * non-zero type in the upper half is #GP(selector) (SDM Vol. 2 LTR, LLDT), as kvm-unit-tests'
 * la57 checks with the bases ffaaaaaaaaaaaaaa and aaaaaaaaaaaaaaaa.
 */
class SystemDescriptorBaseTest {
    // mov $0x30,%ax; ltr %ax; hlt
    private static final byte[] LTR = hex("66 b8 30 00 0f 00 d8 f4");
    // mov $0x30,%ax; lldt %ax; hlt
    private static final byte[] LLDT = hex("66 b8 30 00 0f 00 d0 f4");
    private static final int TSS_AVAILABLE = 0x89, LDT = 0x82;

    /** A rig whose GDT slot 0x30 holds a 16-byte system descriptor of {@code type} with this base and upper half. */
    private static CpuRig rigWith(int type, long base, long highExtra) {
        CpuRig rig = new CpuRig().longMode();
        long low = 0x67 | ((base & 0xffffffL) << 16) | ((long) type << 40) | (((base >>> 24) & 0xff) << 56);
        rig.w64(GDT + 0x30, low);
        rig.w64(GDT + 0x38, (base >>> 32) | highExtra);
        return rig;
    }

    private static void assertGpSelector30(CpuRig rig) {
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(0)).as("error code: the selector").isEqualTo(0x30);
    }

    @Test
    void ltrOfANonCanonicalTssBaseIsGpSelector() {
        for (long base : new long[] {0xffaaaaaaaaaaaaaaL, 0xaaaaaaaaaaaaaaaaL, 0x0000800000000000L}) {
            CpuRig rig = rigWith(TSS_AVAILABLE, base, 0);
            rig.run(LTR);
            assertGpSelector30(rig);
            assertThat(rig.memory.read8(GDT + 0x35) & 2).as("the TSS stays available").isZero();
        }
    }

    @Test
    void lldtOfANonCanonicalLdtBaseIsGpSelector() {
        for (long base : new long[] {0xffaaaaaaaaaaaaaaL, 0xaaaaaaaaaaaaaaaaL, 0x0000800000000000L}) {
            CpuRig rig = rigWith(LDT, base, 0);
            rig.run(LLDT);
            assertGpSelector30(rig);
        }
    }

    @Test
    void aNonZeroTypeInTheUpperHalfIsGpSelector() {
        CpuRig ltr = rigWith(TSS_AVAILABLE, TSS, 1L << 40);
        ltr.run(LTR);
        assertGpSelector30(ltr);
        CpuRig lldt = rigWith(LDT, 0x7000, 0x1fL << 40);
        lldt.run(LLDT);
        assertGpSelector30(lldt);
    }

    @Test
    void canonicalBasesLoad() {
        CpuRig ltr = rigWith(TSS_AVAILABLE, 0xffff800000005000L, 0);
        ltr.run(LTR);
        assertThat(ltr.haltedInVector()).isEqualTo(-1);
        assertThat(ltr.memory.read8(GDT + 0x35) & 2).as("busy").isNotZero();
        CpuRig lldt = rigWith(LDT, 0x00007fffffff0000L, 0);
        lldt.run(LLDT);
        assertThat(lldt.haltedInVector()).isEqualTo(-1);
    }
}

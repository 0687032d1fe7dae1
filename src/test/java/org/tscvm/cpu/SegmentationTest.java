package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.tscvm.cpu.CpuState.*;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;

/**
 * The {@link Segmentation} on its own: the CPU's mode, GDT and TSS set directly (at
 * {@link CpuRig}'s addresses), segment registers loaded by calling the part, no decoder or run
 * loop.
 */
class SegmentationTest {
    private static final int CODE32 = A_P | A_S | A_DB | A_G | 0xb, DATA32 = A_P | A_S | A_DB | A_G | 3;
    private static final long GDT = CpuRig.GDT, TSS = CpuRig.TSS;
    /** Data DPL 0 based at {@link #DATA_BASE}, data DPL 0 not present, data DPL 3, execute-only code DPL 0. */
    private static final int DATA = 0x10, ABSENT = 0x18, USER_DATA = 0x20, EXEC_ONLY = 0x28, GDT_LIMIT = 0x2f;
    private static final long DATA_BASE = 0x12345000L;

    private final CpuRig rig = new CpuRig();
    private final Cpu cpu = rig.cpu;
    private final Segmentation segments = cpu.segments;

    /** A code or data descriptor: {@code access} is byte 5 (P, DPL, S, type), 4 KiB granular, 32-bit. */
    private static long descriptor(long base, int access) {
        return 0xfffffL & 0xffff | (base & 0xffffff) << 16 | (long) access << 40 | 0xfL << 48 | 0xcL << 52
                | (base >>> 24 & 0xff) << 56;
    }

    private void writeGdt() {
        rig.w64(GDT + 0x08, descriptor(0, 0x9b));
        rig.w64(GDT + DATA, descriptor(DATA_BASE, 0x92));
        rig.w64(GDT + ABSENT, descriptor(0, 0x12));
        rig.w64(GDT + USER_DATA, descriptor(0, 0xf2));
        rig.w64(GDT + EXEC_ONLY, descriptor(0, 0x98));
        cpu.setGdtr(GDT, GDT_LIMIT);
    }

    /** Protected mode without paging at CPL 0: 32-bit CS 0x08, flat SS 0x10. */
    private void protectedMode() {
        writeGdt();
        cpu.cr0 = CR0_PE | CR0_ET;
        cpu.setSeg(CS, 0x08, 0, 0xffffffffL, CODE32);
        cpu.setSeg(SS, 0x10, 0, 0xffffffffL, DATA32);
        cpu.updateMode();
    }

    /** 64-bit mode at CPL 0 with the first 2 MiB identity-mapped (the GDT and TSS are read through paging). */
    private void longMode() {
        rig.w64(0x1000, 0x2000 | Mmu.PTE_P | Mmu.PTE_RW);
        rig.w64(0x2000, 0x3000 | Mmu.PTE_P | Mmu.PTE_RW);
        rig.w64(0x3000, Mmu.PTE_P | Mmu.PTE_RW | Mmu.PTE_PS);
        cpu.enterFlatLongMode(CpuRig.CODE, 0x1000, 0);
        writeGdt();
    }

    private static CpuFault faultOf(ThrowingCallable load) {
        CpuFault f = catchThrowableOfType(CpuFault.class, load);
        assertThat(f).as("a fault").isNotNull();
        return f;
    }

    private static void assertFault(ThrowingCallable load, int vector, int errorCode) {
        CpuFault f = faultOf(load);
        assertThat(f.vector()).isEqualTo(vector);
        assertThat(f.errorCode()).isEqualTo(errorCode);
    }

    @Test
    void aDataSegmentLoadTakesBaseLimitAndAttributesFromTheDescriptorAndSetsItsAccessedBit() {
        protectedMode();

        segments.loadSegment(DS, DATA);

        assertThat(cpu.segSel[DS]).isEqualTo(DATA);
        assertThat(cpu.segBase[DS]).isEqualTo(DATA_BASE);
        assertThat(cpu.segLimit[DS]).as("4 KiB granular").isEqualTo(0xffffffffL);
        assertThat(cpu.segAttr[DS]).as("accessed in the cache").isEqualTo(DATA32);
        assertThat(rig.r64(GDT + DATA) >>> 40 & 1).as("accessed in the GDT").isEqualTo(1);
        assertThat(rig.r64(GDT + USER_DATA) >>> 40 & 1).as("another descriptor untouched").isZero();
    }

    @Test
    void aNullSelectorLeavesDsUnusableWithBaseZeroButSsNullIsGpOutside64BitMode() {
        protectedMode();
        segments.loadSegment(DS, DATA);

        segments.loadSegment(DS, 3);

        assertThat(cpu.segSel[DS]).as("the RPL is kept").isEqualTo(3);
        assertThat(cpu.segAttr[DS] & A_UNUSABLE).isNotZero();
        assertThat(cpu.segBase[DS]).as("Intel zeroes the base").isZero();
        assertFault(() -> segments.loadSegment(SS, 0), CpuFault.GP, 0);
        assertThat(cpu.segSel[SS]).isEqualTo(0x10);
    }

    @Test
    void aSelectorPastTheGdtLimitOrIntoAMissingLdtIsGpWithTheSelectorAndChangesNothing() {
        protectedMode();
        segments.loadSegment(DS, DATA);
        rig.w64(GDT + GDT_LIMIT + 1, descriptor(0, 0xf2)); // a usable DPL 3 descriptor just past the limit
        rig.w64(0x08, descriptor(0, 0x92)); // and where LDT entry 1 would be with LDTR's base 0

        assertFault(() -> segments.loadSegment(DS, (GDT_LIMIT + 1) | 3), CpuFault.GP, GDT_LIMIT + 1);
        assertFault(() -> segments.loadSegment(ES, 0x0c), CpuFault.GP, 0x0c); // TI = 1, no LDT loaded
        assertThat(cpu.segSel[DS]).isEqualTo(DATA);
        assertThat(cpu.segBase[DS]).isEqualTo(DATA_BASE);
        assertThat(rig.r64(GDT + GDT_LIMIT + 1) >>> 40 & 1).as("not read, not accessed").isZero();
    }

    @Test
    void aNotPresentSegmentIsNpForDsAndSsFaultForSsAndExecuteOnlyCodeIsGp() {
        protectedMode();

        assertFault(() -> segments.loadSegment(DS, ABSENT), CpuFault.NP, ABSENT);
        assertFault(() -> segments.loadSegment(SS, ABSENT), CpuFault.SS, ABSENT);
        assertFault(() -> segments.loadSegment(FS, EXEC_ONLY), CpuFault.GP, EXEC_ONLY);
        assertThat(rig.r64(GDT + ABSENT) >>> 40 & 1).as("no accessed bit on a fault").isZero();
    }

    @Test
    void ssNeedsRplAndDplEqualToCplAndDsAnRplAndCplNotAboveTheDpl() {
        protectedMode();

        assertFault(() -> segments.loadSegment(SS, DATA | 1), CpuFault.GP, DATA);
        assertFault(() -> segments.loadSegment(SS, USER_DATA), CpuFault.GP, USER_DATA);
        assertFault(() -> segments.loadSegment(DS, DATA | 3), CpuFault.GP, DATA);
        segments.loadSegment(DS, USER_DATA | 3);
        assertThat(cpu.segSel[DS]).as("a DPL 3 segment at CPL 0").isEqualTo(USER_DATA | 3);
    }

    @Test
    void aRealModeLoadSetsSelectorAndBaseOnlyWithoutReadingTheGdt() {
        cpu.cr0 = CR0_ET;
        cpu.setGdtr(GDT, 0); // any table read would fault
        cpu.setSeg(DS, 0, 0, 0xffff, A_P | A_S | 3);
        cpu.updateMode();

        segments.loadSegment(DS, 0x1234);

        assertThat(cpu.segSel[DS]).isEqualTo(0x1234);
        assertThat(cpu.segBase[DS]).isEqualTo(0x12340);
        assertThat(cpu.segLimit[DS]).as("the limit stays").isEqualTo(0xffff);
    }

    @Test
    void in64BitModeFsTakesTheDescriptorsBaseANullFsZeroesItAndSsMayBeNullAtCpl0() {
        longMode();
        cpu.segBase[FS] = 0x7fff_0000_1000L; // as WRMSR FS_BASE leaves it

        segments.loadSegment(FS, DATA);
        assertThat(cpu.segBase[FS]).as("the descriptor's 32-bit base replaces the 64-bit one").isEqualTo(DATA_BASE);

        cpu.segBase[FS] = 0x7fff_0000_1000L;
        segments.loadSegment(FS, 0);
        assertThat(cpu.segBase[FS]).isZero();

        segments.loadSegment(SS, 0);
        assertThat(cpu.segAttr[SS] & A_UNUSABLE).isNotZero();
        assertThat(cpu.stackSize).as("64-bit mode's stack").isEqualTo(8);
    }

    @Test
    void aReturnToCpl3NullsDataSegmentsOfAMorePrivilegedDplButKeepsTheirBase() {
        longMode();
        segments.loadSegment(DS, USER_DATA | 3);
        cpu.setSeg(GS, DATA, 0x7fff_0000_2000L, 0xffffffffL, DATA32);
        cpu.setCpl(3);

        segments.nullifyInaccessibleSegments();

        assertThat(cpu.segSel[GS]).isZero();
        assertThat(cpu.segAttr[GS] & A_UNUSABLE).isNotZero();
        assertThat(cpu.segBase[GS]).as("64-bit mode still adds GS's base").isEqualTo(0x7fff_0000_2000L);
        assertThat(cpu.segSel[DS]).as("DPL 3 stays usable").isEqualTo(USER_DATA | 3);
    }

    @Test
    void theInnerStackComesFromA32BitTssAndANullSsThereIsTsWithExt() {
        protectedMode();
        cpu.trSel = 0x30;
        cpu.trBase = TSS;
        cpu.trLimit = 0x67;
        cpu.trAttr = A_P | CpuState.T_TSS_BUSY;
        rig.memory.write32(TSS + 4, 0x9000); // ESP0
        rig.memory.write16(TSS + 8, DATA); // SS0

        long d = segments.innerStackSegment(0, false);

        assertThat(segments.innerSs).isEqualTo(DATA);
        assertThat(segments.innerEsp).isEqualTo(0x9000);
        assertThat(Segmentation.descBase(d)).isEqualTo(DATA_BASE);

        rig.memory.write16(TSS + 8, 0);
        assertFault(() -> segments.innerStackSegment(0, true), CpuFault.TS, 1);
        cpu.trLimit = 8; // SS0 past the limit
        assertFault(() -> segments.innerStackSegment(0, false), CpuFault.TS, 0x30);
    }
}

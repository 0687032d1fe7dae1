package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.CODE;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * The XSAVE compaction extensions (SDM 13.8.2, 13.10-13.12): XSAVEC and XSAVES write the
 * compacted header (XSTATE_BV = RFBM, XCOMP_BV = bit 63 | RFBM) and leave header bytes 16-63
 * alone; XRSTOR's compacted form and XRSTORS check XCOMP_BV and initialise MXCSR with SSE;
 * XSAVES/XRSTORS are CPL 0 only; each form is #UD without its CPUID.(0xD,1) bit; XGETBV(1);
 * IA32_XSS holds only 0.
 */
class CpuXsaveCompactedTest {
    private static final long AREA = 0x200000, OUT = 0x300000, COMPACTED = 1L << 63;
    private static final int XSAVE = 1 << 26;
    private static final String XSAVEC = "0f c7 27", XSAVES = "0f c7 2f", XRSTORS = "0f c7 1f", XRSTOR = "0f ae 2f";
    /** Where the instruction under test sits in {@link #run}'s code. */
    private static final long INSN = CODE + 0x2f;

    private static CpuRig rig() {
        CpuRig rig = new CpuRig().longMode();
        rig.bus.leaf1Ecx |= XSAVE;
        rig.cpu.setCr(4, rig.cpu.getCr(4) | CpuState.CR4_OSFXSR);
        return rig;
    }

    /**
     * Sets CR4.OSXSAVE and XCR0 = x87|SSE, loads ST0 = 1 and XMM3 = 0x12345678, runs {@code insn}
     * on the area at 0x200000 with EDX:EAX = {@code mask}, then stores XMM3's low dword in ESI,
     * MXCSR at 0x300000 and FCW at 0x300004.
     */
    private static CpuRig run(CpuRig rig, String insn, long mask) {
        rig.cpu.setGpr(12, mask);
        return rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 04 00        or     $0x40000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: 31 c9                    xor    %ecx,%ecx
                // 1000e: b8 03 00 00 00           mov    $0x3,%eax
                // 10013: 31 d2                    xor    %edx,%edx
                // 10015: 0f 01 d1                 xsetbv
                // 10018: db e3                    fninit
                // 1001a: d9 e8                    fld1
                // 1001c: bb 78 56 34 12           mov    $0x12345678,%ebx
                // 10021: 66 0f 6e db              movd   %ebx,%xmm3
                // 10025: 44 89 e0                 mov    %r12d,%eax
                // 10028: 31 d2                    xor    %edx,%edx
                // 1002a: bf 00 00 20 00           mov    $0x200000,%edi
                // 1002f: .. .. ..                 (insn) (%rdi)
                // 10032: 66 0f 7e de              movd   %xmm3,%esi
                // 10036: 0f ae 1c 25 00 00 30 00  stmxcsr 0x300000
                // 1003e: d9 3c 25 04 00 30 00     fnstcw 0x300004
                // 10045: f4                       hlt
                hex("0f 20 e0 48 0d 00 00 04 00 0f 22 e0 31 c9 b8 03 00 00 00 31 d2 0f 01 d1 db e3 d9 e8 bb 78 56 34 "
                        + "12 66 0f 6e db 44 89 e0 31 d2 bf 00 00 20 00 " + insn + " 66 0f 7e de 0f ae 1c 25 00 00 30 00 "
                        + "d9 3c 25 04 00 30 00 f4"));
    }

    /** An area in the compacted format: x87 FCW 0x27f with ST0 = 2, XMM3 = 0xabcd, MXCSR {@code mxcsr}. */
    private static CpuRig compactedArea(CpuRig rig, long xstateBv, long xcompBv, int mxcsr) {
        rig.memory.write16(AREA, 0x27f);
        rig.w64(AREA + 32, 1L << 63);            // ST0 = 2.0: significand 1.0 ...
        rig.memory.write16(AREA + 40, 0x4000);   // ... exponent 0x4000
        rig.memory.write8(AREA + 4, 1);          // abridged tag: R0 valid
        rig.memory.write16(AREA + 2, 0);         // TOP 0
        rig.memory.write32(AREA + 24, mxcsr);
        rig.w64(AREA + 160 + 16 * 3, 0xabcd);
        rig.w64(AREA + 512, xstateBv);
        rig.w64(AREA + 520, xcompBv);
        return rig;
    }

    @Test
    void xsavecWritesTheCompactedHeaderAndOnlyTheRequestedComponents() {
        CpuRig rig = rig();
        for (int i = 0; i < 576; i += 8) {
            rig.w64(AREA + i, 0x5555555555555555L);
        }
        run(rig, XSAVEC, 2); // SSE only
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.r64(AREA + 512)).as("XSTATE_BV = RFBM").isEqualTo(2);
        assertThat(rig.r64(AREA + 520)).as("XCOMP_BV").isEqualTo(COMPACTED | 2);
        assertThat(rig.r64(AREA + 528)).as("header bytes 16-23 untouched").isEqualTo(0x5555555555555555L);
        assertThat(rig.r64(AREA + 568)).as("header bytes 56-63 untouched").isEqualTo(0x5555555555555555L);
        assertThat(rig.r64(AREA)).as("x87 not requested: FCW.. untouched").isEqualTo(0x5555555555555555L);
        assertThat(rig.memory.read32(AREA + 24)).as("MXCSR").isEqualTo(0x1f80);
        assertThat(rig.r64(AREA + 160 + 16 * 3)).as("XMM3").isEqualTo(0x12345678L);
        assertThat(rig.r64(AREA + 464)).as("bytes 464-511 are software's").isEqualTo(0x5555555555555555L);
    }

    @Test
    void xrstorOfACompactedAreaLoadsWhatXstateBvNamesAndInitialisesTheRest() {
        CpuRig rig = compactedArea(rig(), 1, COMPACTED | 3, 0x1f00);
        run(rig, XRSTOR, 3);
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.memory.read16(OUT + 4)).as("FCW loaded").isEqualTo(0x27f);
        assertThat(rig.reg(Cpu.RSI)).as("XMM3 initialised").isEqualTo(0);
        assertThat(rig.memory.read32(OUT)).as("MXCSR initialised, not loaded").isEqualTo(0x1f80);

        rig = compactedArea(rig(), 3, COMPACTED | 3, 0x1f00);
        run(rig, XRSTOR, 3);
        assertThat(rig.reg(Cpu.RSI)).as("XMM3 loaded").isEqualTo(0xabcd);
        assertThat(rig.memory.read32(OUT)).as("MXCSR loaded").isEqualTo(0x1f00);
    }

    @Test
    void theStandardFormLoadsMxcsrEvenWithSseInitialised() {
        CpuRig rig = compactedArea(rig(), 1, 0, 0x1f00);
        run(rig, XRSTOR, 3);
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.reg(Cpu.RSI)).as("XMM3 initialised").isEqualTo(0);
        assertThat(rig.memory.read32(OUT)).as("MXCSR loaded").isEqualTo(0x1f00);
    }

    @Test
    void xsavecThenXrstorRoundTripsTheState() {
        CpuRig rig = rig();
        run(rig, XSAVEC, 3);
        rig.w64(AREA + 160 + 16 * 3, 0x7777); // the round trip must read memory, not keep XMM3
        run(rig, XRSTOR, 3);
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(0x7777);
    }

    @Test
    void compactedHeadersTheSdmRefusesAreGeneralProtection() {
        long[][] bad = {
            {1, COMPACTED | 1 | 4},   // XCOMP_BV names a component outside XCR0
            {3, COMPACTED | 1},       // XSTATE_BV names one XCOMP_BV lacks
            {1L << 63, COMPACTED | 3}, // XSTATE_BV bit 63
        };
        for (long[] header : bad) {
            CpuRig rig = compactedArea(rig(), header[0], header[1], 0x1f80);
            run(rig, XRSTOR, 3);
            assertThat(rig.haltedInVector()).as("%x %x", header[0], header[1]).isEqualTo(CpuFault.GP);
            assertThat(rig.stack(1)).isEqualTo(INSN);
        }
        CpuRig rig = compactedArea(rig(), 3, COMPACTED | 3, 0x1f80);
        rig.w64(AREA + 560, 1); // header bytes 48-55
        run(rig, XRSTOR, 3);
        assertThat(rig.haltedInVector()).as("reserved header bytes").isEqualTo(CpuFault.GP);
        rig = compactedArea(rig(), 3, COMPACTED | 3, 0x10000);
        run(rig, XRSTOR, 3);
        assertThat(rig.haltedInVector()).as("reserved MXCSR bit").isEqualTo(CpuFault.GP);
    }

    @Test
    void withoutXsavecTheCompactedFormIsGeneralProtectionAndXsavecUndefined() {
        CpuRig rig = compactedArea(rig(), 3, COMPACTED | 3, 0x1f80);
        rig.bus.leafDSub1Eax = 1;
        run(rig, XRSTOR, 3);
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        rig = rig();
        rig.bus.leafDSub1Eax = 1;
        run(rig, XSAVEC, 3);
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(rig.stack(0)).isEqualTo(INSN);
        rig = rig();
        rig.bus.leafDSub1Eax = 1 | 2;
        run(rig, XSAVES, 3);
        assertThat(rig.haltedInVector()).as("XSAVES needs its own bit").isEqualTo(CpuFault.UD);
    }

    @Test
    void xsavecOfAnAreaNotAlignedTo64BytesIsGeneralProtection() {
        CpuRig rig = rig();
        run(rig, "0f c7 67 20", 3); // xsavec 0x20(%rdi)
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.r64(AREA + 0x20 + 512)).as("nothing written").isZero();
    }

    @Test
    void xsavesAndXrstorsRoundTripAtCpl0() {
        CpuRig rig = rig();
        run(rig, XSAVES, 3);
        assertThat(rig.r64(AREA + 512)).isEqualTo(3);
        assertThat(rig.r64(AREA + 520)).isEqualTo(COMPACTED | 3);
        rig.w64(AREA + 160 + 16 * 3, 0x7777);
        run(rig, XRSTORS, 3);
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(0x7777);
    }

    @Test
    void xrstorsOfAStandardFormAreaIsGeneralProtection() {
        CpuRig rig = compactedArea(rig(), 3, 0, 0x1f80);
        run(rig, XRSTORS, 3);
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(1)).isEqualTo(INSN);
    }

    /** Runs {@code insn} (on 0x200000, EDX:EAX = 3) at CPL 3 after setting CR4.OSXSAVE and XCR0. */
    private static CpuRig runInUserMode(String insn) {
        CpuRig rig = compactedArea(rig(), 3, COMPACTED | 3, 0x1f80);
        rig.load(0x400000,
                // 400000: bf 00 00 20 00           mov    $0x200000,%edi
                // 400005: b8 03 00 00 00           mov    $0x3,%eax
                // 40000a: 31 d2                    xor    %edx,%edx
                // 40000c: .. .. ..                 (insn) (%rdi)
                // 40000f: f4                       hlt
                hex("bf 00 00 20 00 b8 03 00 00 00 31 d2 " + insn + " f4"));
        return rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 04 00        or     $0x40000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: 31 c9                    xor    %ecx,%ecx
                // 1000e: b8 03 00 00 00           mov    $0x3,%eax
                // 10013: 31 d2                    xor    %edx,%edx
                // 10015: 0f 01 d1                 xsetbv
                // 10018: 6a 23                    push   $0x23
                // 1001a: 68 00 f0 47 00           push   $0x47f000
                // 1001f: 9c                       pushf
                // 10020: 6a 2b                    push   $0x2b
                // 10022: 68 00 00 40 00           push   $0x400000
                // 10027: 48 cf                    iretq
                hex("0f 20 e0 48 0d 00 00 04 00 0f 22 e0 31 c9 b8 03 00 00 00 31 d2 0f 01 d1 6a 23 68 00 f0 47 00 9c "
                        + "6a 2b 68 00 00 40 00 48 cf"));
    }

    @Test
    void xsavesAndXrstorsAreGeneralProtectionAtCpl3WhereXsavecRuns() {
        for (String insn : new String[] {XSAVES, XRSTORS}) {
            CpuRig rig = runInUserMode(insn);
            assertThat(rig.haltedInVector()).as(insn).isEqualTo(CpuFault.GP);
            assertThat(rig.stack(1)).isEqualTo(0x40000c);
            assertThat(rig.r64(AREA + 520)).as("area untouched").isEqualTo(COMPACTED | 3);
        }
        CpuRig rig = runInUserMode(XSAVEC);
        assertThat(rig.haltedInVector()).as("the HLT after XSAVEC faults at CPL 3").isEqualTo(CpuFault.GP);
        assertThat(rig.stack(1)).isEqualTo(0x40000f);
    }

    /** XGETBV with ECX = {@code xcr}, then RDMSR IA32_XSS and WRMSR it with {@code xss}. */
    private static CpuRig xgetbvAndXss(int leafDSub1Eax, long xcr, long xss) {
        CpuRig rig = rig();
        rig.bus.leafDSub1Eax = leafDSub1Eax;
        rig.cpu.setGpr(13, xcr);
        rig.cpu.setGpr(14, xss);
        rig.cpu.setGpr(9, -1);
        rig.cpu.setGpr(10, -1);
        return rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 48 0d 00 00 04 00        or     $0x40000,%rax
                // 10009: 0f 22 e0                 mov    %rax,%cr4
                // 1000c: 31 c9                    xor    %ecx,%ecx
                // 1000e: b8 03 00 00 00           mov    $0x3,%eax
                // 10013: 31 d2                    xor    %edx,%edx
                // 10015: 0f 01 d1                 xsetbv
                // 10018: 44 89 e9                 mov    %r13d,%ecx
                // 1001b: 0f 01 d0                 xgetbv
                // 1001e: 41 89 c1                 mov    %eax,%r9d
                // 10021: b9 a0 0d 00 00           mov    $0xda0,%ecx
                // 10026: 0f 32                    rdmsr
                // 10028: 41 89 c2                 mov    %eax,%r10d
                // 1002b: 44 89 f0                 mov    %r14d,%eax
                // 1002e: 31 d2                    xor    %edx,%edx
                // 10030: 0f 30                    wrmsr
                // 10032: f4                       hlt
                hex("0f 20 e0 48 0d 00 00 04 00 0f 22 e0 31 c9 b8 03 00 00 00 31 d2 0f 01 d1 44 89 e9 0f 01 d0 41 89 "
                        + "c1 b9 a0 0d 00 00 0f 32 41 89 c2 44 89 f0 31 d2 0f 30 f4"));
    }

    @Test
    void xgetbvOneReadsXcr0AndIa32XssHoldsOnlyZero() {
        CpuRig rig = xgetbvAndXss(0xf, 1, 0);
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.reg(9)).as("XCR0 & XINUSE").isEqualTo(3);
        assertThat(rig.reg(10)).as("IA32_XSS").isZero();
        rig = xgetbvAndXss(0xf, 1, 1);
        assertThat(rig.haltedInVector()).as("IA32_XSS bit 0").isEqualTo(CpuFault.GP);
        assertThat(rig.stack(1)).isEqualTo(CODE + 0x30);
    }

    @Test
    void withoutTheirCpuidBitsXgetbvOneAndIa32XssAreGeneralProtection() {
        CpuRig rig = xgetbvAndXss(1, 1, 0);
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(1)).as("XGETBV").isEqualTo(CODE + 0x1b);
        rig = xgetbvAndXss(1 | 4, 1, 0);
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(1)).as("RDMSR IA32_XSS").isEqualTo(CODE + 0x26);
    }
}

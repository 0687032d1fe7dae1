package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.CODE;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * SSE snippets whose outcome the differential test cannot show: the faults (#UD, #NM, #GP,
 * #XM) and their order, MXCSR after an unmasked exception, the XMM state in the FXSAVE image
 * and in {@link Cpu#saveState()}. Values are checked by CpuDifferentialTest against the host.
 */
class SseTest {
    private static final long DATA = 0x20000;
    private static final long OSFXSR = CpuState.CR4_OSFXSR, OSXMMEXCPT = CpuState.CR4_OSXMMEXCPT;

    /** A 64-bit rig whose OS enabled SSE with #XM reporting, RAX pointing at DATA. */
    private static CpuRig sseRig() {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCr(4, rig.cpu.getCr(4) | OSFXSR | OSXMMEXCPT);
        rig.cpu.setGpr(Cpu.RAX, DATA);
        return rig;
    }

    @Test
    void busyboxsFirstSseInstructionsStoreAndCompareAsOnHardware() {
        CpuRig rig = sseRig();
        for (int i = 0; i < 32; i++) {
            rig.memory.write8(DATA + 16 + i, 0xa0 + i);
        }
        rig.run(hex(
                // 0:  48 bb 88 77 66 55 44 33 22 11  movabs $0x1122334455667788,%rbx
                // a:  66 48 0f 6e c3                 movq %rbx,%xmm0
                // f:  66 0f 6c c0                    punpcklqdq %xmm0,%xmm0
                // 13: 0f 29 00                       movaps %xmm0,(%rax)
                // 16: 66 0f ef c0                    pxor %xmm0,%xmm0
                // 1a: 0f 28 10                       movaps (%rax),%xmm2
                // 1d: 66 0f 74 d0                    pcmpeqb %xmm0,%xmm2
                // 21: 66 0f d7 ca                    pmovmskb %xmm2,%ecx
                // 25: f3 0f 6f 58 01                 movdqu 0x1(%rax),%xmm3
                // 2a: 66 48 0f 7e da                 movq %xmm3,%rdx
                // 2f: f4                             hlt
                "48 bb 88 77 66 55 44 33 22 11 66 48 0f 6e c3 66 0f 6c c0 0f 29 00 66 0f ef c0 0f 28 10 "
                        + "66 0f 74 d0 66 0f d7 ca f3 0f 6f 58 01 66 48 0f 7e da f4"));
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.memory.read64(DATA)).isEqualTo(0x1122334455667788L);
        assertThat(rig.memory.read64(DATA + 8)).isEqualTo(0x1122334455667788L);
        assertThat(rig.cpu.getXmm(0, 0) | rig.cpu.getXmm(0, 1)).as("pxor cleared xmm0").isZero();
        assertThat(rig.reg(Cpu.RCX)).as("no zero byte").isZero();
        assertThat(rig.reg(Cpu.RDX)).as("an unaligned load").isEqualTo(0x8811223344556677L);
    }

    @Test
    void crZeroTsRaisesNmAndEmOrAMissingOsfxsrRaisesUd() {
        byte[] pxor = hex("66 0f ef c0 f4"); // pxor %xmm0,%xmm0; hlt
        CpuRig ts = sseRig();
        ts.cpu.setCr(0, ts.cpu.getCr(0) | CpuState.CR0_TS);
        assertThat(ts.run(pxor).haltedInVector()).isEqualTo(CpuFault.NM);
        assertThat(ts.stack(0)).as("#NM reports the instruction").isEqualTo(CODE);

        CpuRig em = sseRig();
        em.cpu.setCr(0, em.cpu.getCr(0) | CpuState.CR0_EM | CpuState.CR0_TS);
        assertThat(em.run(pxor).haltedInVector()).as("EM wins over TS").isEqualTo(CpuFault.UD);

        CpuRig noOs = new CpuRig().longMode();
        assertThat(noOs.run(pxor).haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(noOs.cpu.unimplementedOpcodes()).as("a disabled form is not an unimplemented one").isEmpty();
    }

    @Test
    void crc32IsAGeneralRegisterInstructionThatNeedsNoSseState() {
        // f2 0f 38 f0 c3  crc32 %bl,%eax; hlt  -- with CR4.OSFXSR clear and CR0.TS set
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCr(0, rig.cpu.getCr(0) | CpuState.CR0_TS);
        rig.cpu.setGpr(Cpu.RAX, 0xffffffffL);
        rig.cpu.setGpr(Cpu.RBX, 'a');
        rig.run(hex("f2 0f 38 f0 c3 f4"));
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        // CRC-32C of "a" with the customary inversions: 0xc1d04330
        assertThat(~rig.reg(Cpu.RAX) & 0xffffffffL).isEqualTo(0xc1d04330L);
    }

    @Test
    void alignedFormsRaiseGpOnAMisalignedOperandAndUnalignedFormsDoNot() {
        CpuRig aligned = sseRig();
        aligned.cpu.setGpr(Cpu.RAX, DATA + 8);
        aligned.run(hex("0f 28 08 f4")); // movaps (%rax),%xmm1
        assertThat(aligned.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(aligned.stack(0)).as("error code").isZero();
        assertThat(aligned.stack(1)).isEqualTo(CODE);

        CpuRig unaligned = sseRig();
        unaligned.cpu.setGpr(Cpu.RAX, DATA + 8);
        unaligned.memory.write64(DATA + 8, 0x0123456789abcdefL);
        unaligned.run(hex("0f 10 08 f4")); // movups (%rax),%xmm1
        assertThat(unaligned.haltedInVector()).isEqualTo(-1);
        assertThat(unaligned.cpu.getXmm(1, 0)).isEqualTo(0x0123456789abcdefL);
    }

    @Test
    void anUnmaskedExceptionRaisesXmLeavesTheDestinationAndSetsTheFlag() {
        byte[] divss = hex("f3 0f 5e ca f4"); // divss %xmm2,%xmm1; hlt
        CpuRig rig = sseRig();
        rig.cpu.setXmm(1, 0x3f800000L, 0x1234);  // 1.0f
        rig.cpu.setXmm(2, 0, 0);                 // 0.0f
        rig.cpu.setMxcsr(0x1f80 & ~0x200);       // ZM clear
        rig.run(divss);
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.XM);
        assertThat(rig.stack(0)).isEqualTo(CODE);
        assertThat(rig.cpu.getXmm(1, 0)).as("destination unchanged").isEqualTo(0x3f800000L);
        assertThat(rig.cpu.getMxcsr()).isEqualTo((0x1f80 & ~0x200) | 0x4); // ZE

        CpuRig masked = sseRig();
        masked.cpu.setXmm(1, 0x3f800000L, 0);
        masked.run(divss);
        assertThat(masked.haltedInVector()).isEqualTo(-1);
        assertThat(masked.cpu.getXmm(1, 0)).as("+inf").isEqualTo(0x7f800000L);
        assertThat(masked.cpu.getMxcsr()).isEqualTo(0x1f84);

        // A postcomputation exception: 1/3 is inexact, PM clear.
        CpuRig inexact = sseRig();
        inexact.cpu.setXmm(1, 0x3f800000L, 0);
        inexact.cpu.setXmm(2, 0x40400000L, 0);   // 3.0f
        inexact.cpu.setMxcsr(0x1f80 & ~0x1000);
        inexact.run(divss);
        assertThat(inexact.haltedInVector()).isEqualTo(CpuFault.XM);
        assertThat(inexact.cpu.getXmm(1, 0)).isEqualTo(0x3f800000L);
        assertThat(inexact.cpu.getMxcsr() & 0x3f).isEqualTo(0x20); // PE
    }

    @Test
    void withoutOsxmmexcptAnUnmaskedExceptionRaisesUd() {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCr(4, rig.cpu.getCr(4) | OSFXSR);
        rig.cpu.setXmm(1, 0x3f800000L, 0);
        rig.cpu.setMxcsr(0x1f80 & ~0x200);
        rig.run(hex("f3 0f 5e ca f4"));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(rig.cpu.getMxcsr() & 0x3f).isEqualTo(0x4);
        assertThat(rig.cpu.unimplementedOpcodes()).isEmpty();
    }

    @Test
    void fxsaveAndFxrstorCarryTheXmmRegistersAndMxcsr() {
        CpuRig rig = sseRig();
        for (int i = 0; i < 16; i++) {
            rig.cpu.setXmm(i, 0x1111111111111111L * i, ~(0x0101010101010101L * i));
        }
        rig.cpu.setMxcsr(0x3fa5);
        long restoreFrom = DATA + 0x1000;
        for (int i = 0; i < 16; i++) {
            rig.memory.write64(restoreFrom + 160 + 16 * i, 0x5500 + i);
            rig.memory.write64(restoreFrom + 168 + 16 * i, 0x6600 + i);
        }
        rig.memory.write32(restoreFrom + 24, 0x1f80);
        rig.memory.write16(restoreFrom, 0x37f);
        rig.cpu.setGpr(Cpu.RBX, restoreFrom);
        // 0f ae 00  fxsave (%rax); 0f ae 0b  fxrstor (%rbx); hlt
        rig.run(hex("0f ae 00 0f ae 0b f4"));
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        for (int i = 0; i < 16; i++) {
            assertThat(rig.memory.read64(DATA + 160 + 16 * i)).isEqualTo(0x1111111111111111L * i);
            assertThat(rig.memory.read64(DATA + 168 + 16 * i)).isEqualTo(~(0x0101010101010101L * i));
            assertThat(rig.cpu.getXmm(i, 0)).isEqualTo(0x5500 + i);
            assertThat(rig.cpu.getXmm(i, 1)).isEqualTo(0x6600 + i);
        }
        assertThat(rig.memory.read32(DATA + 24)).isEqualTo(0x3fa5);
        assertThat(rig.memory.read32(DATA + 28)).as("MXCSR_MASK").isEqualTo(0xffff);
        assertThat(rig.cpu.getMxcsr()).isEqualTo(0x1f80);
    }

    @Test
    void inProtectedModeSseRunsAndFxsaveStoresOnlyXmm0To7() {
        CpuRig rig = new CpuRig();
        rig.cpu.enterFlatProtectedMode((int) CODE);
        rig.cpu.setCr(4, OSFXSR);
        for (int i = 0; i < 16; i++) {
            rig.cpu.setXmm(i, 0x100 + i, 0x200 + i);
        }
        rig.memory.write64(DATA + 288, 0x5a5a5a5a5a5a5a5aL); // where XMM8 would go
        rig.cpu.setGpr(Cpu.RAX, DATA);
        // 66 0f d4 c1  paddq %xmm1,%xmm0; 0f ae 00  fxsave (%eax); hlt
        rig.load(CODE, hex("66 0f d4 c1 0f ae 00 f4"));
        rig.cpu.setRip(CODE);
        assertThat(rig.cpu.run(100)).isEqualTo(RunStop.HALTED);
        assertThat(rig.memory.read64(DATA + 160)).isEqualTo(0x201);   // xmm0.lo = 0x100 + 0x101
        assertThat(rig.memory.read64(DATA + 168)).isEqualTo(0x401);
        assertThat(rig.memory.read64(DATA + 160 + 16 * 7)).isEqualTo(0x107);
        assertThat(rig.memory.read64(DATA + 288)).as("XMM8-15 are not saved outside 64-bit mode")
                .isEqualTo(0x5a5a5a5a5a5a5a5aL);
    }

    @Test
    void aSavedStateCarriesTheXmmRegistersInItsFxsaveImage() {
        CpuRig rig = sseRig();
        rig.cpu.setXmm(15, 0xabcdefL, 0x123456L);
        rig.cpu.setMxcsr(0x7f80);
        Cpu.State saved = rig.cpu.saveState();
        rig.cpu.setXmm(15, 0, 0);
        rig.cpu.setMxcsr(0x1f80);
        rig.cpu.restoreState(saved);
        assertThat(rig.cpu.getXmm(15, 0)).isEqualTo(0xabcdefL);
        assertThat(rig.cpu.getXmm(15, 1)).isEqualTo(0x123456L);
        assertThat(rig.cpu.getMxcsr()).isEqualTo(0x7f80);
    }

    @Test
    void initKeepsTheXmmRegistersAndResetClearsThem() {
        CpuRig rig = sseRig();
        rig.cpu.setXmm(3, 42, 43);
        rig.cpu.init();
        assertThat(rig.cpu.getXmm(3, 0)).as("INIT keeps SSE state (SDM 10.1.1)").isEqualTo(42);
        rig.cpu.reset();
        assertThat(rig.cpu.getXmm(3, 0) | rig.cpu.getXmm(3, 1)).isZero();
    }

    @Test
    void compiledBlocksRunSseFormsThroughTheInterpretersHandler() {
        CpuRig rig = sseRig();
        rig.cpu.setCompileThreshold(1);
        // A loop: paddd %xmm1,%xmm0; dec %ecx; jnz loop; hlt   (66 0f fe c1; ff c9; 75 f8; f4)
        rig.cpu.setXmm(0, 0, 0);
        rig.cpu.setXmm(1, 0x0000000200000001L, 0x0000000400000003L);
        rig.cpu.setGpr(Cpu.RCX, 100);
        rig.run(hex("66 0f fe c1 ff c9 75 f8 f4"));
        assertThat(rig.cpu.compiledBlocks()).isPositive();
        assertThat(rig.cpu.getXmm(0, 0)).isEqualTo(0x000000c800000064L);
        assertThat(rig.cpu.getXmm(0, 1)).isEqualTo(0x000001900000012cL);
    }
}

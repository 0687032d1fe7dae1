package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.CODE;
import static org.tscvm.cpu.CpuRig.hex;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/**
 * MMX's effects on the x87 state (SDM Vol. 1 9.5, table 9-2) and its faults, as byte snippets
 * with their assembly: TOP 0 and all tags valid after any MMX instruction, the exponent bits
 * of a written register all ones, EMMS, the x87 instructions after MMX with and without EMMS,
 * #UD for CR0.EM, #NM for CR0.TS, #MF for a pending unmasked x87 exception, and the SSE forms
 * with an MMX operand (CR4.OSFXSR; CVTPI2PS from memory leaves the x87 alone). The values
 * themselves are the differential test's (MmxForms).
 */
class MmxTest {
    private static final long DATA = 0x20000;
    /** mov rax,cr0; or eax,imm8; mov cr0,rax (the imm8 follows). */
    private static final String SET_CR0 = "0f 20 c0 83 c8 %02x 0f 22 c0";
    /** mov rax,0x1122334455667788. */
    private static final String MOV_RAX = "48 b8 88 77 66 55 44 33 22 11";
    private static final long RAX_VALUE = 0x1122334455667788L;
    /** fninit; fld1: TOP 7, R7 = 1.0, the rest empty. */
    private static final String ONE_ON_THE_STACK = "db e3 d9 e8";

    private static CpuRig run(String code) {
        return new CpuRig().longMode().run(hex(code + " f4"));
    }

    private static int fsw(CpuRig rig) {
        byte[] x = rig.cpu.getX87();
        return (x[2] & 0xff) | (x[3] & 0xff) << 8;
    }

    /** The FXSAVE abridged tag: bit p set when physical register p is valid. */
    private static int abridgedTag(CpuRig rig) {
        return rig.cpu.getX87()[4] & 0xff;
    }

    private static long significand(CpuRig rig, int st) {
        return ByteBuffer.wrap(rig.cpu.getX87(), 32 + 16 * st, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    private static int signExponent(CpuRig rig, int st) {
        byte[] x = rig.cpu.getX87();
        return (x[40 + 16 * st] & 0xff) | (x[41 + 16 * st] & 0xff) << 8;
    }

    @Test
    void aWriteSetsTopToZeroEveryTagValidAndTheRegistersExponentToOnes() {
        // fninit; fld1 (TOP 7); mov rax,imm64; movq mm0,rax
        CpuRig rig = run(ONE_ON_THE_STACK + " " + MOV_RAX + " 48 0f 6e c0");
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat((fsw(rig) >>> 11) & 7).as("TOP").isZero();
        assertThat(abridgedTag(rig)).as("all valid").isEqualTo(0xff);
        assertThat(significand(rig, 0)).as("MM0 = R0's significand").isEqualTo(RAX_VALUE);
        assertThat(signExponent(rig, 0)).as("R0's sign and exponent").isEqualTo(0xffff);
        assertThat(significand(rig, 7)).as("R7 keeps 1.0").isEqualTo(0x8000000000000000L);
        assertThat(signExponent(rig, 7)).isEqualTo(0x3fff);
    }

    @Test
    void aReadAlsoEntersMmxStateButLeavesTheRegisterAlone() {
        // fninit; fld1 (R7 = 1.0); movd eax,mm7; pmovmskb ecx,mm7
        CpuRig rig = run(ONE_ON_THE_STACK + " 0f 7e f8 0f d7 cf");
        assertThat(rig.reg(Cpu.RAX)).isZero();
        assertThat(rig.reg(Cpu.RCX)).as("the sign of byte 7 of 8000000000000000").isEqualTo(0x80);
        assertThat((fsw(rig) >>> 11) & 7).isZero();
        assertThat(abridgedTag(rig)).isEqualTo(0xff);
        assertThat(signExponent(rig, 7)).as("R7 is ST7 with TOP 0: unchanged").isEqualTo(0x3fff);
    }

    @Test
    void emmsEmptiesEveryRegisterAndSetsTopToZero() {
        // fninit; fld1; emms
        CpuRig rig = run(ONE_ON_THE_STACK + " 0f 77");
        assertThat(abridgedTag(rig)).isZero();
        assertThat((fsw(rig) >>> 11) & 7).isZero();
        assertThat(significand(rig, 7)).as("the contents stay, only tagged empty").isEqualTo(0x8000000000000000L);
    }

    @Test
    void x87CodeAfterMmxNeedsEmms() {
        // fninit; movq mm0,rax; emms; fld1; fnstsw ax: a clean push, TOP 7
        CpuRig rig = run("db e3 " + MOV_RAX + " 48 0f 6e c0 0f 77 d9 e8 df e0");
        assertThat(rig.reg(Cpu.RAX) & 0xffff).isEqualTo(0x3800);
        assertThat(significand(rig, 0)).isEqualTo(0x8000000000000000L);
        // without EMMS the push finds R7 valid: stack overflow (IE, SF, C1), the indefinite loaded
        rig = run("db e3 " + MOV_RAX + " 48 0f 6e c0 d9 e8 df e0");
        assertThat(rig.reg(Cpu.RAX) & 0xffff).isEqualTo(0x3800 | 0x200 | 0x40 | 0x1);
        assertThat(significand(rig, 0)).isEqualTo(0xc000000000000000L);
    }

    @Test
    void fnstenvTagsAnMmxRegisterSpecial() {
        // fninit; movq mm3,rax; mov ebx,DATA; fnstenv [rbx]: R3 (exponent all ones) is special (10);
        // the others, valid now, hold the zeros a fresh CPU starts with (FNINIT keeps contents): zero (01)
        CpuRig rig = run("db e3 " + MOV_RAX + " 48 0f 6e d8 bb 00 00 02 00 d9 33");
        int tag = rig.memory.read32(DATA + 8) & 0xffff;
        assertThat((tag >>> 6) & 3).isEqualTo(2);
        assertThat(tag & 0x3f).as("R0-R2 hold zeros: tag 01").isEqualTo(0x15);
    }

    @Test
    void cr0EmMakesMmxRaiseUdNotNm() {
        // or eax,4 (EM); movq mm0,rax -> #UD at offset 9, not counted as unimplemented
        CpuRig rig = run(String.format(SET_CR0, 4) + " 48 0f 6e c0");
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(rig.stack(0)).isEqualTo(CODE + 9);
        assertThat(rig.cpu.unimplementedOpcodes()).isEmpty();
        rig = run(String.format(SET_CR0, 4) + " 0f 77");
        assertThat(rig.haltedInVector()).as("emms").isEqualTo(CpuFault.UD);
    }

    @Test
    void cr0TsMakesMmxRaiseNm() {
        // or eax,8 (TS); paddb mm1,mm2 -> #NM; emms -> #NM
        CpuRig rig = run(String.format(SET_CR0, 8) + " 0f fc ca");
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.NM);
        assertThat(rig.stack(0)).isEqualTo(CODE + 9);
        rig = run(String.format(SET_CR0, 8) + " 0f 77");
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.NM);
    }

    /** or eax,0x20 (NE); fninit; mov ebx,DATA; fldcw [rbx] (ZE unmasked); fldz; fld1; fdiv st,st(1). */
    private static final String DIVIDE_BY_ZERO_UNMASKED = String.format(SET_CR0, 0x20)
            + " db e3 bb 00 00 02 00 d9 2b d9 ee d9 e8 d8 f1";
    private static final long AFTER_DIVIDE = 9 + 2 + 5 + 2 + 2 + 2 + 2;

    @Test
    void aPendingUnmaskedX87ExceptionIsMfBeforeAnMmxInstruction() {
        for (String mmx : new String[] {"48 0f 6e c0", "0f 77", "0f ef c0", "0f 71 d0 03"}) {
            CpuRig rig = new CpuRig().longMode();
            rig.w64(DATA, 0x37b);
            rig.run(hex(DIVIDE_BY_ZERO_UNMASKED + " " + mmx + " f4"));
            assertThat(rig.haltedInVector()).as(mmx).isEqualTo(CpuFault.MF);
            assertThat(rig.stack(0)).as(mmx).isEqualTo(CODE + AFTER_DIVIDE);
            assertThat((fsw(rig) >>> 11) & 7).as("no transition: TOP still 6").isEqualTo(6);
        }
        // without CR0.NE (IGNNE# asserted, as for x87 instructions) the MMX instruction runs
        CpuRig rig = new CpuRig().longMode();
        rig.w64(DATA, 0x37b);
        rig.run(hex(DIVIDE_BY_ZERO_UNMASKED.replaceFirst("83 c8 20", "83 c8 00") + " 0f ef c0 f4"));
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat((fsw(rig) >>> 11) & 7).isZero();
    }

    @Test
    void mmxRunsWithoutOsfxsrButItsSseFormsDoNot() {
        // CR4.OSFXSR clear (CpuRig's default): pxor mm0,mm0 runs; cvtpi2ps xmm0,mm0 and movq2dq xmm0,mm0 are #UD
        assertThat(run("0f ef c0").haltedInVector()).isEqualTo(-1);
        assertThat(run("0f 2a c0").haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(run("f3 0f d6 c0").haltedInVector()).isEqualTo(CpuFault.UD);
    }

    @Test
    void cvtpi2psFromMemoryLeavesTheX87StateAlone() {
        // fninit; fld1 (TOP 7); mov ebx,DATA; cvtpi2ps xmm0,[rbx]: TOP and tags unchanged
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCr(4, rig.cpu.getCr(4) | CpuState.CR4_OSFXSR);
        rig.w64(DATA, 3L << 32 | 2);
        rig.run(hex(ONE_ON_THE_STACK + " bb 00 00 02 00 0f 2a 03 f4"));
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat((fsw(rig) >>> 11) & 7).isEqualTo(7);
        assertThat(abridgedTag(rig)).isEqualTo(0x80);
        assertThat(rig.cpu.getXmm(0, 0)).as("3.0f:2.0f").isEqualTo(0x4040000040000000L);
        // from mm0 it enters MMX state
        rig = new CpuRig().longMode();
        rig.cpu.setCr(4, rig.cpu.getCr(4) | CpuState.CR4_OSFXSR);
        rig.run(hex(ONE_ON_THE_STACK + " 0f 2a c0 f4"));
        assertThat((fsw(rig) >>> 11) & 7).isZero();
        assertThat(abridgedTag(rig)).isEqualTo(0xff);
    }

    @Test
    void fxsaveAndFxrstorCarryTheMmxRegisters() {
        // movq mm5,rax; mov ebx,DATA; fxsave [rbx]; emms; fxrstor [rbx]; movq rcx,mm5
        CpuRig rig = run(MOV_RAX + " 48 0f 6e e8 bb 00 00 02 00 0f ae 03 0f 77 0f ae 0b 48 0f 7e e9");
        assertThat(rig.reg(Cpu.RCX)).isEqualTo(RAX_VALUE);
        assertThat(rig.r64(DATA + 32 + 16 * 5)).isEqualTo(RAX_VALUE);
        assertThat(rig.memory.read32(DATA + 32 + 16 * 5 + 8) & 0xffff).isEqualTo(0xffff);
    }
}

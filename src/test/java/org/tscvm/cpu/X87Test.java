package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.CODE;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * x87 behaviour the differential test cannot reach: #NM from CR0.EM/TS/MP, #MF at the next
 * waiting instruction, the pointers FIP/FDP/FOP, the FNSTENV/FNSAVE images in their four
 * formats, and the FXSAVE/FXRSTOR and snapshot round trips. Byte snippets with their assembly.
 */
class X87Test {
    private static final long DATA = 0x20000;
    /** mov rax,cr0; or eax,imm8; mov cr0,rax (the imm8 follows). */
    private static final String SET_CR0 = "0f 20 c0 83 c8 %02x 0f 22 c0";

    private static CpuRig run(String code) {
        return new CpuRig().longMode().run(hex(code + " f4"));
    }

    private static CpuRig runWithData(String code, long[] qwords) {
        CpuRig rig = new CpuRig().longMode();
        for (int i = 0; i < qwords.length; i++) {
            rig.w64(DATA + 8L * i, qwords[i]);
        }
        return rig.run(hex(code + " f4"));
    }

    @Test
    void cr0EmMakesEveryX87InstructionRaiseNm() {
        // or eax,4 (EM); fninit -> #NM at the fninit (offset 9)
        CpuRig rig = run(String.format(SET_CR0, 4) + " db e3");
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.NM);
        assertThat(rig.stack(0)).isEqualTo(CODE + 9);
    }

    @Test
    void cr0TsRaisesNmButWaitOnlyWithMp() {
        // or eax,8 (TS); fwait (runs: MP clear); fld1 -> #NM
        CpuRig rig = run(String.format(SET_CR0, 8) + " 9b d9 e8");
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.NM);
        assertThat(rig.stack(0)).isEqualTo(CODE + 10);
        // or eax,0xa (TS|MP); fwait -> #NM
        rig = run(String.format(SET_CR0, 0xa) + " 9b");
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.NM);
        assertThat(rig.stack(0)).isEqualTo(CODE + 9);
    }

    /** or eax,0x20 (NE); fninit; mov ebx,DATA; fldcw [rbx] (ZE unmasked); fldz; fld1; fdiv st,st(1); fnstsw ax. */
    private static final String DIVIDE_BY_ZERO_UNMASKED = String.format(SET_CR0, 0x20)
            + " db e3 bb 00 00 02 00 d9 2b d9 ee d9 e8 d8 f1 df e0";
    private static final long AFTER_DIVIDE = 9 + 2 + 5 + 2 + 2 + 2 + 2 + 2;

    @Test
    void anUnmaskedExceptionIsMfAtTheNextWaitingInstructionWithNe() {
        // ... then fld1: #MF there, not at the fdiv; FNSTSW (non-waiting) saw ZE, ES and B.
        CpuRig rig = runWithData(DIVIDE_BY_ZERO_UNMASKED + " d9 e8", new long[] {0x37b});
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.MF);
        assertThat(rig.stack(0)).isEqualTo(CODE + AFTER_DIVIDE);
        assertThat(rig.reg(Cpu.RAX) & 0xffff).isEqualTo(0x8000 | 0x3000 | 0x80 | 0x4); // B, TOP 6, ES, ZE
        // FWAIT faults the same way; FNCLEX first clears the pending exception.
        rig = runWithData(DIVIDE_BY_ZERO_UNMASKED + " 9b", new long[] {0x37b});
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.MF);
        rig = runWithData(DIVIDE_BY_ZERO_UNMASKED + " db e2 9b d9 e8", new long[] {0x37b});
        assertThat(rig.haltedInVector()).isEqualTo(-1);
    }

    @Test
    void withoutNeAPendingExceptionDoesNotStopTheNextInstruction() {
        // As DIVIDE_BY_ZERO_UNMASKED with "or eax,0" instead of NE: tscvm models IGNNE# asserted.
        String code = DIVIDE_BY_ZERO_UNMASKED.replaceFirst("83 c8 20", "83 c8 00") + " d9 e8";
        CpuRig rig = runWithData(code, new long[] {0x37b});
        assertThat(rig.haltedInVector()).isEqualTo(-1);
    }

    @Test
    void aMaskedStackOverflowLoadsTheIndefiniteAndSetsSfC1() {
        // fninit; 9 x fld1; fnstsw ax
        CpuRig rig = run("db e3" + " d9 e8".repeat(9) + " df e0");
        assertThat(rig.reg(Cpu.RAX) & 0xffff).as("TOP 7, C1, SF, IE").isEqualTo(0x3800 | 0x200 | 0x40 | 0x1);
        byte[] x87 = rig.cpu.getX87();
        assertThat(java.nio.ByteBuffer.wrap(x87, 32, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong())
                .isEqualTo(0xc000000000000000L);
        assertThat(x87[40] & 0xff | (x87[41] & 0xff) << 8).isEqualTo(0xffff);
    }

    @Test
    void fnstenvRecordsTheLastInstructionAndOperandAndMasksEverything() {
        // fninit (0); mov ebx,DATA (2); fld qword [rbx+8] (7); fnstenv [rbx+0x40] (10); fnstcw [rbx+0x70] (13)
        CpuRig rig = runWithData("db e3 bb 00 00 02 00 dd 43 08 d9 73 40 d9 7b 70",
                new long[] {0, 0x3ff0000000000000L});
        long env = DATA + 0x40;
        assertThat(rig.memory.read32(env) & 0xffff).isEqualTo(0x37f);
        assertThat(rig.memory.read32(env + 4) & 0xffff).isEqualTo(0x3800);
        assertThat(rig.memory.read32(env + 8) & 0xffff).as("ST0 (R7) valid, the rest empty").isEqualTo(0x3fff);
        assertThat(rig.memory.read32(env + 12)).as("FIP").isEqualTo((int) CODE + 7);
        assertThat(rig.memory.read32(env + 16)).as("FCS and FOP (DD /0, ModRM 43)").isEqualTo(0x08 | (0x543 << 16));
        assertThat(rig.memory.read32(env + 20)).as("FDP").isEqualTo((int) DATA + 8);
        assertThat(rig.memory.read32(env + 24) & 0xffff).as("FDS").isEqualTo(0x10);
        assertThat(rig.memory.read16(DATA + 0x70)).as("FCW after FNSTENV: all masked").isEqualTo(0x37f);
    }

    @Test
    void aRegisterFormMovesFipAndFopButLeavesFdpAtTheLastMemoryOperand() {
        // fninit; mov ebx,DATA; fld qword [rbx+8] (7); fld1 (10); fnstenv [rbx+0x40]
        CpuRig rig = runWithData("db e3 bb 00 00 02 00 dd 43 08 d9 e8 d9 73 40", new long[] {0, 0x3ff0000000000000L});
        long env = DATA + 0x40;
        assertThat(rig.memory.read32(env + 12)).as("FIP: fld1").isEqualTo((int) CODE + 10);
        assertThat(rig.memory.read32(env + 16) >>> 16).as("FOP: D9 E8").isEqualTo(0x1e8);
        assertThat(rig.memory.read32(env + 20)).as("FDP: still fld's operand").isEqualTo((int) DATA + 8);
    }

    @Test
    void fxsaveWithoutRexWStoresThe32BitPointerFormat() {
        // fninit; mov ebx,DATA; fld qword [rbx+8] (7); fxsave [rbx+0x100] (no REX.W)
        CpuRig rig = runWithData("db e3 bb 00 00 02 00 dd 43 08 0f ae 83 00 01 00 00", new long[] {0, 0x3ff0000000000000L});
        long image = DATA + 0x100;
        assertThat(rig.memory.read32(image + 8)).as("FIP").isEqualTo((int) CODE + 7);
        assertThat(rig.memory.read16(image + 12)).as("FCS").isEqualTo(0x08);
        assertThat(rig.memory.read32(image + 16)).as("FDP").isEqualTo((int) DATA + 8);
        assertThat(rig.memory.read16(image + 20)).as("FDS").isEqualTo(0x10);
        assertThat(rig.memory.read64(image + 32)).as("ST0 = 1").isEqualTo(0x8000000000000000L);
    }

    @Test
    void fnstenvIn16BitProtectedFormat() {
        // fninit; mov ebx,DATA; fld1 (7); 66 fnstenv [rbx+0x40]
        CpuRig rig = runWithData("db e3 bb 00 00 02 00 d9 e8 66 d9 73 40", new long[0]);
        long env = DATA + 0x40;
        assertThat(rig.memory.read16(env)).isEqualTo(0x37f);
        assertThat(rig.memory.read16(env + 2)).isEqualTo(0x3800);
        assertThat(rig.memory.read16(env + 4)).isEqualTo(0x3fff);
        assertThat(rig.memory.read16(env + 6)).as("FIP").isEqualTo((int) CODE + 7 & 0xffff);
        assertThat(rig.memory.read16(env + 8)).as("FCS").isEqualTo(0x08);
        assertThat(rig.memory.read16(env + 10)).as("FDP (fninit cleared it)").isEqualTo(0);
        assertThat(rig.memory.read16(env + 14)).as("nothing past 14 bytes").isEqualTo(0);
    }

    /** Real mode after INIT/SIPI at CS = 0x100 (base 0x1000): the FIP/FDP fields are linear addresses. */
    private static CpuRig realMode(String code) {
        CpuRig rig = new CpuRig();
        rig.load(0x1000, hex(code + " f4"));
        rig.cpu.init();
        rig.cpu.startup(0x01);
        assertThat(rig.cpu.run(1000)).isEqualTo(RunStop.HALTED);
        return rig;
    }

    @Test
    void fnstenvInRealModeFormats() {
        // fninit (0); fld qword [0x2008] (2: dd 06 08 20); fnstenv [0x3000] (6); 66 fnstenv [0x3100] (10)
        CpuRig rig = realMode("db e3 dd 06 08 20 d9 36 00 30 66 d9 36 00 31");
        assertThat(rig.memory.read16(0x3000)).isEqualTo(0x37f);
        assertThat(rig.memory.read16(0x3004)).as("ST0 (R7) holds +0: tag 01").isEqualTo(0x7fff);
        assertThat(rig.memory.read16(0x3006)).as("FIP[15:0], linear").isEqualTo(0x1002);
        assertThat(rig.memory.read16(0x3008)).as("FOP, FIP[19:16]").isEqualTo(0x506);
        assertThat(rig.memory.read16(0x300a)).as("FDP[15:0]").isEqualTo(0x2008);
        assertThat(rig.memory.read16(0x300c)).as("FDP[19:16]").isEqualTo(0);
        // The 32-bit real-mode format.
        assertThat(rig.memory.read32(0x3100) & 0xffff).isEqualTo(0x37f);
        assertThat(rig.memory.read32(0x310c) & 0xffff).isEqualTo(0x1002);
        assertThat(rig.memory.read32(0x3110)).as("FOP, FIP[31:16] << 12").isEqualTo(0x506);
        assertThat(rig.memory.read32(0x3114) & 0xffff).isEqualTo(0x2008);
    }

    @Test
    void fldenvReadsBackWhatFnstenvWroteInBothRealModeFormats() {
        // fninit; fld qword [0x2008]; fnstenv [0x3000]; fninit; fldenv [0x3000]; fnstenv [0x3100];
        // the same with 66 (32-bit format) at 0x3200/0x3300
        CpuRig rig = realMode("db e3 dd 06 08 20 d9 36 00 30 db e3 d9 26 00 30 d9 36 00 31"
                + " db e3 dd 06 08 20 66 d9 36 00 32 db e3 66 d9 26 00 32 66 d9 36 00 33");
        for (int i = 0; i < 14; i += 2) {
            assertThat(rig.memory.read16(0x3100 + i)).as("16-bit format, offset %d", i).isEqualTo(rig.memory.read16(0x3000 + i));
        }
        for (int i = 0; i < 28; i += 4) {
            assertThat(rig.memory.read32(0x3300 + i)).as("32-bit format, offset %d", i).isEqualTo(rig.memory.read32(0x3200 + i));
        }
        assertThat(rig.memory.read32(0x3210)).as("FOP, FIP[31:16]: the second fld at 0x1016").isEqualTo(0x506 | (0x1016 >>> 16) << 12);
    }

    @Test
    void fnsaveStoresTheStackThenInitializesAndFrstorBringsItBack() {
        // fninit; mov ebx,DATA; fld1; fldpi; fnsave [rbx]; fnstsw ax; fnstcw [rbx+0x100];
        // frstor [rbx]; fstp tword [rbx+0x110]
        CpuRig rig = runWithData("db e3 bb 00 00 02 00 d9 e8 d9 eb dd 33 df e0 d9 bb 00 01 00 00 dd 23 db bb 10 01 00 00",
                new long[0]);
        assertThat(rig.memory.read32(DATA) & 0xffff).isEqualTo(0x37f);
        assertThat(rig.memory.read32(DATA + 4) & 0xffff).as("TOP 6").isEqualTo(0x3000);
        assertThat(rig.memory.read32(DATA + 8) & 0xffff).as("R6 R7 valid").isEqualTo(0x0fff);
        assertThat(rig.memory.read64(DATA + 28)).as("ST0 = pi").isEqualTo(0xc90fdaa22168c235L);
        assertThat(rig.memory.read16(DATA + 36)).isEqualTo(0x4000);
        assertThat(rig.memory.read64(DATA + 38)).as("ST1 = 1").isEqualTo(0x8000000000000000L);
        assertThat(rig.memory.read16(DATA + 46)).isEqualTo(0x3fff);
        assertThat(rig.reg(Cpu.RAX) & 0xffff).as("FNSAVE ends with FNINIT").isZero();
        assertThat(rig.memory.read16(DATA + 0x100)).isEqualTo(0x37f);
        assertThat(rig.memory.read64(DATA + 0x110)).as("pi again after FRSTOR").isEqualTo(0xc90fdaa22168c235L);
    }

    @Test
    void fxsaveAndFxrstorCarryTheWholeX87State() {
        // fninit; mov ebx,DATA; fld1; fldpi; fldz; ffree st(1); fldcw [rbx+0x400]; fxsave64 [rbx];
        // fninit; fxrstor64 [rbx]
        CpuRig rig = new CpuRig().longMode();
        rig.memory.write16(DATA + 0x400, 0x0c7b);
        rig.run(hex("db e3 bb 00 00 02 00 d9 e8 d9 eb d9 ee dd c1 d9 ab 00 04 00 00 48 0f ae 03 f4"));
        byte[] before = rig.cpu.getX87();
        assertThat(rig.memory.read16(DATA)).isEqualTo(0x0c7b);
        assertThat(rig.memory.read16(DATA + 2)).isEqualTo(0x2800);
        assertThat(rig.memory.read8(DATA + 4)).as("abridged tag: R5 and R7 valid").isEqualTo(0xa0);
        assertThat(rig.memory.read16(DATA + 6)).as("FOP of ffree").isEqualTo(0x5c1);
        assertThat(rig.memory.read64(DATA + 8)).as("FIP").isEqualTo(CODE + 13);
        assertThat(rig.memory.read64(DATA + 48)).as("ST1 (freed) keeps pi").isEqualTo(0xc90fdaa22168c235L);
        assertThat(rig.memory.read64(DATA + 64)).as("ST2 = 1").isEqualTo(0x8000000000000000L);
        rig.load(CODE, hex("db e3 48 0f ae 0b f4"));
        rig.cpu.setRip(CODE);
        assertThat(rig.cpu.run(100)).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.getX87()).isEqualTo(before);
    }

    @Test
    void initLeavesTheX87StateAlone() {
        CpuRig rig = runWithData("db e3 bb 00 00 02 00 d9 e8 d9 eb dd 43 08", new long[] {0, 0x4000000000000000L});
        byte[] before = rig.cpu.getX87();
        rig.cpu.init();
        assertThat(rig.cpu.getX87()).isEqualTo(before);
    }

    @Test
    void aSnapshotCarriesTheX87Registers() {
        CpuRig rig = runWithData("db e3 bb 00 00 02 00 d9 e8 d9 eb dd 43 08 dd c2", new long[] {0, 0x4000000000000000L});
        byte[] before = rig.cpu.getX87();
        Cpu.State state = rig.cpu.saveState();
        CpuRig other = new CpuRig();
        other.cpu.restoreState(state);
        assertThat(other.cpu.getX87()).isEqualTo(before);
    }
}

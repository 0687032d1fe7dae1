package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Shifts and rotates in compiled code: where an ALU instruction (or another shift) replaces the
 * flags before anything can see them, theirs are not computed; everywhere else (a reader, a
 * fault, the block's end, an instruction that keeps some flags) they must be exactly the
 * interpreter's.
 */
class CompiledShiftTest {
    /**
     * loop: add eax,ebx; xor edx,eax; rol edx,16; add ecx,edx; xor ebx,ecx; ror ebx,cl;
     * mov r8,rbx; add r8d,0x1234; rol rax,13; dec esi; jnz loop; hlt — two rotates whose flags
     * an ADD replaces, and one followed by DEC, which keeps its CF.
     */
    private static final String QUARTER_ROUNDS =
            "01 d8 31 c2 c1 c2 10 01 d1 31 cb d3 cb 49 89 d8 41 81 c0 34 12 00 00 48 c1 c0 0d ff ce 75 e1 f4";

    @ParameterizedTest
    @ValueSource(longs = {1, 3, 4, 5, 9, 10, 11, 12, 100, 1001, 5000, 1_000_000})
    void aLoopOfRotatesStopsWithTheInterpretersState(long budget) {
        CpuRig compiled = quarterRounds(1);
        CpuRig interpreted = quarterRounds(0);
        assertThat(compiled.cpu.run(budget)).isEqualTo(interpreted.cpu.run(budget));
        CpuRig.assertSameState(compiled, interpreted);
        assertThat(compiled.cpu.compiledBlocks()).isGreaterThanOrEqualTo(1);
    }

    /**
     * add eax,ebx (EAX = 0xc0000000 + EBX), a shift or rotate, then what follows: each but the
     * last four can see the shift's flags, so they must be computed.
     */
    @ParameterizedTest
    @ValueSource(strings = {
        "c1 c0 01 72 00",             // rol eax,1; jc: reads CF
        "c1 c0 01 11 d8",             // adc eax,ebx: reads CF
        "c1 c0 01 0f 90 c1",          // seto cl: reads OF
        "c1 c0 01 9c 5a",             // pushfq; pop rdx
        "c1 c0 01 ff ce 9c 5a",       // dec esi keeps CF: pushfq; pop rdx
        "c1 c0 01 49 89 c0 9c 5a",    // a register move, then pushfq
        "c1 c0 01 48 8b 03",          // a load from an unmapped page: #PF pushes RFLAGS
        "c1 c0 01 eb 00",             // the block ends
        "c1 c0 01",                   // the HLT that ends the block
        "c1 c0 01 c1 e0 00 9c 5a",    // shl eax,0 keeps the flags: pushfq
        "c1 c0 01 c1 c8 03 9c 5a",    // ror eax,3 keeps all but CF and OF: pushfq
        "c1 c0 01 c1 c0 00 9c 5a",    // rol eax,0 keeps them all: pushfq
        "c1 e0 05 72 00",             // shl eax,5; jc
        "48 c1 e8 03 0f 98 c1",       // shr rax,3; sets cl
        "c1 f8 1f 9c 5a",             // sar eax,31; pushfq
        "d3 e0 0f 94 c1",             // shl eax,cl (CL = 33: by 1); setz cl
        "48 d3 f8 48 8b 03",          // sar rax,cl; a faulting load
        "c1 e0 05",                   // shl eax,5 at the block's end
        "c1 c0 01 01 d1",             // rol eax,1; add ecx,edx: dead
        "c1 c0 01 c1 c8 03 01 d1",    // rol; ror; add: both dead
        "c1 c0 01 c1 e8 02",          // rol; shr eax,2: dead too
        "48 c1 e0 20 48 09 d0 9c 5a", // shl rax,32; or rax,rdx: dead, then the OR's flags
        "f7 d8 c1 f8 04 01 d1",       // neg eax; sar eax,4; add: dead
        "48 f7 d8 48 d3 f8 01 d1",    // neg rax; sar rax,cl; add: dead
        "48 d3 e8 01 d1",             // shr rax,cl; add: dead
        "d3 c8 01 d1",                // ror eax,cl; add: dead
    })
    void aShiftFollowedBy(String code) {
        CpuRig compiled = shiftThen(code, 1);
        CpuRig interpreted = shiftThen(code, 0);
        for (int run = 0; run < 2; run++) {
            compiled.cpu.setRip(CpuRig.CODE);
            interpreted.cpu.setRip(CpuRig.CODE);
            compiled.cpu.setGpr(Cpu.RSP, CpuRig.STACK_TOP);
            interpreted.cpu.setGpr(Cpu.RSP, CpuRig.STACK_TOP);
            compiled.cpu.setGpr(Cpu.RAX, 0xc000_0000L);
            interpreted.cpu.setGpr(Cpu.RAX, 0xc000_0000L);
            assertThat(compiled.cpu.run(1000)).isEqualTo(interpreted.cpu.run(1000)).isEqualTo(RunStop.HALTED);
        }
        CpuRig.assertSameState(compiled, interpreted);
        assertThat(compiled.arithFlags() & (CpuState.CF | CpuState.OF))
                .as("the shift's CF and OF, or the next ALU's").isEqualTo(interpreted.arithFlags() & (CpuState.CF | CpuState.OF));
        assertThat(compiled.stack(0)).isEqualTo(interpreted.stack(0));
        assertThat(compiled.stack(3)).as("RFLAGS in a fault's frame").isEqualTo(interpreted.stack(3));
        assertThat(compiled.cpu.compiledBlocks()).isGreaterThanOrEqualTo(1);
    }

    /**
     * A block too long for one method: wherever it is cut, never between a rotate whose flags
     * were left unwritten and the ALU instruction that replaces them, since the code leaves at
     * the cut with the flags of that boundary. The groups after the read-modify-writes (rol;
     * add, or rol; mov; add) put the cut at each place in a group as their count varies.
     */
    @ParameterizedTest
    @ValueSource(ints = {35, 36, 37})
    void aLongBlockIsNotCutBetweenARotateAndTheFlagsThatReplaceItsOwn(int readModifyWrites) {
        for (String group : new String[] {"c1 c0 03 01 c8", "c1 c0 03 49 89 d8 01 c8"}) {
            byte[] rmw = CpuRig.hex("01 03"); // add [rbx],eax: much bytecode
            byte[] one = CpuRig.hex(group);   // rol eax,3; [mov r8,rbx;] add eax,ecx
            int perGroup = one.length == 5 ? 2 : 3;
            int groups = (64 - readModifyWrites) / perGroup;
            byte[] code = new byte[rmw.length * readModifyWrites + one.length * groups + 1];
            int at = 0;
            for (int i = 0; i < readModifyWrites; i++, at += rmw.length) {
                System.arraycopy(rmw, 0, code, at, rmw.length);
            }
            for (int i = 0; i < groups; i++, at += one.length) {
                System.arraycopy(one, 0, code, at, one.length);
            }
            code[at] = (byte) 0xf4;
            CpuRig rig = new CpuRig().longMode();
            rig.load(CpuRig.CODE, code);
            Decoder decoder = new Decoder(rig.cpu);
            int count = readModifyWrites + perGroup * groups;
            Insn[] insns = new Insn[count];
            long ip = CpuRig.CODE;
            for (int i = 0; i < count; i++) {
                insns[i] = new Insn();
                decoder.decode(insns[i], ip);
                ip += insns[i].len;
            }
            int covered = BlockCompiler.compile(insns, count, CpuRig.CODE, -1).instructions;
            assertThat(covered).isBetween(readModifyWrites + 1, count - 1);
            assertThat((covered - readModifyWrites) % perGroup).as("the cut in a group of " + perGroup).isZero();
        }
    }

    private static CpuRig quarterRounds(int compileThreshold) {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCompileThreshold(compileThreshold);
        rig.cpu.setGpr(Cpu.RAX, 0x6170_7865L);
        rig.cpu.setGpr(Cpu.RBX, 0x3320_646eL);
        rig.cpu.setGpr(Cpu.RCX, 0x7962_2d32L);
        rig.cpu.setGpr(Cpu.RDX, 0x6b20_6574L);
        rig.cpu.setGpr(Cpu.RSI, 1000);
        rig.withCode(CpuRig.hex(QUARTER_ROUNDS));
        return rig;
    }

    private static CpuRig shiftThen(String code, int compileThreshold) {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCompileThreshold(compileThreshold);
        rig.cpu.setGpr(Cpu.RBX, 0x4000_0001L | 0x4000_0000L << 32);
        rig.cpu.setGpr(Cpu.RCX, 33);
        rig.cpu.setGpr(Cpu.RDX, 0x0123_4567_89ab_cdefL);
        rig.cpu.setGpr(Cpu.RSI, 1);
        rig.load(CpuRig.CODE, CpuRig.hex("01 d8 " + code + " f4"));
        if (code.endsWith("48 8b 03")) {
            rig.cpu.setGpr(Cpu.RBX, 0x4000_0000L); // PDPT entry 1 is not present
        }
        return rig;
    }
}

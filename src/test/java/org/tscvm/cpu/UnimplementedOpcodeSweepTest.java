package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.CODE;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every opcode the decoder does not implement must raise #UD, never run as some other
 * instruction (0F D0-FE once ran as BSWAP). The implemented sets below are written from the
 * decoder's documented coverage (cpu/package-info), independently of its code: an opcode
 * added to the decoder must be added here too, which is the point.
 */
class UnimplementedOpcodeSweepTest {
    /** 0F xx opcodes that decode to an instruction under at least one prefix. */
    private static final BitSet IMPLEMENTED_0F = bits(
            0x00, 0x01, 0x02, 0x03, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x0d,
            range(0x18, 0x1f), range(0x20, 0x23), 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x38,
            range(0x40, 0x4f), range(0x80, 0x8f), range(0x90, 0x9f),
            0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa8, 0xa9, 0xab, 0xac, 0xad, 0xae, 0xaf,
            range(0xb0, 0xbf), 0xc0, 0xc1, 0xc3, 0xc7, range(0xc8, 0xcf), 0xff);

    /**
     * The SSE/SSE2 forms, as "opcodes prefixes operand": opcodes (a range a-b or a list),
     * the mandatory prefixes ("-" none), and r (register), m (memory) or rm. Everything else in
     * these rows (MMX forms without 66, SSE3 and later) is #UD. 0F 71-73 are register-only
     * groups checked digit by digit in their own test.
     */
    private static final String[] SSE_FORMS = {
        "10-11 -,66,f3,f2 rm", "12 - rm", "12 66 m", "13 -,66 m", "14-15 -,66 rm", "16 - rm", "16 66 m",
        "17 -,66 m", "28-29 -,66 rm", "2a f3,f2 rm", "2b -,66 m", "2c-2d f3,f2 rm", "2e-2f -,66 rm",
        "50 -,66 r", "51 -,66,f3,f2 rm", "52-53 -,f3 rm", "54-57 -,66 rm", "58-5a -,66,f3,f2 rm",
        "5b -,66,f3 rm", "5c-5f -,66,f3,f2 rm", "60-6e 66 rm", "6f 66,f3 rm", "70 66,f3,f2 rm",
        "74-76 66 rm", "7e 66,f3 rm", "7f 66,f3 rm", "c2 -,66,f3,f2 rm", "c4 66 rm", "c5 66 r",
        "c6 -,66 rm", "d1-d6 66 rm", "d7 66 r", "d8-e5 66 rm", "e6 66,f3,f2 rm", "e7 66 m", "e8-ef 66 rm",
        "f1-f6 66 rm", "f7 66 r", "f8-fe 66 rm",
        // SSE3
        "12 f3,f2 rm", "16 f3 rm", "7c-7d 66,f2 rm", "d0 66,f2 rm", "f0 f2 m",
        // MMX (no prefix; EMMS has no ModRM), SSE's MMX forms, SSE2's PADDQ/PSUBQ/PMULUDQ on mm
        "60-6b - rm", "6e-6f - rm", "70 - rm", "74-77 - rm", "7e-7f - rm", "c4 - rm", "c5 - r", "d1-d5 - rm",
        "d7 - r", "d8-e5 - rm", "e7 - m", "e8-ef - rm", "f1-f6 - rm", "f7 - r", "f8-fe - rm",
        // CVTPI2PS/CVTPI2PD, CVTTPS2PI/CVTTPD2PI, CVTPS2PI/CVTPD2PI, MOVQ2DQ, MOVDQ2Q
        "2a -,66 rm", "2c-2d -,66 rm", "d6 f3,f2 r"};

    /**
     * SSSE3, SSE4.1 and SSE4.2 in the 0F 38 and 0F 3A maps, all with 66; without a prefix the SSSE3
     * ones (0F 38 00-0B, 1C-1E, 0F 3A 0F) are MMX forms; MOVNTDQA (66 0F 38 2A) takes a memory operand only.
     */
    static boolean ssse3Form(int map, int op, int prefix, boolean memory) {
        if (prefix < 0) {
            return map == 0x38 ? op <= 0x0b || (op >= 0x1c && op <= 0x1e) : op == 0x0f;
        }
        if (prefix != 0x66) {
            return false;
        }
        if (map == 0x38) {
            return op <= 0x0b || op == 0x10 || op == 0x14 || op == 0x15 || op == 0x17 || (op >= 0x1c && op <= 0x1e)
                    || (op >= 0x20 && op <= 0x25) || (op >= 0x28 && op <= 0x2b && (op != 0x2a || memory))
                    || (op >= 0x30 && op <= 0x35) || (op >= 0x37 && op <= 0x41);
        }
        return (op >= 0x08 && op <= 0x0f) || (op >= 0x14 && op <= 0x17) || (op >= 0x20 && op <= 0x22)
                || (op >= 0x40 && op <= 0x42) || (op >= 0x60 && op <= 0x63);
    }

    /** Whether opcode 0F {@code op} under {@code prefix} (-1 none) with a register or memory operand is an SSE form. */
    static boolean sseForm(int op, int prefix, boolean memory) {
        for (String row : SSE_FORMS) {
            String[] f = row.split(" ");
            String[] range = f[0].split("-");
            int lo = Integer.parseInt(range[0], 16), hi = Integer.parseInt(range[range.length - 1], 16);
            if (op < lo || op > hi) {
                continue;
            }
            boolean prefixed = java.util.Arrays.stream(f[1].split(","))
                    .anyMatch(p -> p.equals("-") ? prefix < 0 : Integer.parseInt(p, 16) == prefix);
            if (prefixed && f[2].contains(memory ? "m" : "r")) {
                return true;
            }
        }
        return false;
    }

    /** One-byte opcodes that are invalid in 64-bit mode. */
    private static final int[] INVALID_IN_64 = {
        0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f,
        0x60, 0x61, 0x62, 0x82, 0x9a, 0xc4, 0xc5, 0xd4, 0xd5, 0xd6, 0xea};

    private static final int[] PREFIXES = {-1, 0x66, 0xf2, 0xf3};

    @Test
    void everyUnimplementedTwoByteOpcodeRaisesUdUnderEveryPrefix() {
        List<String> wrong = new ArrayList<>();
        for (int op = 0; op < 256; op++) {
            if (IMPLEMENTED_0F.get(op)) {
                continue;
            }
            for (int prefix : PREFIXES) {
                for (int modrm : new int[] {0xc0, 0xc7, 0x00}) {
                    if (!sseForm(op, prefix, modrm < 0xc0)) {
                        check(wrong, prefix, new int[] {0x0f, op, modrm});
                    }
                }
            }
        }
        assertThat(wrong).isEmpty();
    }

    @Test
    void everySseFormRunsWithoutUdOnceTheOsEnablesSse() {
        List<String> wrong = new ArrayList<>();
        for (int op = 0; op < 256; op++) {
            for (int prefix : PREFIXES) {
                for (int modrm : new int[] {0xc1, 0x00}) {
                    if (sseForm(op, prefix, modrm < 0xc0)) {
                        run(prefix, new int[] {0x0f, op, modrm, 0x01});
                        if (RIG.haltedInVector() == CpuFault.UD) {
                            wrong.add(String.format("%02x 0f %02x %02x -> #UD", prefix & 0xff, op, modrm));
                        }
                    }
                    for (int map : new int[] {0x38, 0x3a}) {
                        if (ssse3Form(map, op, prefix, modrm < 0xc0)) {
                            run(prefix, new int[] {0x0f, map, op, modrm, 0x01});
                            if (RIG.haltedInVector() == CpuFault.UD) {
                                wrong.add(String.format("%02x 0f %02x %02x %02x -> #UD", prefix & 0xff, map, op, modrm));
                            }
                        }
                    }
                }
            }
        }
        assertThat(wrong).isEmpty();
    }

    @Test
    void theRegisterOnlyShiftGroupsDecodeOnlyTheirDigits() {
        // 66 0F 71/72 /2 /4 /6 and 66 0F 73 /2 /3 /6 /7 with a register, and the MMX forms without a
        // prefix: 0F 71/72 /2 /4 /6 and 0F 73 /2 /6; every other digit, any memory operand and any
        // other prefix is #UD.
        List<String> wrong = new ArrayList<>();
        int[][] digits = {{2, 4, 6}, {2, 4, 6}, {2, 3, 6, 7}};
        int[][] mmxDigits = {{2, 4, 6}, {2, 4, 6}, {2, 6}};
        for (int g = 0; g < 3; g++) {
            for (int prefix : PREFIXES) {
                for (int digit = 0; digit < 8; digit++) {
                    final int dg = digit;
                    boolean exists = prefix == 0x66 && java.util.Arrays.stream(digits[g]).anyMatch(x -> x == dg)
                            || prefix < 0 && java.util.Arrays.stream(mmxDigits[g]).anyMatch(x -> x == dg);
                    if (!exists) {
                        check(wrong, prefix, new int[] {0x0f, 0x71 + g, 0xc0 | digit << 3, 0x01});
                    }
                    check(wrong, prefix, new int[] {0x0f, 0x71 + g, digit << 3, 0x01});
                }
            }
        }
        assertThat(wrong).isEmpty();
    }

    @Test
    void sseFormsRaiseUdWithoutOsfxsr() {
        // pxor xmm0, xmm0 with CR4.OSFXSR clear: #UD (SDM 13.1.3), and not counted as unimplemented.
        CpuRig rig = new CpuRig().longMode();
        rig.run(CpuRig.hex("66 0f ef c0 f4"));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(rig.cpu.unimplementedOpcodes()).isEmpty();
    }

    @Test
    void everyUnimplementedThreeByteOpcodeRaisesUd() {
        List<String> wrong = new ArrayList<>();
        for (int op = 0; op < 256; op++) {
            for (int prefix : PREFIXES) {
                boolean movbeOrCrc32 = (op == 0xf0 || op == 0xf1) && prefix != 0xf3;
                if (!movbeOrCrc32 && !ssse3Form(0x38, op, prefix, false)) {
                    // 0F 38 F0/F1 is MOVBE (66 allowed), with F2 CRC32; with F3 it is undefined: #UD.
                    check(wrong, prefix, new int[] {0x0f, 0x38, op, 0xc0});
                }
                if (!ssse3Form(0x3a, op, prefix, false)) {
                    check(wrong, prefix, new int[] {0x0f, 0x3a, op, 0xc0, 0x01});
                }
            }
        }
        assertThat(wrong).isEmpty();
    }

    /**
     * The x87 map D8-DF (SDM Vol. 2 tables ), including the aliases the 387 and
     * later execute (FCOM2 DC D0+i, FCOMP3 DC D8+i, FXCH4 DD C8+i, FCOMP5 DE D0+i, FSTP1 D9
     * D8+i, FFREEP DF C0+i, FXCH7 DF C8+i, FSTP8/9 DF D0+i/D8+i) and the FNENI/FNDISI/FNSETPM
     * no-ops (DB E0/E1/E4): register forms by ModRM byte C0-FF, memory forms by ModRM.reg.
     */
    private static final int[][][] X87_REGISTER = {
        {range(0xc0, 0xff)},                                                                // D8
        {range(0xc0, 0xd0), range(0xd8, 0xe1), {0xe4, 0xe5}, range(0xe8, 0xee), range(0xf0, 0xff)}, // D9
        {range(0xc0, 0xdf), {0xe9}},                                                         // DA
        {range(0xc0, 0xe4), range(0xe8, 0xf7)},                                             // DB
        {range(0xc0, 0xff)},                                                                // DC
        {range(0xc0, 0xef)},                                                                // DD
        {range(0xc0, 0xd7), {0xd9}, range(0xe0, 0xff)},                                     // DE
        {range(0xc0, 0xe0), range(0xe8, 0xf7)},                                             // DF
    };
    /** ModRM.reg values with a memory operand: D9 /1, DB /4, DB /6 and DD /5 are reserved. */
    private static final int[] X87_MEMORY = {0xff, 0xfd, 0xff, 0xaf, 0xff, 0xdf, 0xff, 0xff};

    @Test
    void everyUnimplementedX87OpcodeRaisesUdAndEveryImplementedOneRuns() {
        List<String> wrong = new ArrayList<>();
        for (int map = 0; map < 8; map++) {
            BitSet implemented = new BitSet(256);
            for (int[] part : X87_REGISTER[map]) {
                for (int m : part) {
                    implemented.set(m);
                }
            }
            for (int m = 0; m < 256; m++) {
                boolean mem = m < 0xc0;
                boolean ok = mem ? (X87_MEMORY[map] >>> ((m >>> 3) & 7) & 1) != 0 : implemented.get(m);
                if (mem && (m & 0xc7) != 0) {
                    continue; // one memory ModRM per reg value: [rax]
                }
                if (ok) {
                    checkRuns(wrong, new int[] {0xd8 + map, m});
                } else {
                    check(wrong, -1, new int[] {0xd8 + map, m});
                    // Counted as unimplemented, by its map byte and ModRM (memory forms: the /digit).
                    String text = String.format("%02x %02x", 0xd8 + map, m);
                    if (!RIG.cpu.unimplementedOpcodes().containsKey(text)) {
                        wrong.add(text + " not counted as unimplemented");
                    }
                }
            }
        }
        assertThat(wrong).isEmpty();
    }

    /** Records the form if it raised #UD (from an FNINIT state, where none of them can fault). */
    private static void checkRuns(List<String> wrong, int[] bytes) {
        byte[] code = new byte[32];
        java.util.Arrays.fill(code, (byte) 0xf4);
        code[0] = (byte) 0xdb; // fninit
        code[1] = (byte) 0xe3;
        for (int i = 0; i < bytes.length; i++) {
            code[2 + i] = (byte) bytes[i];
        }
        CpuRig rig = RIG;
        rig.cpu.setGpr(Cpu.RSP, CpuRig.STACK_TOP);
        rig.cpu.setGpr(Cpu.RAX, 0x100000);
        rig.load(CODE, code);
        rig.cpu.setRip(CODE);
        RunStop stop = rig.cpu.run(1000);
        if (stop != RunStop.HALTED || rig.haltedInVector() != -1) {
            wrong.add(String.format("%02x %02x", bytes[0], bytes[1]) + " -> " + stop + " vector " + rig.haltedInVector());
        }
    }

    @Test
    void opcodesInvalidIn64BitModeRaiseUd() {
        List<String> wrong = new ArrayList<>();
        for (int op : INVALID_IN_64) {
            check(wrong, -1, new int[] {op, 0xc0, 0x00, 0x00, 0x00, 0x00});
        }
        assertThat(wrong).isEmpty();
    }

    @Test
    void theReportedBswapBugIsGone() {
        // mov $0x11223344,%edi; 0f d0 f8 (ADDSUBPS's opcode without its F2 prefix: no form): #UD with EDI untouched
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCr(4, rig.cpu.getCr(4) | CpuState.CR4_OSFXSR);
        rig.run(CpuRig.hex("bf 44 33 22 11 0f d0 f8 f4"));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(rig.stack(0)).isEqualTo(CODE + 5);
        assertThat(rig.reg(Cpu.RDI)).isEqualTo(0x11223344L);
    }

    /** A 64-bit machine whose OS enabled SSE (CR4.OSFXSR, OSXMMEXCPT), so only unimplemented forms #UD. */
    private static final CpuRig RIG = new CpuRig().longMode();

    static {
        RIG.cpu.setCr(4, RIG.cpu.getCr(4) | CpuState.CR4_OSFXSR | CpuState.CR4_OSXMMEXCPT);
    }

    /** Runs prefix + bytes + HLT padding from CODE on {@link #RIG}; returns how it stopped. */
    private static RunStop run(int prefix, int[] bytes) {
        byte[] code = new byte[32];
        java.util.Arrays.fill(code, (byte) 0xf4);
        int n = 0;
        if (prefix >= 0) {
            code[n++] = (byte) prefix;
        }
        for (int b : bytes) {
            code[n++] = (byte) b;
        }
        CpuRig rig = RIG;
        rig.cpu.setGpr(Cpu.RSP, CpuRig.STACK_TOP);
        rig.cpu.setGpr(Cpu.RAX, 0x100000);
        rig.cpu.setGpr(Cpu.RDI, 0x100000);
        rig.load(CODE, code);
        rig.cpu.setRip(CODE);
        return rig.cpu.run(1000);
    }

    /** Runs prefix + bytes + HLT padding; records the form unless it faulted #UD at CODE. */
    private static void check(List<String> wrong, int prefix, int[] bytes) {
        RunStop stop = run(prefix, bytes);
        CpuRig rig = RIG;
        StringBuilder name = new StringBuilder();
        if (prefix >= 0) {
            name.append(String.format("%02x ", prefix));
        }
        for (int b : bytes) {
            name.append(String.format("%02x ", b));
        }
        if (stop != RunStop.HALTED || rig.haltedInVector() != CpuFault.UD || rig.stack(0) != CODE) {
            wrong.add(name.toString().trim() + " -> " + stop + " vector " + rig.haltedInVector());
        }
    }

    private static BitSet bits(Object... items) {
        BitSet set = new BitSet(256);
        for (Object item : items) {
            if (item instanceof int[]) {
                for (int v : (int[]) item) {
                    set.set(v);
                }
            } else {
                set.set((Integer) item);
            }
        }
        return set;
    }

    private static int[] range(int from, int to) {
        int[] r = new int[to - from + 1];
        for (int i = 0; i < r.length; i++) {
            r[i] = from + i;
        }
        return r;
    }
}

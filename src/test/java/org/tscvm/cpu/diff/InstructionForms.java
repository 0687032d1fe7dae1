package org.tscvm.cpu.diff;

import static org.tscvm.cpu.diff.DiffCase.AF;
import static org.tscvm.cpu.diff.DiffCase.ARITH_FLAGS;
import static org.tscvm.cpu.diff.DiffCase.BUF_ADDR;
import static org.tscvm.cpu.diff.DiffCase.BUF_SIZE;
import static org.tscvm.cpu.diff.DiffCase.CF;
import static org.tscvm.cpu.diff.DiffCase.DF;
import static org.tscvm.cpu.diff.DiffCase.OF;
import static org.tscvm.cpu.diff.DiffCase.ZF;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The table of instruction forms the differential test covers, each with a generator of
 * seeded random cases. Operands never involve RSP; memory operands lie in the buffer.
 * Flags the SDM leaves undefined are masked per case, with the rule named where it is applied.
 */
final class InstructionForms {
    private InstructionForms() {
    }

    interface Generator {
        DiffCase generate(Random rnd);
    }

    record Form(String name, Generator generator) {
    }

    /** Random forms' code back to back: the first case (its registers, flags and buffer), the bytes, what they are. */
    record Block(DiffCase first, byte[] code, String what) {
    }

    /** A block of the first form and {@code minMore} to {@code maxMore} more, all drawn from {@code forms}. */
    static Block randomBlock(List<Form> forms, Random random, int minMore, int maxMore) {
        DiffCase first = forms.get(random.nextInt(forms.size())).generator().generate(random);
        java.io.ByteArrayOutputStream code = new java.io.ByteArrayOutputStream();
        StringBuilder what = new StringBuilder(first.describeInput());
        code.writeBytes(first.code());
        int more = minMore + random.nextInt(maxMore - minMore + 1);
        for (int k = 0; k < more; k++) {
            DiffCase next = forms.get(random.nextInt(forms.size())).generator().generate(random);
            code.writeBytes(next.code());
            what.append("\n  then ").append(next.form());
        }
        return new Block(first, code.toByteArray(), what.toString());
    }

    static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RSI = 6, RDI = 7;
    private static final int[] SIZES = {8, 16, 32, 64};
    private static final int[] WIDE_SIZES = {16, 32, 64};
    private static final String[] ALU = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"};
    private static final String[] SHIFTS = {"rol", "ror", "rcl", "rcr", "shl", "shr", null, "sar"};
    private static final String[] CC = {"o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p",
        "np", "l", "ge", "le", "g"};

    static List<Form> all(int hostFeatures) {
        List<Form> forms = new ArrayList<>();
        alu(forms);
        unary(forms);
        shifts(forms);
        doubleShifts(forms);
        bitTests(forms);
        bitScans(forms, hostFeatures);
        multiplyDivide(forms);
        conditionals(forms);
        exchanges(forms);
        moves(forms, hostFeatures);
        strings(forms);
        plainMoves(forms);
        addressing(forms);
        wideCompareExchange(forms);
        SseForms.add(forms);
        X87Forms.add(forms);
        MmxForms.add(forms);
        if ((hostFeatures & NativeHarness.FEATURE_LAHF64) != 0) {
            forms.add(new Form("lahf", rnd -> new G(rnd).op(0x9f).build("lahf")));
            forms.add(new Form("sahf", rnd -> new G(rnd).op(0x9e).build("sahf")));
        }
        return forms;
    }

    // ---- Generation context -------------------------------------------------------------

    /** A register or a buffer location, as the r/m operand of one case. */
    record Rm(boolean isMem, int reg, int offset) {
    }

    /** One case under construction: random state plus the encoder. */
    static final class G {
        final Random rnd;
        final long[] gpr = new long[16];
        long rflags;
        final byte[] mem = new byte[BUF_SIZE];
        final Encoder e = new Encoder();
        long definedFlags = ARITH_FLAGS;
        int undefinedRegs;
        /** 8-bit registers 4-7 mean AH..BH without REX; with REX (or any 64-bit form) SPL..DIL. */
        boolean rex8;

        G(Random rnd) {
            this.rnd = rnd;
            for (int i = 0; i < 16; i++) {
                gpr[i] = value();
            }
            gpr[RSP] = 0;
            rflags = rnd.nextLong() & DiffCase.LOADABLE_FLAGS;
            rnd.nextBytes(mem);
        }

        /** A 64-bit value biased towards the edges where flags are interesting. */
        long value() {
            switch (rnd.nextInt(8)) {
                case 0:
                    return new long[] {0, 1, -1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffffL,
                        0x80000000L, 0xffffffffL, Long.MAX_VALUE, Long.MIN_VALUE}[rnd.nextInt(14)];
                case 1:
                    return rnd.nextInt(129) - 64;
                case 2:
                    return 1L << rnd.nextInt(64);
                default:
                    return rnd.nextLong();
            }
        }

        G op(int... bytes) {
            e.op(bytes);
            return this;
        }

        /** A register operand: never RSP; 0-7 (AH..BH for 4-7) for 8-bit without REX. */
        int reg(int size, int avoid) {
            while (true) {
                int r = (size == 8 && !rex8) ? rnd.nextInt(8) : rnd.nextInt(16);
                boolean isSpOrHigh = r == RSP && (size != 8 || rex8);
                if (!isSpOrHigh && (avoid & (1 << r)) == 0) {
                    return r;
                }
            }
        }

        /** A full-width register for a non-8-bit operand (never RSP; below 8 if no REX may appear). */
        int wideReg(int avoid) {
            while (true) {
                int r = rnd.nextInt(16);
                if (r != RSP && (avoid & (1 << r)) == 0) {
                    return r;
                }
            }
        }

        /** Decides REX for 8-bit forms: always with 64-bit operands, else at random. */
        void chooseRex8(boolean needRexAnyway) {
            rex8 = needRexAnyway || rnd.nextBoolean();
            if (rex8) {
                e.rex();
            }
        }

        Rm rm(boolean memory, int size, int avoid, boolean aligned) {
            if (!memory) {
                return new Rm(false, reg(size, avoid), 0);
            }
            int bytes = Math.max(size / 8, 1);
            int off = 64 + rnd.nextInt(128 - 8);
            if (aligned) {
                off &= -bytes;
            }
            return new Rm(true, -1, off);
        }

        /** Encodes ModRM for reg (register number or opcode digit) and r/m. */
        void modrm(int reg, Rm rm, int avoid) {
            if (!rm.isMem()) {
                e.modrmReg(reg, rm.reg());
                return;
            }
            if (rnd.nextBoolean()) {
                e.modrmMem(reg, Encoder.MemShape.ABSOLUTE, BUF_ADDR + rm.offset(), 0, 0);
                return;
            }
            int base;
            do {
                base = rex8 || !eightBitForm ? rnd.nextInt(16) : rnd.nextInt(8);
            } while ((base & 7) == RSP || (avoid & (1 << base)) != 0 || (!rex8 && eightBitForm && base >= 8));
            int disp = rnd.nextInt(256) - 128;
            gpr[base] = BUF_ADDR + rm.offset() - disp;
            baseReg = base;
            e.modrmMem(reg, Encoder.MemShape.BASE_DISP8, 0, base, disp);
        }

        /** Set for forms with 8-bit register operands, where a base must stay below 8 without REX. */
        boolean eightBitForm;
        int baseReg = -1;

        long read(Rm rm, int size) {
            if (rm.isMem()) {
                long v = 0;
                for (int i = size / 8 - 1; i >= 0; i--) {
                    v = v << 8 | (mem[rm.offset() + i] & 0xff);
                }
                return v;
            }
            return readReg(rm.reg(), size);
        }

        void write(Rm rm, int size, long value) {
            if (rm.isMem()) {
                for (int i = 0; i < size / 8; i++) {
                    mem[rm.offset() + i] = (byte) (value >>> (8 * i));
                }
            } else {
                writeReg(rm.reg(), size, value);
            }
        }

        long readReg(int r, int size) {
            if (size == 8 && !rex8 && r >= 4 && r < 8) {
                return (gpr[r - 4] >>> 8) & 0xff;
            }
            return gpr[r] & mask(size);
        }

        void writeReg(int r, int size, long value) {
            if (size == 8 && !rex8 && r >= 4 && r < 8) {
                gpr[r - 4] = (gpr[r - 4] & ~0xff00L) | ((value & 0xff) << 8);
            } else {
                gpr[r] = (gpr[r] & ~mask(size)) | (value & mask(size));
            }
        }

        /** The full 64-bit register an operand lives in (AH is in RAX). */
        int container(int r, int size) {
            return size == 8 && !rex8 && r >= 4 && r < 8 ? r - 4 : r;
        }

        /** A form the encoder cannot express: REX bits, one opcode, raw ModRM/SIB, displacement. */
        DiffCase buildRaw(String name, int rexBits, int opcode, byte[] modrmSib, long disp, int dispBytes) {
            byte[] head = e.bytes();     // prefixes, and REX.W when size(64) asked for it
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            int rex = rexBits;
            if (head.length > 0 && (head[head.length - 1] & 0xf0) == 0x40) {
                rex |= head[head.length - 1] & 0x0f;
                out.write(head, 0, head.length - 1);
            } else {
                out.write(head, 0, head.length);
            }
            if (rex != 0) {
                out.write(0x40 | rex);
            }
            out.write(opcode);
            out.writeBytes(modrmSib);
            for (int i = 0; i < dispBytes; i++) {
                out.write((int) (disp >>> (8 * i)));
            }
            return new DiffCase(name, out.toByteArray(), gpr.clone(), rflags, mem.clone(), definedFlags, undefinedRegs);
        }

        DiffCase build(String name) {
            return new DiffCase(name, e.bytes(), gpr.clone(), rflags, mem.clone(), definedFlags, undefinedRegs,
                    xmm.clone(), mxcsr, approxXmm, misaligned);
        }

        /** Set when an SSE form's 128-bit memory operand is deliberately misaligned. */
        boolean misaligned;

        /** XMM0-15 in (zero unless an SSE form fills them), MXCSR in, and approximate registers. */
        final long[] xmm = new long[32];
        int mxcsr = DiffCase.DEFAULT_MXCSR;
        int approxXmm;
    }

    static long mask(int size) {
        return size == 64 ? -1L : (1L << size) - 1;
    }

    private static String rmName(boolean memory, int size) {
        return (memory ? "m" : "r") + size;
    }

    private static int immBytes(int size) {
        return size == 8 ? 1 : size == 16 ? 2 : 4;
    }

    // ---- Arithmetic and logic -----------------------------------------------------------

    private static void alu(List<Form> forms) {
        for (int op = 0; op < 8; op++) {
            final int o = op;
            // SDM: AND, OR, XOR leave AF undefined; the others define all six flags.
            long defined = (op == 1 || op == 4 || op == 6) ? ARITH_FLAGS & ~AF : ARITH_FLAGS;
            boolean lockable = op != 7;
            for (int size : SIZES) {
                final int s = size;
                for (boolean memory : new boolean[] {false, true}) {
                    final boolean m = memory;
                    String name = ALU[o] + " " + rmName(m, s) + ", r" + s;
                    forms.add(new Form(name, rnd -> {
                        G g = start(rnd, s);
                        boolean lock = m && lockable && rnd.nextBoolean();
                        if (lock) {
                            g.e.prefix(0xf0);
                        }
                        Rm rm = g.rm(m, s, 0, lock);
                        int reg = g.reg(s, 0);
                        g.op(o * 8 + (s == 8 ? 0 : 1));
                        g.modrm(reg, rm, 0);
                        g.definedFlags = defined;
                        return g.build((lock ? "lock " : "") + name);
                    }));
                    if (m) {
                        String name2 = ALU[o] + " r" + s + ", m" + s;
                        forms.add(new Form(name2, rnd -> {
                            G g = start(rnd, s);
                            Rm rm = g.rm(true, s, 0, false);
                            int reg = g.reg(s, 0);
                            g.op(o * 8 + 2 + (s == 8 ? 0 : 1));
                            g.modrm(reg, rm, 0);
                            g.definedFlags = defined;
                            return g.build(name2);
                        }));
                    }
                    String name3 = ALU[o] + " " + rmName(m, s) + ", imm";
                    forms.add(new Form(name3, rnd -> {
                        G g = start(rnd, s);
                        Rm rm = g.rm(m, s, 0, false);
                        boolean imm8 = s != 8 && rnd.nextBoolean();
                        g.op(s == 8 ? 0x80 : imm8 ? 0x83 : 0x81);
                        g.modrm(o, rm, 0);
                        g.e.imm(g.value(), imm8 ? 1 : immBytes(s));
                        g.definedFlags = defined;
                        return g.build(name3 + (imm8 ? "8" : ""));
                    }));
                }
                String name4 = ALU[o] + " acc" + s + ", imm";
                forms.add(new Form(name4, rnd -> {
                    G g = start(rnd, s);
                    g.op(o * 8 + (s == 8 ? 4 : 5));
                    g.e.imm(g.value(), immBytes(s));
                    g.definedFlags = defined;
                    return g.build(name4);
                }));
            }
        }
        for (int size : SIZES) {
            final int s = size;
            for (boolean memory : new boolean[] {false, true}) {
                final boolean m = memory;
                // SDM TEST: AF undefined.
                String name = "test " + rmName(m, s) + ", r" + s;
                forms.add(new Form(name, rnd -> {
                    G g = start(rnd, s);
                    Rm rm = g.rm(m, s, 0, false);
                    g.op(s == 8 ? 0x84 : 0x85);
                    g.modrm(g.reg(s, 0), rm, 0);
                    g.definedFlags = ARITH_FLAGS & ~AF;
                    return g.build(name);
                }));
                String name2 = "test " + rmName(m, s) + ", imm";
                forms.add(new Form(name2, rnd -> {
                    G g = start(rnd, s);
                    Rm rm = g.rm(m, s, 0, false);
                    g.op(s == 8 ? 0xf6 : 0xf7);
                    g.modrm(0, rm, 0);
                    g.e.imm(g.value(), immBytes(s));
                    g.definedFlags = ARITH_FLAGS & ~AF;
                    return g.build(name2);
                }));
            }
        }
    }

    private static G start(Random rnd, int size) {
        G g = new G(rnd);
        g.eightBitForm = size == 8;
        if (size == 8) {
            g.chooseRex8(false);
        }
        g.e.size(size);
        return g;
    }

    private static void unary(List<Form> forms) {
        String[] names = {"inc", "dec", "not", "neg"};
        for (int k = 0; k < 4; k++) {
            final int kind = k;
            for (int size : SIZES) {
                final int s = size;
                for (boolean memory : new boolean[] {false, true}) {
                    final boolean m = memory;
                    String name = names[k] + " " + rmName(m, s);
                    forms.add(new Form(name, rnd -> {
                        G g = start(rnd, s);
                        boolean lock = m && rnd.nextBoolean();
                        if (lock) {
                            g.e.prefix(0xf0);
                        }
                        Rm rm = g.rm(m, s, 0, lock);
                        if (kind < 2) {
                            g.op(s == 8 ? 0xfe : 0xff);
                            g.modrm(kind, rm, 0);
                        } else {
                            g.op(s == 8 ? 0xf6 : 0xf7);
                            g.modrm(kind, rm, 0);
                        }
                        // INC/DEC leave CF unchanged, NOT changes no flag, NEG defines all:
                        // every flag is defined (unchanged ones must stay as they were).
                        return g.build((lock ? "lock " : "") + name);
                    }));
                }
            }
        }
    }

    // ---- Shifts and rotates -------------------------------------------------------------

    private static void shifts(List<Form> forms) {
        for (int op = 0; op < 8; op++) {
            if (SHIFTS[op] == null) {
                continue;
            }
            final int o = op;
            for (int size : SIZES) {
                final int s = size;
                for (boolean memory : new boolean[] {false, true}) {
                    final boolean m = memory;
                    for (int countKind = 0; countKind < 3; countKind++) {
                        final int ck = countKind;
                        String name = SHIFTS[o] + " " + rmName(m, s) + (ck == 0 ? ", imm8" : ck == 1 ? ", 1" : ", cl");
                        forms.add(new Form(name, rnd -> {
                            G g = start(rnd, s);
                            int avoid = ck == 2 ? 1 << RCX : 0;
                            Rm rm = g.rm(m, s, avoid, false);
                            int count;
                            if (ck == 0) {
                                count = shiftCount(rnd, s);
                                g.op(s == 8 ? 0xc0 : 0xc1);
                                g.modrm(o, rm, avoid);
                                g.e.imm(count, 1);
                            } else if (ck == 1) {
                                count = 1;
                                g.op(s == 8 ? 0xd0 : 0xd1);
                                g.modrm(o, rm, avoid);
                            } else {
                                count = shiftCount(rnd, s);
                                g.gpr[RCX] = (g.gpr[RCX] & ~0xffL) | count;
                                g.op(s == 8 ? 0xd2 : 0xd3);
                                g.modrm(o, rm, avoid);
                                // the shifted operand may be CL itself: the count is what CL holds
                                count = (int) (g.gpr[RCX] & 0xff);
                            }
                            g.definedFlags = shiftDefinedFlags(o, s, count);
                            return g.build(name);
                        }));
                    }
                }
            }
        }
    }

    private static int shiftCount(Random rnd, int size) {
        return rnd.nextInt(3) == 0 ? rnd.nextInt(256) : rnd.nextInt(size + 3);
    }

    /**
     * SDM "SAL/SAR/SHL/SHR" and "RCL/RCR/ROL/ROR": a masked count of 0 changes no flag; OF is
     * defined only for a count of 1; AF is undefined for shifts; rotates change only CF and OF;
     * SHL/SHR leave CF undefined when the count is at least the operand size.
     */
    private static long shiftDefinedFlags(int op, int size, int rawCount) {
        int count = rawCount & (size == 64 ? 63 : 31);
        if (count == 0) {
            return ARITH_FLAGS;
        }
        long defined = ARITH_FLAGS;
        if (count != 1) {
            defined &= ~OF;
        }
        boolean rotate = op < 4;
        if (!rotate) {
            defined &= ~AF;
            if ((op == 4 || op == 5) && count >= size) {
                defined &= ~CF;
            }
        }
        return defined;
    }

    private static void doubleShifts(List<Form> forms) {
        String[] names = {"shld", "shrd"};
        for (int d = 0; d < 2; d++) {
            final int dir = d;
            for (int size : WIDE_SIZES) {
                final int s = size;
                for (boolean memory : new boolean[] {false, true}) {
                    final boolean m = memory;
                    for (boolean byCl : new boolean[] {false, true}) {
                        String name = names[dir] + " " + rmName(m, s) + ", r" + s + (byCl ? ", cl" : ", imm8");
                        forms.add(new Form(name, rnd -> {
                            G g = start(rnd, s);
                            int avoid = byCl ? 1 << RCX : 0;
                            Rm rm = g.rm(m, s, avoid, false);
                            int reg = g.reg(s, avoid);
                            // SDM SHLD/SHRD: a count above the operand size leaves result and
                            // flags undefined (only possible for 16 bits): keep 16-bit counts <= 16.
                            int masked = s == 16 ? rnd.nextInt(17) : rnd.nextInt(s);
                            int count = masked | (rnd.nextInt(256) & (s == 64 ? 0xc0 : 0xe0));
                            if (byCl) {
                                g.gpr[RCX] = (g.gpr[RCX] & ~0xffL) | count;
                                g.op(0x0f, dir == 0 ? 0xa5 : 0xad);
                                g.modrm(reg, rm, avoid);
                            } else {
                                g.op(0x0f, dir == 0 ? 0xa4 : 0xac);
                                g.modrm(reg, rm, avoid);
                                g.e.imm(count, 1);
                            }
                            // SDM: count 0 changes no flag; AF undefined; OF defined only for 1.
                            g.definedFlags = masked == 0 ? ARITH_FLAGS
                                    : (ARITH_FLAGS & ~AF) & (masked == 1 ? -1L : ~OF);
                            return g.build(name);
                        }));
                    }
                }
            }
        }
    }

    // ---- Bit tests and scans ------------------------------------------------------------

    private static void bitTests(List<Form> forms) {
        String[] names = {"bt", "bts", "btr", "btc"};
        int[] regOps = {0xa3, 0xab, 0xb3, 0xbb};
        // SDM BT/BTS/BTR/BTC: CF holds the bit; OF, SF, AF and PF are undefined. Intel leaves ZF
        // unchanged but the AMD APM calls it undefined, and hosts may be either: compare CF only.
        long defined = CF;
        for (int k = 0; k < 4; k++) {
            final int kind = k;
            for (int size : WIDE_SIZES) {
                final int s = size;
                for (boolean memory : new boolean[] {false, true}) {
                    final boolean m = memory;
                    String name = names[k] + " " + rmName(m, s) + ", r" + s;
                    forms.add(new Form(name, rnd -> {
                        G g = start(rnd, s);
                        boolean lock = m && kind != 0 && rnd.nextBoolean();
                        if (lock) {
                            g.e.prefix(0xf0);
                        }
                        int offsetReg = g.reg(s, 0);
                        Rm rm = m ? new Rm(true, -1, 128) : g.rm(false, s, 0, false);
                        if (m) {
                            // A register bit offset moves the address: keep it within +-32 bytes.
                            long bitOffset = rnd.nextInt(512) - 256;
                            g.gpr[offsetReg] = (g.gpr[offsetReg] & ~mask(s)) | (bitOffset & mask(s));
                        }
                        g.op(0x0f, regOps[kind]);
                        g.modrm(offsetReg, rm, 1 << offsetReg);
                        g.definedFlags = defined;
                        return g.build((lock ? "lock " : "") + name);
                    }));
                    String name2 = names[k] + " " + rmName(m, s) + ", imm8";
                    forms.add(new Form(name2, rnd -> {
                        G g = start(rnd, s);
                        boolean lock = m && kind != 0 && rnd.nextBoolean();
                        if (lock) {
                            g.e.prefix(0xf0);
                        }
                        Rm rm = g.rm(m, s, 0, true);
                        g.op(0x0f, 0xba);
                        g.modrm(4 + kind, rm, 0);
                        g.e.imm(rnd.nextInt(256), 1);
                        g.definedFlags = defined;
                        return g.build((lock ? "lock " : "") + name2);
                    }));
                }
            }
        }
    }

    private static void bitScans(List<Form> forms, int features) {
        record Scan(String name, int prefix, int opcode, long defined, boolean zeroSourceUndefinedDest, int feature) {
        }
        List<Scan> scans = List.of(
                // SDM BSF/BSR: ZF defined, CF OF SF AF PF undefined; a zero source leaves the
                // destination undefined.
                new Scan("bsf", 0, 0xbc, ZF, true, 0),
                new Scan("bsr", 0, 0xbd, ZF, true, 0),
                // SDM TZCNT/LZCNT: CF and ZF defined; OF SF AF PF undefined.
                new Scan("tzcnt", 0xf3, 0xbc, CF | ZF, false, NativeHarness.FEATURE_BMI1),
                new Scan("lzcnt", 0xf3, 0xbd, CF | ZF, false, NativeHarness.FEATURE_LZCNT),
                // SDM POPCNT: OF SF AF CF PF cleared, ZF set for a zero source: all defined.
                new Scan("popcnt", 0xf3, 0xb8, ARITH_FLAGS, false, NativeHarness.FEATURE_POPCNT));
        for (Scan scan : scans) {
            if (scan.feature() != 0 && (features & scan.feature()) == 0) {
                continue;   // without the feature the host decodes F3 0F BC/BD as BSF/BSR
            }
            for (int size : WIDE_SIZES) {
                final int s = size;
                for (boolean memory : new boolean[] {false, true}) {
                    final boolean m = memory;
                    String name = scan.name() + " r" + s + ", " + rmName(m, s);
                    forms.add(new Form(name, rnd -> {
                        G g = new G(rnd);
                        if (scan.prefix() != 0) {
                            g.e.prefix(scan.prefix());
                        }
                        g.e.size(s);
                        Rm rm = g.rm(m, s, 0, false);
                        int dst = g.reg(s, 0);
                        long source = switch (rnd.nextInt(4)) {
                            case 0 -> 0;
                            case 1 -> 1L << rnd.nextInt(s);
                            default -> g.value();
                        };
                        g.write(rm, s, source);
                        g.op(0x0f, scan.opcode());
                        g.modrm(dst, rm, 0);
                        g.definedFlags = scan.defined();
                        if (scan.zeroSourceUndefinedDest() && g.read(rm, s) == 0) {
                            g.undefinedRegs |= 1 << dst;
                        }
                        return g.build(name);
                    }));
                }
            }
        }
    }

    // ---- Multiply and divide ------------------------------------------------------------

    private static void multiplyDivide(List<Form> forms) {
        for (int size : SIZES) {
            final int s = size;
            for (boolean memory : new boolean[] {false, true}) {
                final boolean m = memory;
                for (int digit = 4; digit <= 5; digit++) {
                    final int d = digit;
                    String name = (d == 4 ? "mul " : "imul ") + rmName(m, s);
                    forms.add(new Form(name, rnd -> {
                        G g = start(rnd, s);
                        Rm rm = g.rm(m, s, 0, false);
                        g.op(s == 8 ? 0xf6 : 0xf7);
                        g.modrm(d, rm, 0);
                        // SDM MUL/IMUL: CF and OF defined; SF, ZF, AF, PF undefined.
                        g.definedFlags = CF | OF;
                        return g.build(name);
                    }));
                }
                for (int digit = 6; digit <= 7; digit++) {
                    final boolean signed = digit == 7;
                    final int d = digit;
                    String name = (signed ? "idiv " : "div ") + rmName(m, s);
                    forms.add(new Form(name, rnd -> divCase(rnd, s, m, d, signed, name)));
                }
            }
        }
        for (int size : WIDE_SIZES) {
            final int s = size;
            for (boolean memory : new boolean[] {false, true}) {
                final boolean m = memory;
                String name = "imul r" + s + ", " + rmName(m, s);
                forms.add(new Form(name, rnd -> {
                    G g = start(rnd, s);
                    Rm rm = g.rm(m, s, 0, false);
                    g.op(0x0f, 0xaf);
                    g.modrm(g.reg(s, 0), rm, 0);
                    g.definedFlags = CF | OF;
                    return g.build(name);
                }));
                for (boolean imm8 : new boolean[] {false, true}) {
                    String name2 = "imul r" + s + ", " + rmName(m, s) + (imm8 ? ", imm8" : ", imm");
                    forms.add(new Form(name2, rnd -> {
                        G g = start(rnd, s);
                        Rm rm = g.rm(m, s, 0, false);
                        g.op(imm8 ? 0x6b : 0x69);
                        g.modrm(g.reg(s, 0), rm, 0);
                        g.e.imm(g.value(), imm8 ? 1 : immBytes(s));
                        g.definedFlags = CF | OF;
                        return g.build(name2);
                    }));
                }
            }
        }
    }

    /** DIV/IDIV with operands whose quotient fits, so the host never takes #DE. */
    private static DiffCase divCase(Random rnd, int s, boolean m, int digit, boolean signed, String name) {
        G g = start(rnd, s);
        int avoid = 1 << RAX | 1 << RDX;
        Rm rm = g.rm(m, s, avoid, false);
        if (!m && s == 8 && !g.rex8 && (rm.reg() == 4 || rm.reg() == 6)) {
            rm = new Rm(false, 3, 0);   // AH is part of the dividend; DH of nothing, but keep it simple
        }
        g.op(s == 8 ? 0xf6 : 0xf7);
        g.modrm(digit, rm, avoid);
        long divisor = g.read(rm, s);
        if (divisor == 0) {
            divisor = 1 + rnd.nextInt(100);
            g.write(rm, s, divisor);
        }
        int lowReg = RAX;
        int highShift = s == 8 ? 8 : 0;
        BigInteger low = BigInteger.valueOf(s == 8 ? g.gpr[RAX] & 0xff : g.gpr[RAX] & mask(s)).and(unsignedMask(s));
        long highValue = s == 8 ? (g.gpr[RAX] >>> 8) & 0xff : g.gpr[RDX] & mask(s);
        if (rnd.nextBoolean() || !quotientFits(low, highValue, divisor, s, signed)) {
            // Make the high half the extension of the low half (signed) or below the divisor.
            if (signed) {
                highValue = (low.testBit(s - 1)) ? mask(s) : 0;
                if (!quotientFits(low, highValue, divisor, s, true)) {
                    divisor = 3;
                    g.write(rm, s, divisor);
                }
            } else {
                highValue = Long.remainderUnsigned(g.value() & mask(s), divisor & mask(s));
            }
        }
        if (s == 8) {
            g.gpr[lowReg] = (g.gpr[RAX] & ~0xff00L) | (highValue << highShift);
        } else {
            g.gpr[RDX] = (g.gpr[RDX] & ~mask(s)) | (highValue & mask(s));
        }
        // SDM DIV/IDIV: CF, OF, SF, ZF, AF and PF are all undefined.
        g.definedFlags = 0;
        return g.build(name);
    }

    private static BigInteger unsignedMask(int s) {
        return BigInteger.ONE.shiftLeft(s).subtract(BigInteger.ONE);
    }

    private static boolean quotientFits(BigInteger low, long high, long divisor, int s, boolean signed) {
        BigInteger dividend = BigInteger.valueOf(high).and(unsignedMask(s)).shiftLeft(s).or(low);
        BigInteger d = BigInteger.valueOf(divisor).and(unsignedMask(s));
        if (signed) {
            if (dividend.testBit(2 * s - 1)) {
                dividend = dividend.subtract(BigInteger.ONE.shiftLeft(2 * s));
            }
            if (d.testBit(s - 1)) {
                d = d.subtract(BigInteger.ONE.shiftLeft(s));
            }
        }
        if (d.signum() == 0) {
            return false;
        }
        BigInteger q = dividend.divide(d);
        if (signed) {
            return q.bitLength() < s;
        }
        return q.bitLength() <= s;
    }

    // ---- setcc, cmovcc, exchanges ---------------------------------------------------------

    private static void conditionals(List<Form> forms) {
        for (int cc = 0; cc < 16; cc++) {
            final int c = cc;
            for (boolean memory : new boolean[] {false, true}) {
                final boolean m = memory;
                String name = "set" + CC[c] + " " + rmName(m, 8);
                forms.add(new Form(name, rnd -> {
                    G g = start(rnd, 8);
                    Rm rm = g.rm(m, 8, 0, false);
                    g.op(0x0f, 0x90 + c);
                    g.modrm(0, rm, 0);
                    return g.build(name);
                }));
                for (int size : WIDE_SIZES) {
                    final int s = size;
                    String name2 = "cmov" + CC[c] + " r" + s + ", " + rmName(m, s);
                    forms.add(new Form(name2, rnd -> {
                        G g = start(rnd, s);
                        Rm rm = g.rm(m, s, 0, false);
                        g.op(0x0f, 0x40 + c);
                        g.modrm(g.reg(s, 0), rm, 0);
                        return g.build(name2);
                    }));
                }
            }
        }
    }

    private static void exchanges(List<Form> forms) {
        for (int size : SIZES) {
            final int s = size;
            for (boolean memory : new boolean[] {false, true}) {
                final boolean m = memory;
                String name = "xadd " + rmName(m, s) + ", r" + s;
                forms.add(new Form(name, rnd -> {
                    G g = start(rnd, s);
                    boolean lock = m && rnd.nextBoolean();
                    if (lock) {
                        g.e.prefix(0xf0);
                    }
                    Rm rm = g.rm(m, s, 0, lock);
                    g.op(0x0f, s == 8 ? 0xc0 : 0xc1);
                    g.modrm(g.reg(s, 0), rm, 0);
                    return g.build((lock ? "lock " : "") + name);
                }));
                String name2 = "cmpxchg " + rmName(m, s) + ", r" + s;
                forms.add(new Form(name2, rnd -> {
                    G g = start(rnd, s);
                    boolean lock = m && rnd.nextBoolean();
                    if (lock) {
                        g.e.prefix(0xf0);
                    }
                    Rm rm = g.rm(m, s, 1 << RAX, lock);
                    g.op(0x0f, s == 8 ? 0xb0 : 0xb1);
                    g.modrm(g.reg(s, 0), rm, 1 << RAX);
                    if (rnd.nextBoolean()) {
                        g.writeReg(RAX, s, g.read(rm, s));   // the equal case: the store happens
                    }
                    return g.build((lock ? "lock " : "") + name2);
                }));
                String name3 = "xchg " + rmName(m, s) + ", r" + s;
                forms.add(new Form(name3, rnd -> {
                    G g = start(rnd, s);
                    Rm rm = g.rm(m, s, 0, m);
                    g.op(s == 8 ? 0x86 : 0x87);
                    g.modrm(g.reg(s, 0), rm, 0);
                    return g.build(name3);
                }));
            }
        }
        for (int size : new int[] {32, 64}) {
            final int s = size;
            String name = "bswap r" + s;
            forms.add(new Form(name, rnd -> {
                G g = new G(rnd);
                g.e.size(s);
                g.e.op(0x0f);
                g.e.opPlusReg(0xc8, g.wideReg(0));
                return g.build(name);
            }));
        }
    }

    // ---- Moves with extension, cbw..cqo, movbe --------------------------------------------

    private static void moves(List<Form> forms, int features) {
        int[][] extends_ = {{0xb6, 8}, {0xb7, 16}, {0xbe, 8}, {0xbf, 16}};
        for (int[] x : extends_) {
            final int opcode = x[0];
            final int srcSize = x[1];
            String mnemonic = opcode < 0xbe ? "movzx" : "movsx";
            for (int dstSize : srcSize == 8 ? WIDE_SIZES : new int[] {32, 64}) {
                final int d = dstSize;
                for (boolean memory : new boolean[] {false, true}) {
                    final boolean m = memory;
                    String name = mnemonic + " r" + d + ", " + rmName(m, srcSize);
                    forms.add(new Form(name, rnd -> {
                        G g = new G(rnd);
                        g.eightBitForm = srcSize == 8;
                        if (srcSize == 8) {
                            g.chooseRex8(d == 64);
                        }
                        g.e.size(d);
                        Rm rm = g.rm(m, srcSize, 0, false);
                        int dst = g.rex8 || srcSize != 8 ? g.wideReg(0) : pickLow(g);
                        g.op(0x0f, opcode);
                        g.modrm(dst, rm, 0);
                        return g.build(name);
                    }));
                }
            }
        }
        for (boolean memory : new boolean[] {false, true}) {
            final boolean m = memory;
            String name = "movsxd r64, " + rmName(m, 32);
            forms.add(new Form(name, rnd -> {
                G g = new G(rnd);
                g.e.size(64);
                Rm rm = g.rm(m, 32, 0, false);
                g.op(0x63);
                g.modrm(g.wideReg(0), rm, 0);
                return g.build(name);
            }));
        }
        String[][] converts = {{"cbw", "cwde", "cdqe"}, {"cwd", "cdq", "cqo"}};
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < 3; i++) {
                final int opcode = 0x98 + k;
                final int s = WIDE_SIZES[i];
                String name = converts[k][i];
                forms.add(new Form(name, rnd -> {
                    G g = new G(rnd);
                    g.e.size(s);
                    g.op(opcode);
                    return g.build(name);
                }));
            }
        }
        if ((features & NativeHarness.FEATURE_MOVBE) != 0) {
            for (int size : WIDE_SIZES) {
                final int s = size;
                for (boolean load : new boolean[] {true, false}) {
                    String name = load ? "movbe r" + s + ", m" + s : "movbe m" + s + ", r" + s;
                    forms.add(new Form(name, rnd -> {
                        G g = new G(rnd);
                        g.e.size(s);
                        Rm rm = g.rm(true, s, 0, false);
                        g.op(0x0f, 0x38, load ? 0xf0 : 0xf1);
                        g.modrm(g.wideReg(0), rm, 0);
                        return g.build(name);
                    }));
                }
            }
        }
    }

    /** A destination register 0-7 (not RSP) for forms that must not carry a REX prefix. */
    private static int pickLow(G g) {
        int r;
        do {
            r = g.rnd.nextInt(8);
        } while (r == RSP);
        return r;
    }

    // ---- mov, moffs, xlat --------------------------------------------------------------

    private static void plainMoves(List<Form> forms) {
        for (int size : SIZES) {
            final int s = size;
            for (boolean memory : new boolean[] {false, true}) {
                final boolean m = memory;
                for (boolean toRm : new boolean[] {true, false}) {
                    String name = toRm ? "mov " + rmName(m, s) + ", r" + s : "mov r" + s + ", " + rmName(m, s);
                    forms.add(new Form(name, rnd -> {
                        G g = start(rnd, s);
                        Rm rm = g.rm(m, s, 0, false);
                        g.op((toRm ? 0x88 : 0x8a) + (s == 8 ? 0 : 1));
                        g.modrm(g.reg(s, 0), rm, 0);
                        return g.build(name);
                    }));
                }
                String name = "mov " + rmName(m, s) + ", imm";
                forms.add(new Form(name, rnd -> {
                    G g = start(rnd, s);
                    Rm rm = g.rm(m, s, 0, false);
                    g.op(s == 8 ? 0xc6 : 0xc7);
                    g.modrm(0, rm, 0);
                    g.e.imm(g.value(), immBytes(s));
                    return g.build(name);
                }));
            }
            String name = "mov r" + s + ", imm" + (s == 64 ? "64" : "");
            forms.add(new Form(name, rnd -> {
                G g = start(rnd, s);
                int r = g.reg(s, 0);
                g.e.opPlusReg(s == 8 ? 0xb0 : 0xb8, r);
                g.e.imm(g.value(), s / 8);
                return g.build(name);
            }));
            // A0-A3: the accumulator to or from a 64-bit absolute address (platform.md 7).
            for (boolean load : new boolean[] {true, false}) {
                String name2 = load ? "mov acc" + s + ", moffs64" : "mov moffs64, acc" + s;
                forms.add(new Form(name2, rnd -> {
                    G g = start(rnd, s);
                    g.op((load ? 0xa0 : 0xa2) + (s == 8 ? 0 : 1));
                    g.e.imm(BUF_ADDR + 64 + rnd.nextInt(120), 8);
                    return g.build(name2);
                }));
            }
        }
        for (boolean addr32 : new boolean[] {false, true}) {
            String name = "xlat" + (addr32 ? " (a32)" : "");
            forms.add(new Form(name, rnd -> {
                G g = new G(rnd);
                if (addr32) {
                    g.e.prefix(0x67);
                    g.gpr[RBX] = (rnd.nextLong() & 0xffffffff00000000L) | BUF_ADDR;
                } else {
                    g.gpr[RBX] = BUF_ADDR;
                }
                g.op(0xd7);
                return g.build(name);
            }));
        }
    }

    // ---- lea with random ModRM/SIB/displacement: the address arithmetic of the decoder ----

    private static void addressing(List<Form> forms) {
        for (int size : WIDE_SIZES) {
            final int s = size;
            for (boolean addr32 : new boolean[] {false, true}) {
                String name = "lea r" + s + ", m" + (addr32 ? " (a32)" : "");
                forms.add(new Form(name, rnd -> {
                    while (true) {
                        G g = new G(rnd);
                        if (addr32) {
                            g.e.prefix(0x67);
                        }
                        g.e.size(s);
                        int reg = g.wideReg(0);
                        int mod = rnd.nextInt(3);
                        int rm = rnd.nextInt(8);
                        int rexB = rnd.nextInt(2);
                        int sib = rnd.nextInt(256);
                        int rexX = rnd.nextInt(2);
                        boolean hasSib = rm == 4;
                        int base = hasSib ? (sib & 7) | rexB << 3 : rm | rexB << 3;
                        boolean noBase = hasSib ? (sib & 7) == 5 && mod == 0 : rm == 5 && mod == 0;
                        int index = (sib >> 3 & 7) | rexX << 3;
                        // RSP differs between the host and tscvm: never let it into the address.
                        if ((!noBase && base == RSP) || (hasSib && index == RSP)) {
                            continue;
                        }
                        byte[] modrm = hasSib ? new byte[] {(byte) (mod << 6 | (reg & 7) << 3 | rm), (byte) sib}
                                : new byte[] {(byte) (mod << 6 | (reg & 7) << 3 | rm)};
                        int dispBytes = mod == 1 ? 1 : mod == 2 || noBase ? 4 : 0;
                        return g.buildRaw(name, (reg >> 3) << 2 | rexX << 1 | rexB, 0x8d, modrm,
                                rnd.nextLong(), dispBytes);
                    }
                }));
            }
        }
    }

    // ---- cmpxchg8b / cmpxchg16b --------------------------------------------------------

    private static void wideCompareExchange(List<Form> forms) {
        for (boolean wide : new boolean[] {false, true}) {
            for (boolean lock : new boolean[] {false, true}) {
                String name = (lock ? "lock " : "") + (wide ? "cmpxchg16b m128" : "cmpxchg8b m64");
                forms.add(new Form(name, rnd -> {
                    G g = new G(rnd);
                    if (lock) {
                        g.e.prefix(0xf0);
                    }
                    g.e.size(wide ? 64 : 32);
                    int bytes = wide ? 16 : 8;
                    Rm rm = new Rm(true, -1, (64 + rnd.nextInt(120)) & -bytes);
                    g.op(0x0f, 0xc7);
                    g.modrm(1, rm, 1 << RAX | 1 << RCX | 1 << RDX | 1 << RBX);
                    if (rnd.nextBoolean()) {   // the equal case: RCX:RBX is stored
                        int half = bytes / 2 * 8;
                        g.writeReg(RAX, 64, g.read(rm, half));
                        g.writeReg(RDX, 64, g.read(new Rm(true, -1, rm.offset() + bytes / 2), half));
                    }
                    // ZF is set as the comparison found; the other flags are unchanged.
                    return g.build(name);
                }));
            }
        }
    }

    // ---- String instructions ----------------------------------------------------------

    private static void strings(List<Form> forms) {
        record Str(String name, int opcode, boolean compares, boolean usesSource, boolean usesDest) {
        }
        List<Str> ops = List.of(
                new Str("movs", 0xa4, false, true, true),
                new Str("cmps", 0xa6, true, true, true),
                new Str("stos", 0xaa, false, false, true),
                new Str("lods", 0xac, false, true, false),
                new Str("scas", 0xae, true, false, true));
        String[] suffix = {"b", "w", "d", "q"};
        for (Str op : ops) {
            for (int i = 0; i < 4; i++) {
                final int s = SIZES[i];
                int[] reps = op.compares() ? new int[] {0, 0xf3, 0xf2} : new int[] {0, 0xf3};
                for (int rep : reps) {
                    String prefix = rep == 0 ? "" : rep == 0xf2 ? "repne " : op.compares() ? "repe " : "rep ";
                    String name = prefix + op.name() + suffix[i];
                    forms.add(new Form(name, rnd -> {
                        G g = new G(rnd);
                        boolean addr32 = rnd.nextInt(4) == 0;
                        if (addr32) {
                            g.e.prefix(0x67);
                        }
                        if (rep != 0) {
                            g.e.prefix(rep);
                        }
                        g.e.size(s);
                        g.op(s == 8 ? op.opcode() : op.opcode() + 1);
                        long junk = addr32 ? g.rnd.nextLong() & 0xffffffff00000000L : 0;
                        g.gpr[RSI] = junk | (BUF_ADDR + 72 + rnd.nextInt(49));
                        junk = addr32 ? g.rnd.nextLong() & 0xffffffff00000000L : 0;
                        g.gpr[RDI] = junk | (BUF_ADDR + 136 + rnd.nextInt(49));
                        if (rep != 0) {
                            junk = addr32 ? g.rnd.nextLong() & 0xffffffff00000000L : 0;
                            g.gpr[RCX] = junk | rnd.nextInt(8);
                        }
                        // Make equal runs likely so REPE/REPNE stop for both reasons.
                        if (op.compares() && rnd.nextBoolean()) {
                            int src = (int) (g.gpr[RSI] - BUF_ADDR) & 0xff;
                            int dst = (int) (g.gpr[RDI] - BUF_ADDR) & 0xff;
                            boolean down = (g.rflags & DF) != 0;
                            for (int k = 0; k < 7 * 8; k++) {
                                int sk = down ? src - k + 7 : src + k;
                                int dk = down ? dst - k + 7 : dst + k;
                                if (sk >= 0 && sk < BUF_SIZE && dk >= 0 && dk < BUF_SIZE && rnd.nextInt(8) != 0) {
                                    g.mem[dk] = g.mem[sk];
                                }
                            }
                            if (!op.usesSource()) {
                                g.gpr[RAX] = 0;
                                for (int b = s / 8 - 1; b >= 0; b--) {
                                    g.gpr[RAX] = g.gpr[RAX] << 8 | (g.mem[dst + b] & 0xff);
                                }
                            }
                        }
                        return g.build(name + (addr32 ? " (a32)" : ""));
                    }));
                }
            }
        }
    }
}

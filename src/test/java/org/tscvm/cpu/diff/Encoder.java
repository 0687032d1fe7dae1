package org.tscvm.cpu.diff;

import java.io.ByteArrayOutputStream;

/**
 * A tiny x86-64 encoder for the forms the differential test generates: legacy prefixes, REX,
 * opcode, ModRM with a register or one of two memory shapes, and an immediate.
 */
final class Encoder {
    /** Memory operand shapes: absolute disp32 through a SIB with no base/index, or base + disp8. */
    enum MemShape { ABSOLUTE, BASE_DISP8 }

    private final ByteArrayOutputStream prefixes = new ByteArrayOutputStream();
    private final ByteArrayOutputStream opcode = new ByteArrayOutputStream();
    private final ByteArrayOutputStream tail = new ByteArrayOutputStream();
    private boolean rexW;
    private boolean forceRex;
    private int rexR;
    private int rexB;

    Encoder prefix(int b) {
        prefixes.write(b);
        return this;
    }

    /** Operand size: 16 adds 0x66, 64 sets REX.W; 8 and 32 add nothing. */
    Encoder size(int bits) {
        if (bits == 16) {
            prefixes.write(0x66);
        } else if (bits == 64) {
            rexW = true;
        }
        return this;
    }

    /** An empty REX (0x40), which makes 8-bit register numbers 4-7 mean SPL..DIL, not AH..BH. */
    Encoder rex() {
        forceRex = true;
        return this;
    }

    Encoder op(int... bytes) {
        for (int b : bytes) {
            opcode.write(b);
        }
        return this;
    }

    /** An opcode with the register number in its low 3 bits (bswap). */
    Encoder opPlusReg(int base, int reg) {
        rexB = reg >> 3;
        opcode.write(base + (reg & 7));
        return this;
    }

    /** ModRM with a register r/m operand; {@code reg} is a register number or an opcode digit. */
    Encoder modrmReg(int reg, int rm) {
        rexR = reg >> 3;
        rexB = rm >> 3;
        tail.write(0xc0 | (reg & 7) << 3 | (rm & 7));
        return this;
    }

    /** ModRM with a memory operand at {@code addr}; BASE_DISP8 uses {@code base} + {@code disp8}. */
    Encoder modrmMem(int reg, MemShape shape, long addr, int base, int disp8) {
        rexR = reg >> 3;
        if (shape == MemShape.ABSOLUTE) {
            tail.write(0x04 | (reg & 7) << 3);
            tail.write(0x25);   // SIB: no index, no base, disp32
            le(addr, 4);
        } else {
            if ((base & 7) == 4) {
                throw new IllegalArgumentException("base register " + base + " needs a SIB byte");
            }
            rexB = base >> 3;
            tail.write(0x40 | (reg & 7) << 3 | (base & 7));
            tail.write(disp8);
        }
        return this;
    }

    Encoder imm(long value, int bytes) {
        le(value, bytes);
        return this;
    }

    private void le(long value, int bytes) {
        for (int i = 0; i < bytes; i++) {
            tail.write((int) (value >>> (8 * i)));
        }
    }

    byte[] bytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(prefixes.toByteArray());
        int rex = (rexW ? 8 : 0) | rexR << 2 | rexB;
        if (rex != 0 || forceRex) {
            out.write(0x40 | rex);
        }
        out.writeBytes(opcode.toByteArray());
        out.writeBytes(tail.toByteArray());
        byte[] code = out.toByteArray();
        if (code.length > 15) {
            throw new IllegalStateException("instruction longer than 15 bytes");
        }
        return code;
    }
}

package org.tscvm.cpu.diff;

import java.util.HexFormat;

/**
 * One instruction with its input state, as both the host CPU and tscvm's interpreter run it.
 *
 * @param form           the instruction form in Intel notation, e.g. {@code "adc r/m32, r32"}
 * @param code           the encoded instruction (at most 15 bytes)
 * @param gpr            RAX..R15 in encoding order; RSP (index 4) is never an operand
 * @param rflags         input flags: only {@link #LOADABLE_FLAGS} are loaded
 * @param mem            the {@link #BUF_SIZE}-byte buffer at linear address {@link #BUF_ADDR}
 * @param definedFlags   output flags compared; the rest are undefined for this case (SDM)
 * @param undefinedRegs  bit i set: the output value of register i is undefined for this case
 */
record DiffCase(String form, byte[] code, long[] gpr, long rflags, byte[] mem, long definedFlags,
        int undefinedRegs) {

    static final long BUF_ADDR = 0x1000_0000L;
    static final int BUF_SIZE = 256;
    static final long CODE_ADDR = 0x2000_0000L;

    static final long CF = 1, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, DF = 1 << 10,
            OF = 1 << 11;
    static final long ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;
    static final long LOADABLE_FLAGS = ARITH_FLAGS | DF;

    static final String[] REG_NAMES = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};

    String describeInput() {
        StringBuilder b = new StringBuilder();
        b.append(form).append("  bytes ").append(HexFormat.of().formatHex(code)).append('\n');
        b.append("  in : ").append(registers(gpr)).append(" rflags=")
                .append(Long.toHexString(rflags & LOADABLE_FLAGS)).append('\n');
        if (touchesMemory()) {
            b.append("  mem: ").append(HexFormat.of().formatHex(mem));
        }
        return b.toString().trim();
    }

    /** True for forms with a memory operand or a string instruction. */
    boolean touchesMemory() {
        return form.matches(".*\\bm(8|16|32|64|128)\\b.*|.*(moffs|xlat).*|.*(movs|cmps|stos|lods|scas)[bwdq].*|.*\\[.*");
    }

    static String registers(long[] regs) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 16; i++) {
            if (i == 4) {
                continue;
            }
            b.append(REG_NAMES[i]).append('=').append(Long.toHexString(regs[i])).append(' ');
        }
        return b.toString().trim();
    }
}

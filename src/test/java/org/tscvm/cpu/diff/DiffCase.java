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
 * @param xmm            XMM0..XMM15 in, two quadwords each (low first)
 * @param mxcsr          MXCSR in
 * @param approxXmm      bit i set: XMMi holds four approximations (RCPPS/RSQRTPS), compared
 *                       lane by lane within 2^-10 relative (the SDM bounds each side by 1.5 * 2^-12)
 * @param misaligned     the 128-bit memory operand is deliberately off a 16-byte boundary: the
 *                       host raises #GP for the forms that require alignment
 * @param fx             the x87 state before the case: bytes 0-159 of an FXSAVE64 image (FCW,
 *                       FSW, abridged FTW, ST0-ST7 at 32 + 16 i; FOP/FIP/FDP and MXCSR ignored)
 * @param fswDefined     the FSW bits compared after the case (C0-C3 are undefined for many forms)
 * @param memUndefinedFrom the buffer bytes [from, to) are not compared (FIP/FDP in a stored x87 environment)
 * @param ulps           0: x87 registers compared exactly; else within this many units in the last
 *                       place (the transcendentals, which no x87 rounds correctly)
 */
record DiffCase(String form, byte[] code, long[] gpr, long rflags, byte[] mem, long definedFlags,
        int undefinedRegs, long[] xmm, int mxcsr, int approxXmm, boolean misaligned, byte[] fx, int fswDefined,
        int memUndefinedFrom, int memUndefinedTo, int ulps) {

    static final int FX_SIZE = 160;

    /** The x87 state of a fresh FNINIT: FCW 037F, all registers empty. */
    static final byte[] FNINIT_FX = new byte[FX_SIZE];

    static {
        FNINIT_FX[0] = 0x7f;
        FNINIT_FX[1] = 0x03;
    }

    /** A case that leaves the SSE state at its defaults (XMM zero, MXCSR 0x1f80) and the x87 at FNINIT's. */
    DiffCase(String form, byte[] code, long[] gpr, long rflags, byte[] mem, long definedFlags, int undefinedRegs) {
        this(form, code, gpr, rflags, mem, definedFlags, undefinedRegs, new long[32], DEFAULT_MXCSR, 0, false);
    }

    /** An SSE case: the x87 at FNINIT's state. */
    DiffCase(String form, byte[] code, long[] gpr, long rflags, byte[] mem, long definedFlags, int undefinedRegs,
            long[] xmm, int mxcsr, int approxXmm, boolean misaligned) {
        this(form, code, gpr, rflags, mem, definedFlags, undefinedRegs, xmm, mxcsr, approxXmm, misaligned, FNINIT_FX,
                0xffff, 0, 0, 0);
    }

    /** An x87 case: the SSE state at its defaults. */
    DiffCase(String form, byte[] code, long[] gpr, long rflags, byte[] mem, long definedFlags, int undefinedRegs,
            byte[] fx, int fswDefined, int memUndefinedFrom, int memUndefinedTo, int ulps) {
        this(form, code, gpr, rflags, mem, definedFlags, undefinedRegs, new long[32], DEFAULT_MXCSR, 0, false, fx,
                fswDefined, memUndefinedFrom, memUndefinedTo, ulps);
    }

    static final int DEFAULT_MXCSR = 0x1f80;

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
        if (usesSse()) {
            b.append("\n  mxcsr=").append(Integer.toHexString(mxcsr)).append(' ').append(xmmText(xmm));
        }
        if (fx != FNINIT_FX) {
            b.append("\n  x87: ").append(x87(fx));
        }
        return b.toString().trim();
    }

    /** True for forms with a memory operand or a string instruction. */
    boolean touchesMemory() {
        return form.matches(".*\\bm(8|16|32|64|128)\\b.*|.*(moffs|xlat).*|.*(movs|cmps|stos|lods|scas)[bwdq].*|.*\\[.*");
    }

    boolean usesSse() {
        return mxcsr != DEFAULT_MXCSR || java.util.Arrays.stream(xmm).anyMatch(v -> v != 0);
    }

    static String xmmText(long[] xmm) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 16; i++) {
            b.append("xmm").append(i).append('=').append(String.format("%016x%016x", xmm[2 * i + 1], xmm[2 * i])).append(' ');
        }
        return b.toString().trim();
    }

    /** FCW, FSW, FTW and the non-empty registers ST0-ST7 of an FXSAVE image. */
    static String x87(byte[] fx) {
        StringBuilder b = new StringBuilder();
        int fsw = (fx[2] & 0xff) | (fx[3] & 0xff) << 8;
        int ftw = fx[4] & 0xff;
        b.append(String.format("fcw=%04x fsw=%04x ftw=%02x", (fx[0] & 0xff) | (fx[1] & 0xff) << 8, fsw, ftw));
        int top = (fsw >>> 11) & 7;
        for (int i = 0; i < 8; i++) {
            if ((ftw & (1 << ((top + i) & 7))) == 0) {
                continue;
            }
            b.append(String.format(" st%d=%04x:%016x", i, (fx[40 + 16 * i] & 0xff) | (fx[41 + 16 * i] & 0xff) << 8,
                    java.nio.ByteBuffer.wrap(fx, 32 + 16 * i, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong()));
        }
        return b.toString();
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

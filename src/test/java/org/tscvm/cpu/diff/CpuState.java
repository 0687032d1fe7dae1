package org.tscvm.cpu.diff;

import java.util.Arrays;
import java.util.HexFormat;

/**
 * The state after one instruction: registers, flags, the memory buffer, and how it ended.
 *
 * @param fault empty when the instruction completed; otherwise what stopped it (a host signal
 *              name such as "SIGFPE", or the interpreter's stop reason or exception)
 */
record CpuState(long[] gpr, long rflags, byte[] mem, String fault, long[] xmm, int mxcsr, byte[] fx) {

    boolean completed() {
        return fault.isEmpty();
    }

    /** Null when equal under the case's masks, else a one-line reason. */
    String differenceFrom(CpuState other, DiffCase c) {
        if (!fault.equals(other.fault)) {
            return "fault: [" + fault + "] vs [" + other.fault + "]";
        }
        StringBuilder diff = new StringBuilder();
        if (!completed()) {
            // At #XM both sides report the SSE state at the fault: MXCSR with the flags the
            // instruction raised, the destination not yet written.
            return fault.startsWith("#XM") ? sseDifference(other, c, diff) : null;
        }
        for (int i = 0; i < 16; i++) {
            if (i == 4 || (c.undefinedRegs() & (1 << i)) != 0) {
                continue;
            }
            if (gpr[i] != other.gpr[i]) {
                diff.append(DiffCase.REG_NAMES[i]).append(' ');
            }
        }
        long mask = c.definedFlags() | DiffCase.DF;
        if (((rflags ^ other.rflags) & mask) != 0) {
            diff.append("rflags(").append(Long.toHexString((rflags ^ other.rflags) & mask)).append(") ");
        }
        if (!memEquals(other, c)) {
            diff.append("mem ");
        }
        diff.append(x87Difference(other, c));
        return sseDifference(other, c, diff);
    }

    private String sseDifference(CpuState other, DiffCase c, StringBuilder diff) {
        for (int i = 0; i < 16; i++) {
            boolean same = (c.approxXmm() & (1 << i)) != 0
                    ? closeEnough(xmm[2 * i], other.xmm[2 * i]) && closeEnough(xmm[2 * i + 1], other.xmm[2 * i + 1])
                    : xmm[2 * i] == other.xmm[2 * i] && xmm[2 * i + 1] == other.xmm[2 * i + 1];
            if (!same) {
                diff.append("xmm").append(i).append(' ');
            }
        }
        if (mxcsr != other.mxcsr) {
            diff.append("mxcsr(").append(Integer.toHexString(mxcsr ^ other.mxcsr)).append(") ");
        }
        return diff.length() == 0 ? null : diff.toString().trim();
    }

    /** Two pairs of single approximations: equal bits, or both finite within 2^-10 relative. */
    private static boolean closeEnough(long a, long b) {
        for (int k = 0; k < 2; k++) {
            int x = (int) (a >>> (32 * k)), y = (int) (b >>> (32 * k));
            if (x == y) {
                continue;
            }
            float fx = Float.intBitsToFloat(x), fy = Float.intBitsToFloat(y);
            if (!Float.isFinite(fx) || !Float.isFinite(fy) || fx == 0 || fy == 0
                    || Math.abs(fx - fy) > Math.abs(fy) * 0x1p-10f) {
                return false;
            }
        }
        return true;
    }

    private boolean memEquals(CpuState other, DiffCase c) {
        for (int i = 0; i < mem.length; i++) {
            if (mem[i] != other.mem[i] && (i < c.memUndefinedFrom() || i >= c.memUndefinedTo())) {
                return false;
            }
        }
        return true;
    }

    /**
     * FCW, FSW under the case's mask, the abridged tag, and ST0-ST7 where not empty. FOP,
     * FIP and FDP are not compared: AMD hosts save them only while an exception is pending.
     */
    private String x87Difference(CpuState other, DiffCase c) {
        StringBuilder d = new StringBuilder();
        if (fx[0] != other.fx[0] || fx[1] != other.fx[1]) {
            d.append("fcw ");
        }
        int fsw = (fx[2] & 0xff) | (fx[3] & 0xff) << 8, ofsw = (other.fx[2] & 0xff) | (other.fx[3] & 0xff) << 8;
        if (((fsw ^ ofsw) & c.fswDefined()) != 0) {
            d.append("fsw(").append(Integer.toHexString((fsw ^ ofsw) & c.fswDefined())).append(") ");
        }
        if (fx[4] != other.fx[4]) {
            d.append("ftw ");
        }
        int top = (fsw >>> 11) & 7;
        for (int i = 0; i < 8; i++) {
            if ((fx[4] & (1 << ((top + i) & 7))) == 0) {
                continue;
            }
            if (c.ulps() > 0 ? ulpDistance(fx, other.fx, 32 + 16 * i) > c.ulps() : !sameBytes(fx, other.fx, 32 + 16 * i)) {
                d.append("st").append(i).append(' ');
            }
        }
        return d.toString();
    }

    private static boolean sameBytes(byte[] a, byte[] b, int at) {
        for (int k = at; k < at + 10; k++) {
            if (a[k] != b[k]) {
                return false;
            }
        }
        return true;
    }

    /** Units in the last place between two 80-bit values of one sign (NaNs and sign changes: infinite). */
    private static long ulpDistance(byte[] a, byte[] b, int at) {
        if (sameBytes(a, b, at)) {
            return 0;
        }
        java.nio.ByteBuffer x = java.nio.ByteBuffer.wrap(a).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        java.nio.ByteBuffer y = java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int xe = x.getShort(at + 8) & 0xffff, ye = y.getShort(at + 8) & 0xffff;
        if (((xe ^ ye) & 0x8000) != 0 || (xe & 0x7fff) == 0x7fff || (ye & 0x7fff) == 0x7fff) {
            return Long.MAX_VALUE;
        }
        java.math.BigInteger kx = key(xe & 0x7fff, x.getLong(at)), ky = key(ye & 0x7fff, y.getLong(at));
        java.math.BigInteger d = kx.subtract(ky).abs();
        return d.bitLength() > 62 ? Long.MAX_VALUE : d.longValue();
    }

    /** Consecutive 80-bit magnitudes have consecutive keys: exponent * 2^63 + the fraction. */
    private static java.math.BigInteger key(int e, long sig) {
        java.math.BigInteger frac = java.math.BigInteger.valueOf(sig & Long.MAX_VALUE);
        return e == 0 ? java.math.BigInteger.valueOf(sig).and(java.math.BigInteger.ONE.shiftLeft(64).subtract(java.math.BigInteger.ONE))
                : java.math.BigInteger.valueOf(e).shiftLeft(63).add(frac);
    }

    String describe(DiffCase c) {
        if (!completed()) {
            return "fault " + fault + (fault.startsWith("#XM") ? " mxcsr=" + Integer.toHexString(mxcsr) + " "
                    + DiffCase.xmmText(xmm) : "");
        }
        return DiffCase.registers(gpr) + " rflags=" + Long.toHexString(rflags & (c.definedFlags() | DiffCase.DF))
                + " (compared " + Long.toHexString(c.definedFlags() | DiffCase.DF) + ")"
                + (Arrays.equals(mem, c.mem()) ? "" : "\n       mem: " + HexFormat.of().formatHex(mem))
                + (c.usesSse() ? "\n       mxcsr=" + Integer.toHexString(mxcsr) + " " + DiffCase.xmmText(xmm) : "")
                + (c.fx() == DiffCase.FNINIT_FX ? "" : "\n       x87: " + DiffCase.x87(fx));
    }
}

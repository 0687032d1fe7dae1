package org.tscvm.cpu.diff;

import java.util.Arrays;
import java.util.HexFormat;

/**
 * The state after one instruction: registers, flags, the memory buffer, and how it ended.
 *
 * @param fault empty when the instruction completed; otherwise what stopped it (a host signal
 *              name such as "SIGFPE", or the interpreter's stop reason or exception)
 */
record CpuState(long[] gpr, long rflags, byte[] mem, String fault, long[] xmm, int mxcsr) {

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
        if (!Arrays.equals(mem, other.mem)) {
            diff.append("mem ");
        }
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

    String describe(DiffCase c) {
        if (!completed()) {
            return "fault " + fault + (fault.startsWith("#XM") ? " mxcsr=" + Integer.toHexString(mxcsr) + " "
                    + DiffCase.xmmText(xmm) : "");
        }
        return DiffCase.registers(gpr) + " rflags=" + Long.toHexString(rflags & (c.definedFlags() | DiffCase.DF))
                + " (compared " + Long.toHexString(c.definedFlags() | DiffCase.DF) + ")"
                + (Arrays.equals(mem, c.mem()) ? "" : "\n       mem: " + HexFormat.of().formatHex(mem))
                + (c.usesSse() ? "\n       mxcsr=" + Integer.toHexString(mxcsr) + " " + DiffCase.xmmText(xmm) : "");
    }
}

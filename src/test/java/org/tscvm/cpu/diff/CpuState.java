package org.tscvm.cpu.diff;

import java.util.Arrays;
import java.util.HexFormat;

/**
 * The state after one instruction: registers, flags, the memory buffer, and how it ended.
 *
 * @param fault empty when the instruction completed; otherwise what stopped it (a host signal
 *              name such as "SIGFPE", or the interpreter's stop reason or exception)
 */
record CpuState(long[] gpr, long rflags, byte[] mem, String fault, byte[] fx) {

    boolean completed() {
        return fault.isEmpty();
    }

    /** Null when equal under the case's masks, else a one-line reason. */
    String differenceFrom(CpuState other, DiffCase c) {
        if (!fault.equals(other.fault)) {
            return "fault: [" + fault + "] vs [" + other.fault + "]";
        }
        if (!completed()) {
            return null;
        }
        StringBuilder diff = new StringBuilder();
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
        return diff.length() == 0 ? null : diff.toString().trim();
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
            for (int k = 32 + 16 * i; k < 42 + 16 * i; k++) {
                if (fx[k] != other.fx[k]) {
                    d.append("st").append(i).append(' ');
                    break;
                }
            }
        }
        return d.toString();
    }

    String describe(DiffCase c) {
        if (!completed()) {
            return "fault " + fault;
        }
        return DiffCase.registers(gpr) + " rflags=" + Long.toHexString(rflags & (c.definedFlags() | DiffCase.DF))
                + " (compared " + Long.toHexString(c.definedFlags() | DiffCase.DF) + ")"
                + (Arrays.equals(mem, c.mem()) ? "" : "\n       mem: " + HexFormat.of().formatHex(mem))
                + (c.fx() == DiffCase.FNINIT_FX ? "" : "\n       x87: " + DiffCase.x87(fx));
    }
}

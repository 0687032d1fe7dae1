package org.tscvm.cpu;

import org.tscvm.memory.GuestMemory;

/**
 * x87 control instructions: FNINIT, FNCLEX, FNSTCW, FLDCW, FNSTSW, FWAIT, FNOP, and the state
 * images FNSTENV/FLDENV, FNSAVE/FRSTOR (16- and 32-bit, real and protected formats, SDM Vol. 1
 * figures 8-9 to 8-12) and the x87 part of FXSAVE/FXRSTOR (bytes 0-159, SDM table 10-2).
 * Control instructions leave FIP/FDP/FOP alone; the FN forms do not wait for pending
 * exceptions.
 */
final class X87Control {
    private X87Control() {
    }

    /** FCW bits that exist: the masks, bit 6 (reads as 1), PC, RC and the infinity-control bit 12. */
    static final int FCW_BITS = 0x1f7f;

    static void fnop(CpuExec c, Insn d) {
        X87.begin(c, d);
    }

    static void fninit(CpuExec c, Insn d) {
        X87.available(c);
        init(c);
    }

    /** XRSTOR's initial x87 state: FNINIT's control words, and ST(0)-ST(7) zero (SDM 13.6). */
    static void xsaveInit(CpuState c) {
        init(c);
        java.util.Arrays.fill(c.fpuSig, 0);
        java.util.Arrays.fill(c.fpuSe, 0);
    }

    private static void init(CpuState c) {
        c.fpuControl = 0x37f;
        c.fpuStatus = 0;
        c.fpuTag = 0xffff;
        c.fpuIp = c.fpuDp = 0;
        c.fpuCs = c.fpuDs = c.fpuOpcode = 0;
    }

    static void fnclex(CpuExec c, Insn d) {
        X87.available(c);
        c.fpuStatus &= 0x7f00;
    }

    static void fnstcw(CpuExec c, Insn d) {
        X87.available(c);
        c.writeE(d, 2, c.fpuControl);
    }

    static void fldcw(CpuExec c, Insn d) {
        X87.waiting(c);
        c.fpuControl = ((int) c.readE(d, 2) & FCW_BITS) | 0x40;
        X87.updateSummary(c);
    }

    static void fnstswM(CpuExec c, Insn d) {
        X87.available(c);
        c.writeE(d, 2, c.fpuStatus);
    }

    static void fnstswAx(CpuExec c, Insn d) {
        X87.available(c);
        c.setReg(2, CpuState.RAX, c.fpuStatus);
    }

    /** FWAIT: #NM only when both MP and TS are set (SDM 2.5), then any pending #MF. */
    static void fwait(CpuExec c, Insn d) {
        if ((c.cr0 & (CpuState.CR0_TS | CpuState.CR0_MP)) == (CpuState.CR0_TS | CpuState.CR0_MP)) {
            throw c.fault(CpuFault.NM, CpuFault.NO_ERROR_CODE);
        }
        if ((c.fpuStatus & X87Float.ES) != 0 && (c.cr0 & CpuState.CR0_NE) != 0) {
            throw c.fault(CpuFault.MF, CpuFault.NO_ERROR_CODE);
        }
    }

    // ---- FNSTENV / FLDENV / FNSAVE / FRSTOR ----

    private static boolean realFormat(CpuState c) {
        return (c.cr0 & CpuState.CR0_PE) == 0 || (c.flags & CpuState.VM) != 0;
    }

    private static int envSize(Insn d) {
        return d.opSize == 2 ? 14 : 28;
    }

    /** Writes the environment at {@code lin} (the area was checked writable). */
    private static void storeEnv(CpuExec c, long lin, boolean wide) {
        int tag = X87.fullTag(c);
        boolean real = realFormat(c);
        long fip = c.fpuIp, fdp = c.fpuDp;
        if (real) {
            fip = ((long) c.fpuCs << 4) + (fip & 0xffff);
            fdp = ((long) c.fpuDs << 4) + (fdp & 0xffff);
        }
        if (wide) {
            c.writeLin(lin, 4, 0xffff0000L | c.fpuControl);
            c.writeLin(lin + 4, 4, 0xffff0000L | c.fpuStatus);
            c.writeLin(lin + 8, 4, 0xffff0000L | tag);
            if (real) {
                c.writeLin(lin + 12, 4, 0xffff0000L | (fip & 0xffff));
                c.writeLin(lin + 16, 4, c.fpuOpcode | ((fip >>> 16) & 0xffff) << 12);
                c.writeLin(lin + 20, 4, 0xffff0000L | (fdp & 0xffff));
                c.writeLin(lin + 24, 4, ((fdp >>> 16) & 0xffff) << 12);
            } else {
                c.writeLin(lin + 12, 4, fip & 0xffffffffL);
                c.writeLin(lin + 16, 4, c.fpuCs | (long) c.fpuOpcode << 16);
                c.writeLin(lin + 20, 4, fdp & 0xffffffffL);
                c.writeLin(lin + 24, 4, 0xffff0000L | c.fpuDs);
            }
        } else {
            c.writeLin(lin, 2, c.fpuControl);
            c.writeLin(lin + 2, 2, c.fpuStatus);
            c.writeLin(lin + 4, 2, tag);
            if (real) {
                c.writeLin(lin + 6, 2, fip);
                c.writeLin(lin + 8, 2, c.fpuOpcode | ((fip >>> 16) & 0xf) << 12);
                c.writeLin(lin + 10, 2, fdp);
                c.writeLin(lin + 12, 2, ((fdp >>> 16) & 0xf) << 12);
            } else {
                c.writeLin(lin + 6, 2, fip);
                c.writeLin(lin + 8, 2, c.fpuCs);
                c.writeLin(lin + 10, 2, fdp);
                c.writeLin(lin + 12, 2, c.fpuDs);
            }
        }
    }

    /** Reads the environment at {@code lin}; only a tag of 11 (empty) matters for the registers. */
    private static void loadEnv(CpuExec c, long lin, boolean wide) {
        boolean real = realFormat(c);
        int step = wide ? 4 : 2; // the 32-bit layout widens all seven fields to 4 bytes
        int cw = (int) c.readLin(lin, 2);
        int sw = (int) c.readLin(lin + step, 2);
        int tag = (int) c.readLin(lin + 2 * step, 2);
        int ipLow = (int) c.readLin(lin + 3 * step, step);
        int ipHigh = (int) c.readLin(lin + 4 * step, step);
        int dpLow = (int) c.readLin(lin + 5 * step, step);
        int dpHigh = (int) c.readLin(lin + 6 * step, step);
        c.fpuControl = (cw & FCW_BITS) | 0x40;
        c.fpuStatus = sw & 0xffff;
        int t = 0;
        for (int p = 0; p < 8; p++) {
            if (((tag >>> (2 * p)) & 3) == 3) {
                t |= 3 << (2 * p);
            }
        }
        c.fpuTag = t;
        if (real) {
            int highMask = wide ? 0xffff : 0xf;
            c.fpuOpcode = ipHigh & 0x7ff;
            c.fpuIp = (ipLow & 0xffff) | (long) ((ipHigh >>> 12) & highMask) << 16;
            c.fpuDp = (dpLow & 0xffff) | (long) ((dpHigh >>> 12) & highMask) << 16;
            c.fpuCs = 0;
            c.fpuDs = 0;
        } else if (wide) {
            c.fpuIp = ipLow & 0xffffffffL;
            c.fpuCs = ipHigh & 0xffff;
            c.fpuOpcode = (ipHigh >>> 16) & 0x7ff;
            c.fpuDp = dpLow & 0xffffffffL;
            c.fpuDs = dpHigh & 0xffff;
        } else {
            c.fpuIp = ipLow & 0xffff;
            c.fpuCs = ipHigh & 0xffff;
            c.fpuDp = dpLow & 0xffff;
            c.fpuDs = dpHigh & 0xffff;
        }
        X87.updateSummary(c);
    }

    /** FNSTENV: the environment, then every exception masked (SDM FSTENV). */
    static void fnstenv(CpuExec c, Insn d) {
        X87.available(c);
        int size = envSize(d);
        long lin = c.addr(d, size, true);
        c.probeWrite(lin, size);
        storeEnv(c, lin, size == 28);
        c.fpuControl |= 0x3f;
    }

    static void fldenv(CpuExec c, Insn d) {
        X87.waiting(c);
        int size = envSize(d);
        long lin = c.addr(d, size, false);
        c.readLin(lin + size - 1, 1);
        loadEnv(c, lin, size == 28);
    }

    /** FNSAVE: the environment and ST(0)-ST(7) in stack order, then FNINIT. */
    static void fnsave(CpuExec c, Insn d) {
        X87.available(c);
        int env = envSize(d);
        long lin = c.addr(d, env + 80, true);
        c.probeWrite(lin, env + 80);
        storeEnv(c, lin, env == 28);
        for (int i = 0; i < 8; i++) {
            int p = X87.phys(c, i);
            c.writeLin(lin + env + 10L * i, 8, c.fpuSig[p]);
            c.writeLin(lin + env + 10L * i + 8, 2, c.fpuSe[p]);
        }
        init(c);
    }

    static void frstor(CpuExec c, Insn d) {
        X87.waiting(c);
        int env = envSize(d);
        long lin = c.addr(d, env + 80, false);
        c.readLin(lin + env + 79, 1);
        loadEnv(c, lin, env == 28);
        for (int i = 0; i < 8; i++) {
            int p = X87.phys(c, i);
            c.fpuSig[p] = c.readLin(lin + env + 10L * i, 8);
            c.fpuSe[p] = (int) c.readLin(lin + env + 10L * i + 8, 2);
        }
    }

    // ---- FXSAVE / FXRSTOR, x87 part ----

    /**
     * Writes bytes 0-23 and 32-159 of an FXSAVE image at {@code lin} (the caller checked the
     * area): FCW, FSW, the abridged tag, FOP, FIP/FDP (64-bit with REX.W, else 32-bit
     * offsets with FCS/FDS), and ST(0)-ST(7) in stack order with zeroed reserved bytes.
     */
    static void fxsave(CpuExec c, long lin, boolean rexW) {
        c.writeLin(lin, 2, c.fpuControl);
        c.writeLin(lin + 2, 2, c.fpuStatus);
        c.writeLin(lin + 4, 1, X87.abridgedTag(c));
        c.writeLin(lin + 5, 1, 0);
        c.writeLin(lin + 6, 2, c.fpuOpcode);
        if (rexW) {
            c.writeLin(lin + 8, 8, c.fpuIp);
            c.writeLin(lin + 16, 8, c.fpuDp);
        } else {
            c.writeLin(lin + 8, 4, c.fpuIp);
            c.writeLin(lin + 12, 4, c.fpuCs);
            c.writeLin(lin + 16, 4, c.fpuDp);
            c.writeLin(lin + 20, 4, c.fpuDs);
        }
        for (int i = 0; i < 8; i++) {
            int p = X87.phys(c, i);
            long at = lin + 32 + 16L * i;
            c.writeLin(at, 8, c.fpuSig[p]);
            c.writeLin(at + 8, 8, c.fpuSe[p]);
        }
    }

    static void fxrstor(CpuExec c, long lin, boolean rexW) {
        c.fpuControl = ((int) c.readLin(lin, 2) & FCW_BITS) | 0x40;
        c.fpuStatus = (int) c.readLin(lin + 2, 2);
        int abridged = (int) c.readLin(lin + 4, 1);
        c.fpuOpcode = (int) c.readLin(lin + 6, 2) & 0x7ff;
        if (rexW) {
            c.fpuIp = c.readLin(lin + 8, 8);
            c.fpuDp = c.readLin(lin + 16, 8);
            c.fpuCs = 0;
            c.fpuDs = 0;
        } else {
            c.fpuIp = c.readLin(lin + 8, 4);
            c.fpuCs = (int) c.readLin(lin + 12, 2);
            c.fpuDp = c.readLin(lin + 16, 4);
            c.fpuDs = (int) c.readLin(lin + 20, 2);
        }
        int tag = 0;
        for (int p = 0; p < 8; p++) {
            tag |= ((abridged >>> p) & 1) != 0 ? 0 : 3 << (2 * p);
        }
        c.fpuTag = tag;
        for (int i = 0; i < 8; i++) {
            int p = X87.phys(c, i);
            long at = lin + 32 + 16L * i;
            c.fpuSig[p] = c.readLin(at, 8);
            c.fpuSe[p] = (int) c.readLin(at + 8, 2);
        }
    }

    // ---- the host API (Cpu.getX87/setX87) and snapshots ----

    static byte[] image(CpuState c) {
        byte[] b = new byte[160];
        GuestMemory.I16.set(b, 0, (short) c.fpuControl);
        GuestMemory.I16.set(b, 2, (short) c.fpuStatus);
        b[4] = (byte) X87.abridgedTag(c);
        GuestMemory.I32.set(b, 24, c.mxcsr);
        putPointersAndRegisters(c, b);
        return b;
    }

    static void loadImage(CpuState c, byte[] b) {
        c.fpuControl = ((short) GuestMemory.I16.get(b, 0) & FCW_BITS) | 0x40;
        c.fpuStatus = (short) GuestMemory.I16.get(b, 2) & 0xffff;
        int tag = 0;
        for (int p = 0; p < 8; p++) {
            tag |= ((b[4] >>> p) & 1) != 0 ? 0 : 3 << (2 * p);
        }
        c.fpuTag = tag;
        getPointersAndRegisters(c, b);
    }

    // ---- snapshots: the registers travel in the State's FXSAVE image ----

    /**
     * Copies the x87 registers and pointers into {@link CpuState#fxRegisters} for a snapshot:
     * ST(0)-ST(7) at 32 + 16 i, FOP at 6, FIP at 8 and FDP at 16 (64 bits each), and FCS/FDS
     * at 0 and 2 (the control words themselves travel in their own State fields).
     */
    static void saveImage(CpuState c) {
        byte[] b = c.fxRegisters;
        GuestMemory.I16.set(b, 0, (short) c.fpuCs);
        GuestMemory.I16.set(b, 2, (short) c.fpuDs);
        putPointersAndRegisters(c, b);
    }

    static void loadImage(CpuState c) {
        byte[] b = c.fxRegisters;
        c.fpuCs = (short) GuestMemory.I16.get(b, 0) & 0xffff;
        c.fpuDs = (short) GuestMemory.I16.get(b, 2) & 0xffff;
        getPointersAndRegisters(c, b);
    }

    /**
     * The layout {@link #image} and {@link #saveImage} share: FOP at 6, FIP at 8 and FDP at 16
     * (64 bits each), and ST(0)-ST(7) at 32 + 16 i, the sign and exponent zero-extended to 64
     * bits at 40 + 16 i.
     */
    private static void putPointersAndRegisters(CpuState c, byte[] b) {
        GuestMemory.I16.set(b, 6, (short) c.fpuOpcode);
        GuestMemory.I64.set(b, 8, c.fpuIp);
        GuestMemory.I64.set(b, 16, c.fpuDp);
        for (int i = 0; i < 8; i++) {
            int p = X87.phys(c, i);
            GuestMemory.I64.set(b, 32 + 16 * i, c.fpuSig[p]);
            GuestMemory.I64.set(b, 40 + 16 * i, (long) c.fpuSe[p]);
        }
    }

    /** Reads what {@link #putPointersAndRegisters} wrote; the TOP of c.fpuStatus places the registers. */
    private static void getPointersAndRegisters(CpuState c, byte[] b) {
        c.fpuOpcode = (short) GuestMemory.I16.get(b, 6) & 0x7ff;
        c.fpuIp = (long) GuestMemory.I64.get(b, 8);
        c.fpuDp = (long) GuestMemory.I64.get(b, 16);
        for (int i = 0; i < 8; i++) {
            int p = X87.phys(c, i);
            c.fpuSig[p] = (long) GuestMemory.I64.get(b, 32 + 16 * i);
            c.fpuSe[p] = (int) ((long) GuestMemory.I64.get(b, 40 + 16 * i) & 0xffff);
        }
    }
}

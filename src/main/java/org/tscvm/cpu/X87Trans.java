package org.tscvm.cpu;

/** x87 transcendental instructions (not yet implemented: they decode as #UD). */
final class X87Trans {
    static final boolean IMPLEMENTED = false;

    private X87Trans() {
    }

    static void f2xm1(CpuExec c, Insn d) {
        throw c.ud();
    }

    static void fyl2x(CpuExec c, Insn d) {
        throw c.ud();
    }

    static void fyl2xp1(CpuExec c, Insn d) {
        throw c.ud();
    }

    static void fptan(CpuExec c, Insn d) {
        throw c.ud();
    }

    static void fpatan(CpuExec c, Insn d) {
        throw c.ud();
    }

    static void fsin(CpuExec c, Insn d) {
        throw c.ud();
    }

    static void fcos(CpuExec c, Insn d) {
        throw c.ud();
    }

    static void fsincos(CpuExec c, Insn d) {
        throw c.ud();
    }
}

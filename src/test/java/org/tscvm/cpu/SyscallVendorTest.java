package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * The vendor-dependent rules of SYSCALL, SYSRET, SYSENTER and SYSEXIT (SDM Vol. 2B, AMD APM
 * Vol. 3): Intel runs SYSCALL/SYSRET in 64-bit mode only, AMD also in compatibility and legacy
 * mode; AMD refuses SYSENTER/SYSEXIT in long mode. The vendor is CPUID leaf 0's.
 */
class SyscallVendorTest {
    static final int R11 = 11, R12 = 12;
    static final long TF = 1 << 8, IF = 1 << 9;

    /**
     * 64-bit CPL 0 code: EFER.SCE, CSTAR = 0x12000, STAR = SYSRET base 0x18 / SYSCALL CS 0x08,
     * R11 = {@code r11}, then a far jump through 0x30000 to 32-bit CPL 0 code (0x40) at 0x11000.
     */
    private static CpuRig compatRig(boolean amd, int r11, byte[] compatCode) {
        CpuRig rig = new CpuRig();
        rig.bus.amd = amd;
        rig.longMode();
        // 12000: mov %cs,%r12d; hlt   (CSTAR, in 64-bit mode)
        rig.load(0x12000, hex("41 8c cc f4"));
        rig.load(0x11000, compatCode);
        rig.memory.write32(0x30000, 0x11000);
        rig.memory.write16(0x30004, 0x40);
        rig.run(
                // 10000: b9 80 00 00 c0       mov $0xc0000080,%ecx
                // 10005: 0f 32                rdmsr
                // 10007: 83 c8 01             or $0x1,%eax
                // 1000a: 0f 30                wrmsr
                // 1000c: b9 83 00 00 c0       mov $0xc0000083,%ecx
                // 10011: b8 00 20 01 00       mov $0x12000,%eax
                // 10016: 31 d2                xor %edx,%edx
                // 10018: 0f 30                wrmsr
                // 1001a: b9 81 00 00 c0       mov $0xc0000081,%ecx
                // 1001f: 31 c0                xor %eax,%eax
                // 10021: ba 08 00 18 00       mov $0x180008,%edx
                // 10026: 0f 30                wrmsr
                // 10028: 41 bb xx xx 00 00    mov $r11,%r11d
                // 1002e: ff 2c 25 00 00 03 00 ljmp *0x30000
                hex("b9 80 00 00 c0 0f 32 83 c8 01 0f 30 b9 83 00 00 c0 b8 00 20 01 00 31 d2 0f 30 b9 81 00 00 c0 31 c0 "
                        + "ba 08 00 18 00 0f 30 41 bb " + String.format("%02x %02x", r11 & 0xff, (r11 >> 8) & 0xff)
                        + " 00 00 ff 2c 25 00 00 03 00"));
        return rig;
    }

    // 11000: 0f 05    syscall   (32-bit compatibility mode, CPL 0)
    private static final byte[] COMPAT_SYSCALL = hex("0f 05");
    // 11000: b9 10 10 01 00  mov $0x11010,%ecx; 11005: 0f 07 sysretl; 11007..1100f: nops
    // 11010: 8c cb mov %cs,%ebx; 11012: 9c pushf; 11013: 5f pop %edi; 11014: 0f 05 syscall
    private static final byte[] COMPAT_SYSRET = hex("b9 10 10 01 00 0f 07 90 90 90 90 90 90 90 90 90 8c cb 9c 5f 0f 05");

    @Test
    void intelSyscallInCompatibilityModeIsUd() {
        CpuRig rig = compatRig(false, 2, COMPAT_SYSCALL);
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.UD);
    }

    @Test
    void amdSyscallInCompatibilityModeEntersCstarIn64BitMode() {
        CpuRig rig = compatRig(true, 2, COMPAT_SYSCALL);
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.cpu.getRip()).isEqualTo(0x12004);
        assertThat(rig.reg(R12)).isEqualTo(0x08);
        assertThat(rig.reg(Cpu.RCX)).as("the return EIP").isEqualTo(0x11002);
        assertThat(rig.reg(R11)).as("RFLAGS after xor: ZF PF").isEqualTo(0x46);
    }

    @Test
    void intelSysretInCompatibilityModeIsUd() {
        CpuRig rig = compatRig(false, 2, COMPAT_SYSRET);
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.UD);
    }

    @Test
    void amdSysretInCompatibilityModeReturnsToRing3AndSyscallComesBack() {
        CpuRig rig = compatRig(true, 0x2 | 0x80, COMPAT_SYSRET);
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.reg(Cpu.RBX)).as("CS = STAR[63:48] | 3").isEqualTo(0x1b);
        assertThat(rig.reg(Cpu.RDI) & 0xfff).as("RFLAGS from R11").isEqualTo(0x82);
        assertThat(rig.reg(R12)).isEqualTo(0x08);
        assertThat(rig.reg(Cpu.RCX)).isEqualTo(0x11016);
    }

    @Test
    void amdSysretThatSetsTfTrapsBeforeTheNextInstruction() {
        // R11 = TF | 2: the #DB comes after SYSRET, with the ring-3 CS on the handler's stack.
        CpuRig rig = compatRig(true, 0x102, COMPAT_SYSRET);
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.DB);
        assertThat(rig.stack(0)).as("RIP: the instruction after SYSRET's target").isEqualTo(0x11010);
        assertThat(rig.stack(1)).as("CS").isEqualTo(0x1b);
        assertThat(rig.stack(2) & TF).isNotZero();
    }

    /** Legacy protected mode, CPL 0: SCE, STAR = 0x12000 / SYSCALL CS 0x40 / SYSRET base 0x18, SYSRET to 0x11000. */
    private static CpuRig legacyRig(boolean amd) {
        CpuRig rig = new CpuRig();
        rig.bus.amd = amd;
        // 11000: 8c cb mov %cs,%ebx; 9c pushf; 5f pop %edi; 0f 05 syscall   (ring 3)
        rig.load(0x11000, hex("8c cb 9c 5f 0f 05"));
        // 12000: 8c ce mov %cs,%esi; f4 hlt   (ring 0)
        rig.load(0x12000, hex("8c ce f4"));
        rig.load(CpuRig.CODE,
                // 10000: b9 80 00 00 c0       mov $0xc0000080,%ecx
                // 10005: 0f 32                rdmsr
                // 10007: 83 c8 01             or $0x1,%eax
                // 1000a: 0f 30                wrmsr
                // 1000c: b9 81 00 00 c0       mov $0xc0000081,%ecx
                // 10011: b8 00 20 01 00       mov $0x12000,%eax
                // 10016: ba 40 00 18 00       mov $0x180040,%edx
                // 1001b: 0f 30                wrmsr
                // 1001d: b9 00 10 01 00       mov $0x11000,%ecx
                // 10022: 0f 07                sysret
                hex("b9 80 00 00 c0 0f 32 83 c8 01 0f 30 b9 81 00 00 c0 b8 00 20 01 00 ba 40 00 18 00 0f 30 b9 00 10 01 00 0f 07"));
        rig.cpu.enterFlatProtectedMode((int) CpuRig.CODE);
        rig.cpu.setGpr(Cpu.RSP, CpuRig.STACK_TOP);
        return rig;
    }

    @Test
    void amdSysretAndSyscallWorkInLegacyMode() {
        CpuRig rig = legacyRig(true);
        assertThat(rig.cpu.run(1000)).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.getRip()).isEqualTo(0x12003);
        assertThat(rig.reg(Cpu.RBX)).as("SYSRET: CS = STAR[63:48] | 3").isEqualTo(0x1b);
        assertThat(rig.reg(Cpu.RDI) & IF).as("SYSRET sets IF in legacy mode").isNotZero();
        assertThat(rig.reg(Cpu.RSI)).as("SYSCALL: CS = STAR[47:32]").isEqualTo(0x40);
        assertThat(rig.reg(Cpu.RCX)).as("ECX = the return EIP").isEqualTo(0x11006);
        assertThat(rig.cpu.getRflags() & IF).as("SYSCALL clears IF in legacy mode").isZero();
    }

    @Test
    void intelSysretInLegacyModeNeverReachesRing3() {
        CpuRig rig = legacyRig(false);
        rig.cpu.run(1000);
        assertThat(rig.reg(Cpu.RBX)).isZero();
        assertThat(rig.reg(Cpu.RSI)).isZero();
        assertThat(rig.cpu.getRip()).isNotEqualTo(0x12003);
    }

    @Test
    void amdSysenterInLongModeIsUdWhereIntelRunsIt() {
        // 10000: b9 74 01 00 00 mov $0x174,%ecx; b8 08 00 00 00 mov $0x8,%eax; 31 d2 xor %edx,%edx;
        //        0f 30 wrmsr; b9 76 01 00 00 mov $0x176,%ecx; b8 00 20 01 00 mov $0x12000,%eax;
        //        0f 30 wrmsr; 0f 34 sysenter          (12000: hlt)
        byte[] code = hex("b9 74 01 00 00 b8 08 00 00 00 31 d2 0f 30 b9 76 01 00 00 b8 00 20 01 00 0f 30 0f 34");
        CpuRig amd = new CpuRig();
        amd.bus.amd = true;
        amd.longMode();
        amd.load(0x12000, hex("f4"));
        amd.run(code);
        assertThat(amd.haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(amd.stack(0)).isEqualTo(CpuRig.CODE + 26);
        CpuRig intel = new CpuRig().longMode();
        intel.load(0x12000, hex("f4"));
        intel.run(code);
        assertThat(intel.cpu.getRip()).isEqualTo(0x12001);
    }

    @Test
    void amdSysexitInLongModeIsUd() {
        // b9 74 01 00 00 mov $0x174,%ecx; b8 08 00 00 00 mov $0x8,%eax; 31 d2; 0f 30; 48 0f 35 sysexitq
        CpuRig amd = new CpuRig();
        amd.bus.amd = true;
        amd.longMode().run(hex("b9 74 01 00 00 b8 08 00 00 00 31 d2 0f 30 48 0f 35"));
        assertThat(amd.haltedInVector()).isEqualTo(CpuFault.UD);
    }
}

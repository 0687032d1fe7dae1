package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * UMIP (SDM 2.5, CR4.UMIP): SGDT, SIDT, SLDT, SMSW and STR are #GP(0) at CPL 3 while CR4.UMIP is
 * set, in 64-bit and compatibility mode, and run there while it is clear (as kvm-unit-tests'
 * {@code umip} checks).
 */
class CpuUmipTest {
    private static final long USER_CODE = 0x400000;
    private static final int CS64 = 0x2b, CS32 = 0x1b;
    /** sgdt 0x500000, sidt 0x500000, sldt %eax, smsw %eax, str %eax (the same bytes in either mode). */
    private static final String[] FORMS = {"0f 01 04 25 00 00 50 00", "0f 01 0c 25 00 00 50 00", "0f 00 c0", "0f 01 e0",
        "0f 00 c8"};

    /** mov $0x23,%eax; mov %eax,%ds: the IRET to CPL 3 left DS null. */
    private static final String LOAD_DS = "b8 23 00 00 00 8e d8 ";
    private static final long INSN = USER_CODE + 7;

    /**
     * Enters CPL 3 at 0x400000 with {@code cs}, loads DS, runs {@code insn} then HLT (itself #GP
     * at CPL 3).
     */
    private static CpuRig runAtCpl3(String insn, int cs, boolean umip) {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setGpr(12, umip ? CpuState.CR4_UMIP : 0);
        rig.cpu.setGpr(13, cs);
        rig.load(USER_CODE, hex(LOAD_DS + insn + " f4"));
        return rig.run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 4c 09 e0                 or     %r12,%rax
                // 10006: 0f 22 e0                 mov    %rax,%cr4
                // 10009: 6a 23                    push   $0x23
                // 1000b: 68 00 f0 47 00           push   $0x47f000
                // 10010: 9c                       pushf
                // 10011: 41 55                    push   %r13
                // 10013: 68 00 00 40 00           push   $0x400000
                // 10018: 48 cf                    iretq
                hex("0f 20 e0 4c 09 e0 0f 22 e0 6a 23 68 00 f0 47 00 9c 41 55 68 00 00 40 00 48 cf"));
    }

    @Test
    void withCr4UmipTheStoreFormsAreGeneralProtectionAtCpl3InBothModes() {
        for (int cs : new int[] {CS64, CS32}) {
            for (String insn : FORMS) {
                CpuRig rig = runAtCpl3(insn, cs, true);
                assertThat(rig.haltedInVector()).as("%s cs %x", insn, cs).isEqualTo(CpuFault.GP);
                assertThat(rig.stack(0)).as("error code").isZero();
                assertThat(rig.stack(1)).as("%s cs %x faults itself", insn, cs).isEqualTo(INSN);
            }
        }
    }

    @Test
    void withoutCr4UmipTheStoreFormsRunAtCpl3() {
        for (int cs : new int[] {CS64, CS32}) {
            for (String insn : FORMS) {
                CpuRig rig = runAtCpl3(insn, cs, false);
                int length = hex(insn).length;
                assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
                assertThat(rig.stack(1)).as("%s cs %x: only the HLT after it faults", insn, cs)
                        .isEqualTo(INSN + length);
            }
        }
    }
}

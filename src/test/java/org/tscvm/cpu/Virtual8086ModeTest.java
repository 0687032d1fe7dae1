package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Virtual-8086 mode (SDM vol. 3 chapter 20): entered by IRETD at CPL 0 with VM in the popped
 * EFLAGS, left by an interrupt to a ring-0 gate; INT n, IRET, PUSHF, POPF, CLI and STI run
 * with IOPL 3 and are #GP(0) below it (no VME); I/O goes through the TSS I/O bitmap.
 *
 * <pre>
 * GDT 0x500: 08 code32, 10 data32 (both DPL 0), 28 the TSS at 0x5000 (ESP0 0x90000, SS0 0x10,
 *            I/O bitmap at 0x68 over ports 0-0x3ff, all denied but 0x80)
 * IDT 0x4000: interrupt gates to HLTs at 0x8800 + 16 * vector (3 with DPL 3); 0x21 with DPL 3
 *            to the ring-0 handler at 0x22000, which copies its 9-dword frame to 0x7000 and IRETs
 * main (32-bit, CPL 0) at 0x20000 IRETs to the virtual-8086 code at 3000:0000 (linear 0x30000)
 * with ES 4100, DS 4000, FS 5000, GS 6000, SS:SP 6800:FFF0
 * </pre>
 */
class Virtual8086ModeTest {
    private static final long VM = 1 << 17, IOPL3 = 3 << 12, IF = 1 << 9;
    private static final int ESP0 = 0x90000;

    /** lgdt; lidt; ltr 0x28; push GS, FS, DS, ES, SS, ESP, EFLAGS (patched at offset 0x34), CS, EIP; iret. */
    private static final String MAIN = "0f 01 15 00 06 00 00 0f 01 1d 10 06 00 00 66 b8 28 00 0f 00 d8 "
            + "68 00 60 00 00 68 00 50 00 00 68 00 40 00 00 68 00 41 00 00 68 00 68 00 00 68 f0 ff 00 00 "
            + "68 02 30 03 00 68 00 30 00 00 6a 00 cf";

    /**
     * The ring-0 handler of INT 0x21: copies the 9 dwords at SS:ESP to 0x7000; DS, ES, FS, GS,
     * EFLAGS, SS and ESP to 0x7030-0x7048 (SS-relative: the data segments are null); iret.
     */
    private static final String HANDLER = "31 c9 8b 04 8c 36 89 04 8d 00 70 00 00 41 83 f9 09 75 ef "
            + "8c d8 36 a3 30 70 00 00 8c c0 36 a3 34 70 00 00 8c e0 36 a3 38 70 00 00 8c e8 36 a3 3c 70 00 00 "
            + "9c 58 36 a3 40 70 00 00 8c d0 36 a3 44 70 00 00 36 89 25 48 70 00 00 cf";

    private static CpuRig rig() {
        CpuRig rig = new CpuRig();
        rig.w64(0x508, 0x00cf9a000000ffffL);
        rig.w64(0x510, 0x00cf92000000ffffL);
        rig.w64(0x528, 0xe8L | (0x5000L << 16) | (0x89L << 40));
        rig.memory.write16(0x600, 0x2f);
        rig.memory.write32(0x602, 0x500);
        rig.memory.write16(0x610, 0x7ff);
        rig.memory.write32(0x612, 0x4000);
        for (int v = 0; v < 256; v++) {
            long handler = 0x8800 + 16L * v;
            rig.memory.write8(handler, 0xf4);
            rig.w64(0x4000 + 8L * v, gate(handler, v == CpuFault.BP ? 3 : 0));
        }
        rig.w64(0x4000 + 8L * 0x21, gate(0x22000, 3));
        rig.load(0x22000, hex(HANDLER));
        rig.memory.write32(0x5004, ESP0);
        rig.memory.write32(0x5008, 0x10);
        rig.memory.write16(0x5066, 0x68);
        for (int i = 0; i < 0x80; i++) {
            rig.memory.write8(0x5068 + i, i == 0x80 >> 3 ? 0xfe : 0xff);
        }
        return rig;
    }

    private static long gate(long handler, int dpl) {
        return (handler & 0xffff) | (0x08L << 16) | ((0x8eL | (dpl << 5)) << 40) | ((handler >>> 16) << 48);
    }

    private static void run(CpuRig rig, long vm86Flags, String vm86Code) {
        String main = MAIN.replace("68 02 30 03 00", "68 " + String.format("%02x %02x %02x %02x",
                vm86Flags & 0xff, (vm86Flags >>> 8) & 0xff, (vm86Flags >>> 16) & 0xff, vm86Flags >>> 24));
        rig.load(0x20000, hex(main));
        rig.load(0x30000, hex(vm86Code));
        rig.cpu.enterFlatProtectedMode(0x20000);
        rig.cpu.setGpr(Cpu.RSP, 0x80000);
        assertThat(rig.cpu.run(10_000)).as(rig.cpu.describe()).isEqualTo(RunStop.HALTED);
    }

    private static long stack(CpuRig rig, int dword) {
        return rig.memory.read32(rig.cpu.getGpr(Cpu.RSP) + 4L * dword) & 0xffffffffL;
    }

    @Test
    void iretEntersVirtual8086ModeWhereIoplThreeInstructionsRunAndInterruptsLeaveThroughRingZero() {
        CpuRig rig = rig();
        rig.memory.write16(0x40010, 0x1234);
        run(rig, VM | IOPL3 | 2,
                // mov 0x10,%ax; mov %ax,%es:0x20; pushf; pop %bx; mov %bx,0x22; cli; sti
                "a1 10 00 26 a3 20 00 9c 5b 89 1e 22 00 fa fb "
                        // 0f: pushf; push %cs; push $0x15; iret (to 0x15); 15: int $0x21
                        + "9c 0e 68 15 00 cf cd 21 "
                        // 17: mov $0x80,%dx; out %al,(%dx); mov $0x81,%dx; in (%dx),%al; hlt
                        + "ba 80 00 ee ba 81 00 ec f4");
        var m = rig.memory;
        assertThat(m.read16(0x41020)).as("DS and ES bases are selector * 16").isEqualTo(0x1234);
        assertThat(m.read16(0x40022) & (VM | IOPL3)).as("PUSHF: IOPL 3, VM not shown").isEqualTo(IOPL3);
        // The frame INT 0x21 pushed on the ring-0 stack: EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS.
        long[] frame = new long[9];
        for (int i = 0; i < 9; i++) {
            frame[i] = m.read32(0x7000 + 4L * i) & 0xffffffffL;
        }
        assertThat(frame[0]).as("EIP after the INT").isEqualTo(0x17);
        assertThat(frame[1]).isEqualTo(0x3000);
        assertThat(frame[2] & (VM | IOPL3 | IF)).as("EFLAGS: VM, IOPL 3, and IF from the STI").isEqualTo(VM | IOPL3 | IF);
        assertThat(frame[3]).as("ESP after the IRET in virtual-8086 mode").isEqualTo(0xfff0);
        assertThat(new long[] {frame[4], frame[5], frame[6], frame[7], frame[8]})
                .as("SS, ES, DS, FS, GS").containsExactly(0x6800, 0x4100, 0x4000, 0x5000, 0x6000);
        for (int i = 0; i < 4; i++) {
            assertThat(m.read32(0x7030 + 4L * i) & 0xffff).as("DS, ES, FS, GS nulled in the handler").isZero();
        }
        assertThat(m.read32(0x7040) & (VM | IF)).as("handler: VM clear, IF clear (interrupt gate)").isZero();
        assertThat(m.read32(0x7044) & 0xffff).as("SS0 from the TSS").isEqualTo(0x10);
        assertThat(m.read32(0x7048)).as("ESP0 less the 36-byte frame").isEqualTo(ESP0 - 36);
        // The handler's IRET went back to virtual-8086 mode: OUT 0x80 (allowed), IN 0x81 (denied).
        assertThat(rig.bus.log).anyMatch(s -> s.startsWith("out 80/1="));
        assertThat(rig.bus.log).noneMatch(s -> s.startsWith("in 81"));
        assertThat(rig.cpu.getRip()).as(rig.cpu.describe()).isEqualTo(0x8800 + 16L * CpuFault.GP + 1);
        assertThat(stack(rig, 0)).as("error code").isZero();
        assertThat(stack(rig, 1)).as("the IN").isEqualTo(0x1e);
        assertThat(stack(rig, 2)).isEqualTo(0x3000);
        assertThat(stack(rig, 7)).as("DS restored by the handler's IRET").isEqualTo(0x4000);
        assertThat(stack(rig, 9)).as("GS too").isEqualTo(0x6000);
        assertThat(rig.cpu.getGpr(Cpu.RSP)).isEqualTo(ESP0 - 40);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"int $0x21, cd 21", "iret, cf", "pushf, 9c", "popf, 9d", "cli, fa", "sti, fb"})
    void belowIoplThreeTheSensitiveInstructionsAreGeneralProtectionFaults(String name, String code) {
        CpuRig rig = rig();
        run(rig, VM | 2, code + " f4");
        assertThat(rig.cpu.getRip()).as(rig.cpu.describe()).isEqualTo(0x8800 + 16L * CpuFault.GP + 1);
        assertThat(stack(rig, 0)).as("error code").isZero();
        assertThat(stack(rig, 1)).as("the faulting instruction").isZero();
        assertThat(stack(rig, 3) & VM).as("pushed from virtual-8086 mode").isEqualTo(VM);
    }

    @Test
    void int3IsNotIoplSensitive() {
        CpuRig rig = rig();
        run(rig, VM | 2, "cc f4");
        assertThat(rig.cpu.getRip()).as(rig.cpu.describe()).isEqualTo(0x8800 + 16L * CpuFault.BP + 1);
        assertThat(stack(rig, 0)).as("return EIP past the INT3").isEqualTo(1);
        assertThat(stack(rig, 1)).isEqualTo(0x3000);
    }

    @Test
    void iretToVirtual8086ModeWithEipBeyondSixtyFourKiBIsGeneralProtection() {
        CpuRig rig = rig();
        String main = MAIN.replace("6a 00 cf", "68 00 00 01 00 cf"); // push $0x10000; iret
        rig.load(0x20000, hex(main));
        rig.cpu.enterFlatProtectedMode(0x20000);
        rig.cpu.setGpr(Cpu.RSP, 0x80000);
        assertThat(rig.cpu.run(10_000)).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.getRip()).as(rig.cpu.describe()).isEqualTo(0x8800 + 16L * CpuFault.GP + 1);
        assertThat(stack(rig, 0)).isZero();
        assertThat(stack(rig, 2)).as("faulted at CPL 0, in protected mode").isEqualTo(0x08);
    }

    @Test
    void cr4VmeCannotBeSetWhileCpuidDoesNotReportVme() {
        CpuRig rig = rig();
        // lgdt; lidt; mov %cr4,%eax; or $1,%eax; mov %eax,%cr4; hlt
        rig.load(0x20000, hex("0f 01 15 00 06 00 00 0f 01 1d 10 06 00 00 0f 20 e0 83 c8 01 0f 22 e0 f4"));
        rig.cpu.enterFlatProtectedMode(0x20000);
        rig.cpu.setGpr(Cpu.RSP, 0x80000);
        assertThat(rig.cpu.run(10_000)).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.getRip()).as(rig.cpu.describe()).isEqualTo(0x8800 + 16L * CpuFault.GP + 1);
        assertThat(rig.cpu.getCr(4) & 1).isZero();
    }
}

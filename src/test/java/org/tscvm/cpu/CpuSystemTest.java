package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.CODE;
import static org.tscvm.cpu.CpuRig.STACK_TOP;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/** More instruction groups and system paths, as hand-assembled snippets (see {@link CpuTest}). */
class CpuSystemTest {
    static final long CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
    static final int R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15;

    @Test
    void exchangeCompareAndByteOrderInstructionsWork() {
        CpuRig rig = new CpuRig().longMode();
        rig.w64(0x30000, 5);
        rig.run(
                // 10000: b8 05 00 00 00           mov $0x5,%eax
                // 10005: bb 09 00 00 00           mov $0x9,%ebx
                // 1000a: 48 0f b1 1c 25 00 00     cmpxchg %rbx,0x30000
                //         03 00
                // 10013: 0f 94 c1                 sete %cl
                // 10016: 48 0f b1 1c 25 00 00     cmpxchg %rbx,0x30000
                //         03 00
                // 1001f: 0f 94 c5                 sete %ch
                // 10022: 49 89 c0                 mov %rax,%r8
                // 10025: ba 0a 00 00 00           mov $0xa,%edx
                // 1002a: 48 0f c1 14 25 00 00     xadd %rdx,0x30000
                //         03 00
                // 10033: be 44 33 22 11           mov $0x11223344,%esi
                // 10038: 0f ce                    bswap %esi
                // 1003a: 0f 38 f0 3c 25 00 00     movbe 0x30000,%edi
                //         03 00
                // 10043: 49 c7 c1 00 00 03 00     mov $0x30000,%r9
                // 1004a: 49 c7 c2 07 00 00 00     mov $0x7,%r10
                // 10051: 4d 87 11                 xchg %r10,(%r9)
                // 10054: 49 c7 c3 34 12 00 00     mov $0x1234,%r11
                // 1005b: 66 45 87 da              xchg %r11w,%r10w
                // 1005f: f4                       hlt
                hex("b8 05 00 00 00 bb 09 00 00 00 48 0f b1 1c 25 00 00 03 00 0f 94 c1 48 0f b1 1c 25 00 00 03 00 0f "
                        + "94 c5 49 89 c0 ba 0a 00 00 00 48 0f c1 14 25 00 00 03 00 be 44 33 22 11 0f ce 0f 38 f0 3c 25 00 "
                        + "00 03 00 49 c7 c1 00 00 03 00 49 c7 c2 07 00 00 00 4d 87 11 49 c7 c3 34 12 00 00 66 45 87 da f4 "));
        assertThat(rig.reg(Cpu.RCX) & 0xffff).isEqualTo(0x0001);
        assertThat(rig.reg(R8)).as("failed cmpxchg loads the accumulator").isEqualTo(9);
        assertThat(rig.reg(Cpu.RDX)).as("xadd returns the old value").isEqualTo(9);
        assertThat(rig.r64(0x30000)).isEqualTo(7);
        assertThat(rig.reg(R10)).isEqualTo(0x1234);
        assertThat(rig.reg(R11)).isEqualTo(19);
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(0x44332211L);
        assertThat(rig.reg(Cpu.RDI)).isEqualTo(0x13000000L);
    }

    @Test
    void conditionalsLoopsAndConversionsBehaveAsGccExpects() {
        CpuRig rig = new CpuRig().longMode();
        rig.memory.write8(0x30005, 0x99);
        rig.run(
                // 10000: b8 fb ff ff ff           mov $0xfffffffb,%eax
                // 10005: 83 f8 03                 cmp $0x3,%eax
                // 10008: 0f 9c c3                 setl %bl
                // 1000b: 0f 92 c7                 setb %bh
                // 1000e: b9 01 00 00 00           mov $0x1,%ecx
                // 10013: ba 02 00 00 00           mov $0x2,%edx
                // 10018: 0f 4f ca                 cmovg %edx,%ecx
                // 1001b: 49 b8 00 00 00 00 ff     movabs $0xffffffff00000000,%r8
                //         ff ff ff
                // 10025: 44 0f 4f c1              cmovg %ecx,%r8d
                // 10029: 31 f6                    xor %esi,%esi
                // 1002b: b9 0a 00 00 00           mov $0xa,%ecx
                // 10030: 01 ce                    add %ecx,%esi
                // 10032: e2 fc                    loop 0x10030
                // 10034: e3 05                    jrcxz 0x1003b
                // 10036: be 01 00 00 00           mov $0x1,%esi
                // 1003b: b0 80                    mov $0x80,%al
                // 1003d: 66 98                    cbtw
                // 1003f: 98                       cwtl
                // 10040: 48 98                    cltq
                // 10042: 49 89 c1                 mov %rax,%r9
                // 10045: 48 99                    cqto
                // 10047: 49 89 d2                 mov %rdx,%r10
                // 1004a: bb 00 00 03 00           mov $0x30000,%ebx
                // 1004f: b8 05 00 00 00           mov $0x5,%eax
                // 10054: d7                       xlat %ds:(%rbx)
                // 10055: 41 89 c3                 mov %eax,%r11d
                // 10058: 66 44 0f be e0           movsbw %al,%r12w
                // 1005d: 44 0f b6 e8              movzbl %al,%r13d
                // 10061: 4c 63 f0                 movslq %eax,%r14
                // 10064: 4e 8d 7c ab 10           lea 0x10(%rbx,%r13,4),%r15
                // 10069: f4                       hlt
                hex("b8 fb ff ff ff 83 f8 03 0f 9c c3 0f 92 c7 b9 01 00 00 00 ba 02 00 00 00 0f 4f ca 49 b8 00 00 00 "
                        + "00 ff ff ff ff 44 0f 4f c1 31 f6 b9 0a 00 00 00 01 ce e2 fc e3 05 be 01 00 00 00 b0 80 66 98 98 "
                        + "48 98 49 89 c1 48 99 49 89 d2 bb 00 00 03 00 b8 05 00 00 00 d7 41 89 c3 66 44 0f be e0 44 0f b6 "
                        + "e8 4c 63 f0 4e 8d 7c ab 10 f4 "));
        assertThat(rig.reg(R8)).as("false 32-bit cmov still zero-extends").isZero();
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(55);
        assertThat(rig.reg(R9)).isEqualTo(-128L);
        assertThat(rig.reg(R10)).isEqualTo(-1L);
        assertThat(rig.reg(R11)).isEqualTo(0x99);
        assertThat(rig.reg(R12) & 0xffff).isEqualTo(0xff99);
        assertThat(rig.reg(R13)).isEqualTo(0x99);
        assertThat(rig.reg(R14)).isEqualTo(0x99);
        assertThat(rig.reg(R15)).isEqualTo(0x30000 + 0x10 + 4 * 0x99);
    }

    @Test
    void setlAndSetbDistinguishSignedFromUnsigned() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: b8 fb ff ff ff           mov $0xfffffffb,%eax
                // 10005: 83 f8 03                 cmp $0x3,%eax
                // 10008: 0f 9c c3                 setl %bl
                // 1000b: 0f 92 c1                 setb %cl
                // 1000e: 0f 90 c2                 seto %dl
                // 10011: 40 0f 98 c6              sets %sil
                // 10015: 9f                       lahf
                // 10016: f4                       hlt
                hex("b8 fb ff ff ff 83 f8 03 0f 9c c3 0f 92 c1 0f 90 c2 40 0f 98 c6 9f f4 "));
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(1);
        assertThat(rig.reg(Cpu.RCX)).isZero();
        assertThat(rig.reg(Cpu.RDX) & 0xff).isZero();
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(1);
        assertThat((rig.reg(Cpu.RAX) >>> 8) & 0xff).as("SF and bit 1").isEqualTo(0x82);
    }

    @Test
    void enterLeavePushPopAndFarReturnKeepTheStackBalanced() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 49 89 e0                 mov %rsp,%r8
                // 10003: c8 20 00 00              enter $0x20,$0x0
                // 10007: 49 89 e9                 mov %rbp,%r9
                // 1000a: c9                       leave
                // 1000b: 0f a0                    push %fs
                // 1000d: 58                       pop %rax
                // 1000e: 66 68 34 12              pushw $0x1234
                // 10012: 66 5b                    pop %bx
                // 10014: 6a 08                    push $0x8
                // 10016: 48 8d 0d 03 00 00 00     lea 0x3(%rip),%rcx # 0x10020
                // 1001d: 51                       push %rcx
                // 1001e: 48 cb                    lretq
                // 10020: 49 89 e2                 mov %rsp,%r10
                // 10023: 9c                       pushf
                // 10024: 9d                       popf
                // 10025: f4                       hlt
                hex("49 89 e0 c8 20 00 00 49 89 e9 c9 0f a0 58 66 68 34 12 66 5b 6a 08 48 8d 0d 03 00 00 00 51 48 cb "
                        + "49 89 e2 9c 9d f4 "));
        assertThat(rig.reg(R9)).isEqualTo(STACK_TOP - 8);
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(0x10);
        assertThat(rig.reg(Cpu.RBX) & 0xffff).isEqualTo(0x1234);
        assertThat(rig.reg(R10)).isEqualTo(STACK_TOP);
    }

    @Test
    void descriptorTableInstructionsReadBackWhatWasLoaded() {
        CpuRig rig = new CpuRig().longMode();
        rig.run(
                // 10000: 0f 01 04 25 00 00 03     sgdt 0x30000
                //         00
                // 10008: 0f 01 0c 25 10 00 03     sidt 0x30010
                //         00
                // 10010: 66 0f 00 c8              str %ax
                // 10014: b9 10 00 00 00           mov $0x10,%ecx
                // 10019: 0f 02 d1                 lar %ecx,%edx
                // 1001c: 0f 03 f1                 lsl %ecx,%esi
                // 1001f: 0f 00 e9                 verw %cx
                // 10022: 41 0f 94 c0              sete %r8b
                // 10026: b9 08 00 00 00           mov $0x8,%ecx
                // 1002b: 0f 00 e9                 verw %cx
                // 1002e: 41 0f 94 c1              sete %r9b
                // 10032: b9 38 00 00 00           mov $0x38,%ecx
                // 10037: 0f 02 f9                 lar %ecx,%edi
                // 1003a: 41 0f 94 c2              sete %r10b
                // 1003e: f4                       hlt
                hex("0f 01 04 25 00 00 03 00 0f 01 0c 25 10 00 03 00 66 0f 00 c8 b9 10 00 00 00 0f 02 d1 0f 03 f1 0f "
                        + "00 e9 41 0f 94 c0 b9 08 00 00 00 0f 00 e9 41 0f 94 c1 b9 38 00 00 00 0f 02 f9 41 0f 94 c2 f4 "));
        assertThat(rig.memory.read16(0x30000)).isEqualTo(0x47);
        assertThat(rig.r64(0x30002)).isEqualTo(CpuRig.GDT);
        assertThat(rig.r64(0x30012)).isEqualTo(CpuRig.IDT);
        assertThat(rig.reg(Cpu.RAX) & 0xffff).isEqualTo(0x30);
        assertThat(rig.reg(Cpu.RDX)).isEqualTo(0x00cf9300L);
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(0xffffffffL);
        assertThat(rig.reg(R8)).as("data is writable").isEqualTo(1);
        assertThat(rig.reg(R9)).as("code is not").isZero();
        assertThat(rig.reg(R10)).as("null descriptor").isZero();
        assertThat(rig.memory.read8(CpuRig.GDT + 0x30 + 5) & 0xf).as("ltr marked the TSS busy").isEqualTo(0xb);
    }

    @Test
    void fxsaveFxrstorAndTheControlWordsKeepTheirState() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 0f 20 e0                 mov %cr4,%rax
                // 10003: 48 0d 00 02 00 00        or $0x200,%rax
                // 10009: 0f 22 e0                 mov %rax,%cr4
                // 1000c: db e3                    fninit
                // 1000e: d9 3c 25 00 00 03 00     fnstcw 0x30000
                // 10015: 66 c7 04 25 02 00 03     movw $0x27f,0x30002
                //         00 7f 02
                // 1001f: d9 2c 25 02 00 03 00     fldcw 0x30002
                // 10026: c7 04 25 04 00 03 00     movl $0x1fa0,0x30004
                //         a0 1f 00 00
                // 10031: 0f ae 14 25 04 00 03     ldmxcsr 0x30004
                //         00
                // 10039: 0f ae 04 25 00 10 03     fxsave 0x31000
                //         00
                // 10041: db e3                    fninit
                // 10043: c7 04 25 04 00 03 00     movl $0x1f80,0x30004
                //         80 1f 00 00
                // 1004e: 0f ae 14 25 04 00 03     ldmxcsr 0x30004
                //         00
                // 10056: 0f ae 0c 25 00 10 03     fxrstor 0x31000
                //         00
                // 1005e: 0f ae 1c 25 08 00 03     stmxcsr 0x30008
                //         00
                // 10066: d9 3c 25 0c 00 03 00     fnstcw 0x3000c
                // 1006d: df e0                    fnstsw %ax
                // 1006f: f4                       hlt
                hex("0f 20 e0 48 0d 00 02 00 00 0f 22 e0 db e3 d9 3c 25 00 00 03 00 66 c7 04 25 02 00 03 00 7f 02 d9 "
                        + "2c 25 02 00 03 00 c7 04 25 04 00 03 00 a0 1f 00 00 0f ae 14 25 04 00 03 00 0f ae 04 25 00 10 03 "
                        + "00 db e3 c7 04 25 04 00 03 00 80 1f 00 00 0f ae 14 25 04 00 03 00 0f ae 0c 25 00 10 03 00 0f ae "
                        + "1c 25 08 00 03 00 d9 3c 25 0c 00 03 00 df e0 f4 "));
        assertThat(rig.memory.read16(0x30000)).isEqualTo(0x37f);
        assertThat(rig.memory.read16(0x31000)).as("FCW in the FXSAVE image").isEqualTo(0x27f);
        assertThat(rig.memory.read32(0x31018)).as("MXCSR in the FXSAVE image").isEqualTo(0x1fa0);
        assertThat(rig.memory.read32(0x30008)).isEqualTo(0x1fa0);
        assertThat(rig.memory.read16(0x3000c)).isEqualTo(0x27f);
        assertThat(rig.reg(Cpu.RAX) & 0xffff).isZero();
    }

    @Test
    void userAccessToASupervisorPageAndExecutionOfAnNxPageRaisePf() {
        CpuRig rig = new CpuRig().longMode();
        rig.w64(0x3000 + 8 * 8, (8L << 21) | 0x83);                  // 16 MiB: supervisor only
        rig.w64(0x3000 + 9 * 8, (9L << 21) | 0x87 | (1L << 63));     // 18 MiB: no execute
        rig.run(
                // 10000: 6a 23                    push $0x23
                // 10002: 68 00 f0 07 00           push $0x7f000
                // 10007: 9c                       pushf
                // 10008: 6a 2b                    push $0x2b
                // 1000a: 48 8d 05 03 00 00 00     lea 0x3(%rip),%rax # 0x10014
                // 10011: 50                       push %rax
                // 10012: 48 cf                    iretq
                // 10014: 8b 04 25 10 00 00 01     mov 0x1000010,%eax
                hex("6a 23 68 00 f0 07 00 9c 6a 2b 48 8d 05 03 00 00 00 50 48 cf 8b 04 25 10 00 00 01 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.stack(0)).as("present, read, user").isEqualTo(5);
        assertThat(rig.cpu.getCr(2)).isEqualTo(0x1000010L);

        CpuRig nx = new CpuRig().longMode();
        nx.w64(0x3000 + 9 * 8, (9L << 21) | 0x87 | (1L << 63));
        nx.run(
                // 10000: b8 00 00 20 01           mov $0x1200000,%eax
                // 10005: ff e0                    jmp *%rax
                hex("b8 00 00 20 01 ff e0 "));
        assertThat(nx.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(nx.stack(0)).as("present, instruction fetch").isEqualTo(0x11);
        assertThat(nx.cpu.getCr(2)).isEqualTo(0x1200000L);
    }

    @Test
    void istStackIsUsedWhenTheGateNamesOne() {
        CpuRig rig = new CpuRig().longMode();
        rig.setGate(CpuFault.BP, CpuRig.HANDLERS + 3 * 16, 0xe, 3, 1);
        rig.run(
                // 10000: cc                       int3
                hex("cc "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.BP);
        assertThat(rig.reg(Cpu.RSP)).isEqualTo(CpuRig.IST1 - 40);
        assertThat(rig.stack(0)).as("int3 pushes the next RIP").isEqualTo(CODE + 1);
    }

    @Test
    void protectedModeInterruptThroughA32BitGateFromRing3SwitchesToTheTssStack() {
        CpuRig rig = new CpuRig();
        // GDT: 08 code32 DPL0, 10 data DPL0, 18 code32 DPL3, 20 data DPL3, 28 TSS32
        rig.w64(0x508, 0x00cf9a000000ffffL);
        rig.w64(0x510, 0x00cf92000000ffffL);
        rig.w64(0x518, 0x00cffa000000ffffL);
        rig.w64(0x520, 0x00cff2000000ffffL);
        rig.w64(0x528, 0x67 | (0x5000L << 16) | (0x89L << 40));
        rig.memory.write16(0x600, 0x2f);
        rig.memory.write32(0x602, 0x500);
        rig.memory.write16(0x610, 0x7ff);
        rig.memory.write32(0x612, 0x4000);
        // IDT[0x80]: 32-bit interrupt gate, DPL 3, to 0x08:0x8800 (a hlt)
        rig.w64(0x4000 + 0x80 * 8, 0x8800 | (0x08L << 16) | (0xeeL << 40));
        rig.memory.write8(0x8800, 0xf4);
        rig.memory.write32(0x5004, 0x90000); // ESP0
        rig.memory.write32(0x5008, 0x10);    // SS0
        rig.load(0x20000,
                // 20000: 0f 01 15 00 06 00 00     lgdtl 0x600
                // 20007: 0f 01 1d 10 06 00 00     lidtl 0x610
                // 2000e: 66 b8 28 00              mov $0x28,%ax
                // 20012: 0f 00 d8                 ltr %ax
                // 20015: 6a 23                    push $0x23
                // 20017: 68 00 f0 07 00           push $0x7f000
                // 2001c: 9c                       pushf
                // 2001d: 6a 1b                    push $0x1b
                // 2001f: 68 25 00 02 00           push $0x20025
                // 20024: cf                       iret
                // 20025: 8c cb                    mov %cs,%ebx
                // 20027: cd 80                    int $0x80
                hex("0f 01 15 00 06 00 00 0f 01 1d 10 06 00 00 66 b8 28 00 0f 00 d8 6a 23 68 00 f0 07 00 9c 6a 1b 68 "
                        + "25 00 02 00 cf 8c cb cd 80 "));
        rig.cpu.enterFlatProtectedMode(0x20000);
        rig.cpu.setGpr(Cpu.RSP, 0x80000);
        assertThat(rig.cpu.run(1000)).as(rig.cpu.describe()).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.getRip()).isEqualTo(0x8801);
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0x1b);
        assertThat(rig.reg(Cpu.RSP)).isEqualTo(0x90000 - 20);
        assertThat(rig.memory.read32(0x90000 - 4)).as("old SS").isEqualTo(0x23);
        assertThat(rig.memory.read32(0x90000 - 8)).as("old ESP").isEqualTo(0x7f000);
        assertThat(rig.memory.read32(0x90000 - 16)).as("old CS").isEqualTo(0x1b);
    }

    @Test
    void realModeSoftwareInterruptUsesTheIvtAndIretReturns() {
        CpuRig rig = new CpuRig();
        rig.memory.write32(0x21 * 4, 0x0200_0000); // IVT[0x21] = 0200:0000
        // 2000: mov $0x55,%bl; iret
        rig.load(0x2000, hex("b3 55 cf"));
        rig.load(0x1000,
                // 0: bc 00 30                 mov $0x3000,%sp
                // 3: cd 21                    int $0x21
                // 5: b1 66                    mov $0x66,%cl
                // 7: f4                       hlt
                hex("bc 00 30 cd 21 b1 66 f4 "));
        rig.cpu.init();
        rig.cpu.startup(0x01);
        assertThat(rig.cpu.run(100)).isEqualTo(RunStop.HALTED);
        assertThat(rig.reg(Cpu.RBX) & 0xff).isEqualTo(0x55);
        assertThat(rig.reg(Cpu.RCX) & 0xff).isEqualTo(0x66);
        assertThat(rig.reg(Cpu.RSP) & 0xffff).isEqualTo(0x3000);
    }

    @Test
    void bcdAdjustmentsFollowTheSdmPseudocodeAndAreUdIn64BitMode() {
        // SDM Vol. 2: DAA, DAS, AAA, AAM, AAD (and SALC) in real mode; #UD in 64-bit mode.
        CpuRig rig = new CpuRig();
        rig.load(0x1000, hex("b8 78 56 d5 0a 89 c3 " // mov $0x5678,%ax; aad; mov %ax,%bx
                + "b8 10 32 d4 0a 89 c1 " // mov $0x3210,%ax; aam; mov %ax,%cx
                + "b4 10 9e b0 03 2f 9f 89 c2 " // AF=1: das of 0x03 borrows; lahf; mov %ax,%dx
                + "b4 00 9e b0 9a 27 9f 89 c6 " // daa of 0x9a; lahf; mov %ax,%si
                + "b4 00 9e b8 0b 01 37 89 c7 " // aaa of 0x010b; mov %ax,%di
                + "f9 d6 89 c5 f4")); // stc; salc; mov %ax,%bp; hlt
        rig.cpu.init();
        rig.cpu.startup(0x01);
        assertThat(rig.cpu.run(100)).isEqualTo(RunStop.HALTED);
        assertThat(rig.reg(Cpu.RBX) & 0xffff).isEqualTo(0x00d4);
        assertThat(rig.reg(Cpu.RCX) & 0xffff).isEqualTo(0x0106);
        assertThat(rig.reg(Cpu.RDX) & 0xffff).as("AL=0xfd, SF AF CF").isEqualTo(0x93fd);
        assertThat(rig.reg(Cpu.RSI) & 0xffff).as("AL=0, ZF PF AF CF").isEqualTo(0x5700);
        assertThat(rig.reg(Cpu.RDI) & 0xffff).isEqualTo(0x0201);
        assertThat(rig.reg(Cpu.RBP) & 0xff).isEqualTo(0xff);
        CpuRig longMode = new CpuRig().longMode();
        longMode.run(hex("27"));
        assertThat(longMode.haltedInVector()).isEqualTo(CpuFault.UD);
    }

    @Test
    void sysenterAndSysexitSwitchBetweenRings() {
        CpuRig rig = new CpuRig().longMode();
        // 12000: mov %cs,%r12d; hlt   (the SYSENTER entry point)
        rig.load(0x12000, hex("41 8c cc f4"));
        rig.run(
                // 10000: b9 74 01 00 00           mov $0x174,%ecx
                // 10005: b8 08 00 00 00           mov $0x8,%eax
                // 1000a: 31 d2                    xor %edx,%edx
                // 1000c: 0f 30                    wrmsr
                // 1000e: b9 75 01 00 00           mov $0x175,%ecx
                // 10013: b8 00 00 09 00           mov $0x90000,%eax
                // 10018: 0f 30                    wrmsr
                // 1001a: b9 76 01 00 00           mov $0x176,%ecx
                // 1001f: b8 00 20 01 00           mov $0x12000,%eax
                // 10024: 0f 30                    wrmsr
                // 10026: 48 8d 15 0a 00 00 00     lea 0xa(%rip),%rdx # 0x10037
                // 1002d: 48 c7 c1 00 f0 07 00     mov $0x7f000,%rcx
                // 10034: 48 0f 35                 sysexitq
                // 10037: 8c cb                    mov %cs,%ebx
                // 10039: 48 89 e6                 mov %rsp,%rsi
                // 1003c: 0f 34                    sysenter
                hex("b9 74 01 00 00 b8 08 00 00 00 31 d2 0f 30 b9 75 01 00 00 b8 00 00 09 00 0f 30 b9 76 01 00 00 b8 "
                        + "00 20 01 00 0f 30 48 8d 15 0a 00 00 00 48 c7 c1 00 f0 07 00 48 0f 35 8c cb 48 89 e6 0f 34 "));
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0x2b);
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(0x7f000);
        assertThat(rig.reg(R12)).isEqualTo(0x08);
        assertThat(rig.reg(Cpu.RSP)).isEqualTo(0x90000);
        assertThat(rig.cpu.getRip()).isEqualTo(0x12004);
    }

    @Test
    void cmpxchg16bComparesAndSwapsSixteenBytes() {
        CpuRig rig = new CpuRig().longMode();
        rig.w64(0x30000, 1);
        rig.w64(0x30008, 2);
        rig.run(
                // 10000: b8 01 00 00 00           mov $0x1,%eax
                // 10005: ba 02 00 00 00           mov $0x2,%edx
                // 1000a: bb 03 00 00 00           mov $0x3,%ebx
                // 1000f: b9 04 00 00 00           mov $0x4,%ecx
                // 10014: f0 48 0f c7 0c 25 00     lock cmpxchg16b 0x30000
                //         00 03 00
                // 1001e: 41 0f 94 c0              sete %r8b
                // 10022: f0 48 0f c7 0c 25 00     lock cmpxchg16b 0x30000
                //         00 03 00
                // 1002c: 41 0f 94 c1              sete %r9b
                // 10030: f4                       hlt
                hex("b8 01 00 00 00 ba 02 00 00 00 bb 03 00 00 00 b9 04 00 00 00 f0 48 0f c7 0c 25 00 00 03 00 41 0f "
                        + "94 c0 f0 48 0f c7 0c 25 00 00 03 00 41 0f 94 c1 f4 "));
        assertThat(rig.r64(0x30000)).isEqualTo(3);
        assertThat(rig.r64(0x30008)).isEqualTo(4);
        assertThat(rig.reg(R8)).isEqualTo(1);
        assertThat(rig.reg(R9)).isZero();
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(3);
        assertThat(rig.reg(Cpu.RDX)).isEqualTo(4);
    }

    @Test
    void anInstructionLongerThanFifteenBytesRaisesGp() {
        CpuRig rig = new CpuRig().longMode();
        // fifteen 66 prefixes and a nop: sixteen bytes
        rig.run(hex("66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 90"));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(1)).isEqualTo(CODE);
    }

    @Test
    void vmcallIsAKvmHypercallAndVmmcallIsUdOnAnIntelVendor() {
        // KVM kvm_emulate_hypercall: number in RAX, args in RBX/RCX/RDX/RSI, result in RAX.
        CpuRig rig = new CpuRig().longMode();
        rig.run(hex("48 c7 c0 e7 03 00 00 0f 01 c1 f4")); // mov $999,%rax; vmcall; hlt
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(CpuBus.KVM_ENOSYS);
        CpuRig amd = new CpuRig().longMode();
        amd.run(hex("0f 01 d9 f4")); // vmmcall
        assertThat(amd.haltedInVector()).isEqualTo(CpuFault.UD);
    }

    @Test
    void faultsPushEflagsWithRfSetButTrapsDoNot() {
        // SDM 6.8.3 and 17.3.1.1: RF is set in the EFLAGS image of faults only.
        CpuRig fault = new CpuRig().longMode();
        fault.run(hex("0f 0b")); // ud2
        assertThat(fault.haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(fault.stack(2) & (1L << 16)).isNotZero();
        assertThat(fault.cpu.getRflags() & (1L << 16)).as("delivery clears RF").isZero();
        CpuRig trap = new CpuRig().longMode();
        trap.run(hex("cc")); // int3
        assertThat(trap.haltedInVector()).isEqualTo(CpuFault.BP);
        assertThat(trap.stack(2) & (1L << 16)).isZero();
    }

    @Test
    void anNmiIsTakenWithInterruptsOffAndBlocksTheNextUntilIret() {
        // SDM 6.7.1: NMI ignores IF; a second NMI waits for the IRET ending the first handler.
        CpuRig rig = new CpuRig().longMode();
        // The NMI handler: incl 0x30000; iretq
        rig.load(CpuRig.HANDLERS + 16 * CpuFault.NMI, hex("ff 04 25 00 00 03 00 48 cf"));
        rig.load(CODE, hex("fa 90 f4")); // cli; nop; hlt
        rig.cpu.setRip(CODE);
        rig.cpu.raiseNmi();
        rig.cpu.run(1); // delivery, then the incl
        assertThat(rig.r64(0x30000)).isEqualTo(1);
        rig.cpu.raiseNmi();
        rig.cpu.run(1); // blocked: the iretq runs first, then the latched NMI is delivered
        assertThat(rig.cpu.getRip()).isEqualTo(CpuRig.HANDLERS + 16 * CpuFault.NMI);
        assertThat(rig.stack(0)).as("not nested: it returns to CODE, where the IRET went").isEqualTo(CODE);
        assertThat(rig.r64(0x30000)).isEqualTo(1);
        assertThat(rig.cpu.run(100)).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.nmiPending()).isFalse();
        assertThat(rig.r64(0x30000)).isEqualTo(2);
        assertThat(rig.cpu.getRip()).isEqualTo(CODE + 3);
    }

    @Test
    void twoNmisWaitingWhileUnblockedAreBothTakenButOnlyOneWhileBlocked() {
        // KVM process_nmi: up to two pending NMIs when unblocked, one while blocked; and an
        // STI shadow holds the NMI back for one instruction (kvm-unit-tests apic nmi-after-sti).
        CpuRig rig = new CpuRig().longMode();
        rig.load(CpuRig.HANDLERS + 16 * CpuFault.NMI, hex("ff 04 25 00 00 03 00 48 cf")); // incl; iretq
        rig.load(CODE, hex("fa fb 90 f4")); // cli; sti; nop; hlt
        rig.cpu.setRip(CODE);
        rig.cpu.run(2); // cli; sti
        rig.cpu.raiseNmi();
        rig.cpu.raiseNmi();
        rig.cpu.run(1); // in the shadow: the nop runs first, then the NMI is delivered
        assertThat(rig.cpu.getRip()).isEqualTo(CpuRig.HANDLERS + 16 * CpuFault.NMI);
        assertThat(rig.stack(0)).isEqualTo(CODE + 3);
        assertThat(rig.cpu.run(100)).isEqualTo(RunStop.HALTED);
        assertThat(rig.r64(0x30000)).isEqualTo(2);
        // Three more while the first is in service: two are delivered in all.
        rig.load(CODE, hex("90 90 f4"));
        rig.cpu.setRip(CODE);
        rig.cpu.raiseNmi();
        rig.cpu.run(1); // delivery, then the incl; blocked now
        rig.cpu.raiseNmi();
        rig.cpu.raiseNmi();
        rig.cpu.raiseNmi();
        assertThat(rig.cpu.run(100)).isEqualTo(RunStop.HALTED);
        assertThat(rig.r64(0x30000)).isEqualTo(4);
    }

    @Test
    void lockOnARegisterDestinationRaisesUd() {
        CpuRig rig = new CpuRig().longMode();
        rig.run(hex("f0 01 c0")); // lock add %eax,%eax
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(rig.cpu.unimplementedOpcodes()).isEmpty();
    }
    @Test
    void aFarCallThroughA64BitCallGateEntersRing0AndLretqReturnsToRing3() {
        CpuRig rig = new CpuRig().longMode();
        rig.w64(CpuRig.GDT + 0x48, 0x2000 | (0x08L << 16) | (0xecL << 40) | (0x1L << 48)); // gate -> 0x08:0x12000
        rig.w64(CpuRig.GDT + 0x50, 0);
        rig.memory.write16(0x700, 0x57);
        rig.w64(0x702, CpuRig.GDT);
        // 12000: mov %cs,%r12d; mov %rsp,%r13; lretq
        rig.load(0x12000, hex("41 8c cc 49 89 e5 48 cb"));
        rig.run(
                // 10000: 0f 01 14 25 00 07 00     lgdt 0x700
                //         00
                // 10008: 6a 23                    push $0x23
                // 1000a: 68 00 f0 07 00           push $0x7f000
                // 1000f: 9c                       pushf
                // 10010: 6a 2b                    push $0x2b
                // 10012: 48 8d 05 03 00 00 00     lea 0x3(%rip),%rax # 0x1001c
                // 10019: 50                       push %rax
                // 1001a: 48 cf                    iretq
                // 1001c: ff 1d 06 00 00 00        lcall *0x6(%rip) # 0x10028
                // 10022: 8c cb                    mov %cs,%ebx
                // 10024: 48 89 e6                 mov %rsp,%rsi
                // 10027: f4                       hlt
                // 10028: 00 00                    add %al,(%rax)
                // 1002a: 00 00                    add %al,(%rax)
                // 1002c: 4b                       rex.WXB
                hex("0f 01 14 25 00 07 00 00 6a 23 68 00 f0 07 00 9c 6a 2b 48 8d 05 03 00 00 00 50 48 cf ff 1d 06 00 "
                        + "00 00 8c cb 48 89 e6 f4 00 00 00 00 4b 00 "));
        assertThat(rig.reg(R12)).isEqualTo(0x08);
        assertThat(rig.reg(R13)).isEqualTo(CpuRig.RSP0 - 32);
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0x2b);
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(0x7f000);
        assertThat(rig.haltedInVector()).as("user-mode hlt").isEqualTo(CpuFault.GP);
    }
    @Test
    void aStoreByAnotherVcpuInvalidatesDecodedCode() {
        CpuRig a = new CpuRig().longMode();
        a.run(hex("b8 01 00 00 00 f4")); // mov $1,%eax; hlt
        assertThat(a.reg(Cpu.RAX)).isEqualTo(1);
        CpuRig b = new CpuRig(a.memory);
        // 11000: movb $2,0x10001; hlt   -- patches the immediate of A's mov
        b.load(0x11000, hex("c6 04 25 01 00 01 00 02 f4"));
        b.cpu.enterFlatLongMode(0x11000, 0x1000, 0);
        assertThat(b.cpu.run(100)).isEqualTo(RunStop.HALTED);
        a.cpu.setRip(CODE);
        assertThat(a.cpu.run(100)).isEqualTo(RunStop.HALTED);
        assertThat(a.reg(Cpu.RAX)).isEqualTo(2);
    }

    @Test
    void theTssIoBitmapGrantsRing3AccessToClearedPortsOnly() {
        CpuRig rig = new CpuRig().longMode();
        // TSS limit 0x67 + 0x2000 bitmap bytes + the 0xff terminator; ports 0x3f8-0x3ff allowed
        rig.w64(CpuRig.GDT + 0x30, 0x2068 | ((CpuRig.TSS & 0xffffff) << 16) | (0x89L << 40));
        rig.memory.write16(CpuRig.TSS + 0x66, 0x68);
        rig.memory.fill(CpuRig.TSS + 0x68, 0x2001, (byte) 0xff);
        rig.memory.write8(CpuRig.TSS + 0x68 + 0x3f8 / 8, 0);
        rig.run(
                // 10000: b8 30 00 00 00           mov $0x30,%eax
                // 10005: 0f 00 d8                 ltr %ax
                // 10008: 6a 23                    push $0x23
                // 1000a: 68 00 f0 07 00           push $0x7f000
                // 1000f: 9c                       pushf
                // 10010: 6a 2b                    push $0x2b
                // 10012: 48 8d 05 03 00 00 00     lea 0x3(%rip),%rax # 0x1001c
                // 10019: 50                       push %rax
                // 1001a: 48 cf                    iretq
                // 1001c: 66 ba f8 03              mov $0x3f8,%dx
                // 10020: b0 41                    mov $0x41,%al
                // 10022: ee                       out %al,(%dx)
                // 10023: e6 80                    out %al,$0x80
                hex("b8 30 00 00 00 0f 00 d8 6a 23 68 00 f0 07 00 9c 6a 2b 48 8d 05 03 00 00 00 50 48 cf 66 ba f8 03 "
                        + "b0 41 ee e6 80 "));
        assertThat(rig.bus.log).containsExactly("out 3f8/1=41");
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
    }
    @Test
    void trapFlagRaisesDebugTrapAfterTheNextInstruction() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 9c                       pushf
                // 10001: 48 81 0c 24 00 01 00     orq $0x100,(%rsp)
                //         00
                // 10009: 9d                       popf
                // 1000a: b8 01 00 00 00           mov $0x1,%eax
                // 1000f: bb 02 00 00 00           mov $0x2,%ebx
                // 10014: f4                       hlt
                hex("9c 48 81 0c 24 00 01 00 00 9d b8 01 00 00 00 bb 02 00 00 00 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.DB);
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(1);
        assertThat(rig.reg(Cpu.RBX)).isZero();
        assertThat(rig.stack(0)).as("trap: RIP of the next instruction").isEqualTo(CODE + 15);
        assertThat(rig.stack(2) & 0x100).as("saved TF").isEqualTo(0x100);
    }
    @Test
    void fsgsbaseInstructionsReadAndWriteTheBasesWhenCr4AllowsThem() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 0f 20 e0                 mov %cr4,%rax
                // 10003: 48 0f ba e8 10           bts $0x10,%rax
                // 10008: 0f 22 e0                 mov %rax,%cr4
                // 1000b: 48 c7 c3 00 00 03 00     mov $0x30000,%rbx
                // 10012: f3 48 0f ae db           wrgsbase %rbx
                // 10017: f3 48 0f ae c9           rdgsbase %rcx
                // 1001c: 65 48 c7 04 25 08 00     movq $0x66,%gs:0x8
                //         00 00 66 00 00 00
                // 10029: 48 8b 14 25 08 00 03     mov 0x30008,%rdx
                //         00
                // 10031: f4                       hlt
                hex("0f 20 e0 48 0f ba e8 10 0f 22 e0 48 c7 c3 00 00 03 00 f3 48 0f ae db f3 48 0f ae c9 65 48 c7 04 "
                        + "25 08 00 00 00 66 00 00 00 48 8b 14 25 08 00 03 00 f4 "));
        assertThat(rig.reg(Cpu.RCX)).isEqualTo(0x30000);
        assertThat(rig.reg(Cpu.RDX)).isEqualTo(0x66);
    }
    @Test
    void aSavedStateRestoredIntoAnotherCpuResumesTheSameProgram() {
        CpuRig a = new CpuRig().longMode();
        a.load(CODE,
                // 10000: b9 81 00 00 c0           mov $0xc0000081,%ecx
                // 10005: b8 34 12 00 00           mov $0x1234,%eax
                // 1000a: ba 08 00 18 00           mov $0x180008,%edx
                // 1000f: 0f 30                    wrmsr
                // 10011: b8 05 00 00 00           mov $0x5,%eax
                // 10016: f9                       stc
                // 10017: e6 f4                    out %al,$0xf4
                // 10019: 83 d0 03                 adc $0x3,%eax
                // 1001c: f4                       hlt
                hex("b9 81 00 00 c0 b8 34 12 00 00 ba 08 00 18 00 0f 30 b8 05 00 00 00 f9 e6 f4 83 d0 03 f4 "));
        a.cpu.setRip(CODE);
        assertThat(a.cpu.run(1000)).isEqualTo(RunStop.STOP_REQUESTED);
        Cpu.State saved = a.cpu.saveState();
        CpuRig b = new CpuRig(a.memory);
        b.cpu.restoreState(saved);
        assertThat(b.cpu.saveState()).usingRecursiveComparison().isEqualTo(saved);
        assertThat(b.cpu.run(1000)).isEqualTo(RunStop.HALTED);
        assertThat(b.reg(Cpu.RAX)).as("5 + 3 + CF").isEqualTo(9);
        assertThat(b.cpu.readMsr(Msr.IA32_STAR)).isEqualTo(0x0018000800001234L);
        assertThat(b.cpu.instructionsRetired()).isEqualTo(a.cpu.instructionsRetired() + 2);
    }
}

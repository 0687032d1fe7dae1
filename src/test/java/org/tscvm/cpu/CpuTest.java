package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.tscvm.cpu.CpuRig.CODE;
import static org.tscvm.cpu.CpuRig.RSP0;
import static org.tscvm.cpu.CpuRig.STACK_TOP;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * Hand-assembled snippets (GNU as syntax in the comments, bytes from binutils at development
 * time) run on a {@link CpuRig} 64-bit machine; each checks registers, flags, memory and the
 * exception frames an IDT handler sees.
 */
class CpuTest {
    static final long CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
    static final int R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13;

    @Test
    void addSubAdcAndIncSetTheSixArithmeticFlagsAsTheSdmSays() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: b8 ff ff ff 7f           mov $0x7fffffff,%eax
                // 10005: 83 c0 01                 add $0x1,%eax
                // 10008: 9c                       pushf
                // 10009: 5b                       pop %rbx
                // 1000a: b9 00 00 00 00           mov $0x0,%ecx
                // 1000f: 83 e9 01                 sub $0x1,%ecx
                // 10012: 9c                       pushf
                // 10013: 5a                       pop %rdx
                // 10014: be 05 00 00 00           mov $0x5,%esi
                // 10019: f9                       stc
                // 1001a: 83 d6 fb                 adc $0xfffffffb,%esi
                // 1001d: 9c                       pushf
                // 1001e: 5f                       pop %rdi
                // 1001f: f9                       stc
                // 10020: 41 b8 01 00 00 00        mov $0x1,%r8d
                // 10026: 41 ff c0                 inc %r8d
                // 10029: 9c                       pushf
                // 1002a: 41 59                    pop %r9
                // 1002c: 41 b2 80                 mov $0x80,%r10b
                // 1002f: 41 f6 da                 neg %r10b
                // 10032: 9c                       pushf
                // 10033: 41 5b                    pop %r11
                // 10035: f4                       hlt
                hex("b8 ff ff ff 7f 83 c0 01 9c 5b b9 00 00 00 00 83 e9 01 9c 5a be 05 00 00 00 f9 83 d6 fb 9c 5f f9 "
                        + "41 b8 01 00 00 00 41 ff c0 9c 41 59 41 b2 80 41 f6 da 9c 41 5b f4 "));
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(0x80000000L);
        assertThat(rig.reg(Cpu.RBX) & 0x8d5).isEqualTo(OF | SF | AF | PF);
        assertThat(rig.reg(Cpu.RCX)).isEqualTo(0xffffffffL);
        assertThat(rig.reg(Cpu.RDX) & 0x8d5).isEqualTo(CF | SF | AF | PF);
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(1);
        assertThat(rig.reg(Cpu.RDI) & 0x8d5).isEqualTo(CF | AF);
        assertThat(rig.reg(R8)).isEqualTo(2);
        assertThat(rig.reg(R9) & 0x8d5).isEqualTo(CF);
        assertThat(rig.reg(R10) & 0xff).isEqualTo(0x80);
        assertThat(rig.reg(R11) & 0x8d5).isEqualTo(CF | OF | SF);
    }

    @Test
    void shiftsAndRotatesFollowTheCountAndCarryRules() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: b0 81                    mov $0x81,%al
                // 10002: d0 e0                    shl %al
                // 10004: 9c                       pushf
                // 10005: 5b                       pop %rbx
                // 10006: b9 01 00 00 80           mov $0x80000001,%ecx
                // 1000b: d1 f9                    sar %ecx
                // 1000d: 9c                       pushf
                // 1000e: 5a                       pop %rdx
                // 1000f: be 78 56 34 12           mov $0x12345678,%esi
                // 10014: c1 c6 08                 rol $0x8,%esi
                // 10017: bf 01 00 00 00           mov $0x1,%edi
                // 1001c: d1 df                    rcr %edi
                // 1001e: 49 b8 00 00 00 00 00     movabs $0x800000000000000,%r8
                //         00 00 08
                // 10028: 49 c7 c1 ff 00 00 00     mov $0xff,%r9
                // 1002f: 4d 0f a4 c8 04           shld $0x4,%r9,%r8
                // 10034: 49 c7 c2 34 12 00 00     mov $0x1234,%r10
                // 1003b: 4d 0f ac ca 08           shrd $0x8,%r9,%r10
                // 10040: b1 21                    mov $0x21,%cl
                // 10042: 41 bb 01 00 00 00        mov $0x1,%r11d
                // 10048: 41 d3 e3                 shl %cl,%r11d
                // 1004b: f4                       hlt
                hex("b0 81 d0 e0 9c 5b b9 01 00 00 80 d1 f9 9c 5a be 78 56 34 12 c1 c6 08 bf 01 00 00 00 d1 df 49 b8 "
                        + "00 00 00 00 00 00 00 08 49 c7 c1 ff 00 00 00 4d 0f a4 c8 04 49 c7 c2 34 12 00 00 4d 0f ac ca 08 "
                        + "b1 21 41 bb 01 00 00 00 41 d3 e3 f4 "));
        assertThat(rig.reg(Cpu.RAX) & 0xff).isEqualTo(2);
        assertThat(rig.reg(Cpu.RBX) & 0x8d5).isEqualTo(CF | OF);
        assertThat(rig.reg(Cpu.RCX) & 0xffffffffL).isEqualTo(0xc0000021L);
        assertThat(rig.reg(Cpu.RDX) & 0x8d5).isEqualTo(CF | SF | PF);
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(0x34567812L);
        assertThat(rig.reg(Cpu.RDI)).isEqualTo(0);
        assertThat(rig.reg(R8)).isEqualTo(0x8000000000000000L);
        assertThat(rig.reg(R10)).isEqualTo(0xff00000000000012L);
        assertThat(rig.reg(R11)).as("the count is masked to 5 bits").isEqualTo(2);
    }

    @Test
    void multiplyAndDivideCoverAllWidthsIncluding128Bit() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 48 c7 c0 ff ff ff ff     mov $0xffffffffffffffff,%rax
                // 10007: 48 c7 c1 02 00 00 00     mov $0x2,%rcx
                // 1000e: 48 f7 e1                 mul %rcx
                // 10011: 49 89 c0                 mov %rax,%r8
                // 10014: 49 89 d1                 mov %rdx,%r9
                // 10017: 48 c7 c0 f9 ff ff ff     mov $0xfffffffffffffff9,%rax
                // 1001e: 48 99                    cqto
                // 10020: 48 c7 c1 02 00 00 00     mov $0x2,%rcx
                // 10027: 48 f7 f9                 idiv %rcx
                // 1002a: 49 89 c2                 mov %rax,%r10
                // 1002d: 49 89 d3                 mov %rdx,%r11
                // 10030: b8 64 00 00 00           mov $0x64,%eax
                // 10035: bb fd ff ff ff           mov $0xfffffffd,%ebx
                // 1003a: 0f af c3                 imul %ebx,%eax
                // 1003d: 49 89 c4                 mov %rax,%r12
                // 10040: 48 c7 c2 01 00 00 00     mov $0x1,%rdx
                // 10047: 48 c7 c0 00 00 00 00     mov $0x0,%rax
                // 1004e: 48 c7 c1 03 00 00 00     mov $0x3,%rcx
                // 10055: 48 f7 f1                 div %rcx
                // 10058: 66 bb 34 12              mov $0x1234,%bx
                // 1005c: 66 6b f3 03              imul $0x3,%bx,%si
                // 10060: f4                       hlt
                hex("48 c7 c0 ff ff ff ff 48 c7 c1 02 00 00 00 48 f7 e1 49 89 c0 49 89 d1 48 c7 c0 f9 ff ff ff 48 99 "
                        + "48 c7 c1 02 00 00 00 48 f7 f9 49 89 c2 49 89 d3 b8 64 00 00 00 bb fd ff ff ff 0f af c3 49 89 c4 "
                        + "48 c7 c2 01 00 00 00 48 c7 c0 00 00 00 00 48 c7 c1 03 00 00 00 48 f7 f1 66 bb 34 12 66 6b f3 03 "
                        + "f4 "));
        assertThat(rig.reg(R8)).isEqualTo(-2L);
        assertThat(rig.reg(R9)).isEqualTo(1);
        assertThat(rig.reg(R10)).isEqualTo(-3);
        assertThat(rig.reg(R11)).isEqualTo(-1);
        assertThat(rig.reg(R12)).isEqualTo(0xfffffed4L);
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(0x5555555555555555L);
        assertThat(rig.reg(Cpu.RDX)).isEqualTo(1);
        assertThat(rig.reg(Cpu.RSI) & 0xffff).isEqualTo(0x369c);
    }

    @Test
    void divideByZeroDeliversDivideErrorWithTheFaultingRipOnA64BitFrame() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 31 c9                    xor %ecx,%ecx
                // 10002: b8 05 00 00 00           mov $0x5,%eax
                // 10007: f7 f1                    div %ecx
                // 10009: f4                       hlt
                hex("31 c9 b8 05 00 00 00 f7 f1 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.DE);
        assertThat(rig.reg(Cpu.RSP)).isEqualTo(STACK_TOP - 40);
        assertThat(rig.stack(0)).as("RIP of the div").isEqualTo(CODE + 7);
        assertThat(rig.stack(1)).isEqualTo(0x08);
        assertThat(rig.stack(3)).isEqualTo(STACK_TOP);
        assertThat(rig.stack(4)).isEqualTo(0x10);
        assertThat(rig.cpu.getRflags() & 0x200).as("interrupt gate clears IF").isZero();
    }

    @Test
    void ud2IsHandledAndIretqReturnsPastIt() {
        CpuRig rig = new CpuRig().longMode();
        // 9000: addq $2,(%rsp); iretq
        rig.load(0x9000, hex("48 83 04 24 02 48 cf"));
        rig.setGate(CpuFault.UD, 0x9000, 0xe, 0, 0);
        rig.run(
                // 10000: b8 01 00 00 00           mov $0x1,%eax
                // 10005: 0f 0b                    ud2
                // 10007: bb 02 00 00 00           mov $0x2,%ebx
                // 1000c: f4                       hlt
                hex("b8 01 00 00 00 0f 0b bb 02 00 00 00 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(2);
        assertThat(rig.reg(Cpu.RSP)).isEqualTo(STACK_TOP);
        assertThat(rig.cpu.unimplementedOpcodes()).as("ud2 is deliberate").isEmpty();
    }

    @Test
    void anUnimplementedOpcodeRaisesUdAndIsCounted() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 66 0f 38 dc c1           aesenc %xmm1,%xmm0   (AES-NI: not implemented)
                hex("66 0f 38 dc c1 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(rig.stack(0)).isEqualTo(CODE);
        assertThat(rig.cpu.unimplementedOpcodes()).containsEntry("0f 38 dc", 1L);
    }

    @Test
    void aNonCanonicalAccessRaisesGpWithErrorCodeZero() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 48 b8 00 00 00 00 00     movabs $0x8000000000000000,%rax
                //         00 00 80
                // 1000a: 48 8b 18                 mov (%rax),%rbx
                // 1000d: f4                       hlt
                hex("48 b8 00 00 00 00 00 00 00 80 48 8b 18 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(0)).as("error code").isZero();
        assertThat(rig.stack(1)).isEqualTo(CODE + 10);
    }

    @Test
    void aWriteToAnUnmappedPageRaisesPfWithCr2AndTheWriteBit() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 48 c7 c0 10 00 00 40     mov $0x40000010,%rax
                // 10007: c7 00 01 00 00 00        movl $0x1,(%rax)
                // 1000d: f4                       hlt
                hex("48 c7 c0 10 00 00 40 c7 00 01 00 00 00 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.PF);
        assertThat(rig.cpu.getCr(2)).isEqualTo(0x40000010L);
        assertThat(rig.stack(0)).as("not present, write, supervisor").isEqualTo(2);
        assertThat(rig.stack(1)).isEqualTo(CODE + 7);
    }

    @Test
    void aRing3ExcursionSwitchesToRsp0OnIntAndUserHltRaisesGp() {
        CpuRig rig = new CpuRig().longMode();
        rig.setGate(0x80, CpuRig.HANDLERS + 0x80 * 16, 0xe, 3, 0);
        rig.run(
                // 10000: 6a 23                    push $0x23
                // 10002: 68 00 f0 07 00           push $0x7f000
                // 10007: 9c                       pushf
                // 10008: 6a 2b                    push $0x2b
                // 1000a: 48 8d 05 03 00 00 00     lea 0x3(%rip),%rax # 0x10014
                // 10011: 50                       push %rax
                // 10012: 48 cf                    iretq
                // 10014: 8c cb                    mov %cs,%ebx
                // 10016: cd 80                    int $0x80
                hex("6a 23 68 00 f0 07 00 9c 6a 2b 48 8d 05 03 00 00 00 50 48 cf 8c cb cd 80 "));
        assertThat(rig.haltedInVector()).isEqualTo(0x80);
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0x2b);
        assertThat(rig.reg(Cpu.RSP)).isEqualTo(RSP0 - 40);
        assertThat(rig.stack(1)).isEqualTo(0x2b);
        assertThat(rig.stack(3)).isEqualTo(0x7f000);
        assertThat(rig.stack(4)).isEqualTo(0x23);

        CpuRig gp = new CpuRig().longMode().run(
                // 10000: 6a 23                    push $0x23
                // 10002: 68 00 f0 07 00           push $0x7f000
                // 10007: 9c                       pushf
                // 10008: 6a 2b                    push $0x2b
                // 1000a: 48 8d 05 03 00 00 00     lea 0x3(%rip),%rax # 0x10014
                // 10011: 50                       push %rax
                // 10012: 48 cf                    iretq
                // 10014: f4                       hlt
                hex("6a 23 68 00 f0 07 00 9c 6a 2b 48 8d 05 03 00 00 00 50 48 cf f4 "));
        assertThat(gp.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(gp.stack(2)).isEqualTo(0x2b);
        assertThat(gp.reg(Cpu.RSP)).isEqualTo(RSP0 - 48);
    }

    @Test
    void syscallAndSysretRoundTripBetweenRing3AndRing0() {
        CpuRig rig = new CpuRig().longMode();
        // 12000: mov %rcx,%r12; mov %cs,%r13d; sysretq
        rig.load(0x12000, hex("49 89 cc 41 8c cd 48 0f 07"));
        rig.run(
                // 10000: b9 80 00 00 c0           mov $0xc0000080,%ecx
                // 10005: 0f 32                    rdmsr
                // 10007: 83 c8 01                 or $0x1,%eax
                // 1000a: 0f 30                    wrmsr
                // 1000c: b9 81 00 00 c0           mov $0xc0000081,%ecx
                // 10011: 31 c0                    xor %eax,%eax
                // 10013: ba 08 00 18 00           mov $0x180008,%edx
                // 10018: 0f 30                    wrmsr
                // 1001a: b9 82 00 00 c0           mov $0xc0000082,%ecx
                // 1001f: b8 00 20 01 00           mov $0x12000,%eax
                // 10024: 31 d2                    xor %edx,%edx
                // 10026: 0f 30                    wrmsr
                // 10028: 6a 23                    push $0x23
                // 1002a: 68 00 f0 07 00           push $0x7f000
                // 1002f: 9c                       pushf
                // 10030: 6a 2b                    push $0x2b
                // 10032: 48 8d 05 03 00 00 00     lea 0x3(%rip),%rax # 0x1003c
                // 10039: 50                       push %rax
                // 1003a: 48 cf                    iretq
                // 1003c: 0f 05                    syscall
                // 1003e: bb 06 00 00 00           mov $0x6,%ebx
                // 10043: f4                       hlt
                hex("b9 80 00 00 c0 0f 32 83 c8 01 0f 30 b9 81 00 00 c0 31 c0 ba 08 00 18 00 0f 30 b9 82 00 00 c0 b8 "
                        + "00 20 01 00 31 d2 0f 30 6a 23 68 00 f0 07 00 9c 6a 2b 48 8d 05 03 00 00 00 50 48 cf 0f 05 bb 06 "
                        + "00 00 00 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.reg(R13)).isEqualTo(0x08);
        assertThat(rig.reg(R12)).as("RCX = RIP after syscall").isEqualTo(rig.stack(1) - 5);
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(6);
        assertThat(rig.stack(2)).isEqualTo(0x2b);
    }

    @Test
    void pagingMaps4KAnd2MAnd1GPagesSetsAccessedDirtyAndHonoursInvlpg() {
        CpuRig rig = new CpuRig().longMode();
        rig.w64(0x1008, 0x21000 | 7);            // PML4[1] -> PDPT2
        rig.w64(0x21000, 0x87);                   // PDPT2[0]: 1 GiB page at 0
        rig.w64(0x21008, 0x22000 | 7);            // PDPT2[1] -> PD2
        rig.w64(0x22000, 0x200000 | 0x87);        // PD2[0]: 2 MiB page at 0x200000
        rig.w64(0x22008, 0x23000 | 7);            // PD2[1] -> PT
        rig.w64(0x23000, 0x300000 | 7);           // PT[0]: 4 KiB page at 0x300000
        rig.w64(0x100000, 0x3333);
        rig.w64(0x300000, 0x1111);
        rig.w64(0x301000, 0x2222);
        rig.run(
                // 10000: 48 b8 00 00 00 00 80     movabs $0x8000000000,%rax
                //         00 00 00
                // 1000a: 48 8b 98 00 00 10 00     mov 0x100000(%rax),%rbx
                // 10011: 48 b9 00 00 00 40 80     movabs $0x8040000000,%rcx
                //         00 00 00
                // 1001b: 48 c7 41 10 55 00 00     movq $0x55,0x10(%rcx)
                //         00
                // 10023: 48 ba 00 00 20 40 80     movabs $0x8040200000,%rdx
                //         00 00 00
                // 1002d: 4c 8b 02                 mov (%rdx),%r8
                // 10030: 48 c7 04 25 00 30 02     movq $0x301007,0x23000
                //         00 07 10 30 00
                // 1003c: 4c 8b 0a                 mov (%rdx),%r9
                // 1003f: 0f 01 3a                 invlpg (%rdx)
                // 10042: 4c 8b 12                 mov (%rdx),%r10
                // 10045: f4                       hlt
                hex("48 b8 00 00 00 00 80 00 00 00 48 8b 98 00 00 10 00 48 b9 00 00 00 40 80 00 00 00 48 c7 41 10 55 "
                        + "00 00 00 48 ba 00 00 20 40 80 00 00 00 4c 8b 02 48 c7 04 25 00 30 02 00 07 10 30 00 4c 8b 0a 0f "
                        + "01 3a 4c 8b 12 f4 "));
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0x3333);
        assertThat(rig.r64(0x200010)).isEqualTo(0x55);
        assertThat(rig.reg(R8)).isEqualTo(0x1111);
        assertThat(rig.reg(R9)).as("stale TLB entry until INVLPG").isEqualTo(0x1111);
        assertThat(rig.reg(R10)).isEqualTo(0x2222);
        assertThat(rig.r64(0x21000) & 0x60).as("1G page: accessed, clean").isEqualTo(0x20);
        assertThat(rig.r64(0x22000) & 0x60).as("2M page: accessed, dirty").isEqualTo(0x60);
        assertThat(rig.r64(0x23000) & 0x60).as("4K page: accessed, clean").isEqualTo(0x20);
        assertThat(rig.r64(0x1008) & 0x20).isEqualTo(0x20);
    }

    @Test
    void realModeCodeEntersProtectedThenLongMode() {
        CpuRig rig = new CpuRig().longMode();
        rig.load(0x7000,
                // 7000: fa                       cli
                // 7001: 31 c0                    xor %ax,%ax
                // 7003: 8e d8                    mov %ax,%ds
                // 7005: 66 0f 01 16 00 06        lgdtl 0x600
                // 700b: 0f 20 c0                 mov %cr0,%eax
                // 700e: 66 83 c8 01              or $0x1,%eax
                // 7012: 0f 22 c0                 mov %eax,%cr0
                // 7015: 66 ea 00 71 00 00 40     ljmpl $0x40,$0x7100
                //         00
                hex("fa 31 c0 8e d8 66 0f 01 16 00 06 0f 20 c0 66 83 c8 01 0f 22 c0 66 ea 00 71 00 00 40 00 "));
        rig.load(0x7100,
                // 7100: 66 b8 10 00              mov $0x10,%ax
                // 7104: 8e d8                    mov %eax,%ds
                // 7106: 8e d0                    mov %eax,%ss
                // 7108: bc 00 00 08 00           mov $0x80000,%esp
                // 710d: 0f 20 e0                 mov %cr4,%eax
                // 7110: 83 c8 20                 or $0x20,%eax
                // 7113: 0f 22 e0                 mov %eax,%cr4
                // 7116: b8 00 10 00 00           mov $0x1000,%eax
                // 711b: 0f 22 d8                 mov %eax,%cr3
                // 711e: b9 80 00 00 c0           mov $0xc0000080,%ecx
                // 7123: 0f 32                    rdmsr
                // 7125: 0d 00 01 00 00           or $0x100,%eax
                // 712a: 0f 30                    wrmsr
                // 712c: 0f 20 c0                 mov %cr0,%eax
                // 712f: 0d 00 00 00 80           or $0x80000000,%eax
                // 7134: 0f 22 c0                 mov %eax,%cr0
                // 7137: ea 00 72 00 00 08 00     ljmp $0x8,$0x7200
                hex("66 b8 10 00 8e d8 8e d0 bc 00 00 08 00 0f 20 e0 83 c8 20 0f 22 e0 b8 00 10 00 00 0f 22 d8 b9 80 "
                        + "00 00 c0 0f 32 0d 00 01 00 00 0f 30 0f 20 c0 0d 00 00 00 80 0f 22 c0 ea 00 72 00 00 08 00 "));
        rig.load(0x7200,
                // 7200: 48 b8 88 77 66 55 44     movabs $0x1122334455667788,%rax
                //         33 22 11
                // 720a: f4                       hlt
                hex("48 b8 88 77 66 55 44 33 22 11 f4 "));
        rig.cpu.init();
        assertThat(rig.cpu.run(10)).isEqualTo(RunStop.WAIT_FOR_SIPI);
        rig.cpu.startup(0x07);
        assertThat(rig.cpu.run(1000)).as(rig.cpu.describe()).isEqualTo(RunStop.HALTED);
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(0x1122334455667788L);
        assertThat(rig.cpu.getCr(0) & 0x80000001L).isEqualTo(0x80000001L);
        assertThat(rig.cpu.readMsr(Msr.IA32_EFER) & 0x500).isEqualTo(0x500);
    }

    @Test
    void selfModifyingCodeSeesItsOwnStores() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: c6 05 01 00 00 00 42     movb $0x42,0x1(%rip) # 0x10008
                // 10007: b3 00                    mov $0x0,%bl
                // 10009: 31 d2                    xor %edx,%edx
                // 1000b: b9 02 00 00 00           mov $0x2,%ecx
                // 10010: 83 c2 01                 add $0x1,%edx
                // 10013: c6 05 f8 ff ff ff 05     movb $0x5,-0x8(%rip) # 0x10012
                // 1001a: ff c9                    dec %ecx
                // 1001c: 75 f2                    jne 0x10010
                // 1001e: f4                       hlt
                hex("c6 05 01 00 00 00 42 b3 00 31 d2 b9 02 00 00 00 83 c2 01 c6 05 f8 ff ff ff 05 ff c9 75 f2 f4 "));
        assertThat(rig.reg(Cpu.RBX) & 0xff).isEqualTo(0x42);
        assertThat(rig.reg(Cpu.RDX)).isEqualTo(6);
    }

    @Test
    void stringInstructionsWithRepPrefixesMoveStoreScanAndLoad() {
        CpuRig rig = new CpuRig().longMode();
        for (int i = 0; i < 100; i++) {
            rig.memory.write8(0x30000 + i, i == 50 ? 0x55 : i);
        }
        rig.run(
                // 10000: 48 c7 c6 00 00 03 00     mov $0x30000,%rsi
                // 10007: 48 c7 c7 00 10 03 00     mov $0x31000,%rdi
                // 1000e: b9 64 00 00 00           mov $0x64,%ecx
                // 10013: f3 a4                    rep movsb %ds:(%rsi),%es:(%rdi)
                // 10015: 48 c7 c7 00 20 03 00     mov $0x32000,%rdi
                // 1001c: b8 ab 00 00 00           mov $0xab,%eax
                // 10021: b9 10 00 00 00           mov $0x10,%ecx
                // 10026: f3 48 ab                 rep stos %rax,%es:(%rdi)
                // 10029: 48 c7 c7 00 00 03 00     mov $0x30000,%rdi
                // 10030: b0 55                    mov $0x55,%al
                // 10032: b9 64 00 00 00           mov $0x64,%ecx
                // 10037: f2 ae                    repnz scas %es:(%rdi),%al
                // 10039: 49 89 c8                 mov %rcx,%r8
                // 1003c: 49 89 f9                 mov %rdi,%r9
                // 1003f: fd                       std
                // 10040: 48 c7 c6 63 00 03 00     mov $0x30063,%rsi
                // 10047: ac                       lods %ds:(%rsi),%al
                // 10048: fc                       cld
                // 10049: f4                       hlt
                hex("48 c7 c6 00 00 03 00 48 c7 c7 00 10 03 00 b9 64 00 00 00 f3 a4 48 c7 c7 00 20 03 00 b8 ab 00 00 "
                        + "00 b9 10 00 00 00 f3 48 ab 48 c7 c7 00 00 03 00 b0 55 b9 64 00 00 00 f2 ae 49 89 c8 49 89 f9 fd "
                        + "48 c7 c6 63 00 03 00 ac fc f4 "));
        for (int i = 0; i < 100; i++) {
            assertThat(rig.memory.read8(0x31000 + i)).isEqualTo(i == 50 ? 0x55 : i);
        }
        assertThat(rig.r64(0x32000 + 15 * 8)).isEqualTo(0xab);
        assertThat(rig.r64(0x32000 + 16 * 8)).isZero();
        assertThat(rig.reg(R8)).isEqualTo(49);
        assertThat(rig.reg(R9)).isEqualTo(0x30033);
        assertThat(rig.reg(Cpu.RAX) & 0xff).isEqualTo(99);
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(0x30062);
    }

    @Test
    void bitInstructionsUseBitStringAddressingAndScanCorrectly() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 48 c7 c0 ff ff ff ff     mov $0xffffffffffffffff,%rax
                // 10007: 48 0f ab 04 25 08 00     bts %rax,0x30008
                //         03 00
                // 10010: 0f 92 c3                 setb %bl
                // 10013: b9 44 00 00 00           mov $0x44,%ecx
                // 10018: f0 0f ab 0c 25 00 00     lock bts %ecx,0x30000
                //         03 00
                // 10021: 0f a3 0c 25 00 00 03     bt %ecx,0x30000
                //         00
                // 10029: 0f 92 c7                 setb %bh
                // 1002c: ba f0 00 00 00           mov $0xf0,%edx
                // 10031: 0f bc f2                 bsf %edx,%esi
                // 10034: 0f bd fa                 bsr %edx,%edi
                // 10037: f3 44 0f bc c2           tzcnt %edx,%r8d
                // 1003c: f3 44 0f bd ca           lzcnt %edx,%r9d
                // 10041: f3 44 0f b8 d2           popcnt %edx,%r10d
                // 10046: f4                       hlt
                hex("48 c7 c0 ff ff ff ff 48 0f ab 04 25 08 00 03 00 0f 92 c3 b9 44 00 00 00 f0 0f ab 0c 25 00 00 03 "
                        + "00 0f a3 0c 25 00 00 03 00 0f 92 c7 ba f0 00 00 00 0f bc f2 0f bd fa f3 44 0f bc c2 f3 44 0f bd "
                        + "ca f3 44 0f b8 d2 f4 "));
        assertThat(rig.r64(0x30000)).isEqualTo(0x8000000000000000L);
        assertThat(rig.memory.read32(0x30008)).isEqualTo(0x10);
        assertThat(rig.reg(Cpu.RBX) & 0xffff).isEqualTo(0x0100);
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(4);
        assertThat(rig.reg(Cpu.RDI)).isEqualTo(7);
        assertThat(rig.reg(R8)).isEqualTo(4);
        assertThat(rig.reg(R9)).isEqualTo(24);
        assertThat(rig.reg(R10)).isEqualTo(4);
    }

    @Test
    void endbr64AndNotrackIndirectJumpsWork() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: f3 0f 1e fa              endbr64
                // 10004: 48 8d 05 08 00 00 00     lea 0x8(%rip),%rax # 0x10013
                // 1000b: 3e ff e0                 notrack jmp *%rax
                // 1000e: bb 01 00 00 00           mov $0x1,%ebx
                // 10013: b9 09 00 00 00           mov $0x9,%ecx
                // 10018: 66 0f 1f 04 00           nopw (%rax,%rax,1)
                // 1001d: f4                       hlt
                hex("f3 0f 1e fa 48 8d 05 08 00 00 00 3e ff e0 bb 01 00 00 00 b9 09 00 00 00 66 0f 1f 04 00 f4 "));
        assertThat(rig.reg(Cpu.RBX)).isZero();
        assertThat(rig.reg(Cpu.RCX)).isEqualTo(9);
    }

    @Test
    void moffsWithA64BitAddressReachesMmio() {
        CpuRig rig = new CpuRig().longMode();
        rig.w64(0x2018, 0xc0000000L | 0x87); // PDPT[3]: 1 GiB page at 3 GiB
        rig.run(
                // 10000: a1 30 00 e0 fe 00 00     movabs 0xfee00030,%eax
                //         00 00
                // 10009: a3 40 00 e0 fe 00 00     movabs %eax,0xfee00040
                //         00 00
                // 10012: f4                       hlt
                hex("a1 30 00 e0 fe 00 00 00 00 a3 40 00 e0 fe 00 00 00 00 f4 "));
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(0x55667788L);
        assertThat(rig.bus.log).containsExactly("mmio read fee00030/4", "mmio write fee00040/4=55667788");
    }

    @Test
    void gsRelativeAccessUsesGsBaseFromWrmsrAndSwapgsExchangesIt() {
        CpuRig rig = new CpuRig().longMode();
        rig.w64(0x30010, 0x77);
        rig.w64(0x40010, 0x88);
        rig.run(
                // 10000: b9 01 01 00 c0           mov $0xc0000101,%ecx
                // 10005: b8 00 00 03 00           mov $0x30000,%eax
                // 1000a: 31 d2                    xor %edx,%edx
                // 1000c: 0f 30                    wrmsr
                // 1000e: b9 02 01 00 c0           mov $0xc0000102,%ecx
                // 10013: b8 00 00 04 00           mov $0x40000,%eax
                // 10018: 0f 30                    wrmsr
                // 1001a: 65 48 8b 1c 25 10 00     mov %gs:0x10,%rbx
                //         00 00
                // 10023: 0f 01 f8                 swapgs
                // 10026: 65 48 8b 34 25 10 00     mov %gs:0x10,%rsi
                //         00 00
                // 1002f: f4                       hlt
                hex("b9 01 01 00 c0 b8 00 00 03 00 31 d2 0f 30 b9 02 01 00 c0 b8 00 00 04 00 0f 30 65 48 8b 1c 25 10 "
                        + "00 00 00 0f 01 f8 65 48 8b 34 25 10 00 00 00 f4 "));
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0x77);
        assertThat(rig.reg(Cpu.RSI)).isEqualTo(0x88);
    }

    @Test
    void portIoGoesToTheBusAndRing3WithoutIoplRaisesGp() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 66 ba f8 03              mov $0x3f8,%dx
                // 10004: b0 41                    mov $0x41,%al
                // 10006: ee                       out %al,(%dx)
                // 10007: e4 60                    in $0x60,%al
                // 10009: 0f a2                    cpuid
                // 1000b: 0f 01 f9                 rdtscp
                // 1000e: 6a 23                    push $0x23
                // 10010: 68 00 f0 07 00           push $0x7f000
                // 10015: 9c                       pushf
                // 10016: 6a 2b                    push $0x2b
                // 10018: 48 8d 05 03 00 00 00     lea 0x3(%rip),%rax # 0x10022
                // 1001f: 50                       push %rax
                // 10020: 48 cf                    iretq
                // 10022: e6 80                    out %al,$0x80
                hex("66 ba f8 03 b0 41 ee e4 60 0f a2 0f 01 f9 6a 23 68 00 f0 07 00 9c 6a 2b 48 8d 05 03 00 00 00 50 "
                        + "48 cf e6 80 "));
        assertThat(rig.bus.log).containsExactly("out 3f8/1=41", "in 60/1");
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.reg(Cpu.RCX)).as("TSC_AUX from rdtscp").isEqualTo(7);
        assertThat(rig.reg(Cpu.RBX)).as("cpuid ebx = subleaf + 2").isEqualTo(2);
        assertThat(rig.reg(Cpu.RDX)).as("rdtsc high half").isZero();
    }

    @Test
    void rdtscAtCpl3WithCr4TsdRaisesGp() {
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: 0f 20 e0                 mov %cr4,%rax
                // 10003: 48 83 c8 04              or $0x4,%rax
                // 10007: 0f 22 e0                 mov %rax,%cr4
                // 1000a: 6a 23                    push $0x23
                // 1000c: 68 00 f0 07 00           push $0x7f000
                // 10011: 9c                       pushf
                // 10012: 6a 2b                    push $0x2b
                // 10014: 48 8d 05 03 00 00 00     lea 0x3(%rip),%rax # 0x1001e
                // 1001b: 50                       push %rax
                // 1001c: 48 cf                    iretq
                // 1001e: 0f 31                    rdtsc
                hex("0f 20 e0 48 83 c8 04 0f 22 e0 6a 23 68 00 f0 07 00 9c 6a 2b 48 8d 05 03 00 00 00 50 48 cf 0f 31 "));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
    }

    @Test
    void stiDelaysAPendingInterruptByOneInstruction() {
        CpuRig rig = new CpuRig().longMode();
        rig.bus.raise(0x40);
        rig.run(
                // 10000: b8 01 00 00 00           mov $0x1,%eax
                // 10005: fb                       sti
                // 10006: bb 02 00 00 00           mov $0x2,%ebx
                // 1000b: b9 03 00 00 00           mov $0x3,%ecx
                // 10010: f4                       hlt
                hex("b8 01 00 00 00 fb bb 02 00 00 00 b9 03 00 00 00 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(0x40);
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(1);
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(2);
        assertThat(rig.reg(Cpu.RCX)).isZero();
        assertThat(rig.stack(0)).isEqualTo(CODE + 11);
        assertThat(rig.stack(2) & 0x200).as("saved IF").isEqualTo(0x200);
    }

    @Test
    void hltWaitsUntilAnInterruptArrivesAndIretqResumesAfterIt() {
        CpuRig rig = new CpuRig().longMode();
        rig.load(0x9000, hex("48 cf")); // iretq
        rig.setGate(0x41, 0x9000, 0xe, 0, 0);
        rig.run(
                // 10000: fb                       sti
                // 10001: f4                       hlt
                // 10002: b8 07 00 00 00           mov $0x7,%eax
                // 10007: f4                       hlt
                hex("fb f4 b8 07 00 00 00 f4 "));
        assertThat(rig.cpu.getRip()).isEqualTo(CODE + 2);
        long retired = rig.cpu.instructionsRetired();
        assertThat(rig.cpu.run(1000)).isEqualTo(RunStop.HALTED);
        assertThat(rig.cpu.instructionsRetired()).isEqualTo(retired);
        rig.bus.raise(0x41);
        assertThat(rig.cpu.run(1000)).isEqualTo(RunStop.HALTED);
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(7);
        assertThat(rig.cpu.getRip()).isEqualTo(CODE + 8);
    }

    @Test
    void withoutAUsableIdtAFaultEscalatesToTripleFault() {
        CpuRig rig = new CpuRig().longMode();
        rig.memory.write16(0x620, 0);
        rig.load(CODE,
                // 10000: 0f 01 1c 25 20 06 00     lidt 0x620
                //         00
                // 10008: 0f 0b                    ud2
                hex("0f 01 1c 25 20 06 00 00 0f 0b "));
        assertThat(rig.cpu.run(1000)).isEqualTo(RunStop.TRIPLE_FAULT);
        assertThat(rig.cpu.describe()).contains("CR0=80000011").contains("last exception=8");
    }

    @Test
    void protectedModeCallRetAndOperandSizePrefixWork() {
        CpuRig rig = new CpuRig();
        rig.load(0x20000,
                // 20000: bc 00 00 08 00           mov $0x80000,%esp
                // 20005: e8 01 00 00 00           call 0x2000b
                // 2000a: f4                       hlt
                // 2000b: 55                       push %ebp
                // 2000c: 89 e5                    mov %esp,%ebp
                // 2000e: 66 b8 34 12              mov $0x1234,%ax
                // 20012: 0f b7 d8                 movzwl %ax,%ebx
                // 20015: 66 6a 77                 pushw $0x77
                // 20018: 66 59                    pop %cx
                // 2001a: c9                       leave
                // 2001b: c3                       ret
                hex("bc 00 00 08 00 e8 01 00 00 00 f4 55 89 e5 66 b8 34 12 0f b7 d8 66 6a 77 66 59 c9 c3 "));
        rig.cpu.enterFlatProtectedMode(0x20000);
        assertThat(rig.cpu.run(1000)).isEqualTo(RunStop.HALTED);
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(0x1234);
        assertThat(rig.reg(Cpu.RCX) & 0xffff).isEqualTo(0x77);
        assertThat(rig.reg(Cpu.RSP)).isEqualTo(0x80000);
    }

    @Test
    void cpuOwnedMsrsRefuseNonCanonicalBasesAndReservedEferBits() {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.writeMsr(Msr.IA32_FS_BASE, 0x1234000);
        assertThat(rig.cpu.readMsr(Msr.IA32_FS_BASE)).isEqualTo(0x1234000);
        assertThatThrownBy(() -> rig.cpu.writeMsr(Msr.IA32_GS_BASE, 0x0001000000000000L))
                .isInstanceOfSatisfying(CpuFault.class, f -> assertThat(f.vector()).isEqualTo(CpuFault.GP));
        assertThatThrownBy(() -> rig.cpu.writeMsr(Msr.IA32_LSTAR, 0x8000000000000000L)).isInstanceOf(CpuFault.class);
        assertThatThrownBy(() -> rig.cpu.writeMsr(Msr.IA32_EFER, 0xd01 | 2)).isInstanceOf(CpuFault.class);
        assertThat(Cpu.ownedMsrs()).doesNotContain(Msr.IA32_TSC).contains(Msr.IA32_EFER, Msr.IA32_PAT);
        assertThatThrownBy(() -> rig.cpu.readMsr(Msr.IA32_TSC)).isInstanceOf(org.tscvm.TscvmException.class)
                .hasMessageContaining("0x10");
    }

    @Test
    void theGuestsRdmsrAndWrmsrOfCpuStateNeverLeaveTheCpu() {
        // FakeBus refuses every MSR but the TSC: what succeeds here was served by the CPU itself.
        CpuRig rig = new CpuRig().longMode().run(
                // 10000: b9 82 00 00 c0           mov $0xc0000082,%ecx   (LSTAR)
                // 10005: b8 00 10 00 00           mov $0x1000,%eax
                // 1000a: ba 00 80 ff ff           mov $0xffff8000,%edx
                // 1000f: 0f 30                    wrmsr
                // 10011: b9 80 00 00 c0           mov $0xc0000080,%ecx   (EFER)
                // 10016: 0f 32                    rdmsr
                // 10018: 89 c3                    mov %eax,%ebx
                // 1001a: b9 10 00 00 00           mov $0x10,%ecx         (TSC: the bus's)
                // 1001f: 0f 32                    rdmsr
                // 10021: f4                       hlt
                hex("b9 82 00 00 c0 b8 00 10 00 00 ba 00 80 ff ff 0f 30 b9 80 00 00 c0 0f 32 89 c3 "
                        + "b9 10 00 00 00 0f 32 f4 "));
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.cpu.readMsr(Msr.IA32_LSTAR)).isEqualTo(0xffff800000001000L);
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(rig.cpu.readMsr(Msr.IA32_EFER));
        assertThat(rig.reg(Cpu.RBX) & 0x500).as("EFER.LME|LMA").isEqualTo(0x500);
    }

    @Test
    void requestStopFromAnotherThreadEndsAnEndlessLoop() throws Exception {
        CpuRig rig = new CpuRig().longMode();
        rig.load(CODE, hex("eb fe")); // 1: jmp 1b
        Thread stopper = new Thread(() -> {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            rig.cpu.requestStop();
        });
        stopper.start();
        assertThat(rig.cpu.run(Long.MAX_VALUE)).isEqualTo(RunStop.STOP_REQUESTED);
        stopper.join();
        assertThat(rig.cpu.run(100)).isEqualTo(RunStop.BUDGET_EXHAUSTED);
        assertThat(rig.cpu.getRip()).isEqualTo(CODE);
    }

    @Test
    void lockedReadModifyWritesStayAtomicAcrossTwoThreads() throws Exception {
        CpuRig a = new CpuRig().longMode();
        CpuRig b = new CpuRig(a.memory);
        a.load(CODE,
                // 10000: b9 a0 86 01 00           mov $0x186a0,%ecx
                // 10005: f0 48 ff 04 25 00 00     lock incq 0x30000
                //         03 00
                // 1000e: b8 01 00 00 00           mov $0x1,%eax
                // 10013: f0 0f c1 04 25 08 00     lock xadd %eax,0x30008
                //         03 00
                // 1001c: 48 8b 04 25 10 00 03     mov 0x30010,%rax
                //         00
                // 10024: 48 8d 58 01              lea 0x1(%rax),%rbx
                // 10028: f0 48 0f b1 1c 25 10     lock cmpxchg %rbx,0x30010
                //         00 03 00
                // 10032: 75 e8                    jne 0x1001c
                // 10034: f0 ff 04 25 3e 00 03     lock incl 0x3003e
                //         00
                // 1003c: ba 01 00 00 00           mov $0x1,%edx
                // 10041: 87 14 25 20 00 03 00     xchg %edx,0x30020
                // 10048: ff c9                    dec %ecx
                // 1004a: 75 b9                    jne 0x10005
                // 1004c: f4                       hlt
                hex("b9 a0 86 01 00 f0 48 ff 04 25 00 00 03 00 b8 01 00 00 00 f0 0f c1 04 25 08 00 03 00 48 8b 04 25 "
                        + "10 00 03 00 48 8d 58 01 f0 48 0f b1 1c 25 10 00 03 00 75 e8 f0 ff 04 25 3e 00 03 00 ba 01 00 00 "
                        + "00 87 14 25 20 00 03 00 ff c9 75 b9 f4 "));
        b.cpu.enterFlatLongMode(CODE, 0x1000, 0);
        a.cpu.setRip(CODE);
        RunStop[] stops = new RunStop[2];
        Thread ta = new Thread(() -> stops[0] = a.cpu.run(100_000_000));
        Thread tb = new Thread(() -> stops[1] = b.cpu.run(100_000_000));
        ta.start();
        tb.start();
        ta.join();
        tb.join();
        assertThat(stops).containsExactly(RunStop.HALTED, RunStop.HALTED);
        assertThat(a.r64(0x30000)).isEqualTo(200000);
        assertThat(a.memory.read32(0x30008)).isEqualTo(200000);
        assertThat(a.r64(0x30010)).isEqualTo(200000);
        assertThat(a.memory.read32(0x3003e)).as("split-line lock").isEqualTo(200000);
    }

    @Test
    void aComputeLoopRunsAtMeasurableSpeed() {
        CpuRig rig = new CpuRig().longMode();
        rig.load(CODE,
                // 10000: b9 00 2d 31 01           mov $0x1312d00,%ecx
                // 10005: 31 c0                    xor %eax,%eax
                // 10007: 31 d2                    xor %edx,%edx
                // 10009: 01 c8                    add %ecx,%eax
                // 1000b: 48 8d 14 50              lea (%rax,%rdx,2),%rdx
                // 1000f: 89 14 25 00 00 03 00     mov %edx,0x30000
                // 10016: ff c9                    dec %ecx
                // 10018: 75 ef                    jne 0x10009
                // 1001a: f4                       hlt
                hex("b9 00 2d 31 01 31 c0 31 d2 01 c8 48 8d 14 50 89 14 25 00 00 03 00 ff c9 75 ef f4 "));
        rig.cpu.setRip(CODE);
        long t0 = System.nanoTime();
        assertThat(rig.cpu.run(Long.MAX_VALUE / 2)).isEqualTo(RunStop.HALTED);
        long nanos = System.nanoTime() - t0;
        long n = rig.cpu.instructionsRetired();
        assertThat(n).isGreaterThan(100_000_000L);
        System.out.printf("compute loop: %d instructions in %d ms = %.0f MIPS (%s)%n", n, nanos / 1_000_000,
                n * 1000.0 / nanos, System.getProperty("java.vm.version"));
    }
}

package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.tscvm.cpu.CpuRig.CODE;
import static org.tscvm.cpu.CpuRig.hex;

import org.junit.jupiter.api.Test;

/**
 * RTM (SDM Vol. 1, ch. 16): a transaction's stores stay when it commits; an abort (XABORT, a
 * fault, I/O, a device access, nesting, capacity, an interrupt, the host taking the CPU back)
 * puts memory and registers back as at the outermost XBEGIN, with the status in EAX and RIP at
 * the fallback address. Each program's listing is from GNU as; it starts at CODE (0x10000).
 */
class CpuRtmTest {
    private static final long DATA = 0x200000;

    private static CpuRig rig(int rtm) {
        CpuRig rig = new CpuRig().longMode();
        rig.bus.rtm = rtm;
        return rig;
    }

    @Test
    void aCommittedTransactionKeepsItsStoresAndXtestSeesIt() {
        CpuRig rig = rig(CpuBus.RTM_RUNS).run(
                // 10000: 48 c7 04 25 00 00 20 00 11 11 00 00   movq   $0x1111,0x200000
                // 1000c: c7 f8 26 00 00 00        xbegin 0x10038
                // 10012: 0f 01 d6                 xtest
                // 10015: 0f 95 c3                 setne  %bl
                // 10018: 48 c7 04 25 00 00 20 00 22 22 00 00   movq   $0x2222,0x200000
                // 10024: b9 07 00 00 00           mov    $0x7,%ecx
                // 10029: 0f 01 d5                 xend
                // 1002c: 0f 01 d6                 xtest
                // 1002f: 0f 94 c2                 sete   %dl
                // 10032: b8 99 00 00 00           mov    $0x99,%eax
                // 10037: f4                       hlt
                // 10038: be 55 00 00 00           mov    $0x55,%esi   (fallback)
                // 1003d: f4                       hlt
                hex("48 c7 04 25 00 00 20 00 11 11 00 00 c7 f8 26 00 00 00 0f 01 d6 0f 95 c3 48 c7 04 25 00 00 20 00 "
                        + "22 22 00 00 b9 07 00 00 00 0f 01 d5 0f 01 d6 0f 94 c2 b8 99 00 00 00 f4 be 55 00 00 00 f4"));
        assertThat(rig.cpu.getRip()).isEqualTo(0x10038);
        assertThat(rig.r64(DATA)).isEqualTo(0x2222);
        assertThat(rig.reg(Cpu.RBX) & 0xff).as("XTEST inside: ZF = 0").isEqualTo(1);
        assertThat(rig.reg(Cpu.RDX) & 0xff).as("XTEST after XEND: ZF = 1").isEqualTo(1);
        assertThat(rig.reg(Cpu.RCX)).isEqualTo(7);
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(0x99);
        assertThat(rig.reg(Cpu.RSI)).isZero();
    }

    @Test
    void xabortPutsBackMemoryAndRegistersAndReportsItsCode() {
        CpuRig rig = rig(CpuBus.RTM_RUNS).run(
                // 10000: 0f 20 e0                 mov    %cr4,%rax
                // 10003: 0d 00 06 00 00           or     $0x600,%eax   (OSFXSR, OSXMMEXCPT)
                // 10008: 0f 22 e0                 mov    %rax,%cr4
                // 1000b: 48 c7 04 25 00 00 20 00 11 11 00 00   movq   $0x1111,0x200000
                // 10017: bb 01 00 00 00           mov    $0x1,%ebx
                // 1001c: b8 34 12 00 00           mov    $0x1234,%eax
                // 10021: 66 48 0f 6e c0           movq   %rax,%xmm0
                // 10026: c7 f8 26 00 00 00        xbegin 0x10052
                // 1002c: 48 c7 04 25 00 00 20 00 22 22 00 00   movq   $0x2222,0x200000
                // 10038: 48 c7 04 25 00 10 20 00 33 33 00 00   movq   $0x3333,0x201000
                // 10044: bb 02 00 00 00           mov    $0x2,%ebx
                // 10049: 66 48 0f 6e c3           movq   %rbx,%xmm0
                // 1004e: c6 f8 42                 xabort $0x42
                // 10051: f4                       hlt
                // 10052: 66 48 0f 7e c1           movq   %xmm0,%rcx   (fallback)
                // 10057: f4                       hlt
                hex("0f 20 e0 0d 00 06 00 00 0f 22 e0 48 c7 04 25 00 00 20 00 11 11 00 00 bb 01 00 00 00 b8 34 12 00 "
                        + "00 66 48 0f 6e c0 c7 f8 26 00 00 00 48 c7 04 25 00 00 20 00 22 22 00 00 48 c7 04 25 00 10 "
                        + "20 00 33 33 00 00 bb 02 00 00 00 66 48 0f 6e c3 c6 f8 42 f4 66 48 0f 7e c1 f4"));
        assertThat(rig.cpu.getRip()).isEqualTo(0x10058);
        assertThat(rig.reg(Cpu.RAX)).as("EAX[31:24] = the code, bit 0 = XABORT").isEqualTo(0x42000001L);
        assertThat(rig.r64(DATA)).isEqualTo(0x1111);
        assertThat(rig.r64(DATA + 0x1000)).isZero();
        assertThat(rig.reg(Cpu.RBX)).isEqualTo(1);
        assertThat(rig.reg(Cpu.RCX)).as("XMM0 as at XBEGIN").isEqualTo(0x1234);
    }

    @Test
    void aFaultInsideAbortsAndIsNotDelivered() {
        CpuRig rig = rig(CpuBus.RTM_RUNS).run(
                // 10000: c7 f8 0f 00 00 00        xbegin 0x10015
                // 10006: 48 c7 04 25 00 00 20 00 05 00 00 00   movq   $0x5,0x200000
                // 10012: 0f 0b                    ud2
                // 10014: f4                       hlt
                // 10015: f4                       hlt   (fallback)
                hex("c7 f8 0f 00 00 00 48 c7 04 25 00 00 20 00 05 00 00 00 0f 0b f4 f4"));
        assertThat(rig.haltedInVector()).isEqualTo(-1);
        assertThat(rig.cpu.getRip()).isEqualTo(0x10016);
        assertThat(rig.reg(Cpu.RAX)).isZero();
        assertThat(rig.r64(DATA)).isZero();
    }

    @Test
    void portIoAbortsBeforeItReachesTheDevice() {
        CpuRig rig = rig(CpuBus.RTM_RUNS).run(
                // 10000: c7 f8 0f 00 00 00        xbegin 0x10015
                // 10006: 48 c7 04 25 00 00 20 00 05 00 00 00   movq   $0x5,0x200000
                // 10012: e6 80                    out    %al,$0x80
                // 10014: f4                       hlt
                // 10015: f4                       hlt   (fallback)
                hex("c7 f8 0f 00 00 00 48 c7 04 25 00 00 20 00 05 00 00 00 e6 80 f4 f4"));
        assertThat(rig.cpu.getRip()).isEqualTo(0x10016);
        assertThat(rig.bus.log).noneMatch(l -> l.startsWith("out 80"));
        assertThat(rig.r64(DATA)).isZero();
    }

    @Test
    void aDeviceStoreAbortsBeforeItReachesTheDevice() {
        CpuRig rig = rig(CpuBus.RTM_RUNS).run(
                // 10000: c7 f8 19 00 00 00        xbegin 0x1001f
                // 10006: 48 c7 04 25 00 00 20 00 05 00 00 00   movq   $0x5,0x200000
                // 10012: 48 c7 04 25 00 00 00 3f 01 00 00 00   movq   $0x1,0x3f000000   (no RAM there)
                // 1001e: f4                       hlt
                // 1001f: f4                       hlt   (fallback)
                hex("c7 f8 19 00 00 00 48 c7 04 25 00 00 20 00 05 00 00 00 48 c7 04 25 00 00 00 3f 01 00 00 00 f4 f4"));
        assertThat(rig.cpu.getRip()).isEqualTo(0x10020);
        assertThat(rig.bus.log).noneMatch(l -> l.startsWith("mmio"));
        assertThat(rig.r64(DATA)).isZero();
    }

    @Test
    void anAbortInANestedTransactionReturnsToTheOutermostFallback() {
        CpuRig rig = rig(CpuBus.RTM_RUNS).run(
                // 10000: c7 f8 1b 00 00 00        xbegin 0x10021
                // 10006: 48 c7 04 25 00 00 20 00 05 00 00 00   movq   $0x5,0x200000
                // 10012: c7 f8 03 00 00 00        xbegin 0x1001b
                // 10018: c6 f8 01                 xabort $0x1
                // 1001b: be 77 00 00 00           mov    $0x77,%esi   (inner fallback: not taken)
                // 10020: f4                       hlt
                // 10021: f4                       hlt   (outer fallback)
                hex("c7 f8 1b 00 00 00 48 c7 04 25 00 00 20 00 05 00 00 00 c7 f8 03 00 00 00 c6 f8 01 be 77 00 00 00 "
                        + "f4 f4"));
        assertThat(rig.cpu.getRip()).isEqualTo(0x10022);
        assertThat(rig.reg(Cpu.RAX)).as("XABORT, code 1, nested").isEqualTo(0x01000001L | Transaction.ABORT_NESTED);
        assertThat(rig.reg(Cpu.RSI)).isZero();
        assertThat(rig.r64(DATA)).isZero();
    }

    @Test
    void xabortOutsideIsANopAndXendOutsideIsGp() {
        CpuRig rig = rig(CpuBus.RTM_RUNS).run(
                // 10000: c6 f8 03                 xabort $0x3
                // 10003: 0f 01 d5                 xend
                // 10006: f4                       hlt
                hex("c6 f8 03 0f 01 d5 f4"));
        assertThat(rig.haltedInVector()).isEqualTo(CpuFault.GP);
        assertThat(rig.stack(1)).as("the faulting XEND").isEqualTo(CODE + 3);
    }

    @Test
    void withoutRtmTheInstructionsAreUdAndWithRtmDisabledXbeginAbortsAtOnce() {
        byte[] code = hex( // 10000: c7 f8 0f 00 00 00  xbegin 0x10015; movq $0x5,0x200000; ud2; hlt; hlt
                "c7 f8 0f 00 00 00 48 c7 04 25 00 00 20 00 05 00 00 00 0f 0b f4 f4");
        CpuRig absent = rig(CpuBus.RTM_ABSENT).run(code);
        assertThat(absent.haltedInVector()).isEqualTo(CpuFault.UD);
        assertThat(absent.stack(0)).isEqualTo(CODE);

        CpuRig disabled = rig(CpuBus.RTM_ABORTS);
        disabled.cpu.setGpr(Cpu.RAX, -1);
        disabled.run(code);
        assertThat(disabled.cpu.getRip()).isEqualTo(0x10016);
        assertThat(disabled.reg(Cpu.RAX)).isZero();
        assertThat(disabled.r64(DATA)).isZero();
    }

    @Test
    void writingMorePagesThanItCanKeepAbortsForCapacity() {
        CpuRig rig = rig(CpuBus.RTM_RUNS).run(
                // 10000: 48 c7 c7 00 00 20 00     mov    $0x200000,%rdi
                // 10007: b9 41 00 00 00           mov    $0x41,%ecx     (65 pages)
                // 1000c: c7 f8 16 00 00 00        xbegin 0x10028
                // 10012: 48 c7 07 09 00 00 00     movq   $0x9,(%rdi)
                // 10019: 48 81 c7 00 10 00 00     add    $0x1000,%rdi
                // 10020: ff c9                    dec    %ecx
                // 10022: 75 ee                    jne    0x10012
                // 10024: 0f 01 d5                 xend
                // 10027: f4                       hlt
                // 10028: f4                       hlt   (fallback)
                hex("48 c7 c7 00 00 20 00 b9 41 00 00 00 c7 f8 16 00 00 00 48 c7 07 09 00 00 00 48 81 c7 00 10 00 00 "
                        + "ff c9 75 ee 0f 01 d5 f4 f4"));
        assertThat(rig.cpu.getRip()).isEqualTo(0x10029);
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(Transaction.ABORT_CAPACITY);
        for (int page = 0; page < Transaction.MAX_PAGES; page++) {
            assertThat(rig.r64(DATA + 0x1000L * page)).as("page %d", page).isZero();
        }
    }

    @Test
    void anInterruptAbortsAndIsTakenAtTheFallbackAddress() {
        CpuRig rig = rig(CpuBus.RTM_RUNS);
        rig.bus.pendingVectors.add(0x40);
        rig.run(
                // 10000: 48 c7 04 25 00 00 20 00 11 11 00 00   movq   $0x1111,0x200000
                // 1000c: c7 f8 18 00 00 00        xbegin 0x1002a
                // 10012: 48 c7 04 25 00 00 20 00 22 22 00 00   movq   $0x2222,0x200000
                // 1001e: 9c                       pushf
                // 1001f: 48 81 0c 24 00 02 00 00  orq    $0x200,(%rsp)
                // 10027: 9d                       popf                   (IF = 1: the interrupt is taken)
                // 10028: eb fe                    jmp    0x10028
                // 1002a: f4                       hlt   (fallback)
                hex("48 c7 04 25 00 00 20 00 11 11 00 00 c7 f8 18 00 00 00 48 c7 04 25 00 00 20 00 22 22 00 00 9c "
                        + "48 81 0c 24 00 02 00 00 9d eb fe f4"));
        assertThat(rig.haltedInVector()).isEqualTo(0x40);
        assertThat(rig.stack(0)).as("the interrupt returns to the fallback").isEqualTo(0x1002a);
        assertThat(rig.stack(2) & CpuState.IF).as("RFLAGS as at XBEGIN: IF clear").isZero();
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(Transaction.ABORT_RETRY);
        assertThat(rig.r64(DATA)).isEqualTo(0x1111);
    }

    @Test
    void theHostTakingTheCpuBackAbortsAnOpenTransaction() {
        CpuRig rig = rig(CpuBus.RTM_RUNS);
        rig.load(CODE, hex(
                // 10000: 48 c7 04 25 00 00 20 00 11 11 00 00   movq   $0x1111,0x200000
                // 1000c: c7 f8 0e 00 00 00        xbegin 0x10020
                // 10012: 48 c7 04 25 00 00 20 00 22 22 00 00   movq   $0x2222,0x200000
                // 1001e: eb fe                    jmp    0x1001e
                // 10020: f4                       hlt   (fallback)
                "48 c7 04 25 00 00 20 00 11 11 00 00 c7 f8 0e 00 00 00 48 c7 04 25 00 00 20 00 22 22 00 00 eb fe f4"));
        rig.cpu.setRip(CODE);
        assertThat(rig.cpu.run(1000)).isEqualTo(RunStop.BUDGET_EXHAUSTED);
        assertThat(rig.cpu.getRip()).isEqualTo(0x10020);
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(Transaction.ABORT_RETRY);
        assertThat(rig.r64(DATA)).isEqualTo(0x1111);
    }
}

package org.tscvm.machine;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tscvm.cpu.Msr;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VmConfig;

/** Hand-assembled 32-bit protected-mode snippets run through the whole machine. */
class MachineTest {
    private static final long LOAD = 0x8000;
    private final ByteArrayOutputStream serial = new ByteArrayOutputStream();

    private static byte[] concat(int... bytes) {
        byte[] b = new byte[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            b[i] = (byte) bytes[i];
        }
        return b;
    }

    private MachineConfig.Builder flat(byte[] code, long entry, VmConfig.ClockKind clock) {
        return MachineConfig.builder()
                .ramBytes(16L << 20)
                .kernel("test.bin", code)
                .flat(LOAD, entry)
                .serial(new SerialTarget.ToStream(serial))
                .clock(clock)
                .timeout(Duration.ofSeconds(20));
    }

    private String serialText() {
        return serial.toString(StandardCharsets.US_ASCII);
    }

    /** out 0x3F8 "Hi\n", then outl 0x10 to 0xF4. */
    private static final byte[] HELLO = concat(
            0x66, 0xba, 0xf8, 0x03,       // mov dx, 0x3f8
            0xb0, 'H', 0xee,              // mov al, 'H'; out dx, al
            0xb0, 'i', 0xee,              // mov al, 'i'; out dx, al
            0xb0, '\n', 0xee,             // mov al, '\n'; out dx, al
            0x66, 0xba, 0xf4, 0x00,       // mov dx, 0xf4
            0xb8, 0x10, 0x00, 0x00, 0x00, // mov eax, 0x10
            0xef,                         // out dx, eax
            0xf4);                        // hlt

    @ParameterizedTest
    @EnumSource(VmConfig.ClockKind.class)
    void serialOutputAndDebugExitEndTheRunWithStatusVShiftedOrOne(VmConfig.ClockKind clock) {
        RunResult r = new Machine(flat(HELLO, LOAD, clock).build()).run();
        assertThat(serialText()).isEqualTo("Hi\n");
        assertThat(r.kind()).isEqualTo(RunResult.Reason.DEBUG_EXIT);
        assertThat(r.exitStatus()).isEqualTo((0x10 << 1) | 1);
    }

    @Test
    void shutdownStringOnPort8900EndsWithStatusZero() {
        ByteArrayOutputStream code = new ByteArrayOutputStream();
        code.writeBytes(concat(0x66, 0xba, 0x00, 0x89)); // mov dx, 0x8900
        for (char c : "Shutdown".toCharArray()) {
            code.writeBytes(concat(0xb0, c, 0xee));       // mov al, c; out dx, al
        }
        code.writeBytes(concat(0xeb, 0xfe));              // jmp $
        RunResult r = new Machine(flat(code.toByteArray(), LOAD, VmConfig.ClockKind.DETERMINISTIC).build()).run();
        assertThat(r.kind()).isEqualTo(RunResult.Reason.SHUTDOWN);
        assertThat(r.exitStatus()).isZero();
    }

    @Test
    void multibootEntryStateHasTheMagicInEaxAndTheMbiInEbx() {
        byte[] code = concat(
                0x3d, 0x02, 0xb0, 0xad, 0x2b,             // cmp eax, 0x2badb002
                0x75, 0x14,                               // jne fail
                0x81, 0xfb, 0x00, 0x95, 0x00, 0x00,       // cmp ebx, 0x9500
                0x75, 0x0c,                               // jne fail
                0x66, 0xba, 0xf4, 0x00,                   // mov dx, 0xf4
                0xb8, 0x00, 0x00, 0x00, 0x00,             // mov eax, 0 (pass: status 1)
                0xef, 0xf4,                               // out dx, eax; hlt
                0x66, 0xba, 0xf4, 0x00,                   // fail: mov dx, 0xf4
                0xb8, 0x01, 0x00, 0x00, 0x00,             // mov eax, 1 (fail: status 3)
                0xef, 0xf4);                              // out dx, eax; hlt
        byte[] elf = org.tscvm.machine.ElfImages.multibootElf32(0x100000, code);
        RunResult r = new Machine(MachineConfig.builder().ramBytes(16L << 20).kernel("mb.elf", elf)
                .serial(new SerialTarget.ToStream(serial)).clock(VmConfig.ClockKind.DETERMINISTIC)
                .timeout(Duration.ofSeconds(20)).build()).run();
        assertThat(r.exitStatus()).as(r.reason()).isEqualTo(1);
    }

    @Test
    void aTripleFaultEndsWithItsOwnStatusAndTheCpuState() {
        byte[] code = concat(
                0x0f, 0x01, 0x1d, 0x00, 0x90, 0x00, 0x00, // lidt [0x9000]: a zero-limit IDT
                0x0f, 0x0b);                              // ud2 -> #UD -> #GP -> #DF -> shutdown
        RunResult r = new Machine(flat(code, LOAD, VmConfig.ClockKind.DETERMINISTIC).build()).run();
        assertThat(r.kind()).isEqualTo(RunResult.Reason.TRIPLE_FAULT);
        assertThat(r.exitStatus()).isEqualTo(RunResult.STATUS_TRIPLE_FAULT);
        assertThat(r.reason()).contains("triple fault on vCPU 0");
    }

    @Test
    void hltWithInterruptsOffAndNoTimerEndsAsHalted() {
        RunResult r = new Machine(flat(concat(0xfa, 0xf4), LOAD, VmConfig.ClockKind.REAL_TIME).build()).run();
        assertThat(r.kind()).isEqualTo(RunResult.Reason.HALTED);
        assertThat(r.exitStatus()).isEqualTo(RunResult.STATUS_HALTED);
    }

    @Test
    void twoVcpusThatCanNeverRunAgainEndAsHaltedOnTheRealClock() {
        // vCPU 0: cli; hlt. vCPU 1 never gets a STARTUP. Nothing can ever happen again.
        RunResult r = new Machine(flat(concat(0xfa, 0xf4), LOAD, VmConfig.ClockKind.REAL_TIME).smp(2).build()).run();
        assertThat(r.kind()).as(r.reason()).isEqualTo(RunResult.Reason.HALTED);
        assertThat(r.exitStatus()).isEqualTo(RunResult.STATUS_HALTED);
    }

    @Test
    void fwCfgReportsTheVcpuCountToTheGuest() {
        byte[] code = concat(
                0x66, 0xba, 0x10, 0x05,                   // mov dx, 0x510
                0x66, 0xb8, 0x05, 0x00,                   // mov ax, 5 (FW_CFG_NB_CPUS)
                0x66, 0xef,                               // out dx, ax
                0x66, 0xba, 0x11, 0x05,                   // mov dx, 0x511
                0xec,                                     // in al, dx
                0x04, '0',                                // add al, '0'
                0x66, 0xba, 0xf8, 0x03,                   // mov dx, 0x3f8
                0xee,                                     // out dx, al
                0x66, 0xba, 0xf4, 0x00,                   // mov dx, 0xf4
                0xef);                                    // out dx, eax
        RunResult r = new Machine(flat(code, LOAD, VmConfig.ClockKind.DETERMINISTIC).smp(3).build()).run();
        assertThat(serialText()).isEqualTo("3");
        assertThat(r.kind()).isEqualTo(RunResult.Reason.DEBUG_EXIT);
    }

    /**
     * The BSP starts vCPU 1 with INIT and STARTUP through the xAPIC ICR; the AP begins in real
     * mode at 0x8000 (vector 8), prints 'A' and exits with 5.
     */
    @ParameterizedTest
    @EnumSource(VmConfig.ClockKind.class)
    void anApStartsInRealModeAfterInitAndStartup(VmConfig.ClockKind clock) {
        byte[] image = new byte[0x200];
        byte[] ap = concat(
                0xba, 0xf8, 0x03,                         // mov dx, 0x3f8 (16-bit code)
                0xb0, 'A', 0xee,                          // mov al, 'A'; out dx, al
                0xba, 0xf4, 0x00,                         // mov dx, 0xf4
                0xb0, 0x05, 0xee,                         // mov al, 5; out dx, al
                0xf4);                                    // hlt
        byte[] bsp = concat(
                0xc7, 0x05, 0x10, 0x03, 0xe0, 0xfe, 0x00, 0x00, 0x00, 0x01, // ICR2 = APIC ID 1
                0xc7, 0x05, 0x00, 0x03, 0xe0, 0xfe, 0x00, 0x45, 0x00, 0x00, // ICR = INIT, assert
                0xc7, 0x05, 0x00, 0x03, 0xe0, 0xfe, 0x08, 0x46, 0x00, 0x00, // ICR = STARTUP, vector 8
                0xeb, 0xfe);                                                 // jmp $
        System.arraycopy(ap, 0, image, 0, ap.length);
        System.arraycopy(bsp, 0, image, 0x100, bsp.length);
        RunResult r = new Machine(flat(image, LOAD + 0x100, clock).smp(2).build()).run();
        assertThat(r.reason()).contains("0x5");
        assertThat(r.exitStatus()).isEqualTo(11);
        assertThat(serialText()).isEqualTo("A");
    }

    @Test
    void deterministicRunsRepeatExactly() {
        // rdtsc; print the low byte as two hex-ish characters, then exit with it.
        byte[] code = concat(
                0x0f, 0x31,                               // rdtsc
                0x66, 0xba, 0xf4, 0x00,                   // mov dx, 0xf4
                0xef);                                    // out dx, eax
        int first = new Machine(flat(code, LOAD, VmConfig.ClockKind.DETERMINISTIC).build()).run().exitStatus();
        int second = new Machine(flat(code, LOAD, VmConfig.ClockKind.DETERMINISTIC).build()).run().exitStatus();
        assertThat(first).isEqualTo(second);
    }

    @Test
    void machineResetWritesTscOneAndTscAdjustZeroFromTheHostSideA7() {
        Machine m = new Machine(flat(HELLO, LOAD, VmConfig.ClockKind.DETERMINISTIC).build());
        Vcpu vcpu = m.vm().vcpus().get(0);
        vcpu.setMsr(Msr.IA32_TSC_ADJUST, 12345);
        vcpu.setMsr(Msr.IA32_TSC, 1L << 40);
        m.resetTsc();
        assertThat(vcpu.getMsr(Msr.IA32_TSC_ADJUST)).isZero();
        assertThat(vcpu.getMsr(Msr.IA32_TSC)).isEqualTo(1);
    }

    @Test
    void tscPresetsAreHostWritesThatLeaveTheOtherMsrAloneR8R9() {
        long warp = -3_000_000_000L; // more than a second of cycles: no window can match it
        Machine m = new Machine(flat(HELLO, LOAD, VmConfig.ClockKind.DETERMINISTIC).smp(3)
                .tscWarps(java.util.List.of(new MachineConfig.VcpuValue(1, warp)))
                .tscAdjusts(java.util.List.of(new MachineConfig.VcpuValue(2, 777_000)))
                .build());
        java.util.List<Vcpu> vcpus = m.vm().vcpus();
        long t0 = vcpus.get(0).getMsr(Msr.IA32_TSC);
        long t1 = vcpus.get(1).getMsr(Msr.IA32_TSC);
        long t2 = vcpus.get(2).getMsr(Msr.IA32_TSC);
        assertThat(t1 - t0).as("vCPU 1 warped, on a clock that has not moved").isEqualTo(warp);
        assertThat(t2).as("a host TSC_ADJUST write does not move the TSC").isEqualTo(t0);
        assertThat(vcpus.get(1).getMsr(Msr.IA32_TSC_ADJUST)).isZero();
        assertThat(vcpus.get(2).getMsr(Msr.IA32_TSC_ADJUST)).isEqualTo(777_000);
        assertThat(vcpus.get(1).tscGeneration()).isNotEqualTo(vcpus.get(0).tscGeneration());
    }

    @Test
    void socketsSplitTheVcpusIntoCpuidPackages() {
        Machine m = new Machine(flat(HELLO, LOAD, VmConfig.ClockKind.DETERMINISTIC).smp(4).sockets(2).build());
        int[] regs = new int[4];
        Vcpu third = m.vm().vcpus().get(3);
        third.guest().cpuid(0xB, 1, regs);
        assertThat(regs[0]).as("core bits: package = APIC id >> 1").isEqualTo(1);
        assertThat(regs[1]).as("vCPUs per package").isEqualTo(2);
        assertThat(regs[3]).isEqualTo(3);
    }

    @Test
    void badTopologiesAndPresetsForMissingVcpusAreRefused() {
        org.assertj.core.api.Assertions.assertThatThrownBy(
                () -> flat(HELLO, LOAD, VmConfig.ClockKind.DETERMINISTIC).smp(6).sockets(2).build())
                .isInstanceOf(MachineConfigException.class).hasMessageContaining("sockets");
        org.assertj.core.api.Assertions.assertThatThrownBy(
                () -> flat(HELLO, LOAD, VmConfig.ClockKind.DETERMINISTIC).smp(2)
                        .tscWarps(java.util.List.of(new MachineConfig.VcpuValue(2, 1))).build())
                .isInstanceOf(MachineConfigException.class).hasMessageContaining("no vCPU 2");
    }

    @Test
    void anApicTimerInterruptWakesAHaltedCpu() {
        // IDT at 0x9000 with one gate for vector 0x40 -> handler; enable APIC, one-shot timer, sti; hlt.
        // The handler writes 'T' and exits with 7.
        byte[] image = new byte[0x300];
        byte[] main = concat(
                0xbc, 0x00, 0x70, 0x00, 0x00,                                // mov esp, 0x7000
                0x0f, 0x01, 0x15, 0xf0, 0x81, 0x00, 0x00,                    // lgdt [0x81f0]
                0x0f, 0x01, 0x1d, 0x00, 0x82, 0x00, 0x00,                    // lidt [0x8200]
                0xc7, 0x05, 0xf0, 0x00, 0xe0, 0xfe, 0xff, 0x01, 0x00, 0x00, // SVR = 0x1ff
                0xc7, 0x05, 0xe0, 0x03, 0xe0, 0xfe, 0x0b, 0x00, 0x00, 0x00, // divide by 1
                0xc7, 0x05, 0x20, 0x03, 0xe0, 0xfe, 0x40, 0x00, 0x00, 0x00, // LVT timer: one-shot, vector 0x40
                0xc7, 0x05, 0x80, 0x03, 0xe0, 0xfe, 0x00, 0x10, 0x00, 0x00, // initial count 0x1000
                0xfb,                                                        // sti
                0xf4,                                                        // hlt
                0xeb, 0xfd);                                                 // jmp hlt
        byte[] handler = concat(
                0x66, 0xba, 0xf8, 0x03, 0xb0, 'T', 0xee,                     // out 0x3f8, 'T'
                0x66, 0xba, 0xf4, 0x00, 0xb8, 0x07, 0x00, 0x00, 0x00, 0xef); // outl 0xf4, 7
        System.arraycopy(main, 0, image, 0, main.length);
        System.arraycopy(handler, 0, image, 0x100, handler.length);
        // GDT at 0x8180: null, flat code 0x08, flat data 0x10; GDTR at 0x81f0 (the gate loads CS from it).
        putLe(image, 0x188, 0x00cf9a000000ffffL, 8);
        putLe(image, 0x190, 0x00cf92000000ffffL, 8);
        putLe(image, 0x1f0, 23, 2);
        putLe(image, 0x1f2, LOAD + 0x180, 4);
        // IDTR at 0x8200: limit 0x207 (65 gates), base 0x8210.
        putLe(image, 0x200, 0x207, 2);
        putLe(image, 0x202, LOAD + 0x210, 4);
        // Gate 0x40 at 0x8210 + 0x200: a 32-bit interrupt gate to 0x08:0x8100.
        int gate = 0x210 + 0x40 * 8;
        byte[] big = new byte[gate + 8];
        System.arraycopy(image, 0, big, 0, image.length);
        putLe(big, gate, (LOAD + 0x100) & 0xffff, 2);
        putLe(big, gate + 2, 0x08, 2);
        putLe(big, gate + 4, 0x8e00, 2);
        putLe(big, gate + 6, (LOAD + 0x100) >>> 16, 2);
        for (VmConfig.ClockKind clock : VmConfig.ClockKind.values()) {
            serial.reset();
            RunResult r = new Machine(flat(big, LOAD, clock).build()).run();
            assertThat(r.exitStatus()).as(clock + ": " + r.reason()).isEqualTo(15);
            assertThat(serialText()).isEqualTo("T");
        }
    }

    private static void putLe(byte[] b, int at, long value, int bytes) {
        for (int i = 0; i < bytes; i++) {
            b[at + i] = (byte) (value >>> (8 * i));
        }
    }

    /**
     * ACPI S3 as kvm-unit-tests' s3 does it: the FACS's waking vector, RTC_EN in PM1, the RTC
     * alarm ("don't care" everywhere: the next second) with AIE, then SLP_TYP = the DSDT's \_S3
     * with SLP_EN. The machine wakes at the alarm and the BSP starts in real mode at the vector,
     * where PM1's status shows WAK_STS and RTC_STS.
     */
    @ParameterizedTest
    @EnumSource(VmConfig.ClockKind.class)
    void s3SleepsUntilTheRtcAlarmAndResumesAtTheFacsWakingVector(VmConfig.ClockKind clock) {
        byte[] code = concat(
                0xc7, 0x05, 0x4c, 0x00, 0x0e, 0x00, 0x40, 0x80, 0x00, 0x00, // movl $0x8040, 0xe004c (FACS + 12)
                0x66, 0xb8, 0x00, 0x04, 0x66, 0xba, 0x02, 0x06, 0x66, 0xef,  // mov $0x400,%ax; mov $0x602,%dx; out %ax,(%dx): RTC_EN
                0xb0, 0x01, 0xe6, 0x70, 0xb0, 0xc0, 0xe6, 0x71,              // CMOS 1 (seconds alarm) = 0xc0
                0xb0, 0x03, 0xe6, 0x70, 0xb0, 0xc0, 0xe6, 0x71,              // CMOS 3 (minutes alarm) = 0xc0
                0xb0, 0x05, 0xe6, 0x70, 0xb0, 0xc0, 0xe6, 0x71,              // CMOS 5 (hours alarm) = 0xc0
                0xb0, 0x0b, 0xe6, 0x70, 0xe4, 0x71, 0x0c, 0x20, 0xe6, 0x71,  // CMOS B |= AIE
                0x66, 0xb8, 0x00, 0x24, 0x66, 0xba, 0x04, 0x06, 0x66, 0xef,  // PM1a_CNT = SLP_TYP 1 | SLP_EN
                0xeb, 0xfe);                                                  // jmp . (the vCPU stops in S3)
        byte[] image = java.util.Arrays.copyOf(code, 0x50);
        byte[] resume = concat(
                0xba, 0x00, 0x06,  // mov $0x600,%dx (real mode)
                0xed,              // in (%dx),%ax: PM1 status
                0x88, 0xe0,        // mov %ah,%al
                0xc0, 0xe8, 0x02,  // shr $2,%al: WAK_STS|RTC_STS (0x84) -> 0x21
                0xe6, 0xf4,        // out %al,$0xf4
                0xf4);             // hlt
        System.arraycopy(resume, 0, image, 0x40, resume.length);
        RunResult r = new Machine(flat(image, LOAD, clock).build()).run();
        assertThat(r.kind()).as(r.reason()).isEqualTo(RunResult.Reason.DEBUG_EXIT);
        assertThat(r.exitStatus()).isEqualTo((0x21 << 1) | 1);
    }

    /** Without a wake event enabled, S3 is the end: the run ends as a shutdown that says why. */
    @Test
    void s3WithNoWakeEventEndsTheRun() {
        byte[] code = concat(
                0x66, 0xb8, 0x00, 0x24, 0x66, 0xba, 0x04, 0x06, 0x66, 0xef,  // PM1a_CNT = SLP_TYP 1 | SLP_EN
                0xeb, 0xfe);
        RunResult r = new Machine(flat(code, LOAD, VmConfig.ClockKind.DETERMINISTIC).build()).run();
        assertThat(r.kind()).isEqualTo(RunResult.Reason.SHUTDOWN);
        assertThat(r.reason()).contains("S3").contains("no wake event");
    }
}

package org.tscvm.machine;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tscvm.vm.Mtrrs;
import org.tscvm.vm.VmConfig;

/** The PC platform through the whole machine: ACPI tables in RAM, power-off and reset. */
class PcBoardTest {
    private static final long LOAD = 0x8000;

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    private static MachineConfig.Builder flat(byte[] code) {
        return MachineConfig.builder()
                .ramBytes(16L << 20)
                .kernel("test.bin", code)
                .flat(LOAD, LOAD)
                .serial(new SerialTarget.ToStream(new ByteArrayOutputStream()))
                .clock(VmConfig.ClockKind.DETERMINISTIC)
                .timeout(Duration.ofSeconds(20));
    }

    /** mov dx, port; mov ax, value; out dx, ax; jmp $ */
    private static byte[] outw(int port, int value) {
        return bytes(0x66, 0xba, port & 0xff, port >>> 8, 0x66, 0xb8, value & 0xff, value >>> 8, 0x66, 0xef, 0xeb, 0xfe);
    }

    /** mov dx, port; mov al, value; out dx, al; jmp $ */
    private static byte[] outb(int port, int value) {
        return bytes(0x66, 0xba, port & 0xff, port >>> 8, 0xb0, value, 0xee, 0xeb, 0xfe);
    }

    @Test
    void theRsdpIsInRamInTheBiosAreaAndTheReservedRangeCoversTheTables() {
        Machine m = new Machine(flat(outb(0xf4, 0)).smp(2).build());
        long rsdp = m.rsdpAddress();
        assertThat(rsdp).isBetween(0xe0000L, 0xfffffL);
        assertThat(rsdp % 16).isZero();
        byte[] signature = new byte[8];
        for (int i = 0; i < 8; i++) {
            signature[i] = (byte) m.vm().memory().read8(rsdp + i);
        }
        assertThat(new String(signature, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("RSD PTR ");
        assertThat(m.reservedRanges()).anySatisfy(r -> {
            assertThat(r.start()).isLessThanOrEqualTo(rsdp);
            assertThat(r.end()).isEqualTo(0x100000L);
        });
    }

    @Test
    void slpEnWithS5InPm1aControlPowersOffWithStatusZero() {
        RunResult r = new Machine(flat(outw(0x604, 0x2000)).build()).run();
        assertThat(r.kind()).isEqualTo(RunResult.Reason.SHUTDOWN);
        assertThat(r.exitStatus()).isZero();
    }

    /**
     * Counts boots in CMOS byte 0x40 (battery-backed: a reset keeps it) and resets through port
     * 0xCF9 until it reads 2, then exits with it (status 5). Each boot first checks that the
     * byte it stored into its own image at 0x8100 is gone again: a reboot loads the kernel anew.
     */
    private static final byte[] REBOOT_TWICE = bytes(
            0xa0, 0x00, 0x81, 0x00, 0x00,             // mov al, [0x8100]
            0x84, 0xc0,                               // test al, al
            0x75, 0x26,                               // jnz bad
            0xc6, 0x05, 0x00, 0x81, 0x00, 0x00, 0x55, // mov byte [0x8100], 0x55
            0xb0, 0x40, 0xe6, 0x70,                   // mov al, 0x40; out 0x70, al
            0xe4, 0x71,                               // in al, 0x71
            0x3c, 0x02,                               // cmp al, 2
            0x74, 0x0d,                               // je done
            0xfe, 0xc0, 0xe6, 0x71,                   // inc al; out 0x71, al
            0x66, 0xba, 0xf9, 0x0c, 0xb0, 0x06, 0xee, // mov dx, 0xcf9; mov al, 6; out dx, al
            0xeb, 0xfe,                               // jmp $
            0x66, 0xba, 0xf4, 0x00,                   // done: mov dx, 0xf4
            0x0f, 0xb6, 0xc0, 0xef,                   // movzx eax, al; out dx, eax
            0x66, 0xba, 0xf4, 0x00,                   // bad: mov dx, 0xf4
            0xb8, 0x7f, 0x00, 0x00, 0x00, 0xef);      // mov eax, 0x7f; out dx, eax

    @ParameterizedTest
    @EnumSource(VmConfig.ClockKind.class)
    void aResetThroughPortCf9RebootsTheMachineWithTheKernelLoadedAgain(VmConfig.ClockKind clock) {
        byte[] image = java.util.Arrays.copyOf(REBOOT_TWICE, 0x200);
        Machine m = new Machine(flat(image).clock(clock).smp(2).build());
        RunResult r = m.run();
        assertThat(r.exitStatus()).as(r.reason()).isEqualTo((2 << 1) | 1);
        assertThat(m.reboots()).isEqualTo(2);
    }

    /** Unmasks I/O APIC pin 5 and resets; after the reboot the pin must read masked again (status 3). */
    private static final byte[] UNMASK_THEN_CHECK_AFTER_REBOOT = bytes(
            0xb0, 0x41, 0xe6, 0x70, 0xe4, 0x71,       // mov al, 0x41; out 0x70, al; in al, 0x71
            0x84, 0xc0,                               // test al, al
            0x75, 0x21,                               // jnz second
            0xb0, 0x01, 0xe6, 0x71,                   // mov al, 1; out 0x71, al
            0xc7, 0x05, 0x00, 0x00, 0xc0, 0xfe, 0x1a, 0, 0, 0, // mov dword [IOREGSEL], 0x1a (pin 5 low)
            0xc7, 0x05, 0x10, 0x00, 0xc0, 0xfe, 0x30, 0, 0, 0, // mov dword [IOWIN], 0x30 (unmasked)
            0x66, 0xba, 0xf9, 0x0c, 0xb0, 0x06, 0xee, // mov dx, 0xcf9; mov al, 6; out dx, al
            0xeb, 0xfe,                               // jmp $
            0xc7, 0x05, 0x00, 0x00, 0xc0, 0xfe, 0x1a, 0, 0, 0, // second: mov dword [IOREGSEL], 0x1a
            0xa1, 0x10, 0x00, 0xc0, 0xfe,             // mov eax, [IOWIN]
            0xc1, 0xe8, 0x10, 0x83, 0xe0, 0x01,       // shr eax, 16; and eax, 1 (the mask bit)
            0x66, 0xba, 0xf4, 0x00, 0xef);            // mov dx, 0xf4; out dx, eax

    @Test
    void aRebootPutsTheDevicesBackToPowerOn() {
        Machine m = new Machine(flat(UNMASK_THEN_CHECK_AFTER_REBOOT).build());
        RunResult r = m.run();
        assertThat(r.exitStatus()).as(r.reason()).isEqualTo((1 << 1) | 1);
        assertThat(m.reboots()).isEqualTo(1);
    }

    @Test
    void withNoRebootAResetEndsTheRunWithStatusZeroAsQemuDoes() {
        RunResult r = new Machine(flat(outb(0x64, 0xfe)).noReboot(true).build()).run();
        assertThat(r.kind()).isEqualTo(RunResult.Reason.RESET);
        assertThat(r.exitStatus()).isZero();
        assertThat(r.reason()).contains("keyboard controller");
    }

    @Test
    void aByteWriteInsideThePciAddressPortIsNotTakenForAnAddressAndADwordOneIsNotAReset() {
        // outl 0x80000000 to 0xCF8 (a PCI address), then inl 0xCFC must read the host bridge id.
        byte[] code = bytes(
                0x66, 0xba, 0xf8, 0x0c,             // mov dx, 0xcf8
                0xb8, 0x00, 0x00, 0x00, 0x80,       // mov eax, 0x80000000
                0xef,                               // out dx, eax
                0x66, 0xba, 0xfc, 0x0c,             // mov dx, 0xcfc
                0xed,                               // in eax, dx
                0x3d, 0x86, 0x80, 0x37, 0x12,       // cmp eax, 0x12378086
                0x75, 0x07,                         // jne fail
                0x66, 0xba, 0xf4, 0x00,             // mov dx, 0xf4
                0x31, 0xc0,                         // xor eax, eax
                0xef,                               // out dx, eax   (status 1)
                0x66, 0xba, 0xf4, 0x00,             // fail: mov dx, 0xf4
                0xb8, 0x01, 0x00, 0x00, 0x00,       // mov eax, 1
                0xef);                              // out dx, eax   (status 3)
        RunResult r = new Machine(flat(code).build()).run();
        assertThat(r.exitStatus()).isEqualTo(1);
    }

    @Test
    void everyVcpuStartsWithTheMtrrsFirmwareWouldLeave() {
        Machine m = new Machine(flat(outb(0xf4, 0)).smp(2).build());
        for (var vcpu : m.vm().vcpus()) {
            assertThat(vcpu.getMsr(Mtrrs.DEF_TYPE)).isEqualTo(0xc06);
            assertThat(vcpu.getMsr(Mtrrs.FIX_64K_00000)).isEqualTo(0x0606_0606_0606_0606L);
            assertThat(vcpu.getMsr(Mtrrs.PHYS_BASE_0)).isEqualTo(0xc000_0000L);
            assertThat(vcpu.getMsr(Mtrrs.PHYS_BASE_0 + 1)).isEqualTo(0xff_c000_0800L);
        }
    }
}

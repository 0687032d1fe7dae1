package org.tscvm.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tscvm.devices.IoApic;
import org.tscvm.devices.LocalApic;
import org.tscvm.machine.Machine;
import org.tscvm.memory.MmioBus;
import org.tscvm.memory.PortIoBus;
import org.tscvm.tsc.DeterministicHostClock;

/**
 * Every board device round-trips through a snapshot file with its interrupts pending: the PIT
 * mid-count, the 8259 pair with requests and one in service, the UART with bytes in its FIFO
 * and its interrupt pending, the I/O APIC with a level interrupt's remote IRR set, the CMOS with
 * its alarm and update settings. The restored machine saves to the same file (save time aside),
 * and answers every probe of its devices as the original does.
 */
class DeviceSnapshotTest {
    private static final long IO_APIC = 0xfec0_0000L;
    private static final long APIC = LocalApic.DEFAULT_BASE;
    private static final int PIC_MASTER = 0x20;
    private static final int PIT = 0x40;
    private static final int COM1 = 0x3f8;
    private static final int CMOS = 0x70;
    private static final int TESTDEV_IRQ = 0x2000;
    private static final int VECTOR = 0x45;
    private static final int GSI = 17;

    @Test
    void everyDeviceWithPendingInterruptsContinuesAfterARestore() throws Exception {
        Machine original = new Machine(SnapshotFiles.smallMachine().build());
        PortIoBus io = original.vm().ioBus();
        MmioBus mmio = original.vm().mmioBus();
        LocalApic apic = original.apic(0);

        // 8259 pair: initialised, everything unmasked; IRQ 3 acknowledged (in service), IRQ 5 requested.
        io.out(PIC_MASTER, 1, 0x11);
        io.out(PIC_MASTER + 1, 1, 0x20);
        io.out(PIC_MASTER + 1, 1, 0x04);
        io.out(PIC_MASTER + 1, 1, 0x01);
        io.out(PIC_MASTER + 1, 1, 0x00);
        io.out(TESTDEV_IRQ + 3, 1, 1);
        io.out(TESTDEV_IRQ + 5, 1, 1);
        io.out(PIC_MASTER, 1, 0x0c); // OCW3 poll: the next read acknowledges IRQ 3
        assertThat(io.in(PIC_MASTER, 1)).isEqualTo(0x83);

        // PIT counter 0: mode 2, count 0x4000, and time passes.
        io.out(PIT + 3, 1, 0x34);
        io.out(PIT, 1, 0x00);
        io.out(PIT, 1, 0x40);
        ((DeterministicHostClock) original.vm().clock()).advance(123_457);

        // UART: receive-data interrupt enabled, three bytes in the FIFO.
        io.out(COM1 + 1, 1, 0x01);
        byte[] received = "hi!".getBytes(StandardCharsets.US_ASCII);
        assertThat(original.uart().receive(received, 0, received.length)).isEqualTo(3);
        assertThat(io.in(COM1 + 2, 1) & 0x0f).isEqualTo(0x04); // IIR: received data available

        // Local APIC on, I/O APIC pin 17 level-triggered to vector 0x45, and the line raised.
        apic.writeMmio(APIC + 0xf0, 4, 0x1ff);
        mmio.write(IO_APIC + IoApic.IOREGSEL, 4, IoApic.REG_REDIRECTION_BASE + 2 * GSI);
        mmio.write(IO_APIC + IoApic.IOWIN, 4, VECTOR | (1 << 15));
        io.out(TESTDEV_IRQ + GSI, 1, 1);
        assertThat(redirection(mmio) & IoApic.REMOTE_IRR).isNotZero();
        assertThat(apic.pendingInterrupt()).isEqualTo(VECTOR);

        // CMOS: an alarm at 12:34:56, alarm and update interrupts enabled.
        cmosWrite(io, 0x01, 0x56);
        cmosWrite(io, 0x03, 0x34);
        cmosWrite(io, 0x05, 0x12);
        cmosWrite(io, 0x0b, 0x02 | 0x20 | 0x10);

        ByteArrayOutputStream file = new ByteArrayOutputStream();
        MachineSnapshot.write(original, file);
        MachineState state = MachineSnapshot.read(new ByteArrayInputStream(file.toByteArray()));
        Machine restored = new Machine(SnapshotFiles.smallMachine().build());
        MachineSnapshot.restore(restored, state, RestoreTime.PAUSED);

        assertThat(withoutSaveTime(restored)).isEqualTo(withoutSaveTime(original));
        List<Long> probedOriginal = probe(original);
        List<Long> probedRestored = probe(restored);
        assertThat(probedRestored).isEqualTo(probedOriginal);
        // What the probes saw is what was pending (so the comparison above compares something).
        assertThat(probedOriginal.subList(0, 6)).containsExactly(
                0x30L, // PIC IRR: IRQ 4 (the UART's) and IRQ 5 requested
                0x08L, // PIC ISR: IRQ 3 in service
                (long) 0x04, // UART IIR: received data available
                (long) 'h', (long) 'i', (long) '!');
    }

    private static void cmosWrite(PortIoBus io, int register, int value) {
        io.out(CMOS, 1, register);
        io.out(CMOS + 1, 1, value);
    }

    private static long cmosRead(PortIoBus io, int register) {
        io.out(CMOS, 1, register);
        return io.in(CMOS + 1, 1);
    }

    private static long redirection(MmioBus mmio) {
        mmio.write(IO_APIC + IoApic.IOREGSEL, 4, IoApic.REG_REDIRECTION_BASE + 2 * GSI);
        return mmio.read(IO_APIC + IoApic.IOWIN, 4);
    }

    /** Guest-visible reads (and the writes between them) that a restored machine must answer as the original. */
    private static List<Long> probe(Machine m) {
        PortIoBus io = m.vm().ioBus();
        MmioBus mmio = m.vm().mmioBus();
        LocalApic apic = m.apic(0);
        List<Long> seen = new ArrayList<>();
        io.out(PIC_MASTER, 1, 0x0a);
        seen.add((long) io.in(PIC_MASTER, 1)); // IRR
        io.out(PIC_MASTER, 1, 0x0b);
        seen.add((long) io.in(PIC_MASTER, 1)); // ISR
        seen.add((long) (io.in(COM1 + 2, 1) & 0x0f));
        for (int i = 0; i < 3; i++) {
            seen.add((long) io.in(COM1, 1));
        }
        seen.add((long) (io.in(COM1 + 5, 1) & 1)); // LSR data ready: the FIFO is empty now
        io.out(PIC_MASTER, 1, 0x20); // EOI for IRQ 3
        io.out(PIC_MASTER, 1, 0x0c);
        seen.add((long) io.in(PIC_MASTER, 1)); // poll: the next request
        io.out(PIT + 3, 1, 0x00); // latch counter 0
        seen.add((long) (io.in(PIT, 1) | io.in(PIT, 1) << 8));
        seen.add(m.vm().clock().now());
        seen.add(redirection(mmio));
        seen.add((long) apic.pendingInterrupt());
        seen.add((long) apic.acknowledgeInterrupt());
        apic.writeMmio(APIC + 0xb0, 4, 0); // EOI: a level interrupt still asserted is delivered again
        seen.add(redirection(mmio));
        seen.add((long) apic.pendingInterrupt());
        for (int register : new int[] {0x00, 0x01, 0x03, 0x05, 0x0a, 0x0b, 0x0c, 0x0d}) {
            seen.add(cmosRead(io, register));
        }
        return seen;
    }

    /** The machine's state as file bytes, with the wall-clock save time left out. */
    private static byte[] withoutSaveTime(Machine m) throws Exception {
        MachineState s = MachineSnapshot.save(m);
        SavedTime t = s.time();
        MachineState timeless = new MachineState(s.tscvmVersion(), s.config(),
                new SavedTime(0, t.hostKhz(), t.hostTsc(), t.hostTscAdjust(), t.deterministic(), t.tsc()),
                s.board(), s.vcpus(), s.ram());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        MachineSnapshot.write(timeless, out);
        return out.toByteArray();
    }
}

package org.tscvm.snapshot;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;
import org.tscvm.machine.BoardState;
import org.tscvm.memory.GuestMemory;
import org.tscvm.vm.VmTscState;

/** Writes a {@link MachineState} in the format of docs/snapshot-format.md, section by section. */
final class SnapshotWriter {
    private static final byte[] NO_BYTES = new byte[0];
    private final OutputStream out;

    private SnapshotWriter(OutputStream out) {
        this.out = out;
    }

    static void write(MachineState state, OutputStream out) throws IOException {
        new SnapshotWriter(out).writeAll(state, null);
        out.flush();
    }

    /**
     * Writes {@code state}, which holds no RAM, with the RAM of {@code memory} encoded as it
     * goes out: the machine must stay stopped until this returns.
     */
    static void write(MachineState state, GuestMemory memory, OutputStream out) throws IOException {
        new SnapshotWriter(out).writeAll(state, memory);
        out.flush();
    }

    /** The sections of {@code s}; RAM from {@code liveRam} when it is given, else {@code s}'s own. */
    private void writeAll(MachineState s, GuestMemory liveRam) throws IOException {
        header(s);
        section(SnapshotFormat.Section.CONF, new SectionOut().raw(s.config().text().getBytes(StandardCharsets.UTF_8))
                .toByteArray());
        section(SnapshotFormat.Section.TIME, time(s.time(), s.board().deviceNanos()));
        for (int i = 0; i < s.vcpus().size(); i++) {
            section(SnapshotFormat.Section.VCPU, VcpuCodec.write(i, s.vcpus().get(i)));
        }
        BoardState b = s.board();
        section(SnapshotFormat.Section.PIT, BoardCodec.pit(b.pit()));
        section(SnapshotFormat.Section.UART, BoardCodec.uart(b.uart()));
        section(SnapshotFormat.Section.CMOS, BoardCodec.cmos(b.cmos()));
        section(SnapshotFormat.Section.FW_CFG, BoardCodec.fwCfg(b.fwCfg()));
        section(SnapshotFormat.Section.ACPI_PM, BoardCodec.acpiPm(b.acpiPm()));
        section(SnapshotFormat.Section.I8042, BoardCodec.i8042(b.i8042()));
        section(SnapshotFormat.Section.PCI_HOST, BoardCodec.pciHost(b.pciHost()));
        section(SnapshotFormat.Section.RESET_CONTROL, BoardCodec.resetControl(b.resetControl()));
        section(SnapshotFormat.Section.SHUTDOWN_PORT, BoardCodec.shutdownPort(b.shutdownPort()));
        if (b.pcTestdev() != null) {
            section(SnapshotFormat.Section.PC_TESTDEV, BoardCodec.pcTestdev(b.pcTestdev()));
        }
        section(SnapshotFormat.Section.PIC, BoardCodec.pic(b.pic()));
        section(SnapshotFormat.Section.IO_APIC, BoardCodec.ioApic(b.ioApic()));
        if (liveRam != null) {
            RamImage.encode(liveRam,
                    (index, present, encoding, data, length) -> ram(index, present, encoding, data, 0, length));
        }
        for (RamImage.Chunk c : s.ram().chunks()) {
            ram(c.index(), c.present(), c.encoding(), c.data(), c.offset(), c.length());
        }
        section(SnapshotFormat.Section.END, NO_BYTES, NO_BYTES, 0, 0);
    }

    private void header(MachineState s) throws IOException {
        SectionOut h = new SectionOut().raw(SnapshotFormat.MAGIC).u8(SnapshotFormat.VERSION)
                .u8(SnapshotFormat.VERSION >>> 8).u8(0).u8(0).i64(s.config().hash()).string(s.tscvmVersion());
        byte[] bytes = h.toByteArray();
        CRC32C crc = new CRC32C();
        crc.update(bytes);
        out.write(bytes);
        out.write(new SectionOut().i32((int) crc.getValue()).toByteArray());
    }

    static byte[] time(SavedTime t, long deviceNanos) {
        SectionOut out = new SectionOut().i64(t.savedAtEpochNanos()).i64(t.hostKhz()).i64(t.hostTsc())
                .i64(t.hostTscAdjust()).bool(t.deterministic()).i64(deviceNanos).i32(t.tsc().vcpus().size());
        for (VmTscState.Vcpu v : t.tsc().vcpus()) {
            out.i64(v.tscKhz()).i64(v.guestTsc()).i64(v.tscAdjust()).i64(v.tscAux()).i64(v.tscDeadline());
        }
        return out.toByteArray();
    }

    /** A RAM section: its fields, then the chunk's data as it is (not copied into one payload). */
    private void ram(int index, long[] present, int encoding, byte[] data, int offset, int length) throws IOException {
        section(SnapshotFormat.Section.RAM, RamImage.fields(index, present, encoding), data, offset, length);
    }

    private void section(SnapshotFormat.Section section, byte[] payload) throws IOException {
        section(section, payload, NO_BYTES, 0, 0);
    }

    /** One section whose payload is {@code fields}, then {@code dataLength} bytes of {@code data} from {@code dataOffset}. */
    private void section(SnapshotFormat.Section section, byte[] fields, byte[] data, int dataOffset, int dataLength)
            throws IOException {
        int length = fields.length + dataLength;
        if (length > section.maxPayload) {
            throw new IllegalStateException(section.displayName + " section of " + length
                    + " bytes exceeds the format's limit of " + section.maxPayload);
        }
        byte[] head = new SectionOut().i32(section.tagInt()).i32(length).toByteArray();
        CRC32C crc = new CRC32C();
        crc.update(head);
        crc.update(fields);
        crc.update(data, dataOffset, dataLength);
        out.write(head);
        out.write(fields);
        out.write(data, dataOffset, dataLength);
        out.write(new SectionOut().i32((int) crc.getValue()).toByteArray());
    }
}

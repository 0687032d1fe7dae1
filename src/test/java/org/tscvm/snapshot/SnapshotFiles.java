package org.tscvm.snapshot;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.tscvm.machine.Machine;
import org.tscvm.machine.MachineConfig;

/** Snapshot files for tests, and their layout, walked with the format's own rules. */
final class SnapshotFiles {
    private SnapshotFiles() {
    }

    /** One section in a file: where its header starts, its tag, and where its payload lies. */
    record Span(int start, String tag, int payloadStart, int payloadLength) {
        int end() {
            return payloadStart + payloadLength + 4;
        }
    }

    /** A 2-vCPU machine with pc-testdev, run a little on the deterministic clock. */
    static MachineConfig.Builder smallMachine() {
        return Guests.deterministic("apic_timer", 2, new ByteArrayOutputStream()).pcTestdev(true);
    }

    static byte[] savedMidRun() throws Exception {
        Machine m = new Machine(smallMachine().build());
        m.runUntil(2_000_000);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        MachineSnapshot.write(m, out);
        return out.toByteArray();
    }

    static MachineState read(byte[] file) {
        return MachineSnapshot.read(new ByteArrayInputStream(file));
    }

    static int headerLength(byte[] file) {
        int versionLength = (file[20] & 0xff) | (file[21] & 0xff) << 8;
        return 22 + versionLength + 4;
    }

    static List<Span> sections(byte[] file) {
        List<Span> spans = new ArrayList<>();
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        int at = headerLength(file);
        while (at < file.length) {
            String tag = new String(file, at, 4, StandardCharsets.US_ASCII);
            int length = b.getInt(at + 4);
            spans.add(new Span(at, tag, at + 8, length));
            at += 8 + length + 4;
        }
        return spans;
    }

    /** Recomputes the CRC of the section at {@code span} (after its payload was edited in place). */
    static void fixCrc(byte[] file, Span span) {
        CRC32C crc = new CRC32C();
        crc.update(file, span.start(), 8 + span.payloadLength());
        ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).putInt(span.payloadStart() + span.payloadLength(),
                (int) crc.getValue());
    }

    /** The file with section {@code span}'s payload replaced by {@code payload}, length and CRC made to match. */
    static byte[] withPayload(byte[] file, Span span, byte[] payload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(file, 0, span.start());
        byte[] head = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                .put(file, span.start(), 4).putInt(payload.length).array();
        CRC32C crc = new CRC32C();
        crc.update(head);
        crc.update(payload);
        out.write(head, 0, 8);
        out.write(payload, 0, payload.length);
        out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) crc.getValue()).array(), 0, 4);
        out.write(file, span.end(), file.length - span.end());
        return out.toByteArray();
    }

    static byte[] payload(byte[] file, Span span) {
        return java.util.Arrays.copyOfRange(file, span.payloadStart(), span.payloadStart() + span.payloadLength());
    }
}

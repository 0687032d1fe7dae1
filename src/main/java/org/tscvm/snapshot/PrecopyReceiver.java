package org.tscvm.snapshot;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.zip.CRC32C;
import org.tscvm.machine.Machine;
import org.tscvm.memory.GuestMemory;
import org.tscvm.snapshot.SnapshotException.Kind;

/**
 * The destination side of a pre-copy live migration (docs/migration-stream.md): checks the
 * header against this machine, clears its RAM, writes each page record's pages as it arrives
 * (each record's length and CRC checked first, then every field), and at the DONE record
 * reads the machine's final state. The machine must be held (no vCPU running) throughout; a
 * stream refused half-way leaves its RAM half-written, so the caller ends the run.
 */
public final class PrecopyReceiver {
    private final InputStream in;
    private final GuestMemory memory;
    private final byte[] payload = new byte[PrecopyFormat.MAX_PAGE_PAYLOAD];
    private long offset;
    private long records;

    private PrecopyReceiver(InputStream in, GuestMemory memory) {
        this.in = in;
        this.memory = memory;
    }

    /** True when {@code in} (which must support mark) starts with the pre-copy magic; nothing is consumed. */
    public static boolean isPrecopy(InputStream in) throws IOException {
        in.mark(PrecopyFormat.MAGIC.length);
        byte[] magic = in.readNBytes(PrecopyFormat.MAGIC.length);
        in.reset();
        return Arrays.equals(magic, PrecopyFormat.MAGIC);
    }

    /**
     * Reads a whole pre-copy stream into {@code machine} (held): RAM page by page, then the
     * final state, which is returned checked but not restored ({@link MachineSnapshot#restoreOverRam}).
     *
     * @throws SnapshotException of the kind of the first fault; nothing else escapes but the
     *         stream's own IOException
     */
    public static MachineState receive(Machine machine, InputStream in) throws IOException {
        PrecopyReceiver r = new PrecopyReceiver(in, machine.vm().memory());
        try {
            r.header(ConfigFingerprint.of(machine.config()).hash());
            for (GuestMemory.Range range : r.memory.ranges()) {
                r.memory.fill(range.start(), range.length(), (byte) 0);
            }
            r.pages();
        } catch (SnapshotException | IOException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new SnapshotException(Kind.CORRUPT, "migration record " + r.records, "the contents are inconsistent: " + e);
        }
        MachineState state = MachineSnapshot.read(in);
        if (state.ram().storedPages() != 0) {
            throw new SnapshotException(Kind.CORRUPT, "migration final state",
                    "holds RAM sections; a migration's RAM comes before it, page by page");
        }
        return state;
    }

    private void header(long fingerprint) throws IOException {
        byte[] h = exactly(PrecopyFormat.HEADER_BYTES + 4, "migration header");
        if (!Arrays.equals(h, 0, 8, PrecopyFormat.MAGIC, 0, 8)) {
            throw new SnapshotException(Kind.NOT_A_SNAPSHOT, null, "the stream does not start with \"TSCVMMIG\"");
        }
        CRC32C crc = new CRC32C();
        crc.update(h, 0, PrecopyFormat.HEADER_BYTES);
        if ((int) crc.getValue() != le32(h, PrecopyFormat.HEADER_BYTES)) {
            throw new SnapshotException(Kind.CORRUPT, "migration header", "the header's CRC-32C does not match its bytes");
        }
        int version = (h[8] & 0xff) | (h[9] & 0xff) << 8;
        if (version != PrecopyFormat.VERSION) {
            throw new SnapshotException(Kind.VERSION, "migration header", "stream version " + version
                    + " is not one this tscvm reads (it reads version " + PrecopyFormat.VERSION + ")");
        }
        if (h[10] != 0 || h[11] != 0) {
            throw new SnapshotException(Kind.CORRUPT, "migration header", "the reserved bytes are not zero");
        }
        long theirs = le64(h, 12);
        long ramBytes = le64(h, 20);
        if (theirs != fingerprint || ramBytes != memory.size()) {
            throw new SnapshotException(Kind.CONFIG_MISMATCH, "migration header", String.format(
                    "the source is another machine: configuration fingerprint %016x and %d bytes of RAM, "
                            + "this machine's are %016x and %d", theirs, ramBytes, fingerprint, memory.size()));
        }
    }

    /** PAGE records up to the DONE record. */
    private void pages() throws IOException {
        int lastRound = 1;
        while (true) {
            records++;
            String name = "migration record " + records;
            byte[] head = exactly(8, name);
            int tag = le32(head, 0);
            long length = le32(head, 4) & 0xffffffffL;
            boolean done = tag == PrecopyFormat.DONE;
            if (!done && tag != PrecopyFormat.PAGE) {
                throw new SnapshotException(Kind.CORRUPT, name, "unknown record tag " + SnapshotFormat.tagText(tag)
                        + "; PAGE or DONE is expected here");
            }
            long limit = done ? 0 : PrecopyFormat.MAX_PAGE_PAYLOAD;
            if (length > limit) {
                throw new SnapshotException(Kind.CORRUPT, name, "its length " + length + " exceeds the limit of " + limit);
            }
            int n = (int) length;
            fill(payload, n, name);
            byte[] tail = exactly(4, name);
            CRC32C crc = new CRC32C();
            crc.update(head);
            crc.update(payload, 0, n);
            if ((int) crc.getValue() != le32(tail, 0)) {
                throw new SnapshotException(Kind.CORRUPT, name, "the CRC-32C does not match the record's bytes");
            }
            if (done) {
                return;
            }
            lastRound = applyPages(new SectionIn(name, Arrays.copyOf(payload, 8)), n, lastRound);
        }
    }

    /** Checks a PAGE record's fields whole, then writes its pages; returns its round. */
    private int applyPages(SectionIn fixed, int length, int lastRound) {
        int round = fixed.i32("round");
        if (round < lastRound) {
            throw fixed.corrupt("round " + round + " follows round " + lastRound);
        }
        int count = fixed.i32("page count");
        if (count < 1 || count > PrecopyFormat.MAX_PAGES_PER_RECORD) {
            throw fixed.corrupt("page count " + count + " is outside 1.." + PrecopyFormat.MAX_PAGES_PER_RECORD);
        }
        int kinds = 8 + 4 * count;
        if (length < kinds + count) {
            throw fixed.corrupt("the record ends inside its page numbers and kinds");
        }
        int dataPages = 0;
        for (int i = 0; i < count; i++) {
            long page = le32(payload, 8 + 4 * i) & 0xffffffffL;
            if (page >= memory.pageCount()) {
                throw fixed.corrupt("page " + page + " is beyond the end of RAM (" + memory.pageCount() + " pages)");
            }
            int kind = payload[kinds + i];
            if (kind != PrecopyFormat.PAGE_ZERO && kind != PrecopyFormat.PAGE_DATA) {
                throw fixed.corrupt("page " + page + " has kind " + kind + "; 0 (zero) and 1 (data) exist");
            }
            dataPages += kind;
        }
        int expected = kinds + count + dataPages * GuestMemory.PAGE_SIZE;
        if (length != expected) {
            throw fixed.corrupt("the record holds " + length + " bytes; its " + dataPages + " data page(s) need "
                    + expected);
        }
        int data = kinds + count;
        for (int i = 0; i < count; i++) {
            long paddr = memory.physicalAddress((le32(payload, 8 + 4 * i) & 0xffffffffL) << GuestMemory.PAGE_SHIFT);
            if (payload[kinds + i] == PrecopyFormat.PAGE_DATA) {
                memory.load(paddr, payload, data, GuestMemory.PAGE_SIZE);
                data += GuestMemory.PAGE_SIZE;
            } else if (!memory.isZeroPage(paddr)) {
                memory.fill(paddr, GuestMemory.PAGE_SIZE, (byte) 0);
            }
        }
        return round;
    }

    private byte[] exactly(int n, String where) throws IOException {
        byte[] b = new byte[n];
        fill(b, n, where);
        return b;
    }

    private void fill(byte[] b, int n, String where) throws IOException {
        int got = in.readNBytes(b, 0, n);
        offset += got;
        if (got < n) {
            throw new SnapshotException(Kind.TRUNCATED, where, "the stream ends at byte " + offset
                    + ": the source stopped sending before the migration was complete");
        }
    }

    private static int le32(byte[] b, int at) {
        return (int) GuestMemory.I32.get(b, at);
    }

    private static long le64(byte[] b, int at) {
        return (long) GuestMemory.I64.get(b, at);
    }
}

package org.tscvm.snapshot;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.zip.CRC32C;
import org.tscvm.machine.Machine;
import org.tscvm.memory.DirtyLogClient;
import org.tscvm.memory.GuestMemory;

/**
 * The source side of a pre-copy live migration (docs/migration-stream.md): RAM is sent while the
 * guest runs, then again the pages it dirtied meanwhile, round after round, until what is left
 * would go within the downtime limit at the bandwidth measured (or {@link #MAX_ROUNDS} rounds
 * have gone); then the guest stops and the last dirty pages and the whole machine's other state
 * go, and the destination's one-byte answer says whether it took them.
 */
public final class PrecopySender {
    /** Rounds after which the guest stops whatever is left: a guest that dirties faster than the link carries never converges. */
    public static final int MAX_ROUNDS = 30;

    /** What the sender needs from the machine's monitor. */
    public interface Control {
        /** Runs {@code action} with every vCPU stopped at an instruction boundary, then lets them run on. */
        void whilePaused(Runnable action);

        /** Stops the guest for the last round; it stays stopped. */
        void stopGuest();

        /** The downtime the guest may be stopped for, in milliseconds (QMP's downtime-limit), read each round. */
        long downtimeLimitMillis();

        /** The figures so far, after each round. */
        void progress(Progress progress);
    }

    /**
     * QMP's MigrationStats, as far as tscvm counts them: bytes on the stream, bytes of dirty
     * pages still to send, RAM size, zero pages and data pages sent, dirty syncs, and the rates
     * of the last round.
     */
    public record Progress(long transferredBytes, long remainingBytes, long totalBytes, long zeroPages,
            long normalPages, int dirtySyncCount, long pagesPerSecond, long dirtyPagesRate, double mbps,
            long expectedDowntimeMillis, long precopyBytes, long downtimeBytes, int rounds) {
    }

    private final Machine machine;
    private final GuestMemory memory;
    private final CountingOut out;
    private final Control control;
    private final byte[] payload = new byte[PrecopyFormat.MAX_PAGE_PAYLOAD];
    private final int[] batch = new int[PrecopyFormat.MAX_PAGES_PER_RECORD];
    private int batched;
    private int round;
    private long zeroPages;
    private long normalPages;
    private int dirtySyncs;
    private long precopyBytes;
    /** The figures after the last pre-copy round. */
    private Progress last;

    private PrecopySender(Machine machine, OutputStream out, Control control) {
        this.machine = machine;
        this.memory = machine.vm().memory();
        this.out = new CountingOut(out);
        this.control = control;
    }

    /**
     * Migrates {@code machine}, running, to {@code out}; {@code answer} is the destination's
     * side of the connection. Returns once the destination has taken the state; the guest is
     * then stopped. Throws (with the guest maybe stopped: the caller resumes it) when the
     * stream or the destination fails; dirty logging is off again either way.
     */
    public static void send(Machine machine, OutputStream out, InputStream answer, Control control) throws IOException {
        new PrecopySender(machine, out, control).run(answer);
    }

    private void run(InputStream answer) throws IOException {
        try {
            header();
            control.whilePaused(() -> memory.startDirtyLog(DirtyLogClient.MIGRATION));
            dirtySyncs = 1;
            long[] dirty = new long[(memory.pageCount() + 63) >>> 6];
            round = 1;
            long roundStart = System.nanoTime();
            long roundBytes = out.count;
            long roundPages = sendAll();
            while (true) {
                int pending = syncWhilePaused(dirty);
                long nanos = Math.max(1, System.nanoTime() - roundStart);
                long bytesPerSecond = (out.count - roundBytes) * 1_000_000_000L / nanos;
                long expectedMillis = bytesPerSecond == 0 ? Long.MAX_VALUE
                        : (long) pending * GuestMemory.PAGE_SIZE * 1000 / bytesPerSecond;
                report(pending, roundPages, nanos, bytesPerSecond, expectedMillis);
                if (expectedMillis <= control.downtimeLimitMillis() || round >= MAX_ROUNDS) {
                    break;
                }
                round++;
                roundStart = System.nanoTime();
                roundBytes = out.count;
                roundPages = sendDirty(dirty);
            }
            precopyBytes = out.count;
            control.stopGuest();
            memory.syncDirtyLog(DirtyLogClient.MIGRATION, dirty); // the guest is stopped: no pause needed
            dirtySyncs++;
            round++;
            sendDirty(dirty);
            record(PrecopyFormat.DONE, 0);
            MachineSnapshot.write(MachineSnapshot.saveWithoutRam(machine), out);
            out.flush();
            int verdict = answer.read();
            if (verdict != PrecopyFormat.ANSWER_LOADED) {
                throw new IOException(verdict < 0 ? "the destination closed the connection without taking the state"
                        : "the destination refused the state (answer " + verdict + ")");
            }
            control.progress(new Progress(out.count, 0, memory.size(), zeroPages, normalPages, dirtySyncs,
                    last.pagesPerSecond(), last.dirtyPagesRate(), last.mbps(), 0, precopyBytes,
                    out.count - precopyBytes, round));
        } finally {
            if (memory.dirtyLogging(DirtyLogClient.MIGRATION)) {
                control.whilePaused(() -> memory.stopDirtyLog(DirtyLogClient.MIGRATION));
            }
        }
    }

    private int syncWhilePaused(long[] dirty) {
        int[] moved = new int[1];
        control.whilePaused(() -> moved[0] = memory.syncDirtyLog(DirtyLogClient.MIGRATION, dirty));
        dirtySyncs++;
        int pending = 0;
        for (long w : dirty) {
            pending += Long.bitCount(w);
        }
        return pending;
    }

    private void report(int pending, long roundPages, long nanos, long bytesPerSecond, long expectedMillis) {
        last = new Progress(out.count, (long) pending * GuestMemory.PAGE_SIZE, memory.size(), zeroPages,
                normalPages, dirtySyncs, roundPages * 1_000_000_000L / nanos, (long) pending * 1_000_000_000L / nanos,
                bytesPerSecond * 8 / 1e6, expectedMillis == Long.MAX_VALUE ? -1 : expectedMillis, precopyBytes,
                precopyBytes == 0 ? 0 : out.count - precopyBytes, round);
        control.progress(last);
    }

    private void header() throws IOException {
        byte[] h = new SectionOut().raw(PrecopyFormat.MAGIC).u8(PrecopyFormat.VERSION).u8(0).u8(0).u8(0)
                .i64(ConfigFingerprint.of(machine.config()).hash()).i64(memory.size()).toByteArray();
        CRC32C crc = new CRC32C();
        crc.update(h);
        out.write(h);
        out.write(new SectionOut().i32((int) crc.getValue()).toByteArray());
    }

    /** Round 1: every page that is not zero (the destination starts from zeros). */
    private long sendAll() throws IOException {
        long sent = 0;
        for (int n = 0; n < memory.pageCount(); n++) {
            long paddr = memory.physicalAddress((long) n << GuestMemory.PAGE_SHIFT);
            if (memory.pageTouched(paddr) && !memory.isZeroPage(paddr)) {
                add(n);
                sent++;
            }
        }
        flushBatch();
        return sent;
    }

    /** A later round: the pages in {@code dirty}, which it clears. */
    private long sendDirty(long[] dirty) throws IOException {
        long sent = 0;
        for (int w = 0; w < dirty.length; w++) {
            long bits = dirty[w];
            dirty[w] = 0;
            while (bits != 0) {
                add((w << 6) + Long.numberOfTrailingZeros(bits));
                bits &= bits - 1;
                sent++;
            }
        }
        flushBatch();
        return sent;
    }

    private void add(int page) throws IOException {
        batch[batched++] = page;
        if (batched == batch.length) {
            flushBatch();
        }
    }

    /** One PAGE record: round, count, page numbers, kinds, then the data pages' bytes. */
    private void flushBatch() throws IOException {
        if (batched == 0) {
            return;
        }
        int n = batched;
        int kinds = 8 + 4 * n;
        int data = kinds + n;
        le32(payload, 0, round);
        le32(payload, 4, n);
        for (int i = 0; i < n; i++) {
            le32(payload, 8 + 4 * i, batch[i]);
            long paddr = memory.physicalAddress((long) batch[i] << GuestMemory.PAGE_SHIFT);
            memory.readPage(paddr, payload, data);
            if (allZero(payload, data)) {
                payload[kinds + i] = PrecopyFormat.PAGE_ZERO;
                zeroPages++;
            } else {
                payload[kinds + i] = PrecopyFormat.PAGE_DATA;
                data += GuestMemory.PAGE_SIZE;
                normalPages++;
            }
        }
        batched = 0;
        record(PrecopyFormat.PAGE, data);
    }

    private void record(int tag, int length) throws IOException {
        byte[] head = new byte[8];
        le32(head, 0, tag);
        le32(head, 4, length);
        CRC32C crc = new CRC32C();
        crc.update(head);
        crc.update(payload, 0, length);
        out.write(head);
        out.write(payload, 0, length);
        byte[] tail = new byte[4];
        le32(tail, 0, (int) crc.getValue());
        out.write(tail);
    }

    private static boolean allZero(byte[] b, int from) {
        for (int i = from; i < from + GuestMemory.PAGE_SIZE; i += 8) {
            if ((long) GuestMemory.I64.get(b, i) != 0) {
                return false;
            }
        }
        return true;
    }

    static void le32(byte[] b, int at, int v) {
        GuestMemory.I32.set(b, at, v);
    }

    /** Counts what goes to the destination: QMP's "transferred". */
    private static final class CountingOut extends OutputStream {
        private final OutputStream out;
        long count;

        CountingOut(OutputStream out) {
            this.out = out;
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }

        @Override
        public void flush() throws IOException {
            out.flush();
        }
    }
}

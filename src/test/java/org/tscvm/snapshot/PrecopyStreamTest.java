package org.tscvm.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tscvm.machine.Machine;
import org.tscvm.memory.GuestMemory;
import org.tscvm.snapshot.SnapshotException.Kind;

/**
 * The pre-copy stream (docs/migration-stream.md) between two machines in one JVM: a stream
 * written by {@link PrecopySender} rebuilds the source's RAM and state, and the receiver
 * refuses every damaged stream with a {@link SnapshotException} of the right kind (bit flips
 * anywhere, truncation anywhere, forged records with matching CRCs, another machine), never
 * another exception.
 */
class PrecopyStreamTest {
    private static Machine source;
    private static byte[] stream;

    /** A sender's control for a machine that is not running: nothing to pause. */
    private static final class Stopped implements PrecopySender.Control {
        int stops;

        @Override
        public void whilePaused(Runnable action) {
            action.run();
        }

        @Override
        public void stopGuest() {
            stops++;
        }

        @Override
        public long downtimeLimitMillis() {
            return 300;
        }

        @Override
        public void progress(PrecopySender.Progress progress) {
        }
    }

    @BeforeAll
    static void send() throws Exception {
        source = new Machine(SnapshotFiles.smallMachine().build());
        source.runUntil(2_000_000);
        GuestMemory ram = source.vm().memory();
        ram.fill(0x1000000, 3 * 4096, (byte) 0x5a); // a few data pages beyond the kernel's
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Stopped control = new Stopped();
        PrecopySender.send(source, out, new ByteArrayInputStream(new byte[] {PrecopyFormat.ANSWER_LOADED}), control);
        assertThat(control.stops).isEqualTo(1);
        assertThat(ram.dirtyLogging()).isFalse();
        stream = out.toByteArray();
    }

    private static MachineState receive(byte[] bytes) throws IOException {
        Machine dst = new Machine(SnapshotFiles.smallMachine().build());
        InputStream in = new java.io.BufferedInputStream(new ByteArrayInputStream(bytes));
        assertThat(PrecopyReceiver.isPrecopy(in)).isTrue();
        MachineState state = PrecopyReceiver.receive(dst, in);
        MachineSnapshot.restoreOverRam(dst, state, RestoreTime.PAUSED);
        return state;
    }

    private static Kind refusal(byte[] bytes) {
        try {
            receive(bytes);
        } catch (SnapshotException e) {
            assertThat(e.getMessage()).isNotBlank();
            return e.kind();
        } catch (IOException | RuntimeException e) {
            throw new AssertionError("escaped: " + e, e);
        }
        return null;
    }

    @Test
    void anUndamagedStreamRebuildsTheSourcesRamAndState() throws Exception {
        Machine dst = new Machine(SnapshotFiles.smallMachine().build());
        dst.vm().memory().fill(0x800000, 4096, (byte) 1); // left over at the destination: must be cleared
        InputStream in = new java.io.BufferedInputStream(new ByteArrayInputStream(stream));
        MachineSnapshot.restoreOverRam(dst, PrecopyReceiver.receive(dst, in), RestoreTime.PAUSED);
        assertThat(in.read()).as("the stream ends with the state").isEqualTo(-1);
        GuestMemory a = source.vm().memory();
        GuestMemory b = dst.vm().memory();
        byte[] pa = new byte[4096];
        byte[] pb = new byte[4096];
        for (int n = 0; n < a.pageCount(); n++) {
            long p = a.physicalAddress((long) n << 12);
            a.readPage(p, pa, 0);
            b.readPage(p, pb, 0);
            assertThat(pb).as("page %d", n).isEqualTo(pa);
        }
        assertThat(dst.vm().vcpus().get(1).saveState().regs().rip())
                .isEqualTo(source.vm().vcpus().get(1).saveState().regs().rip());
    }

    @Test
    void everyTruncationIsRefusedAsTruncated() {
        // From 8 bytes on: a shorter stream does not show the magic, so it is read as a snapshot.
        for (int length = 8; length < stream.length; length += Math.max(1, stream.length / 997)) {
            Kind k = refusal(Arrays.copyOf(stream, length));
            assertThat(k).as("cut at %d of %d", length, stream.length).isEqualTo(Kind.TRUNCATED);
        }
    }

    @Test
    void aBitFlipAnywhereIsRefused() {
        Random random = new Random(7);
        for (int i = 0; i < 400; i++) {
            byte[] bad = stream.clone();
            int at = 8 + random.nextInt(bad.length - 8);
            bad[at] ^= (byte) (1 << random.nextInt(8));
            assertThat(refusal(bad)).as("flip at %d", at).isIn(Kind.CORRUPT, Kind.TRUNCATED, Kind.VERSION,
                    Kind.NOT_A_SNAPSHOT, Kind.CONFIG_MISMATCH);
        }
    }

    /** The stream with its first PAGE record's payload replaced and its CRC made to match. */
    private static byte[] withFirstPagePayload(java.util.function.Consumer<ByteBuffer> edit) {
        byte[] bad = stream.clone();
        int at = PrecopyFormat.HEADER_BYTES + 4;
        ByteBuffer b = ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN);
        int length = b.getInt(at + 4);
        edit.accept(b.slice(at + 8, length).order(ByteOrder.LITTLE_ENDIAN));
        CRC32C crc = new CRC32C();
        crc.update(bad, at, 8 + length);
        b.putInt(at + 8 + length, (int) crc.getValue());
        return bad;
    }

    @Test
    void forgedFieldsWithMatchingCrcsAreRefusedAsCorrupt() {
        assertThat(refusal(withFirstPagePayload(p -> p.putInt(4, 0)))).as("no pages").isEqualTo(Kind.CORRUPT);
        assertThat(refusal(withFirstPagePayload(p -> p.putInt(4, 100_000)))).as("huge count").isEqualTo(Kind.CORRUPT);
        assertThat(refusal(withFirstPagePayload(p -> p.putInt(8, 1 << 30)))).as("beyond RAM").isEqualTo(Kind.CORRUPT);
        assertThat(refusal(withFirstPagePayload(p -> p.put(8 + 4 * p.getInt(4), (byte) 2)))).as("kind").isEqualTo(Kind.CORRUPT);
        assertThat(refusal(withFirstPagePayload(p -> p.put(8 + 4 * p.getInt(4), (byte) 0)))).as("data left over")
                .isEqualTo(Kind.CORRUPT);
        byte[] badTag = stream.clone();
        badTag[PrecopyFormat.HEADER_BYTES + 4] = 'X';
        assertThat(refusal(badTag)).isEqualTo(Kind.CORRUPT);
        byte[] hugeLength = stream.clone();
        ByteBuffer.wrap(hugeLength).order(ByteOrder.LITTLE_ENDIAN).putInt(PrecopyFormat.HEADER_BYTES + 8, -1);
        assertThat(refusal(hugeLength)).as("a lying length is refused before anything is read").isEqualTo(Kind.CORRUPT);
    }

    @Test
    void aStreamOfAnotherMachineIsRefusedAtTheHeader() throws Exception {
        byte[] other = stream.clone();
        ByteBuffer b = ByteBuffer.wrap(other).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(20, 64L << 20);
        CRC32C crc = new CRC32C();
        crc.update(other, 0, PrecopyFormat.HEADER_BYTES);
        b.putInt(PrecopyFormat.HEADER_BYTES, (int) crc.getValue());
        assertThatThrownBy(() -> receive(other)).isInstanceOf(SnapshotException.class)
                .hasMessageContaining("another machine").extracting(e -> ((SnapshotException) e).kind())
                .isEqualTo(Kind.CONFIG_MISMATCH);
        byte[] version = stream.clone();
        version[8] = 3;
        assertThat(refusal(version)).as("the header CRC covers the version").isEqualTo(Kind.CORRUPT);
    }

    @Test
    void aSnapshotIsNotAPrecopyStream() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        MachineSnapshot.write(source, out);
        InputStream in = new java.io.BufferedInputStream(new ByteArrayInputStream(out.toByteArray()));
        assertThat(PrecopyReceiver.isPrecopy(in)).isFalse();
        assertThat(MachineSnapshot.read(in).vcpus()).hasSize(2);
    }
}

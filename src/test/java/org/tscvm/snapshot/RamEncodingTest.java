package org.tscvm.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;
import org.junit.jupiter.api.Test;
import org.tscvm.machine.Machine;
import org.tscvm.memory.GuestMemory;

/**
 * How a save encodes RAM: chunks that compress are deflated, chunks that do not (or barely)
 * are stored raw without being deflated whole, every page comes back exactly, and a save to a
 * stream holds no copy of RAM.
 */
class RamEncodingTest {
    /** The guest's RAM from 8 MiB: 16 chunks this test fills. */
    private static final long FILLED_FROM = 8L << 20;
    private static final int FILLED_CHUNKS = 16;

    private interface PageFill {
        void fill(Random random, byte[] page);
    }

    /** Each page: its own 64 random bytes, repeated. */
    private static final PageFill REPEATED = (random, page) -> {
        byte[] unit = new byte[64];
        random.nextBytes(unit);
        for (int i = 0; i < page.length; i++) {
            page[i] = unit[i % unit.length];
        }
    };
    private static final PageFill RANDOM = Random::nextBytes;
    /** Random bytes from 0..199: deflate shrinks them by about 3.5%, not worth its time. */
    private static final PageFill BARELY = (random, page) -> {
        for (int i = 0; i < page.length; i++) {
            page[i] = (byte) random.nextInt(200);
        }
    };

    @Test
    void repeatedPatternsAreDeflatedToMuchLessThanTheRamAndComeBackExactly() throws Exception {
        Machine m = filled(REPEATED);
        byte[] file = save(m);
        MachineState state = SnapshotFiles.read(file);
        assertThat(filledChunks(state)).hasSize(FILLED_CHUNKS)
                .allSatisfy(c -> assertThat(c.encoding()).isEqualTo(RamImage.ENCODING_DEFLATE));
        assertThat((long) file.length).isLessThan(FILLED_CHUNKS * RamImage.CHUNK_BYTES / 8);
        assertSameRam(m.vm().memory(), state);
    }

    @Test
    void randomRamIsStoredRawAndComesBackExactly() throws Exception {
        Machine m = filled(RANDOM);
        MachineState state = SnapshotFiles.read(save(m));
        assertThat(filledChunks(state)).hasSize(FILLED_CHUNKS).allSatisfy(c -> {
            assertThat(c.encoding()).isEqualTo(RamImage.ENCODING_RAW);
            assertThat(c.length()).isEqualTo((int) RamImage.CHUNK_BYTES);
        });
        assertSameRam(m.vm().memory(), state);
    }

    @Test
    void ramThatDeflateBarelyShrinksIsStoredRaw() throws Exception {
        Machine m = filled(BARELY);
        MachineState state = SnapshotFiles.read(save(m));
        assertThat(filledChunks(state)).hasSize(FILLED_CHUNKS)
                .allSatisfy(c -> assertThat(c.encoding()).isEqualTo(RamImage.ENCODING_RAW));
        assertSameRam(m.vm().memory(), state);
    }

    @Test
    void aChunkThatCompressesOnlyAfterItsSampleIsStoredRawAndOneThatCompressesInItIsDeflatedWhole() {
        byte[] pages = new byte[(int) RamImage.CHUNK_BYTES];
        byte[] packed = new byte[pages.length];
        Deflater deflater = new Deflater(Deflater.BEST_SPEED);
        try {
            new Random(3).nextBytes(pages); // random first, zeros after the sample
            Arrays.fill(pages, RamImage.SAMPLE_BYTES, pages.length, (byte) 0);
            assertThat(RamImage.deflate(deflater, pages, pages.length, packed)).isEqualTo(-1);

            Arrays.fill(pages, 0, RamImage.SAMPLE_BYTES, (byte) 0x5a); // now the sample compresses too
            int n = RamImage.deflate(deflater, pages, pages.length, packed);
            assertThat(n).isPositive().isLessThan(pages.length / 100);
            Inflater inflater = new Inflater();
            byte[] back = new byte[pages.length];
            inflater.setInput(packed, 0, n);
            assertThat(inflater.inflate(back)).isEqualTo(pages.length); // one stream across the sample's flush
            assertThat(inflater.finished()).isTrue();
            inflater.end();
            assertThat(back).isEqualTo(pages);
        } catch (DataFormatException e) {
            throw new AssertionError(e);
        } finally {
            deflater.end();
        }
    }

    @Test
    void savingAMachineToAStreamAllocatesFarLessThanItsRam() throws Exception {
        Machine m = filled(RANDOM);
        OutputStream discard = OutputStream.nullOutputStream();
        MachineSnapshot.write(m, discard); // once for the classes and the JIT
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();
        MachineSnapshot.write(m, discard);
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        // 16 MiB of RAM that does not compress; the encoder's buffers are two chunks (2 MiB).
        assertThat(allocated).isLessThan(FILLED_CHUNKS * RamImage.CHUNK_BYTES / 4);
    }

    private static Machine filled(PageFill fill) throws Exception {
        Machine m = new Machine(SnapshotFiles.smallMachine().build());
        m.runUntil(2_000_000);
        GuestMemory memory = m.vm().memory();
        Random random = new Random(42);
        byte[] page = new byte[GuestMemory.PAGE_SIZE];
        for (long p = FILLED_FROM; p < FILLED_FROM + FILLED_CHUNKS * RamImage.CHUNK_BYTES; p += page.length) {
            fill.fill(random, page);
            memory.load(p, page, 0, page.length);
        }
        return m;
    }

    private static byte[] save(Machine m) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        MachineSnapshot.write(m, out);
        return out.toByteArray();
    }

    private static List<RamImage.Chunk> filledChunks(MachineState state) {
        long first = FILLED_FROM / RamImage.CHUNK_BYTES;
        return state.ram().chunks().stream().filter(c -> c.index() >= first && c.index() < first + FILLED_CHUNKS).toList();
    }

    private static void assertSameRam(GuestMemory source, MachineState state) {
        GuestMemory target = new GuestMemory(source.size());
        state.ram().applyTo(target);
        byte[] a = new byte[GuestMemory.PAGE_SIZE];
        byte[] b = new byte[GuestMemory.PAGE_SIZE];
        for (long p = 0; p < source.size(); p += GuestMemory.PAGE_SIZE) {
            source.readPage(p, a, 0);
            target.readPage(p, b, 0);
            if (!Arrays.equals(a, b)) {
                throw new AssertionError(String.format("page 0x%x differs after the round trip", p));
            }
        }
    }
}

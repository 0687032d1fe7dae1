package org.tscvm.snapshot;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;
import org.tscvm.memory.GuestMemory;

/**
 * Guest RAM as a snapshot holds it: 1 MiB chunks, each with a bitmap of its non-zero pages and
 * those pages' bytes, deflated, or raw when a sample of them shows deflate would not shrink
 * them usefully (see {@link #deflate}). Zero pages and all-zero chunks are not stored. The
 * chunks stay compressed in memory until {@link #applyTo}, so reading a snapshot costs about
 * its file size, not the guest's RAM size.
 */
public final class RamImage {
    public static final int CHUNK_PAGES = 256;
    public static final long CHUNK_BYTES = (long) CHUNK_PAGES * GuestMemory.PAGE_SIZE;
    static final int BITMAP_LONGS = CHUNK_PAGES / 64;
    static final int ENCODING_RAW = 0;
    static final int ENCODING_DEFLATE = 1;
    /**
     * The start of a chunk deflated first, to tell whether the rest is worth deflating: 4 pages.
     * zlib level 1 takes ~0.2 ms for 16 KiB of random data here, and ~2 ms for 64 KiB.
     */
    static final int SAMPLE_BYTES = 16 << 10;
    /** A chunk section's payload: index, bitmap, encoding byte, and at most the raw pages. */
    static final int MAX_CHUNK_PAYLOAD = 4 + 8 * BITMAP_LONGS + 1 + (int) CHUNK_BYTES;

    /**
     * One stored chunk; {@code present} has bit p set when page p of the chunk is stored, and
     * its encoded bytes are {@code data[offset, offset + length)} (a chunk read from a file
     * keeps them in the section's payload).
     */
    record Chunk(int index, long[] present, int encoding, byte[] data, int offset, int length) {
        int pageCount() {
            int n = 0;
            for (long word : present) {
                n += Long.bitCount(word);
            }
            return n;
        }

        boolean has(int page) {
            return (present[page >>> 6] & (1L << page)) != 0;
        }
    }

    private final long ramBytes;
    private final List<Chunk> chunks;

    private RamImage(long ramBytes, List<Chunk> chunks) {
        this.ramBytes = ramBytes;
        this.chunks = List.copyOf(chunks);
    }

    public long ramBytes() {
        return ramBytes;
    }

    /** Chunks of RAM in the guest's address order, 1 MiB each (the last may be shorter). */
    public static long chunkCount(long ramBytes) {
        return (ramBytes + CHUNK_BYTES - 1) / CHUNK_BYTES;
    }

    /** Pages stored: the RAM's non-zero pages at the save. */
    public int storedPages() {
        int n = 0;
        for (Chunk c : chunks) {
            n += c.pageCount();
        }
        return n;
    }

    List<Chunk> chunks() {
        return chunks;
    }

    /** Takes each chunk as {@link #encode} makes it; {@code data} and {@code present} are reused after the call. */
    interface ChunkSink<X extends Exception> {
        void chunk(int index, long[] present, int encoding, byte[] data, int length) throws X;
    }

    /** Copies the non-zero pages of {@code memory}, every vCPU stopped. */
    static RamImage save(GuestMemory memory) {
        List<Chunk> chunks = new ArrayList<>();
        encode(memory, (index, present, encoding, data, length) ->
                chunks.add(new Chunk(index, present.clone(), encoding, Arrays.copyOf(data, length), 0, length)));
        return new RamImage(memory.size(), chunks);
    }

    /**
     * Encodes the non-zero pages of {@code memory} (every vCPU stopped) chunk by chunk into
     * {@code sink}, in index order, through buffers of one chunk: a save streamed to a file
     * holds no copy of RAM.
     */
    static <X extends Exception> void encode(GuestMemory memory, ChunkSink<X> sink) throws X {
        long ramBytes = memory.size();
        byte[] pages = new byte[(int) CHUNK_BYTES];
        byte[] packed = new byte[(int) CHUNK_BYTES];
        long[] present = new long[BITMAP_LONGS];
        Deflater deflater = new Deflater(Deflater.BEST_SPEED);
        try {
            for (int index = 0; index < chunkCount(ramBytes); index++) {
                long base = index * CHUNK_BYTES;
                Arrays.fill(present, 0);
                int stored = 0;
                for (int page = 0; page < CHUNK_PAGES && base + (long) page * GuestMemory.PAGE_SIZE < ramBytes; page++) {
                    long paddr = memory.physicalAddress(base + (long) page * GuestMemory.PAGE_SIZE);
                    if (!memory.isZeroPage(paddr)) {
                        present[page >>> 6] |= 1L << page;
                        memory.readPage(paddr, pages, stored * GuestMemory.PAGE_SIZE);
                        stored++;
                    }
                }
                if (stored == 0) {
                    continue;
                }
                int length = stored * GuestMemory.PAGE_SIZE;
                int packedLength = deflate(deflater, pages, length, packed);
                if (packedLength >= 0) {
                    sink.chunk(index, present, ENCODING_DEFLATE, packed, packedLength);
                } else {
                    sink.chunk(index, present, ENCODING_RAW, pages, length);
                }
            }
        } finally {
            deflater.end();
        }
    }

    /**
     * Deflates {@code length} bytes of {@code pages} into {@code packed} as one zlib stream and
     * returns its length, or -1 when the chunk is better stored raw: its first
     * {@link #SAMPLE_BYTES} shrink by less than an eighth (deflate costs ~60 MB/s on data that
     * does not compress, more than the whole rest of a save), or the whole does not shrink. The
     * sample is flushed (SYNC_FLUSH) and the stream goes on from it, so nothing is deflated twice.
     */
    static int deflate(Deflater deflater, byte[] pages, int length, byte[] packed) {
        deflater.reset();
        int sample = Math.min(length, SAMPLE_BYTES);
        deflater.setInput(pages, 0, sample);
        // One call takes the whole sample: packed (a chunk's size) has room for 64 samples.
        int packedLength = deflater.deflate(packed, 0, packed.length, Deflater.SYNC_FLUSH);
        if (packedLength > sample - sample / 8) {
            return -1;
        }
        deflater.setInput(pages, sample, length - sample);
        deflater.finish();
        while (!deflater.finished() && packedLength < length) {
            packedLength += deflater.deflate(packed, packedLength, length - packedLength);
        }
        return deflater.finished() && packedLength < length ? packedLength : -1;
    }

    /** A chunk section's payload up to its data, which follows it: index, bitmap, encoding. */
    static byte[] fields(int index, long[] present, int encoding) {
        return new SectionOut().i32(index).longs(present).u8(encoding).toByteArray();
    }

    /**
     * Reads one chunk section and checks it completely: its index follows {@code previousIndex}
     * and lies in RAM, no page beyond the end of RAM is marked, and its data inflates to exactly
     * the marked pages (into {@code scratch}, a {@link #CHUNK_BYTES} buffer the reader reuses).
     */
    static Chunk read(SectionIn in, long ramBytes, int previousIndex, byte[] scratch) {
        int index = in.i32("chunk index");
        if (index <= previousIndex || index >= chunkCount(ramBytes)) {
            throw in.corrupt("chunk index " + Integer.toUnsignedString(index) + " is out of order or beyond "
                    + (ramBytes >> 20) + " MiB of RAM (the previous chunk was " + previousIndex + ")");
        }
        long[] present = in.longs("page bitmap", BITMAP_LONGS);
        long pagesInChunk = Math.min(CHUNK_PAGES, (ramBytes - index * CHUNK_BYTES) / GuestMemory.PAGE_SIZE);
        for (long page = pagesInChunk; page < CHUNK_PAGES; page++) {
            if ((present[(int) (page >>> 6)] & (1L << page)) != 0) {
                throw in.corrupt("chunk " + index + " marks page " + page + ", beyond the end of RAM");
            }
        }
        int encoding = in.u8("encoding");
        int offset = in.skipRest();
        Chunk chunk = new Chunk(index, present, encoding, in.payload(), offset, in.payload().length - offset);
        int expected = chunk.pageCount() * GuestMemory.PAGE_SIZE;
        switch (encoding) {
            case ENCODING_RAW -> {
                if (chunk.length() != expected) {
                    throw in.corrupt("chunk " + index + " holds " + chunk.length() + " raw bytes for " + expected
                            + " bytes of marked pages");
                }
            }
            case ENCODING_DEFLATE -> inflate(in, chunk, scratch, expected);
            default -> throw in.corrupt("chunk " + index + " has encoding " + encoding + "; 0 (raw) and 1 (deflate) exist");
        }
        return chunk;
    }

    private static void inflate(SectionIn in, Chunk chunk, byte[] into, int expected) {
        Inflater inflater = new Inflater();
        try {
            inflater.setInput(chunk.data(), chunk.offset(), chunk.length());
            // One byte of room past the expected size shows a stream that holds too much.
            int limit = Math.min(into.length, expected + 1);
            int n = 0;
            while (!inflater.finished() && n < limit) {
                int got = inflater.inflate(into, n, limit - n);
                if (got == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    break;
                }
                n += got;
            }
            if (!inflater.finished() || n != expected || inflater.getRemaining() != 0) {
                throw in.corrupt("chunk " + chunk.index() + "'s deflate data gives " + n + " bytes"
                        + (inflater.finished() ? "" : " and does not end") + "; its bitmap marks " + expected);
            }
        } catch (DataFormatException e) {
            throw in.corrupt("chunk " + chunk.index() + "'s deflate data is broken: " + e.getMessage());
        } finally {
            inflater.end();
        }
    }

    /** Writes the image into {@code memory}: stored pages, and zero for every other page. */
    void applyTo(GuestMemory memory) {
        byte[] pages = new byte[(int) CHUNK_BYTES];
        int next = 0;
        for (long index = 0; index < chunkCount(ramBytes); index++) {
            Chunk chunk = next < chunks.size() && chunks.get(next).index() == index ? chunks.get(next++) : null;
            if (chunk != null && chunk.encoding() == ENCODING_DEFLATE) {
                Inflater inflater = new Inflater();
                try {
                    inflater.setInput(chunk.data(), chunk.offset(), chunk.length());
                    int n = 0;
                    while (!inflater.finished()) {
                        n += inflater.inflate(pages, n, pages.length - n);
                    }
                } catch (DataFormatException e) {
                    throw new IllegalStateException("chunk " + index + " was checked when it was read", e);
                } finally {
                    inflater.end();
                }
            }
            int stored = 0;
            for (int page = 0; page < CHUNK_PAGES; page++) {
                long offset = index * CHUNK_BYTES + (long) page * GuestMemory.PAGE_SIZE;
                if (offset >= ramBytes) {
                    break;
                }
                long paddr = memory.physicalAddress(offset);
                if (chunk != null && chunk.has(page)) {
                    boolean inflated = chunk.encoding() == ENCODING_DEFLATE;
                    memory.load(paddr, inflated ? pages : chunk.data(),
                            (inflated ? 0 : chunk.offset()) + stored * GuestMemory.PAGE_SIZE, GuestMemory.PAGE_SIZE);
                    stored++;
                } else if (!memory.isZeroPage(paddr)) {
                    memory.fill(paddr, GuestMemory.PAGE_SIZE, (byte) 0);
                }
            }
        }
    }

    /** The image made of {@code chunks}, as read (in index order, each checked). */
    static RamImage of(long ramBytes, List<Chunk> chunks) {
        return new RamImage(ramBytes, chunks);
    }
}

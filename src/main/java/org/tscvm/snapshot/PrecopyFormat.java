package org.tscvm.snapshot;

import java.nio.charset.StandardCharsets;
import org.tscvm.memory.GuestMemory;

/** The constants of the pre-copy migration stream, version 2 (docs/migration-stream.md). */
public final class PrecopyFormat {
    private PrecopyFormat() {
    }

    /** The first 8 bytes of every pre-copy stream. */
    public static final byte[] MAGIC = "TSCVMMIG".getBytes(StandardCharsets.US_ASCII);
    public static final int VERSION = 2;
    /** Magic, version, reserved, fingerprint, RAM bytes; the CRC-32C follows. */
    static final int HEADER_BYTES = 8 + 2 + 2 + 8 + 8;

    /** Record tags, as little-endian u32 of their four ASCII bytes. */
    static final int PAGE = tag("PAGE");
    static final int DONE = tag("DONE");

    static final int MAX_PAGES_PER_RECORD = 256;
    /** Round, count, page numbers, kinds and at most every page's bytes. */
    static final int MAX_PAGE_PAYLOAD = 8 + 5 * MAX_PAGES_PER_RECORD + MAX_PAGES_PER_RECORD * GuestMemory.PAGE_SIZE;

    static final byte PAGE_ZERO = 0;
    static final byte PAGE_DATA = 1;

    /** The destination's one byte back once it has loaded the state. */
    public static final int ANSWER_LOADED = 0;
    /** The source's one byte after that answer: the migration is complete, run the state (or stay stopped under -S). */
    public static final int GO = 0;

    private static int tag(String t) {
        byte[] b = t.getBytes(StandardCharsets.US_ASCII);
        return (b[0] & 0xff) | (b[1] & 0xff) << 8 | (b[2] & 0xff) << 16 | (b[3] & 0xff) << 24;
    }
}

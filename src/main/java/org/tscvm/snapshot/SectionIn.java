package org.tscvm.snapshot;

import java.nio.charset.StandardCharsets;

/**
 * A section's payload being read. Every read is bounds-checked against the payload, and every
 * count is checked against a limit before anything is allocated for it, so a lying length or
 * a huge count is a {@link SnapshotException.Kind#CORRUPT} refusal naming the section, never an
 * exception of Java's or a big allocation.
 */
final class SectionIn {
    private final String section;
    private final byte[] payload;
    private int pos;

    SectionIn(String section, byte[] payload) {
        this.section = section;
        this.payload = payload;
    }

    String section() {
        return section;
    }

    private void need(int n, String what) {
        if (n < 0 || payload.length - pos < n) {
            throw corrupt("the payload ends after " + payload.length + " bytes, inside " + what);
        }
    }

    int u8(String what) {
        need(1, what);
        return payload[pos++] & 0xff;
    }

    boolean bool(String what) {
        int v = u8(what);
        if (v > 1) {
            throw corrupt(what + " is " + v + ", not 0 or 1");
        }
        return v == 1;
    }

    int i32(String what) {
        need(4, what);
        int v = 0;
        for (int i = 0; i < 4; i++) {
            v |= (payload[pos++] & 0xff) << (8 * i);
        }
        return v;
    }

    long i64(String what) {
        need(8, what);
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v |= (payload[pos++] & 0xffL) << (8 * i);
        }
        return v;
    }

    /** A u32 count that must lie in [0, max]. */
    int count(String what, int max) {
        long v = i32(what) & 0xffffffffL;
        if (v > max) {
            throw corrupt(what + " is " + v + "; at most " + max + " is possible");
        }
        return (int) v;
    }

    /** An int that must lie in [min, max]. */
    int intIn(String what, int min, int max) {
        int v = i32(what);
        if (v < min || v > max) {
            throw corrupt(what + " is " + v + ", outside " + min + ".." + max);
        }
        return v;
    }

    int[] ints(String what, int n) {
        need(4 * n, what);
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
            v[i] = i32(what);
        }
        return v;
    }

    long[] longs(String what, int n) {
        need(8 * n, what);
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
            v[i] = i64(what);
        }
        return v;
    }

    byte[] raw(String what, int n) {
        need(n, what);
        byte[] v = new byte[n];
        System.arraycopy(payload, pos, v, 0, n);
        pos += n;
        return v;
    }

    /**
     * Consumes the rest of the payload and returns where it starts in {@link #payload()}: a RAM
     * chunk keeps its bytes in place instead of copying a megabyte.
     */
    int skipRest() {
        int start = pos;
        pos = payload.length;
        return start;
    }

    byte[] payload() {
        return payload;
    }

    String string(String what, int maxBytes) {
        int n = u8(what) | (u8(what) << 8);
        if (n > maxBytes) {
            throw corrupt(what + " is " + n + " bytes long; at most " + maxBytes + " is possible");
        }
        return new String(raw(what, n), StandardCharsets.UTF_8);
    }

    /** The payload must be used up exactly. */
    void end() {
        if (pos != payload.length) {
            throw corrupt((payload.length - pos) + " byte(s) follow the last field");
        }
    }

    SnapshotException corrupt(String why) {
        return new SnapshotException(SnapshotException.Kind.CORRUPT, section, why);
    }
}

package org.tscvm.snapshot;

import java.io.ByteArrayOutputStream;

/** A section's payload being written: little-endian fields, appended in order. */
final class SectionOut {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);

    SectionOut u8(int v) {
        bytes.write(v);
        return this;
    }

    SectionOut bool(boolean v) {
        return u8(v ? 1 : 0);
    }

    SectionOut i32(int v) {
        for (int i = 0; i < 4; i++) {
            bytes.write(v >>> (8 * i));
        }
        return this;
    }

    SectionOut i64(long v) {
        for (int i = 0; i < 8; i++) {
            bytes.write((int) (v >>> (8 * i)));
        }
        return this;
    }

    SectionOut ints(int[] v) {
        for (int x : v) {
            i32(x);
        }
        return this;
    }

    SectionOut longs(long[] v) {
        for (long x : v) {
            i64(x);
        }
        return this;
    }

    SectionOut raw(byte[] v) {
        bytes.write(v, 0, v.length);
        return this;
    }

    /** A string: u16 length, then UTF-8. */
    SectionOut string(String s) {
        byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        u8(b.length).u8(b.length >>> 8);
        return raw(b);
    }

    byte[] toByteArray() {
        return bytes.toByteArray();
    }
}

package org.tscvm.boot;

import java.nio.charset.StandardCharsets;

/** Strings as boot structures hold them. */
final class BootStrings {
    private BootStrings() {
    }

    /** {@code s} in UTF-8 with a terminating NUL. */
    static byte[] nulTerminated(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        byte[] z = new byte[b.length + 1];
        System.arraycopy(b, 0, z, 0, b.length);
        return z;
    }
}

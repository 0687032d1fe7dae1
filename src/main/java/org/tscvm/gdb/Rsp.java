package org.tscvm.gdb;

import java.nio.charset.StandardCharsets;

/**
 * The byte-level rules of gdb's remote serial protocol ("Overview" and "Binary Data" in gdb's
 * manual, appendix E): a packet is {@code $data#cc} with {@code cc} the modulo-256 sum of the
 * data bytes in two hex digits; binary data escapes {@code # $ } *} as {@code 0x7d} followed by
 * the byte XOR 0x20. Packets are held as ISO-8859-1 strings, one char per byte.
 */
final class Rsp {
    private Rsp() {
    }

    static final char ESCAPE = '}';

    static int checksum(String data) {
        int sum = 0;
        for (int i = 0; i < data.length(); i++) {
            sum += data.charAt(i);
        }
        return sum & 0xff;
    }

    /** {@code data} framed as a packet, with binary-unsafe bytes escaped. */
    static byte[] frame(String data) {
        String body = escape(data);
        return ("$" + body + "#" + hex2(checksum(body))).getBytes(StandardCharsets.ISO_8859_1);
    }

    static String escape(String data) {
        StringBuilder b = new StringBuilder(data.length());
        for (int i = 0; i < data.length(); i++) {
            char c = data.charAt(i);
            if (c == '#' || c == '$' || c == ESCAPE || c == '*') {
                b.append(ESCAPE).append((char) (c ^ 0x20));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    /** Binary data with its escapes removed; a trailing lone escape is dropped. */
    static byte[] unescape(String data) {
        byte[] out = new byte[data.length()];
        int n = 0;
        for (int i = 0; i < data.length(); i++) {
            char c = data.charAt(i);
            if (c == ESCAPE) {
                if (++i == data.length()) {
                    break;
                }
                c = (char) (data.charAt(i) ^ 0x20);
            }
            out[n++] = (byte) c;
        }
        return java.util.Arrays.copyOf(out, n);
    }

    static String hex2(int b) {
        return Character.toString(Character.forDigit((b >> 4) & 0xf, 16)) + Character.forDigit(b & 0xf, 16);
    }

    static String hex(byte[] bytes, int from, int length) {
        StringBuilder b = new StringBuilder(length * 2);
        for (int i = from; i < from + length; i++) {
            b.append(Character.forDigit((bytes[i] >> 4) & 0xf, 16)).append(Character.forDigit(bytes[i] & 0xf, 16));
        }
        return b.toString();
    }

    static String hex(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        return hex(bytes, 0, bytes.length);
    }

    /** Hex digits to bytes; null if the text is not an even number of hex digits. */
    static byte[] unhex(String text) {
        if ((text.length() & 1) != 0) {
            return null;
        }
        byte[] out = new byte[text.length() / 2];
        for (int i = 0; i < out.length; i++) {
            int hi = Character.digit(text.charAt(2 * i), 16);
            int lo = Character.digit(text.charAt(2 * i + 1), 16);
            if (hi < 0 || lo < 0) {
                return null;
            }
            out[i] = (byte) (hi << 4 | lo);
        }
        return out;
    }

    /** A hex number below 2^63 (lengths, register and thread numbers), or -1 if {@code text} is not one. */
    static long parseHex(String text) {
        if (text.isEmpty() || text.length() > 16) {
            return -1;
        }
        try {
            long v = Long.parseUnsignedLong(text, 16);
            return v < 0 ? -1 : v;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** A 64-bit address in hex (any value, bit 63 included), or null. */
    static Long parseAddress(String text) {
        if (text.isEmpty() || text.length() > 16) {
            return null;
        }
        try {
            return Long.parseUnsignedLong(text, 16);
        } catch (NumberFormatException e) {
            return null;
        }
    }
}

package org.tscvm.cli;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Decompresses the LZ4 "legacy" frame a Linux bzImage carries as its payload when built with
 * CONFIG_KERNEL_LZ4 (magic 0x184C2102, then blocks of a 4-byte compressed size and an LZ4
 * block, each decompressing to at most 8 MiB; the kernel build appends the uncompressed size
 * as a last 4-byte word). Written from the LZ4 block format description, for the tests only.
 */
final class Lz4Legacy {
    static final int LEGACY_MAGIC = 0x184c2102;

    private Lz4Legacy() {
    }

    /** Decompresses {@code length} bytes of {@code in} from {@code offset}: a legacy frame with the kernel's size word. */
    static byte[] decompress(byte[] in, int offset, int length) {
        ByteBuffer b = ByteBuffer.wrap(in, offset, length).slice().order(ByteOrder.LITTLE_ENDIAN);
        if (b.getInt(0) != LEGACY_MAGIC) {
            throw new IllegalArgumentException(String.format("no LZ4 legacy magic at offset 0x%x", offset));
        }
        byte[] out = new byte[b.getInt(length - 4)]; // the size word Linux's size_append adds
        int o = 0;
        int at = 4;
        while (at < length - 4) {
            int blockSize = b.getInt(at);
            at += 4;
            o = decompressBlock(b, at, at + blockSize, out, o);
            at += blockSize;
        }
        if (o != out.length) {
            throw new IllegalArgumentException("LZ4 stream gave " + o + " bytes, its size word says " + out.length);
        }
        return out;
    }

    /** One LZ4 block [from, to) of {@code in} into {@code out} at {@code o}; returns the new end of the output. */
    private static int decompressBlock(ByteBuffer in, int from, int to, byte[] out, int o) {
        int i = from;
        while (i < to) {
            int token = in.get(i++) & 0xff;
            int literals = token >>> 4;
            if (literals == 15) {
                int more;
                do {
                    more = in.get(i++) & 0xff;
                    literals += more;
                } while (more == 255);
            }
            in.get(i, out, o, literals);
            i += literals;
            o += literals;
            if (i >= to) {
                break; // the last sequence has literals only
            }
            int distance = (in.get(i) & 0xff) | (in.get(i + 1) & 0xff) << 8;
            i += 2;
            int matchLength = token & 15;
            if (matchLength == 15) {
                int more;
                do {
                    more = in.get(i++) & 0xff;
                    matchLength += more;
                } while (more == 255);
            }
            matchLength += 4;
            for (int k = 0; k < matchLength; k++, o++) { // byte by byte: a match may overlap its own output
                out[o] = out[o - distance];
            }
        }
        return o;
    }
}

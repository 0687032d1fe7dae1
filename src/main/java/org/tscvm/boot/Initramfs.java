package org.tscvm.boot;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPOutputStream;

/**
 * A Linux initramfs: a gzip-compressed cpio archive in the "newc" format (Linux's
 * Documentation/driver-api/early-userspace/buffer-format.rst), which the kernel unpacks into
 * its root file system before it runs /init. Built in memory, entries in the order added;
 * parent directories must be added before what they hold.
 *
 * <pre>{@code
 * byte[] initrd = new Initramfs().directory("bin", 0755).file("bin/busybox", 0755, busybox)
 *         .file("init", 0755, script).toGzip();
 * }</pre>
 */
public final class Initramfs {
    private static final int S_IFDIR = 0040000, S_IFREG = 0100000, S_IFCHR = 0020000;
    private static final String TRAILER = "TRAILER!!!";

    private record Entry(String name, int mode, byte[] data, int rdevMajor, int rdevMinor) {
    }

    private final List<Entry> entries = new ArrayList<>();

    public Initramfs directory(String name, int permissions) {
        entries.add(new Entry(name, S_IFDIR | permissions, new byte[0], 0, 0));
        return this;
    }

    public Initramfs file(String name, int permissions, byte[] data) {
        entries.add(new Entry(name, S_IFREG | permissions, data, 0, 0));
        return this;
    }

    /** A character device node, e.g. {@code dev/console} (5, 1), which init's first open needs. */
    public Initramfs charDevice(String name, int permissions, int major, int minor) {
        entries.add(new Entry(name, S_IFCHR | permissions, new byte[0], major, minor));
        return this;
    }

    /** The uncompressed cpio archive. */
    public byte[] toCpio() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int inode = 1;
        for (Entry e : entries) {
            write(out, e, inode++);
        }
        write(out, new Entry(TRAILER, 0, new byte[0], 0, 0), 0);
        return out.toByteArray();
    }

    /** The archive compressed with gzip, the form QEMU's and tscvm's {@code -initrd} take. */
    public byte[] toGzip() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (OutputStream gz = new GZIPOutputStream(bytes)) {
            gz.write(toCpio());
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
        }
        return bytes.toByteArray();
    }

    private static void write(ByteArrayOutputStream out, Entry e, int inode) {
        byte[] name = (e.name + "\0").getBytes(StandardCharsets.UTF_8);
        boolean directory = (e.mode & 0170000) == S_IFDIR;
        StringBuilder header = new StringBuilder("070701");
        for (long field : new long[] {inode, e.mode, 0, 0, directory ? 2 : 1, 0, e.data.length, 0, 0,
            e.rdevMajor, e.rdevMinor, name.length, 0}) {
            header.append(String.format("%08X", field));
        }
        out.writeBytes(header.toString().getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(name);
        pad(out);
        out.writeBytes(e.data);
        pad(out);
    }

    /** Header plus name, and the data, each end on a 4-byte boundary. */
    private static void pad(ByteArrayOutputStream out) {
        while (out.size() % 4 != 0) {
            out.write(0);
        }
    }
}

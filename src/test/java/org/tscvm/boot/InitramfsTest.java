package org.tscvm.boot;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;

class InitramfsTest {
    /** Reads a newc archive back the way Linux's init/initramfs.c does: header, name, data, each 4-aligned. */
    private static Map<String, long[]> entries(byte[] cpio, Map<String, byte[]> data) {
        Map<String, long[]> result = new LinkedHashMap<>();
        int at = 0;
        while (true) {
            String header = new String(cpio, at, 110, StandardCharsets.US_ASCII);
            assertThat(header).startsWith("070701");
            long[] f = new long[13];
            for (int i = 0; i < 13; i++) {
                f[i] = Long.parseLong(header.substring(6 + 8 * i, 14 + 8 * i), 16);
            }
            int nameSize = (int) f[11];
            String name = new String(cpio, at + 110, nameSize - 1, StandardCharsets.UTF_8);
            assertThat(cpio[at + 110 + nameSize - 1]).isZero();
            at = align(at + 110 + nameSize);
            if (name.equals("TRAILER!!!")) {
                assertThat(at).isEqualTo(cpio.length);
                return result;
            }
            data.put(name, java.util.Arrays.copyOfRange(cpio, at, at + (int) f[6]));
            at = align(at + (int) f[6]);
            result.put(name, f);
        }
    }

    private static int align(int n) {
        return (n + 3) & ~3;
    }

    @Test
    void newcEntriesCarryModeSizeDeviceAndAlignedData() throws IOException {
        byte[] script = "#!/bin/sh\necho hi\n".getBytes(StandardCharsets.US_ASCII);
        Initramfs initramfs = new Initramfs().directory("bin", 0755).charDevice("dev/console", 0600, 5, 1)
                .file("bin/busybox", 0755, new byte[] {1, 2, 3, 4, 5}).file("init", 0700, script);
        Map<String, byte[]> data = new LinkedHashMap<>();
        Map<String, long[]> e = entries(initramfs.toCpio(), data);
        assertThat(e.keySet()).containsExactly("bin", "dev/console", "bin/busybox", "init");
        assertThat(e.get("bin")[1]).isEqualTo(040755);
        assertThat(e.get("dev/console")[1]).isEqualTo(020600);
        assertThat(e.get("dev/console")[9]).isEqualTo(5);
        assertThat(e.get("dev/console")[10]).isEqualTo(1);
        assertThat(e.get("bin/busybox")[1]).isEqualTo(0100755);
        assertThat(data.get("bin/busybox")).containsExactly(1, 2, 3, 4, 5);
        assertThat(data.get("init")).isEqualTo(script);

        byte[] gz = initramfs.toGzip();
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
            assertThat(in.readAllBytes()).isEqualTo(initramfs.toCpio());
        }
    }
}

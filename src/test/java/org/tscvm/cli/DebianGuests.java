package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Debian 12's cloud kernel and busybox-static, as the Linux tests use them: unpacked by
 * tools/fetch-debian-guests into the folder in system property {@code tscvm.debian} (outside
 * the repository), which this class runs once per JVM when the files are not there yet.
 */
final class DebianGuests {
    static final String KERNEL_VERSION = "6.1.0-50-cloud-amd64";
    private static final Path DIR = Path.of(System.getProperty("tscvm.debian",
            System.getProperty("user.home") + "/.cache/tscvm/debian"));

    private DebianGuests() {
    }

    static Path vmlinuz() {
        return fetched(DIR.resolve("boot/vmlinuz-" + KERNEL_VERSION));
    }

    static Path busybox() {
        return fetched(DIR.resolve("bin/busybox"));
    }

    private static synchronized Path fetched(Path file) {
        if (!Files.isRegularFile(file)) {
            try {
                Process p = new ProcessBuilder("tools/fetch-debian-guests", DIR.toString()).inheritIO().start();
                assertThat(p.waitFor()).as("tools/fetch-debian-guests " + DIR).isZero();
            } catch (IOException e) {
                throw new AssertionError("cannot run tools/fetch-debian-guests: " + e.getMessage(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while fetching Debian's packages", e);
            }
        }
        assertThat(file).as("after tools/fetch-debian-guests " + DIR).isRegularFile();
        return file;
    }
}

package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tscvm.machine.RunResult;

/**
 * A guest that writes more RAM than the Java heap can hold: the run ends with the internal-error
 * status and a message saying what ran out, never an OutOfMemoryError or a guest-visible fault.
 * In its own JVM with a 64 MiB heap, so this test's JVM keeps its memory.
 */
class HostMemoryLimitTest {
    @TempDir
    Path dir;

    /** One store every 64 KiB from 2 MiB up to 2 GiB, then HLT. */
    private static final byte[] TOUCH_ALL = CliRun.touchRam(0x10000, 0x7f000000);

    @Test
    void aGuestWritingMoreRamThanTheHeapHoldsEndsTheRunWithAMessage() throws IOException, InterruptedException {
        Path kernel = CliRun.write(dir, "touch.elf", CliRun.multibootElf32(0x100000, TOUCH_ALL));
        Path err = dir.resolve("err.txt");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "run", "-kernel", kernel.toString(), "-m", "2G", "-serial", "none", "--timeout", "60")
                .redirectOutput(dir.resolve("out.txt").toFile()).redirectError(err.toFile()).start();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        String stderr = Files.readString(err, StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(stderr).isEqualTo(RunResult.STATUS_INTERNAL_ERROR);
        assertThat(stderr).contains("the host cannot back guest RAM").contains("JAVA_TOOL_OPTIONS=-Xmx")
                .doesNotContain("OutOfMemoryError").doesNotContain("\tat ");
    }
}

package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tscvm.machine.RunResult;

/**
 * bin/tscvm's JVM options: guest RAM goes straight into the old generation, so a guest that
 * writes 128 MiB (as a restore or an incoming migration does) costs no young collection
 * copying it. The options are read from the launcher itself and run in their own JVM.
 */
class LauncherJvmOptionsTest {
    @TempDir
    Path dir;

    /** One store every 4 KiB from 2 MiB up to 130 MiB, then HLT. */
    private static final byte[] TOUCH_128_MIB = CliRun.touchRam(0x1000, 0x8200000);

    @Test
    void guestRamIsAllocatedWithoutYoungCollections() throws IOException, InterruptedException {
        String launcher = Files.readString(Path.of("bin", "tscvm"), StandardCharsets.UTF_8);
        Matcher opts = Pattern.compile("\nopts=\\(([^)]*)\\)").matcher(launcher);
        assertThat(opts.find()).as("bin/tscvm sets opts=(...)").isTrue();
        Path kernel = CliRun.write(dir, "touch.elf", CliRun.multibootElf32(0x100000, TOUCH_128_MIB));
        Path gc = dir.resolve("gc.log");
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(List.of(opts.group(1).trim().split("\\s+")));
        command.addAll(List.of("-Xlog:gc:file=" + gc, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "run", "-kernel", kernel.toString(), "-m", "256M", "-serial", "none", "--timeout", "60"));
        Process p = new ProcessBuilder(command).redirectOutput(dir.resolve("out.txt").toFile())
                .redirectError(dir.resolve("err.txt").toFile()).start();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(Files.readString(dir.resolve("err.txt"))).isEqualTo(RunResult.STATUS_HALTED);
        String log = Files.readString(gc, StandardCharsets.UTF_8);
        // Without pretenuring, 128 MiB of 64 KiB chunks fill the 32 MiB young generation ~5 times.
        assertThat(log.lines().filter(l -> l.contains("Pause Young"))).as(log).hasSizeLessThanOrEqualTo(1);
    }
}

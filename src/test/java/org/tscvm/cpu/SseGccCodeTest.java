package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * gcc's own SSE code, end to end: tools/ssework/work.c (vectorized float, double and integer
 * loops at -O3 -msse4.2, conversions, SSE2 string intrinsics, SSE3, SSSE3, SSE4.1 and SSE4.2
 * intrinsics (string compares, CRC32, dot products), the four rounding modes, a denormal) is built at test time freestanding at 0x10000 and natively;
 * the interpreter (and the block compiler) must return the hash the host CPU printed.
 */
class SseGccCodeTest {
    private static final Path SOURCE = Path.of("tools", "ssework", "work.c");
    private static final Path BUILD = Path.of("target", "ssework");
    private static final String[] FLAGS = {"-O3", "-msse4.2", "-fno-math-errno", "-fcf-protection=none",
        "-fno-asynchronous-unwind-tables"};

    private static long hostResult;
    private static byte[] image;
    private static long entry;

    @BeforeAll
    static void buildBothWays() throws IOException, InterruptedException {
        String arch = System.getProperty("os.arch", "");
        assumeTrue(arch.equals("amd64") || arch.equals("x86_64"), "needs an x86-64 host, not " + arch);
        assumeTrue(System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux"), "needs Linux");
        assumeTrue(works("gcc", "--version") && works("objcopy", "--version"), "gcc/objcopy not found");
        Files.createDirectories(BUILD);
        Path nativeBinary = BUILD.resolve("native");
        run(command(List.of("-DNATIVE", "-o", nativeBinary.toString())));
        hostResult = Long.parseUnsignedLong(run(List.of(nativeBinary.toString())).trim(), 16);
        Path elf = BUILD.resolve("work.elf");
        run(command(List.of("-ffreestanding", "-fno-pic", "-fno-pie", "-no-pie", "-nostdlib", "-static",
                "-fno-stack-protector", "-mno-red-zone", "-Wl,-N", "-Wl,-Ttext=0x10000", "-Wl,--section-start=.bss=0x40000", "-Wl,--build-id=none",
                "-Wl,--no-warn-rwx-segments", "-Wl,-e,_start", "-o", elf.toString())));
        Path bin = BUILD.resolve("work.bin");
        run(List.of("objcopy", "-O", "binary", elf.toString(), bin.toString()));
        image = Files.readAllBytes(bin);
        entry = ByteBuffer.wrap(Files.readAllBytes(elf)).order(ByteOrder.LITTLE_ENDIAN).getLong(0x18);
    }

    private static List<String> command(List<String> extra) {
        List<String> c = new ArrayList<>(List.of("gcc"));
        c.addAll(List.of(FLAGS));
        c.addAll(extra);
        c.add(SOURCE.toString());
        return c;
    }

    @Test
    void theInterpreterComputesWhatTheHostComputed() {
        assertThat(runOnTscvm(0)).isEqualTo(hostResult);
    }

    @Test
    void compiledBlocksComputeWhatTheHostComputed() {
        assertThat(runOnTscvm(1)).isEqualTo(hostResult);
    }

    @Test
    void aWarmInterpreterRunsTheSseWorkloadWithoutAllocating() {
        // The second run decodes nothing new (the data lives at 0x40000, away from the code
        // pages, so its stores invalidate no decoded block): any allocation would be per instruction.
        CpuRig rig = sseRig(0);
        runOn(rig);
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();
        long retired = rig.cpu.instructionsRetired();
        rig.cpu.setRip(entry); // the same code again (work() initialises all its data)
        assertThat(rig.cpu.run(100_000_000)).isEqualTo(RunStop.HALTED);
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        long instructions = rig.cpu.instructionsRetired() - retired;
        assertThat(rig.reg(Cpu.RAX)).isEqualTo(hostResult);
        assertThat(instructions).isGreaterThan(20_000);
        assertThat(allocated).as("bytes allocated over %d instructions", instructions).isLessThan(4096); // a fixed cost per run() call, not per instruction
    }

    private static CpuRig sseRig(int compileThreshold) {
        CpuRig rig = new CpuRig().longMode();
        rig.cpu.setCr(4, rig.cpu.getCr(4) | CpuState.CR4_OSFXSR | CpuState.CR4_OSXMMEXCPT);
        rig.cpu.setCompileThreshold(compileThreshold);
        return rig;
    }

    private static long runOnTscvm(int compileThreshold) {
        return runOn(sseRig(compileThreshold));
    }

    private static long runOn(CpuRig rig) {
        rig.load(CpuRig.CODE, image);
        rig.cpu.setRip(entry);
        RunStop stop = rig.cpu.run(100_000_000);
        assertThat(stop).as(rig.cpu.describe()).isEqualTo(RunStop.HALTED);
        assertThat(rig.haltedInVector()).as("no exception: " + rig.cpu.describe()).isEqualTo(-1);
        assertThat(rig.cpu.unimplementedOpcodes()).isEmpty();
        return rig.reg(Cpu.RAX);
    }

    private static boolean works(String... command) {
        try {
            run(List.of(command));
            return true;
        } catch (IOException | InterruptedException | IllegalStateException e) {
            return false;
        }
    }

    private static String run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed:\n" + out);
        }
        return out;
    }
}

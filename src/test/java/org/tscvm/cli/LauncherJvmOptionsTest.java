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
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tscvm.machine.RunResult;

/**
 * bin/tscvm's JVM options: guest RAM goes straight into the old generation, so a guest that
 * writes 128 MiB (as a restore or an incoming migration does) costs no young collection
 * copying it. The options are read from the launcher itself and run in their own JVM. And the
 * launcher's start-up cache: the AOT cache on JDK 25 and later, an AppCDS archive before.
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

    @Test
    void onJdk25TheLauncherTrainsAnAotCacheAndOnJdk17AnAppCdsArchive() throws IOException, InterruptedException {
        Path jdk25 = newestJdkAtLeast(25);
        Assumptions.assumeTrue(jdk25 != null, "no JDK 25 or later under /usr/lib/jvm");
        Path root = launcherCopy();
        Path jar = root.resolve("target/tscvm.jar");
        Path kernel = CliRun.write(dir, "halt.elf", CliRun.multibootElf32(0x100000, new byte[] {(byte) 0xf4}));

        try {
            launchesOnBothJdks(root, jdk25, jar, kernel);
        } finally {
            Files.deleteIfExists(root.resolve("target/tscvm.java")); // the launcher's link to the java binary
        }
    }

    @Test
    void theAppCdsArchiveLeavesTheInterpretersDispatchToTheJit() throws IOException, InterruptedException {
        Assumptions.assumeTrue(Runtime.version().feature() < 25, "JDK 25 and later use the AOT cache");
        // A JIT-trained dynamic archive could carry a method's queued-for-compilation state into
        // every later run; the dispatch of a build whose training ended so stayed interpreted.
        Path root = launcherCopy();
        try {
            dispatchIsCompiled(root);
        } finally {
            Files.deleteIfExists(root.resolve("target/tscvm.java")); // the launcher's link to the java binary
        }
    }

    private void dispatchIsCompiled(Path root) throws IOException, InterruptedException {
        Path halt = CliRun.write(dir, "halt.elf", CliRun.multibootElf32(0x100000, new byte[] {(byte) 0xf4}));
        assertThat(launch(root, Path.of(System.getProperty("java.home")), halt)).isEqualTo(RunResult.STATUS_HALTED);
        assertThat(root.resolve("target/tscvm.jsa")).exists();
        // mov ecx, 40000000; 1: dec ecx; jnz 1b; hlt, every instruction interpreted
        Path loop = CliRun.write(dir, "loop.elf", CliRun.multibootElf32(0x100000,
                new byte[] {(byte) 0xb9, 0x00, 0x5a, 0x62, 0x02, 0x49, 0x75, (byte) 0xfd, (byte) 0xf4}));
        ProcessBuilder b = new ProcessBuilder(root.resolve("bin/tscvm").toString(), "run", "-kernel", loop.toString(),
                "-serial", "none", "--jit-threshold", "0", "--timeout", "120").redirectErrorStream(true)
                .redirectOutput(dir.resolve("jit.txt").toFile());
        b.environment().put("JAVA_TOOL_OPTIONS", "-XX:+PrintCompilation");
        Process p = b.start();
        assertThat(p.waitFor(180, TimeUnit.SECONDS)).isTrue();
        String out = Files.readString(dir.resolve("jit.txt"));
        assertThat(p.exitValue()).as(out).isEqualTo(RunResult.STATUS_HALTED);
        assertThat(out).as("the JIT's log").contains("org.tscvm.cpu.Dispatch::execute");
    }

    /** A copy of the launcher beside a jar of this build and the demo kernel, so its caches go to a folder of its own. */
    private Path launcherCopy() throws IOException {
        Path root = dir.resolve("root");
        Files.createDirectories(root.resolve("bin"));
        Files.createDirectories(root.resolve("target/guests"));
        Files.copy(Path.of("bin", "tscvm"), root.resolve("bin/tscvm"));
        root.resolve("bin/tscvm").toFile().setExecutable(true);
        Files.copy(Path.of("target", "guests", "demo.elf"), root.resolve("target/guests/demo.elf"));
        writeJarOfTheseClasses(root.resolve("target/tscvm.jar"));
        return root;
    }

    private void launchesOnBothJdks(Path root, Path jdk25, Path jar, Path kernel) throws IOException, InterruptedException {
        assertThat(launch(root, jdk25, kernel)).isEqualTo(RunResult.STATUS_HALTED);
        Path aot = root.resolve("target/tscvm.aot");
        assertThat(aot).exists();
        assertThat(root.resolve("target/tscvm.jsa")).doesNotExist();
        // AOTMode=on refuses to start unless the cache maps with these options.
        String launcher = Files.readString(root.resolve("bin/tscvm"), StandardCharsets.UTF_8);
        Matcher opts = Pattern.compile("\nopts=\\(([^)]*)\\)").matcher(launcher);
        assertThat(opts.find()).isTrue();
        List<String> strict = new ArrayList<>(List.of(jdk25.resolve("bin/java").toString()));
        strict.addAll(List.of(opts.group(1).trim().split("\\s+")));
        strict.addAll(List.of("-XX:AOTCache=" + aot, "-XX:AOTMode=on", "-jar", jar.toString(), "--version"));
        Process p = new ProcessBuilder(strict).redirectErrorStream(true).redirectOutput(dir.resolve("strict.txt").toFile())
                .start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(Files.readString(dir.resolve("strict.txt"))).isZero();

        Path jdkRunningTests = Path.of(System.getProperty("java.home"));
        Assumptions.assumeTrue(Runtime.version().feature() < 25, "the tests run on JDK 25 already");
        assertThat(launch(root, jdkRunningTests, kernel)).isEqualTo(RunResult.STATUS_HALTED);
        assertThat(root.resolve("target/tscvm.jsa")).exists();
        assertThat(aot).doesNotExist();
    }

    /** Runs {@code root/bin/tscvm run -kernel kernel} with {@code jdk}'s java first on PATH; its exit status. */
    private int launch(Path root, Path jdk, Path kernel) throws IOException, InterruptedException {
        ProcessBuilder b = new ProcessBuilder(root.resolve("bin/tscvm").toString(), "run", "-kernel", kernel.toString(),
                "-serial", "none", "--timeout", "60").redirectErrorStream(true)
                .redirectOutput(dir.resolve("launch.txt").toFile());
        Map<String, String> env = b.environment();
        env.put("PATH", jdk.resolve("bin") + ":" + env.get("PATH"));
        env.remove("JAVA_TOOL_OPTIONS");
        Process p = b.start();
        assertThat(p.waitFor(180, TimeUnit.SECONDS)).isTrue();
        return p.exitValue();
    }

    /**
     * A jar of this build's classes whose manifest names the tests' class path (copied to
     * {@code lib/} beside it), so the launcher copy runs what the shaded jar would hold.
     */
    private static void writeJarOfTheseClasses(Path jar) throws IOException {
        Path lib = jar.resolveSibling("lib");
        Files.createDirectories(lib);
        StringBuilder classPath = new StringBuilder();
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            Path p = Path.of(entry);
            if (Files.isRegularFile(p) && entry.endsWith(".jar")) {
                Files.copy(p, lib.resolve(p.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                classPath.append("lib/").append(p.getFileName()).append(' ');
            }
        }
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.getMainAttributes().put(Attributes.Name.MAIN_CLASS, Main.class.getName());
        manifest.getMainAttributes().put(Attributes.Name.CLASS_PATH, classPath.toString().trim());
        Path classes = Path.of("target", "classes");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar), manifest);
                Stream<Path> files = Files.walk(classes)) {
            for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                out.putNextEntry(new JarEntry(classes.relativize(f).toString().replace('\\', '/')));
                Files.copy(f, out);
                out.closeEntry();
            }
        }
    }

    /** The JDK home under /usr/lib/jvm with the highest feature version of at least {@code feature}, or null. */
    private static Path newestJdkAtLeast(int feature) throws IOException {
        Path jvms = Path.of("/usr/lib/jvm");
        if (!Files.isDirectory(jvms)) {
            return null;
        }
        Path best = null;
        int bestFeature = feature - 1;
        try (Stream<Path> homes = Files.list(jvms)) {
            for (Path home : (Iterable<Path>) homes::iterator) {
                Path release = home.resolve("release");
                if (!Files.isRegularFile(release) || !Files.isExecutable(home.resolve("bin/java"))) {
                    continue;
                }
                Matcher m = Pattern.compile("JAVA_VERSION=\"(\\d+)").matcher(Files.readString(release));
                if (m.find() && Integer.parseInt(m.group(1)) > bestFeature) {
                    bestFeature = Integer.parseInt(m.group(1));
                    best = home;
                }
            }
        }
        return best;
    }
}

package org.tscvm.cpu.diff;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The native side of the differential test: tools/difftest/harness, built with gcc into
 * target/ at test time, runs one instruction per record on the host CPU. Records travel
 * through one long-lived process in batches (layout in tools/difftest/harness.h).
 */
final class NativeHarness implements AutoCloseable {
    static final int FEATURE_POPCNT = 1, FEATURE_LZCNT = 2, FEATURE_BMI1 = 4, FEATURE_LAHF64 = 8,
            FEATURE_MOVBE = 16;

    private static final int IN_RECORD = 16 + 16 * 8 + 8 + DiffCase.BUF_SIZE + 8 + 32 * 8 + DiffCase.FX_SIZE;
    private static final int OUT_RECORD = 16 * 8 + 8 + DiffCase.BUF_SIZE + 8 + 32 * 8 + DiffCase.FX_SIZE;
    private static final int SIGFPE = 8, XM_VECTOR = 19;

    private final Process process;
    private final OutputStream toHarness;
    private final DataInputStream fromHarness;
    private final int features;

    private NativeHarness(Process process) throws IOException {
        this.process = process;
        this.toHarness = new BufferedOutputStream(process.getOutputStream(), 1 << 16);
        this.fromHarness = new DataInputStream(new BufferedInputStream(process.getInputStream(), 1 << 16));
        byte[] f = new byte[4];
        fromHarness.readFully(f);
        this.features = ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    /** True when gcc can be run; the differential tests are skipped otherwise. */
    static boolean gccAvailable() {
        try {
            Process p = new ProcessBuilder("gcc", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Builds the harness into {@code outDir} (once per source change) and starts it. */
    static NativeHarness start(Path sourceDir, Path outDir) throws IOException, InterruptedException {
        Files.createDirectories(outDir);
        Path binary = outDir.resolve("difftest-harness");
        Path[] sources = {sourceDir.resolve("harness.c"), sourceDir.resolve("run.S"), sourceDir.resolve("harness.h")};
        boolean stale = !Files.exists(binary);
        for (Path s : sources) {
            if (!stale && Files.getLastModifiedTime(s).compareTo(Files.getLastModifiedTime(binary)) > 0) {
                stale = true;
            }
        }
        if (stale) {
            Process gcc = new ProcessBuilder("gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", binary.toString(),
                    sources[0].toString(), sources[1].toString()).redirectErrorStream(true).start();
            String output = new String(gcc.getInputStream().readAllBytes());
            if (!gcc.waitFor(120, TimeUnit.SECONDS) || gcc.exitValue() != 0) {
                throw new IOException("building the difftest harness failed:\n" + output);
            }
        }
        Process p = new ProcessBuilder(binary.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        return new NativeHarness(p);
    }

    int features() {
        return features;
    }

    /** Runs the cases on the host CPU, in order. */
    List<CpuState> run(List<DiffCase> cases) throws IOException {
        // A writer thread feeds the batch while this thread reads results, so neither pipe fills up.
        Thread writer = new Thread(() -> writeBatch(cases), "difftest-writer");
        writer.start();
        List<CpuState> results = new ArrayList<>(cases.size());
        byte[] record = new byte[OUT_RECORD];
        for (int i = 0; i < cases.size(); i++) {
            fromHarness.readFully(record);
            results.add(decode(record));
        }
        try {
            writer.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while feeding the harness", e);
        }
        return results;
    }

    private void writeBatch(List<DiffCase> cases) {
        ByteBuffer buf = ByteBuffer.allocate(IN_RECORD).order(ByteOrder.LITTLE_ENDIAN);
        try {
            toHarness.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(cases.size()).array());
            for (DiffCase c : cases) {
                buf.clear();
                buf.put((byte) c.code().length);
                buf.put(c.code());
                buf.position(16);
                for (long r : c.gpr()) {
                    buf.putLong(r);
                }
                buf.putLong(c.rflags());
                buf.put(c.mem());
                buf.putInt(c.mxcsr());
                buf.putInt(0);
                for (long x : c.xmm()) {
                    buf.putLong(x);
                }
                buf.put(c.fx());
                toHarness.write(buf.array());
            }
            toHarness.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static CpuState decode(byte[] record) {
        ByteBuffer b = ByteBuffer.wrap(record).order(ByteOrder.LITTLE_ENDIAN);
        long[] gpr = new long[16];
        for (int i = 0; i < 16; i++) {
            gpr[i] = b.getLong();
        }
        long rflags = b.getLong();
        byte[] mem = new byte[DiffCase.BUF_SIZE];
        b.get(mem);
        int signal = b.getInt();
        int mxcsr = b.getInt();
        long[] xmm = new long[32];
        for (int i = 0; i < 32; i++) {
            xmm[i] = b.getLong();
        }
        byte[] fx = new byte[DiffCase.FX_SIZE];
        b.get(fx);
        return new CpuState(gpr, rflags, mem, signalName(signal), xmm, mxcsr, fx);
    }

    /** The signal (low byte) and the vector the kernel reported (trap number, above it). */
    private static String signalName(int signalAndVector) {
        int signal = signalAndVector & 0xff;
        return switch (signal) {
            case 0 -> "";
            case SIGFPE -> (signalAndVector >>> 8) == XM_VECTOR ? "#XM (SIGFPE)" : "#DE (SIGFPE)";
            case 4 -> "#UD (SIGILL)";
            case 11 -> "#GP/#PF (SIGSEGV)";
            case 7 -> "SIGBUS";
            case 5 -> "SIGTRAP";
            default -> "signal " + signal;
        };
    }

    @Override
    public void close() throws IOException {
        toHarness.close();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroy();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroy();
        }
        InputStream in = process.getInputStream();
        in.close();
    }
}

package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LauncherTest {
    @TempDir
    Path dir;

    /**
     * The console's input thread blocks reading a terminal or pipe that may never deliver; the
     * machine interrupts it when the run ends, and the read must end then, or the JVM waits
     * for the thread at exit (a FIFO stands in for the process's stdin, which surefire owns).
     */
    @Test
    void aReadBlockedOnAPipeEndsWhenItsThreadIsInterrupted() throws Exception {
        Path fifo = dir.resolve("stdin");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertThat(mkfifo.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(mkfifo.exitValue()).isZero();
        // Held open for writing, so the read blocks rather than seeing end of file.
        try (RandomAccessFile writer = new RandomAccessFile(fifo.toFile(), "rw");
                InputStream in = Launcher.interruptible(new FileInputStream(fifo.toFile()))) {
            AtomicReference<Object> outcome = new AtomicReference<>();
            Thread reader = new Thread(() -> {
                try {
                    outcome.set(in.read());
                } catch (IOException e) {
                    outcome.set(e);
                }
            });
            reader.start();
            Thread.sleep(200);
            assertThat(reader.isAlive()).as("the read blocks while the pipe is empty").isTrue();
            reader.interrupt();
            reader.join(5_000);
            assertThat(reader.isAlive()).isFalse();
            assertThat(outcome.get()).isInstanceOf(IOException.class);
        }
    }
}

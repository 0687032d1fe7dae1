package org.tscvm.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.tscvm.qmp.QmpClient.errorClass;
import static org.tscvm.qmp.QmpClient.map;
import static org.tscvm.qmp.QmpClient.returned;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tscvm.TscvmException;
import org.tscvm.machine.Machine;
import org.tscvm.machine.MachineConfig;
import org.tscvm.machine.RunResult;
import org.tscvm.machine.SerialTarget;
import org.tscvm.snapshot.PrecopySender;

/**
 * The migration commands' protocol between two running machines (guests/ticker.c): URIs,
 * status and times in query-migrate, the MIGRATION events with the "events" capability, the
 * source stopped and left in postmigrate, the destination held in inmigrate until the state
 * arrives and running after it, and every failure path. The state itself is a stand-in here
 * (a counted block of bytes): what the machine's state is belongs to the snapshot format.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MigrationProtocolTest {
    @TempDir
    Path dir;

    private final List<CompletableFuture<RunResult>> runs = new ArrayList<>();
    private final List<Path> sockets = new ArrayList<>();

    /** A state of {@code size} bytes; load checks every byte and records what it read. */
    private static final class StandInState implements MigrationTarget {
        final int size;
        volatile int loaded = -1;

        StandInState(int size) {
            this.size = size;
        }

        @Override
        public void save(OutputStream out) throws IOException {
            DataOutputStream d = new DataOutputStream(out);
            d.writeInt(size);
            for (int i = 0; i < size; i++) {
                d.write(i * 31);
            }
            d.flush();
        }

        @Override
        public void saveLive(OutputStream out, InputStream answer, PrecopySender.Control control) throws IOException {
            control.stopGuest();
            save(out);
            if (answer.read() != 0) {
                throw new IOException("the destination did not take the state");
            }
        }

        @Override
        public void load(InputStream in) throws IOException {
            DataInputStream d = new DataInputStream(in);
            int n = d.readInt();
            for (int i = 0; i < n; i++) {
                if (d.read() != ((i * 31) & 0xff)) {
                    throw new IOException("byte " + i + " is wrong");
                }
            }
            loaded = n;
        }
    }

    /**
     * A state that does not end by itself: 4 KiB every 2 ms for up to 60 s, to a file, a
     * command or a socket (pre-copy style: the guest runs on); only a cancel stops it in time.
     */
    private static final class EndlessState implements MigrationTarget {
        final java.util.concurrent.CountDownLatch writing = new java.util.concurrent.CountDownLatch(1);
        volatile boolean stoppedWriting;

        @Override
        public void save(OutputStream out) throws IOException {
            byte[] chunk = new byte[4096];
            java.util.Arrays.fill(chunk, (byte) 0x5a);
            try {
                for (long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60); System.nanoTime() < end; ) {
                    out.write(chunk);
                    out.flush();
                    writing.countDown();
                    Thread.sleep(2);
                }
            } catch (InterruptedException e) {
                throw new java.io.InterruptedIOException();
            } finally {
                stoppedWriting = true;
            }
        }

        @Override
        public void saveLive(OutputStream out, InputStream answer, PrecopySender.Control control) throws IOException {
            save(out);
        }

        @Override
        public void load(InputStream in) throws IOException {
            throw new IOException("an endless state cannot be loaded");
        }
    }

    private record Running(Machine machine, Path socket, ByteArrayOutputStream serial) {
        long ticks() {
            return serial.toString(StandardCharsets.US_ASCII).lines().filter(l -> l.startsWith("tick ")).count();
        }
    }

    private static Path ticker() {
        Path p = Path.of(System.getProperty("tscvm.guests", "target/guests"), "ticker.elf");
        assumeTrue(Files.isRegularFile(p), "guest kernel " + p + " was not built");
        return p;
    }

    private Running boot(String name, String incoming, MigrationTarget state) {
        Path socket = dir.resolve(name + ".sock");
        ByteArrayOutputStream serial = new ByteArrayOutputStream();
        Machine m = new Machine(MachineConfig.builder().kernel(ticker()).serial(new SerialTarget.ToStream(serial))
                .timeout(Duration.ofSeconds(100))
                .qmp(new MachineConfig.Qmp(QmpAddress.parse("unix:" + socket + ",server=on,wait=off"), false, false, incoming))
                .build());
        if (state != null) {
            m.qmpServer().setMigrationTarget(state);
        }
        if (incoming != null) {
            m.qmpServer().expectIncoming(incoming, true);
        }
        runs.add(CompletableFuture.supplyAsync(m::run));
        sockets.add(socket);
        return new Running(m, socket, serial);
    }

    @AfterEach
    void quitAll() throws Exception {
        for (int i = 0; i < runs.size(); i++) {
            if (!runs.get(i).isDone()) {
                try (QmpClient c = QmpClient.negotiated(sockets.get(i))) {
                    c.execute("quit", null);
                }
                runs.get(i).get(30, TimeUnit.SECONDS);
            }
        }
    }


    private static Map<String, Object> awaitMigration(QmpClient c, String status) throws Exception {
        return c.awaitMigration(status, QmpClient.WAIT_SECONDS);
    }

    private static String status(QmpClient c) throws Exception {
        return (String) map(returned(c.execute("query-status", null))).get("status");
    }

    private static void enableEvents(QmpClient c) throws Exception {
        returned(c.execute("migrate-set-capabilities",
                Map.of("capabilities", List.of(Map.of("capability", "events", "state", true)))));
    }

    private static List<Object> migrationEvents(QmpClient c) {
        List<Object> statuses = new ArrayList<>();
        for (Map<String, Object> e : c.events) {
            if ("MIGRATION".equals(e.get("event"))) {
                statuses.add(map(e.get("data")).get("status"));
            }
        }
        return statuses;
    }

    @Test
    void withoutAStateStreamMigrationSaysSoAndChangesNothing() throws Exception {
        Running src = boot("src", null, null);
        try (QmpClient c = QmpClient.negotiated(src.socket())) {
            Map<String, Object> reply = c.execute("migrate", Map.of("uri", "file:" + dir.resolve("x")));
            assertThat(errorClass(reply)).isEqualTo("GenericError");
            assertThat(map(reply.get("error")).get("desc").toString()).contains("cannot migrate or save");
            assertThat(returned(c.execute("query-migrate", null))).isEqualTo(Map.of());
            assertThat(status(c)).isEqualTo("running");
            assertThat(dir.resolve("x")).doesNotExist();
            assertThat(errorClass(c.execute("migrate-incoming", Map.of("uri", "tcp::4444")))).isEqualTo("GenericError");
        }
    }

    @Test
    void toAFileTheSourceStopsWritesAndStaysInPostmigrate() throws Exception {
        Running src = boot("src", null, new StandInState(100_000));
        Path file = dir.resolve("state.bin");
        try (QmpClient c = QmpClient.negotiated(src.socket())) {
            enableEvents(c);
            assertThat(returned(c.execute("query-migrate-capabilities", null)))
                    .isEqualTo(List.of(Map.of("capability", "events", "state", true)));
            assertThat(errorClass(c.execute("migrate", Map.of("uri", "ftp:x")))).isEqualTo("GenericError");
            assertThat(errorClass(c.execute("migrate-set-capabilities",
                    Map.of("capabilities", List.of(Map.of("capability", "xbzrle", "state", true)))))).isEqualTo("GenericError");
            assertThat(returned(c.execute("migrate", Map.of("uri", "file:" + file)))).isEqualTo(Map.of());
            Map<String, Object> info = awaitMigration(c, "completed");
            assertThat(info).containsKeys("total-time", "setup-time", "downtime");
            assertThat(Files.size(file)).isEqualTo(4 + 100_000);
            c.awaitEvent("STOP");
            assertThat(status(c)).isEqualTo("postmigrate");
            long ticks = src.ticks();
            Thread.sleep(200);
            assertThat(src.ticks()).isEqualTo(ticks);
            assertThat(migrationEvents(c)).containsExactly("setup", "active", "completed");
            // QEMU lets the source run again after a migration.
            returned(c.execute("cont", null));
            assertThat(status(c)).isEqualTo("running");
        }
    }

    @Test
    void overTcpTheDestinationWaitsInInmigrateThenRuns() throws Exception {
        int port = QmpClient.freePort();
        StandInState destState = new StandInState(0);
        Running dst = boot("dst", "tcp:127.0.0.1:" + port, destState);
        Running src = boot("src", null, new StandInState(3_000_000));
        try (QmpClient d = QmpClient.negotiated(dst.socket()); QmpClient s = QmpClient.negotiated(src.socket())) {
            enableEvents(d);
            assertThat(status(d)).isEqualTo("inmigrate");
            assertThat(errorClass(d.execute("cont", null))).isEqualTo("GenericError");
            assertThat(dst.machine().vm().vcpus().get(0).instructionsRetired()).isZero();
            returned(s.execute("migrate", Map.of("uri", "tcp:127.0.0.1:" + port)));
            awaitMigration(s, "completed");
            awaitMigration(d, "completed");
            assertThat(destState.loaded).isEqualTo(3_000_000);
            d.awaitEvent("RESUME");
            assertThat(status(d)).isEqualTo("running");
            assertThat(migrationEvents(d)).containsExactly("active", "completed");
            assertThat(status(s)).isEqualTo("postmigrate");
        }
    }

    @Test
    void throughExecTheStateGoesToACommandAndComesBackFromOne() throws Exception {
        Path file = dir.resolve("via-exec.bin");
        Running src = boot("src", null, new StandInState(5000));
        try (QmpClient c = QmpClient.negotiated(src.socket())) {
            returned(c.execute("migrate", Map.of("uri", "exec:cat > '" + file + "'")));
            awaitMigration(c, "completed");
        }
        assertThat(Files.size(file)).isEqualTo(5004);
        StandInState in = new StandInState(0);
        Running dst = boot("dst", "defer", in);
        try (QmpClient d = QmpClient.negotiated(dst.socket())) {
            assertThat(status(d)).isEqualTo("inmigrate");
            returned(d.execute("migrate-incoming", Map.of("uri", "exec:cat '" + file + "'")));
            awaitMigration(d, "completed");
            assertThat(in.loaded).isEqualTo(5000);
            assertThat(errorClass(d.execute("migrate-incoming", Map.of("uri", "exec:true")))).isEqualTo("GenericError");
        }
    }

    @Test
    void aFailedMigrationLeavesTheSourceRunning() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort(); // closed: nobody listens there
        }
        Running src = boot("src", null, new StandInState(10));
        try (QmpClient c = QmpClient.negotiated(src.socket())) {
            returned(c.execute("migrate", Map.of("uri", "tcp:127.0.0.1:" + port)));
            Map<String, Object> info = awaitMigration(c, "failed");
            assertThat(info.get("error-desc").toString()).contains("tcp:127.0.0.1:" + port);
            assertThat(status(c)).isEqualTo("running");
            returned(c.execute("migrate", Map.of("uri", "exec:exit 3")));
            awaitMigration(c, "failed");
            assertThat(status(c)).isEqualTo("running");
            long ticks = src.ticks();
            Thread.sleep(100);
            assertThat(src.ticks()).isGreaterThan(ticks);
        }
    }

    @Test
    void migrateCancelWithNoMigrationUnderWayDoesNothing() throws Exception {
        Running src = boot("src", null, new StandInState(1000));
        try (QmpClient c = QmpClient.negotiated(src.socket())) {
            assertThat(returned(c.execute("migrate_cancel", null))).isEqualTo(Map.of());
            assertThat(returned(c.execute("query-migrate", null))).isEqualTo(Map.of());
            assertThat(status(c)).isEqualTo("running");
            returned(c.execute("migrate", Map.of("uri", "file:" + dir.resolve("done.bin"))));
            awaitMigration(c, "completed");
            assertThat(returned(c.execute("migrate_cancel", null))).isEqualTo(Map.of());
            assertThat(map(returned(c.execute("query-migrate", null))).get("status")).isEqualTo("completed");
            assertThat(status(c)).isEqualTo("postmigrate");
            assertThat(Files.size(dir.resolve("done.bin"))).isEqualTo(1004);
        }
    }

    /**
     * migrate_cancel while the state is being written (to a file; to a command that reads it;
     * to one that never reads, so the writer is blocked in a full pipe; over tcp while the
     * guest runs): cancelling, then cancelled, no error, the writing stops, the source runs on.
     */
    @ParameterizedTest
    @ValueSource(strings = {"file", "exec", "exec-not-reading", "tcp"})
    void migrateCancelBreaksOffTheMigrationAndTheSourceRunsOn(String kind) throws Exception {
        EndlessState state = new EndlessState();
        Running src = boot("src", null, state);
        Path part = dir.resolve("part.bin");
        try (ServerSocket listener = new ServerSocket(0); QmpClient c = QmpClient.negotiated(src.socket())) {
            Thread drain = new Thread(() -> {
                try (java.net.Socket s = listener.accept()) {
                    s.getInputStream().transferTo(OutputStream.nullOutputStream());
                } catch (IOException e) {
                    // the source broke off
                }
            });
            drain.setDaemon(true);
            drain.start();
            String uri = switch (kind) {
                case "file" -> "file:" + part;
                case "exec" -> "exec:cat > '" + part + "'";
                case "exec-not-reading" -> "exec:sleep 60";
                default -> "tcp:127.0.0.1:" + listener.getLocalPort();
            };
            enableEvents(c);
            returned(c.execute("migrate", Map.of("uri", uri)));
            assertThat(state.writing.await(QmpClient.WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
            Thread.sleep(100); // exec-not-reading: the pipe is full and the writer blocked by now
            assertThat(returned(c.execute("migrate_cancel", null))).isEqualTo(Map.of());
            Map<String, Object> info = awaitMigration(c, "cancelled");
            assertThat(info).containsKeys("total-time", "setup-time").doesNotContainKey("error-desc");
            assertThat(migrationEvents(c)).containsExactly("setup", "active", "cancelling", "cancelled");
            assertThat(state.stoppedWriting).as("the sending thread has left the state's writer").isTrue();
            if (!kind.equals("tcp")) {
                c.awaitEvent("RESUME"); // stop-and-copy stopped the guest; the cancel runs it again
            }
            assertThat(status(c)).isEqualTo("running");
            long ticks = src.ticks();
            Thread.sleep(200);
            assertThat(src.ticks()).as("the source runs on").isGreaterThan(ticks);
            if (kind.equals("file") || kind.equals("exec")) {
                long size = Files.size(part);
                Thread.sleep(100);
                assertThat(Files.size(part)).as("nothing more is written").isEqualTo(size);
            }
            assertThat(returned(c.execute("migrate_cancel", null))).isEqualTo(Map.of());
            assertThat(map(returned(c.execute("query-migrate", null))).get("status")).isEqualTo("cancelled");
        }
    }

    /**
     * Stopped before the migrate, cancelled while its state is written (the final phase): the
     * source stays stopped, in postmigrate, as QEMU 7.2's does once a stopped guest's migration
     * has reached finish-migrate (migration_iteration_finish); cont runs it.
     */
    @Test
    void aSourceStoppedBeforeTheMigrationStaysStoppedInPostmigrateAfterACancelInTheFinalPhase() throws Exception {
        EndlessState state = new EndlessState();
        Running src = boot("src", null, state);
        try (QmpClient c = QmpClient.negotiated(src.socket())) {
            returned(c.execute("stop", null));
            assertThat(status(c)).isEqualTo("paused");
            returned(c.execute("migrate", Map.of("uri", "file:" + dir.resolve("part.bin"))));
            assertThat(state.writing.await(QmpClient.WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
            assertThat(status(c)).isEqualTo("finish-migrate");
            returned(c.execute("migrate_cancel", null));
            awaitMigration(c, "cancelled");
            assertThat(status(c)).isEqualTo("postmigrate");
            long ticks = src.ticks();
            Thread.sleep(200);
            assertThat(src.ticks()).isEqualTo(ticks);
            returned(c.execute("cont", null));
            assertThat(status(c)).isEqualTo("running");
        }
    }

    @Test
    void aStateThatCannotBeLoadedEndsTheDestinationWithItsOwnStatus() throws Exception {
        Path bad = Files.write(dir.resolve("bad.bin"), new byte[] {0, 0, 0, 4, 0, 1, 2, 3});
        Running dst = boot("dst", "file:" + bad, new StandInState(0));
        RunResult r = runs.get(0).get(30, TimeUnit.SECONDS);
        assertThat(r.exitStatus()).isEqualTo(RunResult.STATUS_MIGRATION_FAILED);
        assertThat(r.reason()).contains("byte 1 is wrong");
        assertThat(dst.machine().vm().vcpus().get(0).instructionsRetired()).isZero();
    }

    @Test
    void anIncomingSourceThatCannotBeOpenedFailsTheStart() {
        Path socket = dir.resolve("m.sock");
        Machine m = new Machine(MachineConfig.builder().kernel(ticker()).serial(new SerialTarget.ToStream(new ByteArrayOutputStream()))
                .qmp(new MachineConfig.Qmp(QmpAddress.parse("unix:" + socket + ",server=on,wait=off"), false, false,
                        "file:/no/such/file")).build());
        m.qmpServer().setMigrationTarget(new StandInState(0));
        try {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> m.qmpServer().expectIncoming("file:/no/such/file", true))
                    .isInstanceOf(TscvmException.class).hasMessageContaining("/no/such/file");
        } finally {
            m.qmpServer().close();
        }
    }
}

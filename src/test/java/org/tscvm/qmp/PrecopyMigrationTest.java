package org.tscvm.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.tscvm.qmp.QmpClient.map;
import static org.tscvm.qmp.QmpClient.returned;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tscvm.machine.Machine;
import org.tscvm.machine.MachineConfig;
import org.tscvm.machine.RunResult;
import org.tscvm.machine.SerialTarget;
import org.tscvm.memory.GuestMemory;
import org.tscvm.snapshot.MachineSnapshot;
import org.tscvm.snapshot.PrecopyReceiver;
import org.tscvm.snapshot.PrecopySender;
import org.tscvm.snapshot.RestoreTime;
import org.tscvm.vm.VmConfig;

/**
 * Pre-copy end to end in one JVM, where both machines' RAM can be compared: guests/timekeeper.c
 * on 2 vCPUs rewrites its memory region every round while the source sends RAM round after
 * round (a downtime limit of 1 ms keeps it from stopping early); the destination, started
 * with -S, must then hold RAM identical page for page to the stopped source's (a CRC-32C over
 * every page), and run on with every check of the guest passing.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class PrecopyMigrationTest {
    @TempDir
    Path dir;

    private final List<CompletableFuture<RunResult>> runs = new ArrayList<>();
    private final List<Path> sockets = new ArrayList<>();

    /** The machine's state as tscvm's command line streams it (the cli's MachineStateStream). */
    private record Stream(Machine machine) implements MigrationTarget {
        @Override
        public void save(OutputStream out) throws IOException {
            MachineSnapshot.write(machine, out);
        }

        @Override
        public void saveLive(OutputStream out, InputStream answer, PrecopySender.Control control) throws IOException {
            PrecopySender.send(machine, out, answer, control);
        }

        @Override
        public void load(InputStream in) throws IOException {
            assertThat(PrecopyReceiver.isPrecopy(in)).as("tcp: carries the pre-copy stream").isTrue();
            MachineSnapshot.restoreOverRam(machine, PrecopyReceiver.receive(machine, in), RestoreTime.PAUSED);
        }
    }

    private record Running(Machine machine, Path socket, ByteArrayOutputStream serial) {
        String console() {
            synchronized (serial) {
                return serial.toString(StandardCharsets.US_ASCII);
            }
        }

        long lastRound() {
            // a line still being printed has no colon yet
            return console().lines().filter(l -> l.startsWith("round ") && l.indexOf(':') > 0).mapToLong(l -> Long.parseLong(l.substring(6, l.indexOf(':'))))
                    .max().orElse(0);
        }
    }

    private Running boot(String name, String clock, String incoming) {
        Path kernel = Path.of(System.getProperty("tscvm.guests", "target/guests"), "timekeeper.elf");
        assumeTrue(Files.isRegularFile(kernel), "guest kernel " + kernel + " was not built");
        Path socket = dir.resolve(name + ".sock");
        ByteArrayOutputStream serial = new ByteArrayOutputStream();
        Machine m = new Machine(MachineConfig.builder().kernel(kernel).smp(2).ramBytes(64L << 20)
                .append("rounds=0 mem=8 round=20000000").clock(VmConfig.ClockKind.valueOf(clock))
                .serial(new SerialTarget.ToStream(serial)).timeout(Duration.ofSeconds(140))
                .qmp(new MachineConfig.Qmp(QmpAddress.parse("unix:" + socket + ",server=on,wait=off"), false,
                        incoming != null, incoming))
                .build());
        m.qmpServer().setMigrationTarget(new Stream(m));
        if (incoming != null) {
            m.qmpServer().expectIncoming(incoming, false);
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
        return c.awaitMigration(status, 60);
    }

    private static void await(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(10);
        }
    }

    /** CRC-32C over every page of RAM, in page-number order. */
    private static long ramChecksum(GuestMemory memory) {
        CRC32C crc = new CRC32C();
        byte[] page = new byte[GuestMemory.PAGE_SIZE];
        for (int n = 0; n < memory.pageCount(); n++) {
            memory.readPage(memory.physicalAddress((long) n << GuestMemory.PAGE_SHIFT), page, 0);
            crc.update(page);
        }
        return crc.getValue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"REAL_TIME", "DETERMINISTIC"})
    void ramArrivesIdenticalAfterSeveralRoundsWhileTheGuestRewritesIt(String clock) throws Exception {
        int port = QmpClient.freePort();
        Running dst = boot("dst", clock, "tcp:127.0.0.1:" + port);
        Running src = boot("src", clock, null);
        await("the source's rounds", () -> src.lastRound() >= 2);
        try (QmpClient s = QmpClient.negotiated(src.socket()); QmpClient d = QmpClient.negotiated(dst.socket())) {
            returned(s.execute("migrate-set-parameters", Map.of("downtime-limit", 1L)));
            assertThat(returned(s.execute("query-migrate-parameters", null))).isEqualTo(Map.of("downtime-limit", 1L));
            returned(s.execute("migrate", Map.of("uri", "tcp:127.0.0.1:" + port)));
            Map<String, Object> done = awaitMigration(s, "completed");
            awaitMigration(d, "completed");
            Map<String, Object> ram = map(done.get("ram"));
            assertThat((Long) ram.get("dirty-sync-count")).as(done.toString()).isGreaterThanOrEqualTo(3L);
            assertThat(ram.get("total")).isEqualTo(64L << 20);
            assertThat(ram.get("remaining")).isEqualTo(0L);
            assertThat((Long) ram.get("normal")).as("the guest's 8 MiB region at least").isGreaterThan(2048L);
            assertThat((Long) ram.get("transferred")).isGreaterThan((Long) ram.get("normal-bytes"));
            assertThat(done).containsKeys("downtime", "total-time", "setup-time");
            assertThat(src.machine().vm().memory().dirtyLogging()).as("logging ends with the migration").isFalse();

            assertThat(ramChecksum(dst.machine().vm().memory())).as("RAM at the destination")
                    .isEqualTo(ramChecksum(src.machine().vm().memory()));

            long migratedAt = src.lastRound();
            returned(d.execute("cont", null));
            await("rounds at the destination", () -> dst.lastRound() >= migratedAt + 2);
            assertThat(dst.console()).as(dst.console()).doesNotContain("FAIL").doesNotContain("timekeeper:");
            assertThat(src.console()).doesNotContain("FAIL");
        }
    }
}

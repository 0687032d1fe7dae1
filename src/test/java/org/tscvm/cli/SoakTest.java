package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The soak (issue 13, reliability): several VMs with several vCPUs each in one JVM, each
 * running timekeeper.elf forever (every vCPU checks its TSC against its own and every other
 * vCPU's readings, TSC_ADJUST, TSC_AUX, a deadline timer and memory), for a number of minutes.
 * It reports a VM that stops making rounds (a deadlock or a lost vCPU), any check that failed
 * (a backwards TSC among them) and the heap's growth. Not part of `mvn test`: run it with
 * {@code tools/reliability soak [MINUTES] [VMS] [VCPUS] [CLOCK]}.
 */
class SoakTest {
    private static final int MINUTES = Integer.getInteger("tscvm.soak.minutes", 0);
    private static final int VMS = Integer.getInteger("tscvm.soak.vms", 8);
    private static final int VCPUS = Integer.getInteger("tscvm.soak.vcpus", 4);
    private static final String CLOCK = System.getProperty("tscvm.soak.clock", "real");
    /** A VM whose CPU 0 prints no new round for this long is reported stuck. */
    private static final long STALL_MILLIS = 120_000;
    private static final Pattern ROUND = Pattern.compile("(?m)^round (\\d+):");

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 24, unit = TimeUnit.HOURS) // the soak's own length is the limit; not the suite's default
    void vmsKeepTimeForMinutes() throws Exception {
        assumeTrue(MINUTES > 0, "set -Dtscvm.soak.minutes (tools/reliability soak)");
        Path kernel = Path.of(System.getProperty("tscvm.guests", "target/guests"), "timekeeper.elf");
        assumeTrue(Files.isRegularFile(kernel), "timekeeper.elf was not built");

        long heapBefore = usedHeapAfterGc();
        long start = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(VMS);
        List<Path> serials = new ArrayList<>();
        List<Future<CliRun>> runs = new ArrayList<>();
        for (int vm = 0; vm < VMS; vm++) {
            Path serial = dir.resolve("vm" + vm + ".txt");
            serials.add(serial);
            String[] args = {"run", "-kernel", kernel.toString(), "-serial", "file:" + serial,
                    "-smp", Integer.toString(VCPUS), "-m", "128M", "--clock", CLOCK,
                    "--timeout", Integer.toString(MINUTES * 60), "-append", "rounds=0 mem=8"};
            runs.add(pool.submit(() -> CliRun.tscvm(args)));
        }

        long[] lastRound = new long[VMS];
        long[] lastProgress = new long[VMS];
        java.util.Arrays.fill(lastProgress, System.currentTimeMillis());
        List<String> stuck = new ArrayList<>();
        long heapPeak = 0;
        while (!runs.stream().allMatch(Future::isDone)) {
            Thread.sleep(10_000);
            heapPeak = Math.max(heapPeak, usedHeap());
            long now = System.currentTimeMillis();
            for (int vm = 0; vm < VMS; vm++) {
                long round = lastRound(serials.get(vm));
                if (round > lastRound[vm]) {
                    lastRound[vm] = round;
                    lastProgress[vm] = now;
                } else if (!runs.get(vm).isDone() && now - lastProgress[vm] > STALL_MILLIS) {
                    stuck.add("vm" + vm + " made no round for " + (now - lastProgress[vm]) / 1000 + " s at round " + round);
                    lastProgress[vm] = now;
                    dumpVcpuThreads();
                }
            }
        }
        pool.shutdown();
        long heapAfter = usedHeapAfterGc();

        List<String> failures = new ArrayList<>();
        long rounds = 0;
        for (int vm = 0; vm < VMS; vm++) {
            CliRun run = runs.get(vm).get();
            String serial = Files.readString(serials.get(vm));
            rounds += lastRound(serials.get(vm));
            if (run.status() != 20) { // the only way out of rounds=0 is the timeout
                failures.add("vm" + vm + " ended with status " + run.status() + ": " + run.err().strip());
            }
            String name = "vm" + vm + ": ";
            serial.lines().filter(l -> l.startsWith("FAIL")).limit(5).forEach(l -> failures.add(name + l));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("soak: %d VMs x %d vCPUs, %s clock, %.0f s: %d rounds in all, %d stuck, %d check failures; "
                        + "heap used %d MiB before, %d MiB peak, %d MiB after (after GC)%n",
                VMS, VCPUS, CLOCK, seconds, rounds, stuck.size(), failures.size(),
                heapBefore >> 20, heapPeak >> 20, heapAfter >> 20);
        stuck.forEach(s -> System.out.println("soak: " + s));
        failures.forEach(f -> System.out.println("soak: " + f));
        assertThat(stuck).isEmpty();
        assertThat(failures).isEmpty();
        assertThat(rounds).isPositive();
    }

    private static long lastRound(Path serial) throws IOException {
        if (!Files.exists(serial)) {
            return 0;
        }
        Matcher m = ROUND.matcher(Files.readString(serial));
        long last = 0;
        while (m.find()) {
            last = Long.parseLong(m.group(1));
        }
        return last;
    }

    private static long usedHeap() {
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static long usedHeapAfterGc() {
        System.gc();
        return usedHeap();
    }

    private static void dumpVcpuThreads() {
        for (ThreadInfo t : ManagementFactory.getThreadMXBean().dumpAllThreads(true, true)) {
            if (t.getThreadName().contains("vcpu")) {
                System.out.print("soak: " + t);
            }
        }
    }
}

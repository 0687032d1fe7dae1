package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.time.LocalTime;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletionService;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;
import org.tscvm.memory.GuestMemory;

/**
 * Seeded random instruction bytes in random modes and privilege levels: nothing the guest does
 * may throw out of {@link Cpu#run}, no interpreter bug may be hit (the "internal" #UD count),
 * and the CPU must run ordinary code correctly afterwards. Set -Dtscvm.fuzz.seed and
 * -Dtscvm.fuzz.rounds to reproduce or lengthen a run; -Dtscvm.fuzz.threads and
 * -Dtscvm.fuzz.compileEvery (default 2) are for long runs ({@code tools/reliability fuzz}). A
 * round's outcome depends only on the seed and its index, so a run is the same on any number of
 * threads.
 */
class CpuRobustnessTest {
    private static final long SEED = Long.getLong("tscvm.fuzz.seed", 0x7c5f_2026L);
    private static final int ROUNDS = Integer.getInteger("tscvm.fuzz.rounds", 2000);
    /** One round in this many compiles each block on its first run (the rest compile nothing early). */
    private static final int COMPILE_EVERY = Math.max(1, Integer.getInteger("tscvm.fuzz.compileEvery", 2));
    /** Rounds are split into this many consecutive ranges run side by side (long runs use every core). */
    private static final int THREADS = Math.max(1, Integer.getInteger("tscvm.fuzz.threads", 1));

    /** Long runs say how far each range has come every this many rounds. */
    private static final int PROGRESS = 250_000;

    /** What one range of rounds found. */
    private static final class Tally {
        long instructions;
        long compiled;
        final Map<String, Long> undefined = new TreeMap<>();

        void add(Tally other) {
            instructions += other.instructions;
            compiled += other.compiled;
            other.undefined.forEach((k, v) -> undefined.merge(k, v, Long::sum));
        }
    }

    @Test
    void randomInstructionBytesInRandomModesNeverEscapeRunAndLeaveTheCpuUsable() throws Exception {
        Tally total = new Tally();
        ExecutorService pool = Executors.newFixedThreadPool(THREADS, task -> {
            Thread thread = new Thread(task, "fuzz");
            thread.setDaemon(true); // a failed range does not wait for the others
            return thread;
        });
        try {
            // Completion order, so that a failure in any range ends the run at once.
            CompletionService<Tally> parts = new ExecutorCompletionService<>(pool);
            for (int t = 0; t < THREADS; t++) {
                int from = (int) ((long) ROUNDS * t / THREADS);
                int to = (int) ((long) ROUNDS * (t + 1) / THREADS);
                parts.submit(() -> fuzz(from, to));
            }
            for (int t = 0; t < THREADS; t++) {
                try {
                    total.add(parts.take().get());
                } catch (ExecutionException e) {
                    throw e.getCause() instanceof Error err ? err : new AssertionError(e.getCause());
                }
            }
        } finally {
            pool.shutdownNow();
        }
        System.out.printf("robustness: %d rounds from seed %d, %d instructions retired, %d blocks compiled, %d distinct #UD opcodes%n",
                ROUNDS, SEED, total.instructions, total.compiled, total.undefined.size());
        assertThat(total.compiled).as("blocks compiled in the compiling rounds").isPositive();
    }

    private static Tally fuzz(int from, int to) {
        Tally tally = new Tally();
        for (int round = from; round < to; round++) {
            long seed = SEED + round;
            Random rnd = new Random(seed);
            // Fresh RAM each round: it is allocated per 64 KiB chunk on first touch, cheaper than
            // zeroing 2 MiB, and no round sees another's bytes.
            CpuRig rig = new CpuRig(new GuestMemory(2L << 20));
            rig.bus.recording = false;
            rig.longMode();
            int mode = rnd.nextInt(6);
            byte[] code = new byte[256];
            rnd.nextBytes(code);
            // Bias towards opcodes with a bigger decode space: 0F, prefixes, ModRM-heavy forms, x87.
            for (int i = 0; i < code.length; i += 1 + rnd.nextInt(6)) {
                int pick = rnd.nextInt(8);
                if (pick == 0) {
                    code[i] = 0x0f;
                } else if (pick == 1) {
                    code[i] = (byte) (0x40 + rnd.nextInt(16));
                } else if (pick == 2) {
                    code[i] = (byte) new int[] {0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x64, 0x65, 0x2e}[rnd.nextInt(8)];
                } else if (pick == 3) {
                    code[i] = (byte) (0xd8 + rnd.nextInt(8)); // the x87 map (and FWAIT below)
                } else if (pick == 4 && rnd.nextInt(4) == 0) {
                    code[i] = (byte) 0x9b;
                }
            }
            // RTM absent, disabled or running (its own stream, so the other draws stay as they
            // were); in half the 64-bit CPL 0 rounds the random code runs inside a transaction
            // (an XBEGIN whose fallback is the code after it).
            Random rtm = new Random(seed ^ 0x5254_4d00L);
            rig.bus.rtm = rtm.nextInt(3);
            if ((mode == 0 || mode == 4) && rtm.nextBoolean()) {
                System.arraycopy(CpuRig.hex("c7 f8 00 00 00 00"), 0, code, 0, 6);
            }
            Cpu cpu = rig.cpu;
            // Some rounds compile each block on its first run: the compiled code must contain
            // random bytes as well as the interpreter does.
            cpu.setCompileThreshold(round % COMPILE_EVERY == 0 ? 1 : Cpu.DEFAULT_COMPILE_THRESHOLD);
            try {
                switch (mode) {
                    case 0: // 64-bit, CPL 0
                        rig.load(CpuRig.CODE, code);
                        cpu.setRip(CpuRig.CODE);
                        break;
                    case 1: // 64-bit, CPL 3 on the same tables
                        rig.load(CpuRig.CODE, code);
                        cpu.enterFlatLongMode(CpuRig.CODE, 0x1000, 3);
                        break;
                    case 2: // 32-bit protected mode, paging off
                        rig.load(CpuRig.CODE, code);
                        cpu.enterFlatProtectedMode((int) CpuRig.CODE);
                        break;
                    case 3: // real mode after INIT/SIPI at 0x1000
                        rig.load(0x1000, code);
                        cpu.init();
                        cpu.startup(0x01);
                        break;
                    case 5: { // compatibility mode: a far return to the 32-bit code segment 0x40 first
                        // push $0x40; lea next(%rip),%rax; push %rax; lretq; next:
                        byte[] prefix = CpuRig.hex("6a 40 48 8d 05 03 00 00 00 50 48 cb");
                        System.arraycopy(prefix, 0, code, 0, prefix.length);
                        rig.load(CpuRig.CODE, code);
                        cpu.setRip(CpuRig.CODE);
                        break;
                    }
                    default: // 64-bit with random register contents pointing anywhere
                        rig.load(CpuRig.CODE, code);
                        cpu.setRip(CpuRig.CODE);
                        break;
                }
                if ((round & 3) != 3) {
                    // Three rounds in four with SSE enabled as an OS would (CR4.OSFXSR, mostly
                    // OSXMMEXCPT too), random XMM registers and a random MXCSR (some exceptions
                    // unmasked, so #XM and #UD-for-#XM happen).
                    cpu.setCr(4, cpu.getCr(4) | CpuState.CR4_OSFXSR
                            | (rnd.nextInt(4) != 0 ? CpuState.CR4_OSXMMEXCPT : 0));
                    for (int x = 0; x < 16; x++) {
                        cpu.setXmm(x, rnd.nextLong(), rnd.nextLong());
                    }
                    cpu.setMxcsr(rnd.nextInt(0x10000));
                }
                // CET in one round in three (its own stream too): CPUID reports it, CR0.WP and
                // CR4.CET are set, random controls at both privileges (shadow stacks, WRSS, IBT,
                // notrack, a waiting tracker), random SSPs and token addresses. With paging off
                // (mode 2) shadow-stack accesses reach memory; with paging they fault (#PF SS).
                Random cet = new Random(seed ^ 0x4345_5400L);
                if (cet.nextInt(3) == 0) {
                    rig.bus.leaf7Ecx |= 1 << 7;
                    rig.bus.leaf7Edx |= 1 << 20;
                    cpu.setCr(0, cpu.getCr(0) | CpuState.CR0_WP);
                    cpu.setCr(4, cpu.getCr(4) | CpuState.CR4_CET);
                    cpu.writeMsr(Msr.IA32_U_CET, cet.nextInt(32) | (cet.nextBoolean() ? Cet.TRACKER : 0));
                    cpu.writeMsr(Msr.IA32_S_CET, cet.nextInt(32) | (cet.nextBoolean() ? Cet.TRACKER : 0));
                    for (int msr = Msr.IA32_PL0_SSP; msr <= Msr.IA32_PL3_SSP; msr++) {
                        cpu.writeMsr(msr, cet.nextInt(1 << 21) & ~3);
                    }
                    cpu.writeMsr(Msr.IA32_INTERRUPT_SSP_TABLE_ADDR, cet.nextInt(1 << 21));
                    cpu.setSsp(cet.nextInt(1 << 21) & ~3);
                }
                for (int r = 0; r < 16; r++) {
                    if ((r != Cpu.RSP || mode == 4) && !(mode == 5 && r == Cpu.RAX)) {
                        cpu.setGpr(r, mode == 4 ? rnd.nextLong() : rnd.nextInt(1 << 20));
                    }
                }
                if (rnd.nextBoolean()) {
                    rig.bus.raise(0x20 + rnd.nextInt(200));
                }
                for (int slice = 0; slice < 4; slice++) {
                    RunStop stop = cpu.run(500);
                    if (stop == RunStop.HALTED) {
                        cpu.notifyInterrupt();
                    }
                }
                cpu.describe();
            } catch (RuntimeException e) {
                fail("seed " + seed + " (mode " + mode + "): " + e + " at " + cpu.describe(), e);
            }
            assertThat(cpu.unimplementedOpcodes().keySet()).as("seed %d: interpreter bugs", seed)
                    .noneMatch(k -> k.startsWith("internal"));
            tally.instructions += cpu.instructionsRetired();
            tally.compiled += cpu.compiledBlocks();
            cpu.unimplementedOpcodes().forEach((k, v) -> tally.undefined.merge(k, v, Long::sum));
            if (round % 100 == 0) {
                checkUsable(rig, seed);
            }
            if ((round - from + 1) % PROGRESS == 0) {
                System.out.printf("robustness progress: rounds %d to %d of %d done, %tT%n",
                        from, round, ROUNDS, LocalTime.now());
            }
        }
        return tally;
    }

    private static void checkUsable(CpuRig rig, long seed) {
        CpuRig fresh = new CpuRig(rig.memory);
        fresh.memory.fill(0, fresh.memory.size(), (byte) 0);
        fresh.longMode();
        // mov $5,%eax; add %eax,%eax; hlt  -- on the CPU that just ran random bytes
        rig.load(CpuRig.CODE, CpuRig.hex("b8 05 00 00 00 01 c0 f4"));
        rig.cpu.enterFlatLongMode(CpuRig.CODE, 0x1000, 0);
        rig.cpu.setGpr(Cpu.RSP, CpuRig.STACK_TOP);
        assertThat(rig.cpu.run(100)).as("seed %d: %s", seed, rig.cpu.describe()).isIn(RunStop.HALTED);
        assertThat(rig.cpu.getGpr(Cpu.RAX)).isEqualTo(10);
    }
}

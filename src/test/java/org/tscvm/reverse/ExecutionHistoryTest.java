package org.tscvm.reverse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tscvm.json.Json;
import org.tscvm.trace.TraceConfig;
import org.tscvm.TscvmException;
import org.tscvm.machine.Machine;
import org.tscvm.machine.MachineConfig;
import org.tscvm.machine.SerialTarget;
import org.tscvm.replay.StateDigest;
import org.tscvm.vm.GuestDebug;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VcpuExit;
import org.tscvm.vm.VmConfig;

/**
 * The reverse engine on our own guest kernels (one vCPU, deterministic clock): the machine is
 * driven as the runner drives it under a debugger (checkpoint hooks around each run), and every
 * state it goes back to is compared, by the whole machine's digest, with a second machine that
 * simply ran forward to the same instruction count.
 */
class ExecutionHistoryTest {
    private static final long INTERVAL = 4_000;

    private static Machine machine(String guest) {
        return machine(guest, new ByteArrayOutputStream());
    }

    private static Machine machine(String guest, ByteArrayOutputStream serial) {
        Path kernel = Path.of(System.getProperty("tscvm.guests", "target/guests")).resolve(guest + ".elf");
        assumeTrue(Files.isRegularFile(kernel), "guest kernel " + kernel + " was not built");
        return new Machine(MachineConfig.builder().kernel(kernel).smp(1).ramBytes(32L << 20)
                .clock(VmConfig.ClockKind.DETERMINISTIC).serial(new SerialTarget.ToStream(serial))
                .build());
    }

    private static Vcpu vcpu(Machine m) {
        return m.vm().vcpus().get(0);
    }

    /** A machine that never goes back, run straight to {@code position} instructions: the reference state. */
    private static String referenceDigest(String guest, long position) {
        Machine m = machine(guest);
        runPlain(vcpu(m), position);
        return StateDigest.of(m);
    }

    private static void runPlain(Vcpu v, long position) {
        v.stopAtRetired(position);
        while (v.instructionsRetired() < position) {
            VcpuExit exit = v.run();
            assertThat(exit.kind()).as("exit before instruction %d", position).isIn(VcpuExit.Kind.PAUSED, VcpuExit.Kind.IO_OUT);
        }
        v.stopAtRetired(Long.MAX_VALUE);
    }

    /** Runs on as the runner does with a debugger attached (a checkpoint at every mark) up to {@code position}. */
    private static void forward(ExecutionHistory h, Vcpu v, long position) {
        while (h.position() < position) {
            h.beforeRun();
            long nextMark = (h.position() / INTERVAL + 1) * INTERVAL;
            v.stopAtRetired(v.instructionsRetired() + Math.min(nextMark, position) - h.position());
            VcpuExit exit = v.run();
            assertThat(exit.kind()).isIn(VcpuExit.Kind.PAUSED, VcpuExit.Kind.IO_OUT);
            h.afterRun();
        }
    }

    private static ExecutionHistory attached(Machine m) {
        ExecutionHistory h = new ExecutionHistory(m, INTERVAL, ExecutionHistory.DEFAULT_BUDGET_BYTES);
        h.start();
        return h;
    }

    @ParameterizedTest
    @ValueSource(strings = {"apic_timer", "debuggee"})
    void backOneInstructionIsTheStateAtThatCountAndForwardAgainRepeatsTheRun(String guest) {
        long here = 3 * INTERVAL + 1234;
        Machine m = machine(guest);
        ExecutionHistory h = attached(m);
        forward(h, vcpu(m), here);
        String original = StateDigest.of(m);
        assertThat(original).isEqualTo(referenceDigest(guest, here));

        ExecutionHistory.Landing landing = h.stepBack();
        assertThat(landing.historyBegin()).isFalse();
        assertThat(h.position()).isEqualTo(here - 1);
        assertThat(StateDigest.of(m)).isEqualTo(referenceDigest(guest, here - 1)).isNotEqualTo(original);

        for (int i = 0; i < 5; i++) {
            h.stepBack();
        }
        assertThat(h.position()).isEqualTo(here - 6);
        assertThat(StateDigest.of(m)).isEqualTo(referenceDigest(guest, here - 6));

        forward(h, vcpu(m), here);
        assertThat(StateDigest.of(m)).isEqualTo(original);
    }

    @Test
    void reverseContinueLandsOnTheLastBreakpointHitBeforeHereAndNoLaterHitLiesBetween() {
        String guest = "apic_timer";
        long here = 6 * INTERVAL + 777;
        long marked = here - 2 * INTERVAL - 55;
        Machine m = machine(guest);
        Vcpu v = vcpu(m);
        ExecutionHistory h = attached(m);
        forward(h, v, marked);
        long breakpoint = v.getRegs().rip(); // CS base is 0: linear = RIP
        forward(h, v, here);
        String original = StateDigest.of(m);

        GuestDebug debug = new GuestDebug(false, Set.of(breakpoint), List.of());
        ExecutionHistory.Landing landing = h.continueBack(debug);
        assertThat(landing.historyBegin()).isFalse();
        assertThat(landing.hit()).isEqualTo(new VcpuExit.Debug(VcpuExit.Debug.Reason.BREAKPOINT, breakpoint));
        assertThat(v.getRegs().rip()).isEqualTo(breakpoint);
        long landed = h.position();
        assertThat(landed).isBetween(marked, here - 1);

        // Stepping on from the hit, instruction by instruction: the breakpoint address never comes up again before here.
        v.setGuestDebug(new GuestDebug(true, Set.of(), List.of()));
        v.stopAtRetired(Long.MAX_VALUE);
        v.run(); // executes the instruction at the breakpoint
        while (h.position() < here) {
            assertThat(v.getRegs().rip()).as("at instruction %d", h.position()).isNotEqualTo(breakpoint);
            assertThat(v.run().kind()).isEqualTo(VcpuExit.Kind.DEBUG);
        }
        v.setGuestDebug(GuestDebug.NONE);
        assertThat(h.position()).isEqualTo(here);
        assertThat(StateDigest.of(m)).as("forward again to where reverse-continue began").isEqualTo(original);

        // Going back again from the hit finds an earlier one, or the start of history.
        h.continueBack(debug);
        assertThat(h.position()).as("the same hit, found again from here").isEqualTo(landed);
        ExecutionHistory.Landing earlier = h.continueBack(debug);
        assertThat(h.position()).isLessThan(landed);
        if (!earlier.historyBegin()) {
            assertThat(v.getRegs().rip()).isEqualTo(breakpoint);
        }
    }

    @Test
    void aWatchpointLandsBeforeTheInstructionThatWrote() {
        String guest = "debuggee";
        Machine m = machine(guest);
        Vcpu v = vcpu(m);
        ExecutionHistory h = attached(m);
        long here = 4 * INTERVAL;
        forward(h, v, here);
        // The stack is written all the time: watch 256 bytes either side of RSP as it is now.
        long rsp = v.getRegs().rsp();
        GuestDebug debug = new GuestDebug(false, Set.of(), List.of(
                new GuestDebug.Watchpoint(rsp - 256, 512, GuestDebug.WatchKind.WRITE)));
        ExecutionHistory.Landing landing = h.continueBack(debug);
        assertThat(landing.historyBegin()).isFalse();
        assertThat(landing.hit().reason()).isEqualTo(VcpuExit.Debug.Reason.WATCH_WRITE);
        long landed = h.position();
        assertThat(StateDigest.of(m)).isEqualTo(referenceDigest(guest, landed));
        // One step on, the write happens: the vCPU reports it.
        v.setGuestDebug(debug.withSingleStep(true));
        VcpuExit.Debug next = (VcpuExit.Debug) v.run();
        v.setGuestDebug(GuestDebug.NONE);
        assertThat(next.reason()).isEqualTo(VcpuExit.Debug.Reason.WATCH_WRITE);
        assertThat(h.position()).isEqualTo(landed + 1);
    }

    @Test
    void goingBackPastTheFirstCheckpointStopsAtTheBeginningOfHistory() {
        String guest = "apic_timer";
        Machine m = machine(guest);
        Vcpu v = vcpu(m);
        runPlain(v, 1_000); // history begins where the debugger first let the machine run
        ExecutionHistory h = attached(m);
        long here = 2 * INTERVAL + 3;
        forward(h, v, here);
        assertThat(h.beginning()).isEqualTo(1_000);

        GuestDebug never = new GuestDebug(false, Set.of(0xdead0000L), List.of());
        ExecutionHistory.Landing landing = h.continueBack(never);
        assertThat(landing).isEqualTo(new ExecutionHistory.Landing(null, true));
        assertThat(h.position()).isEqualTo(1_000);
        assertThat(StateDigest.of(m)).isEqualTo(referenceDigest(guest, 1_000));

        assertThat(h.stepBack().historyBegin()).isTrue();
        assertThat(h.position()).isEqualTo(1_000);

        forward(h, v, 1_001);
        assertThat(h.stepBack().historyBegin()).isFalse();
        assertThat(h.position()).isEqualTo(1_000);
    }

    @Test
    void theSerialOutputReadsAsOneRunWhateverWasReplayedOnTheWay() {
        String guest = "debuggee";
        ByteArrayOutputStream straight = new ByteArrayOutputStream();
        Vcpu reference = vcpu(machine(guest, straight));
        // Where the guest is part way through its first line: going back crosses output already written.
        long partWay = 0;
        while (straight.size() < 10) {
            partWay += 50;
            runPlain(reference, partWay);
        }
        String upToPartWay = straight.toString();
        assertThat(upToPartWay).doesNotContain("\n");

        ByteArrayOutputStream serial = new ByteArrayOutputStream();
        Machine m = machine(guest, serial);
        Vcpu v = vcpu(m);
        ExecutionHistory h = attached(m);
        forward(h, v, partWay);
        assertThat(serial.toString()).isEqualTo(upToPartWay);

        assertThat(h.continueBack(GuestDebug.NONE).historyBegin()).isTrue();
        assertThat(serial.toString()).as("back at the beginning").isEqualTo(upToPartWay);
        forward(h, v, partWay - 20);
        h.stepBack();
        forward(h, v, partWay);
        assertThat(serial.toString()).as("forward again to where it was").isEqualTo(upToPartWay);

        long further = partWay;
        while (!straight.toString().contains("\n")) {
            further += 50;
            runPlain(reference, further);
        }
        forward(h, v, further);
        assertThat(serial.toString()).as("on past it").isEqualTo(straight.toString()).contains("hello from debuggee: counter 55");

        // A debugger's write makes the future new: what the guest sends after it is written, repeated or not.
        h.continueBack(GuestDebug.NONE);
        h.restart();
        forward(h, v, partWay);
        assertThat(serial.toString()).isEqualTo(straight.toString() + upToPartWay);
    }

    @Test
    void inputFromOutsideRestartsHistoryAndAJournalTurnsItOff() {
        Machine m = machine("apic_timer");
        ExecutionHistory h = attached(m);
        forward(h, vcpu(m), 3 * INTERVAL);
        h.inputArrived();
        assertThat(h.stepBack().historyBegin()).isTrue();
        assertThat(h.position()).isEqualTo(3 * INTERVAL);
        assertThat(h.beginning()).isEqualTo(3 * INTERVAL);

        h.refuse("a journal owns the input");
        assertThat(h.available()).isFalse();
        assertThatThrownBy(h::stepBack).isInstanceOf(TscvmException.class).hasMessageContaining("a journal owns the input");
    }

    @Test
    void checkpointsAfterTheFirstKeepOnlyThePagesStoredToSinceTheOneBefore() {
        Machine m = machine("apic_timer");
        m.vm().memory().fill(24L << 20, 1 << 20, (byte) 0x5a); // 1 MiB the guest never touches
        Vcpu v = vcpu(m);
        ExecutionHistory h = attached(m);
        forward(h, v, 1);
        long first = h.storedBytes();
        assertThat(first).as("the first checkpoint keeps every non-zero page").isGreaterThan(1 << 20);
        forward(h, v, 6 * INTERVAL - 1);
        String before = StateDigest.of(m);
        forward(h, v, 6 * INTERVAL);
        assertThat(h.storedBytes()).as("six more checkpoints, each of the few pages the guest stored to")
                .isGreaterThan(first).isLessThan(first + 6 * 8 * 4096);
        assertThat(h.stepBack().historyBegin()).isFalse();
        assertThat(StateDigest.of(m)).isEqualTo(before);
    }

    @Test
    void overTheBudgetTheOldestCheckpointsFoldIntoTheNextAndEveryOneLeftRestoresExactly() {
        String guest = "apic_timer";
        Machine m = machine(guest);
        Vcpu v = vcpu(m);
        ExecutionHistory h = new ExecutionHistory(m, INTERVAL, 1); // every checkpoint over budget: two are kept
        h.start();
        long here = 6 * INTERVAL + 99;
        forward(h, v, here);
        assertThat(h.beginning()).isEqualTo(5 * INTERVAL);

        assertThat(h.continueBack(GuestDebug.NONE).historyBegin()).isTrue();
        assertThat(h.position()).isEqualTo(5 * INTERVAL);
        assertThat(StateDigest.of(m)).isEqualTo(referenceDigest(guest, 5 * INTERVAL));
        forward(h, v, here);
        h.stepBack();
        assertThat(StateDigest.of(m)).isEqualTo(referenceDigest(guest, here - 1));
    }

    @Test
    void ctrlCDuringALongReverseContinueStopsItWhereItHasGotToInAStateOfTheRecordedRun() throws Exception {
        String guest = "ticker"; // spins on rdtsc for ever
        long interval = 100_000;
        Machine m = machine(guest);
        Vcpu v = vcpu(m);
        ExecutionHistory h = new ExecutionHistory(m, interval, ExecutionHistory.DEFAULT_BUDGET_BYTES);
        h.start();
        long here = 40 * interval + 5;
        while (h.position() < here) {
            h.beforeRun();
            VcpuExit exit = v.run();
            assertThat(exit.kind()).isIn(VcpuExit.Kind.PAUSED, VcpuExit.Kind.IO_OUT);
            h.afterRun();
        }
        h.beforeRun(); // the next run would be cut at the next mark; a reverse run takes over now
        here = h.position();
        long begin = h.beginning();
        // A watchpoint nothing writes: the search replays the whole history, one instruction at a time.
        GuestDebug never = new GuestDebug(false, Set.of(), List.of(
                new GuestDebug.Watchpoint(0x900000, 8, GuestDebug.WatchKind.WRITE)));
        ExecutionHistory.Landing[] landing = new ExecutionHistory.Landing[1];
        Thread reverse = new Thread(() -> landing[0] = h.continueBack(never));
        reverse.start();
        while (!h.reversing() && reverse.isAlive()) {
            Thread.onSpinWait();
        }
        h.interrupt();
        reverse.join(60_000);
        assertThat(reverse.isAlive()).isFalse();
        assertThat(landing[0]).as("stopped short of the beginning, with no hit").isEqualTo(new ExecutionHistory.Landing(null, false));
        long landed = h.position();
        assertThat(landed).isGreaterThan(begin).isLessThan(here);
        assertThat(StateDigest.of(m)).isEqualTo(referenceDigest(guest, landed));
        h.interrupt(); // no reverse run now: nothing to stop, and the next one is not cut short
        assertThat(h.continueBack(GuestDebug.NONE).historyBegin()).isTrue();
        assertThat(h.position()).isEqualTo(begin);
    }

    /**
     * The trace of a run of {@code guest} to its first HLT (each instant event's name,
     * instruction count and TSC), run as the runner runs it under a debugger; with
     * {@code goBackOnTheWay}, back from there to the beginning of history and forward again to the HLT.
     */
    private static List<String> traceOf(String guest, Path file, boolean goBackOnTheWay) throws Exception {
        Path kernel = Path.of(System.getProperty("tscvm.guests", "target/guests")).resolve(guest + ".elf");
        assumeTrue(Files.isRegularFile(kernel), "guest kernel " + kernel + " was not built");
        Machine m = new Machine(MachineConfig.builder().kernel(kernel).smp(1).ramBytes(32L << 20)
                .clock(VmConfig.ClockKind.DETERMINISTIC).serial(new SerialTarget.None())
                .trace(TraceConfig.all(file)).build());
        Vcpu v = vcpu(m);
        ExecutionHistory h = attached(m);
        long halted = runToHalt(h, v, Long.MAX_VALUE);
        if (goBackOnTheWay) {
            h.stepBack();
            h.continueBack(GuestDebug.NONE); // to the beginning
            runToHalt(h, v, halted);
            assertThat(h.position()).isEqualTo(halted);
        }
        m.vm().tracer().close();
        List<String> events = new ArrayList<>();
        for (Object e : (List<?>) ((Map<?, ?>) Json.parse(Files.readString(file))).get("traceEvents")) {
            Map<?, ?> event = (Map<?, ?>) e;
            if ("i".equals(event.get("ph"))) {
                Map<?, ?> args = (Map<?, ?>) event.get("args");
                events.add(event.get("name") + " @" + args.get("instructions") + " tsc " + args.get("tsc"));
            }
        }
        return events;
    }

    /** The runner's loop under a debugger (the history's hooks set where each run stops) to a HLT or {@code position}. */
    private static long runToHalt(ExecutionHistory h, Vcpu v, long position) {
        while (h.position() < position) {
            h.beforeRun();
            VcpuExit exit = v.run();
            h.afterRun();
            if (exit.kind() == VcpuExit.Kind.HALT) {
                break;
            }
            assertThat(exit.kind()).isIn(VcpuExit.Kind.PAUSED, VcpuExit.Kind.IO_OUT);
        }
        return h.position();
    }

    @Test
    void aTraceReadsAsOneRunAfterGoingBackAndForwardAgain(@TempDir Path dir) throws Exception {
        List<String> straight = traceOf("tsc", dir.resolve("straight.json"), false);
        assertThat(straight).as("the guest writes TSC MSRs").anyMatch(e -> e.startsWith("WRMSR"));
        List<String> back = traceOf("tsc", dir.resolve("back.json"), true);
        assertThat(back).as("no event twice, no checkpoint or restore as an event").isEqualTo(straight);
    }

    @Test
    void onlyOneVcpuOnTheDeterministicClock() {
        Path kernel = Path.of(System.getProperty("tscvm.guests", "target/guests")).resolve("smp.elf");
        assumeTrue(Files.isRegularFile(kernel));
        Machine two = new Machine(MachineConfig.builder().kernel(kernel).smp(2).ramBytes(32L << 20)
                .clock(VmConfig.ClockKind.DETERMINISTIC).serial(new SerialTarget.None()).build());
        Machine real = new Machine(MachineConfig.builder().kernel(kernel).smp(1).ramBytes(32L << 20)
                .clock(VmConfig.ClockKind.REAL_TIME).serial(new SerialTarget.None()).build());
        assertThat(ExecutionHistory.supports(two)).isFalse();
        assertThat(ExecutionHistory.supports(real)).isFalse();
        assertThatThrownBy(() -> new ExecutionHistory(two, INTERVAL, 1 << 20)).isInstanceOf(TscvmException.class);
    }
}

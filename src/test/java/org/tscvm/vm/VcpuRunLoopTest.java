package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tscvm.cpu.RunStop;

/** {@link Vcpu#run()} driven by a scripted interpreter on a deterministic clock. */
class VcpuRunLoopTest {
    private final TestVms t = TestVms.create();
    private final Vcpu vcpu = t.vm.createVcpu();
    private final Script script = new Script();

    /** One scripted {@link Interpreter#run} call: retire some instructions, maybe act, stop. */
    private record Step(long retired, RunStop stop, Runnable action) {
    }

    private final class Script implements Interpreter {
        final Deque<Step> steps = new ArrayDeque<>();
        final List<Long> budgets = new ArrayList<>();
        long retired;
        int notifications;
        int stopRequests;
        boolean interruptsEnabled = true;

        Script then(long instructions, RunStop stop) {
            return then(instructions, stop, () -> { });
        }

        Script then(long instructions, RunStop stop, Runnable action) {
            steps.add(new Step(instructions, stop, action));
            return this;
        }

        @Override
        public RunStop run(long maxInstructions) {
            budgets.add(maxInstructions);
            Step step = steps.remove();
            assertThat(step.retired()).isLessThanOrEqualTo(maxInstructions);
            retired += step.retired();
            step.action().run();
            return step.stop();
        }

        @Override
        public long instructionsRetired() {
            return retired;
        }

        @Override
        public void requestStop() {
            stopRequests++;
        }

        @Override
        public void notifyInterrupt() {
            notifications++;
        }

        @Override
        public boolean interruptsEnabled() {
            return interruptsEnabled;
        }

        @Override
        public String describe() {
            return "RIP=0x1000 CR0=0x11";
        }
    }

    /** A timer that fires once at {@code deadline} and then has a vector pending until acknowledged. */
    private static final class OneShotTimer extends VcpuPlatformTest.FakeController {
        long deadline;
        final List<Long> firedAt = new ArrayList<>();
        boolean pending;

        OneShotTimer(long deadline) {
            this.deadline = deadline;
        }

        @Override
        public long nextEventHostTsc() {
            return deadline;
        }

        @Override
        public void onTime(long hostTsc) {
            if (hostTsc >= deadline) {
                firedAt.add(hostTsc);
                deadline = Long.MAX_VALUE;
                pending = true;
            }
        }

        @Override
        public int pendingInterrupt() {
            return pending ? 0x40 : -1;
        }
    }

    private VcpuExit run() {
        vcpu.setInterpreter(script);
        return vcpu.run();
    }

    @Test
    void theDeterministicClockAdvancesByTheInstructionsRetired() {
        long start = t.clock.now();
        script.then(1_000_000, RunStop.BUDGET_EXHAUSTED).then(250, RunStop.HALTED);
        assertThat(run()).isEqualTo(new VcpuExit.Halt()); // no controller: nothing can wake it
        assertThat(t.clock.now() - start).isEqualTo(1_000_250);
        assertThat(vcpu.guest().rdtsc()).isEqualTo(1_000_250);
        assertThat(script.budgets).containsExactly(Vcpu.DETERMINISTIC_SLICE, Vcpu.DETERMINISTIC_SLICE);
        assertThat(vcpu.exitCount(VcpuExit.Kind.HALT)).isEqualTo(1);
    }

    @Test
    void theSliceEndsAtTheNextTimerEventWhichFiresOnTime() {
        long deadline = t.clock.now() + 5_000;
        OneShotTimer timer = new OneShotTimer(deadline);
        vcpu.setInterruptController(timer);
        script.then(5_000, RunStop.BUDGET_EXHAUSTED).then(10, RunStop.TRIPLE_FAULT);
        assertThat(run()).isEqualTo(new VcpuExit.TripleFault("RIP=0x1000 CR0=0x11"));
        assertThat(script.budgets.get(0)).isEqualTo(5_000);
        assertThat(timer.firedAt).containsExactly(deadline);
    }

    @Test
    void haltJumpsTheDeterministicClockToTheTimerAndWakesTheCpu() {
        long deadline = t.clock.now() + 1_000_000_000L;
        OneShotTimer timer = new OneShotTimer(deadline);
        vcpu.setInterruptController(timer);
        script.then(100, RunStop.HALTED)
                .then(50, RunStop.HALTED, () -> timer.pending = false) // took the interrupt, halted again
                ;
        assertThat(run()).isEqualTo(new VcpuExit.Halt());
        assertThat(timer.firedAt).containsExactly(deadline);
        assertThat(script.notifications).isEqualTo(1);
        assertThat(t.clock.now()).isEqualTo(deadline + 50);
    }

    @Test
    void haltWithInterruptsDisabledOnASingleVcpuEndsTheRun() {
        OneShotTimer timer = new OneShotTimer(t.clock.now() + 1_000);
        vcpu.setInterruptController(timer);
        script.interruptsEnabled = false;
        script.then(10, RunStop.HALTED);
        assertThat(run()).isEqualTo(new VcpuExit.Halt());
        assertThat(script.notifications).isZero();
    }

    @Test
    void anOutToAnExitPortBecomesAnIoOutExit() {
        t.vm.ioBus().mapExit(0xF4, 4);
        script.then(7, RunStop.STOP_REQUESTED, () -> vcpu.guest().ioOut(0xF4, 4, 0x31));
        assertThat(run()).isEqualTo(new VcpuExit.IoOut(0xF4, 4, 0x31));
        assertThat(script.stopRequests).isEqualTo(1);
        assertThat(vcpu.exitCount(VcpuExit.Kind.IO_OUT)).isEqualTo(1);
    }

    @Test
    void aPauseRequestReturnsPausedAndTheNextRunResumes() {
        script.then(10, RunStop.STOP_REQUESTED, vcpu::requestPause).then(10, RunStop.TRIPLE_FAULT);
        assertThat(run()).isEqualTo(new VcpuExit.Paused());
        assertThat(vcpu.run()).isInstanceOf(VcpuExit.TripleFault.class);
        assertThat(vcpu.exitCount(VcpuExit.Kind.PAUSED)).isEqualTo(1);
        assertThat(vcpu.exitCount(VcpuExit.Kind.TRIPLE_FAULT)).isEqualTo(1);
    }

    /**
     * The run loop's own timer work can ask for the pause (the end of a deterministic quantum,
     * as the machine's round-robin arms it): a halted vCPU that jumps the clock there, and then
     * finds nothing that could wake it, reports the pause, not the halt with the pause still
     * pending; the next run() then finds the halt instead of returning at once.
     */
    @Test
    void aPauseRequestedWhileHaltedIsReportedAsThePauseNotLeftPendingBehindAHalt() {
        long quantumEnd = t.clock.now() + 10_000;
        VcpuPlatformTest.FakeController quantum = new VcpuPlatformTest.FakeController() {
            long end = quantumEnd;

            @Override
            public long nextEventHostTsc() {
                return end;
            }

            @Override
            public void onTime(long hostTsc) {
                if (hostTsc >= end) {
                    end = Long.MAX_VALUE;
                    vcpu.requestPause();
                }
            }

            @Override
            public int pendingInterrupt() {
                return -1;
            }
        };
        vcpu.setInterruptController(quantum);
        script.then(10, RunStop.HALTED).then(0, RunStop.HALTED);
        assertThat(run()).isEqualTo(new VcpuExit.Paused());
        assertThat(t.clock.now()).isEqualTo(quantumEnd);
        assertThat(vcpu.run()).as("the pause was reported, not left pending").isEqualTo(new VcpuExit.Halt());
        assertThat(script.steps).isEmpty();
    }

    @Test
    void aVcpuWaitingForSipiContinuesOnceKicked() {
        script.then(0, RunStop.WAIT_FOR_SIPI, vcpu::kick).then(3, RunStop.TRIPLE_FAULT);
        assertThat(run()).isInstanceOf(VcpuExit.TripleFault.class);
        assertThat(script.notifications).isEqualTo(1);
    }

    @Test
    void aDeterministicTscMovesWithEveryInstructionInsideASlice() {
        // A2: the host clock advances with retired instructions, so two RDTSCs in one slice
        // differ by the instructions between them (one tick each), not only across slices.
        long[] reads = new long[3];
        long start = t.clock.now();
        script.then(100, RunStop.BUDGET_EXHAUSTED, () -> {
            reads[0] = vcpu.guest().rdtsc();
            script.retired += 50;
            reads[1] = vcpu.guest().rdtsc();
        }).then(7, RunStop.STOP_REQUESTED, () -> {
            reads[2] = vcpu.guest().rdtsc();
            vcpu.requestPause();
        });
        assertThat(run()).isEqualTo(new VcpuExit.Paused());
        assertThat(reads[1] - reads[0]).isEqualTo(50);
        assertThat(reads[2] - reads[1]).isEqualTo(7);
        assertThat(t.clock.now() - start).isEqualTo(157);
    }
}

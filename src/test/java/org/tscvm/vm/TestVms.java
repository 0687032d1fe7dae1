package org.tscvm.vm;

import org.tscvm.cpu.RunStop;
import org.tscvm.tsc.DeterministicHostClock;

/** A VM on a deterministic host clock the test advances by hand. */
final class TestVms {
    final DeterministicHostClock clock;
    final Vm vm;

    private TestVms(DeterministicHostClock clock, Vm vm) {
        this.clock = clock;
        this.vm = vm;
    }

    static TestVms create() {
        return create(VmConfig.builder());
    }

    /** The host clock starts at 1e9 ticks, so a zero guest TSC is never a coincidence. */
    static TestVms create(VmConfig.Builder config) {
        DeterministicHostClock clock = new DeterministicHostClock();
        clock.advance(1_000_000_000L);
        return new TestVms(clock, Vm.create(config.hostClock(clock).ramBytes(4L << 20).build()));
    }

    /** One KVM_RUN: load, a scripted halt with nothing retired (the clock stands still), put. */
    static void runOnce(Vcpu vcpu) {
        vcpu.setInterpreter(new Interpreter() {
            @Override
            public RunStop run(long maxInstructions) {
                return RunStop.HALTED;
            }

            @Override
            public long instructionsRetired() {
                return 0;
            }

            @Override
            public void requestStop() {
            }

            @Override
            public void notifyInterrupt() {
            }

            @Override
            public boolean interruptsEnabled() {
                return false;
            }

            @Override
            public String describe() {
                return "scripted";
            }
        });
        org.assertj.core.api.Assertions.assertThat(vcpu.run()).isInstanceOf(VcpuExit.Halt.class);
    }
}

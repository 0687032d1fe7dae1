package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tscvm.cpu.CpuBus;
import org.tscvm.cpu.CpuFault;
import org.tscvm.cpu.Msr;
import org.tscvm.memory.IoDevice;
import org.tscvm.memory.MmioDevice;

/** The guest side's routing to the interrupt controller, the buses, and the run loop's guard. */
class VcpuPlatformTest {
    private final TestVms t = TestVms.create();
    private final Vcpu vcpu = t.vm.createVcpu();
    private final CpuBus guest = vcpu.guest();
    private final FakeController controller = new FakeController();

    /** Claims APIC_BASE, TSC_DEADLINE and the x2APIC range, and the page at 0xFEE00000. */
    static class FakeController implements LocalInterruptController {
        final List<String> calls = new ArrayList<>();
        int tscChanges;
        long deadline;

        @Override
        public boolean handlesMsr(int index) {
            return index == Msr.IA32_APIC_BASE || index == Msr.IA32_TSC_DEADLINE
                    || (index >= Msr.X2APIC_FIRST && index <= Msr.X2APIC_LAST);
        }

        @Override
        public long readMsr(int index, MsrOrigin origin) {
            calls.add(String.format("read 0x%x %s", index, origin));
            if (index == 0x8ff) {
                throw CpuFault.gp0();
            }
            return index == Msr.IA32_TSC_DEADLINE ? deadline : 0x42;
        }

        @Override
        public void writeMsr(int index, long value, MsrOrigin origin) {
            calls.add(String.format("write 0x%x=%d %s", index, value, origin));
            if (index == Msr.IA32_TSC_DEADLINE) {
                deadline = value;
            }
        }

        /** A page of zeros: this fake has no registers beyond its MSRs. */
        @Override
        public VcpuLapic saveLapic() {
            return new VcpuLapic(new byte[VcpuLapic.PAGE_BYTES], 0, -1, deadline, 0);
        }

        @Override
        public String checkLapic(VcpuLapic lapic) {
            return lapic.register(0x20) == 0 ? null : "the fake's ID is 0";
        }

        @Override
        public void restoreLapic(VcpuLapic lapic) {
            deadline = lapic.tscDeadline();
        }

        @Override
        public boolean claimsMmio(long paddr) {
            return (paddr & ~0xfffL) == 0xFEE00000L;
        }

        @Override
        public long readMmio(long paddr, int size) {
            return 0x1234;
        }

        @Override
        public void writeMmio(long paddr, int size, long value) {
            calls.add(String.format("mmio 0x%x=%d", paddr, value));
        }

        @Override
        public int pendingInterrupt() {
            return 0x30;
        }

        @Override
        public int acknowledgeInterrupt() {
            return 0x30;
        }

        @Override
        public long nextEventHostTsc() {
            return Long.MAX_VALUE;
        }

        @Override
        public void onTime(long hostTsc) {
        }

        @Override
        public void onGuestTscChanged() {
            tscChanges++;
        }
    }

    @Test
    void controllerMsrsAreRoutedWithTheirOrigin() {
        vcpu.setInterruptController(controller);
        guest.wrmsr(Msr.IA32_TSC_DEADLINE, 5_000);
        assertThat(vcpu.getMsr(Msr.IA32_TSC_DEADLINE)).isEqualTo(5_000);
        assertThat(guest.rdmsr(0x802)).isEqualTo(0x42);
        vcpu.setMsr(Msr.IA32_APIC_BASE, 0xFEE00C00L);
        assertThat(controller.calls).containsExactly(
                "write 0x6e0=5000 GUEST", "read 0x6e0 HOST", "read 0x802 GUEST", "write 0x1b=4276096000 HOST");
    }

    @Test
    void cpuidApicBitFollowsApicBaseEnableAsKvmDoesAtRuntime() {
        // KVM's runtime CPUID update; SDM Vol. 3A 10.4.3: with EN clear the APIC is absent.
        int[] out = new int[4];
        guest.cpuid(1, 0, out);
        assertThat(out[3] & (1 << 9)).isNotZero();
        guest.wrmsr(Msr.IA32_APIC_BASE, 0xFEE00000L);
        guest.cpuid(1, 0, out);
        assertThat(out[3] & (1 << 9)).isZero();
        guest.wrmsr(Msr.IA32_APIC_BASE, 0xFEE00800L);
        guest.cpuid(1, 0, out);
        assertThat(out[3] & (1 << 9)).isNotZero();
    }

    @Test
    void hypercallsFollowKvmReturnCodes() {
        // KVM kvm_emulate_hypercall: -KVM_EPERM above CPL 0, -KVM_ENOSYS for unknown numbers.
        assertThat(guest.hypercall(Vcpu.KVM_HC_VAPIC_POLL_IRQ, 0, 0, 0, 0, 3, true)).isEqualTo(CpuBus.KVM_EPERM);
        assertThat(guest.hypercall(Vcpu.KVM_HC_VAPIC_POLL_IRQ, 0, 0, 0, 0, 0, true)).isZero();
        assertThat(guest.hypercall(0x1234, 0, 0, 0, 0, 0, true)).isEqualTo(-1000);
    }

    @Test
    void aControllerFaultIsGpForTheGuestAndAnErrorForTheHost() {
        vcpu.setInterruptController(controller);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> guest.rdmsr(0x8ff)).isInstanceOf(CpuFault.class);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> vcpu.getMsr(0x8ff))
                .isInstanceOf(MsrAccessException.class).hasMessageContaining("0x8ff");
    }

    @Test
    void everyChangeOfTheGuestTscIsReportedToTheController() {
        vcpu.setInterruptController(controller);
        guest.wrmsr(Msr.IA32_TSC, 1);
        guest.wrmsr(Msr.IA32_TSC_ADJUST, 2);
        vcpu.setMsr(Msr.IA32_TSC, 3);
        vcpu.setTscOffset(4);
        vcpu.setTscKhz(1_000_000);
        t.vm.setHostTscAdjust(5);
        assertThat(controller.tscChanges).isEqualTo(6);
        vcpu.setMsr(Msr.IA32_TSC_ADJUST, 7); // R8: the TSC does not move, nothing to re-arm
        guest.rdtsc();
        assertThat(controller.tscChanges).isEqualTo(6);
    }

    @Test
    void mmioGoesToTheControllersPageFirstThenTheBus() {
        t.vm.mmioBus().map(0xF000_0000L, 0x1000, new MmioDevice() {
            @Override
            public long read(long offset, int size) {
                return offset;
            }

            @Override
            public void write(long offset, int size, long value) {
            }
        });
        assertThat(guest.mmioRead(0xFEE00020L, 4)).isEqualTo(0xffffffffL); // unassigned without a controller
        vcpu.setInterruptController(controller);
        assertThat(guest.mmioRead(0xFEE00020L, 4)).isEqualTo(0x1234);
        guest.mmioWrite(0xFEE000B0L, 4, 0);
        assertThat(controller.calls).containsExactly("mmio 0xfee000b0=0");
        assertThat(guest.mmioRead(0xF000_0010L, 4)).isEqualTo(0x10);
    }

    @Test
    void interruptsComeFromTheControllerOrNowhere() {
        assertThat(guest.pendingInterrupt()).isEqualTo(-1);
        assertThat(guest.acknowledgeInterrupt()).isEqualTo(-1);
        vcpu.setInterruptController(controller);
        assertThat(guest.pendingInterrupt()).isEqualTo(0x30);
        assertThat(guest.acknowledgeInterrupt()).isEqualTo(0x30);
    }

    @Test
    void portIoGoesThroughTheVmsBus() {
        int[] written = new int[1];
        t.vm.ioBus().map(0x3F8, 8, new IoDevice() {
            @Override
            public int read(int offset, int size) {
                return 0x60 + offset;
            }

            @Override
            public void write(int offset, int size, int value) {
                written[0] = value;
            }
        });
        assertThat(guest.ioIn(0x3FD, 1)).isEqualTo(0x65);
        guest.ioOut(0x3F8, 1, 'A');
        assertThat(written[0]).isEqualTo('A');
        assertThat(guest.ioIn(0x1234, 2)).isEqualTo(0xffff);
    }

    @Test
    void aRuntimeExceptionFromTheInterpreterBecomesAnInternalErrorExitAndIsCounted() {
        // An interpreter bug must never escape run(): it becomes an InternalError exit.
        vcpu.setInterpreter(new Interpreter() {
            @Override
            public org.tscvm.cpu.RunStop run(long maxInstructions) {
                throw new IllegalStateException("interpreter bug");
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
                return "";
            }
        });
        VcpuExit exit = vcpu.run();
        assertThat(exit).isInstanceOfSatisfying(VcpuExit.InternalError.class,
                e -> assertThat(e.message()).contains("vCPU 0").contains("IllegalStateException"));
        assertThat(vcpu.exitCount(VcpuExit.Kind.INTERNAL_ERROR)).isEqualTo(1);
        assertThat(vcpu.exitCount(VcpuExit.Kind.HALT)).isZero();
    }

    @Test
    void cpuidGivesEachVcpuItsOwnApicId() {
        Vcpu second = t.vm.createVcpu();
        int[] regs = new int[4];
        second.guest().cpuid(1, 0, regs);
        assertThat(regs[1] >>> 24).isEqualTo(1);
        second.guest().cpuid(0xB, 0, regs);
        assertThat(regs[3]).isEqualTo(1);
        assertThat(second.id()).isEqualTo(1);
        assertThat(t.vm.vcpus()).containsExactly(vcpu, second);
    }
}

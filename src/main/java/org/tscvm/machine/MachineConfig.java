package org.tscvm.machine;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.tscvm.devices.Pit8254;
import org.tscvm.memory.GuestMemory;
import org.tscvm.reverse.ExecutionHistory;
import org.tscvm.vm.CpuidModel;
import org.tscvm.vm.MsrPolicy;
import org.tscvm.trace.TraceConfig;
import org.tscvm.vm.VmConfig;

/**
 * Everything {@link Machine} needs, as the command line gives it. Build with {@link #builder()}:
 *
 * <pre>{@code
 * MachineConfig config = MachineConfig.builder()
 *         .kernel(Path.of("guests/build/hello.elf"))
 *         .append("-v")
 *         .smp(2)
 *         .serial(new SerialTarget.Stdio())
 *         .build();
 * RunResult result = new Machine(config).run();
 * }</pre>
 *
 * @param vm             the VM underneath: RAM (default 128 MiB, like QEMU), the host clock's kind
 *                       (real time or deterministic), its kHz and IA32_TSC_ADJUST (A2), the vCPUs'
 *                       TSC kHz, the MSR policy (A4), the CPUID model (from {@code -cpu
 *                       MODEL[,+feature,-feature]}), the CPUID topology and the compile threshold
 * @param smp            vCPUs (1 to {@link #MAX_VCPUS})
 * @param kernel         the kernel image: a file or bytes in memory
 * @param append         the kernel command line (multiboot puts the kernel's name in front)
 * @param initrds        Linux's initrd (concatenated) or the multiboot modules, in order
 * @param serial         where COM1 output goes
 * @param pcTestdev      map QEMU's pc-testdev (kvm-unit-tests asks for it with -device)
 * @param flatLoadAddress -1 to load the kernel by its format; else it is a raw image loaded here
 * @param flatEntry      the raw image's entry address
 * @param timeout        wall-clock limit of {@link Machine#run()}, or null for none
 * @param sockets        packages the vCPUs are spread over (CPUID topology); with more than one,
 *                       {@code smp / sockets} must be a power of two so that APIC id = vCPU index
 * @param tscAdjusts     host-initiated IA32_TSC_ADJUST writes made before the vCPUs start, as
 *                       firmware leaves the MSR (R8: the TSC does not move)
 * @param tscWarps       per vCPU, a host-initiated TSC write of the VM's TSC plus this many cycles
 *                       before the vCPUs start (R9/R10: TSC_ADJUST does not move)
 * @param noReboot       a guest reset ends the run with status 0 (QEMU's -no-reboot) instead of rebooting
 * @param pitLostTicks   what the PIT does with periods a stalled vCPU thread missed (QEMU's
 *                       {@code -global kvm-pit.lost_tick_policy}; default: deliver them later)
 * @param gdb            the gdb server to run ({@code -s}, {@code -gdb}, {@code -S}), or null for none
 * @param qmp            the QMP monitor to run ({@code -qmp}), or null for none
 * @param trace          the trace of guest-visible time events to write ({@code --trace}), or null for none
 */
public record MachineConfig(VmConfig vm, int smp, Kernel kernel, String append, List<Path> initrds,
                            SerialTarget serial, boolean pcTestdev, long flatLoadAddress, long flatEntry,
                            Duration timeout, int sockets, List<VcpuValue> tscAdjusts, List<VcpuValue> tscWarps,
                            boolean noReboot, Pit8254.LostTicks pitLostTicks, Gdb gdb,
                            TraceConfig trace, Qmp qmp) {
    /** A sanity bound; vCPUs are threads, and kvm-unit-tests' x86 tests use at most a few. */
    public static final int MAX_VCPUS = 64;

    /** A value for one vCPU, as in {@code --tsc-adjust 1=5000}. */
    public record VcpuValue(int vcpu, long value) {
    }

    /**
     * A gdb server on {@code host:port} (port 0: any free port); with {@code waitForDebugger}
     * no vCPU runs until the debugger resumes the machine (QEMU's -S). Where the machine can run
     * backwards, reverse execution keeps a checkpoint every {@code reverseInterval} instructions.
     */
    public record Gdb(String host, int port, boolean waitForDebugger, long reverseInterval) {
        /** QEMU's -s: tcp::1234. */
        public static final int DEFAULT_PORT = 1234;
        /** tscvm listens on the loopback interface unless told otherwise. */
        public static final String DEFAULT_HOST = "127.0.0.1";

        public Gdb {
            if (port < 0 || port > 0xffff) {
                throw new MachineConfigException("gdb port " + port + " is out of range: use 0 to 65535");
            }
            if (reverseInterval < 1) {
                throw new MachineConfigException("a reverse-execution checkpoint interval of " + reverseInterval
                        + " instructions: use 1 or more");
            }
        }

        /** With reverse execution's default checkpoint interval. */
        public Gdb(String host, int port, boolean waitForDebugger) {
            this(host, port, waitForDebugger, ExecutionHistory.DEFAULT_INTERVAL);
        }

        public Gdb withReverseInterval(long instructions) {
            return new Gdb(host, port, waitForDebugger, instructions);
        }
    }

    /**
     * A QMP monitor listening at {@code address}; {@code pretty} indents its replies
     * ({@code -qmp-pretty}); with {@code startPaused} no vCPU runs until the monitor's
     * {@code cont} (QEMU's -S: the run state is "prelaunch"); with {@code incoming} (QEMU's
     * -incoming URI, or null) no vCPU runs until the machine's state has arrived from there.
     */
    public record Qmp(org.tscvm.qmp.QmpAddress address, boolean pretty, boolean startPaused, String incoming) {
        /** The vCPUs wait at the start: for cont, or for the incoming state. */
        public boolean holdAtStart() {
            return startPaused || incoming != null;
        }
    }

    /** The kernel image: a file, or bytes in memory (the bundled demo). */
    public sealed interface Kernel {
        /** The name the MBI command line starts with. */
        String name();

        record FromFile(Path path) implements Kernel {
            @Override
            public String name() {
                return path.toString();
            }
        }

        record InMemory(String name, byte[] bytes) implements Kernel {
        }
    }

    public MachineConfig {
        if (kernel == null) {
            throw new MachineConfigException("no kernel: give -kernel FILE");
        }
        if (vm == null) {
            throw new MachineConfigException("no VM configuration");
        }
        if (smp < 1 || smp > MAX_VCPUS) {
            throw new MachineConfigException("-smp " + smp + " is out of range: use 1 to " + MAX_VCPUS);
        }
        checkVm(vm.ramBytes(), vm.defaultTscKhz(), vm.compileThreshold());
        if (sockets < 1 || smp % sockets != 0 || (sockets > 1 && Integer.bitCount(smp / sockets) != 1)) {
            throw new MachineConfigException("-smp " + smp + ",sockets=" + sockets
                    + ": the vCPUs must divide into sockets of 1, 2, 4, 8 ... vCPUs each");
        }
        append = append == null ? "" : append;
        initrds = List.copyOf(initrds);
        tscAdjusts = List.copyOf(tscAdjusts);
        tscWarps = List.copyOf(tscWarps);
        checkVcpus("--tsc-adjust", tscAdjusts, smp);
        checkVcpus("--tsc-warp", tscWarps, smp);
    }

    /** The checks on the VM's fields, with the command line's words, made before VmConfig's own. */
    private static void checkVm(long ramBytes, long tscKhz, int compileThreshold) {
        if (ramBytes < GuestMemory.MIN_BYTES || ramBytes > GuestMemory.MAX_BYTES) {
            throw new MachineConfigException(String.format(
                    "-m %d MiB is out of range: tscvm supports %s", ramBytes >> 20, GuestMemory.SIZE_RANGE));
        }
        if ((ramBytes & (GuestMemory.PAGE_SIZE - 1)) != 0) {
            throw new MachineConfigException("-m " + ramBytes + " bytes is not a multiple of 4 KiB");
        }
        if (tscKhz < 0) {
            throw new MachineConfigException("--tsc-khz " + tscKhz + " is negative");
        }
        if (compileThreshold < 0) {
            throw new MachineConfigException("compile threshold " + compileThreshold + " is negative: use 0 (never) or more");
        }
    }

    private static void checkVcpus(String option, List<VcpuValue> values, int smp) {
        for (VcpuValue v : values) {
            if (v.vcpu() < 0 || v.vcpu() >= smp) {
                throw new MachineConfigException(option + " " + v.vcpu() + "=" + v.value()
                        + ": there is no vCPU " + v.vcpu() + " (vCPUs are 0 to " + (smp - 1) + ")");
            }
        }
    }

    /** Guest RAM: {@link VmConfig#ramBytes()}. */
    public long ramBytes() {
        return vm.ramBytes();
    }

    /** Real time or deterministic: {@link VmConfig#clockKind()}. */
    public VmConfig.ClockKind clock() {
        return vm.clockKind();
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private long ramBytes = VmConfig.DEFAULT_RAM_BYTES;
        private int smp = 1;
        private Kernel kernel;
        private String append = "";
        private List<Path> initrds = List.of();
        private SerialTarget serial = new SerialTarget.Stdio();
        private long tscKhz;
        private long hostKhz = org.tscvm.tsc.HostClock.DEFAULT_KHZ;
        private long hostTscAdjust;
        private VmConfig.ClockKind clock = VmConfig.ClockKind.REAL_TIME;
        private MsrPolicy msrPolicy = MsrPolicy.KVM;
        private String cpuModel = "tscvm";
        private boolean pcTestdev;
        private long flatLoadAddress = -1;
        private long flatEntry;
        private Duration timeout;
        private int compileThreshold = org.tscvm.vm.VmConfig.DEFAULT_COMPILE_THRESHOLD;
        private int sockets = 1;
        private List<VcpuValue> tscAdjusts = List.of();
        private List<VcpuValue> tscWarps = List.of();
        private boolean noReboot;
        private Pit8254.LostTicks pitLostTicks = Pit8254.LostTicks.DELAY;
        private Gdb gdb;
        private boolean hostTscUnstable;
        private boolean vmwareBackdoor;
        private TraceConfig trace;
        private Qmp qmp;

        public Builder ramBytes(long v) {
            ramBytes = v;
            return this;
        }

        public Builder smp(int v) {
            smp = v;
            return this;
        }

        public Builder kernel(Path v) {
            kernel = new Kernel.FromFile(v);
            return this;
        }

        public Builder kernel(String name, byte[] bytes) {
            kernel = new Kernel.InMemory(name, bytes);
            return this;
        }

        public Builder append(String v) {
            append = v;
            return this;
        }

        public Builder initrds(List<Path> v) {
            initrds = v;
            return this;
        }

        public Builder serial(SerialTarget v) {
            serial = v;
            return this;
        }

        public Builder tscKhz(long v) {
            tscKhz = v;
            return this;
        }

        public Builder hostKhz(long v) {
            hostKhz = v;
            return this;
        }

        public Builder hostTscAdjust(long v) {
            hostTscAdjust = v;
            return this;
        }

        public Builder clock(VmConfig.ClockKind v) {
            clock = v;
            return this;
        }

        public Builder msrPolicy(MsrPolicy v) {
            msrPolicy = v;
            return this;
        }

        public Builder cpuModel(String v) {
            cpuModel = v;
            return this;
        }

        public Builder pcTestdev(boolean v) {
            pcTestdev = v;
            return this;
        }

        /** Loads the kernel as a raw image at {@code loadAddress} and starts it at {@code entry}. */
        public Builder flat(long loadAddress, long entry) {
            flatLoadAddress = loadAddress;
            flatEntry = entry;
            return this;
        }

        public Builder timeout(Duration v) {
            timeout = v;
            return this;
        }

        public Builder compileThreshold(int v) {
            compileThreshold = v;
            return this;
        }

        public Builder sockets(int v) {
            sockets = v;
            return this;
        }

        public Builder tscAdjusts(List<VcpuValue> v) {
            tscAdjusts = v;
            return this;
        }

        public Builder tscWarps(List<VcpuValue> v) {
            tscWarps = v;
            return this;
        }

        public Builder noReboot(boolean v) {
            noReboot = v;
            return this;
        }

        public Builder pitLostTicks(Pit8254.LostTicks v) {
            pitLostTicks = v;
            return this;
        }

        public Builder hostTscUnstable(boolean v) {
            hostTscUnstable = v;
            return this;
        }

        /** QEMU's {@code -machine vmport=on}: {@link VmConfig#vmwareBackdoor()}. */
        public Builder vmwareBackdoor(boolean v) {
            vmwareBackdoor = v;
            return this;
        }

        public Builder gdb(Gdb v) {
            gdb = v;
            return this;
        }

        public Builder trace(TraceConfig v) {
            trace = v;
            return this;
        }

        public Builder qmp(Qmp v) {
            qmp = v;
            return this;
        }

        public MachineConfig build() {
            checkVm(ramBytes, tscKhz, compileThreshold);
            VmConfig vm = VmConfig.builder()
                    .ramBytes(ramBytes)
                    .clockKind(clock)
                    .hostKhz(hostKhz)
                    .hostTscAdjust(hostTscAdjust)
                    .defaultTscKhz(tscKhz)
                    .msrPolicy(msrPolicy)
                    .cpuid(CpuidModel.parse(cpuModel))
                    // CPUID topology: vCPUs per package, 0 when one package holds them all.
                    .vcpusPerPackage(sockets > 1 && smp % sockets == 0 && Integer.bitCount(smp / sockets) == 1
                            ? smp / sockets : 0)
                    .compileThreshold(compileThreshold)
                    .hostTscUnstable(hostTscUnstable)
                    .vmwareBackdoor(vmwareBackdoor)
                    .build();
            return new MachineConfig(vm, smp, kernel, append, initrds, serial, pcTestdev, flatLoadAddress, flatEntry,
                    timeout, sockets, tscAdjusts, tscWarps, noReboot, pitLostTicks, gdb, trace, qmp);
        }
    }
}

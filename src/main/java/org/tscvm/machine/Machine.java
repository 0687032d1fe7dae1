package org.tscvm.machine;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.tscvm.boot.BootFileException;
import org.tscvm.boot.EntryPoint;
import org.tscvm.boot.FlatBinaryLoader;
import org.tscvm.boot.KernelLoader;
import org.tscvm.boot.MemoryMap;
import org.tscvm.boot.MultibootLoader;
import org.tscvm.cpu.Cpu;
import org.tscvm.cpu.Msr;
import org.tscvm.devices.ApicBus;
import org.tscvm.devices.Cmos;
import org.tscvm.devices.DeviceClock;
import org.tscvm.devices.FwCfg;
import org.tscvm.devices.IrqLine;
import org.tscvm.devices.LocalApic;
import org.tscvm.devices.PcTestdev;
import org.tscvm.devices.PicPair;
import org.tscvm.devices.Pit8254;
import org.tscvm.devices.PostPort;
import org.tscvm.devices.ShutdownPort;
import org.tscvm.devices.Uart16550;
import org.tscvm.gdb.GdbServer;
import org.tscvm.gdb.TargetEvent;
import org.tscvm.memory.PortIoBus;
import org.tscvm.tsc.HostClock;
import org.tscvm.vm.CpuidModel;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VcpuExit;
import org.tscvm.vm.Vm;
import org.tscvm.vm.VmConfig;

/**
 * The tscvm PC (platform.md): a {@link Vm} with RAM, the legacy devices on their ports, one
 * local APIC per vCPU, the kernel loaded (multiboot, Linux bzImage or PVH), and the vCPUs run until the guest ends
 * the run. This is the only class that knows the PC's layout.
 *
 * <pre>{@code
 * RunResult result = new Machine(MachineConfig.builder().kernel(Path.of("k.elf")).build()).run();
 * System.exit(result.exitStatus());
 * }</pre>
 *
 * <p>Threads: with a real-time clock every vCPU runs on its own thread. With a deterministic
 * clock all vCPUs run on the calling thread, round-robin in fixed quanta of host-clock ticks,
 * so that the same kernel gives the same run every time.
 */
public final class Machine {
    // The PC's I/O ports (platform.md section 3).
    public static final int PORT_PIC_MASTER = 0x20;
    public static final int PORT_PIT = 0x40;
    public static final int PORT_SYSTEM_CONTROL_B = 0x61;
    public static final int PORT_CMOS = 0x70;
    public static final int PORT_POST = 0x80;
    public static final int PORT_PIC_SLAVE = 0xa0;
    public static final int PORT_PC_TESTDEV = 0xe0;
    public static final int PORT_DEBUG_EXIT = 0xf4;
    public static final int DEBUG_EXIT_SIZE = 4;
    public static final int PORT_COM1 = 0x3f8;
    public static final int PORT_FW_CFG = 0x510;
    public static final int PORT_PC_TESTDEV_IRQ = 0x2000;
    public static final int PORT_SHUTDOWN = 0x8900;
    public static final long PC_TESTDEV_IOMEM = 0xff00_0000L;
    /** COM1's ISA interrupt line. */
    public static final int IRQ_COM1 = 4;
    /** CPUID 0x80000008 of the tscvm model: 36 physical address bits (APIC_BASE's reserved bits follow). */
    private static final int PHYS_ADDR_BITS = 36;
    /** Deterministic SMP quantum in host-clock ticks: 40 us at 2.5 GHz, short enough for IPI ping-pong. */
    static final long DETERMINISTIC_QUANTUM_TICKS = 100_000;
    /** The RTC's wall-clock start in deterministic mode: 2024-01-01T00:00:00Z, so runs repeat. */
    static final long DETERMINISTIC_EPOCH_SECONDS = 1_704_067_200L;
    /** How often and how long the real-time run watches for vCPUs that can never run again. */
    private static final long IDLE_POLL_MILLIS = 250;
    static final long IDLE_LIMIT_MILLIS = 5_000;

    private final MachineConfig config;
    private final Vm vm;
    private final HostClock clock;
    private final OutputStream serialOut;
    private final Uart16550 uart;
    private final PicPair pic;
    private final Pit8254 pit;
    private final Cmos cmos;
    private final FwCfg fwCfg;
    private final List<Runner> runners = new ArrayList<>();
    private final EntryPoint entry;
    private final AtomicReference<RunResult> result = new AtomicReference<>();
    private final CountDownLatch finished = new CountDownLatch(1);
    private volatile Vcpu bsp;
    /** True while standard input may still bring bytes to COM1 (which could wake a vCPU). */
    private volatile boolean inputOpen;
    /** All-stop debugging and the gdb server, or null without {@link MachineConfig#gdb()}. */
    private final DebugGate debugGate;
    private final GdbServer gdbServer;

    /**
     * Builds the machine and loads the kernel.
     *
     * @throws org.tscvm.TscvmException (or a subclass: {@link BootFileException},
     *         {@link org.tscvm.boot.KernelImageException}, {@link MachineConfigException}) for
     *         anything wrong with the configuration or the files
     */
    public Machine(MachineConfig config) {
        this.config = config;
        CpuidModel cpuid = config.cpuid();
        byte[] kernelImage = config.kernel() instanceof MachineConfig.Kernel.FromFile f
                ? BootFileException.read(f.path(), "kernel")
                : ((MachineConfig.Kernel.InMemory) config.kernel()).bytes();
        List<MultibootLoader.Module> modules = new ArrayList<>();
        for (var initrd : config.initrds()) {
            modules.add(new MultibootLoader.Module(initrd.toString(), BootFileException.read(initrd, "initrd")));
        }
        this.serialOut = openSerial(config.serial());
        try {
            this.vm = createVm(config, cpuid);
        } catch (RuntimeException e) {
            closeSerial();
            throw e;
        }
        this.clock = vm.clock();
        DeviceClock deviceClock = () -> clock.nanosAt(clock.now());

        pic = new PicPair(high -> {
            Vcpu b = bsp;
            if (high && b != null) {
                b.kick();
            }
        });
        uart = new Uart16550(serialOut, pic.irq(IRQ_COM1));
        pit = new Pit8254(deviceClock, pic.irq(0));
        long epoch = config.clock() == VmConfig.ClockKind.DETERMINISTIC
                ? DETERMINISTIC_EPOCH_SECONDS : Instant.now().getEpochSecond();
        cmos = new Cmos(deviceClock, epoch, config.ramBytes());
        fwCfg = new FwCfg(config.ramBytes(), config.smp(), config.smp());
        mapDevices();

        ApicBus apicBus = new ApicBus();
        for (int i = 0; i < config.smp(); i++) {
            Vcpu vcpu = vm.createVcpu(); // one TSC generation for all (R12)
            vcpu.cpu().setCompileThreshold(config.compileThreshold());
            runners.add(new Runner(vcpu, apicBus, i == 0 ? pit : null));
        }
        bsp = runners.get(0).vcpu;
        runners.get(0).apic.setExtIntSource(pic);
        applyTscPresets();

        try {
            // No ACPI tables yet: no RSDP to pass, nothing reserved beyond the PC's fixed map.
            entry = loadKernel(kernelImage, modules, 0, List.of());
        } catch (RuntimeException e) {
            closeSerial();
            throw e;
        }
        Cpu cpu = bsp.cpu();
        switch (entry.mode()) {
            case PROTECTED_32 -> cpu.enterFlatProtectedMode((int) entry.ip(), entry.codeSelector(),
                    entry.dataSelector());
            case LONG_64 -> cpu.enterFlatLongMode(entry.ip(), entry.cr3(), entry.codeSelector(), entry.dataSelector());
        }
        cpu.setGdtr(entry.gdtBase(), entry.gdtLimit());
        cpu.setGpr(Cpu.RAX, Integer.toUnsignedLong(entry.eax()));
        cpu.setGpr(Cpu.RBX, Integer.toUnsignedLong(entry.ebx()));
        cpu.setGpr(Cpu.RSI, Integer.toUnsignedLong(entry.esi()));
        for (int i = 1; i < runners.size(); i++) {
            // Application processors wait for INIT and STARTUP (platform.md section 5).
            runners.get(i).cpu.init();
        }
        MachineConfig.Gdb gdb = config.gdb();
        if (gdb == null) {
            debugGate = null;
            gdbServer = null;
        } else {
            debugGate = new DebugGate(vm.vcpus(), config.clock() != VmConfig.ClockKind.DETERMINISTIC,
                    gdb.waitForDebugger(), () -> finish(new RunResult(RunResult.STATUS_KILLED,
                            RunResult.Reason.KILLED, "the debugger killed the run")));
            try {
                gdbServer = GdbServer.start(gdb.host(), gdb.port(), debugGate); // last: nothing after it can fail
            } catch (RuntimeException e) {
                closeSerial();
                throw e;
            }
        }
    }

    /** The port the gdb server listens on (useful with port 0), or -1 without one. */
    public int gdbPort() {
        return gdbServer == null ? -1 : gdbServer.port();
    }

    /**
     * What firmware or a VMM leaves behind before the guest runs: host-initiated TSC writes
     * (R10: each a new generation unless KVM's one-second window matches it to an earlier user
     * write) and host-initiated TSC_ADJUST writes (R8: the TSC does not move).
     */
    private void applyTscPresets() {
        for (MachineConfig.VcpuValue warp : config.tscWarps()) {
            Vcpu vcpu = runners.get(warp.vcpu()).vcpu;
            vcpu.setMsr(Msr.IA32_TSC, vcpu.getMsr(Msr.IA32_TSC) + warp.value());
        }
        for (MachineConfig.VcpuValue adjust : config.tscAdjusts()) {
            runners.get(adjust.vcpu()).vcpu.setMsr(Msr.IA32_TSC_ADJUST, adjust.value());
        }
    }

    private static Vm createVm(MachineConfig config, CpuidModel cpuid) {
        return Vm.create(VmConfig.builder()
                .ramBytes(config.ramBytes())
                .clockKind(config.clock())
                .hostKhz(config.hostKhz())
                .hostTscAdjust(config.hostTscAdjust())
                .defaultTscKhz(config.tscKhz())
                .msrPolicy(config.msrPolicy())
                .cpuid(cpuid)
                .vcpusPerPackage(config.vcpusPerPackage())
                .build());
    }

    private void mapDevices() {
        PortIoBus io = vm.ioBus();
        io.map(PORT_PIC_MASTER, 2, pic.master());
        io.map(PORT_PIC_SLAVE, 2, pic.slave());
        io.map(PORT_PIT, 4, pit);
        io.map(PORT_SYSTEM_CONTROL_B, 1, pit.portB());
        io.map(PORT_CMOS, 2, cmos);
        io.map(PORT_POST, 1, new PostPort());
        io.map(PORT_COM1, 8, uart);
        io.map(PORT_FW_CFG, 2, fwCfg);
        io.map(PORT_SHUTDOWN, 1, new ShutdownPort(() -> finish(new RunResult(RunResult.STATUS_SHUTDOWN,
                RunResult.Reason.SHUTDOWN, "the guest wrote \"Shutdown\" to port 0x8900"))));
        io.mapExit(PORT_DEBUG_EXIT, DEBUG_EXIT_SIZE);
        if (config.pcTestdev()) {
            PcTestdev testdev = new PcTestdev(irq -> irq < 16 ? pic.irq(irq) : IrqLine.NONE);
            io.map(PORT_PC_TESTDEV, PcTestdev.PORTS_LENGTH, testdev.ports());
            io.map(PORT_PC_TESTDEV_IRQ, PcTestdev.IRQ_LINES, testdev.irqPorts());
            vm.mmioBus().map(PC_TESTDEV_IOMEM, PcTestdev.IOMEM_SIZE, testdev.iomem());
        }
    }

    /**
     * Loads the kernel by its format (bzImage, multiboot, PVH; {@link KernelLoader}) or as a flat
     * image. {@code acpiRsdp} (0 for none) and the {@code reserved} e820 ranges describe the
     * machine's own tables to the kernel.
     */
    private EntryPoint loadKernel(byte[] image, List<MultibootLoader.Module> modules, long acpiRsdp,
                                  List<MemoryMap.Entry> reserved) {
        if (config.flatLoadAddress() >= 0) {
            return FlatBinaryLoader.load(vm.memory(), image, config.flatLoadAddress(), config.flatEntry());
        }
        MemoryMap map = MemoryMap.pc(config.ramBytes(), reserved);
        return KernelLoader.load(vm.memory(), image, config.kernel().name(), config.append(), modules, map, acpiRsdp);
    }

    private static OutputStream openSerial(SerialTarget target) {
        if (target instanceof SerialTarget.ToStream s) {
            return s.out();
        }
        if (target instanceof SerialTarget.None) {
            return OutputStream.nullOutputStream();
        }
        if (target instanceof SerialTarget.ToFile f) {
            try {
                return new BufferedOutputStream(Files.newOutputStream(f.path()));
            } catch (IOException e) {
                throw new BootFileException("cannot open serial output file " + f.path() + ": " + e.getMessage(), e);
            }
        }
        return new LineFlushingStream(((SerialTarget.Stdio) target).out());
    }

    /** The VM underneath, for the API and tests. */
    public Vm vm() {
        return vm;
    }

    public Uart16550 uart() {
        return uart;
    }

    public EntryPoint entryPoint() {
        return entry;
    }

    public LocalApic apic(int vcpu) {
        return runners.get(vcpu).apic;
    }

    /**
     * A machine-level reset of the TSC state, as QEMU does it on reset (tsc-semantics A7, R13):
     * host-side writes of TSC = 1 (1, not 0, because a host write of 0 is taken as CPU hotplug
     * and snapped to the generation, R10) and TSC_ADJUST = 0 on every vCPU.
     */
    public void resetTsc() {
        for (Vcpu vcpu : vm.vcpus()) {
            vcpu.setMsr(Msr.IA32_TSC, 1);
            vcpu.setMsr(Msr.IA32_TSC_ADJUST, 0);
        }
    }

    /** Runs the guest until it ends the run (or the configured timeout passes). */
    public RunResult run() {
        Thread watchdog = startWatchdog(config.timeout());
        Thread input = config.serial() instanceof SerialTarget.Stdio console ? startStdinPump(console.in()) : null;
        try {
            if (config.clock() == VmConfig.ClockKind.DETERMINISTIC) {
                runRoundRobin();
            } else {
                runThreaded();
            }
        } finally {
            if (watchdog != null) {
                watchdog.interrupt();
            }
            if (input != null) {
                input.interrupt();
            }
            if (gdbServer != null) {
                gdbServer.close(); // after gdb heard how the run ended
            }
            closeSerial();
        }
        return result.get();
    }

    private void runThreaded() {
        List<Thread> threads = new ArrayList<>();
        for (Runner r : runners) {
            // concat, not +: an invokedynamic concatenation would spin method handle classes at start-up.
            Thread t = new Thread(r::runOnOwnThread, "vcpu-".concat(Integer.toString(r.vcpu.id())));
            t.setDaemon(true);
            threads.add(t);
        }
        threads.forEach(Thread::start);
        try {
            watchForIdle();
            for (Thread t : threads) {
                t.join(1000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            finish(new RunResult(RunResult.STATUS_INTERNAL_ERROR, RunResult.Reason.INTERNAL_ERROR,
                    "interrupted while the guest was running"));
        }
    }

    /**
     * Waits for the run to end. With several vCPUs the run loop cannot tell a vCPU halted for
     * good from one another vCPU will wake, so this watches from outside: when no vCPU retires
     * an instruction for {@link #IDLE_LIMIT_MILLIS}, no timer is armed and no input can arrive,
     * nothing can ever happen again and the run ends as halted.
     */
    private void watchForIdle() throws InterruptedException {
        long lastRetired = -1;
        long idleSince = System.nanoTime();
        while (!finished.await(IDLE_POLL_MILLIS, TimeUnit.MILLISECONDS)) {
            long retired = totalRetired();
            long now = System.nanoTime();
            if (retired != lastRetired || anyTimerArmed() || inputOpen || debuggerHolds()) {
                lastRetired = retired;
                idleSince = now;
            } else if (now - idleSince > TimeUnit.MILLISECONDS.toNanos(IDLE_LIMIT_MILLIS)) {
                finish(new RunResult(RunResult.STATUS_HALTED, RunResult.Reason.HALTED,
                        "no vCPU ran for " + IDLE_LIMIT_MILLIS + " ms with no timer armed and no input: "
                                + "every vCPU is halted or waiting for STARTUP"));
            }
        }
    }

    /**
     * Deterministic mode: every vCPU on this thread, in order, each for a fixed quantum of
     * host-clock ticks (only with SMP; one vCPU simply runs until it exits).
     */
    private void runRoundRobin() {
        boolean quanta = runners.size() > 1;
        while (result.get() == null) {
            if (debugGate != null) {
                try {
                    debugGate.checkpointAll();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    finish(new RunResult(RunResult.STATUS_INTERNAL_ERROR, RunResult.Reason.INTERNAL_ERROR,
                            "interrupted while a debugger held the machine"));
                    break;
                }
            }
            boolean anyRunnable = false;
            long retiredBefore = totalRetired();
            for (Runner r : runners) {
                if (result.get() != null || debuggerHolds()) {
                    break;
                }
                if (debugGate != null && !debugGate.runs(r.vcpu)) {
                    anyRunnable = true; // the debugger keeps it stopped; another vCPU steps
                    continue;
                }
                if (!r.applyMailbox()) {
                    continue;
                }
                anyRunnable = true;
                if (quanta) {
                    r.interrupts.startQuantum(DETERMINISTIC_QUANTUM_TICKS);
                }
                r.handle(r.vcpu.run());
            }
            if (result.get() != null) {
                break;
            }
            if (debuggerHolds()) {
                continue;
            }
            if (!anyRunnable) {
                finish(new RunResult(RunResult.STATUS_HALTED, RunResult.Reason.HALTED,
                        "no vCPU can run: all wait for a STARTUP IPI"));
            } else if (quanta && totalRetired() == retiredBefore && !anyTimerArmed() && !debuggerAttached()) {
                finish(new RunResult(RunResult.STATUS_HALTED, RunResult.Reason.HALTED,
                        "every vCPU halted with no timer armed and no interrupt pending: "
                                + runners.get(0).cpu.describe()));
            }
        }
    }

    /**
     * Under a debugger a round-robin pass may retire nothing (the vCPUs it keeps stopped, a
     * pause it asked for) and the run still goes on.
     */
    private boolean debuggerAttached() {
        return debugGate != null && debugGate.attached();
    }

    private boolean debuggerHolds() {
        return debugGate != null && debugGate.held();
    }

    private long totalRetired() {
        long n = 0;
        for (Runner r : runners) {
            n += r.cpu.instructionsRetired();
        }
        return n;
    }

    private boolean anyTimerArmed() {
        if (pit.nextEventNanos() != Long.MAX_VALUE) {
            return true;
        }
        for (Runner r : runners) {
            if (r.apic.nextEventHostTsc() != Long.MAX_VALUE) {
                return true;
            }
        }
        return false;
    }

    private Thread startWatchdog(Duration timeout) {
        if (timeout == null) {
            return null;
        }
        Thread t = new Thread(() -> {
            try {
                if (!finished.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    finish(new RunResult(RunResult.STATUS_TIMEOUT, RunResult.Reason.TIMEOUT,
                            "the run exceeded its time limit of " + timeout.toMillis() + " ms"));
                }
            } catch (InterruptedException e) {
                // The run ended first.
            }
        }, "tscvm-watchdog");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Feeds standard input to COM1's receiver; a full FIFO makes it wait for the guest. */
    private Thread startStdinPump(InputStream in) {
        inputOpen = true;
        Thread t = new Thread(() -> {
            byte[] buf = new byte[256];
            try {
                int n;
                while (!Thread.currentThread().isInterrupted() && (n = in.read(buf)) > 0) {
                    int done = 0;
                    while (done < n && !Thread.currentThread().isInterrupted()) {
                        int taken = uart.receive(buf, done, n - done);
                        done += taken;
                        if (taken == 0) {
                            Thread.sleep(1);
                        }
                    }
                }
            } catch (IOException | InterruptedException e) {
                // End of input or end of the run: the UART simply receives nothing more.
            } finally {
                inputOpen = false;
            }
        }, "tscvm-stdin");
        t.setDaemon(true);
        t.start();
        return t;
    }

    private void closeSerial() {
        try {
            serialOut.flush();
            if (config.serial() instanceof SerialTarget.ToFile) {
                serialOut.close();
            }
        } catch (IOException e) {
            // The run's result stands; a console that went away loses its last bytes.
        }
    }

    /** The first result wins; every vCPU is then asked to stop. */
    void finish(RunResult r) {
        if (result.compareAndSet(null, r)) {
            if (debugGate != null) {
                debugGate.end(endForDebugger(r));
            }
            for (Runner runner : runners) {
                runner.vcpu.requestPause();
                runner.wake();
            }
            finished.countDown();
        }
    }

    /** How gdb hears of the run's end: W with the exit status, X with a signal when the machine broke. */
    private static TargetEvent.Ended endForDebugger(RunResult r) {
        return switch (r.kind()) {
            case DEBUG_EXIT, SHUTDOWN, HALTED, TIMEOUT, KILLED -> new TargetEvent.Ended(r.exitStatus(), 0);
            case TRIPLE_FAULT -> new TargetEvent.Ended(r.exitStatus(), SIGSEGV);
            case INTERNAL_ERROR -> new TargetEvent.Ended(r.exitStatus(), SIGABRT);
        };
    }

    private static final int SIGABRT = 6, SIGSEGV = 11;

    /** One vCPU: its APIC's link to the vCPU, the INIT/SIPI mailbox and the exit handling. */
    private final class Runner implements LocalApic.Host {
        final Vcpu vcpu;
        final Cpu cpu;
        final LocalApic apic;
        final VcpuInterrupts interrupts;
        // The mailbox: INIT and STARTUP arrive from other vCPUs' threads and are applied on
        // this vCPU's own thread, because the Cpu is not thread-safe.
        private boolean waitingForSipi;
        private boolean pendingInit;
        private int pendingSipi = -1;

        Runner(Vcpu vcpu, ApicBus apicBus, Pit8254 timedPit) {
            this.vcpu = vcpu;
            this.cpu = vcpu.cpu();
            this.apic = new LocalApic(vcpu.id(), vcpu.id() == 0, PHYS_ADDR_BITS, this, apicBus);
            this.interrupts = new VcpuInterrupts(apic, timedPit, clock, vcpu);
            this.waitingForSipi = vcpu.id() != 0;
            vcpu.setInterruptController(interrupts);
        }

        @Override
        public long hostTscNow() {
            return clock.now();
        }

        @Override
        public long hostKhz() {
            return clock.khz();
        }

        @Override
        public long guestTscAt(long hostTsc) {
            return vcpu.guestTscAt(hostTsc);
        }

        @Override
        public long hostTscForGuestTsc(long guestTsc) {
            return vcpu.hostTscForGuestTsc(guestTsc);
        }

        @Override
        public void interruptPending() {
            vcpu.kick();
        }

        @Override
        public void init() {
            synchronized (this) {
                pendingInit = true;
                notifyAll();
            }
            vcpu.requestPause();
        }

        @Override
        public void startup(int vector) {
            synchronized (this) {
                pendingSipi = vector;
                notifyAll();
            }
            vcpu.requestPause();
        }

        @Override
        public void nmi() {
            cpu.raiseNmi();
            vcpu.kick(); // an NMI wakes a halted vCPU whatever RFLAGS.IF
        }

        synchronized void wake() {
            notifyAll();
        }

        /** Applies pending INIT/STARTUP on this thread; true when the vCPU may run. */
        synchronized boolean applyMailbox() {
            if (pendingInit) {
                pendingInit = false;
                cpu.init();
                waitingForSipi = true;
            }
            if (pendingSipi >= 0) {
                int vector = pendingSipi;
                pendingSipi = -1;
                if (waitingForSipi) {
                    cpu.startup(vector);
                    waitingForSipi = false;
                }
            }
            return !waitingForSipi;
        }

        void runOnOwnThread() {
            try {
                while (result.get() == null) {
                    if (debugGate != null) {
                        debugGate.checkpoint(vcpu);
                        if (result.get() != null) {
                            break;
                        }
                    }
                    if (!applyMailbox()) {
                        synchronized (this) {
                            if (!pendingInit && pendingSipi < 0 && result.get() == null) {
                                wait(100);
                            }
                        }
                        continue;
                    }
                    handle(vcpu.run());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException bug) {
                finish(new RunResult(RunResult.STATUS_INTERNAL_ERROR, RunResult.Reason.INTERNAL_ERROR,
                        "vCPU " + vcpu.id() + ": " + bug));
            }
        }

        void handle(VcpuExit exit) {
            RunResult r = switch (exit.kind()) {
                case IO_OUT -> {
                    VcpuExit.IoOut io = (VcpuExit.IoOut) exit;
                    yield io.port() >= PORT_DEBUG_EXIT && io.port() < PORT_DEBUG_EXIT + DEBUG_EXIT_SIZE
                            ? RunResult.debugExit(io.value()) : null;
                }
                case HALT -> new RunResult(RunResult.STATUS_HALTED, RunResult.Reason.HALTED,
                        "vCPU " + vcpu.id() + " halted with nothing left to wake it: " + cpu.describe());
                case PAUSED -> null; // a quantum ended, INIT/SIPI arrived, or the run is over
                case TRIPLE_FAULT -> new RunResult(RunResult.STATUS_TRIPLE_FAULT, RunResult.Reason.TRIPLE_FAULT,
                        "triple fault on vCPU " + vcpu.id() + ": " + ((VcpuExit.TripleFault) exit).state());
                case INTERNAL_ERROR -> new RunResult(RunResult.STATUS_INTERNAL_ERROR, RunResult.Reason.INTERNAL_ERROR,
                        ((VcpuExit.InternalError) exit).message());
                case DEBUG -> {
                    if (debugGate != null) {
                        debugGate.stopped(vcpu, (VcpuExit.Debug) exit);
                    }
                    yield null;
                }
            };
            if (r != null) {
                finish(r);
            }
        }
    }

    /** Standard output for the console: flushed at each newline so output interleaves sensibly. */
    private static final class LineFlushingStream extends OutputStream {
        private final PrintStream out;

        LineFlushingStream(PrintStream out) {
            this.out = out;
        }

        @Override
        public void write(int b) {
            out.write(b);
            if (b == '\n') {
                out.flush();
            }
        }

        @Override
        public void flush() {
            out.flush();
        }
    }
}

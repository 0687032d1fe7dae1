package org.tscvm.machine;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.time.Duration;
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
import org.tscvm.cpu.Msr;
import org.tscvm.devices.ApicBus;
import org.tscvm.devices.LocalApic;
import org.tscvm.devices.Pit8254;
import org.tscvm.devices.Uart16550;
import org.tscvm.gdb.GdbServer;
import org.tscvm.gdb.TargetEvent;
import org.tscvm.qmp.QmpServer;
import org.tscvm.tsc.DeterministicHostClock;
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
    /** Deterministic SMP quantum in host-clock ticks: 40 us at 2.5 GHz, short enough for IPI ping-pong. */
    static final long DETERMINISTIC_QUANTUM_TICKS = 100_000;
    /** The RTC's wall-clock start in deterministic mode: 2024-01-01T00:00:00Z, so runs repeat. */
    static final long DETERMINISTIC_EPOCH_SECONDS = 1_704_067_200L;
    /** How often and how long the real-time run watches for vCPUs that can never run again. */
    private static final long IDLE_POLL_MILLIS = 250;
    static final long IDLE_LIMIT_MILLIS = 5_000;
    /** How long a vCPU thread may take to stop before a reboot (the end of a run waits 1 s at most). */
    private static final long VCPU_STOP_MILLIS = 5_000;

    private final MachineConfig config;
    private final Vm vm;
    private final HostClock clock;
    private final OutputStream serialOut;
    private final PcBoard board;
    private final Uart16550 uart;
    private final Pit8254 pit;
    private final List<Runner> runners = new ArrayList<>();
    private final byte[] kernelImage;
    private final List<MultibootLoader.Module> modules;
    /** Where the kernel starts; loaded again on every reboot. */
    private EntryPoint entry;
    private final AtomicReference<RunResult> result = new AtomicReference<>();
    /** Counted down when the current boot ends (the run's end or a reboot). */
    private volatile CountDownLatch finished = new CountDownLatch(1);
    /** The result that ends a boot for a guest reset (without -no-reboot): run() boots again. */
    private volatile RunResult rebootRequest;
    private volatile boolean timedOut;
    private int reboots;
    /** True while standard input may still bring bytes to COM1 (which could wake a vCPU). */
    private volatile boolean inputOpen;
    /** All-stop debugging and the gdb server, or null without {@link MachineConfig#gdb()}. */
    private final DebugGate debugGate;
    private final GdbServer gdbServer;
    /** The QMP monitor and its server, or null without {@link MachineConfig#qmp()}. */
    private final MachineMonitor monitor;
    private final QmpServer qmpServer;

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
        this.kernelImage = config.kernel() instanceof MachineConfig.Kernel.FromFile f
                ? BootFileException.read(f.path(), "kernel")
                : ((MachineConfig.Kernel.InMemory) config.kernel()).bytes();
        this.modules = new ArrayList<>();
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
        // The ACPI tables go to RAM before the kernel, so an image that covers the BIOS area wins.
        board = new PcBoard(config, vm, serialOut, new BoardEvents());
        uart = board.uart();
        pit = board.pit();

        List<LocalApic> apics = new ArrayList<>();
        for (int i = 0; i < config.smp(); i++) {
            Vcpu vcpu = vm.createVcpu(); // one TSC generation for all (R12)
            board.programMtrrs(vcpu);
            Runner runner = new Runner(vcpu, board.apicBus(), i == 0 ? pit : null);
            runners.add(runner);
            apics.add(runner.apic);
        }
        board.connectApics(apics);
        applyTscPresets();

        try {
            entry = loadKernel(kernelImage, modules, board.rsdpAddress(), board.reservedRanges());
        } catch (RuntimeException e) {
            closeSerial();
            throw e;
        }
        startCpus();
        MachineConfig.Gdb gdb = config.gdb();
        MachineConfig.Qmp qmp = config.qmp();
        // The all-stop gate serves gdb and the monitor alike; without either the vCPUs never pass it.
        debugGate = gdb == null && qmp == null ? null
                : new DebugGate(vm.vcpus(), config.clock() != VmConfig.ClockKind.DETERMINISTIC,
                        (gdb != null && gdb.waitForDebugger()) || (qmp != null && qmp.holdAtStart()),
                        () -> finish(new RunResult(RunResult.STATUS_KILLED, RunResult.Reason.KILLED,
                                "the debugger killed the run")),
                        () -> runners.forEach(Runner::wake));
        monitor = qmp == null ? null : new MachineMonitor(this, config, debugGate);
        QmpServer startedQmp = null;
        try {
            // Last: nothing after the servers can fail.
            startedQmp = qmp == null ? null : QmpServer.start(qmp.address(), monitor, qmp.pretty());
            gdbServer = gdb == null ? null : GdbServer.start(gdb.host(), gdb.port(), debugGate);
        } catch (RuntimeException e) {
            if (startedQmp != null) {
                startedQmp.close();
            }
            closeSerial();
            throw e;
        }
        qmpServer = startedQmp;
    }

    /** The BSP at the loader's entry state; application processors wait for INIT and STARTUP (platform.md section 5). */
    private void startCpus() {
        Vcpu bsp = runners.get(0).vcpu;
        bsp.setSregs(entry.sregs(bsp.getSregs()));
        bsp.setRegs(entry.regs(bsp.getRegs()));
        for (int i = 1; i < runners.size(); i++) {
            Vcpu ap = runners.get(i).vcpu;
            ap.deliverInit();
            ap.takeSignals();
        }
    }

    /** The QMP server (its port with tcp::0, waiting for a first client), or null without -qmp. */
    public QmpServer qmpServer() {
        return qmpServer;
    }

    /** The host thread running vCPU {@code index} (its Linux thread id where known), as QMP reports it. */
    long vcpuThreadId(int index) {
        long tid = runners.get(index).threadId;
        return tid != 0 ? tid : ProcessHandle.current().pid();
    }

    /** The port the gdb server listens on (useful with port 0), or -1 without one. */
    public int gdbPort() {
        return gdbServer == null ? -1 : gdbServer.port();
    }

    /**
     * A guest reset without -no-reboot, with every vCPU stopped: the machine as at power-on
     * (devices but the battery-backed CMOS, local APICs, MTRRs, the TSC, every CPU's
     * registers), the ACPI tables and the kernel loaded again, as QEMU's reset re-runs its
     * firmware and kernel loader. Other RAM keeps its contents, as on a real reset.
     */
    private void reboot() {
        reboots++;
        board.powerOn();
        entry = loadKernel(kernelImage, modules, board.rsdpAddress(), board.reservedRanges());
        resetTsc();
        for (Runner r : runners) {
            r.powerOn();
        }
        startCpus();
        finished = new CountDownLatch(1);
        result.set(null);
        if (debugGate != null) {
            debugGate.reopen();
        }
    }

    /** How many times the guest rebooted the machine in this run. */
    public int reboots() {
        return reboots;
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
                .compileThreshold(config.compileThreshold())
                .build());
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
     * The physical address of the ACPI RSDP (in the BIOS area, where a scan finds it too), for
     * loaders that hand it to the kernel.
     */
    public long rsdpAddress() {
        return board.rsdpAddress();
    }

    /** Guest-physical ranges below the top of RAM that a loader's e820 map must mark reserved. */
    public List<MemoryMap.Entry> reservedRanges() {
        return board.reservedRanges();
    }

    /** What the board reports: power-off and reset end the run; INTR wakes the vCPUs taking ExtINT. */
    private final class BoardEvents implements PcBoard.Events {
        @Override
        public void powerOff(String how) {
            finish(new RunResult(RunResult.STATUS_SHUTDOWN, RunResult.Reason.SHUTDOWN, how));
        }

        @Override
        public void reset(String how) {
            Machine.this.reset("the guest reset the machine through " + how, true);
        }

        @Override
        public void extIntRequested() {
            for (Runner r : runners) {
                if (r.apic.receivesExtInt()) {
                    r.vcpu.kick();
                }
            }
        }
    }

    /**
     * A reset of the whole machine, by the guest or from the host (the monitor's
     * system_reset): the boot ends and run() boots again, or with -no-reboot the run ends.
     */
    void reset(String why, boolean byGuest) {
        if (config.noReboot()) {
            finish(new RunResult(RunResult.STATUS_SHUTDOWN, RunResult.Reason.RESET, why + "; -no-reboot ends the run"));
            return;
        }
        // The boot ends here; run() reboots once every vCPU has stopped.
        RunResult reboot = new RunResult(RunResult.STATUS_SHUTDOWN, RunResult.Reason.RESET, why);
        rebootRequest = reboot;
        if (finish(reboot) && monitor != null) {
            monitor.resetHappened(byGuest);
        }
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
            while (true) {
                if (config.clock() == VmConfig.ClockKind.DETERMINISTIC) {
                    runRoundRobin();
                } else {
                    runThreaded();
                }
                RunResult ended = result.get();
                if (ended != rebootRequest) {
                    break;
                }
                if (timedOut) {
                    result.set(timeoutResult(config.timeout()));
                    break;
                }
                reboot();
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
            if (qmpServer != null) {
                qmpServer.close(); // after the client had the reply to quit and the SHUTDOWN event
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
            boolean rebooting = result.get() == rebootRequest;
            for (Thread t : threads) {
                t.join(rebooting ? VCPU_STOP_MILLIS : 1000);
                if (t.isAlive() && rebooting) {
                    // A reboot needs every vCPU stopped; one that does not stop ends the run instead.
                    result.set(new RunResult(RunResult.STATUS_INTERNAL_ERROR, RunResult.Reason.INTERNAL_ERROR,
                            t.getName() + " did not stop for the guest's reset"));
                }
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
        long tid = currentThreadId();
        for (Runner r : runners) {
            r.threadId = tid;
        }
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
            } else if (quanta && totalRetired() == retiredBefore) {
                long next = nextTimerHostTsc();
                if (next != Long.MAX_VALUE) {
                    // Every vCPU waits: time jumps to the first timer any of them has (A2).
                    ((DeterministicHostClock) clock).advanceTo(next);
                } else if (!debuggerAttached()) {
                    finish(new RunResult(RunResult.STATUS_HALTED, RunResult.Reason.HALTED,
                            "every vCPU halted with no timer armed and no interrupt pending: "
                                    + runners.get(0).vcpu.describe()));
                }
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
            n += r.vcpu.instructionsRetired();
        }
        return n;
    }

    /** The first timer event of any vCPU (APIC timers, the PIT), or Long.MAX_VALUE. */
    private long nextTimerHostTsc() {
        long next = Long.MAX_VALUE;
        for (Runner r : runners) {
            next = Math.min(next, r.interrupts.nextTimerHostTsc());
        }
        return next;
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
        // The limit covers the whole run, reboots included; run() interrupts the sleep when it ends.
        Thread t = new Thread(() -> {
            try {
                Thread.sleep(timeout.toMillis());
                timedOut = true;
                finish(timeoutResult(timeout));
            } catch (InterruptedException e) {
                // The run ended first.
            }
        }, "tscvm-watchdog");
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static RunResult timeoutResult(Duration timeout) {
        return new RunResult(RunResult.STATUS_TIMEOUT, RunResult.Reason.TIMEOUT,
                "the run exceeded its time limit of " + timeout.toMillis() + " ms");
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

    /** The first result wins (true); every vCPU is then asked to stop. */
    boolean finish(RunResult r) {
        if (result.compareAndSet(null, r)) {
            boolean reboot = r == rebootRequest;
            if (debugGate != null) {
                // A reboot only lets parked threads leave; gdb stays attached to the machine that boots again.
                debugGate.end(reboot ? null : endForDebugger(r));
            }
            if (monitor != null && !reboot) {
                monitor.runEnded(r);
            }
            for (Runner runner : runners) {
                runner.vcpu.requestPause();
                runner.wake();
            }
            finished.countDown();
            return true;
        }
        return false;
    }

    /** How gdb hears of the run's end: W with the exit status, X with a signal when the machine broke. */
    private static TargetEvent.Ended endForDebugger(RunResult r) {
        return switch (r.kind()) {
            case DEBUG_EXIT, SHUTDOWN, RESET, HALTED, TIMEOUT, KILLED, MIGRATION_FAILED ->
                    new TargetEvent.Ended(r.exitStatus(), 0);
            case TRIPLE_FAULT -> new TargetEvent.Ended(r.exitStatus(), SIGSEGV);
            case INTERNAL_ERROR -> new TargetEvent.Ended(r.exitStatus(), SIGABRT);
        };
    }

    private static final int SIGABRT = 6, SIGSEGV = 11;

    /** The calling thread's Linux thread id (from /proc/thread-self), or its Java id elsewhere. */
    private static long currentThreadId() {
        try {
            return Long.parseLong(Files.readSymbolicLink(java.nio.file.Path.of("/proc/thread-self")).getFileName().toString());
        } catch (IOException | RuntimeException e) {
            return Thread.currentThread().getId();
        }
    }

    /** One vCPU: its APIC's link to the vCPU, the INIT/SIPI mailbox and the exit handling. */
    private final class Runner implements LocalApic.Host {
        final Vcpu vcpu;
        final LocalApic apic;
        final VcpuInterrupts interrupts;
        private final LocalApic.State powerOnApic;
        /** The thread running this vCPU (Linux thread id where known), 0 before the run. */
        volatile long threadId;

        Runner(Vcpu vcpu, ApicBus apicBus, Pit8254 timedPit) {
            this.vcpu = vcpu;
            this.apic = new LocalApic(vcpu.id(), vcpu.id() == 0, CpuidModel.PHYS_ADDR_BITS, this, apicBus);
            this.interrupts = new VcpuInterrupts(apic, timedPit, clock, vcpu);
            this.powerOnApic = apic.state();
            vcpu.setInterruptController(interrupts);
        }

        /** Power-on state for a reboot (on the thread running the machine, every vCPU stopped). */
        void powerOn() {
            vcpu.reset();
            apic.restore(powerOnApic);
            board.programMtrrs(vcpu);
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
            vcpu.deliverInit();
        }

        @Override
        public void startup(int vector) {
            vcpu.deliverStartup(vector);
        }

        @Override
        public void nmi() {
            vcpu.injectNmi();
        }

        void wake() {
            vcpu.wakeSignalWaiters();
        }

        /** Takes pending INIT/STARTUP on this thread; true when the vCPU may run. */
        boolean applyMailbox() {
            return vcpu.takeSignals();
        }

        void runOnOwnThread() {
            threadId = currentThreadId();
            try {
                while (result.get() == null) {
                    if (debugGate != null) {
                        debugGate.checkpoint(vcpu);
                        if (result.get() != null) {
                            break;
                        }
                    }
                    if (!applyMailbox()) {
                        if (result.get() == null) {
                            vcpu.awaitSignal(100);
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
                    yield io.port() >= PcBoard.PORT_DEBUG_EXIT && io.port() < PcBoard.PORT_DEBUG_EXIT + PcBoard.DEBUG_EXIT_SIZE
                            ? RunResult.debugExit(io.value()) : null;
                }
                case HALT -> new RunResult(RunResult.STATUS_HALTED, RunResult.Reason.HALTED,
                        "vCPU " + vcpu.id() + " halted with nothing left to wake it: " + vcpu.describe());
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

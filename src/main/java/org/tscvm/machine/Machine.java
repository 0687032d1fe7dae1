package org.tscvm.machine;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
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
import org.tscvm.tsc.HostClock;
import org.tscvm.trace.Tracer;
import org.tscvm.vm.CpuidModel;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VcpuSregs;
import org.tscvm.vm.Vm;

/**
 * The tscvm PC (platform.md), the board half of a machine: a {@link Vm} with RAM, the legacy
 * devices on their ports ({@link PcBoard}), one local APIC per vCPU wired to its vCPU, and the
 * kernel loaded (multiboot, Linux bzImage or PVH) with the BSP at its entry state. This is the
 * only class that knows the PC's layout. The other half, {@link MachineRunner}, runs the
 * vCPUs until the guest ends the run.
 *
 * <pre>{@code
 * RunResult result = new Machine(MachineConfig.builder().kernel(Path.of("k.elf")).build()).run();
 * System.exit(result.exitStatus());
 * }</pre>
 */
public final class Machine {

    private final MachineConfig config;
    private final Vm vm;
    private final RewindableOutput serialOut;
    private final PcBoard board;
    private final Uart16550 uart;
    private final Pit8254 pit;
    private final List<VcpuLink> links = new ArrayList<>();
    private final byte[] kernelImage;
    private final List<MultibootLoader.Module> modules;
    /** Where the kernel starts; loaded again on every reboot. */
    private EntryPoint entry;
    private volatile int reboots;
    private final MachineRunner runner;
    /** The trace of guest-visible time events (--trace), or null. */
    private final Tracer tracer;

    /**
     * Builds the machine and loads the kernel.
     *
     * @throws org.tscvm.TscvmException (or a subclass: {@link BootFileException},
     *         {@link org.tscvm.boot.KernelImageException}, {@link MachineConfigException}) for
     *         anything wrong with the configuration or the files
     */
    public Machine(MachineConfig config) {
        this.config = config;
        this.kernelImage = config.kernel() instanceof MachineConfig.Kernel.FromFile f
                ? BootFileException.read(f.path(), "kernel")
                : ((MachineConfig.Kernel.InMemory) config.kernel()).bytes();
        this.modules = new ArrayList<>();
        for (var initrd : config.initrds()) {
            modules.add(new MultibootLoader.Module(initrd.toString(), BootFileException.read(initrd, "initrd")));
        }
        this.serialOut = new RewindableOutput(openSerial(config.serial()));
        try {
            this.vm = Vm.create(config.vm());
            this.tracer = config.trace() == null ? null : Tracer.open(config.trace(), vm.clock());
            vm.setTracer(tracer);
        } catch (RuntimeException e) {
            closeSerial();
            throw e;
        }
        // The ACPI tables go to RAM before the kernel, so an image that covers the BIOS area wins.
        board = new PcBoard(config, vm, serialOut, new BoardEvents());
        uart = board.uart();
        pit = board.pit();

        List<LocalApic> apics = new ArrayList<>();
        for (int i = 0; i < config.smp(); i++) {
            Vcpu vcpu = vm.createVcpu(); // one TSC generation for all (R12)
            board.programMtrrs(vcpu);
            VcpuLink link = new VcpuLink(vcpu, board.apicBus(), board.deviceTime(), i == 0 ? pit : null, () -> board.programMtrrs(vcpu));
            links.add(link);
            apics.add(link.apic);
        }
        board.connectApics(apics);
        applyTscPresets();

        try {
            entry = loadKernel(kernelImage, modules, board.rsdpAddress(), board.reservedRanges());
        } catch (RuntimeException e) {
            closeSerial();
            closeTracer();
            throw e;
        }
        startCpus();
        try {
            runner = new MachineRunner(this, config); // last: its gdb server is the one thing to close
        } catch (RuntimeException e) {
            closeSerial();
            closeTracer();
            throw e;
        }
    }

    /** Runs the guest until it ends the run (or the configured timeout passes): {@link MachineRunner#run()}. */
    public RunResult run() {
        return runner.run();
    }

    /** The QMP server (its port with tcp::0, waiting for a first client), or null without -qmp. */
    public org.tscvm.qmp.QmpServer qmpServer() {
        return runner.qmpServer();
    }

    /** Deterministic mode: runs until the host clock reads {@code hostTsc}: {@link MachineRunner#runUntil}. */
    public boolean runUntil(long hostTsc) {
        return runner.runUntil(hostTsc);
    }

    /** The configuration this machine was built from. */
    public MachineConfig config() {
        return config;
    }

    /**
     * The board's devices (local APICs aside), for a snapshot; every vCPU must be stopped
     * (before {@link #run()}, after {@link #runUntil}, or paused).
     */
    public BoardState saveBoard() {
        return board.saveState();
    }

    /**
     * Loads the board's devices, every vCPU stopped; the devices' time continues from
     * {@code deviceNanos} (the saved device time plus whatever downtime the restore counts).
     * The order is {@link PcBoard#restoreState}'s.
     */
    public void restoreBoard(BoardState state, long deviceNanos) {
        board.restoreState(state, deviceNanos);
    }

    /** The runner: threads, and the pause / resume / reset / quit control a monitor uses. */
    public MachineRunner runner() {
        return runner;
    }

    /** The vCPUs with their local APICs, in vCPU order. */
    List<VcpuLink> vcpuLinks() {
        return links;
    }

    Pit8254 pit() {
        return pit;
    }

    /** The BSP at the loader's entry state; application processors wait for INIT and STARTUP (platform.md section 5). */
    private void startCpus() {
        Vcpu bsp = links.get(0).vcpu;
        bsp.setSregs(entry.sregs(bsp.getSregs()));
        bsp.setRegs(entry.regs(bsp.getRegs()));
        for (int i = 1; i < links.size(); i++) {
            Vcpu ap = links.get(i).vcpu;
            ap.deliverInit();
            ap.takeSignals();
        }
    }

    /** The port the gdb server listens on (useful with port 0), or -1 without one. */
    public int gdbPort() {
        return runner.gdbPort();
    }

    /**
     * A guest reset without -no-reboot, with every vCPU stopped: the machine as at power-on
     * (devices but the battery-backed CMOS, local APICs, MTRRs, the TSC, every CPU's
     * registers), the ACPI tables and the kernel loaded again, as QEMU's reset re-runs its
     * firmware and kernel loader. Other RAM keeps its contents, as on a real reset.
     */
    void reboot() {
        if (suspended) {
            suspended = false;
            wakeFromS3();
            return;
        }
        reboots++;
        board.powerOn();
        entry = loadKernel(kernelImage, modules, board.rsdpAddress(), board.reservedRanges());
        resetTsc();
        for (VcpuLink l : links) {
            l.powerOn();
        }
        startCpus();
    }

    /** True from the guest's entry into ACPI S3 until the runner wakes the machine. */
    private volatile boolean suspended;

    boolean suspended() {
        return suspended;
    }

    /** The host-clock reading at which something ends the S3 sleep (the RTC alarm), or Long.MAX_VALUE. */
    long s3WakeHostTsc() {
        long nanos = board.s3WakeNanos();
        return nanos == Long.MAX_VALUE ? Long.MAX_VALUE : board.deviceTime().hostTscAt(nanos);
    }

    /**
     * The end of an S3 sleep, every vCPU stopped: as QEMU's wakeup, a reset of the devices and
     * CPUs that keeps RAM (and the battery-backed CMOS), with PM1's WAK_STS and RTC_STS and the
     * RTC's alarm flags set; the BSP starts in real mode at the FACS's firmware_waking_vector,
     * as the firmware would jump there, and the APs wait for STARTUP.
     */
    private void wakeFromS3() {
        long vector = board.wakingVector(); // before the tables are written again
        board.powerOn();
        board.s3Wake();
        resetTsc();
        for (VcpuLink l : links) {
            l.powerOn();
        }
        Vcpu bsp = links.get(0).vcpu;
        VcpuSregs s = bsp.getSregs();
        int segment = (int) (vector >>> 4) & 0xffff; // real mode: CS:IP = vector >> 4 : vector & 0xf
        bsp.setSregs(s.withCs(new VcpuSregs.Segment((long) segment << 4, 0xffff, segment, s.cs().attributes())));
        bsp.setRegs(bsp.getRegs().withRip(vector & 0xf));
        for (int i = 1; i < links.size(); i++) {
            Vcpu ap = links.get(i).vcpu;
            ap.deliverInit();
            ap.takeSignals();
        }
    }

    /** A reset request (the guest's reset line, or the monitor): reboot, or end the run with -no-reboot. */
    void reset(String how) {
        if (config.noReboot()) {
            runner.finish(new RunResult(RunResult.STATUS_SHUTDOWN, RunResult.Reason.RESET,
                    "the guest reset the machine through " + how + "; -no-reboot ends the run"));
            return;
        }
        // The boot ends here; the runner reboots once every vCPU has stopped.
        runner.rebootOn(new RunResult(RunResult.STATUS_SHUTDOWN, RunResult.Reason.RESET,
                "the guest reset the machine through " + how));
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
            Vcpu vcpu = links.get(warp.vcpu()).vcpu;
            vcpu.setMsr(Msr.IA32_TSC, vcpu.getMsr(Msr.IA32_TSC) + warp.value());
        }
        for (MachineConfig.VcpuValue adjust : config.tscAdjusts()) {
            links.get(adjust.vcpu()).vcpu.setMsr(Msr.IA32_TSC_ADJUST, adjust.value());
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
        return links.get(vcpu).apic;
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
            runner.finish(new RunResult(RunResult.STATUS_SHUTDOWN, RunResult.Reason.SHUTDOWN, how));
        }

        @Override
        public void reset(String how) {
            Machine.this.reset(how);
        }

        @Override
        public void suspend(String how) {
            // The boot pauses here; the runner wakes the machine once every vCPU has stopped.
            suspended = true;
            runner.rebootOn(new RunResult(RunResult.STATUS_SHUTDOWN, RunResult.Reason.SHUTDOWN, how));
        }

        @Override
        public void extIntRequested() {
            for (VcpuLink l : links) {
                if (l.apic.receivesExtInt()) {
                    l.vcpu.kick();
                }
            }
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

    /** How many bytes the guest has sent to its serial output (those it sent again after going back included). */
    public long serialOutputPosition() {
        return serialOut.position();
    }

    /**
     * Reverse execution went back to where the guest had sent {@code position} bytes: as it runs
     * forward again it sends the same bytes, and those already written are not written twice.
     */
    public void rewindSerialOutput(long position) {
        serialOut.rewind(position);
    }

    /**
     * The guest's future changed (a debugger wrote its state, input came from outside): what it
     * sends from here on is new output, even where it had been further before.
     */
    public void forgetSerialFuture() {
        serialOut.forgetFuture();
    }

    /** Ends the trace file: the run is over, every vCPU's events are in. */
    void closeTracer() {
        if (tracer != null) {
            tracer.close();
        }
    }

    void closeSerial() {
        try {
            serialOut.flush();
            if (config.serial() instanceof SerialTarget.ToFile) {
                serialOut.close();
            }
        } catch (IOException e) {
            // The run's result stands; a console that went away loses its last bytes.
        }
    }

    /** One vCPU and its local APIC: the APIC's view of its vCPU (time, interrupts, INIT/SIPI/NMI). */
    static final class VcpuLink implements LocalApic.Host {
        private final Vcpu vcpu;
        private final LocalApic apic;
        private final VcpuInterrupts interrupts;
        private final HostClock clock;
        private final LocalApic.State powerOnApic;
        private final Runnable programMtrrs;

        VcpuLink(Vcpu vcpu, ApicBus apicBus, DeviceTime deviceTime, Pit8254 timedPit, Runnable programMtrrs) {
            this.vcpu = vcpu;
            this.clock = vcpu.vm().clock();
            this.apic = new LocalApic(vcpu.id(), vcpu.id() == 0, CpuidModel.PHYS_ADDR_BITS, this, apicBus);
            this.interrupts = new VcpuInterrupts(apic, timedPit, clock, deviceTime, vcpu);
            this.powerOnApic = apic.saveState();
            this.programMtrrs = programMtrrs;
            vcpu.setInterruptController(interrupts);
        }

        Vcpu vcpu() {
            return vcpu;
        }

        LocalApic apic() {
            return apic;
        }

        VcpuInterrupts interrupts() {
            return interrupts;
        }

        /** Power-on state for a reboot (on the thread running the machine, every vCPU stopped). */
        void powerOn() {
            vcpu.reset();
            apic.restoreState(powerOnApic);
            programMtrrs.run();
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

        @Override
        public void timerArmed(int mode, long deadline, long dueHostTsc) {
            if (vcpu.trace() != null) vcpu.trace().timerArm(mode, deadline, dueHostTsc);
        }

        @Override
        public void timerFired(long hostTsc, int mode, int vector, boolean masked) {
            if (vcpu.trace() != null) vcpu.trace().timerFire(hostTsc, mode, vector, masked);
        }
    }

    /**
     * The serial output, counted: after reverse execution rewinds it, the bytes the guest sends
     * again up to what was already written are dropped, so the output reads as one run. The
     * UART writes under its own lock and rewinds happen while no vCPU runs; the lock here keeps
     * the two counters together either way.
     */
    private static final class RewindableOutput extends OutputStream {
        private final OutputStream out;
        /** Bytes the guest has sent, as of the state it is in. */
        private long position;
        /** Bytes written to {@link #out}: the furthest the guest's output has come. */
        private long written;

        RewindableOutput(OutputStream out) {
            this.out = out;
        }

        synchronized long position() {
            return position;
        }

        synchronized void rewind(long to) {
            position = to;
        }

        synchronized void forgetFuture() {
            written = position;
        }

        @Override
        public synchronized void write(int b) throws IOException {
            if (position++ >= written) {
                written = position;
                out.write(b);
            }
        }

        @Override
        public void flush() throws IOException {
            out.flush();
        }

        @Override
        public void close() throws IOException {
            out.close();
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

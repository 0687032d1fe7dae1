package org.tscvm.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.tscvm.boot.BootFileException;
import org.tscvm.TscvmException;
import org.tscvm.boot.Initramfs;
import org.tscvm.cpu.Msr;
import org.tscvm.log.DebugLog;
import org.tscvm.machine.Machine;
import org.tscvm.machine.MachineConfig;
import org.tscvm.machine.RunResult;
import org.tscvm.machine.SerialTarget;
import org.tscvm.snapshot.MachineSnapshot;
import org.tscvm.snapshot.MachineState;
import org.tscvm.snapshot.RestoreTime;
import org.tscvm.trace.TracePlot;
import org.tscvm.tsc.HostClock;
import org.tscvm.vm.CpuidModel;
import org.tscvm.vm.MsrPolicy;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VmClock;
import org.tscvm.vm.VmConfig;

/**
 * {@code tscvm}: run a kernel (Linux bzImage or PVH, multiboot), play the bundled demo, print
 * the CPU model. The options are defined in {@link CommandTable}; exit statuses are listed in
 * {@link ExitStatus} and {@link RunResult}. {@link #execute} is the in-JVM entry point (tests); {@link #main}
 * only adds {@code System.exit}.
 */
public final class Main {
    /** The bundled demo kernel, built by guests/Makefile and packed into the jar. */
    static final String DEMO_RESOURCE = "/guests/demo.elf";
    /** The host's own IA32_TSC_ADJUST in the demo: visible in the guest's RDTSC, not in its RDMSR 0x3b. */
    static final long DEMO_HOST_TSC_ADJUST = 7_000_000_000L;
    /** A host-initiated write of the guest's IA32_TSC_ADJUST, as firmware leaves it (R8: the TSC does not move). */
    static final long DEMO_FIRMWARE_TSC_ADJUST = 5_000_000L;
    /** A restore-style host write of the guest TSC, as a snapshot restore makes. */
    static final long DEMO_HOST_TSC_WRITE = 1_000_000_000_000L;

    private final InputStream in;
    private final PrintStream out;
    private final PrintStream err;

    private Main(InputStream in, PrintStream out, PrintStream err) {
        this.in = in;
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        int status;
        try (RawTerminal terminal = RawTerminal.enterIfInteractive()) {
            status = execute(args, Launcher.interruptibleStdin(), System.out, System.err);
        }
        System.exit(status);
    }

    /** Runs the command line and returns the exit status instead of exiting; the guest's console reads nothing. */
    public static int execute(String[] args, PrintStream out, PrintStream err) {
        return execute(args, InputStream.nullInputStream(), out, err);
    }

    /** As {@link #execute(String[], PrintStream, PrintStream)}, with {@code in} and {@code out} as the guest's console. */
    public static int execute(String[] args, InputStream in, PrintStream out, PrintStream err) {
        int status;
        try {
            // The plain form is the common one (scripts, the benchmark); picocli reads the rest.
            CommandTable.Parsed parsed = CommandTable.parsePlain(args);
            if (parsed == null) {
                PicocliFront.Outcome outcome = PicocliFront.parse(args, out, err);
                parsed = outcome.parsed();
                status = parsed == null ? outcome.status() : new Main(in, out, err).run(parsed);
            } else {
                status = new Main(in, out, err).run(parsed);
            }
        } catch (RuntimeException e) {
            err.println("tscvm: internal error: " + e);
            status = RunResult.STATUS_INTERNAL_ERROR;
        }
        out.flush();
        err.flush();
        return status;
    }

    private int run(CommandTable.Parsed parsed) {
        try {
            CommandTable.Subcommand command = parsed.command();
            if (command == CommandTable.RUN || command == CommandTable.DEMO) {
                String topics = parsed.value(CommandTable.DEBUG_LOG);
                if ("help".equals(topics)) {
                    out.print(DebugLog.help());
                    return 0;
                }
                DebugLog.configure(topics == null ? Set.of() : parseLogTopics(topics), err);
                try {
                    return command == CommandTable.RUN ? runKernel(parsed) : demo(parsed);
                } finally {
                    DebugLog.configure(Set.of(), err);
                }
            }
            if (command == CommandTable.INITRAMFS) {
                return initramfs(parsed);
            }
            if (command == CommandTable.PLOT) {
                return plot(parsed);
            }
            out.print(CpuidModel.parse(Launcher.checkCpuModel(parsed.value(CommandTable.CPU))).describe());
            return 0;
        } catch (RuntimeException e) {
            return Launcher.reportError(e, err);
        }
    }

    /** The machine that run and demo share, from their options. */
    private MachineConfig.Builder machine(CommandTable.Parsed p, String hostTscAdjust) {
        MachineConfig.Builder b = MachineConfig.builder();
        Launcher.parseSmp(p.value(CommandTable.SMP)).applyTo(b);
        b.tscAdjusts(vcpuValues(p, CommandTable.TSC_ADJUST))
                .tscWarps(vcpuValues(p, CommandTable.TSC_WARP))
                .ramBytes(Launcher.parseMemory(p.value(CommandTable.MEMORY)))
                .cpuModel(Launcher.checkCpuModel(p.value(CommandTable.CPU)))
                .tscKhz(Launcher.parseNonNegative(CommandTable.TSC_KHZ, p.value(CommandTable.TSC_KHZ)))
                .hostKhz(checkHostKhz(Launcher.parseNonNegative(CommandTable.HOST_KHZ, p.value(CommandTable.HOST_KHZ))))
                .hostTscAdjust(Launcher.parseLong(CommandTable.HOST_TSC_ADJUST, hostTscAdjust))
                .clock(parseClock(p.value(CommandTable.CLOCK)))
                .msrPolicy(parseMsrPolicy(p.value(CommandTable.MSR_POLICY)))
                .hostTscUnstable(parseHostTsc(p.value(CommandTable.HOST_TSC)))
                .compileThreshold(parseJitThreshold(p.value(CommandTable.JIT_THRESHOLD)))
                .vmwareBackdoor(p.isGiven(CommandTable.VMPORT));
        try {
            b.serial(SerialTarget.parse(p.value(CommandTable.SERIAL), new SerialTarget.Stdio(in, out)));
        } catch (RuntimeException e) {
            throw new OptionException(ExitStatus.OPTION_VALUE, e.getMessage());
        }
        MachineConfig.Gdb gdb = Launcher.applyServers(b, p.isGiven(CommandTable.GDB_DEFAULT), p.value(CommandTable.GDB),
                p.isGiven(CommandTable.WAIT_FOR_GDB), p.value(CommandTable.QMP), p.value(CommandTable.QMP_PRETTY),
                p.value(CommandTable.INCOMING));
        String reverseInterval = p.value(CommandTable.REVERSE_INTERVAL);
        if (reverseInterval != null) {
            b.gdb(Launcher.withReverseInterval(gdb, reverseInterval,
                    parseClock(p.value(CommandTable.CLOCK)) == VmConfig.ClockKind.DETERMINISTIC,
                    Launcher.parseSmp(p.value(CommandTable.SMP)).cpus()));
        }
        b.trace(Launcher.parseTrace(CommandTable.TRACE, p.value(CommandTable.TRACE), CommandTable.TRACE_KINDS,
                p.isGiven(CommandTable.TRACE_KINDS) ? p.value(CommandTable.TRACE_KINDS) : null));
        String timeout = p.value(CommandTable.TIMEOUT);
        if (timeout != null) {
            b.timeout(Duration.ofSeconds(Launcher.parseNonNegative(CommandTable.TIMEOUT, timeout)));
        }
        return b;
    }

    private static List<MachineConfig.VcpuValue> vcpuValues(CommandTable.Parsed p, String option) {
        List<MachineConfig.VcpuValue> values = new ArrayList<>();
        for (String text : p.values(option)) {
            values.add(Launcher.parseVcpuValue(option, text));
        }
        return values;
    }

    private static int parseJitThreshold(String text) {
        long runs = Launcher.parseNonNegative(CommandTable.JIT_THRESHOLD, text);
        if (runs > Integer.MAX_VALUE) {
            throw new OptionException(ExitStatus.OPTION_VALUE,
                    CommandTable.JIT_THRESHOLD + " " + text + " is too large: use 0 to " + Integer.MAX_VALUE);
        }
        return (int) runs;
    }

    private static long checkHostKhz(long khz) {
        if (khz < HostClock.MIN_KHZ || khz > HostClock.MAX_KHZ) {
            throw new OptionException(ExitStatus.OPTION_VALUE, String.format(
                    "--host-khz %d is out of range: use %d to %d", khz, HostClock.MIN_KHZ, HostClock.MAX_KHZ));
        }
        return khz;
    }

    private static VmConfig.ClockKind parseClock(String text) {
        if (text.equals("real")) {
            return VmConfig.ClockKind.REAL_TIME;
        }
        if (text.equals("deterministic")) {
            return VmConfig.ClockKind.DETERMINISTIC;
        }
        throw new OptionException(ExitStatus.OPTION_VALUE, "--clock " + text + " is not real or deterministic");
    }

    private static boolean parseHostTsc(String text) {
        if (text.equals("stable") || text.equals("unstable")) {
            return text.equals("unstable");
        }
        throw new OptionException(ExitStatus.OPTION_VALUE, "--host-tsc " + text + " is not stable or unstable");
    }

    private static MsrPolicy parseMsrPolicy(String text) {
        if (text.equals("kvm")) {
            return MsrPolicy.KVM;
        }
        if (text.equals("strict")) {
            return MsrPolicy.STRICT;
        }
        throw new OptionException(ExitStatus.OPTION_VALUE, "--msr-policy " + text + " is not kvm or strict");
    }

    private int runKernel(CommandTable.Parsed p) {
        List<Path> initrds = new ArrayList<>();
        for (String value : p.values(CommandTable.INITRD)) {
            for (String file : value.split(",")) {
                initrds.add(Path.of(file));
            }
        }
        MachineConfig.Builder b = machine(p, p.value(CommandTable.HOST_TSC_ADJUST))
                .append(p.value(CommandTable.APPEND)).initrds(initrds);
        String kernel = p.value(CommandTable.KERNEL);
        if (kernel == null) {
            byte[] demo = demoKernel();
            if (demo == null) {
                out.println("(no -kernel, and this build has no bundled demo kernel: showing the API demo instead)");
                ApiDemo.run(out);
                return 0;
            }
            b.kernel("demo.elf", demo);
        } else {
            b.kernel(Path.of(kernel));
        }
        String flat = p.value(CommandTable.FLAT);
        if (flat != null) {
            String[] parts = flat.split(",", 2);
            long load = Launcher.parseNonNegative(CommandTable.FLAT, parts[0]);
            long entry = parts.length > 1 ? Launcher.parseNonNegative(CommandTable.FLAT, parts[1]) : load;
            b.flat(load, entry);
        }
        if (p.value(CommandTable.RECORD) != null || p.value(CommandTable.REPLAY) != null) {
            return RecordReplay.run(p, b, in, out, err);
        }
        MachineConfig config = b.build();
        String restore = p.value(CommandTable.RESTORE);
        if (restore == null) {
            if (p.value(CommandTable.RESTORE_TIME) != null) {
                throw new OptionException(ExitStatus.USAGE, "--restore-time needs --restore FILE");
            }
            return Launcher.boot(config, err);
        }
        RestoreTime time = parseRestoreTime(p.value(CommandTable.RESTORE_TIME), config);
        // The whole file is read and checked before a machine exists: a refused file creates none.
        MachineState state = MachineSnapshot.read(Path.of(restore));
        MachineSnapshot.check(state, config);
        return Launcher.boot(config, err, machine -> MachineSnapshot.restore(machine, state, time));
    }

    private static RestoreTime parseRestoreTime(String text, MachineConfig config) {
        if (text == null) {
            return RestoreTime.defaultFor(config.clock() == VmConfig.ClockKind.DETERMINISTIC);
        }
        return switch (text) {
            case "wall" -> RestoreTime.WALL_CLOCK;
            case "paused" -> RestoreTime.PAUSED;
            default -> throw new OptionException(ExitStatus.OPTION_VALUE,
                    "--restore-time " + text + " is not wall or paused");
        };
    }

    static Set<DebugLog.Topic> parseLogTopics(String list) {
        try {
            return DebugLog.parse(list);
        } catch (TscvmException e) {
            throw new OptionException(ExitStatus.OPTION_VALUE, e.getMessage());
        }
    }

    /** {@code plot TRACE -o FILE.svg}: the trace drawn as an SVG picture. */
    private int plot(CommandTable.Parsed p) {
        String trace = p.value(CommandTable.TRACE_FILE);
        String output = p.value(CommandTable.OUTPUT);
        if (trace == null || output == null) {
            throw new OptionException(ExitStatus.USAGE, "plot needs a trace file and -o FILE.svg");
        }
        String json;
        try {
            json = Files.readString(Path.of(trace));
        } catch (IOException | RuntimeException e) {
            throw new OptionException(ExitStatus.FILE, "cannot read the trace " + trace + ": " + e.getMessage());
        }
        String svg;
        try {
            svg = TracePlot.render(json);
        } catch (TscvmException e) {
            throw new OptionException(ExitStatus.OPTION_VALUE, trace + " is not a tscvm trace: " + e.getMessage());
        }
        try {
            Files.writeString(Path.of(output), svg);
        } catch (IOException e) {
            throw new OptionException(ExitStatus.FILE, "cannot write " + output + ": " + e.getMessage());
        }
        out.printf("wrote %s: the guest TSC of each vCPU against host time%n", output);
        return 0;
    }

    /** The /init that {@code initramfs} packs unless --init names another. */
    static final String LINUX_INIT_RESOURCE = "/guests/linux/init";

    private int initramfs(CommandTable.Parsed p) {
        String output = p.value(CommandTable.OUTPUT);
        if (output == null) {
            throw new OptionException(ExitStatus.USAGE, "initramfs needs -o FILE");
        }
        byte[] busybox = BootFileException.read(Path.of(p.value(CommandTable.BUSYBOX)), "busybox");
        String initFile = p.value(CommandTable.INIT);
        byte[] init = initFile != null ? BootFileException.read(Path.of(initFile), "init") : bundled(LINUX_INIT_RESOURCE);
        if (init == null) {
            throw new OptionException(ExitStatus.FILE, "this build has no bundled /init: give --init FILE");
        }
        byte[] image = new Initramfs()
                .directory("bin", 0755).directory("dev", 0755).directory("proc", 0755).directory("sys", 0755)
                .charDevice("dev/console", 0600, 5, 1)
                .file("bin/busybox", 0755, busybox)
                .file("init", 0755, init)
                .toGzip();
        try {
            Files.write(Path.of(output), image);
        } catch (IOException e) {
            throw new OptionException(ExitStatus.FILE, "cannot write " + output + ": " + e.getMessage());
        }
        out.printf("wrote %s (%d bytes): busybox and %s /init%n", output, image.length, initFile != null ? initFile : "tscvm's");
        return 0;
    }

    /**
     * Boots the bundled demo kernel: the guest writes IA32_TSC_ADJUST and the TSC and explains
     * each number, while the host side sets its own TSC_ADJUST, writes the guest's TSC_ADJUST
     * as firmware would (R8) and makes a restore-style host write of the TSC first.
     */
    private int demo(CommandTable.Parsed p) {
        byte[] demo = demoKernel();
        if (demo == null) {
            out.println("(this build has no bundled demo kernel: showing the API demo instead)");
            ApiDemo.run(out);
            return 0;
        }
        String hostTscAdjust = p.value(CommandTable.HOST_TSC_ADJUST);
        if (hostTscAdjust.equals("0")) {
            hostTscAdjust = Long.toString(DEMO_HOST_TSC_ADJUST);
        }
        MachineConfig config = machine(p, hostTscAdjust).kernel("demo.elf", demo).build();
        out.printf("[host] the host clock carries its own IA32_TSC_ADJUST = %s: it moves every guest TSC,%n",
                hostTscAdjust);
        out.println("[host] but a guest's RDMSR 0x3b shows only the guest's own adjust.");
        int status = Launcher.boot(config, err, machine -> hostSide(machine, out), machine -> afterGuest(machine, out));
        out.printf("[host] the demo kernel exited with status %d (1 = every check passed)%n", status);
        // The demo succeeded when every check passed; the shell sees the usual 0 then.
        return status == 1 ? 0 : status;
    }

    private static void hostSide(Machine machine, PrintStream out) {
        Vcpu vcpu = machine.vm().vcpus().get(0);
        long tscBeforeAdjust = vcpu.getMsr(Msr.IA32_TSC);
        vcpu.setMsr(Msr.IA32_TSC_ADJUST, DEMO_FIRMWARE_TSC_ADJUST);
        out.printf("[host] firmware-style host write: TSC_ADJUST = %d; the TSC does not move (R8): %d -> %d%n",
                DEMO_FIRMWARE_TSC_ADJUST, tscBeforeAdjust, vcpu.getMsr(Msr.IA32_TSC));
        long adjustBefore = vcpu.getMsr(Msr.IA32_TSC_ADJUST);
        vcpu.setMsr(Msr.IA32_TSC, DEMO_HOST_TSC_WRITE);
        out.printf("[host] restore-style host write: TSC = %d (as a snapshot restore would set it)%n",
                DEMO_HOST_TSC_WRITE);
        out.printf("[host] guest TSC now %d; TSC_ADJUST stays %d (a host write never moves it, R9)%n",
                vcpu.getMsr(Msr.IA32_TSC), vcpu.getMsr(Msr.IA32_TSC_ADJUST));
        if (adjustBefore != vcpu.getMsr(Msr.IA32_TSC_ADJUST)) {
            out.println("[host] (unexpected: the host write moved TSC_ADJUST)");
        }
        out.println("[host] booting the demo kernel; its lines follow:");
    }

    /** The founding commit's point, read from the host side once the guest has run (R1, R7, R24). */
    private static void afterGuest(Machine machine, PrintStream out) {
        Vcpu vcpu = machine.vm().vcpus().get(0);
        VmClock clock = machine.vm().getClock();
        long offset = vcpu.getTscOffset();
        out.printf("[host] after the guest ran, at one instant: host TSC = %d (it includes the host's own adjust, %d)%n",
                clock.hostTsc(), machine.vm().clock().tscAdjust());
        out.printf("[host] vCPU 0's TSC offset = %d: the restore-style write and every guest TSC/TSC_ADJUST%n", offset);
        out.println("[host]   write are folded into this one offset (R24), so RDTSC, RDTSCP and RDMSR 0x10 all see them");
        out.printf("[host] guest TSC = host TSC + offset = %d (the vCPU reads %d)%n",
                clock.hostTsc() + offset, clock.guestTsc(0));
        out.printf("[host] host read of the guest's IA32_TSC_ADJUST = %d: only the guest's own adjust (R7);%n",
                vcpu.getMsr(Msr.IA32_TSC_ADJUST));
        out.println("[host]   the host's adjust is hidden inside the host TSC, as on KVM");
    }

    /** The bundled demo kernel's bytes, or null when the jar was built without it. */
    static byte[] demoKernel() {
        return bundled(DEMO_RESOURCE);
    }

    /** A file packed into the jar by the build, or null when this build has none. */
    private static byte[] bundled(String resource) {
        try (InputStream in = Main.class.getResourceAsStream(resource)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            return null;
        }
    }
}

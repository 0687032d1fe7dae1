package org.tscvm.cli;

import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.tscvm.TscvmException;
import org.tscvm.Version;
import org.tscvm.devices.Pit8254;
import org.tscvm.log.DebugLog;
import org.tscvm.machine.MachineConfig;
import org.tscvm.machine.SerialTarget;
import org.tscvm.trace.TraceConfig;
import org.tscvm.vm.CpuidModel;

/**
 * {@code bin/tscvm-qemu}: a QEMU-shaped front end that kvm-unit-tests' runner can use in place
 * of {@code qemu-system-x86_64} (QEMU=bin/tscvm-qemu ./run_tests.sh). It understands the
 * command line that {@code x86/run} builds and probes; options it cannot honour are refused
 * with one line and status 18, harmless ones are accepted and ignored ({@link #HARMLESS}).
 *
 * <p>Anything printed on stderr during a run contains "warning": kvm-unit-tests counts any
 * other stderr line as a QEMU failure.
 */
public final class QemuMain {
    static final String VERSION_LINE = "tscvm (QEMU-compatible) version " + Version.VERSION;

    /** Options accepted and ignored because they change nothing tscvm does (documented in --help). */
    static final String HARMLESS = String.join("\n",
            "  -nodefaults, -display none, -vnc none, -nographic,",
            "  -monitor none, -name NAME, -machine pc,",
            "  -machine kernel_irqchip=..., pit=..., hpet=... (tscvm's PC is fixed),",
            "  -device pci-testdev (tscvm's PCI bus has the host bridge alone; a warning is printed),",
            "  -overcommit mem-lock=off,cpu-pm=off (tscvm neither locks guest RAM nor passes power",
            "  management through; mem-lock=on|on-fault and cpu-pm=on are refused)");

    private QemuMain() {
    }

    public static void main(String[] args) {
        int status;
        try (RawTerminal terminal = RawTerminal.enterIfInteractive()) {
            status = execute(args, Launcher.interruptibleStdin(), System.out, System.err);
        }
        System.exit(status);
    }

    static String help() {
        return VERSION_LINE + "\n"
                + "usage: tscvm-qemu [options] -kernel FILE\n"
                + "A QEMU-compatible front end to tscvm for kvm-unit-tests style kernels and Linux.\n"
                + "\n"
                + "Options tscvm honours:\n"
                + "  -kernel FILE          Linux bzImage, Linux vmlinux with the PVH note, or multiboot kernel\n"
                + "  -append ARGS          kernel command line\n"
                + "  -initrd FILE[,FILE]   Linux initrd (files concatenated) or multiboot modules\n"
                + "  -smp [cpus=]N[,sockets=S][,cores=C]  vCPUs, and the sockets they form\n"
                + "  -m SIZE               RAM (128, 512M, 1G)\n"
                + "  -cpu MODEL[,+f,-f]    qemu64/kvm64/... map to tscvm, max/host to max; unknown +features warn;\n"
                + "                        vendor=GenuineIntel|AuthenticAMD sets the CPUID vendor; kvmclock and\n"
                + "                        kvmclock-stable-bit give the guest KVM's signature and kvmclock\n"
                + "  -enable-kvm, -machine accel=tcg|kvm, -accel tcg|kvm  tscvm runs both alike, but under kvm\n"
                + "                        every CPU model starts with QEMU's KVM defaults (kvmclock, kvmclock-stable-bit)\n"
                + "  -machine vmport=on|off  the VMware backdoor (port 0x5658 and its pseudo-PMCs, as KVM's\n"
                + "                        enable_vmware_backdoor); off by default\n"
                + "  -serial stdio|file:PATH|none|null\n"
                + "  -device isa-debug-exit,iobase=0xf4,iosize=0x4 | pc-testdev\n"
                + "  -global kvm-pit.lost_tick_policy=delay|discard  the PIT's lost ticks: delivered late (default) or dropped\n"
                + "  -no-reboot            a guest reset ends the run with status 0 (without it: a reboot)\n"
                + "  --tsc-adjust VCPU=VALUE  host-initiated IA32_TSC_ADJUST write before the run (tscvm's own)\n"
                + "  --tsc-warp VCPU=CYCLES   host-initiated TSC write, that vCPU CYCLES from the others (tscvm's own)\n"
                + "  -s                    gdb server on tcp::1234 (127.0.0.1)\n"
                + "  -gdb tcp:[HOST]:PORT  gdb server on HOST:PORT (port 0: any free port, printed on stderr)\n"
                + "  -S                    do not start the vCPUs until the debugger or the monitor continues\n"
                + "  -qmp unix:PATH,server=on[,wait=off] | tcp:[HOST]:PORT,server=on[,wait=off]\n"
                + "                        a QMP monitor (QEMU's protocol; see README's command table)\n"
                + "  -qmp-pretty SPEC      as -qmp, with indented JSON\n"
                + "  -chardev socket,id=ID,path=PATH|host=H,port=N,server=on[,wait=off]\n"
                + "  -mon chardev=ID,mode=control[,pretty=on]  the same monitor in QEMU's long form\n"
                + "  -incoming tcp:[HOST]:PORT|file:PATH|exec:CMD|defer  wait for a migration's state (needs -qmp)\n"
                + "  -d LIST               log to stderr: " + DebugLog.known() + " (comma-separated), all, or help\n"
                + "  --tscvm-trace FILE    write guest-visible time events as Perfetto trace-event JSON (tscvm's own;\n"
                + "                        QEMU's -trace is a different thing and is refused)\n"
                + "  --tscvm-trace-kinds LIST  the events to record: all or " + TraceConfig.known() + "\n"
                + "\n"
                + "Accepted and ignored (harmless):\n"
                + HARMLESS + "\n"
                + "\n"
                + "Anything else is refused with exit status 18.\n";
    }

    static String deviceList() {
        return "Misc devices:\n"
                + "name \"isa-debug-exit\", bus ISA\n"
                + "name \"pc-testdev\", bus ISA\n";
    }

    /** Parses and runs; returns the exit status. The guest's console reads nothing. */
    public static int execute(String[] args, PrintStream out, PrintStream err) {
        return execute(args, InputStream.nullInputStream(), out, err);
    }

    /** Parses and runs with {@code in} and {@code out} as the guest's console; returns the exit status. */
    public static int execute(String[] args, InputStream in, PrintStream out, PrintStream err) {
        try {
            return run(args, new SerialTarget.Stdio(in, out), out, err);
        } catch (RuntimeException e) {
            return Launcher.reportError(e, err);
        }
    }

    private static int run(String[] rawArgs, SerialTarget.Stdio console, PrintStream out, PrintStream err) {
        if (rawArgs.length == 0) {
            err.println("tscvm: no -kernel given (see tscvm-qemu --help)");
            return ExitStatus.USAGE;
        }
        MachineConfig.Builder b = MachineConfig.builder().serial(console);
        Path kernel = null;
        List<Path> initrds = new ArrayList<>();
        List<MachineConfig.VcpuValue> tscAdjusts = new ArrayList<>();
        List<MachineConfig.VcpuValue> tscWarps = new ArrayList<>();
        boolean testdev = false;
        boolean gdbDefault = false;
        boolean waitForGdb = false;
        String gdb = null;
        String qmp = null;
        String qmpPretty = null;
        String incoming = null;
        java.util.Map<String, String> chardevs = new java.util.HashMap<>();
        String monChardev = null;
        boolean monPretty = false;
        String cpu = "qemu64";
        boolean kvm = false;
        String traceFile = null;
        String traceKinds = null;
        String logTopics = null;
        List<String> ignored = new ArrayList<>();
        for (int i = 0; i < rawArgs.length; i++) {
            String arg = rawArgs[i];
            // QEMU takes -opt and --opt alike.
            String opt = arg.startsWith("--") && arg.length() > 2 ? arg.substring(1) : arg;
            switch (opt) {
                case "-h", "-help" -> {
                    out.print(help());
                    return 0;
                }
                case "-version" -> {
                    out.println(VERSION_LINE);
                    return 0;
                }
                case "-no-reboot" -> b.noReboot(true);
                case "-nodefaults", "-nographic" -> {
                    // Harmless: tscvm has no default devices to drop and no display.
                    ignored.add(arg);
                }
                case "-enable-kvm" -> kvm = true;
                case "-s" -> gdbDefault = true;
                case "-S" -> waitForGdb = true;
                default -> {
                    if (!opt.startsWith("-")) {
                        throw refuse("unexpected argument '" + arg + "' (QEMU takes options only)");
                    }
                    if (i + 1 >= rawArgs.length) {
                        throw new OptionException(ExitStatus.USAGE, "option " + arg + " needs a value");
                    }
                    String value = rawArgs[++i];
                    switch (opt) {
                        case "-kernel" -> kernel = Path.of(value);
                        case "-append" -> b.append(value);
                        case "-initrd" -> {
                            for (String f : value.split(",")) {
                                if (!f.isBlank()) {
                                    initrds.add(Path.of(f.trim()));
                                }
                            }
                        }
                        case "-smp" -> Launcher.parseSmp(value).applyTo(b);
                        case "--tsc-adjust" -> tscAdjusts.add(Launcher.parseVcpuValue(opt, value));
                        case "--tsc-warp" -> tscWarps.add(Launcher.parseVcpuValue(opt, value));
                        case "-m" -> b.ramBytes(Launcher.parseMemory(value));
                        case "-tscvm-trace" -> traceFile = value;
                        case "-tscvm-trace-kinds" -> traceKinds = value;
                        case "-d" -> {
                            if (value.equals("help")) {
                                out.print(DebugLog.help());
                                return 0;
                            }
                            logTopics = value;
                        }
                        case "-gdb" -> gdb = value;
                        case "-qmp" -> qmp = value;
                        case "-qmp-pretty" -> qmpPretty = value;
                        case "-incoming" -> incoming = value;
                        case "-chardev" -> {
                            String[] cd = chardev(value);
                            chardevs.put(cd[0], cd[1]);
                        }
                        case "-mon" -> {
                            if (monChardev != null) {
                                throw refuse("-mon " + value + ": tscvm runs one monitor");
                            }
                            String[] mon = mon(value);
                            monChardev = mon[0];
                            monPretty = mon[1] != null;
                        }
                        case "-cpu" -> cpu = value;
                        case "-serial" -> b.serial(parseSerial(value, console));
                        case "-device" -> {
                            if (value.equals("?") || value.equals("help")) {
                                out.print(deviceList());
                                return 0;
                            }
                            testdev |= device(value, err);
                        }
                        case "-machine", "-M" -> kvm = machine(value, kvm, b);
                        case "-accel" -> kvm = accel(value);
                        case "-global" -> b.pitLostTicks(pitLostTicks(value));
                        case "-display", "-vnc", "-monitor" -> {
                            if (!value.equals("none")) {
                                throw refuse(opt + " " + value + " is not supported: tscvm has no display or monitor");
                            }
                            ignored.add(arg + " " + value);
                        }
                        case "-name" -> {
                            // A label for the VM; tscvm shows none.
                            ignored.add(arg + " " + value);
                        }
                        case "-overcommit" -> overcommit(value);
                        default -> throw refuse("option " + arg + " is not supported by tscvm");
                    }
                }
            }
        }
        if (kernel == null) {
            err.println("tscvm: no -kernel given (see tscvm-qemu --help)");
            return ExitStatus.USAGE;
        }
        if (monChardev != null) {
            String spec = chardevs.get(monChardev);
            if (spec == null) {
                throw refuse("-mon chardev=" + monChardev + ": no -chardev with id=" + monChardev);
            }
            if (qmp != null || qmpPretty != null) {
                throw refuse("-mon and -qmp: tscvm runs one monitor");
            }
            if (monPretty) {
                qmpPretty = spec;
            } else {
                qmp = spec;
            }
        }
        Launcher.applyServers(b, gdbDefault, gdb, waitForGdb, qmp, qmpPretty, incoming);
        b.cpuModel(mapCpu(cpu, kvm, err));
        MachineConfig config = b.kernel(kernel).initrds(initrds).pcTestdev(testdev)
                .tscAdjusts(tscAdjusts).tscWarps(tscWarps)
                .trace(Launcher.parseTrace("--tscvm-trace", traceFile, "--tscvm-trace-kinds", traceKinds)).build();
        DebugLog.configure(logTopics == null ? Set.of() : Main.parseLogTopics(logTopics), err);
        try {
            for (String option : ignored) {
                DebugLog.Topic.OPTIONS.log("ignored " + option + ": it changes nothing tscvm does");
            }
            return Launcher.boot(config, err, m -> { });
        } finally {
            DebugLog.configure(Set.of(), err);
        }
    }

    /**
     * {@code -chardev socket,id=ID,path=PATH|host=H,port=N,server=on[,wait=off]}: its id and
     * the -qmp spelling of the same socket (the only chardev tscvm has is a monitor's).
     */
    private static String[] chardev(String spec) {
        String[] parts = spec.split(",");
        if (!parts[0].equals("socket")) {
            throw refuse("-chardev " + spec + ": tscvm takes socket chardevs only (for -mon)");
        }
        String id = null, path = null, host = "", port = null;
        StringBuilder options = new StringBuilder();
        for (int i = 1; i < parts.length; i++) {
            String p = parts[i];
            if (p.startsWith("id=")) {
                id = p.substring(3);
            } else if (p.startsWith("path=")) {
                path = p.substring(5);
            } else if (p.startsWith("host=")) {
                host = p.substring(5);
            } else if (p.startsWith("port=")) {
                port = p.substring(5);
            } else {
                options.append(',').append(p); // server=, wait=: QmpAddress checks them
            }
        }
        if (id == null || (path == null) == (port == null)) {
            throw refuse("-chardev " + spec + ": give id= and either path= or port=");
        }
        return new String[] {id, (path != null ? "unix:" + path : "tcp:" + host + ":" + port) + options};
    }

    /** {@code -mon chardev=ID[,mode=control][,pretty=on|off]}: the chardev, and non-null when pretty. */
    private static String[] mon(String spec) {
        String chardev = null;
        String pretty = null;
        boolean control = false;
        for (String p : spec.split(",")) {
            if (p.startsWith("chardev=")) {
                chardev = p.substring(8);
            } else if (p.equals("pretty=on")) {
                pretty = "on";
            } else if (p.equals("mode=control")) {
                control = true;
            } else if (!p.equals("pretty=off")) {
                throw refuse("-mon " + spec + ": tscvm's monitor is QMP (mode=control), not '" + p + "'");
            }
        }
        if (chardev == null || !control) {
            // QEMU's default mode is readline (HMP), which tscvm does not have.
            throw refuse("-mon " + spec + ": give chardev=ID,mode=control (tscvm's monitor speaks QMP)");
        }
        return new String[] {chardev, pretty};
    }

    /** {@code -global kvm-pit.lost_tick_policy=delay|discard}: the only global tscvm has. */
    private static Pit8254.LostTicks pitLostTicks(String value) {
        switch (value) {
            case "kvm-pit.lost_tick_policy=delay":
                return Pit8254.LostTicks.DELAY;
            case "kvm-pit.lost_tick_policy=discard":
                return Pit8254.LostTicks.DISCARD;
            default:
                throw refuse("-global " + value + " is not supported (only kvm-pit.lost_tick_policy=delay|discard)");
        }
    }

    private static OptionException refuse(String message) {
        return new OptionException(ExitStatus.OPTION_VALUE, message);
    }

    private static SerialTarget parseSerial(String value, SerialTarget.Stdio console) {
        if (value.equals("mon:stdio")) {
            return console;
        }
        try {
            return SerialTarget.parse(value, console);
        } catch (TscvmException e) {
            throw refuse(e.getMessage());
        }
    }

    /** Returns true for pc-testdev; accepts isa-debug-exit only where tscvm has it. */
    private static boolean device(String spec, PrintStream err) {
        String[] parts = spec.split(",");
        switch (parts[0]) {
            case "isa-debug-exit" -> {
                for (int i = 1; i < parts.length; i++) {
                    String p = parts[i].toLowerCase(Locale.ROOT);
                    if (p.startsWith("iobase=") && parseInt(p.substring(7)) != 0xf4
                            || p.startsWith("iosize=") && parseInt(p.substring(7)) != 4) {
                        throw refuse("-device " + spec + ": tscvm's isa-debug-exit sits at iobase=0xf4,iosize=0x4 only");
                    }
                }
                return false;
            }
            case "pc-testdev" -> {
                return true;
            }
            case "pci-testdev" -> {
                err.println("tscvm: warning: -device pci-testdev ignored: tscvm's PCI bus has the host bridge alone");
                return false;
            }
            default -> throw refuse("-device " + parts[0] + " is not a tscvm device (see -device help)");
        }
    }

    private static int parseInt(String text) {
        try {
            return text.startsWith("0x") ? Integer.parseInt(text.substring(2), 16) : Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw refuse("'" + text + "' is not a number");
        }
    }

    /**
     * {@code -machine}; returns whether KVM is the accelerator now ({@code kvm} if no accel= is
     * given). {@code vmport=on} turns the VMware backdoor on ({@code off} and QEMU's default
     * {@code auto}, which is off under KVM, leave it off).
     */
    private static boolean machine(String spec, boolean kvm, MachineConfig.Builder b) {
        boolean accelKvm = kvm;
        for (String part : spec.split(",")) {
            if (part.startsWith("vmport=")) {
                String v = part.substring("vmport=".length());
                if (!v.equals("on") && !v.equals("off") && !v.equals("auto")) {
                    throw refuse("-machine " + part + ": vmport takes on, off or auto");
                }
                b.vmwareBackdoor(v.equals("on"));
                continue;
            }
            // The irqchip split and the PIT/HPET switches change nothing tscvm models.
            if (part.equals("pc") || part.equals("type=pc") || part.startsWith("accel=")
                    || part.startsWith("kernel_irqchip=") || part.startsWith("kernel-irqchip=")
                    || part.startsWith("pit=") || part.startsWith("hpet=")) {
                if (part.startsWith("accel=")) {
                    accelKvm = accel(part.substring(6));
                }
                continue;
            }
            throw refuse("-machine " + part + " is not supported: tscvm is a pc with tcg- or kvm-like timing");
        }
        return accelKvm;
    }

    /** {@code -overcommit}: only the settings that are QEMU's defaults, and what tscvm does anyway. */
    private static void overcommit(String spec) {
        for (String part : spec.split(",")) {
            if (!part.equals("mem-lock=off") && !part.equals("cpu-pm=off")) {
                throw refuse("-overcommit " + part + " is not supported (only mem-lock=off and cpu-pm=off:"
                        + " tscvm does not lock guest RAM or pass power management through)");
            }
        }
    }

    /**
     * {@code -accel} or {@code accel=}: tscvm runs tcg and kvm alike, but takes the first of the
     * list as QEMU would, since KVM changes the default CPU (see {@link #mapCpu}). Returns
     * whether it is kvm.
     */
    private static boolean accel(String value) {
        String a = value.split(",")[0];
        for (String choice : a.split(":")) {
            if (choice.equals("tcg") || choice.equals("kvm")) {
                return choice.equals("kvm");
            }
        }
        throw refuse("-accel " + value + " is not supported (tcg or kvm)");
    }

    /**
     * QEMU CPU models to tscvm's: max and host become max, every other named model becomes
     * tscvm; features use QEMU's spellings (tsc_adjust = tsc-adjust, f=on/off = +f/-f);
     * {@code vendor=GenuineIntel|AuthenticAMD} sets the vendor. A requested feature tscvm lacks
     * gives a warning, as QEMU TCG warns. Under KVM ({@code kvm}), QEMU gives every CPU model its
     * KVM defaults first (kvm_default_props), kvmclock and kvmclock-stable-bit among them, which
     * the model's own edits may then switch off; QEMU's TCG offers neither.
     */
    static String mapCpu(String spec, boolean kvm, PrintStream err) {
        String[] parts = spec.split(",");
        String base = parts[0].equals("max") || parts[0].equals("host") ? "max" : "tscvm";
        StringBuilder model = new StringBuilder(base);
        if (kvm) {
            model.append(",+kvmclock,+kvmclock-stable-bit");
        }
        for (int i = 1; i < parts.length; i++) {
            String p = parts[i].trim().replace('_', '-');
            if (parts[i].trim().startsWith("vendor=")) {
                String vendor = parts[i].trim();
                try {
                    CpuidModel.parse(base + "," + vendor);
                    model.append(',').append(vendor);
                } catch (TscvmException e) {
                    err.println("tscvm: warning: CPU property " + parts[i] + " ignored: " + e.getMessage());
                }
                continue;
            }
            boolean on;
            String name;
            if (p.startsWith("+") || p.startsWith("-")) {
                on = p.charAt(0) == '+';
                name = p.substring(1);
            } else if (p.endsWith("=on") || p.endsWith("=off")) {
                on = p.endsWith("=on");
                name = p.substring(0, p.lastIndexOf('='));
            } else if (!p.contains("=")) {
                on = true;
                name = p;
            } else {
                err.println("tscvm: warning: CPU property " + parts[i] + " ignored");
                continue;
            }
            try {
                CpuidModel.parse(base + "," + (on ? "+" : "-") + name);
                model.append(',').append(on ? '+' : '-').append(name);
            } catch (TscvmException e) {
                if (on) {
                    err.println("tscvm: warning: CPU feature " + name + " is not available in tscvm; ignored");
                }
            }
        }
        return model.toString();
    }
}

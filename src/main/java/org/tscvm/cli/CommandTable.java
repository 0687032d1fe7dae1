package org.tscvm.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.tscvm.Version;
import org.tscvm.log.DebugLog;
import org.tscvm.trace.TraceConfig;
import org.tscvm.reverse.ExecutionHistory;
import org.tscvm.tsc.HostClock;
import org.tscvm.vm.VmConfig;

/**
 * tscvm's command line, defined once: every subcommand and option with its label, default and
 * help text. Two readers use this table and nothing else: {@link #parsePlain}, which takes the
 * plain form a script writes ({@code run -kernel K -m 256M}) without loading picocli (picocli's
 * classes predate Java 6, so no class-data archive can hold them, and loading them costs more
 * than the rest of a start-up), and {@link PicocliFront}, which builds picocli's model from the
 * table for help, version, errors and every other form picocli accepts.
 */
final class CommandTable {
    private CommandTable() {
    }

    /**
     * One option: {@code NAME VALUE}, or a flag {@code NAME} when it has no {@code paramLabel}
     * (its value is then "true" when given); a repeatable one collects every value given.
     */
    record Option(String name, String paramLabel, String defaultValue, boolean repeatable, String description) {
        static Option flag(String name, String description) {
            return new Option(name, null, null, false, description);
        }

        /** A positional parameter: named by its label, given without an option name. */
        static Option positional(String label, String description) {
            return new Option(label, label, null, false, description);
        }

        boolean isPositional() {
            return !name.startsWith("-");
        }

        boolean isFlag() {
            return paramLabel == null;
        }
    }

    record Subcommand(String name, List<String> description, List<Option> options) {
        /** The positional parameter, or null. */
        Option positional() {
            for (Option o : options) {
                if (o.isPositional()) {
                    return o;
                }
            }
            return null;
        }

        /** The option called {@code name}, or null. */
        Option option(String name) {
            for (Option o : options) {
                if (o.name().equals(name)) {
                    return o;
                }
            }
            return null;
        }
    }

    static final String SMP = "-smp";
    static final String MEMORY = "-m";
    static final String CPU = "-cpu";
    static final String SERIAL = "-serial";
    static final String TSC_KHZ = "--tsc-khz";
    static final String HOST_KHZ = "--host-khz";
    static final String HOST_TSC_ADJUST = "--host-tsc-adjust";
    static final String CLOCK = "--clock";
    static final String MSR_POLICY = "--msr-policy";
    static final String HOST_TSC = "--host-tsc";
    static final String TIMEOUT = "--timeout";
    static final String JIT_THRESHOLD = "--jit-threshold";
    static final String VMPORT = "--vmport";
    static final String KERNEL = "-kernel";
    static final String APPEND = "-append";
    static final String INITRD = "-initrd";
    static final String FLAT = "--flat";
    static final String TSC_ADJUST = "--tsc-adjust";
    static final String TSC_WARP = "--tsc-warp";
    static final String GDB_DEFAULT = "-s";
    static final String GDB = "-gdb";
    static final String WAIT_FOR_GDB = "-S";
    static final String REVERSE_INTERVAL = "--reverse-interval";
    static final String QMP = "-qmp";
    static final String QMP_PRETTY = "-qmp-pretty";
    static final String INCOMING = "-incoming";
    static final String RESTORE = "--restore";
    static final String RESTORE_TIME = "--restore-time";
    static final String TRACE = "--trace";
    static final String TRACE_KINDS = "--trace-kinds";
    static final String DEBUG_LOG = "-d";
    static final String RECORD = "--record";
    static final String REPLAY = "--replay";

    /** The options of run and demo: the machine around the kernel. */
    private static final List<Option> MACHINE_OPTIONS = List.of(
            new Option(SMP, "N[,sockets=S]", "1", false,
                    "number of vCPUs (default 1) and the sockets (CPUID packages) they form; APs wait for INIT/SIPI"),
            new Option(MEMORY, "SIZE", "128", false, "guest RAM, QEMU style: 128, 512M, 1G (default 128 MiB)"),
            new Option(CPU, "MODEL[,+feat,-feat]", "tscvm", false,
                    "CPUID model (tscvm or max) with features switched on/off and vendor=GenuineIntel|AuthenticAMD,"
                            + " e.g. tscvm,-tsc-adjust,+rdpid"),
            new Option(SERIAL, "stdio|file:PATH|none", "stdio", false, "where COM1 goes (default stdio)"),
            new Option(TSC_KHZ, "N", "0", false, "the vCPUs' TSC frequency in kHz (default: the host clock's)"),
            new Option(HOST_KHZ, "N", Long.toString(HostClock.DEFAULT_KHZ), false,
                    "the host clock's nominal frequency in kHz (default " + HostClock.DEFAULT_KHZ + ")"),
            new Option(HOST_TSC_ADJUST, "N", "0", false,
                    "the host's own IA32_TSC_ADJUST: guests see it in RDTSC, never in RDMSR 0x3b"),
            new Option(CLOCK, "real|deterministic", "real", false,
                    "host clock: real time, or instructions retired so runs repeat exactly (default real)"),
            new Option(MSR_POLICY, "kvm|strict", "kvm", false,
                    "guest access to MSR 0x3b without CPUID.7.0:EBX[1]: kvm ignores it, strict raises #GP"),
            new Option(HOST_TSC, "stable|unstable", "stable", false,
                    "unstable takes KVM's branches for an unstable host TSC: host TSC writes caught up by the time"
                            + " elapsed, the guest TSC resumed and caught up at each vCPU load, no kvmclock master"
                            + " clock (default stable)"),
            new Option(TIMEOUT, "SECONDS", null, false, "end the run with status 20 after this long"),
            new Option(TSC_ADJUST, "VCPU=VALUE", null, true,
                    "before the run, a host-initiated write of that vCPU's IA32_TSC_ADJUST, as firmware leaves it"),
            new Option(TSC_WARP, "VCPU=CYCLES", null, true,
                    "before the run, a host-initiated TSC write putting that vCPU CYCLES away from the others"),
            new Option(JIT_THRESHOLD, "N", Integer.toString(VmConfig.DEFAULT_COMPILE_THRESHOLD), false,
                    "runs of a block before it is compiled to JVM bytecode; 0 interprets only (default "
                            + VmConfig.DEFAULT_COMPILE_THRESHOLD + ")"),
            Option.flag(VMPORT, "the VMware backdoor: port 0x5658 and RDPMC's pseudo-PMCs at any CPL"
                    + " (QEMU's -machine vmport=on, KVM's enable_vmware_backdoor)"),
            Option.flag(GDB_DEFAULT, "a gdb server on tcp::1234 (127.0.0.1), as -gdb tcp::1234"),
            new Option(GDB, "tcp:[HOST]:PORT", null, false,
                    "a gdb server on HOST (default 127.0.0.1) and PORT (0: any free port, printed on stderr)"),
            Option.flag(WAIT_FOR_GDB,
                    "do not start the vCPUs until the debugger or the monitor continues (needs -s, -gdb or -qmp)"),
            new Option(REVERSE_INTERVAL, "N", null, false,
                    "instructions between the checkpoints gdb's reverse execution replays from (needs -s or -gdb,"
                            + " --clock deterministic and one vCPU; default " + ExecutionHistory.DEFAULT_INTERVAL + ")"),
            new Option(QMP, "unix:PATH|tcp:[HOST]:PORT,server=on[,wait=off]", null, false,
                    "a QMP monitor on a Unix socket or TCP port (wait=on, the default, starts the guest once a"
                            + " client connects)"),
            new Option(QMP_PRETTY, "unix:PATH|tcp:[HOST]:PORT,server=on[,wait=off]", null, false,
                    "as -qmp, with indented JSON replies"),
            new Option(INCOMING, "tcp:[HOST]:PORT|file:PATH|exec:CMD|defer", null, false,
                    "wait for the machine's state from a migration source (defer: QMP's migrate-incoming names it);"
                            + " needs -qmp"),
            // Tracing and debug logging (org.tscvm.trace, org.tscvm.log).
            new Option(TRACE, "FILE", null, false,
                    "write guest-visible time events to FILE as Chrome/Perfetto trace-event JSON (one track per vCPU)"),
            new Option(TRACE_KINDS, "LIST", "all", false,
                    "the events --trace records: all, or a comma-separated list of " + TraceConfig.known()),
            new Option(DEBUG_LOG, "LIST", null, false,
                    "log to stderr, QEMU -d style: " + DebugLog.known() + " (comma-separated), all, or help"));

    static final Subcommand RUN = new Subcommand("run",
            List.of("Boot a kernel and run it until it exits: a Linux bzImage (vmlinuz), a Linux",
                    "ELF with the PVH note (vmlinux), or a multiboot kernel (ELF32, ELF64, a.out).",
                    "Without -kernel, runs the bundled demo kernel."),
            concat(MACHINE_OPTIONS, List.of(
                    new Option(KERNEL, "FILE", null, false, "the kernel to boot"),
                    new Option(APPEND, "ARGS", "", false,
                            "the kernel command line (multiboot: after the kernel's name, as QEMU)"),
                    new Option(INITRD, "FILE", null, true,
                            "Linux's initrd (several are concatenated) or a multiboot module; repeat or "
                                    + "separate with commas"),
                    new Option(FLAT, "LOAD[,ENTRY]", null, false,
                            "treat -kernel as a raw image loaded at LOAD and started at ENTRY (default LOAD)"),
                    new Option(RESTORE, "FILE", null, false,
                            "continue the machine saved in the snapshot FILE (the other options must describe the"
                                    + " same machine: -m, -smp, -cpu, --msr-policy)"),
                    new Option(RESTORE_TIME, "wall|paused", null, false,
                            "guest time across --restore: the wall-clock downtime passes (default on the real"
                                    + " clock), or none, as if paused (default on the deterministic clock)"),
                    new Option(RECORD, "FILE", null, false,
                            "log COM1's input and the run's final state digest to FILE (needs --clock deterministic)"),
                    new Option(REPLAY, "FILE", null, false,
                            "run again with the input logged in FILE (stdin is not read); stop with status 38 where"
                                    + " the run diverges from the recording"))));

    static final Subcommand DEMO = new Subcommand("demo",
            List.of("Boot the bundled demo kernel: the guest writes IA32_TSC_ADJUST and the TSC and",
                    "explains each number, while the host side sets its own TSC_ADJUST, writes the",
                    "guest's TSC_ADJUST as firmware would and makes a restore-style host write of the",
                    "TSC first."),
            MACHINE_OPTIONS);

    static final Subcommand CPUID = new Subcommand("cpuid",
            List.of("Print the CPUID model a guest would see: vendor, leaves and every feature bit."),
            List.of(new Option(CPU, "MODEL[,+feat,-feat]", "tscvm", false, "the model to print (default tscvm)")));

    static final String BUSYBOX = "--busybox";
    static final String INIT = "--init";
    static final String OUTPUT = "-o";

    static final Subcommand INITRAMFS = new Subcommand("initramfs",
            List.of("Write a Linux initramfs (gzip'd cpio) holding busybox and tscvm's /init, which reports",
                    "CPUs, clocksource and the TSC lines of dmesg, then powers off (or, with",
                    "tscvm_mode=shell on the kernel command line, gives a shell on the console)."),
            List.of(new Option(BUSYBOX, "FILE", "/bin/busybox", false,
                            "a static busybox (Debian: apt-get install busybox-static; default /bin/busybox)"),
                    new Option(INIT, "FILE", null, false, "an /init of your own instead of tscvm's"),
                    new Option(OUTPUT, "FILE", null, false, "where to write the initramfs (required)")));

    static final String TRACE_FILE = "TRACE";

    static final Subcommand PLOT = new Subcommand("plot",
            List.of("Draw a trace written by --trace as an SVG picture: the guest TSC of each vCPU",
                    "against host time, marking TSC_ADJUST and TSC writes, generation changes and restores."),
            List.of(Option.positional(TRACE_FILE, "the trace file (JSON) to draw"),
                    new Option(OUTPUT, "FILE", null, false, "where to write the SVG (required)")));

    static final List<Subcommand> SUBCOMMANDS = List.of(RUN, DEMO, CPUID, INITRAMFS, PLOT);

    static final String NAME = "tscvm";
    static final String VERSION_LINE = NAME + " " + Version.VERSION;
    static final List<String> DESCRIPTION = List.of(
            "An x86-64 virtual machine whose virtual CPUs keep time as Linux KVM does.",
            "Exit status: the guest's (isa-debug-exit: (v << 1) | 1; \"Shutdown\" on port 0x8900: 0),",
            "4 triple fault, 6 halted forever, 8 internal error, 20 timeout, 24 killed by the debugger,",
            "36 an incoming migration that could not be loaded;",
            "host errors: 2 usage,",
            "10 missing or unreadable file, 12 bad kernel image, 14 bad -m, 16 bad -cpu, 18 other bad value,",
            "38 replay diverged, 40 corrupt replay log, 42 replay log of another machine.");

    /** The subcommand called {@code name}, or null. */
    static Subcommand subcommand(String name) {
        for (Subcommand s : SUBCOMMANDS) {
            if (s.name().equals(name)) {
                return s;
            }
        }
        return null;
    }

    /**
     * Parses the plain form {@code SUBCOMMAND [OPTION VALUE]...}: every option named exactly as in
     * the table, each at most once unless repeatable, no value starting with '-' (picocli decides
     * whether that is a value or a missing one), no {@code @file} argument (picocli expands
     * those). Returns null for anything else, which then goes to picocli: help, version,
     * {@code --opt=value}, attached values, errors. Within this form picocli reads the same.
     */
    static Parsed parsePlain(String[] args) {
        if (args.length == 0) {
            return null;
        }
        Subcommand command = subcommand(args[0]);
        if (command == null) {
            return null;
        }
        Parsed parsed = new Parsed(command);
        for (int i = 1; i < args.length; i += 2) {
            Option positional = command.positional();
            if (positional != null && !args[i].startsWith("-") && !args[i].startsWith("@")
                    && !parsed.isGiven(positional.name())) {
                parsed.add(positional.name(), args[i]);
                i--; // a positional parameter is one word
                continue;
            }
            Option option = command.option(args[i]);
            if (option != null && option.isFlag()) {
                if (parsed.isGiven(option.name())) {
                    return null;
                }
                parsed.add(option.name(), "true");
                i--; // a flag takes no value
                continue;
            }
            if (option == null || i + 1 == args.length) {
                return null;
            }
            String value = args[i + 1];
            if (value.startsWith("-") || value.startsWith("@")
                    || (!option.repeatable() && parsed.isGiven(option.name()))) {
                return null;
            }
            parsed.add(option.name(), value);
        }
        return parsed;
    }

    /** One invocation: its subcommand and the values given for its options, in order. */
    static final class Parsed {
        private final Subcommand command;
        private final Map<String, List<String>> given = new HashMap<>();

        Parsed(Subcommand command) {
            this.command = command;
        }

        Subcommand command() {
            return command;
        }

        void add(String name, String value) {
            List<String> values = given.get(known(name).name());
            if (values == null) {
                values = new ArrayList<>();
                given.put(name, values);
            }
            values.add(value);
        }

        boolean isGiven(String name) {
            return given.containsKey(known(name).name());
        }

        /** The value given for {@code name}, or its default (null when it has none). */
        String value(String name) {
            List<String> values = given.get(known(name).name());
            return values == null ? known(name).defaultValue() : values.get(values.size() - 1);
        }

        /** Every value given for a repeatable option, in order. */
        List<String> values(String name) {
            return given.getOrDefault(known(name).name(), List.of());
        }

        private Option known(String name) {
            Option o = command.option(name);
            if (o == null) {
                throw new IllegalArgumentException(command.name() + " has no option " + name);
            }
            return o;
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Parsed p && p.command == command && p.given.equals(given);
        }

        @Override
        public int hashCode() {
            return Objects.hash(command.name(), given);
        }

        @Override
        public String toString() {
            return command.name() + " " + given;
        }
    }

    private static List<Option> concat(List<Option> a, List<Option> b) {
        List<Option> all = new ArrayList<>(a);
        all.addAll(b);
        return List.copyOf(all);
    }
}

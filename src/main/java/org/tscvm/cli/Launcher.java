package org.tscvm.cli;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Consumer;
import org.tscvm.TscvmException;
import org.tscvm.boot.BootFileException;
import org.tscvm.boot.KernelImageException;
import org.tscvm.machine.Machine;
import org.tscvm.machine.MachineConfig;
import org.tscvm.machine.MachineConfigException;
import org.tscvm.machine.RunResult;
import org.tscvm.memory.GuestMemory;
import org.tscvm.snapshot.SnapshotException;
import org.tscvm.trace.TraceConfig;
import org.tscvm.trace.TraceFileException;
import org.tscvm.vm.CpuidModel;

/**
 * What both front ends share: parsing values the way QEMU writes them, building the machine,
 * running it and turning every failure into one line on stderr and a distinct exit status.
 */
final class Launcher {
    private Launcher() {
    }

    /**
     * Parses a QEMU-style RAM size: a number, possibly with a fraction, with an optional suffix
     * B, K, M (the default), G or T (P and E parse, and are out of range), optionally after
     * {@code size=} and before {@code ,slots=...}. Refuses what tscvm cannot give the guest.
     */
    static long parseMemory(String text) {
        String t = text.trim();
        if (t.startsWith("size=")) {
            t = t.substring(5);
        }
        int comma = t.indexOf(',');
        if (comma >= 0) {
            t = t.substring(0, comma);
        }
        if (t.isEmpty()) {
            throw new OptionException(ExitStatus.MEMORY_SIZE, "-m needs a size, e.g. -m 128 or -m 1G");
        }
        char last = Character.toUpperCase(t.charAt(t.length() - 1));
        int shift = 20;
        String digits = t;
        if (Character.isLetter(last)) {
            digits = t.substring(0, t.length() - 1);
            shift = switch (last) {
                case 'B' -> 0;
                case 'K' -> 10;
                case 'M' -> 20;
                case 'G' -> 30;
                case 'T' -> 40;
                case 'P' -> 50;
                case 'E' -> 60;
                default -> throw new OptionException(ExitStatus.MEMORY_SIZE,
                        "-m " + text + ": unknown size suffix '" + last + "' (use K, M, G or T)");
            };
        }
        // The size in bytes (above MAX_BYTES: any value past it), and whether it is whole. Whole
        // digits, the common case, go without a regular expression or BigDecimal: loading and
        // running those in HotSpot's interpreter cost the empty kernel's start-up a few ms.
        long bytes;
        boolean whole = true;
        if (wholeDigits(digits)) {
            long n = Long.parseLong(digits);
            bytes = n > GuestMemory.MAX_BYTES >> shift ? GuestMemory.MAX_BYTES + 1 : n << shift;
        } else {
            // QEMU's sizes may have a fraction (-m 1.5G); digits and one point only, no sign or exponent.
            if (!digits.matches("[0-9]+(\\.[0-9]+)?|\\.[0-9]+")) {
                throw new OptionException(ExitStatus.MEMORY_SIZE, "-m " + text + " is not a size (e.g. -m 128, -m 1G)");
            }
            java.math.BigDecimal exact = new java.math.BigDecimal(digits).multiply(java.math.BigDecimal.valueOf(2).pow(shift));
            boolean tooLarge = exact.compareTo(java.math.BigDecimal.valueOf(GuestMemory.MAX_BYTES)) > 0;
            bytes = tooLarge ? GuestMemory.MAX_BYTES + 1 : exact.longValue(); // a fraction is cut off
            whole = exact.stripTrailingZeros().scale() <= 0;
        }
        if (bytes < GuestMemory.MIN_BYTES || bytes > GuestMemory.MAX_BYTES) {
            throw new OptionException(ExitStatus.MEMORY_SIZE, String.format(
                    "-m %s is out of range: tscvm gives a guest %s of RAM", text, GuestMemory.SIZE_RANGE));
        }
        if (!whole || (bytes & (GuestMemory.PAGE_SIZE - 1)) != 0) {
            throw new OptionException(ExitStatus.MEMORY_SIZE, "-m " + text + " is not a multiple of 4 KiB");
        }
        return bytes;
    }

    /** One to 18 ASCII digits: a number {@link Long#parseLong} takes whole. */
    private static boolean wholeDigits(String s) {
        if (s.isEmpty() || s.length() > 18) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    /**
     * The process's standard input for the guest console, read through an interruptible
     * channel. System.in blocks in a native read that nothing can end; the JVM waits up to
     * 0.3 s at exit for a thread in native code, so with a terminal or an open pipe on stdin
     * every run ended 0.3 s late. The machine interrupts its input thread when the run ends,
     * which closes this channel and ends the read.
     */
    static InputStream interruptibleStdin() {
        return interruptible(new FileInputStream(FileDescriptor.in));
    }

    /** {@code in} read through its channel: interrupting a blocked reader closes it and ends the read. */
    static InputStream interruptible(FileInputStream in) {
        return Channels.newInputStream(in.getChannel());
    }

    /** Checks a -cpu model string now, so a bad one fails before anything is loaded. */
    static String checkCpuModel(String model) {
        try {
            CpuidModel.parse(model);
            return model;
        } catch (TscvmException e) {
            throw new OptionException(ExitStatus.CPU_MODEL, "-cpu " + model + ": " + e.getMessage());
        }
    }

    /** {@code -smp}: the vCPU count and the sockets they are spread over. */
    record Smp(int cpus, int sockets) {
        void applyTo(MachineConfig.Builder b) {
            b.smp(cpus).sockets(sockets);
        }
    }

    /**
     * Parses {@code -smp N} or QEMU's {@code -smp [cpus=]N[,sockets=S][,cores=C][,threads=1]
     * [,maxcpus=N]}: with sockets or cores given, the other follows from N; threads other than 1
     * (SMT) and a maxcpus above N (hot-plug) are refused.
     */
    static Smp parseSmp(String text) {
        int cpus = -1, sockets = -1, cores = -1;
        for (String part : text.trim().split(",", -1)) {
            int eq = part.indexOf('=');
            String key = eq < 0 ? "cpus" : part.substring(0, eq);
            long value = eq < 0 ? smpNumber(text, part) : smpNumber(text, part.substring(eq + 1));
            switch (key) {
                case "cpus" -> cpus = (int) value;
                case "sockets" -> sockets = (int) value;
                case "cores" -> cores = (int) value;
                case "threads", "dies", "clusters" -> {
                    if (value != 1) {
                        throw smpError(text, key + " other than 1 is not modelled");
                    }
                }
                case "maxcpus" -> {
                    if (cpus >= 0 && value != cpus) {
                        throw smpError(text, "maxcpus must equal the vCPU count (no CPU hot-plug)");
                    }
                }
                default -> throw smpError(text, "unknown key '" + key + "'");
            }
        }
        if (cpus < 0) {
            cpus = sockets > 0 && cores > 0 ? sockets * cores : -1;
        }
        if (cpus < 1 || cpus > MachineConfig.MAX_VCPUS) {
            throw smpError(text, "the vCPU count must be 1 to " + MachineConfig.MAX_VCPUS);
        }
        if (sockets < 0) {
            sockets = cores > 0 ? cpus / Math.max(cores, 1) : 1;
        }
        if (sockets < 1 || (cores > 0 && sockets * cores != cpus) || cpus % sockets != 0
                || (sockets > 1 && Integer.bitCount(cpus / sockets) != 1)) {
            throw smpError(text, "sockets must divide the vCPUs into 1, 2, 4, 8 ... per socket");
        }
        return new Smp(cpus, sockets);
    }

    private static long smpNumber(String text, String number) {
        if (number.isEmpty() || number.length() > 6 || !allDigits(number)) {
            throw smpError(text, "'" + number + "' is not a number");
        }
        return Long.parseLong(number);
    }

    private static OptionException smpError(String text, String why) {
        return new OptionException(ExitStatus.OPTION_VALUE, "-smp " + text + ": " + why);
    }

    /**
     * The gdb server from {@code -s} (tcp::1234), {@code -gdb tcp:[HOST]:PORT} and {@code -S}
     * (wait for the debugger), or null when none is asked for.
     */
    static MachineConfig.Gdb parseGdb(boolean defaultServer, String spec, boolean waitForDebugger) {
        if (defaultServer && spec != null) {
            throw new OptionException(ExitStatus.OPTION_VALUE, "-s is -gdb tcp::1234: give one of them, not both");
        }
        if (!defaultServer && spec == null) {
            if (waitForDebugger) {
                throw new OptionException(ExitStatus.OPTION_VALUE,
                        "-S waits for a debugger or the monitor to continue: give -s, -gdb tcp::PORT or -qmp too");
            }
            return null;
        }
        if (defaultServer) {
            return new MachineConfig.Gdb(MachineConfig.Gdb.DEFAULT_HOST, MachineConfig.Gdb.DEFAULT_PORT, waitForDebugger);
        }
        String address = spec.startsWith("tcp:") ? spec.substring(4) : "";
        int colon = address.lastIndexOf(':');
        if (colon < 0) {
            throw gdbError(spec, "expected tcp:[HOST]:PORT, e.g. tcp::1234");
        }
        String host = address.substring(0, colon);
        String port = address.substring(colon + 1);
        if (port.isEmpty() || port.length() > 5 || !allDigits(port) || Integer.parseInt(port) > 0xffff) {
            throw gdbError(spec, "the port '" + port + "' is not a number from 0 to 65535");
        }
        if (host.isEmpty()) {
            host = MachineConfig.Gdb.DEFAULT_HOST;
        } else {
            try {
                java.net.InetAddress.getByName(host);
            } catch (java.net.UnknownHostException e) {
                throw gdbError(spec, "unknown host '" + host + "'");
            }
        }
        return new MachineConfig.Gdb(host, Integer.parseInt(port), waitForDebugger);
    }

    /**
     * The QMP monitor from {@code -qmp SPEC} or {@code -qmp-pretty SPEC} (one of them), or null
     * for none; {@code startPaused} is -S.
     */
    static MachineConfig.Qmp parseQmp(String spec, String prettySpec, boolean startPaused) {
        return parseQmp(spec, prettySpec, startPaused, null);
    }

    /** As above, with QEMU's {@code -incoming URI} (null: none), which needs the monitor. */
    static MachineConfig.Qmp parseQmp(String spec, String prettySpec, boolean startPaused, String incoming) {
        if (spec != null && prettySpec != null) {
            throw new OptionException(ExitStatus.OPTION_VALUE, "tscvm runs one QMP monitor: give -qmp or -qmp-pretty, not both");
        }
        String given = spec != null ? spec : prettySpec;
        if (given == null) {
            if (incoming != null) {
                throw new OptionException(ExitStatus.OPTION_VALUE, "-incoming " + incoming
                        + ": tscvm receives a migration through its monitor: give -qmp too");
            }
            return null;
        }
        try {
            return new MachineConfig.Qmp(org.tscvm.qmp.QmpAddress.parse(given), prettySpec != null, startPaused, incoming);
        } catch (TscvmException e) {
            throw new OptionException(ExitStatus.OPTION_VALUE, e.getMessage());
        }
    }

    /**
     * -s, -gdb, -S and -qmp together: -S holds the vCPUs for whichever of the debugger and the
     * monitor is there.
     */
    static MachineConfig.Gdb applyServers(MachineConfig.Builder b, boolean gdbDefault, String gdbSpec, boolean waitS,
                                          String qmpSpec, String qmpPrettySpec, String incoming) {
        MachineConfig.Qmp qmp = parseQmp(qmpSpec, qmpPrettySpec, waitS, incoming);
        boolean gdbGiven = gdbDefault || gdbSpec != null;
        MachineConfig.Gdb gdb = parseGdb(gdbDefault, gdbSpec, waitS && (qmp == null || gdbGiven));
        b.qmp(qmp).gdb(gdb);
        return gdb;
    }

    /**
     * {@code --reverse-interval N} for {@code gdb} (null: no -s or -gdb): only where reverse
     * execution exists, a debugger on the deterministic clock with one vCPU.
     */
    static MachineConfig.Gdb withReverseInterval(MachineConfig.Gdb gdb, String text, boolean deterministic, int cpus) {
        String option = "--reverse-interval " + text;
        long n = parseNonNegative("--reverse-interval", text);
        if (n < 1) {
            throw new OptionException(ExitStatus.OPTION_VALUE, option + ": give 1 or more instructions");
        }
        if (gdb == null) {
            throw new OptionException(ExitStatus.OPTION_VALUE, option + ": reverse execution is gdb's: give -s or -gdb too");
        }
        if (!deterministic || cpus != 1) {
            throw new OptionException(ExitStatus.OPTION_VALUE,
                    option + ": reverse execution needs --clock deterministic and -smp 1");
        }
        return gdb.withReverseInterval(n);
    }

    private static OptionException gdbError(String spec, String why) {
        return new OptionException(ExitStatus.OPTION_VALUE, "-gdb " + spec + ": " + why);
    }

    /** Parses {@code VCPU=VALUE} of --tsc-adjust and --tsc-warp (VALUE signed, decimal or 0x hex). */
    static MachineConfig.VcpuValue parseVcpuValue(String option, String text) {
        int eq = text.indexOf('=');
        String vcpu = eq < 0 ? "" : text.substring(0, eq);
        if (vcpu.isEmpty() || vcpu.length() > 3 || !allDigits(vcpu)) {
            throw new OptionException(ExitStatus.OPTION_VALUE, option + " " + text + ": expected VCPU=VALUE, e.g. 1=-5000000");
        }
        try {
            return new MachineConfig.VcpuValue(Integer.parseInt(vcpu), parseLong(option, text.substring(eq + 1)));
        } catch (OptionException e) {
            throw new OptionException(ExitStatus.OPTION_VALUE, option + " " + text + ": the value is not a number");
        }
    }

    /** A loop, not a stream: streams would load some 40 classes into every start-up. */
    private static boolean allDigits(String text) {
        for (int i = 0; i < text.length(); i++) {
            if (!Character.isDigit(text.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    static long parseNonNegative(String option, String text) {
        try {
            long v = text.toLowerCase(Locale.ROOT).startsWith("0x") ? Long.parseUnsignedLong(text.substring(2), 16)
                    : Long.parseLong(text);
            if (v < 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new OptionException(ExitStatus.OPTION_VALUE, option + " " + text + " is not a non-negative number");
        }
    }

    static long parseLong(String option, String text) {
        try {
            return text.toLowerCase(Locale.ROOT).startsWith("0x") ? Long.parseUnsignedLong(text.substring(2), 16)
                    : Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw new OptionException(ExitStatus.OPTION_VALUE, option + " " + text + " is not a number");
        }
    }

    /**
     * The trace a front end asks for: {@code file} (null: no trace) and the categories in
     * {@code kinds} (null: all). Kinds without a file is a usage error.
     */
    static TraceConfig parseTrace(String fileOption, String file, String kindsOption, String kinds) {
        if (file == null) {
            if (kinds != null) {
                throw new OptionException(ExitStatus.USAGE, kindsOption + " needs " + fileOption + " FILE");
            }
            return null;
        }
        Path path;
        try {
            path = Path.of(file);
        } catch (RuntimeException e) {
            throw new OptionException(ExitStatus.OPTION_VALUE, fileOption + " " + file + " is not a file name: " + e.getMessage());
        }
        try {
            return new TraceConfig(path, TraceConfig.parseCategories(kinds == null ? "all" : kinds));
        } catch (TscvmException e) {
            throw new OptionException(ExitStatus.OPTION_VALUE, kindsOption + ": " + e.getMessage());
        }
    }

    /** Builds the machine from {@code config}, runs it and returns the exit status, as below. */
    static int boot(MachineConfig config, PrintStream err) {
        return boot(config, err, machine -> { }, machine -> { });
    }

    /**
     * Builds the machine from {@code config}, lets {@code beforeRun} act on it from the host
     * side (the demo), runs it and returns the exit status; every failure is one line on
     * {@code err} with the status of its kind.
     */
    static int boot(MachineConfig config, PrintStream err, Consumer<Machine> beforeRun) {
        return boot(config, err, beforeRun, machine -> { });
    }

    /** As {@link #boot(MachineConfig, PrintStream, Consumer)}, with a look at the machine after the run. */
    static int boot(MachineConfig config, PrintStream err, Consumer<Machine> beforeRun, Consumer<Machine> afterRun) {
        try {
            Machine machine = new Machine(config);
            if (config.gdb() != null && config.gdb().port() == 0) {
                // An ephemeral port is only useful once it is known.
                err.println("tscvm: gdb server listening on tcp:" + config.gdb().host() + ":" + machine.gdbPort());
            }
            if (config.qmp() != null && config.qmp().address().path() == null && config.qmp().address().port() == 0) {
                err.println("tscvm: QMP server listening on tcp:" + config.qmp().address().host() + ":"
                        + machine.qmpServer().port());
            }
            if (config.qmp() != null) {
                machine.qmpServer().setMigrationTarget(new MachineStateStream(machine));
            }
            if (config.qmp() != null && config.qmp().incoming() != null) {
                // Before a client can connect: the state's source is open once the monitor answers.
                try {
                    machine.qmpServer().expectIncoming(config.qmp().incoming(), !config.qmp().startPaused());
                } catch (RuntimeException e) {
                    machine.qmpServer().close(); // the run never starts: nothing else closes it
                    throw e;
                }
            }
            if (config.qmp() != null && config.qmp().address().waitForClient()) {
                // QEMU's wait=on: the guest starts once a client is there to see it.
                err.println("tscvm: waiting for a QMP client on " + config.qmp().address());
                try {
                    machine.qmpServer().awaitFirstClient();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            beforeRun.accept(machine);
            RunResult result = machine.run();
            afterRun.accept(machine);
            switch (result.kind()) {
                case DEBUG_EXIT, SHUTDOWN, RESET -> {
                    // The guest chose its verdict (a reset ends a run only under -no-reboot, as
                    // QEMU's); stderr stays quiet (kvm-unit-tests reads it).
                }
                case TRIPLE_FAULT, HALTED, INTERNAL_ERROR, TIMEOUT, KILLED, MIGRATION_FAILED ->
                        err.println("tscvm: " + result.reason());
            }
            return result.exitStatus();
        } catch (RuntimeException e) {
            return reportError(e, err);
        }
    }

    /** One line for a host-side error, and its status. */
    static int reportError(RuntimeException e, PrintStream err) {
        err.println("tscvm: " + e.getMessage());
        if (e instanceof OptionException o) {
            return o.status();
        }
        if (e instanceof BootFileException || e instanceof TraceFileException) {
            return ExitStatus.FILE;
        }
        if (e instanceof SnapshotException s) {
            return switch (s.kind()) {
                case UNREADABLE -> ExitStatus.FILE;
                case NOT_A_SNAPSHOT -> ExitStatus.SNAPSHOT_NOT_A_SNAPSHOT;
                case VERSION -> ExitStatus.SNAPSHOT_VERSION;
                case TRUNCATED -> ExitStatus.SNAPSHOT_TRUNCATED;
                case CORRUPT -> ExitStatus.SNAPSHOT_CORRUPT;
                case CONFIG_MISMATCH -> ExitStatus.SNAPSHOT_CONFIG_MISMATCH;
            };
        }
        if (e instanceof KernelImageException) {
            return ExitStatus.KERNEL_IMAGE;
        }
        if (e instanceof MachineConfigException) {
            return ExitStatus.OPTION_VALUE;
        }
        if (e instanceof TscvmException) {
            return ExitStatus.HOST_ERROR;
        }
        throw e;
    }
}

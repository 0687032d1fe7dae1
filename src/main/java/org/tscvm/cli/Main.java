package org.tscvm.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.tscvm.cpu.Msr;
import org.tscvm.machine.Machine;
import org.tscvm.machine.MachineConfig;
import org.tscvm.machine.RunResult;
import org.tscvm.machine.SerialTarget;
import org.tscvm.tsc.HostClock;
import org.tscvm.vm.CpuidModel;
import org.tscvm.vm.MsrPolicy;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VmClock;
import org.tscvm.vm.VmConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code tscvm}: run a multiboot kernel, play the bundled demo, print the CPU model. Exit
 * statuses are listed in {@link ExitStatus} and {@link RunResult}. {@link #execute} is the
 * in-JVM entry point (tests); {@link #main} only adds {@code System.exit}.
 */
@Command(name = "tscvm", mixinStandardHelpOptions = true, versionProvider = Main.VersionText.class,
        description = {"An x86-64 virtual machine whose virtual CPUs keep time as Linux KVM does.",
            "Exit status: the guest's (isa-debug-exit: (v << 1) | 1; \"Shutdown\" on port 0x8900: 0),",
            "4 triple fault, 6 halted forever, 8 internal error, 20 timeout; host errors: 2 usage,",
            "10 missing or unreadable file, 12 bad kernel image, 14 bad -m, 16 bad -cpu, 18 other bad value."},
        subcommands = {Main.Run.class, Main.Demo.class, Main.Cpuid.class, CommandLine.HelpCommand.class})
public final class Main implements Callable<Integer> {
    /** The bundled demo kernel, built by guests/Makefile and packed into the jar. */
    static final String DEMO_RESOURCE = "/guests/demo.elf";

    private final InputStream in;
    private final PrintStream out;
    private final PrintStream err;

    Main(InputStream in, PrintStream out, PrintStream err) {
        this.in = in;
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        System.exit(execute(args, System.in, System.out, System.err));
    }

    /** Runs the command line and returns the exit status instead of exiting; the guest's console reads nothing. */
    public static int execute(String[] args, PrintStream out, PrintStream err) {
        return execute(args, InputStream.nullInputStream(), out, err);
    }

    /** As {@link #execute(String[], PrintStream, PrintStream)}, with {@code in} and {@code out} as the guest's console. */
    public static int execute(String[] args, InputStream in, PrintStream out, PrintStream err) {
        Main main = new Main(in, out, err);
        CommandLine cl = new CommandLine(main);
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        cl.setParameterExceptionHandler((e, a) -> {
            err.println("tscvm: " + e.getMessage() + " (see tscvm --help)");
            return ExitStatus.USAGE;
        });
        cl.setExecutionExceptionHandler((e, c, p) -> {
            err.println("tscvm: internal error: " + e);
            return RunResult.STATUS_INTERNAL_ERROR;
        });
        int status = cl.execute(args);
        out.flush();
        err.flush();
        return status;
    }

    @Override
    public Integer call() {
        CommandLine.usage(this, out);
        return ExitStatus.USAGE;
    }

    static final class VersionText implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"tscvm " + Version.VERSION};
        }
    }

    /** Options shared by run and demo: the machine around the kernel. */
    static class MachineOptions {
        @Option(names = "-smp", paramLabel = "N", description = "number of vCPUs (default 1); APs wait for INIT/SIPI")
        String smp = "1";

        @Option(names = "-m", paramLabel = "SIZE", description = "guest RAM, QEMU style: 128, 512M, 1G (default 128 MiB)")
        String memory = "128";

        @Option(names = "-cpu", paramLabel = "MODEL[,+feat,-feat]",
                description = "CPUID model (tscvm or max) with features switched on/off, e.g. tscvm,-tsc-adjust,+rdpid")
        String cpu = "tscvm";

        @Option(names = "-serial", paramLabel = "stdio|file:PATH|none", description = "where COM1 goes (default stdio)")
        String serial = "stdio";

        @Option(names = "--tsc-khz", paramLabel = "N", description = "the vCPUs' TSC frequency in kHz (default: the host clock's)")
        String tscKhz = "0";

        @Option(names = "--host-khz", paramLabel = "N", description = "the host clock's nominal frequency in kHz (default 2500000)")
        String hostKhz = Long.toString(HostClock.DEFAULT_KHZ);

        @Option(names = "--host-tsc-adjust", paramLabel = "N",
                description = "the host's own IA32_TSC_ADJUST: guests see it in RDTSC, never in RDMSR 0x3b")
        String hostTscAdjust = "0";

        @Option(names = "--clock", paramLabel = "real|deterministic",
                description = "host clock: real time, or instructions retired so runs repeat exactly (default real)")
        String clock = "real";

        @Option(names = "--msr-policy", paramLabel = "kvm|strict",
                description = "guest access to MSR 0x3b without CPUID.7.0:EBX[1]: kvm ignores it, strict raises #GP")
        String msrPolicy = "kvm";

        @Option(names = "--timeout", paramLabel = "SECONDS", description = "end the run with status 20 after this long")
        String timeout;

        MachineConfig.Builder toBuilder(Main main) {
            MachineConfig.Builder b = MachineConfig.builder()
                    .smp(Launcher.parseSmp(smp))
                    .ramBytes(Launcher.parseMemory(memory))
                    .cpuModel(Launcher.checkCpuModel(cpu))
                    .tscKhz(Launcher.parseNonNegative("--tsc-khz", tscKhz))
                    .hostKhz(checkHostKhz(Launcher.parseNonNegative("--host-khz", hostKhz)))
                    .hostTscAdjust(Launcher.parseLong("--host-tsc-adjust", hostTscAdjust))
                    .clock(parseClock(clock))
                    .msrPolicy(parseMsrPolicy(msrPolicy));
            try {
                b.serial(SerialTarget.parse(serial, new SerialTarget.Stdio(main.in, main.out)));
            } catch (RuntimeException e) {
                throw new OptionException(ExitStatus.OPTION_VALUE, e.getMessage());
            }
            if (timeout != null) {
                b.timeout(Duration.ofSeconds(Launcher.parseNonNegative("--timeout", timeout)));
            }
            return b;
        }

        private static long checkHostKhz(long khz) {
            if (khz < HostClock.MIN_KHZ || khz > HostClock.MAX_KHZ) {
                throw new OptionException(ExitStatus.OPTION_VALUE, String.format(
                        "--host-khz %d is out of range: use %d to %d", khz, HostClock.MIN_KHZ, HostClock.MAX_KHZ));
            }
            return khz;
        }

        static VmConfig.ClockKind parseClock(String text) {
            return switch (text) {
                case "real" -> VmConfig.ClockKind.REAL_TIME;
                case "deterministic" -> VmConfig.ClockKind.DETERMINISTIC;
                default -> throw new OptionException(ExitStatus.OPTION_VALUE,
                        "--clock " + text + " is not real or deterministic");
            };
        }

        static MsrPolicy parseMsrPolicy(String text) {
            return switch (text) {
                case "kvm" -> MsrPolicy.KVM;
                case "strict" -> MsrPolicy.STRICT;
                default -> throw new OptionException(ExitStatus.OPTION_VALUE,
                        "--msr-policy " + text + " is not kvm or strict");
            };
        }
    }

    @Command(name = "run", mixinStandardHelpOptions = true, versionProvider = Main.VersionText.class,
            description = {"Boot a multiboot kernel (ELF32, ELF64 or a.out kludge) and run it until it exits.",
                "Without -kernel, runs the bundled demo kernel."})
    static final class Run extends MachineOptions implements Callable<Integer> {
        @ParentCommand
        Main parent;

        @Option(names = "-kernel", paramLabel = "FILE", description = "the kernel to boot")
        Path kernel;

        @Option(names = "-append", paramLabel = "ARGS", description = "command line passed to the kernel after its name")
        String append = "";

        @Option(names = "-initrd", paramLabel = "FILE", split = ",",
                description = "a file passed as a multiboot module; repeat or separate with commas")
        List<Path> initrds = new ArrayList<>();

        @Option(names = "--flat", paramLabel = "LOAD[,ENTRY]",
                description = "treat -kernel as a raw image loaded at LOAD and started at ENTRY (default LOAD)")
        String flat;

        @Override
        public Integer call() {
            try {
                MachineConfig.Builder b = toBuilder(parent).append(append).initrds(initrds);
                if (kernel == null) {
                    byte[] demo = demoKernel();
                    if (demo == null) {
                        parent.out.println("(no -kernel, and this build has no bundled demo kernel: "
                                + "showing the API demo instead)");
                        ApiDemo.run(parent.out);
                        return 0;
                    }
                    b.kernel("demo.elf", demo);
                } else {
                    b.kernel(kernel);
                }
                if (flat != null) {
                    String[] parts = flat.split(",", 2);
                    long load = Launcher.parseNonNegative("--flat", parts[0]);
                    long entry = parts.length > 1 ? Launcher.parseNonNegative("--flat", parts[1]) : load;
                    b.flat(load, entry);
                }
                return Launcher.boot(b.build(), parent.err, m -> { });
            } catch (RuntimeException e) {
                return Launcher.reportError(e, parent.err);
            }
        }
    }

    @Command(name = "demo", mixinStandardHelpOptions = true, versionProvider = Main.VersionText.class,
            description = {"Boot the bundled demo kernel: the guest writes IA32_TSC_ADJUST and the TSC and",
                "explains each number, while the host side sets its own TSC_ADJUST and makes a",
                "restore-style host write of the TSC first."})
    static final class Demo extends MachineOptions implements Callable<Integer> {
        /** The host's own IA32_TSC_ADJUST in the demo: visible in the guest's RDTSC, not in its RDMSR 0x3b. */
        static final long DEMO_HOST_TSC_ADJUST = 7_000_000_000L;
        /** A restore-style host write of the guest TSC, as a snapshot restore makes. */
        static final long DEMO_HOST_TSC_WRITE = 1_000_000_000_000L;

        @ParentCommand
        Main parent;

        @Override
        public Integer call() {
            PrintStream out = parent.out;
            byte[] demo = demoKernel();
            if (demo == null) {
                out.println("(this build has no bundled demo kernel: showing the API demo instead)");
                ApiDemo.run(out);
                return 0;
            }
            try {
                if (hostTscAdjust.equals("0")) {
                    hostTscAdjust = Long.toString(DEMO_HOST_TSC_ADJUST);
                }
                MachineConfig config = toBuilder(parent).kernel("demo.elf", demo).build();
                out.printf("[host] the host clock carries its own IA32_TSC_ADJUST = %s: it moves every guest TSC,%n",
                        hostTscAdjust);
                out.println("[host] but a guest's RDMSR 0x3b shows only the guest's own adjust.");
                int status = Launcher.boot(config, parent.err, machine -> hostSide(machine, out),
                        machine -> afterGuest(machine, out));
                out.printf("[host] the demo kernel exited with status %d (1 = every check passed)%n", status);
                // The demo succeeded when every check passed; the shell sees the usual 0 then.
                return status == 1 ? 0 : status;
            } catch (RuntimeException e) {
                return Launcher.reportError(e, parent.err);
            }
        }

        private static void hostSide(Machine machine, PrintStream out) {
            Vcpu vcpu = machine.vm().vcpus().get(0);
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
    }

    @Command(name = "cpuid", mixinStandardHelpOptions = true, versionProvider = Main.VersionText.class,
            description = "Print the CPUID model a guest would see: vendor, leaves and every feature bit.")
    static final class Cpuid implements Callable<Integer> {
        @ParentCommand
        Main parent;

        @Option(names = "-cpu", paramLabel = "MODEL[,+feat,-feat]", description = "the model to print (default tscvm)")
        String cpu = "tscvm";

        @Override
        public Integer call() {
            try {
                parent.out.print(CpuidModel.parse(Launcher.checkCpuModel(cpu)).describe());
                return 0;
            } catch (RuntimeException e) {
                return Launcher.reportError(e, parent.err);
            }
        }
    }

    /** The bundled demo kernel's bytes, or null when the jar was built without it. */
    static byte[] demoKernel() {
        try (InputStream in = Main.class.getResourceAsStream(DEMO_RESOURCE)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            return null;
        }
    }
}

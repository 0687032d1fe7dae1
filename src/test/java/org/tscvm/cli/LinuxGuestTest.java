package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Semaphore;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Debian 12's Linux 6.1 and busybox-static, booted the QEMU way ({@code -kernel vmlinuz
 * -initrd initrd.gz -append console=ttyS0}) through the real command line ({@link
 * DebianGuests} fetches the packages); the initramfs is packed by
 * {@code tscvm initramfs} from that busybox and guests/linux/init, whose "tscvm-init:" lines
 * these tests read.
 */
class LinuxGuestTest {
    /** The kernel's own time for its crypto self-tests is minutes under an interpreter; they test no part of tscvm. */
    static final String APPEND = "console=ttyS0 panic=-1 cryptomgr.notests";

    @TempDir
    static Path dir;
    static Path vmlinuz;
    static Path initrd;

    @BeforeAll
    static void packages() throws IOException {
        vmlinuz = DebianGuests.vmlinuz();
        Path busybox = DebianGuests.busybox();
        initrd = dir.resolve("initrd.gz");
        CliRun packed = CliRun.tscvm("initramfs", "--busybox", busybox.toString(), "-o", initrd.toString());
        assertThat(packed.status()).as(packed.err()).isZero();
    }

    record Boot(int status, String serial, String err) {
        /** The value after "tscvm-init: KEY " up to the line's end. */
        String init(String key) {
            Matcher m = Pattern.compile("tscvm-init: " + Pattern.quote(key) + " (.*)").matcher(serial);
            assertThat(m.find()).as("tscvm-init: %s ... in\n%s", key, this).isTrue();
            return m.group(1).trim();
        }

        /** The first calibration's result, "tsc: Detected N MHz processor". */
        double detectedMhz() {
            return mhz("tsc: Detected ([0-9.]+) MHz processor");
        }

        /** The refined calibration against the PM timer, about a second later. */
        double refinedMhz() {
            return mhz("tsc: Refined TSC clocksource calibration: ([0-9.]+) MHz");
        }

        private double mhz(String regex) {
            Matcher m = Pattern.compile(regex).matcher(serial);
            assertThat(m.find()).as("%s in\n%s", regex, this).isTrue();
            return Double.parseDouble(m.group(1));
        }

        @Override
        public String toString() {
            return "status " + status + "\n" + serial + err;
        }
    }

    static Boot boot(String... options) throws IOException {
        return bootKernel(vmlinuz, options);
    }

    static Boot bootKernel(Path kernel, String... options) throws IOException {
        Path serial = dir.resolve("serial-" + System.nanoTime() + ".txt");
        List<String> args = new ArrayList<>(List.of("run", "-kernel", kernel.toString(), "-initrd", initrd.toString(),
                "-m", "512M", "-serial", "file:" + serial, "--timeout", "150"));
        args.addAll(List.of(options));
        CliRun run = CliRun.tscvm(args.toArray(new String[0]));
        return new Boot(run.status(), Files.readString(serial), run.err());
    }

    private static void assertBootedToBusyboxAndPoweredOff(Boot b, String cpus) {
        assertThat(b.serial()).as("%s", b).contains("Linux version 6.1", "Run /init as init process");
        assertThat(b.init("busybox runs:")).as("%s", b).startsWith("BusyBox v1.35");
        assertThat(b.init("cpus online")).isEqualTo(cpus);
        assertThat(b.init("clocksource")).as("%s", b).startsWith("tsc ");
        assertThat(b.serial()).doesNotContain("unstable", "unchecked MSR access", "Kernel panic");
        assertThat(b.status()).as("poweroff -f through ACPI S5: %s", b).isZero();
    }

    /**
     * The default bzImage path (64-bit entry) on the real clock, and the PC as Linux finds it:
     * the RSDP in the BIOS area, the MADT's I/O APIC and override, the timer through the I/O
     * APIC, the PCI host bridge from the DSDT, power-off through ACPI S5. Linux calibrates the
     * TSC itself: against the PIT, or, when a stalled host thread spoils the PIT loop, against
     * the ACPI PM timer over the same 10 ms, then refines it against the PM timer over a second.
     * A host stall between the PM timer read and the TSC read after it (Linux accepts up to
     * 40 us) shows in the first figure as up to 4000 ppm; the refined one, which becomes the
     * kernel's tsc_khz, is within 250 ppm.
     */
    @Test
    void oneVcpuOnTheRealClockFindsThePcAndCalibratesTheTsc() throws IOException {
        Boot b = boot("-append", APPEND);
        assertBootedToBusyboxAndPoweredOff(b, "0");
        assertThat(b.serial())
                .contains("BIOS-e820: [mem 0x00000000000e0000-0x00000000000fffff] reserved")
                .contains("ACPI: RSDP 0x00000000000E0000 000024 (v02 TSCVM )")
                .contains("IOAPIC[0]: apic_id 0, version 17, address 0xfec00000, GSI 0-23")
                .contains("ACPI: INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2 dfl dfl)")
                .contains("..TIMER: vector=0x30 apic1=0 pin1=2")
                .contains("ACPI: PM: (supports S0 S5)")
                .contains("pci 0000:00:00.0: [8086:1237] type 00 class 0x060000")
                .contains("ACPI: PM: Preparing to enter system sleep state S5")
                .doesNotContain("kvm-clock", "Hypervisor detected: KVM"); // the default model has no kvmclock
        assertThat(b.detectedMhz()).as("%s", b).isCloseTo(2500.0, within(2500.0 * 4000e-6));
        assertThat(b.refinedMhz()).as("%s", b).isCloseTo(2500.0, within(2500.0 * 250e-6));
    }

    /**
     * The same kernel entered the 32-bit way (a bzImage without XLF_KERNEL_64), one vCPU on the
     * deterministic clock: the calibration repeats, within 250 ppm from the PIT, exact to the PM
     * timer's grain once refined.
     */
    @Test
    void theBzImagesThirtyTwoBitEntryBootsOnTheDeterministicClock() throws IOException {
        byte[] bz = Files.readAllBytes(vmlinuz);
        ByteBuffer h = ByteBuffer.wrap(bz).order(ByteOrder.LITTLE_ENDIAN);
        h.putShort(0x236, (short) (h.getShort(0x236) & ~1)); // xloadflags: no XLF_KERNEL_64
        Path kernel = dir.resolve("vmlinuz-32");
        Files.write(kernel, bz);
        Boot b = bootKernel(kernel, "-append", APPEND, "--clock", "deterministic");
        assertBootedToBusyboxAndPoweredOff(b, "0");
        assertThat(b.detectedMhz()).isCloseTo(2500.0, within(2500.0 * 250e-6));
        assertThat(Math.round(b.refinedMhz() * 1000)).as("kHz").isBetween(2_499_999L, 2_500_000L);
    }

    /**
     * The vmlinux inside the bzImage, booted by its PVH entry note, through the QEMU-shaped
     * front end with QEMU's own spelling of the command line.
     */
    @Test
    void theVmlinuxBootsByPvh() throws IOException {
        byte[] bz = Files.readAllBytes(vmlinuz);
        ByteBuffer h = ByteBuffer.wrap(bz).order(ByteOrder.LITTLE_ENDIAN);
        int setupSects = bz[0x1f1] & 0xff;
        int payload = (setupSects + 1) * 512 + h.getInt(0x248); // payload_offset counts from the protected-mode code
        Path vmlinux = dir.resolve("vmlinux");
        Files.write(vmlinux, Lz4Legacy.decompress(bz, payload, h.getInt(0x24c)));
        Path serial = dir.resolve("pvh.txt");
        CliRun run = CliRun.qemu("-nodefaults", "-nographic", "-no-reboot", "-m", "512", "-smp", "2",
                "-kernel", vmlinux.toString(), "-initrd", initrd.toString(), "-append", APPEND,
                "-serial", "file:" + serial);
        Boot b = new Boot(run.status(), Files.readString(serial), run.err());
        assertBootedToBusyboxAndPoweredOff(b, "0-1");
    }

    /**
     * On the deterministic clock the PM timer and the TSC come from one instruction count, so
     * the refined calibration (about a second of PM-timer ticks) is exact to the kHz Linux
     * prints, within the truncation of Linux's arithmetic: it divides whole PM-timer ticks
     * (698 TSC cycles each) and truncates the kHz, so the exact 2,500,000 kHz prints as 2500.000
     * or, when the timer's phase at the two reads falls the other way, 2499.999. Which one
     * depends on the instructions run in between (advertising POPCNT, which Linux's hweight
     * then uses, turned one into the other). The quick PIT calibration before it spans a single
     * PIT MSB period (214 us), so the length of its polling loop shows as some tens of ppm.
     */
    @Test
    void fourVcpusOnTheDeterministicClockCalibrateExactly() throws IOException {
        Boot b = boot("-append", APPEND, "-smp", "4", "--clock", "deterministic");
        assertBootedToBusyboxAndPoweredOff(b, "0-3");
        assertThat(b.detectedMhz()).isCloseTo(2500.0, within(2500.0 * 250e-6));
        assertThat(Math.round(b.refinedMhz() * 1000)).as("kHz").isBetween(2_499_999L, 2_500_000L);
    }

    /**
     * With kvmclock in the CPU model (QEMU's names, tsc-semantics R20) Linux finds KVM, takes the
     * new MSRs, registers the kvm-clock clocksource and takes the TSC frequency from the pvclock
     * scale (exactly 2500.000 MHz, no calibration); it runs on kvm-clock until the TSC, rated
     * higher with an invariant TSC, takes over (arch/x86/kernel/kvmclock.c).
     */
    @Test
    void withKvmclockAdvertisedLinuxRegistersTheKvmClockClocksource() throws IOException {
        Boot b = boot("-append", APPEND, "-smp", "2", "--clock", "deterministic",
                "-cpu", "tscvm,+kvmclock,+kvmclock-stable-bit");
        assertBootedToBusyboxAndPoweredOff(b, "0-1");
        assertThat(b.serial()).as("%s", b)
                .contains("Hypervisor detected: KVM")
                .contains("kvm-clock: Using msrs 4b564d01 and 4b564d00")
                .contains("clocksource: kvm-clock: mask: 0xffffffffffffffff")
                .contains("tsc: Detected 2500.000 MHz processor")
                .contains("clocksource: Switched to clocksource kvm-clock");
        assertThat(b.init("clocksource")).contains("kvm-clock");
    }

    /**
     * The seed's scenario: firmware left IA32_TSC_ADJUST non-zero on every CPU of the socket,
     * and on CPU 2 a value unlike the others. Linux forces the boot CPU's to 0 (a guest write:
     * its TSC moves by the delta, R6), complains that the boot values differ within the socket,
     * and sets every AP's to the boot CPU's 0, so the TSCs agree again
     * (arch/x86/kernel/tsc_sync.c). The firmware's writes are host-initiated: they did not move
     * the TSC (R8). The value is negative because a VM's TSC starts at 0 when
     * its first vCPU is created (R12): forcing a positive adjust to 0 would move the TSC below
     * zero, which no real machine that has run firmware for a while shows.
     */
    @Test
    void linuxResetsAndRepairsTscAdjustLeftByFirmware() throws IOException {
        Boot b = boot("-append", APPEND, "-smp", "4", "--clock", "deterministic",
                "--tsc-adjust", "0=-123456789", "--tsc-adjust", "1=-123456789",
                "--tsc-adjust", "2=-5000", "--tsc-adjust", "3=-123456789");
        assertBootedToBusyboxAndPoweredOff(b, "0-3");
        assertThat(b.serial()).contains("TSC ADJUST: CPU0: -123456789 force to 0",
                "TSC ADJUST differs within socket(s), fixing all errors");
    }

    /**
     * A vCPU whose TSC starts away from the others, in a socket of its own so that Linux runs
     * its TSC warp test against it: Linux measures the warp and compensates it by writing that
     * CPU's IA32_TSC_ADJUST (a guest write, so the TSC moves with it, R6), and the TSC stays
     * the clocksource.
     */
    @Test
    void linuxCompensatesAWarpedVcpuThroughTscAdjust() throws IOException {
        Boot b = boot("-append", APPEND, "-smp", "2,sockets=2", "--clock", "deterministic",
                "--tsc-warp", "1=3000000000");
        assertBootedToBusyboxAndPoweredOff(b, "0-1");
        assertThat(b.serial()).containsPattern("TSC ADJUST compensate: CPU1 observed -?[0-9]+ warp");
        assertThat(b.serial()).doesNotContain("turning off TSC clock");
    }

    /**
     * The serial console as a user has it with {@code -serial stdio}, on four vCPUs and the real
     * clock, the tsc clocksource reached: busybox's shell reads
     * what is typed (its keys arrive through COM1's receiver and its interrupt), echoes it, runs
     * it, and {@code poweroff -f} ends tscvm with status 0. The keys are typed only once the
     * shell has said it is ready, as a person would.
     */
    @Test
    void theShellOnTheSerialConsoleRunsWhatIsTyped() throws Exception {
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        // Each line is typed once the shell has shown its prompt for it, as a person would: a
        // line typed earlier is echoed by the terminal before the shell prints its banner.
        Semaphore prompts = new Semaphore(0);
        PrintStream screen = new PrintStream(new OutputStream() {
            private final StringBuilder tail = new StringBuilder();

            @Override
            public synchronized void write(int b) {
                console.write(b);
                tail.append((char) (b & 0xff));
                if (tail.length() > 4) {
                    tail.deleteCharAt(0);
                }
                if (tail.toString().equals("/ # ")) {
                    prompts.release();
                }
            }
        }, true);
        InputStream keyboard = new InputStream() {
            private final byte[] keys = "echo typed-$((6*7))\npoweroff -f\n".getBytes(StandardCharsets.US_ASCII);
            private int next;

            @Override
            public int read() throws IOException {
                try {
                    if (next == 0 || (next < keys.length && keys[next - 1] == '\n')) {
                        prompts.acquire();
                    }
                    Thread.sleep(5); // a fast typist
                } catch (InterruptedException e) {
                    throw new InterruptedIOException();
                }
                return next < keys.length ? keys[next++] & 0xff : -1;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int c = read();
                if (c < 0) {
                    return -1;
                }
                b[off] = (byte) c;
                return 1;
            }
        };
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.execute(new String[] {"run", "-kernel", vmlinuz.toString(), "-initrd", initrd.toString(),
            "-m", "512M", "-smp", "4", "-serial", "stdio", "--timeout", "150",
            "-append", APPEND + " tscvm_mode=shell"}, keyboard, screen, new PrintStream(err, true));
        String text = console.toString(StandardCharsets.ISO_8859_1);
        assertThat(text).as(text + err).contains("tscvm-init: cpus online 0-3", "tscvm-init: clocksource tsc ");
        assertThat(text).as(text + err).contains("echo typed-$((6*7))").contains("\ntyped-42");
        assertThat(status).as(text + err).isZero();
    }
}

package org.tscvm.cli;

/**
 * tscvm's process exit statuses (platform.md section 8). A run's own statuses come from
 * {@link org.tscvm.machine.RunResult}: 0 shutdown, odd = isa-debug-exit ((v << 1) | 1),
 * 4 triple fault, 6 halted forever, 8 internal error, 20 timeout, 24 killed by the debugger, 36 an incoming
 * migration that could not be loaded, 44 one whose stream ended before it was whole. Host-side errors use the
 * even statuses below, each for one kind of mistake, so scripts can tell them apart.
 */
public final class ExitStatus {
    private ExitStatus() {
    }

    /** A command-line syntax error: unknown option, missing or malformed value. */
    public static final int USAGE = 2;
    /** A kernel, initrd or serial file that is missing or cannot be read or written. */
    public static final int FILE = 10;
    /**
     * A kernel image tscvm cannot load: not a bzImage, multiboot or PVH kernel, a broken ELF or
     * setup header, a Linux boot protocol older than 2.10, or a kernel, command line or initrd
     * that does not fit.
     */
    public static final int KERNEL_IMAGE = 12;
    /** A RAM size (-m) that is malformed or out of range. */
    public static final int MEMORY_SIZE = 14;
    /** An unknown CPU model or CPUID feature in -cpu. */
    public static final int CPU_MODEL = 16;
    /** Another option value out of range: -smp, --tsc-khz, -serial, a QEMU option tscvm cannot honour. */
    public static final int OPTION_VALUE = 18;
    /** Any other host-side error. */
    public static final int HOST_ERROR = 22;
    /** --restore: the file is not a tscvm snapshot (its magic is wrong). An unreadable file is {@link #FILE}. */
    public static final int SNAPSHOT_NOT_A_SNAPSHOT = 26;
    /** --restore: the snapshot's format version is not one this tscvm reads. */
    public static final int SNAPSHOT_VERSION = 28;
    /** --restore: the snapshot ends inside a section (the message names it). */
    public static final int SNAPSHOT_TRUNCATED = 30;
    /** --restore: a section's checksum fails or its contents break the format (the message names it). */
    public static final int SNAPSHOT_CORRUPT = 32;
    /** --restore: the snapshot is of a machine configured otherwise (the message names each field). */
    public static final int SNAPSHOT_CONFIG_MISMATCH = 34;
    /** --replay: the run no longer matches its recording (the message names the event and the instruction counts). */
    public static final int REPLAY_DIVERGED = 38;
    /** --replay: the file is not a complete replay log of a format this tscvm reads (the message names the line). */
    public static final int REPLAY_LOG_CORRUPT = 40;
    /** --replay: the log was recorded on a machine configured otherwise (the message names each field). */
    public static final int REPLAY_CONFIG_MISMATCH = 42;
}

package org.tscvm.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The user's terminal while a guest's serial console is on it: raw, as QEMU's {@code -serial
 * stdio} makes it, so every key goes to the guest at once and the guest's own shell echoes
 * and edits the line (a cooked terminal would echo twice and hold keys until Enter). Ctrl-C
 * still ends tscvm (ISIG stays on, as QEMU's default {@code signal=on}). The saved mode comes
 * back when tscvm ends, by {@link #close()} or by a shutdown hook on a signal.
 */
final class RawTerminal implements AutoCloseable {
    /** QEMU's stdio mode: no input mapping or flow control, no echo or line editing; output as usual. */
    private static final String[] RAW = {"-ignbrk", "-brkint", "-parmrk", "-istrip", "-inlcr", "-igncr", "-icrnl",
        "-ixon", "opost", "-echo", "-echonl", "-icanon", "-iexten", "isig", "min", "1", "time", "0"};

    private final String saved;
    private final Thread restoreOnSignal;

    private RawTerminal(String saved) {
        this.saved = saved;
        this.restoreOnSignal = new Thread(this::restore, "tscvm-terminal-restore");
    }

    /**
     * Raw mode when standard input and output are a terminal, else nothing (null): pipes,
     * files and tests are left alone, and no process is started for them.
     */
    static RawTerminal enterIfInteractive() {
        if (System.console() == null) {
            return null;
        }
        String saved = stty("-g");
        if (saved == null || saved.isBlank() || stty(RAW) == null) {
            return null;
        }
        RawTerminal terminal = new RawTerminal(saved.trim());
        Runtime.getRuntime().addShutdownHook(terminal.restoreOnSignal);
        return terminal;
    }

    @Override
    public void close() {
        restore();
        try {
            Runtime.getRuntime().removeShutdownHook(restoreOnSignal);
        } catch (IllegalStateException e) {
            // already shutting down: the hook restores the terminal
        }
    }

    private void restore() {
        stty(saved);
    }

    /** Runs stty on the inherited standard input; its output, or null when it failed. */
    private static String stty(String... args) {
        String[] command = new String[args.length + 1];
        command[0] = "stty";
        System.arraycopy(args, 0, command, 1, args.length);
        try {
            Process p = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.INHERIT)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            return p.waitFor() == 0 ? out : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
